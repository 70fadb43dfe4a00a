"""Planning years: which bundled rulebook covers a date (``--rulebook auto``).

An NHS planning year runs from 1 April to 31 March; each bundled rulebook declares its year
(``start``/``end`` in ``rulebook.yaml``). ``rulebook_for(as_of)`` picks the one whose year holds
``as_of`` and refuses a date that none covers, or that two cover (bundled years must not overlap).
"""

from __future__ import annotations

import datetime as dt
import itertools

from .._resources import bundled_rulebooks
from ..errors import ErrorCode, ErrorDetail, RulebookError
from ..language.months import parse_date
from .loader import Rulebook, load_rulebook

__all__ = ["AUTO", "planning_years", "rulebook_for"]

AUTO = "auto"
"""The rulebook name that asks for the bundled rulebook whose planning year holds ``as_of``."""


def planning_years() -> tuple[Rulebook, ...]:
    """Every bundled rulebook, in order of its planning year; RulebookError naming both if two overlap."""
    books = sorted((load_rulebook(name) for name in bundled_rulebooks()), key=lambda b: (b.start, b.id))
    for before, after in itertools.pairwise(books):
        if after.start <= before.end:
            raise RulebookError(
                "bundled rulebooks' planning years overlap",
                [
                    ErrorDetail(
                        after.id,
                        f"its planning year {after.start} to {after.end} overlaps {before.id}'s "
                        f"({before.start} to {before.end}); each date may belong to one planning year",
                        code=ErrorCode.RULEBOOK_INCONSISTENT,
                    )
                ],
            )
    return tuple(books)


def rulebook_for(as_of: dt.date | str) -> Rulebook:
    """The bundled rulebook whose planning year (1 April to 31 March) holds ``as_of``.

    RulebookError if ``as_of`` is not a date, if no bundled rulebook covers it (naming the years
    that are), or if bundled years overlap.
    """
    if isinstance(as_of, str):
        try:
            day = parse_date(as_of)
        except ValueError as exc:
            raise RulebookError(
                "as_of is not a date", [ErrorDetail("as_of", str(exc), as_of[:40], code=ErrorCode.ARGUMENT_VALUE)]
            ) from None
    elif isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        day = as_of
    else:
        raise RulebookError(
            "as_of is not a date",
            [
                ErrorDetail(
                    "as_of", "expected a date or YYYY-MM-DD text", type(as_of).__name__, code=ErrorCode.ARGUMENT_VALUE
                )
            ],
        )
    books = planning_years()
    for book in books:
        if book.start <= day <= book.end:
            return book
    covered = "; ".join(f"{b.id}: {b.start} to {b.end}" for b in books)
    raise RulebookError(
        "no bundled rulebook covers this date",
        [
            ErrorDetail(
                "as_of",
                f"no bundled rulebook's planning year holds it (bundled: {covered}); name a rulebook instead of auto",
                day.isoformat(),
                code=ErrorCode.RULEBOOK_NOT_FOUND,
            )
        ],
    )

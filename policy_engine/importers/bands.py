"""Waiting-time bands (RTT ``Gt 65 To 66 Weeks SUM 1``, DM01 ``06 < 07 Weeks``) and their blanks."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import attrs

from .builder import FileContext
from .summary import IssueKind
from .table import Row, normalise_header, parse_number

__all__ = ["Band", "Note", "band_values", "covers_from", "dm01_bands", "record", "rtt_bands"]

_RTT_BAND = re.compile(r"^gt (\d+) (?:to (\d+) )?weeks?(?: sum \d+)?$")
_DM01_BAND = re.compile(r"^(\d+) < (\d+) weeks?$|^(\d+)\+ weeks?$")


@attrs.frozen
class Band:
    """A band of waits from ``lower`` weeks to ``upper`` weeks (None: open-ended) at column ``pos``."""

    lower: int
    upper: int | None
    pos: int
    heading: str


def rtt_bands(header: Sequence[str]) -> list[Band]:
    """The RTT week bands of a header, in order of their lower bound."""
    out = []
    for pos, text in enumerate(header):
        m = _RTT_BAND.match(normalise_header(text))
        if m:
            upper = int(m.group(2)) if m.group(2) is not None else None
            out.append(Band(int(m.group(1)), upper, pos, text.strip()))
    return sorted(out, key=lambda b: b.lower)


def dm01_bands(header: Sequence[str]) -> list[Band]:
    """The DM01 week bands of a header (``00 < 01 Week`` ... ``13+ Weeks``), in order."""
    out = []
    for pos, text in enumerate(header):
        m = _DM01_BAND.match(normalise_header(text))
        if m and m.group(1) is not None:
            out.append(Band(int(m.group(1)), int(m.group(2)), pos, text.strip()))
        elif m:
            out.append(Band(int(m.group(3)), None, pos, text.strip()))
    return sorted(out, key=lambda b: b.lower)


def covers_from(bands: Sequence[Band], weeks: int) -> str | None:
    """None if the bands run without gaps from 0 to open-ended with a boundary at ``weeks``; else why not."""
    if not bands:
        return "no week-band columns"
    if bands[0].lower != 0:
        return f"the first band starts at {bands[0].lower} weeks"
    for a, b in itertools.pairwise(bands):
        if a.upper is None or a.upper != b.lower:
            return f"the bands are not contiguous after {a.heading!r}"
    if bands[-1].upper is not None:
        return f"the last band {bands[-1].heading!r} is not open-ended"
    if not any(b.lower == weeks for b in bands):
        return f"no band starts at {weeks} weeks (the widest band is {bands[-1].heading!r})"
    return None


Note = tuple[IssueKind, str, str | None, str | None]
"""An issue to record later, if the row is used: (kind, reason, column heading, detail)."""


def band_values(row: Row, bands: Sequence[Band], total: int | None) -> tuple[list[int] | None, list[Note]]:
    """The row's band counts and the issues to record if the row is used.

    The published files leave many band cells blank. A blank is taken as "no patients in this
    band" only when the row's own total proves it (a repair); otherwise, and for any suppressed or
    unreadable cell, the row's bands are missing (None).
    """
    values: list[int | None] = []
    for band in bands:
        text = row.cells[band.pos] if band.pos < len(row.cells) else ""
        parsed = parse_number(text)
        if parsed.status == "blank":
            values.append(None)
        elif parsed.status == "ok" and parsed.value is not None and parsed.value.denominator == 1:
            values.append(int(parsed.value))
        else:
            reason = "week band suppressed or not a whole number"
            return None, [("missing", reason, band.heading, repr(text.strip()))]
    if all(v is not None for v in values):
        return [v for v in values if v is not None], []
    known = sum(v for v in values if v is not None)
    if total is not None and total == known:
        reason = "blank week bands read as 0 (the row's total equals the sum of its other bands)"
        return [v or 0 for v in values], [("repaired", reason, None, None)]
    reason = "blank week bands that the row's total does not account for"
    detail = f"bands sum to {known}, total {total if total is not None else 'missing'}"
    return None, [("missing", reason, None, detail)]


def record(ctx: FileContext, line: int, notes: Sequence[Note]) -> None:
    """Record the deferred issues of a row that is used."""
    for kind, reason, column, detail in notes:
        ctx.issue(kind, reason, line, column, detail)

"""Checking filter and selector values: an organisation id, rule id, status or area that does not
exist is a ``SelectorError`` naming it with its close matches, never a filter that silently
matches nothing."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from ..errors import ErrorCode, ErrorDetail, SelectorError

__all__ = ["Selectors", "split_values"]

_LISTED = 20
"""At most this many valid values are listed when none is close to the value given."""


def split_values(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """Option values as given, repeated and/or comma-separated (``--status breached,overdue``),
    stripped and without duplicates, in order; None when the option was not given."""
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        for piece in value.split(","):
            piece = piece.strip()
            if piece not in out:
                out.append(piece)
    return tuple(out)


def suggestions(value: str, valid: Iterable[str]) -> list[str]:
    """The valid values a user probably meant: the same letters in another case (``exb`` ->
    ``EXB``), else close spellings (``difflib``), else names whose initials or part it is
    (``uec`` -> ``urgent-emergency-care``)."""
    by_fold: dict[str, str] = {}
    for v in sorted(valid):
        by_fold.setdefault(v.casefold(), v)
    folded = value.casefold()
    if folded in by_fold:
        return [by_fold[folded]]
    close = difflib.get_close_matches(folded, list(by_fold), n=3, cutoff=0.6)
    if not close and len(folded) >= 2:
        close = [f for f in by_fold if _initials(f) == folded or (len(folded) >= 3 and folded in f)][:3]
    return [by_fold[c] for c in close]


def _initials(name: str) -> str:
    return "".join(word[0] for word in re.split(r"[^0-9a-z]+", name) if word)


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _listing(valid: Iterable[str]) -> str:
    ordered = sorted(valid)
    if not ordered:
        return "there are none"
    shown = ", ".join(ordered[:_LISTED])
    return "valid: " + (shown if len(ordered) <= _LISTED else f"{shown}, ... ({len(ordered)} in all)")


class Selectors:
    """Collects every unknown value of several filters, so one error lists all of them."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.details: list[ErrorDetail] = []

    def check(self, where: str, kind: str, values: Iterable[str] | None, valid: Iterable[str], scope: str = "") -> None:
        """Note each of ``values`` (given as ``where``) that is not one of ``valid``.

        ``kind`` is what the values are ("organisation"); ``scope`` where they were looked for
        ("in the state").
        """
        if values is None:
            return
        known = frozenset(valid)
        for value in values:
            if value in known:
                continue
            given = f"no {kind} {value!r}" + (f" {scope}" if scope else "") if value else f"an empty {kind}"
            close = suggestions(value, known) if value else []
            hint = f"did you mean {_either(close)}?" if close else _listing(known)
            self.details.append(ErrorDetail(where, f"{given}; {hint}", code=ErrorCode.SELECTOR_UNKNOWN))
            if kind not in self.kinds:
                self.kinds.append(kind)

    def raise_if_unknown(self) -> None:
        """SelectorError listing every unknown value noted, if there is any."""
        if self.details:
            raise SelectorError(f"unknown {' and '.join(self.kinds)}", self.details)

"""Row checks every importer shares: totals, footnotes, periods, and committing per-file results."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from fractions import Fraction

import attrs

from .builder import (
    BAD_PERIOD,
    CONFLICTED_MONTH,
    CONFLICTING_ROWS,
    DUPLICATE_ROW,
    FOOTNOTE_ROW,
    TOTAL_ROW,
    Dedup,
    FileContext,
)
from .table import Row, parse_number, parse_period

__all__ = ["Pending", "has_numbers", "is_region_code", "is_total_text", "row_month", "skip_total_or_footnote"]

_TOTAL_CODES = frozenset({"total", "eng", "england", "nat", "national", "all"})


def is_total_text(*texts: str) -> bool:
    """True if any text is a totals marker (``TOTAL``, ``England``, ``Eng``, ``National``...)."""
    return any(t.strip().casefold() in _TOTAL_CODES for t in texts)


def is_region_code(code: str) -> bool:
    """NHS England region codes (``Y56``, ``Y58``..``Y63``): three characters, ``Y`` and two digits."""
    c = code.strip().upper()
    return len(c) == 3 and c[0] == "Y" and c[1:].isdigit()


def has_numbers(row: Row) -> bool:
    """Whether any cell of the row parses as a number (a footnote row has none)."""
    return any(parse_number(c).status == "ok" for c in row.cells)


def row_month(ctx: FileContext, row: Row, text: str) -> int | None:
    """The month of a row from its period text; records a footnote or bad-period skip if none."""
    month = parse_period(text)
    if month is None:
        if has_numbers(row):
            ctx.skip(row, BAD_PERIOD, repr(text))
        else:
            ctx.skip(row, FOOTNOTE_ROW, repr(row.cells[0][:60]) if row.cells else None)
    return month


def skip_total_or_footnote(ctx: FileContext, row: Row, code: str, *others: str) -> bool:
    """Record and return True for a totals row or a row without an organisation code."""
    if is_total_text(code, *others) or is_region_code(code):
        ctx.skip(row, TOTAL_ROW, repr(code or next((o for o in others if o), "")))
        return True
    if not code:
        ctx.skip(row, FOOTNOTE_ROW, repr(row.cells[0][:60]) if row.cells else None)
        return True
    return False


@attrs.define
class Pending:
    """Observations collected from one file, committed at the end unless their key was in conflict."""

    items: dict[tuple[str, int], list[tuple[str, tuple[int, ...], dict[str, Fraction | int | None]]]] = attrs.Factory(
        dict
    )
    conflicted: set[tuple[str, int]] = attrs.Factory(set)

    def add(
        self,
        org: str,
        month: int,
        metric: str,
        lines: Iterable[int],
        *,
        numerator: Fraction | int | None = None,
        denominator: Fraction | int | None = None,
        value: Fraction | int | None = None,
    ) -> None:
        """Queue an observation."""
        self.items.setdefault((org, month), []).append(
            (metric, tuple(lines), {"numerator": numerator, "denominator": denominator, "value": value})
        )

    def commit(self, ctx: FileContext, note: dict[str, str] | None = None) -> None:
        """Hand every queued observation whose (organisation, month) is not in conflict to the builder
        (the rows of one in conflict are skipped)."""
        for (org, month), obs in self.items.items():
            if (org, month) in self.conflicted:
                for _, lines, _ in obs:
                    ctx.leave_out(lines, CONFLICTED_MONTH)
                continue
            for metric, lines, values in obs:
                ctx.observe(
                    org,
                    metric,
                    month,
                    lines,
                    numerator=values["numerator"],
                    denominator=values["denominator"],
                    value=values["value"],
                    note=(note or {}).get(metric),
                )


def first_of_its_kind(
    ctx: FileContext,
    dedup: Dedup,
    pending: Pending,
    row: Row,
    key: Hashable,
    signature: tuple[str, ...],
    org: str,
    month: int,
    label: str,
) -> bool:
    """Whether ``row`` is the first with its key. A repeat is reported and skipped: a duplicate (same
    values) is counted once; a conflict (different values) leaves the organisation's month out
    altogether (both rows are skipped)."""
    status, first = dedup.check(key, signature, row.line)
    if status == "duplicate":
        ctx.issue("duplicate", DUPLICATE_ROW, row, detail=f"{label}; first at line {first}")
        ctx.leave_out(row, DUPLICATE_ROW)
        return False
    if status == "conflict":
        ctx.issue("conflict", CONFLICTING_ROWS, row, detail=f"{label}; first at line {first}")
        ctx.leave_out((row.line, first), CONFLICTING_ROWS)
        pending.conflicted.add((org, month))
        return False
    return True

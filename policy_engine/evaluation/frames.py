"""Outcomes as a table: one row per outcome, typed columns (``Evaluation.to_frame``, ``--format csv``,
``-o results.xlsx``).

The columns (``COLUMNS``, in order) come from the outcome, the rule it decided (area, threshold
shape) and the organisation's type. The *deciding value* and the *threshold* are read from the
typed evidence (``Evidence.quantity``), guided by the rule's threshold shape
(``language.shape``): the comparison of the condition that decided it (the first false one, else
the first unknown one, else the first), its measured side (one metric over one period, a rank, or
a number fact) and its bound (a number, a parameter, or one metric over one period). Where the
measured side or the bound is not one of those (an expression such as ``pct(a) - pct(b)``, a yes/no
fact, another rule's outcome) or its value is unknown, the cell is null; ``explanation`` still
says it in words.

Numbers are ``Float64`` for arithmetic and, because the engine decides on exact values, also as
exact text (``value_exact``: an integer or ``numerator/denominator``) so that no decision is lost
in rounding (docs/decisions/027-outcome-tables.md).

``outcome_columns`` needs nothing beyond the core (the CSV output uses it); ``to_frame`` needs
polars (the ``tables`` extra) and ``write_workbook`` XlsxWriter (the ``workbooks`` extra), both
imported only when called.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import gcd
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._extras import require
from ..io.collector import paused
from ..language.ast import Call, render
from ..language.months import format_month
from ..language.shape import Comparison
from ..language.statuses import STATUS_INFO
from ..rulebook.loader import Rulebook
from .evidence import Evidence, Number, Ratio

if TYPE_CHECKING:
    import polars as pl

    from .outcomes import Evaluation, Outcome

__all__ = ["COLUMNS", "outcome_columns", "outcomes_csv", "to_frame", "write_workbook"]

COLUMNS: Final[Mapping[str, str]] = {
    "state": "String",
    "org_id": "String",
    "org_type": "String",
    "rule_id": "String",
    "area": "String",
    "kind": "String",
    "status": "Enum",
    "status_label": "String",
    "title": "String",
    "deadline": "Date",
    "period": "String",
    "measure": "String",
    "operator": "String",
    "value": "Float64",
    "value_exact": "String",
    "threshold": "Float64",
    "threshold_exact": "String",
    "unit": "String",
    "numerator": "Int64",
    "denominator": "Int64",
    "citation_document": "String",
    "citation_section": "String",
    "explanation": "String",
}
"""Each column and its polars type (``status`` is an Enum of ``STATUSES``, as the table API's)."""

_Key = tuple[str, str, str | None]
"""An evidence item as (kind, name, period), the way it is matched to a side of a comparison."""


@attrs.frozen
class _Side:
    """Where one side of a comparison is found: an exact constant, or an evidence item."""

    constant: Fraction | None = None
    key: _Key | None = None


@attrs.frozen
class _Candidate:
    """One comparison of a rule's condition, prepared for reading its values from evidence."""

    name: str
    """The comparison evidence item's name (the conjunct as written)."""
    measure: str
    op: str
    measured: _Side
    bound: _Side
    unit: str | None


@attrs.frozen
class _Plan:
    """What every outcome of one rule shares: its area and the comparisons to read."""

    area: str
    candidates: tuple[_Candidate, ...]


def _metric_key(comparison_node: Any, book: Rulebook) -> _Key | None:
    """The evidence key of one metric call over one period, else None."""
    if not isinstance(comparison_node, Call) or len(comparison_node.args) != 2:
        return None
    from ..language.shape import catalogue_name

    metric, period = catalogue_name(comparison_node.args[0]), catalogue_name(comparison_node.args[1])
    if metric is None or period is None or period not in book.periods:
        return None
    p = book.periods[period]
    return ("metric", f"{comparison_node.func}({metric})", f"{format_month(p.start)}..{format_month(p.end)}")


def _measured(c: Comparison, book: Rulebook) -> _Side:
    if c.reads_metric():
        return _Side(key=_metric_key(c.measured, book))
    if c.function == "fact" and c.subject is not None:
        return _Side(key=("fact", c.subject, None))
    if isinstance(c.measured, Call) and c.measured.func == "rank" and len(c.measured.args) == 1:
        return _Side(key=("rank", render(c.measured.args[0]), None))
    return _Side()


def _bound(c: Comparison, book: Rulebook) -> _Side:
    if c.parameter is not None:
        return _Side(key=("parameter", c.parameter, None))
    if c.constant is not None:
        return _Side(constant=c.constant)
    return _Side(key=_metric_key(c.bound, book))


def _unit(c: Comparison, book: Rulebook) -> str | None:
    if c.subject is None:
        return None
    if c.function == "fact" and c.subject in book.facts:
        return book.facts[c.subject].unit
    if c.subject in book.metrics:
        return "percent" if c.function in ("pct", "min_pct", "max_pct") else book.metrics[c.subject].unit
    return None


def _plans(book: Rulebook) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for rule in book.rules:
        candidates = []
        for node, c in zip(rule.shape.conjuncts, rule.shape.comparisons, strict=True):
            if c is None:
                continue
            candidates.append(
                _Candidate(render(node), c.text, c.op, _measured(c, book), _bound(c, book), _unit(c, book))
            )
        plans[rule.id] = _Plan(rule.area, tuple(candidates))
    return plans


_NONE8: Final = (None,) * 8


def _number(e: Evidence | None) -> tuple[float | None, str | None, str | None, int | None, int | None]:
    """An evidence item's value as a float and as exact text, its unit, numerator and denominator
    (None where it is not a number)."""
    if e is None:
        return None, None, None, None, None
    q = e.quantity
    if type(q) is Ratio:
        top, den = q.numerator * q.scale, q.denominator
        g = gcd(top, den)
        exact = str(top // g) if g == den else f"{top // g}/{den // g}"
        return top / den, exact, q.unit, q.numerator, q.denominator
    if type(q) is Number:
        v = q.value
        return float(v), _exact(v), q.unit, None, None
    return None, None, None, None, None


def _exact(v: Fraction | None) -> str | None:
    if v is None:
        return None
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _find(evidence: tuple[Evidence, ...], key: _Key | None) -> Evidence | None:
    if key is None:
        return None
    kind, name, period = key
    for e in evidence:
        if e.name == name and e.kind == kind and e.period == period:
            return e
    return None


def _choose(candidates: tuple[_Candidate, ...], evidence: tuple[Evidence, ...]) -> _Candidate:
    """The comparison that decided: the first false, else the first unknown, else the first."""
    if len(candidates) == 1:
        return candidates[0]
    unknown = None
    for cand in candidates:
        e = _find(evidence, ("comparison", cand.name, None))
        if e is None:
            continue
        if getattr(e.quantity, "value", None) is False:
            return cand
        if unknown is None and e.unknown:
            unknown = cand
    return unknown or candidates[0]


def _numbers(o: Outcome, plan: _Plan) -> tuple[Any, ...]:
    """measure, operator, value, value_exact, threshold, threshold_exact, unit, numerator, denominator."""
    if not plan.candidates or o.status == "not_applicable":
        return (None, *_NONE8)
    cand = _choose(plan.candidates, o.evidence)
    value, value_exact, unit, num, den = _number(_find(o.evidence, cand.measured.key))
    bound: float | None
    if cand.bound.constant is not None:
        bound, bound_exact, bound_unit = float(cand.bound.constant), _exact(cand.bound.constant), None
    else:
        bound, bound_exact, bound_unit, _, _ = _number(_find(o.evidence, cand.bound.key))
    return cand.measure, cand.op, value, value_exact, bound, bound_exact, unit or bound_unit or cand.unit, num, den


_NUMBER_COLUMNS: Final = (
    "measure",
    "operator",
    "value",
    "value_exact",
    "threshold",
    "threshold_exact",
    "unit",
    "numerator",
    "denominator",
)


def outcome_columns(evaluation: Evaluation, rulebook: Rulebook, org_types: Mapping[str, str]) -> dict[str, list[Any]]:
    """The table of ``evaluation``'s outcomes as columns (``COLUMNS``) of Python values: ``str``,
    ``float``, ``int``, ``datetime.date`` or None."""
    with paused():  # building acyclic rows: collections would double the time (bench_frames.py)
        return _columns(evaluation, rulebook, org_types)


def _columns(evaluation: Evaluation, rulebook: Rulebook, org_types: Mapping[str, str]) -> dict[str, list[Any]]:
    plans = _plans(rulebook)
    empty = _Plan("", ())
    outs = evaluation.outcomes
    rule_plans = [plans.get(o.rule_id, empty) for o in outs]
    labels = {s: info.label for s, info in STATUS_INFO.items()}
    cols: dict[str, list[Any]] = {
        "state": [evaluation.record.state_digest] * len(outs),
        "org_id": [o.org_id for o in outs],
        "org_type": [org_types.get(o.org_id) for o in outs],
        "rule_id": [o.rule_id for o in outs],
        "area": [p.area or None for p in rule_plans],
        "kind": [o.kind for o in outs],
        "status": [o.status for o in outs],
        "status_label": [labels[o.status] for o in outs],
        "title": [o.title for o in outs],
        "deadline": [o.deadline for o in outs],
        "period": [o.period for o in outs],
    }
    numbers = [_numbers(o, p) for o, p in zip(outs, rule_plans, strict=True)]
    for name, column in zip(_NUMBER_COLUMNS, zip(*numbers, strict=True) if numbers else [()] * 9, strict=True):
        cols[name] = list(column)
    cols["citation_document"] = [o.citation.document for o in outs]
    cols["citation_section"] = [o.citation.section for o in outs]
    cols["explanation"] = [o.explanation for o in outs]
    return {name: cols[name] for name in COLUMNS}


def _context(evaluation: Evaluation, rulebook: Rulebook | None) -> tuple[Rulebook, Mapping[str, str]]:
    from ..errors import ErrorCode, ErrorDetail, PolicyError

    book = rulebook if rulebook is not None else evaluation.rulebook
    if book is None:
        raise PolicyError(
            "no rulebook for the table of outcomes",
            [
                ErrorDetail(
                    "rulebook",
                    "this Evaluation was not made by evaluate() and carries no rulebook: pass the rulebook it was "
                    "evaluated with (to_frame(rulebook=...))",
                    code=ErrorCode.ARGUMENT_VALUE,
                )
            ],
        )
    return book, evaluation.org_types


def to_frame(evaluation: Evaluation, rulebook: Rulebook | None = None) -> pl.DataFrame:
    """The outcomes as a polars DataFrame, one row per outcome, with the columns and types of
    ``COLUMNS`` (see ``Evaluation.to_frame``)."""
    with require("tables", feature="Evaluation.to_frame()"):
        import polars as pl

        from .columnar.columns import STATUS_ENUM
    book, types = _context(evaluation, rulebook)
    cols = outcome_columns(evaluation, book, types)
    dtypes: dict[str, Any] = {"String": pl.String, "Float64": pl.Float64, "Int64": pl.Int64, "Date": pl.Date}
    with paused():
        return pl.DataFrame(
            [
                pl.Series(name, cols[name], dtype=STATUS_ENUM if kind == "Enum" else dtypes[kind])
                for name, kind in COLUMNS.items()
            ]
        )


def outcomes_csv(evaluation: Evaluation, rulebook: Rulebook | None = None) -> str:
    """The outcomes as CSV text (RFC 4180, a header row, the columns of ``COLUMNS``; null is an
    empty cell, dates are ``YYYY-MM-DD``, floats written so that they read back exactly)."""
    book, types = _context(evaluation, rulebook)
    cols = outcome_columns(evaluation, book, types)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    # the csv module writes None as an empty cell, a float as its repr and a date as YYYY-MM-DD
    with paused():
        writer.writerows(_rows(cols))
    return buf.getvalue()


def _rows(cols: Mapping[str, list[Any]]) -> Iterable[tuple[Any, ...]]:
    return zip(*cols.values(), strict=True)


def write_workbook(evaluation: Evaluation, path: str | os.PathLike[str], rulebook: Rulebook | None = None) -> None:
    """Write the outcomes to an .xlsx workbook at ``path`` (atomically): a ``Summary`` sheet (counts
    by status for each area, with totals) and an ``Outcomes`` sheet (the columns of ``COLUMNS``,
    dates as dates, numbers as numbers)."""
    with require("workbooks", feature="an .xlsx workbook of outcomes"):
        import xlsxwriter

    from ..io.files import atomic_write

    book, types = _context(evaluation, rulebook)
    cols = outcome_columns(evaluation, book, types)
    with atomic_write(path, "wb") as sink:
        workbook = xlsxwriter.Workbook(sink, {"in_memory": True})
        bold = workbook.add_format({"bold": True})
        date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        summary = workbook.add_worksheet("Summary")
        outcomes = workbook.add_worksheet("Outcomes")
        _summary(summary, cols, bold)
        outcomes.write_row(0, 0, list(COLUMNS), bold)
        date_col = list(COLUMNS).index("deadline")
        for r, row in enumerate(_rows(cols), start=1):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if c == date_col:
                    outcomes.write_datetime(r, c, _datetime(v), date)
                elif isinstance(v, str):
                    # always as text: write() would take "==" or "=..." for a formula
                    outcomes.write_string(r, c, v)
                else:
                    outcomes.write_number(r, c, v)
        outcomes.freeze_panes(1, 0)
        outcomes.autofilter(0, 0, len(cols["rule_id"]), len(COLUMNS) - 1)
        workbook.close()


def _datetime(d: Any) -> Any:
    import datetime as dt

    return dt.datetime(d.year, d.month, d.day)


def _summary(sheet: Any, cols: Mapping[str, list[Any]], bold: Any) -> None:
    statuses = sorted({s for s in cols["status"]}, key=lambda s: STATUS_INFO[s].order)
    counts: dict[str, dict[str, int]] = {}
    for area, status in zip(cols["area"], cols["status"], strict=True):
        per = counts.setdefault(area or "", {})
        per[status] = per.get(status, 0) + 1
    sheet.write_row(0, 0, ["area", *(STATUS_INFO[s].label for s in statuses), "total"], bold)
    row = 1
    for area in sorted(counts):
        per = counts[area]
        sheet.write_string(row, 0, area)
        sheet.write_row(row, 1, [*(per.get(s, 0) for s in statuses), sum(per.values())])
        row += 1
    totals = [sum(per.get(s, 0) for per in counts.values()) for s in statuses]
    sheet.write_row(row, 0, ["total", *totals, sum(totals)], bold)
    sheet.freeze_panes(1, 1)

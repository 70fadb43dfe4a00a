"""Cancer waiting times: the CWT-CRS provider data extract (the workbook, or its sheet saved as CSV).

One row per provider, month, standard, referral route (``STAGE/ROUTE``), treatment modality and
cancer type: ``PERIOD`` (or ``YEAR`` ``2024/25`` with ``MONTH`` ``APR``), ``STANDARD``
(``28-day FDS``, ``31-day Combined``, ``62-day Combined``), ``ORG CODE``, ``TOTAL`` (``TOTAL
TREATED`` in later extracts), ``WITHIN STANDARD``, ``BREACHES``.

Metrics, one per provider and month (see docs/importers.md):

* ``cancer_fds_28day`` from ``28-day FDS`` rows: numerator = WITHIN STANDARD, denominator = TOTAL,
  summed over every route (urgent suspected cancer, breast symptomatic, screening) and cancer type.
* ``cancer_62day_combined`` from ``62-day Combined`` rows, summed the same way over every route
  (urgent suspected cancer, breast symptomatic, screening, consultant upgrade).

The extract breaks the 31- and 62-day standards down twice, by cancer type (with ``ALL
MODALITIES``) and by treatment modality (with ``ALL CANCERS``); adding every row would count each
patient twice. For each route the importer uses, in this order: an ``ALL CANCERS``/``ALL
MODALITIES`` row; else the cancer-type rows with ``ALL MODALITIES`` (or no modality); else the
modality rows with ``ALL CANCERS``; else every row (no subtotals given). When both breakdowns are
present and disagree, a warning is recorded. The rows not used (the other breakdown, the other
routes when an all-routes row is given) are counted as not needed, each with its reason.

The published workbook is read from its sheet ``CWT CRS Provider Extract`` (``PERIOD`` is a date
cell there, read as ``2023-10-01``).

Counts may be halves (a patient whose pathway two providers share counts 0.5 at each); the
builder then doubles that provider's numerator and denominator for the metric, which keeps the
percentage exact, and notes it on each observation. Other standards are not imported.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import attrs

from .builder import BAD_PERIOD, MISSING_VALUE, WITH_MISSING, Dedup, FileContext
from .common import Pending, first_of_its_kind, skip_total_or_footnote
from .errors import LayoutError
from .table import Column, Layout, Row, month_from_name, month_index, parse_period

__all__ = ["LAYOUTS", "STANDARDS", "read"]

STANDARDS = {"28-day fds": "cancer_fds_28day", "62-day combined": "cancer_62day_combined"}

# Why a row of an imported standard is not needed (the same patients are counted by other rows).
OTHER_ROUTES = "referral-route rows (the file's all-routes row is used)"
SUBTOTALS_USED = "cancer-type and modality breakdown rows (the ALL CANCERS / ALL MODALITIES row is used)"
MODALITY_ROWS = (
    "treatment-modality rows (ALL CANCERS by modality: the same patients as the cancer-type rows, which are used)"
)
TYPE_BY_MODALITY = "cancer type by modality detail rows (the subtotal rows are used)"

LAYOUTS = (
    Layout(
        "CWT-CRS provider data extract (PERIOD or YEAR/MONTH, STANDARD, ORG CODE, STAGE/ROUTE, "
        "TREATMENT MODALITY, CANCER TYPE, TOTAL or TOTAL TREATED, WITHIN STANDARD, BREACHES)",
        (
            Column("period", ("PERIOD",), required=False),
            Column("year", ("YEAR",), required=False),
            Column("month", ("MONTH",), required=False),
            Column("standard", ("STANDARD",)),
            Column("org_code", ("ORG CODE",)),
            Column("route", ("STAGE/ROUTE", "STAGE ROUTE", "ROUTE"), required=False),
            Column("modality", ("TREATMENT MODALITY",), required=False),
            Column("cancer_type", ("CANCER TYPE",), required=False),
            Column("total", ("TOTAL", "TOTAL TREATED")),
            Column("within", ("WITHIN STANDARD",)),
            Column("breaches", ("BREACHES", "OUTSIDE STANDARD"), required=False),
        ),
        sheets=("CWT CRS Provider Extract",),
    ),
)


@attrs.frozen
class _Line:
    line: int
    modality: str
    cancer_type: str
    total: Fraction | None
    within: Fraction | None


def _all_types(text: str) -> bool:
    t = text.casefold()
    return t.startswith("all cancer") or t == "all"


def _all_modalities(text: str) -> bool:
    t = text.casefold()
    return not t or t.startswith("all modalit") or t == "all"


def _month(ctx: FileContext, row: Row) -> int | None:
    t = ctx.table
    if t.has("period") and t.cell(row, "period"):
        text = t.cell(row, "period")
        if text.isdigit() and len(text) == 5:  # an Excel date serial, when the sheet was saved unformatted
            day = dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
            return month_index(day.year, day.month)
        return parse_period(text)
    year, mon = t.cell(row, "year"), month_from_name(t.cell(row, "month"))
    if mon is None or len(year) < 4 or not year[:4].isdigit():
        return None
    start = int(year[:4])
    if len(year) > 4:  # a financial year, 2024/25: April..December in 2024, January..March in 2025
        return month_index(start + (1 if mon <= 3 else 0), mon)
    return month_index(start, mon)


def read(ctx: FileContext) -> None:
    """Read one CWT provider extract into the builder."""
    t = ctx.table
    if not t.has("period") and not (t.has("year") and t.has("month")):
        raise LayoutError(
            "a cancer waiting times extract needs a PERIOD column, or YEAR and MONTH columns",
            file=t.file,
            line=t.header_line,
            column="PERIOD",
        )
    dedup = Dedup()
    pending = Pending()
    groups: dict[tuple[str, int, str], dict[str, list[_Line]]] = {}
    for row in ctx.data_rows():
        code = t.cell(row, "org_code")
        if skip_total_or_footnote(ctx, row, code):
            continue
        month = _month(ctx, row)
        if month is None:
            ctx.skip(row, BAD_PERIOD, repr(t.cell(row, "period") or f"{t.cell(row, 'year')} {t.cell(row, 'month')}"))
            continue
        standard = " ".join(t.cell(row, "standard").split())
        metric = STANDARDS.get(standard.casefold())
        if metric is None:
            ctx.ignore(row, f"cancer standard not imported: {standard or '(blank)'}")
            continue
        org = ctx.builder.admit(ctx, row, code)
        if org is None:
            continue
        route, modality, ctype = (" ".join(t.cell(row, k).split()) for k in ("route", "modality", "cancer_type"))
        key = (org, month, metric, route.casefold(), modality.casefold(), ctype.casefold())
        if not first_of_its_kind(
            ctx, dedup, pending, row, key, (t.cell(row, "total"), t.cell(row, "within")), org, month, org
        ):
            continue
        total, within = ctx.number(row, "total"), ctx.number(row, "within")
        if total is not None and within is not None:
            if within > total:
                ctx.issue("missing", "WITHIN STANDARD is more than TOTAL", row, "within", f"{within} > {total}")
                within = None
            elif t.has("breaches"):
                breaches = ctx.number(row, "breaches", report=False)
                if breaches is not None and breaches != total - within:
                    ctx.issue("warning", "TOTAL is not WITHIN STANDARD + BREACHES (TOTAL used)", row, "total")
        groups.setdefault((org, month, metric), {}).setdefault(route.casefold(), []).append(
            _Line(row.line, modality, ctype, total, within)
        )
    for (org, month, metric), routes in groups.items():
        result = _combine(ctx, org, routes)
        if result is not None:
            within, total, lines = result
            pending.add(org, month, metric, lines, numerator=within, denominator=total)
    pending.commit(ctx)


def _combine(ctx: FileContext, org: str, routes: dict[str, list[_Line]]) -> tuple[Fraction, Fraction, list[int]] | None:
    """(within, total, lines) summed over routes without double counting, or None if any is missing.

    The rows left out as breakdowns are counted as not needed; when a value is missing, the rows
    that would have been added are skipped."""
    overall = [lines for route, lines in routes.items() if route.startswith("all")]
    chosen_routes = overall[:1] if overall else list(routes.values())
    for lines in routes.values():
        if not any(lines is chosen for chosen in chosen_routes):
            ctx.ignore([x.line for x in lines], OTHER_ROUTES)
    within_sum, total_sum = Fraction(0), Fraction(0)
    added: list[_Line] = []
    missing = False
    for lines in chosen_routes:
        both = [x for x in lines if _all_types(x.cancer_type) and _all_modalities(x.modality)]
        by_type = [x for x in lines if _all_modalities(x.modality) and not _all_types(x.cancer_type)]
        by_mod = [x for x in lines if _all_types(x.cancer_type) and not _all_modalities(x.modality)]
        chosen = both or by_type or by_mod or lines
        if chosen is not lines:
            for x in lines:
                if x in chosen:
                    continue
                if chosen is both:
                    ctx.ignore(x.line, SUBTOTALS_USED)
                elif x in by_mod:
                    ctx.ignore(x.line, MODALITY_ROWS)
                else:
                    ctx.ignore(x.line, TYPE_BY_MODALITY)
        if not both and by_type and by_mod:
            a, b = _sum(by_type), _sum(by_mod)
            if a is not None and b is not None and a != b:
                ctx.issue(
                    "warning",
                    "cancer-type and modality breakdowns give different totals (cancer types used)",
                    by_mod[0].line,
                    detail=f"{org}: {a[0]}/{a[1]} vs {b[0]}/{b[1]}",
                )
        total = _sum(chosen)
        added += chosen
        if total is None:
            missing = True
            continue
        within_sum += total[0]
        total_sum += total[1]
    if missing:
        for x in added:
            ctx.leave_out(x.line, MISSING_VALUE if x.within is None or x.total is None else WITH_MISSING)
        return None
    return within_sum, total_sum, [x.line for x in added]


def _sum(lines: list[_Line]) -> tuple[Fraction, Fraction] | None:
    within, total = Fraction(0), Fraction(0)
    for x in lines:
        if x.within is None or x.total is None:
            return None
        within += x.within
        total += x.total
    return within, total

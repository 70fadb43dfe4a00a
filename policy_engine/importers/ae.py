"""A&E attendances and emergency admissions: the monthly provider CSV (``MSitAE``) and spreadsheet.

One row per provider and month: ``Period`` (``MSitAE-MARCH-2025``), ``Org Code``, ``Parent Org``
(the NHS England region), ``Org name``, then attendances and attendances over 4 hours by department
type (Type 1, Type 2, Other A&E Department), from August 2020 split into unplanned attendances and
booked appointments. A ``TOTAL`` row (England) is skipped.

Metrics (see docs/importers.md):

* ``ae_4h_type1``: numerator = Type 1 attendances - Type 1 attendances over 4 hours, denominator =
  Type 1 attendances; booked appointments are included in both (NHS England's headline 4-hour
  measure counts them), so from August 2020 each count is the unplanned plus the booked column.
* ``ae_4h_all``: the same over Type 1, Type 2 and Other A&E departments.

The monthly A&E *spreadsheet*'s ``Provider Level Data`` sheet (the workbook, or that sheet saved
as CSV) is read too: ``Code``, ``Region``, ``Name``, then groups of ``Type 1 Departments - Major
A&E``, ``Type 2 Departments - Single Specialty``, ``Type 3 Departments - Other A&E/Minor Injury
Unit`` headings, each group ended by its total (``Total attendances``, ``Total Attendances < 4
hours``, ``Total Attendances > 4 hours``). The headings repeat, so each type column is read by its
position between two totals. Its counts already include booked appointments, so they give the
same numerators and denominators as the CSV. It has no period column: the month is the sheet's
``Period:`` title line, or the period the import is given (docs/decisions/016-spreadsheet-period.md).

Not imported: ``ae_12h_type1`` (12 hours from *arrival*): this file only has waits of 12 hours
from the *decision to admit*, a different measure.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from .builder import Dedup, FileContext
from .common import Pending, first_of_its_kind, is_total_text, row_month, skip_total_or_footnote
from .table import Column, Layout, Row, parse_number

__all__ = ["LAYOUTS", "read"]

_TYPES = {"1": "Type 1", "2": "Type 2", "o": "Other"}
_SERVICE = {"1": "type1_ae", "2": "type2_ae", "o": "type3_ae"}


def _keys(booked: bool) -> list[str]:
    keys = [f"{p}_{t}" for p in ("att", "ov") for t in _TYPES]
    if booked:
        keys += [f"{p}_{t}" for p in ("bk", "bkov") for t in _TYPES]
    return keys


_IDENTITY = (
    Column("period", ("Period",)),
    Column("org_code", ("Org Code",)),
    Column("parent_org", ("Parent Org",), required=False),
    Column("org_name", ("Org name",), required=False),
)
_CURRENT = (
    Column("att_1", ("A&E attendances Type 1",)),
    Column("att_2", ("A&E attendances Type 2",)),
    Column("att_o", ("A&E attendances Other A&E Department", "A&E attendances Other Department")),
    Column("ov_1", ("Attendances over 4hrs Type 1",)),
    Column("ov_2", ("Attendances over 4hrs Type 2",)),
    Column("ov_o", ("Attendances over 4hrs Other Department", "Attendances over 4hrs Other A&E Department")),
)
_BOOKED = (
    Column("bk_1", ("A&E attendances Booked Appointments Type 1",)),
    Column("bk_2", ("A&E attendances Booked Appointments Type 2",)),
    Column(
        "bk_o",
        (
            "A&E attendances Booked Appointments Other Department",
            "A&E attendances Booked Appointments Other A&E Department",
        ),
    ),
    Column("bkov_1", ("Attendances over 4hrs Booked Appointments Type 1",)),
    Column("bkov_2", ("Attendances over 4hrs Booked Appointments Type 2",)),
    Column(
        "bkov_o",
        (
            "Attendances over 4hrs Booked Appointments Other Department",
            "Attendances over 4hrs Booked Appointments Other A&E Department",
        ),
    ),
)
_NUMBER_OF = (
    Column("att_1", ("Number of A&E attendances Type 1",)),
    Column("att_2", ("Number of A&E attendances Type 2",)),
    Column("att_o", ("Number of A&E attendances Other A&E Department", "Number of A&E attendances Other Department")),
    Column("ov_1", ("Number of attendances over 4hrs Type 1",)),
    Column("ov_2", ("Number of attendances over 4hrs Type 2",)),
    Column(
        "ov_o",
        ("Number of attendances over 4hrs Other A&E Department", "Number of attendances over 4hrs Other Department"),
    ),
)
_BOOKED_HEADINGS = tuple(n for c in _BOOKED for n in c.names)

# The spreadsheet's type headings (the April 2025 sheet saved as CSV reads "Type 1 Departments 0
# Major A&E": accepted as the same heading).
_SHEET_TYPES = {
    "1": ("Type 1 Departments - Major A&E", "Type 1 Departments 0 Major A&E"),
    "2": ("Type 2 Departments - Single Specialty", "Type 2 Departments 0 Single Specialty"),
    "o": ("Type 3 Departments - Other A&E/Minor Injury Unit", "Type 3 Departments 0 Other A&E/Minor Injury Unit"),
}
_SHEET = (
    Column("org_code", ("Code",)),
    Column("parent_org", ("Region",), required=False),
    Column("org_name", ("Name",)),
    Column("att_total", ("Total attendances",)),
    Column("in4_total", ("Total Attendances < 4 hours",)),
    Column("ov_total", ("Total Attendances > 4 hours",)),
    *(Column(f"att_{t}", names, after="org_name", before="att_total") for t, names in _SHEET_TYPES.items()),
    *(Column(f"in4_{t}", names, after="att_total", before="in4_total") for t, names in _SHEET_TYPES.items()),
    *(Column(f"ov_{t}", names, after="in4_total", before="ov_total") for t, names in _SHEET_TYPES.items()),
)

LAYOUTS = (
    Layout(
        "monthly A&E CSV, August 2020 onwards (booked appointments in their own columns)",
        _IDENTITY + _CURRENT + _BOOKED,
    ),
    Layout(
        "monthly A&E CSV, April to July 2020 (no booked-appointment columns)", _IDENTITY + _CURRENT, _BOOKED_HEADINGS
    ),
    Layout(
        "monthly A&E CSV, 2019-20 ('Number of A&E attendances ...' headings)", _IDENTITY + _NUMBER_OF, _BOOKED_HEADINGS
    ),
    Layout(
        "monthly A&E spreadsheet, 'Provider Level Data' sheet (attendances, under and over 4 hours by type)",
        _SHEET,
        sheets=("Provider Level Data",),
        title_period=True,
    ),
)


def read(ctx: FileContext) -> None:
    """Read one A&E file into the builder."""
    t = ctx.table
    booked = t.has("bk_1")
    keys = _keys(booked)
    dedup = Dedup()
    pending = Pending()
    england: int | None = None  # the TOTAL row's Type 1 attendances
    providers = 0  # the same, summed over the providers admitted to the state
    for row in ctx.data_rows():
        period, code, parent = t.cell(row, "period"), t.cell(row, "org_code"), t.cell(row, "parent_org")
        # The spreadsheet's England row is named in its Name column ("England", code "-").
        others = (period, parent) if t.period is None else (parent, t.cell(row, "org_name"))
        if is_total_text(code, *others) and england is None:
            england = _type1_attendances(ctx, row, booked)
        if skip_total_or_footnote(ctx, row, code, *others):
            continue
        month = row_month(ctx, row, period) if t.period is None else t.period
        if month is None:
            continue
        org = ctx.builder.admit(ctx, row, code, name=t.cell(row, "org_name") or None, region=parent)
        if org is None:
            continue
        if not first_of_its_kind(
            ctx, dedup, pending, row, (org, month), tuple(t.cell(row, k) for k in keys), org, month, org
        ):
            continue
        providers += _type1_attendances(ctx, row, booked) or 0
        counts: dict[str, tuple[int, int] | None] = {}
        for typ in _TYPES:
            counts[typ] = _type_counts(ctx, row, typ, booked)
            pair = counts[typ]
            if pair is not None and pair[1] > 0:
                ctx.builder.infer_service(org, _SERVICE[typ])
        one = counts["1"]
        if one is not None and one[1] > 0:
            ctx.builder.show_type(ctx, row, org, "acute_trust")
        if one is not None:
            pending.add(org, month, "ae_4h_type1", [row.line], numerator=one[0], denominator=one[1])
        if all(counts[typ] is not None for typ in _TYPES):
            within = sum(Fraction(p[0]) for p in counts.values() if p is not None)
            total = sum(Fraction(p[1]) for p in counts.values() if p is not None)
            pending.add(org, month, "ae_4h_all", [row.line], numerator=within, denominator=total)
    pending.commit(ctx)
    if england is not None and england > 0 and providers == england:
        ctx.builder.declare_complete(
            "national",
            ("acute_trust",),
            f"{Path(ctx.file).name}: its provider rows add up to its England TOTAL row "
            f"({england} Type 1 attendances), so every provider with an A&E department is in the state",
        )


def _type1_attendances(ctx: FileContext, row: Row, booked: bool) -> int | None:
    """Type 1 attendances of a row (booked appointments included), without reporting blanks."""
    parsed = [parse_number(ctx.table.cell(row, k)) for k in (("att_1", "bk_1") if booked else ("att_1",))]
    if any(p.status != "ok" or p.value is None or p.value.denominator != 1 for p in parsed):
        return None
    return sum(int(p.value) for p in parsed if p.value is not None)


def _type_counts(ctx: FileContext, row: Row, typ: str, booked: bool) -> tuple[int, int] | None:
    """(attendances within 4 hours, attendances) for one department type, or None if unavailable."""
    parts = [ctx.whole(row, f"att_{typ}"), ctx.whole(row, f"ov_{typ}")]
    if booked:
        parts += [ctx.whole(row, f"bk_{typ}"), ctx.whole(row, f"bkov_{typ}")]
    if ctx.table.has(f"in4_{typ}"):  # the spreadsheet: within 4 hours is given too, and must add up
        parts.append(ctx.whole(row, f"in4_{typ}"))
    if any(p is None for p in parts):
        return None
    values = [p for p in parts if p is not None]
    if ctx.table.has(f"in4_{typ}") and values[0] != values[1] + values[2]:
        ctx.issue(
            "missing",
            "attendances are not those under 4 hours plus those over 4 hours",
            row,
            f"att_{typ}",
            f"{_TYPES[typ]}: {values[0]} != {values[2]} + {values[1]}",
        )
        return None
    attendances = values[0] + (values[2] if booked else 0)
    over = values[1] + (values[3] if booked else 0)
    if over > attendances:
        ctx.issue(
            "missing",
            "more attendances over 4 hours than attendances",
            row,
            f"ov_{typ}",
            f"{_TYPES[typ]}: {over} > {attendances}",
        )
        return None
    return attendances - over, attendances

"""Ambulance Quality Indicators: the AmbSYS (Ambulance Systems Indicators) CSV.

One row per organisation and month: ``Year``, ``Month`` (1-12), ``Region``, ``Org Code``,
``Org Name``, then one column per indicator code ``A0``, ``A1``, ... (the AmbSYS specification).
England (``Org Code`` ``Eng``) and region rows (``Y56``, ``Y58``..``Y63``) are skipped.

Metric ``cat2_response`` (a rate): numerator = ``A30`` (Category 2 total response time, seconds),
denominator = ``A10`` (Category 2 incidents), so numerator / denominator is the mean response time.
Where the file has ``A31`` (Category 2 mean response time, seconds) each month is checked
against it: ``A30 / A10`` must be within a second of ``A31``, or the month is left out (a unit or
column mix-up would otherwise pass silently).

The A-codes have these meanings since the Ambulance Response Programme categories (August 2017);
earlier months are not imported.
"""

from __future__ import annotations

from fractions import Fraction

from .builder import BAD_PERIOD, Dedup, FileContext
from .common import Pending, first_of_its_kind, skip_total_or_footnote
from .table import Column, Layout, month_index, parse_number

__all__ = ["LAYOUTS", "read"]

FIRST_MONTH = month_index(2017, 8)

LAYOUTS = (
    Layout(
        "AmbSYS CSV (Year, Month, Org Code, A0..An), August 2017 onwards",
        (
            Column("year", ("Year",)),
            Column("month", ("Month",)),
            Column("region", ("Region",), required=False),
            Column("org_code", ("Org Code",)),
            Column("org_name", ("Org Name",), required=False),
            Column("a10", ("A10",)),
            Column("a30", ("A30",)),
            Column("a31", ("A31",), required=False),
        ),
    ),
)


def read(ctx: FileContext) -> None:
    """Read one AmbSYS file into the builder."""
    t = ctx.table
    dedup = Dedup()
    pending = Pending()
    for row in ctx.data_rows():
        code = t.cell(row, "org_code")
        if skip_total_or_footnote(ctx, row, code, t.cell(row, "org_name")):
            continue
        year, mon = parse_number(t.cell(row, "year")).value, parse_number(t.cell(row, "month")).value
        month = (
            month_index(int(year), int(mon))
            if year is not None and mon is not None and year.denominator == mon.denominator == 1
            else None
        )
        if month is None:
            ctx.skip(row, BAD_PERIOD, repr(f"{t.cell(row, 'year')}/{t.cell(row, 'month')}"))
            continue
        assert FIRST_MONTH is not None
        if month < FIRST_MONTH:
            ctx.ignore(row, "AmbSYS months before August 2017 (A-codes had other meanings)")
            continue
        region = t.cell(row, "region")
        org = ctx.builder.admit(
            ctx,
            row,
            code,
            name=t.cell(row, "org_name") or None,
            region=region,
        )
        if org is None:
            continue
        ctx.builder.show_type(ctx, row, org, "ambulance_trust")
        if not first_of_its_kind(
            ctx,
            dedup,
            pending,
            row,
            (org, month),
            tuple(t.cell(row, k) for k in ("a10", "a30", "a31")),
            org,
            month,
            org,
        ):
            continue
        incidents, total = ctx.whole(row, "a10"), ctx.whole(row, "a30")
        if incidents is None or total is None:
            continue
        if incidents == 0 and total > 0:
            ctx.issue("missing", "Category 2 response time reported with no incidents", row, "a30", str(total))
            continue
        mean = parse_number(t.cell(row, "a31")).value if t.has("a31") else None
        if mean is not None and incidents > 0 and abs(Fraction(total, incidents) - mean) > 1:
            ctx.issue(
                "missing",
                "A30 / A10 does not match the published mean A31 (wrong units or columns?)",
                row,
                "a31",
                f"{total}/{incidents} = {float(Fraction(total, incidents)):.1f}, A31 = {float(mean):g}",
            )
            continue
        pending.add(org, month, "cat2_response", [row.line], numerator=total, denominator=incidents)
    pending.commit(ctx)

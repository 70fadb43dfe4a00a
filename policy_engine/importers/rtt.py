"""Referral to treatment (RTT) waiting times: the monthly full CSV extract.

One row per provider, commissioner, RTT part and treatment function: ``Period``
(``RTT-June-2026``), ``Provider Parent Org Code`` (the provider's ICB), ``Provider Org Code``,
``Commissioner Org Code``, ``RTT Part Type`` (``Part_2`` = incomplete pathways at month end),
``Treatment Function Code`` (``C_999`` = all treatment functions), one column per week band
(``Gt 00 To 01 Weeks SUM 1`` ... ``Gt 104 Weeks SUM 1``) and ``Total All``.

Metric ``elec_rtt_over_65wk_excl_exempt`` (a month-end count): the provider's ``Part_2``
``C_999`` rows, summed over commissioners, of every band from ``Gt 65 To 66 Weeks`` to the
open-ended last band. The published count cannot exclude patients who chose to wait longer or
the exempt specialties, which the metric should exclude: each observation says so in its note,
and the count is an upper bound of the metric (docs/importers.md).

Older extracts whose bands end in ``Gt 52 Weeks`` cannot give waits over 65 weeks: nothing is
imported from them, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from .bands import Band, Note, band_values, covers_from, record, rtt_bands
from .builder import MISSING_VALUE, WITH_MISSING, Dedup, FileContext
from .common import Pending, first_of_its_kind, row_month, skip_total_or_footnote
from .table import Column, Layout, Row

__all__ = ["LAYOUTS", "METRIC", "NOTE", "read"]

METRIC = "elec_rtt_over_65wk_excl_exempt"
NOTE = (
    "published count of incomplete RTT pathways waiting over 65 weeks: it includes patients who chose to wait "
    "longer and the exempt specialties, which the metric excludes and the published files do not separate "
    "(an upper bound)"
)
TOTAL_TF = "C_999"
DETAIL_ROWS = "treatment-function rows (the commissioner's C_999 all-treatment-functions row is used)"

LAYOUTS = (
    Layout(
        "RTT full CSV extract (Provider/Commissioner x RTT part x treatment function, week bands 'Gt NN To NN "
        "Weeks SUM 1')",
        (
            Column("period", ("Period",)),
            Column("parent_code", ("Provider Parent Org Code",), required=False),
            Column("parent_name", ("Provider Parent Name",), required=False),
            Column("provider_code", ("Provider Org Code",)),
            Column("provider_name", ("Provider Org Name",), required=False),
            Column("commissioner_code", ("Commissioner Org Code",)),
            Column("part", ("RTT Part Type",)),
            Column("tf", ("Treatment Function Code",)),
            Column("total_all", ("Total All",), required=False),
        ),
    ),
)


def icb_of(code: str, name: str) -> tuple[str | None, str | None]:
    """(ICB code, name) when a provider's parent is an ICB, else (None, None)."""
    code = code.strip().upper()
    if not code:
        return None, None
    if name:
        return (code, name.strip()) if "integrated care board" in name.casefold() else (None, None)
    return (code, None) if len(code) == 3 and code.startswith("Q") else (None, None)


def admit_provider(ctx: FileContext, row: Row, code: str) -> str | None:
    """Admit the provider of an RTT or DM01 row (an acute trust unless the reference table says
    otherwise), with its parent ICB where the file names one; None if it is not imported."""
    t = ctx.table
    icb, icb_name = icb_of(t.cell(row, "parent_code"), t.cell(row, "parent_name"))
    return ctx.builder.admit(
        ctx,
        row,
        code,
        name=t.cell(row, "provider_name") or None,
        icb=icb,
        icb_name=icb_name,
    )


def read(ctx: FileContext) -> None:
    """Read one RTT extract into the builder."""
    t = ctx.table
    bands = rtt_bands(t.header)
    why = covers_from(bands, 65)
    if why is not None:
        ctx.issue(
            "warning",
            "this RTT layout cannot count waits over 65 weeks: nothing imported from the file",
            t.header_line,
            detail=why,
        )
        for row in ctx.data_rows():
            ctx.ignore(row, "RTT rows of a layout without bands over 65 weeks")
        return
    over = [i for i, b in enumerate(bands) if b.lower >= 65]
    dedup = Dedup()
    pending = Pending()
    # (org, month) -> commissioner -> {"total": [(line, value, notes)], "detail": [...]}
    found: dict[tuple[str, int], dict[str, dict[str, list[tuple[int, int | None, list[Note]]]]]] = {}
    for row in ctx.data_rows():
        code = t.cell(row, "provider_code")
        if skip_total_or_footnote(ctx, row, code):
            continue
        month = row_month(ctx, row, t.cell(row, "period"))
        if month is None:
            continue
        part = t.cell(row, "part").replace(" ", "").replace("_", "").casefold()
        if part != "part2":
            ctx.ignore(row, "RTT rows other than incomplete pathways (Part_2)")
            continue
        org = admit_provider(ctx, row, code)
        if org is None:
            continue
        commissioner = t.cell(row, "commissioner_code").upper()
        tf = t.cell(row, "tf").upper()
        signature = tuple(row.cells[b.pos] if b.pos < len(row.cells) else "" for b in bands)
        if not first_of_its_kind(
            ctx,
            dedup,
            pending,
            row,
            (org, month, commissioner, tf),
            signature,
            org,
            month,
            f"{org} {commissioner} {tf}",
        ):
            continue
        value, notes = _over_65(ctx, row, over, bands)
        slot = found.setdefault((org, month), {}).setdefault(commissioner, {"total": [], "detail": []})
        slot["total" if tf == TOTAL_TF else "detail"].append((row.line, value, notes))
    for (org, month), commissioners in found.items():
        rows: list[tuple[int, int | None, list[Note]]] = []
        for slot in commissioners.values():
            if not slot["total"]:
                ctx.issue(
                    "repaired",
                    "no C_999 (all treatment functions) row: treatment functions summed",
                    slot["detail"][0][0],
                    detail=org,
                )
            else:
                ctx.ignore([line for line, _, _ in slot["detail"]], DETAIL_ROWS)
            rows += slot["total"] or slot["detail"]
        for line, _, notes in rows:
            record(ctx, line, notes)
        values = [v for _, v, _ in rows if v is not None]
        if len(values) == len(rows):
            pending.add(org, month, METRIC, [line for line, _, _ in rows], value=sum(values))
        else:
            for line, v, _ in rows:
                ctx.leave_out(line, MISSING_VALUE if v is None else WITH_MISSING)
    pending.commit(ctx, {METRIC: NOTE})


def _over_65(ctx: FileContext, row: Row, over: list[int], bands: Sequence[Band]) -> tuple[int | None, list[Note]]:
    total = ctx.number(row, "total_all", report=False) if ctx.table.has("total_all") else None
    whole = int(total) if total is not None and total.denominator == 1 else None
    values, notes = band_values(row, bands, whole)
    if values is None:
        return None, notes
    return sum(values[i] for i in over), notes

"""Diagnostics waiting times and activity (DM01): the monthly provider/commissioner CSV.

One row per provider, commissioner and diagnostic test: ``Period`` (``DM01-MAY-2026``),
``Provider Parent Org Code`` (the provider's ICB), ``Provider Org Code``, ``Commissioner Org
Code``, ``Diagnostic Tests`` (15 tests and a ``TOTAL`` row), week bands ``00 < 01 Week`` ...
``12 < 13 Weeks``, ``13+ Weeks``, and ``Total WL`` (the month-end waiting list).

Metric ``diag_waiting_under_6wk``: numerator = Total WL - patients waiting 6 weeks or more
(``06 < 07 Weeks`` ... ``13+ Weeks``), denominator = Total WL, from the ``TOTAL`` test row of each
commissioner (or the sum of the tests when a commissioner has no ``TOTAL`` row), summed over the
provider's commissioners.
"""

from __future__ import annotations

from .bands import Note, band_values, covers_from, dm01_bands, record
from .builder import MISSING_VALUE, WITH_MISSING, Dedup, FileContext
from .common import Pending, first_of_its_kind, row_month, skip_total_or_footnote
from .errors import LayoutError
from .rtt import admit_provider
from .table import Column, Layout

__all__ = ["LAYOUTS", "METRIC", "read"]

METRIC = "diag_waiting_under_6wk"
TEST_ROWS = "diagnostic test rows (the commissioner's TOTAL row is used)"

LAYOUTS = (
    Layout(
        "DM01 monthly CSV (Provider/Commissioner x diagnostic test, bands '00 < 01 Week' .. '13+ Weeks', Total WL)",
        (
            Column("period", ("Period",)),
            Column("parent_code", ("Provider Parent Org Code",), required=False),
            Column("parent_name", ("Provider Parent Name",), required=False),
            Column("provider_code", ("Provider Org Code",)),
            Column("provider_name", ("Provider Org Name",), required=False),
            Column("commissioner_code", ("Commissioner Org Code",)),
            Column("test", ("Diagnostic Tests",)),
            Column("total_wl", ("Total WL",)),
            Column("b06", ("06 < 07 Weeks",)),
            Column("b13", ("13+ Weeks",)),
        ),
    ),
)


def read(ctx: FileContext) -> None:
    """Read one DM01 file into the builder."""
    t = ctx.table
    bands = dm01_bands(t.header)
    why = covers_from(bands, 6)
    if why is not None:
        raise LayoutError(
            f"the DM01 week bands cannot give waits of 6 weeks or more: {why}",
            file=t.file,
            line=t.header_line,
            column="06 < 07 Weeks",
        )
    six_plus = [i for i, b in enumerate(bands) if b.lower >= 6]
    dedup = Dedup()
    pending = Pending()
    found: dict[tuple[str, int], dict[str, dict[str, list[tuple[int, tuple[int, int] | None, list[Note]]]]]] = {}
    for row in ctx.data_rows():
        code = t.cell(row, "provider_code")
        if skip_total_or_footnote(ctx, row, code):
            continue
        month = row_month(ctx, row, t.cell(row, "period"))
        if month is None:
            continue
        org = admit_provider(ctx, row, code)
        if org is None:
            continue
        commissioner = t.cell(row, "commissioner_code").upper()
        test = " ".join(t.cell(row, "test").split()).upper()
        cells = [row.cells[b.pos] if b.pos < len(row.cells) else "" for b in bands]
        signature = (*cells, t.cell(row, "total_wl"))
        if not first_of_its_kind(
            ctx,
            dedup,
            pending,
            row,
            (org, month, commissioner, test),
            signature,
            org,
            month,
            f"{org} {commissioner} {test}",
        ):
            continue
        counts: tuple[int, int] | None = None
        notes: list[Note] = []
        waiting = ctx.whole(row, "total_wl")
        if waiting is not None:
            values, notes = band_values(row, bands, waiting)
            if values is not None:
                over = sum(values[i] for i in six_plus)
                if sum(values) != waiting or over > waiting:
                    notes.append(
                        (
                            "missing",
                            "Total WL is not the sum of the week bands",
                            "Total WL",
                            f"{waiting} vs {sum(values)}",
                        )
                    )
                else:
                    counts = (waiting - over, waiting)
        slot = found.setdefault((org, month), {}).setdefault(commissioner, {"total": [], "tests": []})
        slot["total" if test == "TOTAL" else "tests"].append((row.line, counts, notes))
    for (org, month), commissioners in found.items():
        rows: list[tuple[int, tuple[int, int] | None, list[Note]]] = []
        for slot in commissioners.values():
            if slot["total"]:
                ctx.ignore([line for line, _, _ in slot["tests"]], TEST_ROWS)
            rows += slot["total"] or slot["tests"]
        for line, _, notes in rows:
            record(ctx, line, notes)
        pairs = [c for _, c, _ in rows if c is not None]
        if len(pairs) != len(rows):
            for line, c, _ in rows:
                ctx.leave_out(line, MISSING_VALUE if c is None else WITH_MISSING)
        else:
            pending.add(
                org,
                month,
                METRIC,
                [line for line, _, _ in rows],
                numerator=sum(p[0] for p in pairs),
                denominator=sum(p[1] for p in pairs),
            )
    pending.commit(ctx)

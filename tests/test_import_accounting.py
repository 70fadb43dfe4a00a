"""Every row of NHS England's real published files accounted for, and no 0-of-0 month stored.

The files are NHS England's own (``../shared/real-nhs-data``, described in its README): they are
read in place through the ``needs_shared`` fixture, which skips a test, saying why, where the
folder is absent. Nothing from them is copied into the project.

For every file: rows read (checked against an independent count with the csv module) = used +
not needed + skipped, each total the sum of its reasons, no row without a recorded reason, no
line in two groups, and no proportion or rate with a zero denominator in the state. Then the
exact numbers measured on each file (docs/importers.md, "Every row accounted for").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import policy_engine as pe
from policy_engine.importers import ImportSummary, import_files
from policy_engine.importers.builder import NO_ACTIVITY, NOT_A_TRUST, TOTAL_ROW, UNACCOUNTED
from policy_engine.importers.cancer import MODALITY_ROWS
from policy_engine.importers.summary import DISPOSITIONS, MAX_EXAMPLES

AE_FILES = (
    "Monthly-AE-April-2025.csv",
    "Monthly-AE-May-2025.csv",
    "Monthly-AE-June-2025-1-1.csv",
    "July-2025-CSV-9jfy4.csv",
    "August-2025-CSV-g5tyh-v2.0.csv",
    "September-2025-Csv-7hjr2.csv",
)
CWT = "real-nhs-data/cwt/CWT-CRS-Oct-2023-Data-Extract-Provider.csv"
AMBSYS = "real-nhs-data/ambsys/AmbSYS-excerpt-2024-04.csv"
_SHEET_MONTHS = {"April": "2025-04", "May": "2025-05", "June": "2025-06", "July": "2025-07", "August": "2025-08"}
_SHEET_MONTHS["September"] = "2025-09"
SPREADSHEETS = tuple(f"{m}-2025-AE.csv" for m in _SHEET_MONTHS)
"""The A&E spreadsheet sheets saved as CSV have lost their Period: line: the test gives each month."""

REAL = (
    *(("ae", f"real-nhs-data/ae/{name}") for name in AE_FILES),
    ("ambulance", AMBSYS),
    ("cancer", CWT),
    # The A&E spreadsheet sheets saved as CSV (the Provider Level Data layout, with --period).
    *(("ae", f"real-nhs-data/ae-spreadsheet/{name}") for name in SPREADSHEETS),
)


@cache
def _book() -> pe.Rulebook:
    return pe.load_rulebook()


@cache
def _import(kind: str, path: Path) -> tuple[dict[str, Any], ImportSummary]:
    month = next((m for name, m in _SHEET_MONTHS.items() if path.name == f"{name}-2025-AE.csv"), None)
    return import_files(kind, [path], rulebook=_book(), period=month)


def _nonblank_rows(path: Path) -> int:
    """Non-blank CSV records in the file, header and preamble included (the csv module's count)."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    return sum(1 for record in reader if any(cell.strip() for cell in record))


@pytest.mark.parametrize(("kind", "subpath"), REAL, ids=[Path(p).name for _, p in REAL])
def test_every_row_of_a_real_file_is_accounted_for(
    needs_shared: Callable[[str], Path], kind: str, subpath: str
) -> None:
    path = needs_shared(subpath)
    state, summary = _import(kind, path)
    (stats,) = summary.files
    preamble = summary.count("skipped", "line above the header (title or preamble)")
    assert stats.rows_read == _nonblank_rows(path) - 1 - preamble
    assert stats.rows_read == stats.rows_used + stats.rows_ignored + stats.rows_skipped
    assert stats.accounted()  # and each total is the sum of its reasons
    seen: set[int] = set()
    for disposition in DISPOSITIONS:
        for reason, group in stats.groups(disposition).items():
            assert reason != UNACCOUNTED, f"{group.rows} rows with no recorded reason, e.g. lines {group.lines}"
            assert group.rows > 0 and len(group.lines) == min(group.rows, MAX_EXAMPLES)
            assert not seen & set(group.lines), f"{reason}: a line in two groups"
            seen |= set(group.lines)
    in_state = {m for org in state["organisations"] for m in org.get("metrics", {})}
    assert {m for reason in stats.used for m in reason.split(", ")} <= in_state
    for org in state["organisations"]:
        for metric, observations in org.get("metrics", {}).items():
            zero = [o["period"] for o in observations if o.get("denominator") == 0]
            assert not zero, f"{org['id']} {metric}: 0-denominator observations stored for {zero}"


# --------------------------------------------------------------------------- the numbers, file by file

# file: (read, used, not needed, skipped as not NHS trust codes, skipped as the TOTAL row)
AE_COUNTS = {
    "Monthly-AE-April-2025.csv": (199, 141, 9, 48, 1),
    "Monthly-AE-May-2025.csv": (201, 141, 9, 50, 1),
    "Monthly-AE-June-2025-1-1.csv": (202, 141, 9, 51, 1),
    "July-2025-CSV-9jfy4.csv": (202, 141, 9, 51, 1),
    "August-2025-CSV-g5tyh-v2.0.csv": (202, 141, 9, 51, 1),
    "September-2025-Csv-7hjr2.csv": (202, 141, 9, 51, 1),
}


@pytest.mark.parametrize("name", AE_FILES)
def test_real_ae_files_rows_and_months_without_activity(needs_shared: Callable[[str], Path], name: str) -> None:
    """Each month: 150 trusts, of which 9 had no attendances at all and 29 no Type 1 attendances."""
    state, summary = _import("ae", needs_shared(f"real-nhs-data/ae/{name}"))
    (stats,) = summary.files
    read, used, not_needed, not_trust, total = AE_COUNTS[name]
    assert (stats.rows_read, stats.rows_used, stats.rows_ignored) == (read, used, not_needed)
    assert {r: g.rows for r, g in stats.skipped.items()} == {NOT_A_TRUST: not_trust, TOTAL_ROW: total}
    assert {r: g.rows for r, g in stats.not_needed.items()} == {NO_ACTIVITY: 9}  # rows with nothing to observe
    assert {r: g.rows for r, g in stats.used.items()} == {"ae_4h_all": 20, "ae_4h_all, ae_4h_type1": 121}
    assert summary.no_activity == {"ae_4h_all": 9, "ae_4h_type1": 29}
    assert summary.observations == {"ae_4h_all": 141, "ae_4h_type1": 121}
    # Each month reported as without activity is absent from the state, and the other trusts have it.
    orgs = {o["id"]: o.get("metrics", {}) for o in state["organisations"]}
    assert len(orgs) == 150
    for metric, count in summary.no_activity.items():
        examples = [i.detail or "" for i in summary.find("no_activity", f"{metric}:")]
        assert len(examples) == min(count, 25)
        for example in examples:
            org, named, period = example.split()
            assert named == metric and period not in {o["period"] for o in orgs[org].get(metric, [])}
        assert sum(1 for m in orgs.values() if metric in m) == 150 - count


def test_real_cancer_extract_rows(needs_shared: Callable[[str], Path]) -> None:
    """9,912 rows read = 5,030 used + 4,843 not needed + 39 skipped (nine organisations, one issue each).

    Before, 1,376 of them were in none of the three: the 1,346 62-day treatment-modality rows of
    trusts, and the 39 rows of nine non-trust providers of which the summary counted 9 (one per
    organisation)."""
    _, summary = _import("cancer", needs_shared(CWT))
    (stats,) = summary.files
    assert (stats.rows_read, stats.rows_used, stats.rows_ignored, stats.rows_skipped) == (9912, 5030, 4843, 39)
    assert {r: g.rows for r, g in stats.used.items()} == {"cancer_fds_28day": 1926, "cancer_62day_combined": 3104}
    assert {r: g.rows for r, g in stats.not_needed.items()} == {
        "cancer standard not imported: 31-day Combined": 3497,
        MODALITY_ROWS: 1346,
    }
    assert {r: g.rows for r, g in stats.skipped.items()} == {NOT_A_TRUST: 39}
    assert summary.count("skipped", NOT_A_TRUST) == 9  # the issue is once per organisation
    assert stats.skipped[NOT_A_TRUST].lines[0] == 138  # NV1's first row
    assert summary.observations == {"cancer_fds_28day": 136, "cancer_62day_combined": 136}
    assert not summary.no_activity


def test_real_cancer_extract_has_the_total_treated_heading(needs_shared: Callable[[str], Path]) -> None:
    """docs/importers.md: the October 2023 extract already says TOTAL TREATED, in this column order."""
    header = needs_shared(CWT).read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == (
        "PERIOD,YEAR,MONTH,STANDARD,ORG CODE,STAGE/ROUTE,TREATMENT MODALITY,CANCER TYPE,"
        "TOTAL TREATED,WITHIN STANDARD,BREACHES"
    )
    doc = (Path(__file__).resolve().parents[1] / "docs" / "importers.md").read_text(encoding="utf-8")
    assert "October 2023" in doc.split("### Cancer waiting times")[1].split("The month is")[0]


def test_real_ambsys_excerpt_rows(needs_shared: Callable[[str], Path]) -> None:
    _, summary = _import("ambulance", needs_shared(AMBSYS))
    (stats,) = summary.files
    assert (stats.rows_read, stats.rows_used, stats.rows_ignored, stats.rows_skipped) == (19, 11, 0, 8)
    assert {r: g.rows for r, g in stats.skipped.items()} == {TOTAL_ROW: 8}  # England and 7 regions
    assert {r: g.rows for r, g in stats.used.items()} == {"cat2_response": 11}

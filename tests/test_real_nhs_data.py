"""The importers on real files NHS England published (``../shared/real-nhs-data``, see its README).

The files stay beside the project: every test asks ``needs_shared`` for them and is skipped, saying
why, where they are absent. Each test recomputes what it checks from the file's own published
figures with code written here (csv and fractions), never with the importers' code:

* the six monthly A&E CSVs (MSitAE, April to September 2025): each trust-month's 4-hour
  proportions from the state, rounded to one decimal as NHS England prints them, equal the
  spreadsheet's "Percentage in 4 hours or less" (all, and type 1) wherever the CSV and the
  spreadsheet give the same counts: 891 trust-months of 900 (the other 9 differ between the two
  publications), of which 837 have attendances (the other 54 have none, printed ``-`` or 0.0) and
  717 Type 1 attendances. No proportion falls exactly half-way at one decimal, so rounding half up
  and half to even agree on these files; the test rounds half up (Excel's ROUND);
* the spreadsheet's "Provider Level Data" sheets (saved as CSV) read through the spreadsheet
  layout give the same observations as the MSitAE CSV of the same month, except exactly for the
  trust-months whose counts differ;
* AmbSYS, April 2024: the Category 2 mean response time (A30 / A10) rounds to the published A31
  for all 11 ambulance trusts;
* the CWT provider extract, October 2023: the 28-day FDS and 62-day combined proportions equal
  sums over its rows, and the published workbook gives exactly the state its CSV copy gives.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from policy_engine.importers import import_files

NeedsShared = Callable[[str], Path]

MONTHS = {  # month -> (MSitAE CSV, spreadsheet sheet saved as CSV)
    "2025-04": ("Monthly-AE-April-2025.csv", "April-2025-AE.csv"),
    "2025-05": ("Monthly-AE-May-2025.csv", "May-2025-AE.csv"),
    "2025-06": ("Monthly-AE-June-2025-1-1.csv", "June-2025-AE.csv"),
    "2025-07": ("July-2025-CSV-9jfy4.csv", "July-2025-AE.csv"),
    "2025-08": ("August-2025-CSV-g5tyh-v2.0.csv", "August-2025-AE.csv"),
    "2025-09": ("September-2025-Csv-7hjr2.csv", "September-2025-AE.csv"),
}

# The spreadsheet's columns by position (its headings repeat): Code, Region, Name, attendances by
# type 1/2/3 and total, under 4 hours likewise, over 4 hours likewise, then the percentages.
_SHEET_ATT = (3, 4, 5)
_SHEET_OVER = (11, 12, 13)
_SHEET_TOTAL_ATT, _SHEET_TOTAL_OVER = 6, 14
_SHEET_PCT_ALL, _SHEET_PCT_TYPE1 = 15, 16
_MSITAE_TYPES = (
    ("Type 1", "Type 1", "Type 1"),
    ("Type 2", "Type 2", "Type 2"),
    ("Other A&E Department", "Other Department", "Other Department"),
)


def _whole(text: str) -> int:
    return int(text.replace(",", ""))


def _msitae_counts(row: dict[str, str]) -> list[tuple[int, int]]:
    """(attendances, over 4 hours) by type from an MSitAE row, booked appointments included."""
    out = []
    for main, booked, over in _MSITAE_TYPES:
        att = _whole(row[f"A&E attendances {main}"]) + _whole(row[f"A&E attendances Booked Appointments {booked}"])
        ov = _whole(row[f"Attendances over 4hrs {over}"]) + _whole(
            row[f"Attendances over 4hrs Booked Appointments {over}"]
        )
        out.append((att, ov))
    return out


def _sheet_counts(row: list[str]) -> list[tuple[int, int]]:
    return [(_whole(row[a]), _whole(row[o])) for a, o in zip(_SHEET_ATT, _SHEET_OVER, strict=True)]


def _read_msitae(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {r["Org Code"]: r for r in csv.DictReader(fh)}


def _read_sheet(path: Path) -> dict[str, list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["Code", "Region", "Name"] and rows[0][_SHEET_TOTAL_OVER] == "Total Attendances > 4 hours"
    return {r[0]: r for r in rows[1:] if r and r[0]}


def _metrics(state: dict[str, Any]) -> dict[str, Any]:
    return {o["id"]: o.get("metrics", {}) for o in state["organisations"]}


def _printed(text: str) -> Decimal | None:
    """A printed percentage: ``73.5`` (April's sheet) or ``76.00%`` (the later ones); ``-`` is none."""
    t = text.strip().removesuffix("%")
    return None if t in ("-", "") else Decimal(t)


def _one_decimal(fraction: Fraction) -> Decimal:
    """A proportion as a percentage rounded half up to one decimal, from the exact fraction."""
    percent = fraction * 100
    return (Decimal(percent.numerator) / Decimal(percent.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _exactly_half_way(fraction: Fraction) -> bool:
    tenths = fraction * 1000
    return tenths - (tenths.numerator // tenths.denominator) == Fraction(1, 2)


def test_the_six_ae_months_give_the_spreadsheets_printed_percentages(needs_shared: NeedsShared) -> None:
    root = needs_shared("real-nhs-data")
    compared: dict[str, int] = defaultdict(int)
    empty: dict[str, int] = defaultdict(int)
    agreeing = disagreeing = 0
    halves = 0
    mismatches = []
    for month, (msitae_name, sheet_name) in MONTHS.items():
        state, _ = import_files("ae", [root / "ae" / msitae_name])
        msitae = _read_msitae(root / "ae" / msitae_name)
        sheet = _read_sheet(root / "ae-spreadsheet" / sheet_name)
        for org, metrics in _metrics(state).items():
            assert org in sheet, (month, org)  # every trust of the CSV is in the spreadsheet
            counts, published = _msitae_counts(msitae[org]), sheet[org]
            totals = (sum(a for a, _ in counts), sum(o for _, o in counts))
            if counts != _sheet_counts(published) or totals != (
                _whole(published[_SHEET_TOTAL_ATT]),
                _whole(published[_SHEET_TOTAL_OVER]),
            ):
                disagreeing += 1
                continue
            agreeing += 1
            for metric, column in (("ae_4h_all", _SHEET_PCT_ALL), ("ae_4h_type1", _SHEET_PCT_TYPE1)):
                printed = _printed(published[column])
                if metric not in metrics:  # no attendances of the type: not stored; printed as "-" or 0.0
                    assert printed in (None, Decimal(0)), (month, org, metric)
                    empty[metric] += 1
                    continue
                (obs,) = metrics[metric]
                assert obs["period"] == month
                if obs["denominator"] == 0:  # never stored (decision 017), kept as a check
                    assert printed in (None, Decimal(0)), (month, org, metric)
                    empty[metric] += 1
                    continue
                proportion = Fraction(obs["numerator"], obs["denominator"])
                halves += _exactly_half_way(proportion)
                if _one_decimal(proportion) != printed:
                    mismatches.append((month, org, metric, float(proportion), published[column]))
                compared[metric] += 1
    assert mismatches == []
    assert (agreeing, disagreeing) == (891, 9)  # trust-months
    assert compared == {"ae_4h_all": 837, "ae_4h_type1": 717}
    assert empty == {"ae_4h_all": 54, "ae_4h_type1": 174}
    assert halves == 0  # so half up and half to even cannot be told apart on these files


def test_the_spreadsheet_sheets_give_the_csvs_observations(needs_shared: NeedsShared) -> None:
    root = needs_shared("real-nhs-data")
    differing_counts: set[tuple[str, str]] = set()
    differing_obs: set[tuple[str, str]] = set()
    same = 0
    for month, (msitae_name, sheet_name) in MONTHS.items():
        from_csv = _metrics(import_files("ae", [root / "ae" / msitae_name])[0])
        from_sheet = _metrics(import_files("ae", [root / "ae-spreadsheet" / sheet_name], period=month)[0])
        assert from_sheet.keys() == from_csv.keys(), month
        msitae = _read_msitae(root / "ae" / msitae_name)
        sheet = _read_sheet(root / "ae-spreadsheet" / sheet_name)
        for org in from_csv:
            if _msitae_counts(msitae[org]) != _sheet_counts(sheet[org]):
                differing_counts.add((month, org))
            if from_sheet[org] != from_csv[org]:
                differing_obs.add((month, org))
            else:
                same += 1
    assert differing_obs == differing_counts
    assert len(differing_counts) == 9 and same == 891


def test_ambsys_category_2_means_are_the_published_a31(needs_shared: NeedsShared) -> None:
    path = needs_shared("real-nhs-data/ambsys/AmbSYS-excerpt-2024-04.csv")
    state, _ = import_files("ambulance", [path])
    with path.open(encoding="utf-8-sig", newline="") as fh:
        published = {
            r["Org Code"]: r for r in csv.DictReader(fh) if len(r["Org Code"]) == 3 and r["Org Code"][0] in "RT"
        }
    assert len(published) == 11
    means = {}
    for org, metrics in _metrics(state).items():
        (obs,) = metrics["cat2_response"]
        assert obs["period"] == "2024-04"
        assert (obs["numerator"], obs["denominator"]) == (int(published[org]["A30"]), int(published[org]["A10"]))
        mean = Fraction(obs["numerator"], obs["denominator"])
        means[org] = int(Decimal(mean.numerator) / Decimal(mean.denominator) + Decimal("0.5"))  # to the second
    assert means == {org: int(row["A31"]) for org, row in published.items()}


def _cwt_sums(path: Path) -> dict[tuple[str, str], tuple[Fraction, Fraction]]:
    """(org, standard) -> (within, total), summed from the CSV's rows without double counting.

    28-day FDS rows are one per route and suspected cancer type (no subtotals), so all are summed;
    the 62-day combined standard is broken down twice, by cancer type (treatment modality ``ALL
    MODALITIES``) and by modality (cancer type ``ALL CANCERS``), so only the first is summed.
    """
    sums: dict[tuple[str, str], tuple[Fraction, Fraction]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            code, standard = r["ORG CODE"], r["STANDARD"]
            if len(code) != 3 or code[0] not in "RT":
                continue
            if standard == "28-day FDS" or (
                standard == "62-day Combined" and r["TREATMENT MODALITY"] == "ALL MODALITIES"
            ):
                within, total = sums.get((code, standard), (Fraction(0), Fraction(0)))
                sums[(code, standard)] = (within + Fraction(r["WITHIN STANDARD"]), total + Fraction(r["TOTAL TREATED"]))
    return sums


def test_the_cwt_extract_gives_the_sums_of_its_rows(needs_shared: NeedsShared) -> None:
    path = needs_shared("real-nhs-data/cwt/CWT-CRS-Oct-2023-Data-Extract-Provider.csv")
    state, _ = import_files("cancer", [path])
    sums = _cwt_sums(path)
    got = {}
    scaled = 0
    for org, metrics in _metrics(state).items():
        for metric, standard in (("cancer_fds_28day", "28-day FDS"), ("cancer_62day_combined", "62-day Combined")):
            for obs in metrics.get(metric, []):
                assert obs["period"] == "2023-10"
                within, total = sums[(org, standard)]
                # halves of a patient are kept whole by doubling both counts (said in the note)
                factor = Fraction(obs["denominator"]) / total
                assert factor in (1, 2) and Fraction(obs["numerator"]) == within * factor, (org, metric)
                scaled += factor == 2
                got[(org, standard)] = (within, total)
    assert got == sums  # every trust and standard of the file, none left out
    assert len(got) == 272 and scaled > 0


def test_the_cwt_workbook_gives_the_state_its_csv_gives(needs_shared: NeedsShared) -> None:
    pytest.importorskip("python_calamine", reason="the spreadsheets extra is not installed")
    book = needs_shared("real-nhs-data/cwt/CWT-CRS-Oct-2023-Data-Extract-Provider.xlsx")
    copy = needs_shared("real-nhs-data/cwt/CWT-CRS-Oct-2023-Data-Extract-Provider.csv")
    from_book, book_summary = import_files("cancer", [book])
    from_csv, csv_summary = import_files("cancer", [copy])

    def without_sources(state: dict[str, Any], file: Path) -> list[dict[str, Any]]:
        text = json.dumps(state["organisations"]).replace(json.dumps(str(file))[1:-1], "FILE")
        return list(json.loads(text))

    # the same organisations and figures; the provenance names each one's own file
    assert without_sources(from_book, Path(f"{book}!CWT CRS Provider Extract")) == without_sources(from_csv, copy)
    assert from_book["as_of"] == from_csv["as_of"] == "2023-11-01"
    (stats,) = book_summary.files
    assert stats.file == f"{book}!CWT CRS Provider Extract"
    assert (stats.rows_read, stats.rows_used, stats.rows_ignored) == (
        csv_summary.files[0].rows_read,
        csv_summary.files[0].rows_used,
        csv_summary.files[0].rows_ignored,
    )
    # the same rows reported at the same line numbers (sheet row numbers are the CSV's lines)
    assert [(i.kind, i.reason, i.line) for i in book_summary.issues] == [
        (i.kind, i.reason, i.line) for i in csv_summary.issues
    ]

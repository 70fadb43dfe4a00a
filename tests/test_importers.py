"""Importers: published NHS England statistics files -> a valid system state, with an honest summary.

The fixtures in tests/fixtures/importers/ are in the published layouts with made-up organisations
and values (see the README there); the expected numbers below are worked out by hand from them.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.cli import EXIT_INVALID, EXIT_OK, run
from policy_engine.importers import (
    ImportFileError,
    ImportSummary,
    LayoutError,
    ReferenceTableError,
    import_files,
    import_sources,
    read_reference,
)
from policy_engine.importers import ae as ae_importer
from policy_engine.importers.builder import (
    CONFLICTED_MONTH,
    CONFLICTING_ROWS,
    DUPLICATE_ROW,
    MISSING_VALUE,
    NO_ACTIVITY,
    NOT_IN_REFERENCE,
    OTHER_FILE_DIFFERS,
    SAME_OBSERVATION,
    UNACCOUNTED,
    WITH_MISSING,
    ZERO_DENOMINATOR,
    FileContext,
    StateBuilder,
)
from policy_engine.importers.cancer import MODALITY_ROWS
from policy_engine.importers.summary import DISPOSITIONS, FileStats
from policy_engine.importers.table import open_table, parse_number, parse_period

FIX = Path(__file__).parent / "fixtures" / "importers"
REF = FIX / "organisations-made-up.csv"
AE = FIX / "ae-msitae-2025-03-made-up.csv"
AE_2019 = FIX / "ae-msitae-2019-04-number-of-headings-made-up.csv"
AMB = FIX / "ambsys-2024-25-made-up.csv"
CWT = FIX / "cwt-crs-provider-extract-2025-03-made-up.csv"
RTT = FIX / "rtt-2024-09-full-extract-made-up.csv"
RTT_52 = FIX / "rtt-2019-04-gt52-layout-made-up.csv"
DM01 = FIX / "dm01-2025-03-made-up.csv"

AE_HEADER = (
    "Period,Org Code,Parent Org,Org name,A&E attendances Type 1,A&E attendances Type 2,"
    "A&E attendances Other A&E Department,A&E attendances Booked Appointments Type 1,"
    "A&E attendances Booked Appointments Type 2,A&E attendances Booked Appointments Other Department,"
    "Attendances over 4hrs Type 1,Attendances over 4hrs Type 2,Attendances over 4hrs Other Department,"
    "Attendances over 4hrs Booked Appointments Type 1,Attendances over 4hrs Booked Appointments Type 2,"
    "Attendances over 4hrs Booked Appointments Other Department,"
    "Patients who have waited 4-12 hs from DTA to admission,Patients who have waited 12+ hrs from DTA to admission,"
    "Emergency admissions via A&E - Type 1,Emergency admissions via A&E - Type 2,"
    "Emergency admissions via A&E - Other A&E department,Other emergency admissions"
)


@cache
def _book() -> pe.Rulebook:
    return pe.load_rulebook()


def _org(state: dict[str, Any], org_id: str) -> dict[str, Any]:
    return next(o for o in state["organisations"] if o["id"] == org_id)


def _obs(state: dict[str, Any], org_id: str, metric: str) -> dict[str, dict[str, Any]]:
    return {o["period"]: o for o in _org(state, org_id).get("metrics", {}).get(metric, [])}


def _status(state: dict[str, Any], rule: str, org: str, as_of: str) -> str:
    result = pe.evaluate(pe.state_from_dict(state, _book()), _book(), as_of=as_of, backend="native")
    (outcome,) = result.find(rule_id=rule, org_id=org)
    return outcome.status


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- A&E


def test_ae_counts_from_the_messy_fixture() -> None:
    """BOM, CRLF, thousands separators, a suppressed cell, total, footnote and duplicate rows."""
    state, summary = import_files("ae", [AE], reference=REF, rulebook=_book())
    # Booked appointments are included: RZZ 9,000 + 200 booked Type 1 + 2,800 other = 12,000.
    assert _obs(state, "RZZ", "ae_4h_all")["2025-03"] == {"period": "2025-03", "numerator": 9300, "denominator": 12000}
    assert _obs(state, "RZZ", "ae_4h_type1")["2025-03"]["numerator"] == 6650  # 9,200 - (2,500 + 50)
    assert _obs(state, "RZZ", "ae_4h_type1")["2025-03"]["denominator"] == 9200
    # The duplicated RZY row is counted once, not twice.
    assert _obs(state, "RZY", "ae_4h_all")["2025-03"] == {"period": "2025-03", "numerator": 3900, "denominator": 5000}
    # RZX's Type 2 attendances are suppressed ("*"): all-types is missing, Type 1 is still known.
    assert "ae_4h_all" not in _org(state, "RZX")["metrics"]
    assert _obs(state, "RZX", "ae_4h_type1")["2025-03"]["numerator"] == 2400
    ids = [o["id"] for o in state["organisations"]]
    assert ids == ["QZZ", "RZX", "RZY", "RZZ"]  # the walk-in centre is not in the reference table
    assert _org(state, "RZZ")["parent"] == "QZZ" and _org(state, "QZZ")["type"] == "icb"
    assert state["as_of"] == "2025-04-01"
    pe.state_from_dict(state, _book())

    assert (summary.rows_read, summary.rows_used, summary.rows_ignored, summary.rows_skipped) == (7, 3, 0, 4)
    assert summary.files[0].encoding == "utf-8 with BOM"
    assert "August 2020 onwards" in summary.files[0].layout
    assert summary.count("skipped", "total row (England, region or TOTAL)") == 1
    assert summary.count("skipped", "footnote or note row (no organisation code)") == 1
    assert summary.count("skipped", "organisation not in the reference table") == 1
    assert summary.count("duplicate") == 1
    assert summary.count("missing", "suppressed or not-available marker") == 1
    assert summary.count("repaired", "thousands separators removed") == 3
    (suppressed,) = summary.find("missing")
    assert (suppressed.line, suppressed.column, suppressed.detail) == (6, "A&E attendances Type 2", "'*'")
    text = summary.to_text()
    assert "ae-msitae-2025-03-made-up.csv:5" in text and "Duplicates" in text


def test_end_to_end_ae_import_then_evaluate() -> None:
    """Import A&E + reference, evaluate: uec.ae-4h-78 is what the counts imply."""
    state, _ = import_files("ae", [AE], reference=REF)
    as_of = "2025-04-20"
    assert _status(state, "uec.ae-4h-78", "RZZ", as_of) == "not_met"  # 9,300 / 12,000 = 77.5%
    assert _status(state, "uec.ae-4h-78-missed", "RZZ", as_of) == "breached"
    assert _status(state, "uec.ae-4h-78", "RZY", as_of) == "met"  # 3,900 / 5,000 = 78.0%, "no less than 78%"
    assert _status(state, "uec.ae-4h-78", "RZX", as_of) == "unknown"  # a suppressed cell is missing data
    assert _status(state, "uec.type1-ae-over-80", "RZX", as_of) == "not_eligible"  # exactly 80% is not over 80%


def test_ae_2019_number_of_layout_is_detected() -> None:
    state, summary = import_files("auto", [AE_2019])
    assert summary.files[0].kind == "ae" and "2019-20" in summary.files[0].layout
    assert _obs(state, "RZZ", "ae_4h_all")["2019-04"] == {"period": "2019-04", "numerator": 9260, "denominator": 10500}
    assert _obs(state, "RZZ", "ae_4h_type1")["2019-04"]["numerator"] == 7300
    # no reference, but the Type 1 attendances show an acute trust: the type is confirmed by them
    rzz = _org(state, "RZZ")
    assert rzz["type"] == "acute_trust" and "confirmed" not in rzz["provenance"]["type"]
    assert "Type 1" in rzz["provenance"]["type"]["basis"]
    assert summary.count("warning") == 1  # only: no services declared


def test_ae_april_to_july_2020_layout(tmp_path: Path) -> None:
    header = ",".join(h for h in AE_HEADER.split(",") if "Booked" not in h)
    row = "MSitAE-MAY-2020,RZZ,NHS ENGLAND MIDLANDS,EXAMPLE,100,0,50,10,0,5,1,0,2,0,0,0"
    state, summary = import_files("ae", [_write(tmp_path, "may.csv", f"{header}\n{row}\n")])
    assert "April to July 2020" in summary.files[0].layout
    assert _obs(state, "RZZ", "ae_4h_all")["2020-05"] == {"period": "2020-05", "numerator": 135, "denominator": 150}


def test_ae_half_booked_layout_is_refused(tmp_path: Path) -> None:
    header = AE_HEADER.replace(",Attendances over 4hrs Booked Appointments Type 1", "")
    with pytest.raises(LayoutError) as info:
        import_files("ae", [_write(tmp_path, "odd.csv", header + "\n")])
    err = info.value
    assert err.line == 1 and err.column == "attendances over 4hrs booked appointments type 1"
    assert "odd.csv, line 1" in str(err)


def test_ae_over_more_than_attendances_is_missing(tmp_path: Path) -> None:
    row = "MSitAE-MARCH-2025,RZZ,R,X,100,0,0,0,0,0,120,0,0,0,0,0,0,0,0,0,0,0"
    state, summary = import_files("ae", [_write(tmp_path, "bad.csv", f"{AE_HEADER}\n{row}\n")])
    assert "metrics" not in _org(state, "RZZ")
    assert summary.count("missing", "more attendances over 4 hours than attendances") == 1  # Type 1, hence all types


def test_header_below_a_title_is_found(tmp_path: Path) -> None:
    text = "A&E Attendances and Emergency Admissions (made up)\n\n" + AE_HEADER + "\n"
    text += "MSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0\n"
    state, summary = import_files("ae", [_write(tmp_path, "titled.csv", text)])
    assert _obs(state, "RZZ", "ae_4h_type1")["2025-03"]["numerator"] == 9
    assert summary.count("skipped", "line above the header (title or preamble)") == 1


def test_wrong_file_for_the_kind_names_file_line_and_column() -> None:
    with pytest.raises(LayoutError) as info:
        import_files("ae", [RTT])
    err = info.value
    assert err.file.endswith("rtt-2024-09-full-extract-made-up.csv") and err.line == 1
    assert err.column is not None and "a&e attendances type 1" in err.column
    assert "missing column(s)" in str(err) and isinstance(err, pe.PolicyError)


# --------------------------------------------------------------------------- ambulance


def test_ambulance_cat2() -> None:
    state, summary = import_files("aqi", [AMB])
    rzw = _obs(state, "RZW", "cat2_response")
    assert len(rzw) == 12 and rzw["2024-04"] == {"period": "2024-04", "numerator": 17500000, "denominator": 10000}
    assert rzw["2025-03"]["numerator"] == 19000000
    rzv = _obs(state, "RZV", "cat2_response")
    assert "2024-10" not in rzv and len(rzv) == 11  # A30 is "." that month
    assert _org(state, "RZW")["type"] == "ambulance_trust"
    assert summary.count("skipped", "total row (England, region or TOTAL)") == 24  # Eng and Y60 rows
    assert summary.count("duplicate") == 1
    assert summary.ignored["AmbSYS months before August 2017 (A-codes had other meanings)"] == 1
    as_of = "2025-05-01"
    assert _status(state, "uec.cat2-mean-30min", "RZW", as_of) == "met"  # mean 1,762.5 s <= 1,800 s
    assert _status(state, "uec.cat2-mean-30min", "RZV", as_of) == "unknown"


def test_ambulance_a30_checked_against_a31(tmp_path: Path) -> None:
    text = "Year,Month,Region,Org Code,Org Name,A10,A30,A31\n2024,4,Midlands,RZW,X,100,50,1800\n"
    state, summary = import_files("ambulance", [_write(tmp_path, "hours.csv", text)])
    assert "metrics" not in _org(state, "RZW")
    (issue,) = summary.find("missing")
    assert "A31" in issue.reason and issue.line == 2


# --------------------------------------------------------------------------- cancer


def test_cancer_standards_without_double_counting() -> None:
    state, summary = import_files("cwt", [CWT], reference=REF)
    assert _obs(state, "RZZ", "cancer_fds_28day")["2025-03"] == {
        "period": "2025-03",
        "numerator": 475,
        "denominator": 600,
    }
    # 62-day: cancer-type rows (ALL MODALITIES) 46.5/60.5 + screening 9/10 = 55.5/70.5, doubled to stay whole.
    rzz62 = _obs(state, "RZZ", "cancer_62day_combined")["2025-03"]
    assert (rzz62["numerator"], rzz62["denominator"]) == (111, 141)
    assert "counts x2" in rzz62["note"]
    assert _obs(state, "RZY", "cancer_62day_combined")["2025-03"] == {
        "period": "2025-03",
        "numerator": 13,
        "denominator": 20,
    }
    assert "cancer_fds_28day" not in _org(state, "RZY")["metrics"]  # WITHIN STANDARD suppressed
    assert summary.ignored["cancer standard not imported: 31-day Combined"] == 1
    assert summary.count("duplicate") == 1
    as_of = "2025-04-20"
    assert _status(state, "canc.fds-77-mar-2025", "RZZ", as_of) == "met"  # 79.2%
    assert _status(state, "canc.62day-70-mar-2025", "RZZ", as_of) == "met"  # 78.7%
    assert _status(state, "canc.62day-70-mar-2025", "RZY", as_of) == "not_met"  # 65%
    assert _status(state, "canc.fds-77-mar-2025", "RZY", as_of) == "unknown"


def test_cancer_year_and_month_columns(tmp_path: Path) -> None:
    text = (
        "ORG CODE,MONTH,YEAR,CANCER TYPE,STAGE/ROUTE,TREATMENT MODALITY,STANDARD,"
        "TOTAL TREATED,WITHIN STANDARD,BREACHES\n"
        "RZZ,JAN,2024/25,Suspected lung cancer,URGENT SUSPECTED CANCER,,28-day FDS,10,8,2\n"
        "RZZ,APR,2024/25,Suspected lung cancer,URGENT SUSPECTED CANCER,,28-day FDS,20,15,5\n"
    )
    state, _ = import_files("cancer", [_write(tmp_path, "cwt.csv", text)])
    assert set(_obs(state, "RZZ", "cancer_fds_28day")) == {"2025-01", "2024-04"}


def test_cancer_needs_a_period(tmp_path: Path) -> None:
    text = "STANDARD,ORG CODE,TOTAL,WITHIN STANDARD\n28-day FDS,RZZ,10,8\n"
    with pytest.raises(LayoutError, match="PERIOD"):
        import_files("cancer", [_write(tmp_path, "cwt.csv", text)])


# --------------------------------------------------------------------------- RTT and DM01


def test_rtt_over_65_weeks() -> None:
    state, summary = import_files("rtt", [RTT])
    rzz = _obs(state, "RZZ", METRIC_RTT)["2024-09"]
    assert rzz["value"] == 4  # 2 + 1 (QZZ) + 1 (13T); the C_100 row and Parts 1A/2A are not added
    assert "chose to wait" in rzz["note"]
    assert _obs(state, "RZY", METRIC_RTT)["2024-09"]["value"] == 0
    assert METRIC_RTT not in _org(state, "RZX").get("metrics", {})  # a suppressed band
    assert _org(state, "RZZ")["parent"] == "QZZ"
    qzz = _org(state, "QZZ")
    assert {k: qzz[k] for k in ("id", "type", "name")} == {
        "id": "QZZ",
        "type": "icb",
        "name": "NHS EXAMPLE INTEGRATED CARE BOARD (MADE UP)",
    }
    assert qzz["provenance"]["type"]["basis"] == "the parent ICB of RZX"  # the first child, by code
    assert summary.ignored["RTT rows other than incomplete pathways (Part_2)"] == 2
    assert summary.count("duplicate") == 1
    assert (
        summary.count("repaired", "blank week bands read as 0 (the row's total equals the sum of its other bands)") == 2
    )
    as_of = "2024-10-15"
    # RTT does not show what a provider is: without a reference the types are assumed, so unknown
    assert _status(state, "elec.rtt-65wk-sep-2024", "RZZ", as_of) == "unknown"
    state, _ = import_files("rtt", [RTT], reference=REF)
    assert _status(state, "elec.rtt-65wk-sep-2024", "RZZ", as_of) == "not_met"
    assert _status(state, "elec.rtt-65wk-sep-2024", "RZY", as_of) == "met"
    assert _status(state, "elec.rtt-65wk-sep-2024", "RZX", as_of) == "unknown"


METRIC_RTT = "elec_rtt_over_65wk_excl_exempt"


def test_rtt_layout_without_65_week_bands_imports_nothing() -> None:
    state, summary = import_files("rtt", [RTT_52])
    assert state["organisations"] == []
    (warning,) = summary.find("warning")
    assert "cannot count waits over 65 weeks" in warning.reason and "Gt 52 Weeks" in (warning.detail or "")


def test_dm01_under_six_weeks() -> None:
    unsure, _ = import_files("dm01", [DM01])  # no reference: DM01 does not show what a provider is
    assert _org(unsure, "RZZ")["provenance"]["type"]["confirmed"] is False
    assert _status(unsure, "diag.dm01-95-6wk", "RZZ", "2025-04-20") == "unknown"
    state, summary = import_files("dm01", [DM01], reference=REF)
    # QZZ: the TOTAL row (not MRI + CT again); 13T has no TOTAL row, so its one test is used.
    assert _obs(state, "RZZ", "diag_waiting_under_6wk")["2025-03"] == {
        "period": "2025-03",
        "numerator": 695,
        "denominator": 735,
    }
    assert _obs(state, "RZY", "diag_waiting_under_6wk")["2025-03"]["denominator"] == 1000  # "1,000"
    assert summary.count("skipped", "footnote or note row (no organisation code)") == 1
    as_of = "2025-04-20"
    assert _status(state, "diag.dm01-95-6wk", "RZZ", as_of) == "not_met"  # 94.6%
    assert _status(state, "diag.dm01-95-6wk", "RZY", as_of) == "met"  # 96%


# --------------------------------------------------------------------------- merging and organisations


def test_several_sources_merge_into_one_organisation() -> None:
    state, summary = import_sources([("ae", AE), ("rtt", RTT), ("dm01", DM01), ("cancer", CWT)], REF)
    rzz = _org(state, "RZZ")
    assert set(rzz["metrics"]) == {
        "ae_4h_all",
        "ae_4h_type1",
        METRIC_RTT,
        "diag_waiting_under_6wk",
        "cancer_fds_28day",
        "cancer_62day_combined",
    }
    assert rzz["name"] == "Example Hospitals NHS Trust (made up)"  # the reference table's name wins
    assert state["as_of"] == "2025-04-01" and len(summary.files) == 4
    pe.state_from_dict(state, _book())


def test_the_same_file_twice_is_counted_once() -> None:
    state, summary = import_files("ae", [AE, AE], reference=REF)
    assert _obs(state, "RZZ", "ae_4h_all")["2025-03"]["denominator"] == 12000
    assert summary.count("duplicate", "the same observation in two files (kept once)") == 5


def test_files_that_disagree_leave_the_month_out(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0\n")
    b = _write(tmp_path, "b.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0\n")
    state, summary = import_files("ae", [a, b])
    assert "metrics" not in _org(state, "RZZ")
    assert summary.count("conflict") == 2


def test_conflicting_rows_in_one_file(tmp_path: Path) -> None:
    rows = [
        "MSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0",
        "MSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,3,0,0,0,0,0,0,0,0,0,0,0",
    ]
    state, summary = import_files("ae", [_write(tmp_path, "c.csv", "\n".join([AE_HEADER, *rows]) + "\n")])
    assert "metrics" not in _org(state, "RZZ")
    (issue,) = summary.find("conflict")
    assert issue.line == 3 and "first at line 2" in (issue.detail or "")


def test_without_reference_only_trust_codes_are_imported() -> None:
    state, summary = import_files("ae", [AE])
    assert [o["id"] for o in state["organisations"]] == ["RZX", "RZY", "RZZ"]
    assert all(o["type"] == "acute_trust" and "services" not in o for o in state["organisations"])
    assert summary.find("skipped", "not an NHS trust code")[0].detail == "Y09999"
    assert summary.find("warning", "no services declared")


def test_infer_services_from_attendances() -> None:
    state, summary = import_files("ae", [AE], infer_services=True)
    assert _org(state, "RZZ")["services"] == ["type1_ae", "type3_ae"]  # no Type 2 attendances
    assert _org(state, "RZY")["services"] == ["type1_ae", "type3_ae"]
    assert summary.find("warning", "inferred from attendances")
    assert _status(state, "uec.ae-4h-78", "RZZ", "2025-04-20") == "not_met"


def test_reference_table_problems_are_all_listed(tmp_path: Path) -> None:
    ref = _write(
        tmp_path,
        "orgs.csv",
        "ods_code,name,type,icb\nRZZ,A,acute trust,QZZ\nR Z,B,acute_trust,\nRZY,C,hospital,\nRZZ,D,acute_trust,QZZ\n",
    )
    with pytest.raises(ReferenceTableError) as info:
        read_reference(ref)
    assert [(d.code, d.line) for d in info.value.details] == [("import.reference", n) for n in (3, 4, 5)]
    assert info.value.details[0].path == f"{ref}:3"
    assert "type must be one of" in info.value.details[1].message
    assert "listed again with different details" in info.value.details[2].message
    good = read_reference(REF)
    assert good.orgs["RZX"].services == ("type1_ae", "type2_ae")
    typo = _write(tmp_path, "typo.csv", "ods_code,type,services\nRZZ,acute_trust,type1_AE\n")
    with pytest.raises(ReferenceTableError) as info:
        import_files("ae", [AE], reference=typo)
    assert info.value.details[0].path.endswith("typo.csv:2") and info.value.details[0].value == "type1_AE"


def test_as_of_option(tmp_path: Path) -> None:
    state, summary = import_files("ae", [AE], reference=REF, as_of="2025-05-15")
    assert state["as_of"] == "2025-05-15" and summary.as_of == "2025-05-15"
    with pytest.raises(pe.StateError) as info:
        import_files("ae", [AE], as_of="15/05/2025")
    [detail] = info.value.details
    assert str(detail) == "as_of: expected a date as YYYY-MM-DD, e.g. 2025-03-31 (got '15/05/2025')"  # once


def test_reference_table_errors_name_the_line_a_row_starts_on(tmp_path: Path) -> None:
    # Lines are the file's own, from 1 at the header: a quoted line break and a blank line count.
    text = 'ods_code,name,type,icb\nRZZ,"A trust\n(two lines)",acute_trust,\n\nRZY,C,hospital,\n'
    with pytest.raises(ReferenceTableError) as info:
        read_reference(_write(tmp_path, "orgs.csv", text))
    [detail] = info.value.details
    assert detail.path.endswith("orgs.csv:5") and "type must be one of" in detail.message


# --------------------------------------------------------------------------- every row accounted for


def _data_lines(path: Path) -> list[int]:
    """The line each non-blank row after the header starts on, read with the csv module (the
    fixtures have their header on their first non-blank row)."""
    reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
    lines: list[int] = []
    start, header_seen = 1, False
    for record in reader:
        if any(cell.strip() for cell in record):
            if header_seen:
                lines.append(start)
            header_seen = True
        start = reader.line_num + 1
    return lines


def _rows_by_disposition(stats: FileStats) -> dict[int, tuple[str, str]]:
    """line -> (disposition, reason), from the groups' lines (complete when a group is small)."""
    out: dict[int, tuple[str, str]] = {}
    for disposition in DISPOSITIONS:
        for reason, group in stats.groups(disposition).items():
            assert group.rows == len(group.lines), f"{reason}: more rows than example lines"
            for line in group.lines:
                assert line not in out, f"line {line} is both {out[line]} and {(disposition, reason)}"
                out[line] = (disposition, reason)
    return out


@pytest.mark.parametrize("with_reference", [False, True])
@pytest.mark.parametrize("fixture", sorted(p.name for p in FIX.glob("*.csv") if p != REF))
def test_every_row_of_every_fixture_is_accounted_for(fixture: str, with_reference: bool) -> None:
    """read = used + not needed + skipped; each data row in exactly one group, for a recorded reason."""
    path = FIX / fixture
    _, summary = import_files("auto", [path], reference=REF if with_reference else None, rulebook=_book())
    (stats,) = summary.files
    assert stats.accounted()
    assert stats.rows_read == stats.rows_used + stats.rows_ignored + stats.rows_skipped
    rows = _rows_by_disposition(stats)
    assert sorted(rows) == _data_lines(path)  # every row, each once
    assert UNACCOUNTED not in {reason for _, reason in rows.values()}
    doc = summary.to_dict()
    assert doc["rows_read"] == doc["rows_used"] + doc["rows_ignored"] + doc["rows_skipped"] == stats.rows_read
    assert sum(g["rows"] for g in doc["files"][0]["skipped"].values()) == stats.rows_skipped


def test_row_reasons_of_the_cancer_fixture() -> None:
    _, summary = import_files("cwt", [CWT], reference=REF, rulebook=_book())
    rows = _rows_by_disposition(summary.files[0])
    assert {line for line, (_, reason) in rows.items() if reason == MODALITY_ROWS} == {11, 12, 13, 16}
    assert rows[7] == ("not needed", "cancer standard not imported: 31-day Combined")
    assert rows[6] == ("skipped", DUPLICATE_ROW)
    assert rows[14] == ("skipped", MISSING_VALUE)  # WITHIN STANDARD suppressed
    assert rows[17] == ("skipped", "footnote or note row (no organisation code)")
    assert {line for line, (d, _) in rows.items() if d == "used"} == {2, 3, 4, 5, 8, 9, 10, 15}
    text = summary.to_text()
    assert "16 read: 8 used, 5 not needed, 3 skipped" in text
    assert f"    not needed: {MODALITY_ROWS}: 4 (lines 11, 12, 13 and 1 more)" in text
    assert "Import: 1 file(s), 16 rows read, 8 used, 5 not needed, 3 skipped." in text


def test_an_organisation_is_one_issue_but_all_its_rows() -> None:
    """RZV is not in the reference table: one issue, twelve skipped rows."""
    _, summary = import_files("aqi", [AMB], reference=REF, rulebook=_book())
    assert summary.count("skipped", NOT_IN_REFERENCE) == 1
    assert summary.files[0].skipped[NOT_IN_REFERENCE].rows == 12
    assert summary.skipped[NOT_IN_REFERENCE] == 12 and summary.rows_skipped == 37
    assert "Import: 1 file(s), 50 rows read, 12 used, 1 not needed, 37 skipped." in summary.to_text()


def test_a_row_summed_with_a_missing_value_is_skipped_with_it(tmp_path: Path) -> None:
    text = (
        "PERIOD,STANDARD,ORG CODE,STAGE/ROUTE,CANCER TYPE,TOTAL,WITHIN STANDARD\n"
        "2025-03-01,28-day FDS,RZZ,URGENT SUSPECTED CANCER,Suspected lung cancer,10,8\n"
        "2025-03-01,28-day FDS,RZZ,URGENT SUSPECTED CANCER,Suspected skin cancer,20,*\n"
    )
    state, summary = import_files("cancer", [_write(tmp_path, "cwt.csv", text)])
    assert "metrics" not in _org(state, "RZZ")
    assert _rows_by_disposition(summary.files[0]) == {2: ("skipped", WITH_MISSING), 3: ("skipped", MISSING_VALUE)}


def test_conflicting_rows_are_both_skipped(tmp_path: Path) -> None:
    rows = [
        "MSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0",
        "MSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,3,0,0,0,0,0,0,0,0,0,0,0",
    ]
    _, summary = import_files("ae", [_write(tmp_path, "c.csv", "\n".join([AE_HEADER, *rows]) + "\n")])
    assert _rows_by_disposition(summary.files[0]) == {
        2: ("skipped", CONFLICTING_ROWS),
        3: ("skipped", CONFLICTING_ROWS),
    }


def test_the_other_rows_of_a_month_in_conflict_are_skipped(tmp_path: Path) -> None:
    text = (
        "PERIOD,STANDARD,ORG CODE,STAGE/ROUTE,CANCER TYPE,TOTAL,WITHIN STANDARD\n"
        "2025-03-01,28-day FDS,RZZ,URGENT SUSPECTED CANCER,Suspected lung cancer,10,8\n"
        "2025-03-01,28-day FDS,RZZ,URGENT SUSPECTED CANCER,Suspected skin cancer,20,15\n"
        "2025-03-01,28-day FDS,RZZ,URGENT SUSPECTED CANCER,Suspected lung cancer,10,9\n"
    )
    state, summary = import_files("cancer", [_write(tmp_path, "cwt.csv", text)])
    assert "metrics" not in _org(state, "RZZ")
    assert _rows_by_disposition(summary.files[0]) == {
        2: ("skipped", CONFLICTING_ROWS),
        3: ("skipped", CONFLICTED_MONTH),
        4: ("skipped", CONFLICTING_ROWS),
    }


def test_a_count_too_large_for_the_state_takes_back_its_rows(tmp_path: Path) -> None:
    """The halves double the counts when the state is built, past the state's limit of 10^12."""
    text = (
        "PERIOD,STANDARD,ORG CODE,STAGE/ROUTE,TREATMENT MODALITY,CANCER TYPE,TOTAL,WITHIN STANDARD\n"
        "2025-03-01,62-day Combined,RZZ,Urgent Suspected Cancer,ALL MODALITIES,Lung,999999999999.5,1\n"
    )
    state, summary = import_files("cancer", [_write(tmp_path, "cwt.csv", text)])
    assert "metrics" not in _org(state, "RZZ")
    (stats,) = summary.files
    assert _rows_by_disposition(stats) == {2: ("skipped", "a count above 1000000000000 (the state's limit): left out")}
    assert stats.accounted() and summary.rows_used == 0


def test_a_file_that_conflicts_takes_back_the_rows_of_the_first(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0\n")
    b = _write(tmp_path, "b.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0\n")
    _, summary = import_files("ae", [a, b])
    first, second = summary.files
    assert (first.rows_used, first.rows_skipped) == (0, 1)  # the first file's row was used until b.csv came
    assert _rows_by_disposition(first) == {2: ("skipped", OTHER_FILE_DIFFERS)}
    assert _rows_by_disposition(second) == {2: ("skipped", OTHER_FILE_DIFFERS)}
    assert first.accounted() and second.accounted()


def test_the_same_file_twice_uses_the_rows_of_the_first() -> None:
    _, summary = import_files("ae", [AE, AE], reference=REF)
    first, second = summary.files
    assert (first.rows_used, second.rows_used) == (3, 0)
    assert second.skipped[SAME_OBSERVATION].lines == [3, 4, 6]


def test_a_row_no_importer_step_accounts_for_is_reported_as_a_bug(tmp_path: Path) -> None:
    """The check the accounting tests rely on can fail: a row read and then forgotten."""
    path = _write(tmp_path, "ae.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0\n")
    summary = ImportSummary()
    ctx = FileContext(open_table(path, "A&E", ae_importer.LAYOUTS), "ae", summary, StateBuilder(None, summary))
    for _ in ctx.data_rows():
        pass
    ctx.finish()
    assert ctx.stats.skipped[UNACCOUNTED].lines == [2] and ctx.stats.accounted()


# --------------------------------------------------------------------------- zero activity


def test_a_month_with_no_activity_is_not_stored(tmp_path: Path) -> None:
    """0 of 0 is not an observation: reported by metric, the row not needed, the rule unknown for want of data."""
    rows = [
        "MSitAE-MARCH-2025,RZZ,R,X," + ",".join(["0"] * 18),  # no attendances at all
        "MSitAE-MARCH-2025,RZY,R,X,0,0,100,0,0,0,0,0,10,0,0,0,0,0,0,0,0,0",  # no Type 1 department
    ]
    state, summary = import_files("ae", [_write(tmp_path, "z.csv", "\n".join([AE_HEADER, *rows]) + "\n")])
    assert "metrics" not in _org(state, "RZZ")
    assert _org(state, "RZY")["metrics"] == {"ae_4h_all": [{"period": "2025-03", "numerator": 90, "denominator": 100}]}
    assert summary.no_activity == {"ae_4h_all": 1, "ae_4h_type1": 2}
    assert summary.observations == {"ae_4h_all": 1}
    assert [i.detail for i in summary.find("no_activity", "ae_4h_type1")] == [
        "RZZ ae_4h_type1 2025-03",
        "RZY ae_4h_type1 2025-03",
    ]
    assert _rows_by_disposition(summary.files[0]) == {2: ("not needed", NO_ACTIVITY), 3: ("used", "ae_4h_all")}
    text = summary.to_text()
    assert "No activity (0 of 0" in text and "z.csv:3 RZY ae_4h_type1 2025-03" in text
    assert summary.to_dict()["no_activity"] == {"ae_4h_all": 1, "ae_4h_type1": 2}
    assert _org(state, "RZY")["provenance"]["type"]["confirmed"] is False  # no Type 1 attendances to show it
    for org in state["organisations"]:
        org["services"] = ["type1_ae", "type3_ae"]
        org["provenance"]["type"] = {"source": "this test", "basis": "made-up acute trusts"}
    result = pe.evaluate(pe.state_from_dict(state, _book()), _book(), as_of="2025-04-20", backend="native")
    assert result.outcome("uec.ae-4h-78", "RZZ").status == "unknown"
    assert "no data for 2025-03" in pe.explain(result, "uec.ae-4h-78", "RZZ")
    assert result.outcome("uec.ae-4h-78", "RZY").status == "met"  # 90%


def test_an_ambulance_month_with_no_incidents_is_no_activity(tmp_path: Path) -> None:
    text = "Year,Month,Region,Org Code,Org Name,A10,A30,A31\n2024,4,Midlands,RZW,X,0,0,0\n"
    state, summary = import_files("ambulance", [_write(tmp_path, "amb.csv", text)])
    assert "metrics" not in _org(state, "RZW") and summary.no_activity == {"cat2_response": 1}


def test_a_numerator_over_a_zero_denominator_is_missing(tmp_path: Path) -> None:
    """No importer gives one today (each checks its own columns first); the builder's rule is the backstop."""
    path = _write(tmp_path, "ae.csv", f"{AE_HEADER}\nMSitAE-MARCH-2025,RZZ,R,X,10,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0\n")
    summary = ImportSummary()
    builder = StateBuilder(None, summary)
    ctx = FileContext(open_table(path, "A&E", ae_importer.LAYOUTS), "ae", summary, builder)
    for row in ctx.data_rows():
        ctx.observe("RZZ", "ae_4h_all", 2025 * 12 + 2, (row.line,), numerator=3, denominator=0)
    ctx.finish()
    assert not builder.entries and not summary.no_activity
    (issue,) = summary.find("missing")
    assert issue.reason == ZERO_DENOMINATOR and issue.detail == "RZZ ae_4h_all 2025-03: 3 of 0"
    assert ctx.stats.skipped[ZERO_DENOMINATOR].lines == [2]


# --------------------------------------------------------------------------- the CSV layer


@pytest.mark.parametrize(
    ("text", "status", "value"),
    [
        ("1,234", "ok", 1234),
        (" 12 ", "ok", 12),
        ("83.5", "ok", 83.5),
        ("1.5E+03", "ok", 1500),
        ("", "blank", None),
        ("*", "suppressed", None),
        ("-", "suppressed", None),
        ("..", "suppressed", None),
        ("N/A", "suppressed", None),
        ("-5", "invalid", None),
        ("12a", "invalid", None),
        ("1,23", "invalid", None),
    ],
)
def test_parse_number(text: str, status: str, value: float | None) -> None:
    n = parse_number(text)
    assert n.status == status
    assert (None if n.value is None else float(n.value)) == value


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("MSitAE-MARCH-2025", "2025-03"),
        ("RTT-June-2026", "2026-06"),
        ("DM01-MAY-2026", "2026-05"),
        ("March 2025", "2025-03"),
        ("2025-03-01", "2025-03"),
        ("2025-03-01 00:00:00", "2025-03"),
        ("01/03/2025", "2025-03"),
        ("TOTAL", None),
        ("MSitAE-SMARCH-2025", None),
        ("2025-13", None),
    ],
)
def test_parse_period(text: str, month: str | None) -> None:
    got = parse_period(text)
    assert (None if got is None else f"{got // 12:04d}-{got % 12 + 1:02d}") == month


def test_zip_with_one_csv_is_read(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("DM01-MARCH-2025.csv", DM01.read_bytes())
    z = tmp_path / "dm01.zip"
    z.write_bytes(buf.getvalue())
    state, summary = import_files("dm01", [z])
    assert _obs(state, "RZZ", "diag_waiting_under_6wk")["2025-03"]["denominator"] == 735
    assert summary.files[0].file.endswith("dm01.zip!DM01-MARCH-2025.csv")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "cannot read the file"),
        ("book.xlsx", "xlsx", "Excel workbook"),
        ("old.xls", b"\xd0\xcf\x11\xe0rest", "Excel 97-2003"),
        ("nul.csv", b"Period,Org Code\x00\n", "NUL"),
        ("bytes.csv", b"\x81\x8d\x8f\x90", "not UTF-8"),
        ("huge-field.csv", b'"' + b"x" * 200_000 + b'"\n', "not valid CSV"),
        ("empty.csv", b"\r\n\r\n", "empty"),
    ],
)
def test_unreadable_files_raise_policy_errors(
    tmp_path: Path, name: str, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / name
    if content == "xlsx":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
        path.write_bytes(buf.getvalue())
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message) as info:
        import_files("ae", [path])
    assert isinstance(info.value, pe.PolicyError)


_CELL = st.text(st.sampled_from('ab,"\r\n 1'), max_size=8)


@settings(deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=4), min_size=1, max_size=6), tail=_CELL)
def test_an_unclosed_quote_is_refused_with_its_file_and_line(rows: list[list[str]], tail: str) -> None:
    """Regression (issue 20): the csv module ends a quoted field that is never closed at the end of
    the file silently (the rest of the file becomes one cell); docs/importers.md says such a file
    is refused. Any table the csv module writes reads back as written; the same with a field that
    opens a quote and never closes it is refused, naming the line the quote opens on."""
    from policy_engine.importers.table import _csv_rows

    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    good = buf.getvalue()
    assert [r.cells for r in _csv_rows("t.csv", good)] == [tuple(r) for r in rows]
    opening = len(io.StringIO(good, newline="").readlines()) + 1  # lines as the csv module counts them
    bad = good + 'x,"' + tail.replace('"', "")
    with pytest.raises(ImportFileError, match=rf"^t\.csv, line {opening}: not valid CSV: an unbalanced quote"):
        list(_csv_rows("t.csv", bad))


def test_an_unclosed_quote_in_a_statistics_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ae.csv"
    lines = AE.read_text(encoding="utf-8-sig").splitlines()
    lines[-1] += ',"a note that is never closed'
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    where = rf"ae\.csv, line {len(lines)}: not valid CSV: an unbalanced quote"
    with pytest.raises(ImportFileError, match=where):
        import_files("ae", [path], reference=REF)
    code, _, err = _run("import", "ae", str(path), "--reference", str(REF))
    assert code == EXIT_INVALID and f"ae.csv, line {len(lines)}" in err and "unbalanced quote" in err


def test_unknown_kind() -> None:
    with pytest.raises(ImportFileError, match="unknown kind"):
        import_files("maternity", [AE])


def test_summary_to_dict_is_json() -> None:
    _, summary = import_files("ae", [AE], reference=REF)
    doc = json.loads(json.dumps(summary.to_dict()))
    assert doc["rows_read"] == 7 and doc["observations"] == {"ae_4h_all": 2, "ae_4h_type1": 3}
    assert isinstance(summary, ImportSummary)


_TOKENS = ["", "*", "-", "..", ".", "0", "7", "1,234", "83.5", "-3", "abc", "TOTAL", "Eng", "Y60", "RZZ", "QZZ", "RZY",
           "MSitAE-MARCH-2025", "2025-03-01", "Part_2", "C_999", "28-day FDS", "62-day Combined", "ALL CANCERS", '"',
           "a,b", "99999999999999999999", "1e400", "NaN", "r z", "\u00a0"]  # fmt: skip


@given(
    source=st.sampled_from(sorted(FIX.glob("*.csv"))),
    edits=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 130), st.sampled_from(_TOKENS)), max_size=25),
    kind=st.sampled_from(["ae", "ambulance", "cancer", "rtt", "diagnostics", "auto"]),
    with_reference=st.booleans(),
)
def test_messy_files_give_a_valid_state_or_a_policy_error(
    tmp_path_factory: pytest.TempPathFactory,
    source: Path,
    edits: list[tuple[int, int, str]],
    kind: str,
    with_reference: bool,
) -> None:
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    for line, cell, token in edits:
        cells = lines[line % len(lines)].split(",")
        cells[cell % len(cells)] = token
        lines[line % len(lines)] = ",".join(cells)
    path = tmp_path_factory.mktemp("fuzz") / "file.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    try:
        state, summary = import_files(kind, [path], reference=REF if with_reference else None, rulebook=_book())
    except pe.PolicyError as exc:
        assert "the state is invalid" not in str(exc)  # the importers never write an invalid state
        return
    pe.state_from_dict(state, _book())
    assert summary.to_text()
    for stats in summary.files:  # every row accounted for, each for a recorded reason
        assert stats.accounted() and UNACCOUNTED not in stats.skipped


# --------------------------------------------------------------------------- CLI


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_import_writes_the_state_and_prints_the_summary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    code, out, err = _run("import", "ae", str(AE), "--reference", str(REF), "-o", str(target))
    assert code == EXIT_OK, err
    assert out == ""
    state = json.loads(target.read_text(encoding="utf-8"))
    pe.state_from_dict(state, _book())
    assert "Import: 1 file(s), 7 rows read, 3 used" in err  # on the caller's stderr stream
    code, out, err = _run("evaluate", str(target), "--format", "json", "--backend", "native", "--as-of", "2025-04-20")
    assert code == EXIT_OK, err
    statuses = {(o["rule"], o["organisation"]): o["status"] for o in json.loads(out)["outcomes"]}
    assert statuses[("uec.ae-4h-78", "RZZ")] == "not_met" and statuses[("uec.ae-4h-78", "RZY")] == "met"


def test_cli_import_to_stdout_with_options(tmp_path: Path) -> None:
    code, out, err = _run("import", "auto", str(AE), str(RTT), "--as-of", "2025-05-01", "--infer-services")
    assert code == EXIT_OK, err
    state = json.loads(out)
    assert state["as_of"] == "2025-05-01" and _org(state, "RZZ")["services"] == ["type1_ae", "type3_ae"]


def test_cli_import_bad_input_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    code, out, err = _run("import", "ae", str(RTT), "-o", str(target))
    assert code == EXIT_INVALID and out == ""
    assert not target.exists()
    assert "rtt-2024-09-full-extract-made-up.csv, line 1" in err and "missing column(s)" in err
    assert "Traceback" not in err
    code, _, err = _run("import", "ae", str(AE), "--reference", str(tmp_path / "nope.csv"), "-o", str(target))
    assert code == EXIT_INVALID and "cannot read" in err and not target.exists()

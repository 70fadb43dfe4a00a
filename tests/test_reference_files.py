"""Organisation reference files (ODS etr/eccg, ICB lists, trust-type lists), type evidence from the
statistics, order independence, and outcomes on types that are not confirmed.

The tests on the real files read them from ``../shared`` in place (``shared_path`` skips with the
reason where it is absent); the made-up tests write their own small files in the published layouts.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.cli import run
from policy_engine.importers import ReferenceTableError, import_sources, read_reference
from policy_engine.importers.errors import LayoutError
from policy_engine.importers.regions import find_region

Shared = Callable[[str], Path]

FIX = Path(__file__).parent / "fixtures" / "importers"
AE = FIX / "ae-msitae-2025-03-made-up.csv"
AMB = FIX / "ambsys-2024-25-made-up.csv"
CWT = FIX / "cwt-crs-provider-extract-2025-03-made-up.csv"
RTT = FIX / "rtt-2024-09-full-extract-made-up.csv"
DM01 = FIX / "dm01-2025-03-made-up.csv"
REF = FIX / "organisations-made-up.csv"


def _org(state: dict[str, Any], code: str) -> dict[str, Any]:
    return next(o for o in state["organisations"] if o["id"] == code)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ods_row(code: str, name: str, region: str, icb: str, close: str = "") -> str:
    """A row of ODS's headerless 27-column layout (made-up values)."""
    cells = [code, name, region, icb, "1 MADE UP ROAD", "", "", "NOWHERE", "", "ZZ1 1ZZ", "20200401", close]
    cells += [""] * (27 - len(cells))
    return ",".join(f'"{c}"' for c in cells) + "\n"


# --------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("text", "code", "name"),
    [
        ("Y59", "Y59", "South East"),
        ("NHS ENGLAND SOUTH EAST", "Y59", "South East"),
        ("NHS England East Of England ", "Y61", "East of England"),
        ("North East & Yorkshire", "Y63", "North East and Yorkshire"),
        ("London Commissioning Region", "Y56", "London"),
        ("W00", "W00", None),
    ],
)
def test_one_region_vocabulary(text: str, code: str, name: str | None) -> None:
    region = find_region(text)
    assert region is not None and (region.code, region.name) == (code, name)


@pytest.mark.parametrize("text", ["", "Eng", "England", "TOTAL", "Narnia"])
def test_not_a_region(text: str) -> None:
    assert find_region(text) is None


# --------------------------------------------------------------------------- made-up files in the published layouts


def test_headerless_etr_and_eccg_layouts(tmp_path: Path) -> None:
    etr = _write(
        tmp_path,
        "etr.csv",
        _ods_row("RZZ", "EXAMPLE HOSPITALS NHS TRUST", "Y60", "QZZ")
        + _ods_row("RZW", "EXAMPLE AMBULANCE SERVICE NHS TRUST", "Y60", "QZZ")
        + _ods_row("RZV", "A CLOSED TRUST", "Y60", "Q99", close="20230331"),
    )
    eccg = _write(
        tmp_path,
        "eccg.csv",
        _ods_row("Z1A", "NHS EXAMPLE ICB - Z1A", "Y60", "QZZ")
        + _ods_row("Z9Z", "NHS OLD CCG", "Y60", "Q98", "20200331"),
    )
    ref = read_reference([etr, eccg])
    rzz, qzz = ref.orgs["RZZ"], ref.orgs["QZZ"]
    assert (rzz.type, rzz.icb, rzz.region, rzz.region_code) == (None, "QZZ", "Midlands", "Y60")
    assert rzz.sources["parent"].where() == f"{etr}:1"
    assert ref.orgs["RZV"].icb is None  # a closed trust's last ICB is not used
    assert (qzz.type, qzz.name, qzz.region_code) == ("icb", "NHS EXAMPLE ICB", "Y60")
    assert "Z9Z" not in ref.orgs and "Q98" not in ref.orgs  # closed locations are not used
    assert any("closed" in n.reason for n in ref.notes)


def test_trust_type_lists_map_to_the_package_types(tmp_path: Path) -> None:
    nhse = _write(
        tmp_path,
        "types.csv",
        "Organisation Code,Organisation,Trust Type (Primary),Supplier (Primary EPR)\n"
        "RZZ,EXAMPLE,Acute,X\nRZW,EXAMPLE AMB,Ambulance,X\nRZU,EXAMPLE MH,Mental Health ,X\n"
        "RZT,EXAMPLE MHC,Mental Health and Community (Combined),X\n",
    )
    eric = _write(
        tmp_path,
        "eric.csv",
        "trust_code,trust_name,provider_type_source\nRZT,EXAMPLE MHC,COMMUNITY\nRZS,EXAMPLE CARE,CARE TRUST\n",
    )
    ref = read_reference([nhse, eric])
    types = {code: org.type for code, org in ref.orgs.items()}
    assert types == {
        "RZZ": "acute_trust",
        "RZW": "ambulance_trust",
        "RZU": "mental_health_trust",
        "RZT": "community_provider",  # ERIC separates what NHS England's list combines
        "RZS": None,  # a care trust: not one of the package's types, not guessed
    }
    [conflict] = ref.conflicts
    assert (conflict.code, conflict.kept, conflict.other) == ("RZT", "community_provider", "mental_health_trust")
    assert "trusted over" in conflict.rule
    assert any("CARE TRUST" in n.reason for n in ref.notes)


def test_reference_order_does_not_matter(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", "Organisation Code,Organisation,Trust Type (Primary)\nRZZ,X,Acute\n")
    b = _write(tmp_path, "b.csv", "trust_code,trust_name,provider_type_source\nRZZ,X,COMMUNITY\n")
    assert read_reference([a, b]) == read_reference([b, a])
    assert read_reference([a, b]).orgs["RZZ"].type == "acute_trust"  # NHS England's list over ERIC


def test_a_trust_in_two_regions_is_an_error_naming_both_files(tmp_path: Path) -> None:
    one = _write(tmp_path, "one.csv", "ods_code,type,region\nRZZ,acute_trust,London\n")
    two = _write(tmp_path, "two.csv", "ods_code,type,region\nRZZ,acute_trust,Midlands\n")
    with pytest.raises(ReferenceTableError) as info:
        read_reference([one, two])
    [detail] = info.value.details
    assert "RZZ is listed in two regions" in detail.message
    assert str(one) in detail.message + detail.path and str(two) in detail.message + detail.path


def test_two_icbs_in_equally_trusted_files_is_an_error(tmp_path: Path) -> None:
    old = _write(tmp_path, "etr-2025.csv", _ods_row("RZZ", "EXAMPLE", "Y60", "QZZ"))
    new = _write(tmp_path, "etr-2026.csv", _ods_row("RZZ", "EXAMPLE", "Y60", "Z9Z9Z"))  # a 2026-style code
    assert read_reference(new).orgs["RZZ"].icb == "Z9Z9Z"
    with pytest.raises(ReferenceTableError) as info:
        read_reference([old, new])
    assert "RZZ is listed in two ICBs" in info.value.details[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("code,colour\nRZZ,blue\n", "A reference file is one of"),
        ("Organisation Code,Organisation,Trust Type (Primary)\nRZZ,X,Hospital\n", "type not recognised"),
        ("ods_code,type,region\nRZZ,acute_trust,Narnia\n", "region not recognised"),
    ],
)
def test_reference_files_in_the_wrong_layout(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises((LayoutError, ReferenceTableError)) as info:
        read_reference(path)
    assert expected in str(info.value) + " ".join(str(d) for d in getattr(info.value, "details", ()))
    assert str(path) in str(info.value) + " ".join(str(d) for d in getattr(info.value, "details", ()))


def test_the_cli_takes_several_reference_files(tmp_path: Path) -> None:
    etr = _write(tmp_path, "etr.csv", _ods_row("RZZ", "EXAMPLE HOSPITALS NHS TRUST", "Y60", "QZZ"))
    types = _write(tmp_path, "types.csv", "Organisation Code,Organisation,Trust Type (Primary)\nRZZ,X,Acute\n")
    out = tmp_path / "state.json"
    err = io.StringIO()
    code = run(["import", "ae", str(AE), "--reference", str(etr), str(types), "-o", str(out)], stderr=err)
    assert code == 0, err.getvalue()
    rzz = _org(json.loads(out.read_text()), "RZZ")
    assert (
        rzz["parent"] == "QZZ"
        and rzz["region_code"] == "Y60"
        and rzz["provenance"]["type"]["source"].endswith("types.csv:2")
    )


# --------------------------------------------------------------------------- types from the statistics


def test_types_come_from_the_statistics_or_are_marked_unconfirmed() -> None:
    with_ae, _ = import_sources([("ae", AE), ("rtt", RTT)])
    rzz = _org(with_ae, "RZZ")
    assert rzz["type"] == "acute_trust" and "Type 1" in rzz["provenance"]["type"]["basis"]
    state, summary = import_sources([("ambulance", AMB), ("rtt", RTT)])
    rzw = _org(state, "RZW")
    assert rzw["type"] == "ambulance_trust" and "AmbSYS" in rzw["provenance"]["type"]["basis"]
    assumed = [
        o["id"] for o in state["organisations"] if o.get("provenance", {}).get("type", {}).get("confirmed") is False
    ]
    assert assumed and summary.count("warning", next(i.reason for i in summary.find("warning", "type not confirmed")))
    book = pe.load_rulebook()
    frozen = pe.state_from_dict(state, book)
    result = pe.evaluate(frozen, book, as_of="2025-04-20")
    for org in assumed:
        outcomes = [o for o in result.outcomes if o.org_id == org]
        assert outcomes and {o.status for o in outcomes} == {"unknown"}
        assert all("type is not confirmed" in o.explanation for o in outcomes)


def _states_equal_in_any_order(sources: list[tuple[str, Path]], reference: Sequence[Path] = ()) -> None:
    first, _ = import_sources(list(sources), list(reference))
    for order in (list(reversed(sources)), sources[1:] + sources[:1]):
        again, _ = import_sources(order, list(reversed(reference)))
        assert again == first


def test_fixture_files_give_one_state_in_any_order() -> None:
    _states_equal_in_any_order([("ae", AE), ("ambulance", AMB), ("cancer", CWT), ("rtt", RTT), ("dm01", DM01)])
    _states_equal_in_any_order([("ae", AE), ("rtt", RTT), ("dm01", DM01)], [REF])


_FIXTURES = [("ae", AE), ("ambulance", AMB), ("cancer", CWT), ("rtt", RTT), ("dm01", DM01)]
_BASELINE: dict[bool, dict[str, Any]] = {}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(range(len(_FIXTURES))), with_reference=st.booleans())
def test_any_permutation_of_the_fixture_files_gives_the_same_state(order: list[int], with_reference: bool) -> None:
    reference = [REF] if with_reference else []
    if with_reference not in _BASELINE:
        _BASELINE[with_reference] = import_sources(_FIXTURES, reference)[0]
    state, _ = import_sources([_FIXTURES[i] for i in order], reference)
    assert state == _BASELINE[with_reference]


# --------------------------------------------------------------------------- the real files (../shared)

_TYPES_EXPECTED = {
    "RYF": "ambulance_trust",
    "RRU": "ambulance_trust",
    "RY8": "community_provider",
    "RV9": "mental_health_trust",
    "RF4": "acute_trust",
    "RJ1": "acute_trust",
}


def _reference_files(needs_shared: Shared) -> dict[str, Path]:
    root = needs_shared("reference-data")
    return {
        "etr": root / "ods/2025-late-jhau/etr.csv",
        "eccg": root / "ods/2025-late-jhau/eccg.csv",
        "icbs": root / "ods/2025-late-jhau/icb_names_codes_dec_2024.csv",
        "nhse": root / "trust-types/nhse-foi-epr-2024-10/EPR-Suppliers-01.10.24.sheet.csv",
        "eric": root / "trust-types/eric-2024-25-arqanmohannad/eric_clean.csv",
        "nss_csv": root / "trust-types/nss-benchmark-groups-davewest84/trust_urls.csv",
        "nss_json": root / "trust-types/nss-benchmark-groups-davewest84/trust_urls.json",
    }


def test_real_reference_files_each_read(needs_shared: Shared) -> None:
    files = _reference_files(needs_shared)
    counts = {name: read_reference(path) for name, path in files.items()}
    assert len(counts["etr"].orgs) == 273 and all(o.type is None for o in counts["etr"].orgs.values())
    assert {o.type for o in counts["eccg"].orgs.values()} == {"icb"} and len(counts["eccg"].orgs) == 42
    assert all(o.region_code for o in counts["eccg"].orgs.values())  # every ICB's region
    assert len(counts["icbs"].orgs) == 42
    assert counts["icbs"].orgs["QHM"].name == "NHS North East and North Cumbria Integrated Care Board"
    assert len(counts["nhse"].orgs) == 209 and len(counts["eric"].orgs) == 207
    assert sum(1 for o in counts["eric"].orgs.values() if o.type is None) == 2  # the care trusts, not guessed
    assert "R1F1" in counts["nss_json"].orgs  # the list's own typo is kept as written, not guessed to R1F
    for name in ("nhse", "eric", "nss_csv", "nss_json"):
        ref = counts[name]
        for code, expected in _TYPES_EXPECTED.items():
            if code in ref.orgs:
                assert ref.orgs[code].type == expected, (name, code)


@pytest.mark.parametrize("types", ["nhse", "eric", "nss_csv", "nss_json"])
def test_real_types_with_the_reference_files(types: str, needs_shared: Shared) -> None:
    files = _reference_files(needs_shared)
    ae = needs_shared("real-nhs-data/ae") / "Monthly-AE-April-2025.csv"
    amb = needs_shared("real-nhs-data/ambsys") / "AmbSYS-excerpt-2024-04.csv"
    state, _ = import_sources([("ae", ae), ("ambulance", amb)], [files["etr"], files["eccg"], files[types]])
    for code, expected in _TYPES_EXPECTED.items():
        org = _org(state, code)
        assert org["type"] == expected, code
        assert "confirmed" not in org["provenance"]["type"] and org["provenance"]["parent"]["source"].startswith(
            str(files["etr"])
        )
    assert _org(state, "RYF")["parent"] == "QJK" and _org(state, "RYF")["region_code"] == "Y58"
    assert _org(state, "QJK")["type"] == "icb" and _org(state, "QJK")["region"] == "South West"  # from eccg


def test_real_types_without_a_reference_are_never_wrongly_acute(needs_shared: Shared) -> None:
    ae = needs_shared("real-nhs-data/ae") / "Monthly-AE-April-2025.csv"
    amb = needs_shared("real-nhs-data/ambsys") / "AmbSYS-excerpt-2024-04.csv"
    state, _ = import_sources([("ae", ae)])
    book = pe.load_rulebook()
    for code in ("RYF", "RRU", "RY8", "RV9"):
        org = next((o for o in state["organisations"] if o["id"] == code), None)
        assert org is None or org["provenance"]["type"]["confirmed"] is False, code  # assumed, and says so
    for code in ("RF4", "RJ1"):
        assert "confirmed" not in _org(state, code)["provenance"]["type"]  # Type 1 attendances show it
    # With services inferred from the attendances, RYF (an ambulance service) is still not judged.
    inferred, _ = import_sources([("ae", ae)], infer_services=True)
    result = pe.evaluate(pe.state_from_dict(inferred, book), book, as_of="2025-05-01")
    ryf = {o.rule_id: o.status for o in result.outcomes if o.org_id == "RYF"}
    assert ryf and set(ryf.values()) == {"unknown"}
    # AmbSYS shows what an ambulance service is, in either order.
    both, _ = import_sources([("ae", ae), ("ambulance", amb)])
    assert both == import_sources([("ambulance", amb), ("ae", ae)])[0]
    assert _org(both, "RYF")["type"] == "ambulance_trust" and "confirmed" not in _org(both, "RYF")["provenance"]["type"]
    r1f = _org(both, "R1F")  # Isle of Wight: both an acute trust and an ambulance service
    assert r1f["provenance"]["type"]["confirmed"] is False and "two types" in r1f["provenance"]["type"]["basis"]


def test_real_region_spellings_become_one(needs_shared: Shared) -> None:
    ae = needs_shared("real-nhs-data/ae") / "Monthly-AE-April-2025.csv"
    amb = needs_shared("real-nhs-data/ambsys") / "AmbSYS-excerpt-2024-04.csv"
    state, _ = import_sources([("ae", ae), ("ambulance", amb)])
    regions = {(o.get("region_code"), o.get("region")) for o in state["organisations"]}
    assert regions <= {(None, None), *((c, n) for c, n in pe.importers.regions.REGIONS.items())}
    assert _org(state, "RYF")["region_code"] == "Y58"  # AmbSYS gives Y58, the A&E file "NHS ENGLAND SOUTH WEST"


def test_real_reference_conflicts_are_reported_with_the_rule(needs_shared: Shared) -> None:
    files = _reference_files(needs_shared)
    ref = read_reference(list(files.values()))
    found = {(c.code, c.detail) for c in ref.conflicts}
    assert {("R1A", "type"), ("RYX", "type"), ("RPG", "region")} <= found
    rpg = next(c for c in ref.conflicts if c.code == "RPG")
    assert rpg.kept == "South East (Y59)" and rpg.other == "London (Y56)" and "trusted over" in rpg.rule
    shuffled = list(files.values())
    for order in itertools.islice(itertools.permutations(shuffled), 0, 5000, 997):
        assert read_reference(list(order)) == ref


def test_the_2026_icb_codes_need_no_change(needs_shared: Shared) -> None:
    etr = needs_shared("reference-data") / "ods/2026-07-riyaburman/etr.csv"
    ref = read_reference(etr)
    codes = {o.icb for o in ref.orgs.values() if o.icb}
    assert any(len(c) == 5 for c in codes) and "Z9B2Z" in codes
    old = _reference_files(needs_shared)["etr"]
    with pytest.raises(ReferenceTableError) as info:  # two snapshots: trusts in two ICBs, each named
        read_reference([old, etr])
    assert all("listed in two ICBs" in d.message for d in info.value.details)


def test_real_files_give_one_state_in_any_order(needs_shared: Shared) -> None:
    ae_dir = needs_shared("real-nhs-data/ae")
    sources = [
        ("ae", ae_dir / "Monthly-AE-April-2025.csv"),
        ("ae", ae_dir / "Monthly-AE-May-2025.csv"),
        ("ambulance", needs_shared("real-nhs-data/ambsys") / "AmbSYS-excerpt-2024-04.csv"),
        ("cancer", needs_shared("real-nhs-data/cwt") / "CWT-CRS-Oct-2023-Data-Extract-Provider.csv"),
        ("ae", AE),
    ]
    files = _reference_files(needs_shared)
    _states_equal_in_any_order(sources)
    _states_equal_in_any_order(sources[:3], [files["etr"], files["nhse"], files["eccg"]])


def test_the_trust_list_workbook_reads_as_its_sheet_saved_as_csv(needs_shared: Shared) -> None:
    pytest.importorskip("python_calamine", reason="the spreadsheets extra is not installed")
    folder = needs_shared("reference-data/trust-types/nhse-foi-epr-2024-10")
    book = read_reference(folder / "secondary_trusts_primary_epr_suppliers_20240101.xlsx")
    sheet = read_reference(folder / "EPR-Suppliers-01.10.24.sheet.csv")
    assert {c: o.type for c, o in book.orgs.items()} == {c: o.type for c, o in sheet.orgs.items()}
    assert book.orgs["RYF"].sources["type"].file.endswith("!EPR Suppliers 01.10.24")  # the sheet, by its name


def test_the_readme_real_files_example_runs(
    needs_shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = needs_shared("real-nhs-data").parent
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Real NHS England files", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = block.replace("\\\n", " ").splitlines()
    assert commands[0] == "S=../shared"
    monkeypatch.chdir(tmp_path)
    outputs: list[str] = []
    for command in commands[1:]:
        argv = command.replace("$S", str(shared)).split()[1:]  # drop ".venv/bin/policy-engine"
        out, err = io.StringIO(), io.StringIO()
        assert run(argv, stdout=out, stderr=err) == 0, err.getvalue()
        outputs.append(err.getvalue() + out.getvalue())
    assert "199 rows read, 141 used, 9 not needed, 49 skipped" in outputs[0]
    state = json.loads((tmp_path / "april.json").read_text(encoding="utf-8"))
    types = {o["id"]: o["type"] for o in state["organisations"]}
    assert (types["RYF"], types["RY8"], types["RJ1"]) == ("ambulance_trust", "community_provider", "acute_trust")
    rj1 = _org(state, "RJ1")
    assert (rj1["region"], rj1["parent"]) == ("London", "QKK")
    assert "uec.ae-4h-78" not in {line.split()[1] for line in outputs[1].splitlines()[1:] if line.startswith("RYF")}
    assert (tmp_path / "april.html").stat().st_size > 0
    unreferenced, _ = import_sources([("ae", shared / "real-nhs-data/ae/Monthly-AE-April-2025.csv")])
    assumed = [o for o in unreferenced["organisations"] if o["provenance"]["type"].get("confirmed") is False]
    assert len(assumed) == 29

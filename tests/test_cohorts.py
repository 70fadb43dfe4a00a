"""Rules that rank organisations against each other are judged only against a cohort the state
declares complete, on every evaluation path (the Type 1 A&E "greatest improvement" criterion)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import policy_engine as pe
from policy_engine.testing.backends import STATUS_PATHS, statuses_by_path

BOOK = pe.load_rulebook()
RULE = "uec.type1-ae-greatest-improvement"
EXAMPLE = json.loads((Path(__file__).parents[1] / "examples" / "state.json").read_text(encoding="utf-8"))
NATIONAL = {
    "scope": "national",
    "types": ["acute_trust"],
    "source": "test: every Type 1 provider",
    "date": "2025-05-08",
}
PATHS = [p for p in STATUS_PATHS if "durable" in pe.available_backends() or "durable" not in p]


def trust(org_id: str, mar_2024: tuple[int, int] | None, mar_2025: tuple[int, int] | None, **extra: Any) -> dict:
    series = [
        {"period": period, "numerator": n, "denominator": d}
        for period, nd in (("2024-03", mar_2024), ("2025-03", mar_2025))
        if nd is not None
        for n, d in [nd]
    ]
    org: dict[str, Any] = {"id": org_id, "type": "acute_trust", "services": ["type1_ae"], "metrics": {}}
    if series:
        org["metrics"]["ae_4h_type1"] = series
    org.update(extra)
    return org


def state(*orgs: dict, cohorts: list[dict] | None = None) -> dict:
    doc: dict[str, Any] = {"as_of": "2025-05-15", "organisations": list(orgs)}
    if cohorts is not None:
        doc["cohorts"] = cohorts
    return doc


def rule_statuses(doc: dict) -> dict[str, dict[str, str]]:
    """path -> org -> status of the rank rule, checked equal on every path."""
    by_path = statuses_by_path(doc, BOOK, PATHS)
    out = {p: {org: s for (org, rid), s in got.items() if rid == RULE} for p, got in by_path.items()}
    first = out[PATHS[0]]
    for p, got in out.items():
        assert got == first, f"{p} differs from {PATHS[0]}: {got} != {first}"
    return first


def outcome(doc: dict, org: str, rule: str = RULE) -> pe.Outcome:
    (found,) = pe.evaluate(doc, BOOK).find(rule_id=rule, org_id=org)
    return found


def test_the_rule_declares_the_cohort_it_ranks_within() -> None:
    assert BOOK.rule(RULE).cohort == "national"


def test_exb_alone_is_unknown_not_eligible_or_eligible() -> None:
    full = copy.deepcopy(EXAMPLE)
    assert outcome(full, "EXB").status == "not_eligible"  # rank 2 of the example's declared cohort
    alone = {
        "as_of": EXAMPLE["as_of"],
        "organisations": [o for o in EXAMPLE["organisations"] if o["id"] in ("EXB", "QEX")],
    }
    assert rule_statuses(alone) == {"EXB": "unknown"}
    got = outcome(alone, "EXB")
    assert "ranked among 1 organisation of type acute_trust in this state" in got.explanation
    assert "national cohort" in got.explanation
    (cohort,) = [e for e in got.evidence if e.kind == "cohort"]
    assert cohort.cohort is not None
    assert cohort.cohort.complete is False and cohort.cohort.candidates == 1 and cohort.cohort.rank is None
    # the incentive itself still follows from the other criterion (EXB is over 80%)
    assert outcome(alone, "EXB", "uec.type1-ae-incentive").status == "eligible"


def test_a_complete_cohort_ranks_and_shows_its_figures() -> None:
    doc = state(
        trust("R1", (700, 1000), (760, 1000)),  # +6.0 points
        trust("R2", (700, 1000), (740, 1000)),  # +4.0
        trust("R3", (800, 1000), (810, 1000)),  # +1.0
        cohorts=[NATIONAL],
    )
    assert rule_statuses(doc) == {"R1": "eligible", "R2": "not_eligible", "R3": "not_eligible"}
    (cohort,) = [e for e in outcome(doc, "R2").evidence if e.kind == "cohort"]
    figures = cohort.cohort
    assert figures is not None
    assert (figures.complete, figures.size, figures.ranked, figures.rank) == (True, 3, 3, 2)
    assert figures.value == pytest.approx(4.0) and figures.value_exact == "4/1"
    assert (figures.cutoff_rank, figures.cutoff_value, figures.cutoff_exact) == (1, pytest.approx(6.0), "6/1")
    assert figures.source == "test: every Type 1 provider" and figures.date == "2025-05-08"
    as_json = outcome(doc, "R2").to_dict()["evidence"]
    cohort_json = next(e for e in as_json if e["kind"] == "cohort")
    assert cohort_json["cohort"]["rank"] == 2 and cohort_json["cohort"]["cutoff_exact"] == "6/1"


def test_a_cohort_of_other_types_or_another_scope_is_not_enough() -> None:
    orgs = (trust("R1", (700, 1000), (760, 1000)), trust("R2", (700, 1000), (740, 1000)))
    other = {"scope": "national", "types": ["icb"], "source": "ICBs only"}
    assert rule_statuses(state(*orgs, cohorts=[other])) == {"R1": "unknown", "R2": "unknown"}
    assert rule_statuses(state(*orgs)) == {"R1": "unknown", "R2": "unknown"}


def test_ties_at_the_cut_off_share_the_rank() -> None:
    doc = state(
        trust("R1", (700, 1000), (760, 1000)),  # +6
        trust("R2", (600, 1000), (660, 1000)),  # +6: tied for the greatest
        trust("R3", (700, 1000), (740, 1000)),  # +4: rank 3 (competition ranking)
        cohorts=[NATIONAL],
    )
    assert rule_statuses(doc) == {"R1": "eligible", "R2": "eligible", "R3": "not_eligible"}
    (cohort,) = [e for e in outcome(doc, "R3").evidence if e.kind == "cohort"]
    assert cohort.cohort is not None and cohort.cohort.rank == 3


def test_a_cohort_with_missing_values_decides_only_what_every_value_would() -> None:
    doc = state(
        trust("R1", (700, 1000), (760, 1000)),  # +6: greatest known, but R4 might beat it
        trust("R2", (700, 1000), (740, 1000)),  # +4: rank 2 or 3, not the greatest whatever R4 is
        trust("R3", (700, 1000), (710, 1000)),  # +1
        trust("R4", None, (900, 1000)),  # March 2024 missing: improvement unknown
        cohorts=[NATIONAL],
    )
    assert rule_statuses(doc) == {"R1": "unknown", "R2": "not_eligible", "R3": "not_eligible", "R4": "unknown"}
    r1 = outcome(doc, "R1")
    assert "the rank is between 1 and 2" in r1.explanation and "R4" in r1.explanation
    (cohort,) = [e for e in r1.evidence if e.kind == "cohort"]
    assert cohort.cohort is not None
    assert (cohort.cohort.rank, cohort.cohort.rank_low, cohort.cohort.rank_high) == (None, 1, 2)
    assert "every rank from 2 to 3" in outcome(doc, "R2").explanation


def test_a_member_with_undeclared_services_is_an_uncertain_member() -> None:
    undeclared = trust("R9", (100, 1000), (990, 1000))
    del undeclared["services"]  # whether it has a Type 1 department is unknown
    doc = state(
        trust("R1", (700, 1000), (760, 1000)), trust("R2", (700, 1000), (740, 1000)), undeclared, cohorts=[NATIONAL]
    )
    assert rule_statuses(doc) == {"R1": "unknown", "R2": "not_eligible", "R9": "unknown"}


def test_a_rank_rule_without_a_cohort_does_not_load(tmp_path: Path) -> None:
    import shutil

    src = Path(__file__).parents[1] / "policies" / "nhs-2024-25"
    root = tmp_path / "book"
    shutil.copytree(src, root)
    uec = root / "urgent-emergency-care.yaml"
    uec.write_text(uec.read_text(encoding="utf-8").replace("    cohort: national\n", ""), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as exc:
        pe.load_rulebook(root)
    assert any("must say which cohort it ranks within" in d.message for d in exc.value.details)


def test_the_cohorts_column_round_trips_through_tables() -> None:
    from policy_engine import tabular

    doc = state(trust("R1", (700, 1000), (760, 1000)), trust("R2", (700, 1000), (740, 1000)), cohorts=[NATIONAL])
    frozen = pe.state_from_dict(doc, BOOK)
    frame = tabular.states_to_frame({"s": frozen}, BOOK)
    assert frame.get_column("cohorts").to_list() == [["national:acute_trust"]] * 2
    ((_, back),) = tabular.frame_to_states(frame, BOOK)
    assert [(c.scope, c.types) for c in back.cohorts] == [("national", ("acute_trust",))]
    bad = frame.with_columns(cohorts=frame.get_column("cohorts").map_elements(lambda _: ["england:acute"]))
    with pytest.raises(pe.StateError):
        tabular.evaluate_frame(bad, BOOK)


FIXTURE = Path(__file__).parent / "fixtures" / "importers" / "ae-msitae-2025-03-made-up.csv"


def _import_ae(path: Path) -> dict:
    from policy_engine.importers import import_files

    doc, _summary = import_files("ae", [path])
    return doc


def test_an_ae_file_whose_providers_do_not_add_up_to_england_declares_no_cohort() -> None:
    assert "cohorts" not in _import_ae(FIXTURE)  # its TOTAL row is 17,000 Type 1; the providers 16,000


def test_an_ae_file_whose_providers_add_up_to_its_england_row_declares_the_national_cohort(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8-sig")
    complete = tmp_path / "ae-complete.csv"
    complete.write_text(text.replace('TOTAL,TOTAL,TOTAL,TOTAL,"17,000"', 'TOTAL,TOTAL,TOTAL,TOTAL,"16,000"'), "utf-8")
    doc = _import_ae(complete)
    (cohort,) = doc["cohorts"]
    assert (cohort["scope"], cohort["types"]) == ("national", ["acute_trust"])
    assert "ae-complete.csv" in cohort["source"] and "England TOTAL row" in cohort["source"]
    assert pe.state_from_dict(doc, BOOK).cohorts[0].types == ("acute_trust",)


def test_the_real_april_2025_ae_file_declares_the_national_cohort(needs_shared: Callable[[str], Path]) -> None:
    real = needs_shared("real-nhs-data/ae/Monthly-AE-April-2025.csv")
    from policy_engine.importers import import_files

    unreferenced, summary = import_files("ae", [real])
    assert "cohorts" not in unreferenced  # 29 providers' types are assumed: one of them may not belong
    assert summary.find("warning", "national cohort of acute_trust is not declared complete")
    ods = needs_shared("reference-data/ods/2025-late-jhau/etr.csv")
    types = needs_shared("reference-data/trust-types/nhse-foi-epr-2024-10/EPR-Suppliers-01.10.24.sheet.csv")
    doc, _ = import_files("ae", [real], reference=[ods, types])
    (cohort,) = doc["cohorts"]
    assert cohort["scope"] == "national" and "1388299 Type 1 attendances" in cohort["source"]
    # one month only: the improvement (March 2025 against March 2024) cannot be computed, so unknown
    frozen = pe.state_from_dict(doc, BOOK)
    statuses = {s for rules in pe.statuses(frozen, BOOK).values() for rid, s in rules.items() if rid == RULE}
    assert statuses <= {"unknown", "not_applicable"}


def test_every_row_of_a_state_in_a_table_lists_the_same_cohorts() -> None:
    from policy_engine import tabular

    doc = state(trust("R1", (700, 1000), (760, 1000)), trust("R2", (700, 1000), (740, 1000)), cohorts=[NATIONAL])
    frame = tabular.states_to_frame({"s": pe.state_from_dict(doc, BOOK)}, BOOK)
    split = frame.with_columns(cohorts=pl.Series([["national:acute_trust"], []], dtype=pl.List(pl.String)))
    with pytest.raises(pe.StateError) as exc:
        tabular.evaluate_frame(split, BOOK)
    assert any("every row of a state must list the same cohorts" in d.message for d in exc.value.details)

"""``evaluate(backend="native")`` (full outcomes from the compiled closures, ``evaluation.explained``)
against the reference interpreter (``engine.reference_evaluate``, the oracle): the same
``Evaluation.to_dict()`` — outcomes, evidence, explanations, trace, decision record — on every
scenario file of both rulebooks, the example at many dates (also with an overlay and an
unconfirmed type), and generated states, thresholds included."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from copy import deepcopy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data.scenarios import scenario_files
from policy_engine.data.state import state_from_dict
from policy_engine.engine import reference_evaluate
from policy_engine.rulebook.overlay import apply_overlay
from policy_engine.testing import load_scenarios, thresholds
from policy_engine.testing.strategies import as_of_dates, boundary_cases, merge_states, states

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent
FOLDERS = {"nhs-2024-25": HERE / "scenarios", "nhs-2025-26": HERE / "scenarios-2025-26"}
STAMP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EXAMPLE = pe.load_state(ROOT / "examples" / "state.json")


@cache
def book(name: str) -> pe.Rulebook:
    return pe.load_rulebook(name)


def assert_same(state: pe.State | dict[str, Any], rulebook: pe.Rulebook, as_of: Any = None) -> pe.Evaluation:
    """The fast path's evaluation equals the reference's; on failure, the first differing outcomes
    and a diff of their JSON."""
    got = pe.evaluate(state, rulebook, as_of=as_of, backend="native", evaluated_at=STAMP)
    want = reference_evaluate(state, rulebook, as_of=as_of, evaluated_at=STAMP)
    if got.to_dict() != want.to_dict():
        lines: list[str] = []
        for g, w in zip(got.outcomes, want.outcomes, strict=False):
            if g != w:
                a = json.dumps(w.to_dict(), indent=1, sort_keys=True).splitlines()
                b = json.dumps(g.to_dict(), indent=1, sort_keys=True).splitlines()
                lines += [f"{w.rule_id} / {w.org_id}:", *difflib.unified_diff(a, b, "reference", "native", lineterm="")]
                if len(lines) > 80:
                    break
        if len(got.outcomes) != len(want.outcomes):
            lines.append(f"{len(got.outcomes)} outcomes, the reference {len(want.outcomes)}")
        if got.trace != want.trace:
            lines.append("the traces differ")
        if got.record != want.record:
            lines.append(f"the records differ: {got.record} != {want.record}")
        pytest.fail("\n".join(lines or ["the evaluations' JSON differ"]))
    assert got == want
    return got


SCENARIOS = [(name, s) for name, folder in FOLDERS.items() for f in scenario_files(folder) for s in load_scenarios(f)]


@pytest.mark.parametrize(
    ("name", "scenario"),
    SCENARIOS,
    ids=[f"{name}/{Path(s.file).parent.name}/{Path(s.file).stem}::{s.name}" for name, s in SCENARIOS],
)
def test_every_scenario_gives_the_reference_evaluation(name: str, scenario: Any) -> None:
    assert_same(scenario.state, book(name))


def test_the_scenarios_are_there() -> None:
    assert {name for name, _ in SCENARIOS} == set(FOLDERS)
    assert len(SCENARIOS) > 100


DATES = [None, "2024-04-01", "2024-07-31", "2024-12-31", "2025-03-31", "2025-04-01", "2025-09-30", "2026-06-30"]


@pytest.mark.parametrize("name", FOLDERS)
@pytest.mark.parametrize("as_of", DATES)
def test_the_example_at_many_dates(name: str, as_of: str | None) -> None:
    got = assert_same(EXAMPLE, book(name), as_of)
    assert got.record.backend == "native" and got.outcomes


def test_an_overlay_is_named_in_the_same_explanations() -> None:
    local = apply_overlay(book("nhs-2024-25"), ROOT / "examples" / "overlays" / "qex-local-ambition.yaml")
    got = assert_same(EXAMPLE, local)
    assert any("parameter overridden by" in o.explanation for o in got.outcomes)


def test_an_unconfirmed_type_is_not_judged_alike() -> None:
    doc = EXAMPLE.to_dict()
    org = next(o for o in doc["organisations"] if o["type"] == "acute_trust")
    org["provenance"] = {"type": {"source": "made-up.csv:3", "basis": "a guess", "confirmed": False}}
    got = assert_same(doc, book("nhs-2024-25"))
    assert any(o.explanation.startswith("Not judged") for o in got.outcomes)


def test_a_rank_range_is_settled_alike() -> None:
    """Acute trusts of the example declared a complete cohort, one of them without the ranked
    metric: every other trust's rank is a range."""
    doc = EXAMPLE.to_dict()
    trusts = [o for o in doc["organisations"] if o["type"] == "acute_trust"]
    assert trusts and doc.get("cohorts")
    copy = deepcopy(trusts[0])
    copy["id"] = "NOVALUE"
    copy["metrics"] = {}
    doc["organisations"].append(copy)
    rulebook = book("nhs-2024-25")
    got = assert_same(doc, rulebook)
    ranked = {r.id for r in rulebook.rules if r.uses_rank}
    assert any(e.kind == "cohort" for o in got.outcomes if o.rule_id in ranked for e in o.evidence)


@pytest.mark.parametrize("name", FOLDERS)
@given(data=st.data())
def test_generated_states_give_the_reference_evaluation(name: str, data: st.DataObject) -> None:
    rulebook = book(name)
    doc = data.draw(states(rulebook, max_size=6))
    as_of = data.draw(as_of_dates(rulebook))
    assert_same(state_from_dict(doc, rulebook), rulebook, as_of)


@cache
def _threshold_rules(name: str) -> list[str]:
    return sorted({t.rule_id for t in thresholds(book(name))})


@pytest.mark.parametrize("name", FOLDERS)
@given(data=st.data())
def test_states_on_thresholds_give_the_reference_evaluation(name: str, data: st.DataObject) -> None:
    rulebook = book(name)
    rule_id = data.draw(st.sampled_from(_threshold_rules(name)))
    cases = [data.draw(boundary_cases(rule_id, rulebook)) for _ in range(2)]
    note(f"{rule_id}: offsets {[c.offset for c in cases]}")
    got = assert_same(state_from_dict(merge_states(*[c.state for c in cases]), rulebook), rulebook)
    assert got.outcome(rule_id, cases[0].org_id).status == cases[0].expected


def test_the_reference_is_another_evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle is the interpreter, not the closures under test."""
    import policy_engine.evaluation.explained as explained

    calls: list[int] = []
    original = explained.ExplainedProgram._decide_all

    def counting(self: explained.ExplainedProgram, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(explained.ExplainedProgram, "_decide_all", counting)
    reference_evaluate(EXAMPLE, book("nhs-2024-25"))
    assert calls == []
    pe.evaluate(EXAMPLE, book("nhs-2024-25"), backend="native")
    assert calls == [1]


def test_the_collector_is_paused_only_while_outcomes_are_built() -> None:
    import gc

    from policy_engine.evaluation.explained import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    pe.evaluate(EXAMPLE, book("nhs-2024-25"), backend="native")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError), collector_paused():
        _ = 1 / 0
    assert gc.isenabled()

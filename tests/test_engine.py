"""evaluate(): backends, the trace, the decision record, determinism and isolation."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
from fractions import Fraction
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine._resources import load_schema
from policy_engine.evaluation import durable as durable_backend
from policy_engine.evidence import Ratio
from policy_engine.testing import assert_outcome
from policy_engine.testing.strategies import states

BOOK = pe.load_rulebook()
STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
BACKENDS = pe.available_backends()


def trust(org_id: str, now: int, before: int, all_types: int | None = None) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "ae_4h_type1": [
            {"period": "2024-03", "numerator": before, "denominator": 1000},
            {"period": "2025-03", "numerator": now, "denominator": 1000},
        ]
    }
    if all_types is not None:
        metrics["ae_4h_all"] = [{"period": "2025-03", "numerator": all_types, "denominator": 1000}]
    return {"id": org_id, "type": "acute_trust", "services": ["type1_ae"], "metrics": metrics}


NATIONAL = [{"scope": "national", "types": ["acute_trust"], "source": "test: both Type 1 providers in England"}]
STATE = {
    "as_of": "2025-04-20",
    "cohorts": NATIONAL,
    "organisations": [trust("RA1", 801, 700, 780), trust("RA2", 750, 600, 779)],
}


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_chaining_and_trace(backend: str) -> None:
    ev = pe.evaluate(STATE, BOOK, backend=backend, evaluated_at=STAMP)
    assert_outcome(ev, "uec.ae-4h-78", "RA2", "not_met")
    assert_outcome(ev, "uec.ae-4h-78-missed", "RA2", "breached")
    assert_outcome(ev, "uec.type1-ae-greatest-improvement", "RA2", "eligible")  # +15 points beats +10.1
    assert_outcome(ev, "uec.type1-ae-incentive", "RA2", "eligible")
    assert_outcome(ev, "uec.type1-ae-incentive", "RA1", "eligible")  # over 80%
    steps = {(f.rule_id, f.org_id): f for f in ev.trace}
    incentive = steps[("uec.type1-ae-incentive", "RA2")]
    assert dict(incentive.inputs) == {
        "uec.type1-ae-over-80": "not_eligible",
        "uec.type1-ae-greatest-improvement": "eligible",
    }
    assert incentive.step > steps[("uec.type1-ae-greatest-improvement", "RA2")].step
    assert steps[("uec.type1-ae-greatest-improvement", "RA2")].stratum == 1
    assert [f.step for f in ev.trace] == list(range(1, len(ev.trace) + 1))


def test_evaluation_serialises_to_the_outcome_schema() -> None:
    ev = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP)
    doc = ev.to_dict()
    jsonschema.validate(doc, load_schema("outcome.schema.json"))
    assert json.loads(ev.to_json()) == json.loads(json.dumps(doc))
    record = doc["record"]
    assert record["rulebook_id"] == "nhs-2024-25"
    assert record["rulebook_digest"] == BOOK.digest
    assert record["package_version"] == pe.__version__
    assert record["as_of"] == "2025-04-20"
    assert record["state_digest"] == pe.state_from_dict(STATE).digest


def test_outcomes_carry_citation_evidence_and_explanation() -> None:
    ev = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP)
    o = ev.outcome("uec.ae-4h-78", "RA2")
    assert o.citation.quote in BOOK.source_texts[o.citation.document]
    metric = next(e for e in o.evidence if e.kind == "metric")
    assert (metric.numerator, metric.denominator, metric.value) == (779, 1000, "77.9%")
    assert metric.quantity == Ratio(779, 1000, 100, "percent") and metric.quantity.value == Fraction(779, 10)
    assert "77.9%" in o.explanation and ">= param.threshold = 78%" in o.explanation
    assert o.deadline == dt.date(2025, 3, 31)


def test_same_input_gives_byte_identical_json() -> None:
    a = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP).to_json()
    b = pe.evaluate(copy.deepcopy(STATE), BOOK, backend="native", evaluated_at=STAMP).to_json()
    assert a == b


@pytest.mark.skipif("durable" not in BACKENDS, reason="durable-rules not importable")
def test_durable_sessions_do_not_leak_between_evaluations() -> None:
    other = {"as_of": "2025-04-20", "organisations": [trust("RA1", 100, 900, 100)]}
    first = pe.evaluate(STATE, BOOK, backend="durable", evaluated_at=STAMP)
    pe.evaluate(other, BOOK, backend="durable", evaluated_at=STAMP)
    again = pe.evaluate(STATE, BOOK, backend="durable", evaluated_at=STAMP)
    assert first.outcomes == again.outcomes
    assert not durable_backend._SESSIONS


THREAD_ROUNDS = int(os.environ.get("POLICY_ENGINE_THREAD_ROUNDS", "25"))


@pytest.mark.slow
def test_threads_get_the_serial_results() -> None:
    """8 threads x THREAD_ROUNDS rounds x every input x every backend give exactly the serial results
    (POLICY_ENGINE_THREAD_ROUNDS=1000 for the full stress run)."""
    inputs = [
        STATE,
        {"as_of": "2025-04-20", "organisations": [trust("RB1", 500, 400, 900)]},
        {"as_of": "2024-12-01", "organisations": [trust("RC1", 820, 810, 820)]},
    ]
    expected = [pe.evaluate(s, BOOK, backend=b, evaluated_at=STAMP).to_json() for s in inputs for b in BACKENDS]
    mismatches: list[str] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for r in range(THREAD_ROUNDS):
                got = [pe.evaluate(s, BOOK, backend=b, evaluated_at=STAMP).to_json() for s in inputs for b in BACKENDS]
                if got != expected:
                    mismatches.append(f"thread {k} round {r}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not mismatches


def test_backend_selection() -> None:
    assert pe.resolve_backend("native") == "native"
    assert pe.resolve_backend("auto") == ("durable" if "durable" in BACKENDS else "native")
    with pytest.raises(pe.EngineError, match="unknown backend"):
        pe.evaluate(STATE, BOOK, backend="prolog")


def test_durable_unavailable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable_backend, "_IMPORT_ERROR", "ImportError: undefined symbol PyEval_CallObject")
    assert pe.available_backends() == ["native"]
    assert pe.resolve_backend("auto") == "native"
    with pytest.raises(pe.EngineError) as info:
        pe.evaluate(STATE, BOOK, backend="durable")
    assert "PyEval_CallObject" in str(info.value)


def test_as_of_is_required_somewhere() -> None:
    with pytest.raises(pe.StateError, match="no as_of"):
        pe.evaluate({"organisations": []}, BOOK)
    with pytest.raises(pe.StateError, match="invalid as_of"):
        pe.evaluate(STATE, BOOK, as_of="2025-02-30")


def test_state_object_is_checked_against_the_rulebook() -> None:
    doc = {"as_of": "2025-04-20", "organisations": [{"id": "RA1", "type": "acute_trust", "metrics": {"nope": []}}]}
    state = pe.state_from_dict(doc)  # schema-valid on its own
    with pytest.raises(pe.StateError) as info:
        pe.evaluate(state, BOOK)
    assert info.value.details[0].path == "state.organisations[0].metrics.nope"


def test_explain_text_contains_the_derivation() -> None:
    ev = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP)
    text = pe.explain(ev, "uec.type1-ae-incentive", "RA2", BOOK)
    assert "uec.type1-ae-greatest-improvement [RA2]: ELIGIBLE" in text
    assert "rank" in text
    with pytest.raises(pe.PolicyError):
        pe.explain(ev, "uec.cat2-mean-30min", "RA2")


# ----------------------------------------------------------------------------- selectors

PCN_STATE = {**STATE, "organisations": [*STATE["organisations"], {"id": "U1", "type": "pcn"}]}


def test_find_refuses_unknown_selectors_with_close_matches() -> None:
    ev = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP)
    with pytest.raises(pe.SelectorError) as info:
        ev.find(org_id="ra1")
    assert isinstance(info.value, pe.PolicyError) and isinstance(info.value, ValueError)
    (detail,) = info.value.details
    assert detail.path == "org_id" and "did you mean RA1?" in detail.message
    with pytest.raises(pe.SelectorError, match="unknown status") as info:
        ev.find(status="breach")
    assert "did you mean breached" in info.value.details[0].message
    with pytest.raises(pe.SelectorError, match="unknown rule") as info:
        ev.find(rule_id="uec.ae-4h-87")
    assert "uec.ae-4h-78" in info.value.details[0].message
    # Every unknown value of every filter in one error.
    with pytest.raises(pe.SelectorError, match="unknown rule and organisation and status") as info:
        ev.find(rule_id="nope", org_id=["RA1", "RZZ"], status=("met", "meet"))
    assert [d.path for d in info.value.details] == ["rule_id", "org_id", "status"]
    assert "valid: RA1, RA2" in info.value.details[1].message


def test_find_takes_several_values_and_a_valid_filter_may_match_nothing() -> None:
    ev = pe.evaluate(PCN_STATE, BOOK, backend="native", evaluated_at=STAMP)
    both = ev.find(org_id=["RA1", "RA2"], status={"met", "not_met"})
    assert {(o.org_id, o.status) for o in both} >= {("RA1", "met"), ("RA2", "not_met")}
    assert {o.status for o in both} == {"met", "not_met"}
    assert ev.find(org_id="U1") == []  # a PCN: no rule applies to it, but it is in the state
    assert ev.find(status="overdue") == []
    # The ids survive filtering (the CLI narrows outcomes with attrs.evolve).
    import attrs

    narrowed = attrs.evolve(ev, outcomes=())
    assert narrowed.find(org_id="U1", rule_id="uec.ae-4h-78") == []
    # Built without the ids, an Evaluation knows the organisations and rules of its outcomes.
    bare = pe.Evaluation(ev.outcomes, ev.trace, ev.record)
    assert bare.find(org_id="RA1") == ev.find(org_id="RA1")
    with pytest.raises(pe.SelectorError):
        bare.find(org_id="U1")


def test_outcome_explain_and_what_if_say_which_of_rule_or_organisation_is_unknown() -> None:
    from policy_engine.audit.whatif import what_if

    ev = pe.evaluate(STATE, BOOK, backend="native", evaluated_at=STAMP)
    with pytest.raises(pe.SelectorError) as info:
        ev.outcome("uec.ae-4h-87", "RA1")
    assert info.value.summary == "unknown rule" and info.value.details[0].path == "rule_id"
    with pytest.raises(pe.SelectorError) as info:
        pe.explain(ev, "uec.ae-4h-78", "ra2", BOOK)
    assert info.value.summary == "unknown organisation"
    assert info.value.details[0].path == "org_id" and "did you mean RA2?" in info.value.details[0].message
    with pytest.raises(pe.SelectorError, match="unknown rule and organisation"):
        what_if(STATE, "nope", "RZZ", BOOK)
    # Both known, but the rule does not apply to the organisation's type: not a selector error.
    with pytest.raises(pe.PolicyError, match="no such outcome") as plain:
        ev.outcome("uec.cat2-mean-30min", "RA1")
    assert not isinstance(plain.value, pe.SelectorError)


def test_report_refuses_an_unknown_organisation() -> None:
    from policy_engine.render.report import render_report

    state = pe.state_from_dict(STATE, BOOK)
    ev = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    with pytest.raises(pe.SelectorError, match="unknown organisation") as info:
        render_report(ev, state, BOOK, "md", ["RA1", "ra3"])
    assert info.value.details[0].path == "orgs"
    assert "## RA2" in render_report(ev, state, BOOK, "md", ["RA2"])


def test_a_scenario_naming_an_unknown_rule_fails_as_such() -> None:
    from policy_engine.testing.scenarios import Expectation, Scenario, ScenarioFailure, run_scenario

    scenario = Scenario("typo", "inline", "2025-04-20", STATE, (Expectation("uec.ae-4h-87", "RA1", "met"),))
    with pytest.raises(ScenarioFailure, match=r"expected met, but no rule 'uec.ae-4h-87' in the rulebook; did you"):
        run_scenario(scenario, BOOK)


# ----------------------------------------------------------------------------- properties

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _statuses(ev: pe.Evaluation) -> dict[tuple[str, str], str]:
    return {(o.rule_id, o.org_id): o.status for o in ev.outcomes}


@pytest.mark.slow
@SETTINGS
@given(states(BOOK), st.randoms(use_true_random=False))
def test_order_of_organisations_and_facts_changes_nothing(state: dict[str, Any], rnd: Any) -> None:
    shuffled = copy.deepcopy(state)
    rnd.shuffle(shuffled["organisations"])
    for org in shuffled["organisations"]:
        rnd.shuffle(org["facts"])
        for series in org["metrics"].values():
            rnd.shuffle(series)
    a = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    b = pe.evaluate(shuffled, BOOK, backend="native", evaluated_at=STAMP)
    assert a.outcomes == b.outcomes
    assert a.trace == b.trace


NEGATIVE = {"not_met", "overdue", "breached"}


@SETTINGS
@given(states(BOOK), st.data())
def test_deleting_data_never_creates_a_breach(state: dict[str, Any], data: st.DataObject) -> None:
    full = _statuses(pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP))
    reduced = copy.deepcopy(state)
    for org in reduced["organisations"]:
        if org["metrics"]:
            drop = data.draw(st.sampled_from(sorted(org["metrics"])))
            del org["metrics"][drop]
        if org["facts"]:
            del org["facts"][data.draw(st.integers(0, len(org["facts"]) - 1))]
    less = _statuses(pe.evaluate(reduced, BOOK, backend="native", evaluated_at=STAMP))
    for key, status in less.items():
        if status in NEGATIVE:
            assert full[key] == status, f"{key}: deleting data turned {full[key]} into {status}"


@SETTINGS
@given(states(BOOK))
def test_before_a_deadline_never_overdue_after_it_never_due(state: dict[str, Any]) -> None:
    ev = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    as_of = ev.record.as_of
    for o in ev.outcomes:
        if o.deadline is None:
            assert o.status != "overdue"
        elif as_of <= o.deadline:
            assert o.status != "overdue"
            if o.kind != "obligation":
                assert o.status in ("due", "not_applicable", "unknown")
        else:
            assert o.status != "due"


# --------------------------------------------------------------------------- one backend vocabulary


def test_backend_names_each_evaluator_once() -> None:
    assert [b.value for b in pe.Backend] == ["native", "durable", "compiled", "columnar", "auto"]
    assert set(pe.EVALUATE_BACKENDS) | set(pe.STATUSES_BACKENDS) == set(pe.Backend)
    # The text and the member are the same name.
    assert pe.Backend("native") is pe.Backend.NATIVE
    assert pe.resolve_backend(pe.Backend.NATIVE) == "native"


@pytest.mark.parametrize("backend", ["native", pe.Backend.NATIVE, *BACKENDS, "auto", pe.Backend.AUTO])
def test_evaluate_accepts_its_backends_as_text_or_member(backend: str) -> None:
    ev = pe.evaluate(STATE, BOOK, backend=backend, evaluated_at=STAMP)
    assert ev.record.backend == pe.resolve_backend(backend)
    assert type(ev.record.backend) is str  # plain text in the record, not the enumeration


@pytest.mark.parametrize("backend", ["compiled", "columnar"])
def test_evaluate_refuses_a_statuses_only_backend_naming_what_to_use(backend: str) -> None:
    with pytest.raises(pe.EngineError, match="backend not accepted by evaluate") as info:
        pe.evaluate(STATE, BOOK, backend=backend)
    text = str(info.value)
    assert f"use statuses(..., backend='{backend}')" in text
    assert "evaluate accepts auto, native or durable" in text


def test_unknown_backend_names_the_accepted_ones() -> None:
    with pytest.raises(pe.EngineError, match="expected auto, native or durable"):
        pe.evaluate(STATE, BOOK, backend="prolog")
    with pytest.raises(pe.EngineError, match="expected compiled, durable, native, columnar or auto"):
        pe.statuses(STATE, BOOK, backend="prolog")


@pytest.mark.parametrize("as_of", [None, "2025-04-30", "2024-06-30"])
def test_statuses_gives_the_same_on_every_backend(as_of: str | None) -> None:
    state = pe.load_state(os.path.join(os.path.dirname(__file__), "..", "examples", "state.json"))
    expected = pe.statuses(state, BOOK, as_of=as_of)
    names = ["compiled", "native", "columnar", "auto", pe.Backend.COLUMNAR]
    names += ["durable"] if "durable" in BACKENDS else []
    for backend in names:
        assert pe.statuses(state, BOOK, as_of=as_of, backend=backend) == expected, backend
    full = pe.evaluate(state, BOOK, as_of=as_of, backend="native")
    assert {(o.org_id, o.rule_id): o.status for o in full.outcomes} == {
        (org, rid): s for org, rules in expected.items() for rid, s in rules.items()
    }


def test_auto_is_the_functions_own_choice() -> None:
    assert pe.resolve_backend("auto", "statuses") == "compiled"
    assert pe.resolve_backend("auto") == ("durable" if "durable" in BACKENDS else "native")


# --------------------------------------------------------------------------- typed kinds and statuses


def test_the_status_type_is_exactly_the_statuses() -> None:
    from typing import get_args

    from policy_engine.language.rules import RULE_KINDS, STATUSES, RuleKind, Status

    assert get_args(Status) == STATUSES
    assert get_args(RuleKind) == RULE_KINDS

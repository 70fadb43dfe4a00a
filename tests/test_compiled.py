"""``policy_engine.statuses`` (the compiled backend) against the reference evaluator: equal
statuses on the example at many dates, on generated states and exactly on every threshold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data.state import state_from_dict
from policy_engine.engine import reference_evaluate
from policy_engine.testing import thresholds
from policy_engine.testing.strategies import as_of_dates, boundary_cases, merge_states, states

ROOT = Path(__file__).resolve().parent.parent
BOOK = pe.load_rulebook("nhs-2024-25")
EXAMPLE = pe.load_state(ROOT / "examples" / "state.json")


def reference(state: pe.State, as_of: Any = None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {org.id: {} for org in state.organisations}
    for o in reference_evaluate(state, BOOK, as_of=as_of).outcomes:  # the reference interpreter
        out[o.org_id][o.rule_id] = o.status
    return out


@pytest.mark.parametrize(
    "as_of", [None, "2024-04-01", "2024-07-31", "2024-12-31", "2025-03-31", "2025-04-01", "2026-06-30"]
)
def test_the_example_at_many_dates(as_of: str | None) -> None:
    assert pe.statuses(EXAMPLE, BOOK, as_of=as_of) == reference(EXAMPLE, as_of)


BACKENDS = ["compiled", "native", "columnar"] + (["durable"] if "durable" in pe.available_backends() else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("as_of", ["2024-07-31", "2025-04-01"])
def test_both_statuses_backends_at_dates(backend: str, as_of: str) -> None:
    assert pe.statuses(EXAMPLE, BOOK, as_of=as_of, backend=backend) == reference(EXAMPLE, as_of)


@pytest.mark.skipif("durable" not in pe.available_backends(), reason="durable-rules does not import here")
@given(states(BOOK, max_size=5), as_of_dates(BOOK))
def test_durable_statuses_agree_with_the_reference(doc: dict[str, Any], as_of: dt.date) -> None:
    state = state_from_dict(doc, BOOK)
    assert pe.statuses(state, BOOK, as_of=as_of, backend="durable") == reference(state, as_of)


def test_an_unknown_statuses_backend_is_an_engine_error() -> None:
    with pytest.raises(pe.EngineError, match="expected compiled, durable, native, columnar or auto"):
        pe.statuses(EXAMPLE, BOOK, backend="reference")


def test_every_organisation_has_an_entry_even_with_no_rules() -> None:
    got = pe.statuses(EXAMPLE, BOOK)
    assert set(got) == {org.id for org in EXAMPLE.organisations}
    assert any(not rules for rules in got.values())  # the PCN: no rule applies to PCNs


@given(states(BOOK, max_size=6), as_of_dates(BOOK))
def test_generated_states_agree_with_the_reference(doc: dict[str, Any], as_of: dt.date) -> None:
    state = state_from_dict(doc, BOOK)
    assert pe.statuses(state, BOOK, as_of=as_of) == reference(state, as_of)


_THRESHOLD_RULES = sorted({t.rule_id for t in thresholds(BOOK)})


# More than the profile's examples under ci: each example draws one of the 38 threshold rules, and
# two draws a rule on average are needed for the run to reach (nearly) every one of them.
@settings(max_examples=max(settings().max_examples, 2 * len(_THRESHOLD_RULES)))
@given(st.data())
def test_values_exactly_on_thresholds_agree_with_the_reference(data: st.DataObject) -> None:
    rule_id = data.draw(st.sampled_from(_THRESHOLD_RULES))
    cases = [data.draw(boundary_cases(rule_id, BOOK)) for _ in range(2)]
    note(f"{rule_id}: offsets {[c.offset for c in cases]}")
    state = state_from_dict(merge_states(*[c.state for c in cases]), BOOK)
    got = pe.statuses(state, BOOK)
    assert got == reference(state)
    assert got[cases[0].org_id][rule_id] == cases[0].expected


def test_invalid_states_raise_the_same_errors_as_evaluate() -> None:
    doc = EXAMPLE.to_dict()
    doc["organisations"][1]["type"] = "hospital"
    with pytest.raises(pe.StateError) as a:
        pe.statuses(doc, BOOK)
    with pytest.raises(pe.StateError) as b:
        pe.evaluate(doc, BOOK)
    assert a.value.details == b.value.details
    with pytest.raises(pe.StateError):
        pe.statuses(EXAMPLE, BOOK, as_of="2025-02-30")

"""A downstream team's own policy tests, written against the public testing API only:
``policy_engine.testing`` (assertions, thresholds), ``policy_engine.testing.strategies``
(Hypothesis strategies) and the fixtures of the pytest plugin (``policy_rulebook``,
``policy_evaluate``). No conftest.py is needed.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from policy_engine.testing import assert_outcome, boundary_state, expected_status, rule_thresholds
from policy_engine.testing.strategies import BoundaryCase, boundary_cases, merged, organisations, states, states_near

FEW = settings(max_examples=15, deadline=None, database=None)


def our_trust(agency: int, pay_bill: int) -> dict[str, Any]:
    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    return {
        "as_of": "2025-05-01",
        "organisations": [
            {
                "id": "RXA",
                "type": "acute_trust",
                "metrics": {
                    "uor_agency_spend_share_of_pay_bill": [
                        {"period": p, "numerator": agency, "denominator": pay_bill} for p in months
                    ]
                },
            }
        ],
    }


def test_agency_spend_at_two_percent_is_within_the_ceiling(policy_evaluate: Any) -> None:
    evaluation = policy_evaluate(our_trust(agency=20, pay_bill=1000), backend="native")
    assert_outcome(evaluation, "uor.agency-max-2pct-pay-bill", "RXA", "met")


def test_agency_spend_over_two_percent_is_not_met(policy_evaluate: Any) -> None:
    evaluation = policy_evaluate(our_trust(agency=21, pay_bill=1000), backend="native")
    assert_outcome(evaluation, "uor.agency-max-2pct-pay-bill", "RXA", "not_met")


def test_the_rulebook_fixture_is_the_bundled_one(policy_rulebook: Any) -> None:
    assert policy_rulebook.id == "nhs-2024-25"
    assert policy_rulebook.rule("uec.ae-4h-78").kind == "target"


@pytest.mark.parametrize("rule_id", ["uec.ae-4h-78", "uor.agency-max-3-2pct-national-objective", "uec.sdec-12h-7d"])
def test_the_boundary_falls_where_the_guidance_words_it(policy_evaluate: Any, rule_id: str) -> None:
    for threshold in rule_thresholds(rule_id):
        for offset in threshold.offsets():
            evaluation = policy_evaluate(boundary_state(threshold, offset), backend="native")
            assert_outcome(evaluation, rule_id, "ORG001", expected_status(threshold, offset))


@FEW
@given(boundary_cases("mh.dementia-diagnosis-66-7-mar-2025"))
def test_dementia_diagnosis_near_66_7_percent(policy_evaluate: Any, case: BoundaryCase) -> None:
    evaluation = policy_evaluate(case.state, backend="native")
    assert_outcome(evaluation, case.rule_id, case.org_id, case.expected)


@FEW
@given(merged(states_near("uec.ae-4h-78"), states(max_size=3)))
def test_a_breach_always_rests_on_a_missed_target(policy_evaluate: Any, state: dict[str, Any]) -> None:
    evaluation = policy_evaluate(state, backend="native")
    for outcome in evaluation.find(rule_id="uec.ae-4h-78-missed", status="breached"):
        assert_outcome(evaluation, "uec.ae-4h-78", outcome.org_id, "not_met")


@FEW
@given(organisations(type="icb", id="QXA"))
def test_an_icb_never_gets_a_trust_only_rule(policy_evaluate: Any, org: dict[str, Any]) -> None:
    evaluation = policy_evaluate({"as_of": "2025-05-01", "organisations": [org]}, backend="native")
    assert_outcome(evaluation, "uec.ae-4h-78", "QXA", "absent")

"""Assertions with failure messages that show the evidence."""

from __future__ import annotations

from ..audit.explain import explain
from ..evaluation.outcomes import Evaluation


def assert_outcome(evaluation: Evaluation, rule_id: str, org_id: str, status: str) -> None:
    """Fail (AssertionError) unless ``rule_id`` gave ``status`` for ``org_id``.

    ``status="absent"`` asserts that the rule produced no outcome for the organisation.
    """
    found = evaluation.find(rule_id=rule_id, org_id=org_id)
    if status == "absent":
        if found:
            raise AssertionError(
                f"{rule_id} for {org_id}: expected no outcome, got {found[0].status}\n"
                + explain(evaluation, rule_id, org_id)
            )
        return
    if not found:
        have = sorted({o.rule_id for o in evaluation.find(org_id=org_id)})
        raise AssertionError(
            f"{rule_id} for {org_id}: expected {status}, but the rule produced no outcome for this "
            f"organisation (rules with outcomes for it: {', '.join(have) or 'none'})"
        )
    if found[0].status != status:
        raise AssertionError(
            f"{rule_id} for {org_id}: expected {status}, got {found[0].status}\n" + explain(evaluation, rule_id, org_id)
        )

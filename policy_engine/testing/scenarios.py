"""YAML scenario files: a small state, an as_of date and the outcomes expected.

Reading a file is ``policy_engine.data.scenarios.load_scenarios`` (checked against
``schemas/scenario.schema.json``; re-exported here); this module evaluates scenarios.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..data.scenarios import Expectation, Scenario, ScenarioFileError, load_scenarios
from ..engine import Backend, evaluate
from ..errors import SelectorError
from ..evaluation.outcomes import Evaluation
from ..rulebook.loader import Rulebook

__all__ = ["Expectation", "Scenario", "ScenarioFailure", "ScenarioFileError", "load_scenarios", "run_scenario"]


class ScenarioFailure(AssertionError):
    """Raised when an evaluation does not give the expected outcomes; lists every mismatch.

    ``mismatches`` holds them one by one (each as its text in the message).
    """

    def __init__(self, message: str, mismatches: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.mismatches: tuple[str, ...] = tuple(mismatches)


def run_scenario(
    scenario: Scenario, rulebook: Rulebook | str | None = None, backend: Backend | str = Backend.NATIVE
) -> Evaluation:
    """Evaluate a scenario and check every expectation; ScenarioFailure lists all mismatches (a
    rule the rulebook lacks or an organisation the state lacks is one, with its close matches)."""
    evaluation = evaluate(
        scenario.state, rulebook, backend=backend, evaluated_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    problems = []
    for e in scenario.expect:
        try:
            found = evaluation.find(rule_id=e.rule, org_id=e.org)
        except SelectorError as exc:  # a misspelt rule or organisation is not "absent"
            why = "; ".join(d.message for d in exc.details)
            problems.append(f"  {e.rule} / {e.org}: expected {e.status}, but {why}")
            continue
        got = found[0].status if found else "absent"
        if got != e.status:
            detail = f"\n      {found[0].explanation}" if found else ""
            problems.append(f"  {e.rule} / {e.org}: expected {e.status}, got {got}{detail}")
        elif e.explanation_contains and found and e.explanation_contains not in found[0].explanation:
            problems.append(
                f"  {e.rule} / {e.org}: explanation lacks {e.explanation_contains!r}: {found[0].explanation}"
            )
    if problems:
        raise ScenarioFailure(
            f"scenario {scenario.name!r} ({scenario.file}, {backend}):\n" + "\n".join(problems), problems
        )
    return evaluation

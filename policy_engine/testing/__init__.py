"""Helpers for test suites that assert policy outcomes (public API).

* ``load_scenarios(path)`` / ``run_scenario(scenario, backend=...)`` — YAML scenario files
  (a small state, an ``as_of`` date, the expected outcomes), readable by a policy analyst.
* ``assert_outcome(evaluation, rule_id, org_id, status)`` — an assertion whose failure message
  shows the outcome, its evidence and its explanation.
"""

from __future__ import annotations

from .assertions import assert_outcome
from .scenarios import Expectation, Scenario, ScenarioFailure, load_scenarios, run_scenario

__all__ = ["Expectation", "Scenario", "ScenarioFailure", "assert_outcome", "load_scenarios", "run_scenario"]

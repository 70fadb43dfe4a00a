"""Helpers for test suites that assert policy outcomes (public API).

* ``load_scenarios(path)`` / ``run_scenario(scenario, rulebook, backend=...)`` — YAML scenario files
  (a small state, an ``as_of`` date, the expected outcomes), readable by a policy analyst, checked
  against ``schemas/scenario.schema.json`` (``ScenarioFileError`` names the file and the place).
* ``assert_outcome(evaluation, rule_id, org_id, status)`` — an assertion whose failure message
  shows the outcome, its evidence and its explanation.
* ``policy_engine.testing.strategies`` — Hypothesis strategies: ``states()``, ``organisations()``,
  ``metric_series()``, ``threshold_counts()``, ``as_of_dates()``, ``states_near(rule_id)``,
  ``boundary_cases(rule_id)``, ``merged(...)``.
* ``thresholds(rulebook)`` / ``rule_thresholds(rule_id)`` / ``boundary_state(threshold, offset)`` /
  ``expected_status(threshold, offset)`` (with ``positive_status``, ``negative_status``,
  ``judged_after``) — the rulebook's threshold comparisons, read from the rule conditions, and the
  states that sit on them.
* ``policy_engine.testing.plugin`` — the pytest plugin (fixtures ``policy_rulebook`` and
  ``policy_evaluate``; ``test_*.policy.yaml`` scenario files collected as tests). It is registered
  as a ``pytest11`` entry point, so an installed package loads it automatically.

See docs/testing-kit.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "Expectation",
    "Scenario",
    "ScenarioFailure",
    "ScenarioFileError",
    "Threshold",
    "assert_outcome",
    "boundary_state",
    "expected_status",
    "judged_after",
    "load_scenarios",
    "negative_status",
    "positive_status",
    "rule_thresholds",
    "run_scenario",
    "thresholds",
]

if TYPE_CHECKING:  # what mypy and editors see: the same names, imported eagerly
    from ._api import *  # noqa: F403
else:  # imported on first use: pytest imports the plugin (a submodule) on every start
    __getattr__, __dir__ = lazy_exports(__name__, __all__)

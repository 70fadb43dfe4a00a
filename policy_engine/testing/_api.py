"""Where each public name of ``policy_engine.testing`` comes from: imported the first time one of them
is used (see ``policy_engine._lazy``), so that importing the pytest plugin costs nothing.

``__all__`` here is ``policy_engine.testing.__all__`` (``tests/test_imports.py`` checks that they are
the same): a new public name is imported here and listed in both.
"""

from __future__ import annotations

from .assertions import assert_outcome
from .boundaries import (
    Threshold,
    boundary_state,
    expected_status,
    judged_after,
    negative_status,
    positive_status,
    rule_thresholds,
    thresholds,
)
from .scenarios import Expectation, Scenario, ScenarioFailure, ScenarioFileError, load_scenarios, run_scenario

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

"""Every YAML scenario under tests/scenarios/, on every available backend."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine.data.scenarios import scenario_files
from policy_engine.testing import Scenario, load_scenarios, run_scenario

HERE = Path(__file__).parent / "scenarios"
FILES = scenario_files(HERE)
SCENARIOS: list[Scenario] = [s for f in FILES for s in load_scenarios(f)]


def test_scenarios_exist() -> None:
    assert len(SCENARIOS) > 50, "the scenario suite went missing"


@pytest.fixture(scope="module")
def book() -> pe.Rulebook:
    return pe.load_rulebook()


@pytest.mark.parametrize("backend", pe.available_backends())
@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[f"{Path(s.file).parent.name}/{Path(s.file).stem}::{s.name}" for s in SCENARIOS]
)
def test_scenario(scenario: Scenario, backend: str, book: pe.Rulebook) -> None:
    run_scenario(scenario, book, backend=backend)


def test_every_rule_has_a_scenario(book: pe.Rulebook) -> None:
    covered = {e.rule for s in SCENARIOS for e in s.expect}
    missing = [r.id for r in book.rules if r.id not in covered]
    assert not missing, f"rules with no scenario: {missing}"

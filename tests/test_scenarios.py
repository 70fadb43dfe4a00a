"""Every YAML scenario of each bundled rulebook, on every available backend: ``tests/scenarios/`` for
nhs-2024-25 and ``tests/scenarios-2025-26/`` for nhs-2025-26."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine._resources import bundled_rulebooks
from policy_engine.data.scenarios import scenario_files
from policy_engine.testing import Scenario, load_scenarios, run_scenario

HERE = Path(__file__).parent
FOLDERS = {"nhs-2024-25": HERE / "scenarios", "nhs-2025-26": HERE / "scenarios-2025-26"}
SCENARIOS: dict[str, list[Scenario]] = {
    name: [s for f in scenario_files(folder) for s in load_scenarios(f)] for name, folder in FOLDERS.items()
}
CASES = [(name, s) for name, found in SCENARIOS.items() for s in found]


@cache
def book(name: str) -> pe.Rulebook:
    return pe.load_rulebook(name)


def test_the_folders_name_the_bundled_rulebooks() -> None:
    assert sorted(FOLDERS) == bundled_rulebooks()


@pytest.mark.parametrize("name", FOLDERS)
def test_scenarios_exist(name: str) -> None:
    assert len(SCENARIOS[name]) > 50, f"the scenario suite of {name} went missing"


@pytest.mark.parametrize("backend", pe.available_backends())
@pytest.mark.parametrize(
    ("name", "scenario"),
    CASES,
    ids=[f"{name}/{Path(s.file).parent.name}/{Path(s.file).stem}::{s.name}" for name, s in CASES],
)
def test_scenario(name: str, scenario: Scenario, backend: str) -> None:
    run_scenario(scenario, book(name), backend=backend)


@pytest.mark.parametrize("name", FOLDERS)
def test_every_rule_has_a_scenario(name: str) -> None:
    covered = {e.rule for s in SCENARIOS[name] for e in s.expect}
    missing = [r.id for r in book(name).rules if r.id not in covered]
    assert not missing, f"rules of {name} with no scenario: {missing}"

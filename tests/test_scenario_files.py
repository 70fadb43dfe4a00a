"""Scenario files: the one loader (policy_engine.data.scenarios) and schemas/scenario.schema.json."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy_engine.testing as kit
from policy_engine._resources import load_schema
from policy_engine.data import scenarios as files
from policy_engine.data.scenarios import ScenarioFileError, load_scenarios, scenario_files, scenario_index
from policy_engine.errors import PolicyError
from policy_engine.language.rules import STATUSES

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
scenarios:
  - name: exactly 78% is met
    as_of: 2025-04-20
    organisations:
      - {id: RAA, type: acute_trust}
    expect:
      - {rule: uec.ae-4h-78, org: RAA, status: met, explanation_contains: "78"}
      - {rule: uec.ae-4h-78, org: RAA, status: met}
  - name: ranked
    as_of: "2025-04-20"
    organisations: []
    cohorts: [{scope: national, types: [acute_trust], source: "test: the whole cohort"}]
    expect:
      - {rule: uec.ae-12h-reduce, org: RBB, status: absent}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_bundled_scenario_file_matches_the_schema() -> None:
    paths = scenario_files(ROOT / "tests" / "scenarios") + sorted((ROOT / "examples").rglob("*.policy.yaml"))
    assert len(paths) > 150
    assert sum(len(load_scenarios(p)) for p in paths) > 1000


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first, second = load_scenarios(path)
    assert (first.name, first.file, first.as_of) == ("exactly 78% is met", str(path), "2025-04-20")
    assert first.state == {"as_of": "2025-04-20", "organisations": [{"id": "RAA", "type": "acute_trust"}]}
    assert first.expect[0] == kit.Expectation("uec.ae-4h-78", "RAA", "met", "78")
    assert second.state["cohorts"] == [
        {"scope": "national", "types": ["acute_trust"], "source": "test: the whole cohort"}
    ]
    assert second.expect == (kit.Expectation("uec.ae-12h-reduce", "RBB", "absent"),)


def test_the_testing_kit_uses_the_same_loader() -> None:
    assert kit.load_scenarios is load_scenarios
    assert kit.Scenario is files.Scenario and kit.Expectation is files.Expectation
    assert kit.ScenarioFileError is ScenarioFileError and issubclass(ScenarioFileError, PolicyError)


def test_the_schema_knows_every_status() -> None:
    schema = load_schema("scenario.schema.json")
    assert schema["$defs"]["expectation"]["properties"]["status"]["enum"] == [*STATUSES, "absent"]


@pytest.mark.parametrize(
    ("text", "summary", "details"),
    [
        ("", "not a scenario file", [("", "expected a mapping", "None")]),
        ("- a\n- b\n", "not a scenario file", [("", "expected a mapping", "['a', 'b']")]),
        (
            "scenario: []\n",
            "not a scenario file",
            [("", "unknown field 'scenario' (expected scenarios)", None), ("", "missing 'scenarios'", None)],
        ),
        ("scenarios: {}\n", "malformed scenario file", [("scenarios", "expected a list", "{}")]),
        (
            GOOD.replace(
                "    expect:\n      - {rule: uec.ae-4h-78, org: RAA, status: met, explanation",
                "    expects:\n      - {rule: uec.ae-4h-78, org: RAA, status: met, explanation",
            ),
            "malformed scenario file",
            [
                (
                    "scenarios[0]",
                    "unknown field 'expects' (expected as_of, cohorts, expect, name, organisations)",
                    None,
                ),
                ("scenarios[0]", "missing 'expect'", None),
            ],
        ),
        (
            GOOD.replace("status: met}", "status: mett}"),
            "malformed scenario file",
            [
                (
                    "scenarios[0].expect[1].status",
                    "expected one of " + ", ".join([*STATUSES, "absent"]),
                    "'mett'",
                )
            ],
        ),
        (
            GOOD.replace("as_of: 2025-04-20", "as_of: 20/04/2025"),
            "malformed scenario file",
            [("scenarios[0].as_of", "expected a date YYYY-MM-DD", "'20/04/2025'")],
        ),
        (
            GOOD.replace("explanation_contains", "explanation_contain"),
            "malformed scenario file",
            [
                (
                    "scenarios[0].expect[0]",
                    "unknown field 'explanation_contain' (expected explanation_contains, org, rule, status)",
                    None,
                )
            ],
        ),
        (
            GOOD.replace("name: ranked", 'name: ""').replace("org: RBB", "org: 7"),
            "malformed scenario file",
            [
                ("scenarios[1].expect[0].org", "expected a string", "7"),
                ("scenarios[1].name", "must not be empty", None),
            ],
        ),
    ],
    ids=[
        "empty",
        "a-list",
        "no-scenarios",
        "scenarios-not-a-list",
        "misspelt-field",
        "unknown-status",
        "bad-date",
        "misspelt-expectation-field",
        "empty-name-and-number",
    ],
)
def test_a_wrong_file_is_refused_naming_the_file_and_the_place(
    tmp_path: Path, text: str, summary: str, details: list[tuple[str, str, str | None]]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios(path)
    assert info.value.summary == summary
    assert [(d.path, d.message, d.value) for d in info.value.details] == [
        (f"{path}: {where}" if where else str(path), message, value) for where, message, value in details
    ]
    assert str(path) in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="a scenario file is not valid YAML") as info:
        load_scenarios(write(tmp_path, "scenarios: [\n"))
    assert info.value.details[0].path == f"{tmp_path / 's.yaml'}:2:1"  # where the YAML ends unclosed
    with pytest.raises(ScenarioFileError, match="cannot read scenario file"):
        load_scenarios(tmp_path / "missing.yaml")


def test_many_problems_are_listed_up_to_twenty(tmp_path: Path) -> None:
    text = "scenarios:\n" + "".join(f"  - name: s{i}\n" for i in range(30))
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios(write(tmp_path, text))
    assert len(info.value.details) == 21
    assert info.value.details[0].path.endswith("scenarios[0]")
    assert info.value.details[1].path.endswith("scenarios[1]")  # in file order, not text order
    assert info.value.details[-1].message == "and 10 more problems"


def test_the_index_of_a_folder(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "b.yml")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", GOOD.replace("exactly 78% is met", "again"), "a.yaml")
    write(tmp_path, "not a scenario file", "notes.txt")
    assert [p.name for p in scenario_files(tmp_path)] == ["b.yml", "a.yaml"]
    index = scenario_index(tmp_path)
    shown = tmp_path.as_posix()
    assert index == {
        "uec.ae-12h-reduce": [
            (f"{shown}/b.yml", "ranked", "RBB", "absent"),
            (f"{shown}/sub/a.yaml", "ranked", "RBB", "absent"),
        ],
        "uec.ae-4h-78": [
            (f"{shown}/b.yml", "exactly 78% is met", "RAA", "met"),
            (f"{shown}/sub/a.yaml", "again", "RAA", "met"),
        ],
    }
    assert scenario_index(tmp_path / "absent") == {} and scenario_files(tmp_path / "absent") == []
    write(tmp_path, "scenarios: 1\n", "c.yaml")
    with pytest.raises(ScenarioFileError):
        scenario_index(tmp_path)


def test_the_bundled_index_is_shown_under_tests_scenarios() -> None:
    index = scenario_index(ROOT / "tests" / "scenarios")
    assert index and all(file.startswith("tests/scenarios/") for rows in index.values() for file, _, _, _ in rows)


# That coverage no longer imports the reference generator (it once did, for its scenario counts)
# is one case of tests/test_architecture.py, which checks every import against docs/architecture.md.

"""policy-engine lint: findings with codes and severities; the bundled rulebook lints clean."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from policy_engine._resources import policies_root
from policy_engine.audit.lint import lint
from policy_engine.cli import EXIT_INVALID, EXIT_OK, run

SRC = policies_root() / "nhs-2024-25"

RULE = """
  - id: t.{id}
    title: test rule {id}
    kind: target
    applies_to: [acute_trust]
    {extra}
    condition: {condition}
    source:
      document: news-hhe-designated-lead.txt
      section: test
      quote: "a minimum of 78% of patients being seen within four hours in March 2025"
"""


def book(tmp_path: Path, *rules: str) -> Path:
    root = tmp_path / "book"
    root.mkdir()
    (root / "rulebook.yaml").write_bytes((SRC / "rulebook.yaml").read_bytes())
    shutil.copytree(str(SRC / "sources"), root / "sources")
    area = (
        "area: t\ntitle: Test\nmetrics:\n  m:\n    kind: proportion\n    unit: percent\n"
        "    label: share of a metric\n    description: a metric\n"
        "rules:" + "".join(rules)
    )
    (root / "t.yaml").write_text(area, encoding="utf-8")
    return root


def codes(findings: list) -> set[str]:
    return {f.code for f in findings}


def test_bundled_rulebook_has_no_errors_and_each_warning_is_explained() -> None:
    findings = lint("nhs-2024-25", Path(__file__).parent / "scenarios")
    assert not [f for f in findings if f.severity == "error"]
    warnings = [(f.code, f.rule_id) for f in findings if f.severity == "warning"]
    assert warnings == []


def test_contradictory_and_tautological_conditions(tmp_path: Path) -> None:
    root = book(
        tmp_path,
        RULE.format(
            id="never", extra="deadline: 2025-03-31", condition="pct(m, mar_2025) > 80 and pct(m, mar_2025) < 70"
        ),
        RULE.format(id="over", extra="deadline: 2025-03-31", condition="pct(m, mar_2025) > 100"),
        RULE.format(id="always", extra="deadline: 2025-03-31", condition="pct(m, mar_2025) >= 0"),
        RULE.format(id="fine", extra="deadline: 2025-03-31", condition="pct(m, mar_2025) >= 78"),
    )
    by_rule = {}
    for f in lint(root, tmp_path / "none"):
        by_rule.setdefault(f.rule_id, set()).add(f.code)
    assert "E200" in by_rule["t.never"]
    assert "E201" in by_rule["t.over"]
    assert "W202" in by_rule["t.always"]
    assert not {"E200", "E201", "W202"} & by_rule.get("t.fine", set())
    assert "I300" in by_rule["t.always"] or "I300" in by_rule["t.fine"]  # same metric and period


def test_deadline_parameters_and_untested(tmp_path: Path) -> None:
    root = book(
        tmp_path,
        RULE.format(id="late", extra="deadline: 2025-03-31\n    period: mar_2025", condition="pct(m, mar_2025) >= 1"),
        RULE.format(
            id="params",
            extra="deadline: 2025-03-31\n    parameters:\n      unused: {value: 5, unit: percent}",
            condition="pct(m, mar_2025) >= 1",
        ),
        RULE.format(id="nodeadline", extra="period: mar_2025", condition="pct(m, mar_2025) >= 1"),
    )
    scen = tmp_path / "scen"
    scen.mkdir()
    (scen / "a.yaml").write_text(
        "scenarios:\n  - name: late\n    as_of: 2025-04-01\n    organisations: []\n"
        "    expect:\n      - {rule: t.late, org: A, status: met}\n"
    )
    # a rule id in a comment or another field is not a test naming the rule
    (scen / "b.yml").write_text(
        "# rule: t.params\nscenarios:\n  - name: 'rule: t.params'\n    as_of: 2025-04-01\n"
        "    organisations: []\n    expect:\n      - {rule: t.late, org: A, status: met}\n"
    )
    found = {(f.code, f.rule_id) for f in lint(root, scen)}
    assert ("W110", "t.params") in found and ("W120", "t.params") in found
    assert ("W410", "t.nodeadline") in found
    assert ("W500", "t.params") in found and ("W500", "t.late") not in found


def test_a_malformed_scenario_file_is_reported_instead_of_untested_rules(tmp_path: Path) -> None:
    root = book(tmp_path, RULE.format(id="late", extra="", condition="pct(m, mar_2025) >= 1"))
    scen = tmp_path / "scen"
    scen.mkdir()
    (scen / "a.yaml").write_text("scenarios:\n  - expect:\n      - {rule: t.late, org: A, status: mett}\n")
    findings = [f for f in lint(root, scen) if f.code in ("E510", "W500")]
    where = f"{scen / 'a.yaml'}: scenarios[0]"
    assert [(f.code, f.severity, f.rule_id, f.message) for f in findings] == [
        ("E510", "error", where, "missing 'name', 'as_of', 'organisations'"),
        (
            "E510",
            "error",
            f"{where}.expect[0].status",
            "expected one of met, met_late, not_met, due, overdue, breached, not_breached, eligible, "
            "not_eligible, unknown, not_applicable, absent (got 'mett')",
        ),
    ]


def test_a_rulebook_that_does_not_load_is_reported_as_errors(tmp_path: Path) -> None:
    root = book(tmp_path, RULE.format(id="bad", extra="", condition="pct(nope, mar_2025) >= 1"))
    findings = lint(root)
    assert findings and all(f.code == "E000" and f.severity == "error" for f in findings)
    assert "unknown metric 'nope'" in findings[0].message


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_exit_codes(tmp_path: Path, fmt: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["lint", "--format", fmt], stdout=out, stderr=err) == EXIT_OK
    root = book(tmp_path, RULE.format(id="never", extra="", condition="pct(m, mar_2025) > 80 and pct(m, mar_2025) < 7"))
    out, err = io.StringIO(), io.StringIO()
    assert run(["lint", str(root), "--format", fmt], stdout=out, stderr=err) == EXIT_INVALID
    assert "E200" in err.getvalue() and out.getvalue() == ""


def test_a_deadline_outside_the_planning_year_is_refused_at_load(tmp_path: Path) -> None:
    root = book(
        tmp_path,
        RULE.format(id="late", extra="deadline: 2026-06-30\n    period: mar_2025", condition="pct(m, mar_2025) >= 1"),
    )
    found = [f for f in lint(root, tmp_path / "none") if f.code == "E000"]
    assert len(found) == 1 and "outside the planning year 2024-04-01..2025-03-31" in found[0].message
    assert "(t.late).deadline" in found[0].rule_id and "2026-06-30" in found[0].message

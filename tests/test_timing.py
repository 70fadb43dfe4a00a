"""Obligations over time: every obligation's timing, on every backend, and no outcome ``due`` once
the planning year has closed.

The expected statuses here are written from the timings' definitions (README, "Timings"), not read
from the evaluator: a standing requirement is judged on every date from the start of the year; an
action (within the year, or dated) is ``due`` until its deadline and judged after it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data.state import state_from_dict
from policy_engine.testing.backends import STATUS_PATHS, statuses_by_path
from policy_engine.testing.strategies import states

BOOK = pe.load_rulebook()
DAY = dt.timedelta(days=1)
OBLIGATIONS = [r for r in BOOK.rules if r.kind == "obligation"]
_FACT = re.compile(r'^fact\("([a-z0-9_]+)"\) == true$')


def _declared_facts(rule: pe.Rule) -> list[str] | None:
    """The facts of a condition of the shape ``fact("a") == true [and fact("b") == true ...]``."""
    names = []
    for part in rule.condition_text.split(" and "):
        m = _FACT.match(part.strip())
        if m is None:
            return None
        names.append(m.group(1))
    return names


BOOLEAN_OBLIGATIONS = [r for r in OBLIGATIONS if _declared_facts(r) is not None]


def _guard(rule: pe.Rule) -> tuple[list[str], list[dict[str, Any]]]:
    """Services and facts that make the rule's applicability guard true."""
    text = rule.applicable_if_text or ""
    services = re.findall(r'has_service\("([a-z0-9_]+)"\)', text)
    facts = re.findall(r'fact\("([a-z0-9_]+)"\) == true', text)
    return services[:1] if " or " in text else services, [
        {"name": f, "value": True, "date": "2023-01-01", "evidence": "guard"} for f in facts
    ]


def _org(rule: pe.Rule, declared: bool | None, n: int) -> dict[str, Any]:
    services, facts = _guard(rule)
    org: dict[str, Any] = {"id": f"O{n}", "type": rule.applies_to[0]}
    if services:
        org["services"] = services
    if declared is not None:
        facts += [
            {"name": name, "value": declared, "date": "2023-01-01", "evidence": "declaration"}
            for name in _declared_facts(rule) or ()
        ]
    if facts:
        org["facts"] = facts
    return org


DECLARATIONS: tuple[bool | None, ...] = (True, False, None)


def _state(as_of: dt.date) -> tuple[dict[str, Any], dict[str, tuple[pe.Rule, bool | None]]]:
    """One organisation per boolean obligation and declaration (true, false, nothing)."""
    orgs, index = [], {}
    for rule in BOOLEAN_OBLIGATIONS:
        for declared in DECLARATIONS:
            org = _org(rule, declared, len(orgs))
            orgs.append(org)
            index[org["id"]] = (rule, declared)
    return {"as_of": as_of.isoformat(), "organisations": orgs}, index


def expected(rule: pe.Rule, declared: bool | None, as_of: dt.date) -> str:
    """The status the rule's timing gives (from the definitions, not the evaluator)."""
    if declared is True:
        return "met"
    if rule.timing == "standing":
        if as_of < BOOK.start:
            return "due"
        return "not_met" if declared is False else "unknown"
    assert rule.timing in ("within_year", "dated")
    deadline = rule.deadline if rule.timing == "dated" else BOOK.end
    assert deadline is not None
    if as_of <= deadline:
        return "due"
    return "overdue" if declared is False else "unknown"


DATES = sorted(
    {BOOK.start - DAY, BOOK.start, BOOK.end, BOOK.end + DAY, dt.date(2026, 6, 30)}
    | {r.deadline for r in OBLIGATIONS if r.deadline}
    | {r.deadline + DAY for r in OBLIGATIONS if r.deadline}
)


BACKENDS = [p for p in STATUS_PATHS if "durable" in pe.available_backends() or "durable" not in p]


def _statuses(doc: dict[str, Any], backend: str) -> dict[tuple[str, str], str]:
    return statuses_by_path(state_from_dict(doc, BOOK), BOOK, [backend])[backend]


def test_every_obligation_has_a_timing_and_most_are_checked_here() -> None:
    assert all(r.timing in pe.TIMINGS for r in OBLIGATIONS)
    assert all(r.timing is None for r in BOOK.rules if r.kind != "obligation")
    # the few obligations left out read a counted fact; their scenarios prove their timing
    assert len(BOOLEAN_OBLIGATIONS) >= len(OBLIGATIONS) - 10
    assert {r.timing for r in BOOLEAN_OBLIGATIONS} == {"standing", "within_year", "dated"}


# Full outcomes (native, durable) cost about 5 s per date on this state: they are checked on the
# dates where the standing and within-year timings change; the statuses backends on every date.
# The dated obligations' own deadlines are also proved on every backend by their scenario files.
_YEAR_EDGES = [BOOK.start - DAY, BOOK.start, BOOK.end, BOOK.end + DAY]
CASES = [
    (backend, as_of)
    for backend in BACKENDS
    for as_of in (DATES if backend in ("statuses-compiled", "columnar") else _YEAR_EDGES)
]


@pytest.mark.parametrize(("backend", "as_of"), CASES, ids=[f"{b}-{d}" for b, d in CASES])
def test_each_obligation_is_judged_as_its_timing_says(backend: str, as_of: dt.date) -> None:
    doc, index = _state(as_of)
    got = _statuses(doc, backend)
    wrong = [
        f"{rule.id} ({rule.timing}, declared {declared}): expected {expected(rule, declared, as_of)}, "
        f"got {got.get((org_id, rule.id))}"
        for org_id, (rule, declared) in index.items()
        if got.get((org_id, rule.id)) != expected(rule, declared, as_of)
    ]
    assert not wrong, f"as of {as_of}:\n" + "\n".join(wrong)


def test_a_declared_false_standing_requirement_is_not_met_on_every_date_in_force() -> None:
    """The issue's own case: the designated lead declared false on 2024-04-01."""
    for as_of in ("2024-09-30", "2025-04-30", "2026-06-30"):
        doc = {
            "as_of": as_of,
            "organisations": [
                {
                    "id": "RAA",
                    "type": "acute_trust",
                    "facts": [{"name": "psi_designated_interface_lead_in_place", "value": False, "date": "2024-04-01"}],
                }
            ],
        }
        (outcome,) = pe.evaluate(state_from_dict(doc, BOOK), BOOK).find(rule_id="psi.designated-lead")
        assert outcome.status == "not_met", as_of


after_the_year = st.dates(min_value=BOOK.end + DAY, max_value=dt.date(2030, 12, 31))


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=max(1, settings().max_examples // 2), deadline=None)  # half: each example runs on every backend
@given(doc=states(BOOK, max_size=6), as_of=after_the_year)
def test_no_outcome_is_due_after_the_planning_year(backend: str, doc: dict[str, Any], as_of: dt.date) -> None:
    doc = {**doc, "as_of": as_of.isoformat()}
    due = sorted(k for k, s in _statuses(doc, backend).items() if s == "due")
    assert not due, f"due after the year closed ({as_of}): {due[:5]}"


def test_the_example_has_no_due_outcome_after_the_year() -> None:

    example = pe.load_state(Path(__file__).parents[1] / "examples" / "state.json")
    for as_of in ("2025-04-01", "2030-01-01"):
        due = [o.rule_id for o in pe.evaluate(example, BOOK, as_of=as_of).outcomes if o.status == "due"]
        assert due == [], as_of


def test_no_rule_has_a_deadline_outside_its_planning_year() -> None:
    assert all(BOOK.start <= r.deadline <= BOOK.end for r in BOOK.rules if r.deadline is not None)


def test_explain_rules_coverage_report_and_reference_show_the_timing(tmp_path: Path) -> None:
    import subprocess
    import sys

    from policy_engine.audit.coverage import load_coverage
    from policy_engine.render.report import render_report

    root = Path(__file__).parents[1]
    example = pe.load_state(root / "examples" / "state.json")
    ev = pe.evaluate(example, BOOK)
    words = BOOK.rule("psi.designated-lead").timing_text()
    assert f"timing: {words}" in pe.explain(ev, "psi.designated-lead", "EXA", BOOK)
    cov = load_coverage(BOOK)
    assert words in cov.to_markdown() and words in cov.to_html()
    assert '"timing": "standing"' in cov.to_json()
    html = render_report(ev, example, BOOK, "html", orgs=["EXA"])
    assert BOOK.rule("psi.designated-lead").timing_label() in html and words in html
    assert "by 31 March 2025 (within the year)" in render_report(ev, example, BOOK, "md", orgs=["EXA"])
    page = (root / "docs" / "reference" / "primary-secondary-interface.md").read_text(encoding="utf-8")
    assert f"**Timing** {words}" in page
    exe = Path(sys.executable).with_name("policy-engine")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-c", "from policy_engine.cli import main; main()"]
    done = subprocess.run([*argv, "rules", "--area", "primary-secondary-interface"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    types = "acute_trust, mental_health_trust, community_provider, ambulance_trust"
    assert f"psi.designated-lead  [obligation; {types}; standing, from 1 April 2024]" in done.stdout

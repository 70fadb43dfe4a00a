"""The testing kit, the table path, the importers and the reports on the 2025/26 rulebook as on
2024/25 (whose own tests are test_properties.py, test_tabular.py, test_importers.py, test_report.py):
each is run here on nhs-2025-26, and the side-by-side report on both years."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import policy_engine as pe
from policy_engine.data.state import state_from_dict
from policy_engine.importers import import_files
from policy_engine.render.report import render_report
from policy_engine.render.years import render_years
from policy_engine.testing import Threshold, boundary_state, negative_status, positive_status, thresholds
from policy_engine.testing.strategies import states

NEW = pe.load_rulebook("nhs-2025-26")
OLD = pe.load_rulebook("nhs-2024-25")
STAMP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
THRESHOLDS = thresholds(NEW)
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"


def _expected(t: Threshold, offset: int) -> str:
    holds = {">=": offset >= 0, ">": offset > 0, "<=": offset <= 0, "<": offset < 0}[t.op]
    rule = NEW.rule(t.rule_id)
    if holds:
        return positive_status(rule.kind)
    return negative_status(rule, max(rule.deadline or NEW.start, NEW.start) + dt.timedelta(days=400))


def test_the_kit_finds_the_2025_26_thresholds() -> None:
    assert len(THRESHOLDS) >= 12
    assert {t.rule_id for t in THRESHOLDS} <= {r.id for r in NEW.rules}


@pytest.mark.parametrize("backend", pe.available_backends())
@pytest.mark.parametrize("threshold", THRESHOLDS, ids=[f"{t.rule_id}[{i}]" for i, t in enumerate(THRESHOLDS)])
def test_2025_26_statuses_flip_exactly_where_the_operator_says(threshold: Threshold, backend: str) -> None:
    for offset in threshold.offsets():
        doc = boundary_state(threshold, offset, NEW)
        outcome = pe.evaluate(doc, NEW, backend=backend, evaluated_at=STAMP).outcome(threshold.rule_id, "ORG001")
        assert outcome.status == _expected(threshold, offset), (offset, outcome.explanation)


def test_the_table_path_agrees_with_the_reference_on_2025_26_boundaries() -> None:
    tabular = pytest.importorskip("policy_engine.tabular")
    pytest.importorskip("polars")
    states_by_id = {
        f"{t.rule_id}-{i}-{offset}": state_from_dict(boundary_state(t, offset, NEW), NEW)
        for i, t in enumerate(THRESHOLDS)
        for offset in t.offsets()
    }
    result = tabular.evaluate_frame(tabular.states_to_frame(states_by_id, NEW), NEW)
    rule_ids = [r.id for r in NEW.rules]
    got = {
        (row["state_id"], row["org_id"], rid): row[rid]
        for row in result.frame.iter_rows(named=True)
        for rid in rule_ids
        if row.get(rid) not in (None, "absent")
    }
    want = {
        (sid, o.org_id, o.rule_id): o.status
        for sid, state in states_by_id.items()
        for o in pe.evaluate(state, NEW, backend="native").outcomes
    }
    assert got == want


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(NEW, max_size=4))
def test_generated_2025_26_states_are_valid_and_the_backends_agree(doc: dict[str, Any]) -> None:
    state = state_from_dict(doc, NEW)
    native = {(o.rule_id, o.org_id): o.status for o in pe.evaluate(state, NEW, backend="native").outcomes}
    for backend in pe.available_backends():
        got = {(o.rule_id, o.org_id): o.status for o in pe.evaluate(state, NEW, backend=backend).outcomes}
        assert got == native, backend


def test_an_imported_state_evaluates_under_2025_26_and_missing_months_are_unknown() -> None:
    state_doc, _ = import_files(
        "ae", [FIXTURES / "ae-msitae-2025-03-made-up.csv"], reference=FIXTURES / "organisations-made-up.csv"
    )
    state = state_from_dict(state_doc, NEW)
    ev = pe.evaluate(state, NEW, as_of="2026-04-20", backend="native")
    ae = [o for o in ev.outcomes if NEW.rule(o.rule_id).measure == "uec.ae-4h"]
    assert ae and all(o.status == "unknown" for o in ae), [(o.org_id, o.status) for o in ae]  # no March 2026 data


def test_the_report_renders_under_2025_26() -> None:
    example = pe.load_state(ROOT / "examples" / "state.json")
    ev = pe.evaluate(example, NEW, as_of="2026-04-20", backend="native")
    page = render_report(ev, example, NEW)
    assert NEW.title in page and f"{len(ev.outcomes)} outcomes; rulebook nhs-2025-26" in page
    assert len(ev.outcomes) > 0


def test_one_organisation_across_both_years_side_by_side(tmp_path: Path) -> None:
    doc = json.loads((ROOT / "examples" / "state.json").read_text(encoding="utf-8"))
    doc["as_of"] = "2026-04-20"
    state = state_from_dict(doc, NEW)
    org = next(o.id for o in state.organisations if o.type == "acute_trust")
    page = render_years(state, [NEW, OLD], orgs=[org])
    assert page.index("nhs-2024-25") < page.index("nhs-2025-26")  # in order of their years
    assert "<code>uec.ae-4h</code>" in page
    md = render_years(state, [OLD, NEW], fmt="md", orgs=[org])
    row = next(line for line in md.splitlines() if line.startswith("| uec.ae-4h |"))
    assert row.count("|") == 5 and "re-dated" in row  # measure, change, one cell per year
    assert not any(f"{label}: {label}:" in md for label in ("Met", "Not met", "Due", "Unknown"))  # said once
    dropped = next(line for line in md.splitlines() if line.startswith("| diag.dm01-95-6wk (nhs-2024-25 only) |"))
    assert "| dropped |" in dropped and dropped.endswith("| — |")
    new = next(line for line in md.splitlines() if line.startswith("| elective.rtt-52wk-share |"))
    assert "| new | — |" in new


def test_a_state_spanning_april_2024_to_march_2026_is_judged_under_each_year() -> None:
    """One acute trust with every month of 2023/24 to 2025/26: each year's rulebook judges its own
    months (A&E 4 hours in March 2025 against 78%, in March 2026 against 78%; 12-hour waits of the
    year against the year before), on the same date, and auto picks the year of the date."""
    months = [f"{y}-{m:02d}" for y in (2023, 2024, 2025, 2026) for m in range(1, 13)]
    months = [m for m in months if "2023-04" <= m <= "2026-03"]
    four = {"2025-03": 7800, "2026-03": 7799}  # exactly 78% in March 2025; one short in March 2026
    twelve = {m: 500 if m < "2024-04" else 400 if m < "2025-04" else 401 for m in months}  # worse in 2025/26
    doc = {
        "as_of": "2026-04-20",
        "organisations": [
            {
                "id": "RAA",
                "type": "acute_trust",
                "services": ["type1_ae"],
                "metrics": {
                    "ae_4h_all": [{"period": m, "numerator": four.get(m, 7500), "denominator": 10000} for m in months],
                    "ae_12h_type1": [{"period": m, "numerator": twelve[m], "denominator": 10000} for m in months],
                },
            }
        ],
    }
    state = state_from_dict(doc, NEW)
    old = pe.evaluate(state, OLD, backend="native")
    new = pe.evaluate(state, NEW, backend="native")
    assert old.outcome("uec.ae-4h-78", "RAA").status == "met"  # 7800/10000 in March 2025
    assert new.outcome("uec.ae-4h-78", "RAA").status == "not_met"  # 7799/10000 in March 2026
    assert old.outcome("uec.ae-12h-reduce", "RAA").status == "met"  # 2024/25 lower than 2023/24
    assert new.outcome("uec.ae-12h-improve", "RAA").status == "not_met"  # 2025/26 higher than 2024/25
    assert pe.rulebook_for("2025-03-31").id == "nhs-2024-25" and pe.rulebook_for("2025-04-01").id == "nhs-2025-26"
    for backend in pe.available_backends():
        assert pe.statuses(state, NEW, backend="compiled") == pe.statuses(state, NEW, backend=backend)

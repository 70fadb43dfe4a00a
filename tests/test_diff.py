"""diff: rules added/removed, thresholds and deadlines moved, and the outcomes that change."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.audit.diff import diff_outcomes, diff_rulebooks
from policy_engine.cli import EXIT_OK, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"


def variant(tmp_path: Path) -> Path:
    root = tmp_path / "variant"
    shutil.copytree(str(policies_root() / "nhs-2024-25"), root)
    uec = root / "urgent-emergency-care.yaml"
    text = uec.read_text(encoding="utf-8")
    text = text.replace(
        'threshold: {value: 78, unit: percent, wording: "a minimum of 78% / no less than 78%"}',
        'threshold: {value: 74, unit: percent, wording: "a local variant: 74%"}',
    )
    start = text.index("  - id: uec.pews-implemented")
    text = text[:start]
    uec.write_text(text, encoding="utf-8")
    cov = root / "coverage.yaml"
    cov.write_text(cov.read_text(encoding="utf-8").replace("uec.pews-implemented", "uec.key-metrics-recorded"))
    return root


def test_rulebook_changes(tmp_path: Path) -> None:
    old, new = pe.load_rulebook(), pe.load_rulebook(variant(tmp_path))
    changes = {(c.kind, c.rule_id): c.detail for c in diff_rulebooks(old, new)}
    assert changes[("threshold", "uec.ae-4h-78")] == "threshold: 78% -> 74%"
    assert ("removed", "uec.pews-implemented") in changes
    assert not diff_rulebooks(old, old)


def test_outcome_changes_on_a_state(tmp_path: Path) -> None:
    old, new = pe.load_rulebook(), pe.load_rulebook(variant(tmp_path))
    state = pe.load_state(EXAMPLE)
    moved = {(m.rule_id, m.org_id): (m.old, m.new) for m in diff_outcomes(old, new, state)}
    assert moved[("uec.ae-4h-78", "EXA")] == ("not_met", "met")  # 74.2% clears a 74% variant
    assert moved[("uec.ae-4h-78-missed", "EXA")] == ("breached", "not_breached")
    assert moved[("uec.pews-implemented", "EXA")][1] == "absent"


def test_cli_diff(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = run(["diff", "nhs-2024-25", str(variant(tmp_path)), "--state", str(EXAMPLE)], stdout=out, stderr=err)
    assert code == EXIT_OK, err.getvalue()
    text = out.getvalue()
    assert "threshold  uec.ae-4h-78: threshold: 78% -> 74%" in text
    assert "uec.ae-4h-78 / EXA: not_met -> met" in text

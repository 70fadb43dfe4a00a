"""Parameter overlays: validated, applied, recorded in the decision record and shown in explanations."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine.audit.records import decision_record, verify_record
from policy_engine.cli import EXIT_INVALID, EXIT_OK, run
from policy_engine.rulebook.overlay import apply_overlay, load_overlay

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = ROOT / "examples" / "overlays" / "qex-local-ambition.yaml"
BOOK = pe.load_rulebook()
HEAD = "overlay: {id: x, title: t, rulebook: nhs-2024-25}\nparameters:\n"
OTHER = "overlay: {id: x, title: t, rulebook: other}\nparameters:\n"
STATE = {
    "as_of": "2025-04-20",
    "organisations": [
        {
            "id": "RA1",
            "type": "acute_trust",
            "services": ["type1_ae"],
            "metrics": {"ae_4h_all": [{"period": "2025-03", "numerator": 790, "denominator": 1000}]},
        }
    ],
}


def test_overlay_changes_the_threshold_and_says_so() -> None:
    local = apply_overlay(BOOK, OVERLAY)
    assert local.digest != BOOK.digest and local.overlays[0].startswith("qex-local-ambition@")
    national = pe.evaluate(STATE, BOOK, backend="native").outcome("uec.ae-4h-78", "RA1")
    varied = pe.evaluate(STATE, local, backend="native")
    outcome = varied.outcome("uec.ae-4h-78", "RA1")
    assert (national.status, outcome.status) == ("met", "not_met")  # 79% meets 78% but not the local 80%
    assert "overridden by overlay qex-local-ambition: 78% -> 80%" in outcome.explanation
    param = next(e for e in outcome.evidence if e.kind == "parameter")
    assert param.value == "80%" and "ICB board" in (param.reference or "")
    assert varied.record.overlays == local.overlays
    assert decision_record(varied)["overlays"] == list(local.overlays)


@pytest.mark.parametrize("backend", pe.available_backends())
def test_backends_agree_under_an_overlay(backend: str) -> None:
    local = apply_overlay(BOOK, OVERLAY)
    assert pe.evaluate(STATE, local, backend=backend).outcomes == pe.evaluate(STATE, local, backend="native").outcomes


def test_record_verification_needs_the_same_overlay() -> None:
    local = apply_overlay(BOOK, OVERLAY)
    ev = pe.evaluate(STATE, local, backend="native")
    state = pe.state_from_dict(STATE)
    assert verify_record(decision_record(ev), state, local).ok
    check = verify_record(decision_record(ev), state, BOOK)
    assert not check.ok and any("rulebook digest" in d for d in check.differences)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEAD + "  no.such-rule:\n    t: {value: 1, reason: why}\n",
            "no such rule",
        ),
        (
            HEAD + "  uec.ae-4h-78:\n    nope: {value: 1, reason: why}\n",
            "no such parameter",
        ),
        (
            HEAD + "  uec.ae-4h-78:\n    threshold: {value: 1, unit: days, reason: why}\n",
            "cannot change the unit",
        ),
        (
            OTHER + "  uec.ae-4h-78:\n    threshold: {value: 1, reason: why}\n",
            "is for rulebook other",
        ),
        (
            HEAD + "  uec.ae-4h-78:\n    threshold: {value: 80}\n",
            "'reason' is a required property",
        ),
    ],
)
def test_bad_overlays_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(text)
    with pytest.raises(pe.RulebookError) as info:
        apply_overlay(BOOK, load_overlay(path))
    assert message in str(info.value)


def test_an_overlay_larger_than_a_rule_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """Regression (issue 20): overlays had no size limit (a 200 MB overlay was parsed for 66 s).
    They have a rule file's limit, and no more than the limit is read."""
    from policy_engine.rulebook.loader import MAX_RULE_FILE_BYTES
    from policy_engine.rulebook.overlay import MAX_OVERLAY_BYTES

    assert MAX_OVERLAY_BYTES == MAX_RULE_FILE_BYTES
    text = HEAD + "  uec.ae-4h-78:\n    threshold: {value: 80, reason: why}\n"
    fits = tmp_path / "fits.yaml"
    fits.write_text(text + "#" * (MAX_OVERLAY_BYTES - len(text) - 1) + "\n")
    assert fits.stat().st_size == MAX_OVERLAY_BYTES
    assert load_overlay(fits).parameters  # the limit itself is accepted
    big = tmp_path / "big.yaml"
    big.write_text(text + "#" * (MAX_OVERLAY_BYTES - len(text)) + "\n")
    with pytest.raises(pe.RulebookError) as info:
        load_overlay(big)
    (detail,) = info.value.details
    assert detail.code == pe.ErrorCode.OVERLAY_TOO_LARGE and detail.subject == str(big)
    assert detail.value == f"{MAX_OVERLAY_BYTES + 1} bytes" and str(MAX_OVERLAY_BYTES) in detail.message
    state = tmp_path / "s.json"
    state.write_text(json.dumps(STATE))
    out, err = io.StringIO(), io.StringIO()
    code = run(["evaluate", str(state), "--overlay", str(big)], stdout=out, stderr=err)
    assert code == EXIT_INVALID and out.getvalue() == ""
    assert "the overlay is too large" in err.getvalue() and str(big) in err.getvalue()


def test_an_endless_overlay_is_read_no_further_than_the_limit() -> None:
    """A device that never ends (``/dev/zero``) is refused as too large, not read for ever."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this platform")
    with pytest.raises(pe.RulebookError) as info:
        load_overlay("/dev/zero")
    (detail,) = info.value.details
    assert detail.code == pe.ErrorCode.OVERLAY_TOO_LARGE and detail.value.startswith("more than")


def test_cli_overlay(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    state.write_text(json.dumps(STATE))
    out, err = io.StringIO(), io.StringIO()
    code = run(
        ["evaluate", str(state), "--overlay", str(OVERLAY), "--format", "json", "--backend", "native"],
        stdout=out,
        stderr=err,
    )
    assert code == EXIT_OK, err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["record"]["overlays"][0].startswith("qex-local-ambition@")
    status = next(o["status"] for o in doc["outcomes"] if o["rule"] == "uec.ae-4h-78")
    assert status == "not_met"
    bad = tmp_path / "bad.yaml"
    bad.write_text("overlay: [")
    code = run(["evaluate", str(state), "--overlay", str(bad)], stdout=io.StringIO(), stderr=(err := io.StringIO()))
    assert code == EXIT_INVALID and "not valid YAML" in err.getvalue()

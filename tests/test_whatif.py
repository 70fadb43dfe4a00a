"""what-if: the smallest change that flips an outcome, exact at the boundary and verified."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.audit.whatif import what_if
from policy_engine.cli import EXIT_OK, run

BOOK = pe.load_rulebook()


def trust(num: int, den: int = 1000, type1: tuple[int, int] | None = None) -> dict[str, Any]:
    metrics: dict[str, Any] = {"ae_4h_all": [{"period": "2025-03", "numerator": num, "denominator": den}]}
    if type1 is not None:
        metrics["ae_4h_type1"] = [{"period": "2025-03", "numerator": type1[0], "denominator": type1[1]}]
    return {
        "as_of": "2025-04-20",
        "organisations": [{"id": "RA1", "type": "acute_trust", "services": ["type1_ae"], "metrics": metrics}],
    }


def test_one_below_needs_exactly_one_more() -> None:
    answer = what_if(trust(779), "uec.ae-4h-78", "RA1", BOOK)
    assert answer.exact and answer.status == "not_met" and answer.flipped_status == "met"
    assert answer.delta == 1
    assert "1 more counted in the numerator of ae_4h_all in 2025-03 (now 779/1000; 780/1000 needed)" in answer.message


def test_exactly_at_a_floor_loses_it_with_one_fewer() -> None:
    answer = what_if(trust(780), "uec.ae-4h-78", "RA1", BOOK)
    assert answer.exact and answer.delta == -1 and answer.flipped_status == "not_met"


def test_strict_threshold_needs_one_over() -> None:
    answer = what_if(trust(900, type1=(800, 1000)), "uec.type1-ae-over-80", "RA1", BOOK)
    assert answer.exact and answer.status == "not_eligible" and answer.delta == 1


@settings(deadline=None)
@given(st.integers(1, 5000).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))))
def test_the_change_is_minimal_and_flips(counts: tuple[int, int]) -> None:
    num, den = counts
    state = trust(num, den)
    answer = what_if(state, "uec.ae-4h-78", "RA1", BOOK)
    before = pe.evaluate(state, BOOK, backend="native").outcome("uec.ae-4h-78", "RA1").status
    if not answer.exact:
        # Only impossible when no numerator within 0..den can flip it.
        assert "no change" in answer.message
        return
    assert answer.delta is not None
    step = int(answer.delta)
    changed = trust(num + step, den)
    assert pe.evaluate(changed, BOOK, backend="native").outcome("uec.ae-4h-78", "RA1").status != before
    short = step - (1 if step > 0 else -1)
    if short != 0:
        almost = trust(num + short, den)
        assert pe.evaluate(almost, BOOK, backend="native").outcome("uec.ae-4h-78", "RA1").status == before


@pytest.mark.parametrize(
    ("state", "rule", "expected"),
    [
        (trust(779) | {"as_of": "2025-03-31"}, "uec.ae-4h-78", "not judged until after its deadline"),
        (
            {"as_of": "2025-04-20", "organisations": [{"id": "RA1", "type": "acute_trust", "services": ["type1_ae"]}]},
            "uec.ae-4h-78",
            "unknown (missing data)",
        ),
        (trust(900, type1=(850, 1000)), "uec.type1-ae-incentive", "decided by other rules"),
        (trust(900), "uec.sdec-12h-7d", "unknown"),
    ],
)
def test_not_computable_cases_say_why(state: dict[str, Any], rule: str, expected: str) -> None:
    answer = what_if(state, rule, "RA1", BOOK)
    assert not answer.exact
    assert expected in answer.message


def test_cli_what_if() -> None:
    out, err = io.StringIO(), io.StringIO()
    example = str(Path(__file__).resolve().parents[1] / "examples" / "state.json")
    code = run(["what-if", example, "uec.ae-4h-78", "EXA", "--format", "json"], stdout=out, stderr=err)
    assert code == EXIT_OK, err.getvalue()
    answer = json.loads(out.getvalue())
    assert answer["exact"] is True and answer["flipped_status"] == "met"

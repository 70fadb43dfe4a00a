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
    assert answer.message == (
        "ae_4h_all in 2025-03: 77.9% → 78.0% (at least 78.0% needed): 1 more counted in the numerator "
        "(now 779 of 1,000; 780 needed) would make it met"
    )


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


# --------------------------------------------------------------------------- in the user's units


def _months(start: str, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    year, month = map(int, start.split("-"))
    out = []
    for i, v in enumerate(values):
        y, m = divmod(month - 1 + i, 12)
        out.append({"period": f"{year + y:04d}-{m + 1:02d}", **v})
    return out


def _org(org_type: str, metrics: dict[str, Any], as_of: str = "2025-04-20", **extra: Any) -> dict[str, Any]:
    return {"as_of": as_of, "organisations": [{"id": "RA1", "type": org_type, "metrics": metrics, **extra}]}


def test_cat2_mean_response_in_minutes_and_seconds() -> None:
    # 2148 s = 35:48 mean over 12 months of 1000 incidents; the standard is a mean of 30:00.
    series = _months("2024-04", [{"numerator": 2148 * 1000, "denominator": 1000}] * 12)
    answer = what_if(_org("ambulance_trust", {"cat2_response": series}), "uec.cat2-mean-30min", "RA1", BOOK)
    assert answer.exact and answer.flipped_status == "met"
    assert "cat2_response in 2024-04..2025-03: mean 35:48 → 30:00 (at most 30:00 needed): 5:48 less on average" in (
        answer.message
    )
    assert "over the 12,000 counted (4,176,000 fewer seconds in the total of 25,776,000; 21,600,000 needed)" in (
        answer.message
    )
    assert (answer.unit, answer.before, answer.after, answer.threshold) == ("seconds", 2148, 1800, 1800)
    assert answer.delta == -4_176_000


def test_max_value_every_month_threshold_comes_down_to_it() -> None:
    # max_value(...) <= 0 was refused as "not a single threshold on a metric".
    state = _org("acute_trust", {"elec_rtt_over_65wk_excl_exempt": [{"period": "2024-09", "value": 14}]}, "2024-10-15")
    answer = what_if(state, "elec.rtt-65wk-sep-2024", "RA1", BOOK)
    assert answer.exact and answer.flipped_status == "met"
    assert answer.message == (
        "elec_rtt_over_65wk_excl_exempt in 2024-09 (max_value: every month at most 0 pathways needed): "
        "2024-09 14 pathways → 0 pathways would make it met"
    )
    assert answer.changes == (("2024-09", 14, 0),) and answer.delta == -14


def test_max_value_met_is_lost_by_the_smallest_step_of_the_data() -> None:
    state = _org("acute_trust", {"elec_rtt_over_65wk_excl_exempt": [{"period": "2024-09", "value": 0}]}, "2024-10-15")
    answer = what_if(state, "elec.rtt-65wk-sep-2024", "RA1", BOOK)
    assert answer.exact and answer.flipped_status == "not_met"
    assert answer.changes == (("2024-09", 0, 1),) and "0 pathways → 1 pathway" in answer.message


def _validated(counts: list[tuple[int, int]]) -> dict[str, Any]:
    series = _months("2024-04", [{"numerator": n, "denominator": d} for n, d in counts])
    return _org("icb", {"elec_rtt_12wk_validated": series})


@settings(deadline=None)
@given(
    st.lists(st.integers(1, 400).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))), min_size=12, max_size=12)
)
def test_every_month_percentage_moves_each_month_the_least(counts: list[tuple[int, int]]) -> None:
    """min_pct(...) >= 90%: every month below moves to the smallest numerator at or over 90%; from
    met, the lowest month moves to the largest numerator under it. Each change flips, one less does not."""
    rule = "elec.validation-90pc-12wk"
    state = _validated(counts)
    answer = what_if(state, rule, "RA1", BOOK)
    assert answer.exact, answer.message
    before = answer.status
    new_counts = list(counts)
    index = {f"2024-{m:02d}" if m >= 4 else f"2025-{m:02d}": i for i, m in enumerate([*range(4, 13), 1, 2, 3])}
    for period, old, new in answer.changes:
        i = index[period]
        assert counts[i][0] == old
        new_counts[i] = (int(new), counts[i][1])
    assert (
        pe.evaluate(_validated(new_counts), BOOK, backend="native").outcome(rule, "RA1").status == answer.flipped_status
    )
    for period, old, new in answer.changes:
        i = index[period]
        short = list(new_counts)
        short[i] = (int(new) - (1 if new > old else -1), counts[i][1])
        assert pe.evaluate(_validated(short), BOOK, backend="native").outcome(rule, "RA1").status == before


def test_total_of_a_count_does_not_go_below_zero() -> None:
    example = pe.load_state(str(Path(__file__).resolve().parents[1] / "examples" / "state.json"))
    answer = what_if(example, "uor.off-framework-interim-ceo-signoff", "EXA", BOOK)
    assert answer.exact and answer.flipped_status == "met"
    assert all(new >= 0 for _, _, new in answer.changes)
    assert "2024-05 3 shifts → 0 shifts; 2024-06 1 shift → 0 shifts" in answer.message


@pytest.mark.parametrize(
    ("rule", "org", "expected"),
    [
        (
            "elec.activity-107",
            "QEX",
            "the measured side (100 * total(elec_vwa_delivered_value, fy2024_25)) / "
            "total(elec_vwa_baseline_value, fy2024_25) is not one metric over one period",
        ),
        ("mh.oap-reduction-2024-25", "QEX", "is not a comparison with a threshold"),
    ],
)
def test_other_conditions_say_precisely_why(rule: str, org: str, expected: str) -> None:
    example = pe.load_state(str(Path(__file__).resolve().parents[1] / "examples" / "state.json"))
    answer = what_if(example, rule, org, BOOK)
    assert not answer.exact and expected in answer.message


def test_a_condition_of_several_parts_names_them() -> None:
    facts = [
        {"name": "sdec_hours_per_day", "value": 10, "date": "2024-04-01", "evidence": "plan"},
        {"name": "sdec_days_per_week", "value": 7, "date": "2024-04-01", "evidence": "plan"},
    ]
    state = _org("acute_trust", {}, services=["type1_ae"], facts=facts)
    answer = what_if(state, "uec.sdec-12h-7d", "RA1", BOOK)
    assert answer.status == "not_met" and not answer.exact
    assert answer.message.startswith(
        "the condition joins 2 conditions with 'and' (fact(\"sdec_hours_per_day\") >= param.min_hours; "
        'fact("sdec_days_per_week") >= param.min_days)'
    )

"""Making Data Count (render/spc.py) against NHSRplotthedots' published reference outputs.

The expected numbers and flags are those of the R package's own tests and snapshots, in the
repository nhs-r-community/NHSRplotthedots (numbers are facts; no code is copied):

- ``tests/testthat/test-ptd_spc_standard.R`` (commit 8aac3239e90ce9ebeb9c3e61f56c207dfc37b225) and its
  snapshot ``tests/testthat/_snaps/ptd_spc_standard.md`` (commit ea2177d4ccfed7dc14d8f57d20f1114d9b235295):
  ``set.seed(123); y = rnorm(20)``, limits with and without outlier screening;
- ``tests/testthat/_snaps/ptd_spc.md`` (commit 174380d653d7a169a76f99deebb9fc21ed5fbbd6): the same series
  faceted in two halves;
- ``tests/testthat/test-ptd_calculate_point_type.R`` (commit 8aac3239e90ce9ebeb9c3e61f56c207dfc37b225):
  the trend, run and two-in-three flags;
- ``tests/testthat/test-ptd_calculate_assurance_type.R`` (commit 7ed6ae9006d4a5bc8f9839c9eb0afeb34fba4d81):
  the assurance of a target against the limits.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.errors import ErrorCode, PolicyError
from policy_engine.render import spc as spc_module
from policy_engine.render.spc import Assurance, Cause, Variation, spc

# R: set.seed(123); rnorm(20) (Mersenne-Twister, Inversion), printed in full precision
RNORM_123 = [
    -0.560475646552213,
    -0.23017748948328,
    1.55870831414912,
    0.070508391424576,
    0.129287735160946,
    1.71506498688328,
    0.460916205989202,
    -1.26506123460653,
    -0.686852851893526,
    -0.445661970099958,
    1.22408179743946,
    0.359813827057364,
    0.400771450594052,
    0.11068271594512,
    -0.555841134754075,
    1.78691313680308,
    0.497850478229239,
    -1.96661715662964,
    0.701355901563686,
    -0.472791407727934,
]


def _close(a: float, b: float, digits: int) -> bool:
    """``a`` shown to ``digits`` significant figures as R's glimpse/tibble shows ``b``."""
    return float(f"{a:.{digits}g}") == pytest.approx(b, abs=0, rel=1e-12)


def test_limits_of_the_reference_series() -> None:
    # _snaps/ptd_spc_standard.md, r1: mean_col 0.1416238, lpl -3.01138, upl 3.294627; nothing flagged
    r = spc(RNORM_123)
    assert _close(r.mean, 0.1416238, 7)
    assert _close(r.lower_limit, -3.01138, 6)
    assert _close(r.upper_limit, 3.294627, 7)
    assert all(p.cause is Cause.COMMON for p in r.points)
    # its relative_to_mean column, as far as the snapshot prints it
    side = [1 if p.value > r.mean else -1 for p in r.points]
    assert side[:15] == [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1, -1, -1]
    # _snaps/ptd_spc.md: n 20, common_cause 20, special_cause_improvement 0 (improvement 'increase')
    r = spc(RNORM_123, improvement="increase")
    assert [p.variation for p in r.points] == [Variation.COMMON_CAUSE] * 20
    assert r.variation is Variation.COMMON_CAUSE and not r.trial


def test_outlier_screening_of_the_reference_series() -> None:
    # test-ptd_spc_standard.R: data$y[15] <- 10 (R counts from 1)
    y = list(RNORM_123)
    y[14] = 10
    screened = spc(y)  # r2: mean 0.6694159, lpl -2.383666, upl 3.722497
    assert _close(screened.mean, 0.6694159, 7)
    assert _close(screened.lower_limit, -2.383666, 7)
    assert _close(screened.upper_limit, 3.722497, 7)
    side = [1 if p.value > screened.mean else -1 for p in screened.points]
    assert side[:14] == [-1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1]
    assert screened.points[14].cause is Cause.ABOVE_LIMIT  # 10 > 3.72
    # the two moving ranges around the outlier are screened out
    assert screened.points[14].moving_range is None and screened.points[15].moving_range is None
    plain = spc(y, screen_outliers=False)  # r3: lpl -4.596625, upl 5.935457
    assert _close(plain.lower_limit, -4.596625, 7)
    assert _close(plain.upper_limit, 5.935457, 7)
    assert plain.upper_limit - plain.lower_limit > screened.upper_limit - screened.lower_limit


@pytest.mark.parametrize(
    ("part", "mean", "lpl", "upl"),
    [(slice(0, 10), 0.0746, -2.60, 2.75), (slice(10, 20), 0.209, -3.28, 3.70)],
)
def test_limits_of_the_reference_facets(part: slice, mean: float, lpl: float, upl: float) -> None:
    # _snaps/ptd_spc.md, facet_field 'facet' (rep(c(0, 1), each = 10)), shown to 3 significant figures
    r = spc(RNORM_123[part])
    assert (_close(r.mean, mean, 3), _close(r.lower_limit, lpl, 3), _close(r.upper_limit, upl, 3)) == (True,) * 3
    assert r.trial  # 10 points: NHSRplotthedots warns of trial limits (ptd_add_short_group_warnings)


def test_two_of_three_on_opposite_sides_of_the_mean_is_common_cause() -> None:
    # test-ptd_spc_standard.R: 1, -1 eight times, then points 15 and 16 at 5.5 and -5.5
    y = [1.0, -1.0] * 8
    y[14], y[15] = 5.5, -5.5
    r = spc(y, improvement="increase")
    assert [p.variation for p in r.points[-2:]] == [Variation.COMMON_CAUSE] * 2


def test_trend_flags() -> None:
    # test-ptd_calculate_point_type.R, ptd_seven_point_trend
    ends = spc_module._trend_ends
    assert ends([]) == []
    assert ends([1, 2, 3, 4, 5, 6]) == [0] * 6
    assert ends([1, 2, 3, 3, 4, 5, 6]) == [0] * 7  # a tie breaks a trend
    assert ends([1, 2, 3, 4, 5, 6, 7]) == [0] * 6 + [1]
    assert ends([2, 1, 2, 3, 4, 5, 6, 7, 3]) == [0] * 7 + [1, 0]
    assert ends([7, 6, 5, 4, 3, 2, 1]) == [0] * 6 + [-1]
    assert ends([2, 7, 6, 5, 4, 3, 2, 1, 3]) == [0] * 7 + [-1, 0]
    # ptd_part_of_seven_trend: the flagged point and the six before it
    extend = spc_module._extend
    assert extend([False] * 6, 7) == [False] * 6
    assert extend([False] * 6 + [True, False], 7) == [True] * 7 + [False]
    assert extend([False] * 7 + [True, False], 7) == [False] + [True] * 7 + [False]


def test_run_flags() -> None:
    # test-ptd_calculate_point_type.R, ptd_seven_point_one_side_mean
    ends = spc_module._run_ends
    assert ends([]) == []
    assert ends([1] * 6) == [False] * 6
    assert ends([1] * 6 + [-1]) == [False] * 7
    assert ends([1] * 8 + [-1]) == [False] * 6 + [True, True, False]
    assert ends([-1] * 8 + [1]) == [False] * 6 + [True, True, False]


def test_two_of_three_flags() -> None:
    # test-ptd_calculate_point_type.R, ptd_two_in_three and ptd_part_of_two_in_three: only the
    # points beyond two sigma are flagged
    two = spc_module._two_of_three

    def flags(close: list[int], side: list[int]) -> list[int]:
        return [int(f) for f in two([bool(c) for c in close], side)]

    assert flags([1, 0, 1], [1, 1, 1]) == [1, 0, 1]
    assert flags([0, 1, 1], [1, 1, 1]) == [0, 1, 1]
    assert flags([1, 1, 0], [1, 1, 1]) == [1, 1, 0]
    assert flags([0, 0, 1, 0, 1, 0, 0], [1] * 7) == [0, 0, 1, 0, 1, 0, 0]
    assert flags([0, 0, 1, 1, 0, 0, 0], [1] * 7) == [0, 0, 1, 1, 0, 0, 0]
    assert flags([1, 0, 0, 1], [1] * 4) == [0, 0, 0, 0]
    assert flags([1, 0, 0, 1, 1], [1] * 5) == [0, 0, 0, 1, 1]
    # on opposite sides of the mean: nothing
    assert flags([1, 0, 1], [1, -1, 1]) == [0, 0, 0]
    assert flags([0, 1, 1], [1, -1, 1]) == [0, 0, 0]
    assert flags([0, 0, 1, 0, 1, 0, 0], [1, -1, 1, -1, 1, -1, 1]) == [0] * 7
    assert flags([0, 0, 1, 1, 0, 0, 0], [-1, 1, -1, 1, -1, 1, -1]) == [0] * 7


@pytest.mark.parametrize(
    ("improvement", "expected"),
    [
        ("increase", [Assurance.FAIL, Assurance.PASS, Assurance.HIT_AND_MISS]),
        ("decrease", [Assurance.PASS, Assurance.FAIL, Assurance.HIT_AND_MISS]),
        (None, [None, None, None]),
    ],
)
def test_assurance(improvement: str | None, expected: list[Assurance | None]) -> None:
    # test-ptd_calculate_assurance_type.R: target 4 against limits (1, 3), (5, 7), (1, 5); here
    # series whose limits are those: mean m, mean moving range a, limits m -/+ 2.66 a
    got = []
    for lpl, upl in ((1, 3), (5, 7), (1, 5)):
        mean, half = (lpl + upl) / 2, (upl - lpl) / 2
        a = half / 2.66
        series = [mean - a / 2, mean + a / 2] * 7
        r = spc(series, improvement=improvement, target=4)  # type: ignore[arg-type]
        assert r.lower_limit == pytest.approx(lpl) and r.upper_limit == pytest.approx(upl)
        got.append(r.assurance)
    assert got == expected


def test_point_types_by_direction() -> None:
    # a point beyond the upper limit: improvement when higher is better, concern when lower is,
    # neither (high) without a direction (ptd_point_type)
    y = [0.0, 1.0] * 6 + [50.0]
    kinds = {d: spc(y, improvement=d).points[-1].variation for d in ("increase", "decrease", None)}  # type: ignore[arg-type]
    assert kinds == {
        "increase": Variation.IMPROVEMENT,
        "decrease": Variation.CONCERN,
        None: Variation.NEITHER_HIGH,
    }
    assert spc(y, improvement="decrease").variation is Variation.CONCERN  # the icon is the last point's


def test_a_constant_series_is_common_cause() -> None:
    # R gives NaN limits here (every moving range 0 is screened out); the package gives the mean
    r = spc([5.0] * 15, improvement="increase", target=6)
    assert (r.lower_limit, r.mean, r.upper_limit) == (5.0, 5.0, 5.0)
    assert all(p.cause is Cause.COMMON for p in r.points)
    assert r.assurance is Assurance.FAIL


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"values": [1.0]}, "values"),
        ({"values": "12"}, "values"),
        ({"values": [1.0, math.nan]}, "values[1]"),
        ({"values": [1.0, True]}, "values[1]"),
        ({"values": [1.0, 2.0], "improvement": "up"}, "improvement"),
        ({"values": [1.0, 2.0], "target": math.inf}, "target"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, object], name: str) -> None:
    values = kwargs.pop("values")
    with pytest.raises(PolicyError) as caught:
        spc(values, **kwargs)  # type: ignore[arg-type]
    (detail,) = caught.value.details
    assert detail.code is ErrorCode.ARGUMENT_VALUE and detail.subject == name
    assert detail.value is not None and detail.message.startswith("expected")


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(deadline=None)
@given(st.lists(finite, min_size=2, max_size=40), st.sampled_from(["increase", "decrease", None]))
def test_readings_are_consistent(values: list[float], improvement: str | None) -> None:
    r = spc(values, improvement=improvement)  # type: ignore[arg-type]
    assert r.lower_limit <= r.lower_two_sigma <= r.mean <= r.upper_two_sigma <= r.upper_limit
    assert r.upper_limit - r.mean == pytest.approx(r.mean - r.lower_limit, rel=1e-9, abs=1e-6)
    for p in r.points:
        beyond = p.value > r.upper_limit or p.value < r.lower_limit
        assert (p.cause in (Cause.ABOVE_LIMIT, Cause.BELOW_LIMIT)) == beyond
        if p.cause is Cause.COMMON:
            assert p.variation is Variation.COMMON_CAUSE
        elif improvement is None:
            assert p.variation in (Variation.NEITHER_HIGH, Variation.NEITHER_LOW)
        else:
            higher_better = (p.cause.side > 0) == (improvement == "increase")
            assert p.variation is (Variation.IMPROVEMENT if higher_better else Variation.CONCERN)
    # mirroring the series mirrors the reading: improvement and concern swap with the direction
    mirrored = spc(
        [-v for v in values], improvement={"increase": "decrease", "decrease": "increase", None: None}[improvement]
    )  # type: ignore[arg-type]
    assert [p.variation for p in mirrored.points] == [
        {Variation.NEITHER_HIGH: Variation.NEITHER_LOW, Variation.NEITHER_LOW: Variation.NEITHER_HIGH}.get(
            p.variation, p.variation
        )
        for p in r.points
    ]


def test_two_trends_meeting_at_a_tie_keep_their_direction() -> None:
    # 1..7, 7, 8..13: the first 7 ends one increasing trend, the second 7 starts another; the step
    # between them is 0, and the point takes the step before it (NHSRplotthedots: "Decreasing")
    y = [float(v) for v in [*range(1, 8), 7, *range(8, 14)]]
    in_trend = spc_module._extend([e != 0 for e in spc_module._trend_ends(y)], spc_module.TREND)
    assert all(in_trend)
    assert spc_module._trend_directions(y, in_trend) == [1] * len(y)
    assert Cause.TREND_DOWN not in [p.cause for p in spc(y).points]

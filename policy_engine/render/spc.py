"""Making Data Count: NHS England's statistical process control (XmR) convention for monthly series.

This follows NHSRplotthedots (the NHS-R community's reference implementation, an R package) and its
defaults, checked against its published test outputs (``tests/test_spc.py``; decision 026):

- the **mean** of the values and the **process limits** at mean ± 2.66 x the mean moving range (the
  absolute difference of consecutive values); moving ranges of 3.267 x the mean moving range or more
  are screened out and the mean moving range taken again (``screen_outliers``, on by default);
- four **special-cause** tests, in this order of precedence, a point flagged by the first that holds:
  1. the point is **beyond a process limit**;
  2. it is part of a **trend** of 7 points each strictly higher (or lower) than the one before;
  3. it is one of **two of three** consecutive points on the same side of the mean that lie beyond
     two sigma (mean ± 2/3 x 2.66 x the mean moving range) but inside the limits;
  4. it is part of a **shift** (run) of 7 points on the same side of the mean (a point on the mean
     ends a run);
- a special cause is **improvement** or **concern** by the improvement direction (``increase`` or
  ``decrease``), or **neither** (high or low) when the direction is not given;
- the **variation** icon is the last point's: common cause, special cause improvement, concern, or
  neither (high or low);
- the **assurance** icon, given a target and a direction: the target beyond the upper limit fails
  consistently when higher is better (passes when lower is better), beyond the lower limit the
  reverse, and otherwise hit and miss; no assurance without a target or a direction.

Fewer than 13 points give *trial* limits (NHSRplotthedots warns the same). Not implemented (options
that are off by default there): rebasing at a change point, limits fixed after n points, facets and
trajectories. Where the reference gives no number (a series of one value, or one whose every moving
range is 0 and so screened out, where R returns NaN limits), this module needs two values and gives
limits equal to the mean (every point common cause).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import Final, Literal

import attrs

from ..errors import PolicyError
from ..io.arguments import wrong_argument

__all__ = [
    "LIMIT",
    "RUN",
    "SCREEN",
    "TREND",
    "TRIAL_BELOW",
    "Assurance",
    "Cause",
    "Spc",
    "SpcPoint",
    "Variation",
    "spc",
]

LIMIT: Final = 2.66
"""The process limits: mean ± LIMIT x mean moving range (3 sigma of an XmR chart)."""
NEAR: Final = 2 * LIMIT / 3
"""Two sigma: mean ± NEAR x mean moving range."""
SCREEN: Final = 3.267
"""A moving range of SCREEN x the mean moving range or more is screened out."""
RUN: Final = 7
"""A shift: this many points in a row on one side of the mean."""
TREND: Final = 7
"""A trend: this many points in a row, each strictly higher (or lower) than the one before."""
TRIAL_BELOW: Final = 13
"""Fewer points than this give trial limits."""

Direction = Literal["increase", "decrease"]


class Cause(enum.Enum):
    """Why a point is a special cause (or that it is not), as NHSRplotthedots names it."""

    COMMON = "common cause"
    ABOVE_LIMIT = "above the upper process limit"
    BELOW_LIMIT = "below the lower process limit"
    TREND_UP = "part of a trend of 7 increasing points"
    TREND_DOWN = "part of a trend of 7 decreasing points"
    TWO_OF_THREE_ABOVE = "2 of 3 points above two sigma"
    TWO_OF_THREE_BELOW = "2 of 3 points below two sigma"
    RUN_ABOVE = "part of a run of 7 points above the mean"
    RUN_BELOW = "part of a run of 7 points below the mean"

    @property
    def side(self) -> int:
        """+1 for a high special cause, -1 for a low one, 0 for common cause."""
        if self is Cause.COMMON:
            return 0
        return 1 if self in (Cause.ABOVE_LIMIT, Cause.TREND_UP, Cause.TWO_OF_THREE_ABOVE, Cause.RUN_ABOVE) else -1


class Variation(enum.Enum):
    """A point's (and, for the last point, the chart's variation icon's) meaning."""

    COMMON_CAUSE = "common_cause"
    IMPROVEMENT = "special_cause_improvement"
    CONCERN = "special_cause_concern"
    NEITHER_HIGH = "special_cause_neutral_high"
    NEITHER_LOW = "special_cause_neutral_low"

    @property
    def words(self) -> str:
        return _VARIATION_WORDS[self]

    @property
    def letter(self) -> str:
        """The letter of its icon: C common cause, I improvement, C! concern, H/L neither."""
        return _VARIATION_LETTERS[self]


_VARIATION_WORDS: Final = {
    Variation.COMMON_CAUSE: "common cause variation: no significant change",
    Variation.IMPROVEMENT: "special cause variation of an improving nature",
    Variation.CONCERN: "special cause variation of a concerning nature",
    Variation.NEITHER_HIGH: "special cause variation, higher (neither improvement nor concern)",
    Variation.NEITHER_LOW: "special cause variation, lower (neither improvement nor concern)",
}
_VARIATION_LETTERS: Final = {
    Variation.COMMON_CAUSE: "~",
    Variation.IMPROVEMENT: "I",
    Variation.CONCERN: "C",
    Variation.NEITHER_HIGH: "H",
    Variation.NEITHER_LOW: "L",
}


class Assurance(enum.Enum):
    """Whether the process, as it is, will meet the target (the assurance icon)."""

    PASS = "consistent_pass"  # noqa: S105 (an assurance, not a password)
    FAIL = "consistent_fail"
    HIT_AND_MISS = "inconsistent"

    @property
    def words(self) -> str:
        return _ASSURANCE_WORDS[self]

    @property
    def letter(self) -> str:
        return {Assurance.PASS: "P", Assurance.FAIL: "F", Assurance.HIT_AND_MISS: "?"}[self]


_ASSURANCE_WORDS: Final = {
    Assurance.PASS: "the target will consistently be met (it lies outside the process limits, on the passing side)",
    Assurance.FAIL: "the target will consistently be missed (it lies outside the process limits, on the failing side)",
    Assurance.HIT_AND_MISS: "the target will be hit and missed at random (it lies between the process limits)",
}


@attrs.frozen
class SpcPoint:
    """One value of the series with its moving range and its special-cause reading."""

    value: float
    moving_range: float | None
    """|value - previous value|; None for the first point and for a range screened out."""
    cause: Cause
    variation: Variation


@attrs.frozen
class Spc:
    """An XmR chart's numbers: mean, limits, every point's reading and the icons' meanings."""

    points: tuple[SpcPoint, ...]
    mean: float
    mean_moving_range: float
    lower_limit: float
    upper_limit: float
    lower_two_sigma: float
    upper_two_sigma: float
    improvement: Direction | None
    target: float | None
    variation: Variation
    """The variation icon: the last point's."""
    assurance: Assurance | None
    """The assurance icon, when a target and an improvement direction are given."""

    @property
    def trial(self) -> bool:
        """Whether the limits are trial limits (fewer than 13 points)."""
        return len(self.points) < TRIAL_BELOW

    def summary(self) -> str:
        """The variation and assurance in words."""
        text = f"Variation: {self.variation.words}."
        if self.assurance is not None:
            text += f" Assurance: {self.assurance.words}."
        if self.trial:
            text += f" Trial limits ({len(self.points)} points; fewer than {TRIAL_BELOW})."
        return text


def _check(values: Sequence[float], improvement: object, target: object) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise wrong_argument(PolicyError, "values", "a sequence of numbers", values)
    out: list[float] = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise wrong_argument(PolicyError, f"values[{i}]", "a finite number", v)
        out.append(float(v))
    if len(out) < 2:
        raise wrong_argument(PolicyError, "values", "at least 2 values (one moving range)", values)
    if improvement not in (None, "increase", "decrease"):
        raise wrong_argument(PolicyError, "improvement", "'increase', 'decrease' or None", improvement)
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target)
    ):
        raise wrong_argument(PolicyError, "target", "a finite number or None", target)
    return out


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _extend(flags: list[bool], length: int) -> list[bool]:
    """Every point of a window of ``length`` ending at a flagged point (the window's last point)."""
    n = len(flags)
    return [any(flags[j] for j in range(i, min(n, i + length))) for i in range(n)]


def spc(
    values: Sequence[float],
    *,
    improvement: Direction | None = None,
    target: float | None = None,
    screen_outliers: bool = True,
) -> Spc:
    """The XmR chart of ``values`` (in time order), read by the Making Data Count rules.

    ``improvement`` says which way is better (``None``: neither); ``target`` gives the assurance.
    Raises ``PolicyError`` (code ``argument.value``) for fewer than two values, a value that is not
    a finite number, or a direction or target that is not one.
    """
    ys = _check(values, improvement, target)
    n = len(ys)
    mean = math.fsum(ys) / n
    ranges: list[float | None] = [None] + [abs(ys[i] - ys[i - 1]) for i in range(1, n)]
    present = [r for r in ranges if r is not None]
    amr = math.fsum(present) / len(present)
    if screen_outliers and amr > 0:
        ranges = [r if r is not None and r < SCREEN * amr else None for r in ranges]
        kept = [r for r in ranges if r is not None]
        amr = math.fsum(kept) / len(kept)
    lpl, upl = mean - LIMIT * amr, mean + LIMIT * amr
    nlpl, nupl = mean - NEAR * amr, mean + NEAR * amr

    outside = [y > upl or y < lpl for y in ys]
    side = [_sign(y - mean) for y in ys]
    close = [not o and (y < nlpl or y > nupl) for y, o in zip(ys, outside, strict=True)]

    in_trend = _extend([t != 0 for t in _trend_ends(ys)], TREND)
    trend_dir = _trend_directions(ys, in_trend)
    two_of_three = _two_of_three(close, side)
    in_run = _extend(_run_ends(side), RUN)

    points = []
    for i, y in enumerate(ys):
        above = side[i] > 0
        if outside[i]:
            cause = Cause.ABOVE_LIMIT if side[i] == 1 else Cause.BELOW_LIMIT
        elif in_trend[i]:
            cause = Cause.TREND_UP if trend_dir[i] == 1 else Cause.TREND_DOWN
        elif two_of_three[i]:
            cause = Cause.TWO_OF_THREE_ABOVE if above else Cause.TWO_OF_THREE_BELOW
        elif in_run[i]:
            cause = Cause.RUN_ABOVE if above else Cause.RUN_BELOW
        else:
            cause = Cause.COMMON
        points.append(SpcPoint(y, ranges[i], cause, _variation(cause, improvement)))

    assurance = None
    if target is not None and improvement is not None:
        if target > upl:
            assurance = Assurance.FAIL if improvement == "increase" else Assurance.PASS
        elif target < lpl:
            assurance = Assurance.PASS if improvement == "increase" else Assurance.FAIL
        else:
            assurance = Assurance.HIT_AND_MISS
    return Spc(
        points=tuple(points),
        mean=mean,
        mean_moving_range=amr,
        lower_limit=lpl,
        upper_limit=upl,
        lower_two_sigma=nlpl,
        upper_two_sigma=nupl,
        improvement=improvement,
        target=None if target is None else float(target),
        variation=points[-1].variation,
        assurance=assurance,
    )


def _trend_ends(ys: Sequence[float]) -> list[int]:
    """+1 (-1) at the last point of TREND points each strictly higher (lower) than the one before, else 0."""
    ends = [0] * len(ys)
    for i in range(TREND - 1, len(ys)):
        steps = {_sign(ys[j] - ys[j - 1]) for j in range(i - TREND + 2, i + 1)}
        if steps in ({1}, {-1}):
            ends[i] = steps.pop()
    return ends


def _trend_directions(ys: Sequence[float], in_trend: Sequence[bool]) -> list[int]:
    """The direction of each point of a trend: the step after it when the next point is in the trend
    too, else the step before it (0 outside trends).

    Where two trends meet at a tie (the last point of one equal to the first of the next), the step
    after is 0 and the step before is taken; NHSRplotthedots calls that point decreasing whichever
    way its trend goes (the one place this module departs from it on purpose)."""
    n = len(ys)
    out = [0] * n
    for i in range(n):
        if in_trend[i]:
            after = _sign(ys[i + 1] - ys[i]) if i + 1 < n and in_trend[i + 1] else 0
            out[i] = after or (_sign(ys[i] - ys[i - 1]) if i > 0 else 0)
    return out


def _two_of_three(close: Sequence[bool], side: Sequence[int]) -> list[bool]:
    """The points beyond two sigma (``close``) that are in a window of three consecutive points all
    on one side of the mean, two or more of them beyond two sigma."""
    n = len(close)

    def window(start: int) -> bool:
        if start < 0 or start + 3 > n:
            return False
        return sum(close[start : start + 3]) >= 2 and abs(sum(side[start : start + 3])) == 3

    return [close[i] and any(window(i - k) for k in range(3)) for i in range(n)]


def _run_ends(side: Sequence[int]) -> list[bool]:
    """The last point of RUN points in a row on one side of the mean (a point on the mean, 0, is on neither)."""
    return [
        i >= RUN - 1 and side[i] != 0 and all(side[j] == side[i] for j in range(i - RUN + 1, i))
        for i in range(len(side))
    ]


def _variation(cause: Cause, improvement: Direction | None) -> Variation:
    side = cause.side
    if side == 0:
        return Variation.COMMON_CAUSE
    if improvement is None:
        return Variation.NEITHER_HIGH if side > 0 else Variation.NEITHER_LOW
    better = side if improvement == "increase" else -side
    return Variation.IMPROVEMENT if better > 0 else Variation.CONCERN

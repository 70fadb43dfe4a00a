"""format_in_unit: numbers in their unit's natural form (m:ss, £ with separators, percentages)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.language.numbers import format_in_unit, round_fraction


@pytest.mark.parametrize(
    ("value", "unit", "places", "text"),
    [
        (Fraction(2148), "seconds", None, "35:48"),
        (Fraction(1800), "seconds", None, "30:00"),
        (Fraction(4295, 2), "seconds", None, "35:48"),  # 2147.5 s: halves away from zero
        (Fraction(3725), "seconds", None, "1:02:05"),
        (Fraction(-348), "seconds", None, "-5:48"),
        (Fraction(665303600), "gbp", None, "£665,303,600"),
        (Fraction(-12345, 10), "gbp", None, "-£1,234.50"),
        (Fraction(12), "GBP thousands", None, "£12 thousand"),
        (Fraction(741686, 10000), "percent", None, "74.2%"),
        (Fraction(741686, 10000), "percent", 3, "74.169%"),
        (Fraction(1234), "beds", None, "1,234 beds"),
        (Fraction(1), "beds", None, "1 bed"),
        (Fraction(1), "people", None, "1 people"),
        (Fraction(5, 2), "days", None, "2.5 days"),
        (Fraction(-1, 2), None, None, "-0.5"),
        (Fraction(3), "rank", None, "3"),
    ],
)
def test_natural_forms(value: Fraction, unit: str | None, places: int | None, text: str) -> None:
    assert format_in_unit(value, unit, places=places) == text


@settings(deadline=None)
@given(st.fractions(min_value=-(10**12), max_value=10**12))
def test_seconds_read_back_as_the_rounded_value(value: Fraction) -> None:
    text = format_in_unit(value, "seconds")
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("-").split(":")]
    assert all(0 <= p < 60 for p in parts[1:]) and len(parts) in (2, 3)
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    assert sign * seconds == round_fraction(value) or seconds == 0


@settings(deadline=None)
@given(st.fractions(min_value=-(10**15), max_value=10**15), st.integers(0, 4))
def test_separated_numbers_read_back_exactly(value: Fraction, places: int) -> None:
    text = format_in_unit(value, None, places=places)
    assert Fraction(text.replace(",", "")) == round_fraction(value, places)
    whole = text.lstrip("-").split(".")[0]
    assert all(len(g) == 3 for g in whole.split(",")[1:]) and 1 <= len(whole.split(",")[0]) <= 3
    assert abs(round_fraction(value, places) - value) <= Fraction(1, 2 * 10**places)

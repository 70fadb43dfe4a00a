"""render.words: Markdown escaping, numbers with units, dates and periods in words."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from policy_engine.language.rules import Period
from policy_engine.render.words import (
    code,
    date_words,
    escape,
    month_words,
    number,
    one_line,
    period_label,
    period_phrase,
    period_range,
    quantity,
)


def test_markdown_text() -> None:
    assert escape(r"a_b *c* [d] #e |f| `g` \h <i>") == r"a\_b \*c\* \[d\] \#e \|f\| \`g\` \\h &lt;i>"
    assert code("a|b") == "`a\\|b`"
    assert one_line("  two\n  lines\tand  tabs ") == "two lines and tabs"


@pytest.mark.parametrize(
    ("value", "text"),
    [(Fraction(1800), "1800"), (Fraction(667, 10), "66.7"), (Fraction(-7, 8), "-0.875"), (Fraction(1, 3), "1/3")],
)
def test_numbers_are_exact(value: Fraction, text: str) -> None:
    assert number(value) == text


@pytest.mark.parametrize(
    ("value", "unit", "points", "text"),
    [
        (Fraction(78), "percent", False, "78%"),
        (Fraction(5), "percent", True, "5 percentage points"),
        (Fraction(1), "percent", True, "1 percentage point"),
        (Fraction(3), "rank", False, "3"),
        (Fraction(3), None, False, "3"),
        (Fraction(25, 2), "GBP", False, "£12.5"),
        (Fraction(40), "GBP thousands", False, "£40 thousand"),
        (Fraction(1800), "seconds", False, "1800 seconds"),
        (Fraction(1), "hours", False, "1 hour"),
        (Fraction(1), "deliveries", False, "1 delivery"),
        (Fraction(1), "people", False, "1 people"),
        (Fraction(1), "bed days", False, "1 bed days"),
    ],
)
def test_quantities(value: Fraction, unit: str | None, points: bool, text: str) -> None:
    assert quantity(value, unit, points=points) == text


def test_dates_months_and_periods() -> None:
    assert date_words(dt.date(2025, 3, 31)) == "31 March 2025"
    assert month_words(2025 * 12 + 2) == "March 2025"
    month = Period("m", 2025 * 12 + 2, 2025 * 12 + 2)
    year = Period("y", 2024 * 12 + 3, 2025 * 12 + 2)
    part = Period("p", 2024 * 12 + 3, 2024 * 12 + 6)
    span = Period("s", 2024 * 12, 2025 * 12 + 2)
    assert [period_label(p) for p in (month, year, part, span)] == [
        "March 2025",
        "2024/25",
        "April to July 2024",
        "January 2024 to March 2025",
    ]
    assert period_range(month) == "2025-03" and period_range(year) == "2024-04 to 2025-03"
    assert period_phrase(month) == "in March 2025 (2025-03)"
    assert period_phrase(year) == "over 2024/25 (2024-04 to 2025-03)"

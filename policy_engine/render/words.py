"""Text for readers: Markdown escaping, numbers with their units, dates and periods in words.

Pure functions of their arguments, shared by the English renderer (``render.english``) and the
reference pages (``render.pages``). Dates and months in words are ``language.months``'s (the rules'
timing text uses them too), re-exported here.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..language.ast import Num, render
from ..language.months import MONTH_NAMES, date_words, format_month, month_words
from ..language.rules import Period

__all__ = [
    "MONTHS",
    "code",
    "date_words",
    "escape",
    "month_words",
    "number",
    "one_line",
    "period_label",
    "period_phrase",
    "period_range",
    "quantity",
]

MONTHS = MONTH_NAMES
"""English month names, January first (``language.months.MONTH_NAMES``)."""

# --------------------------------------------------------------------------- Markdown text

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


def escape(text: str) -> str:
    """Escape text for inline Markdown (and table cells): it renders as written."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def code(text: str) -> str:
    """An inline code span (table-safe)."""
    return "`" + text.replace("|", "\\|") + "`"


def one_line(text: str) -> str:
    """Runs of white space (line breaks included) as single spaces, trimmed."""
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- numbers


def number(value: Fraction) -> str:
    """Exact decimal text of a parameter value (``66.7``, ``1800``); a fraction if it does not terminate.

    A terminating value is written as the rule language writes a literal (``language.ast.render``).
    """
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    return render(Num(value, 0))


def quantity(value: Fraction, unit: str | None, *, points: bool = False) -> str:
    """A number with its unit as a reader writes it: ``78%``, ``5 percentage points``, ``1800 seconds``.

    ``points`` words a percentage as a difference of percentages (percentage points).
    """
    text = number(value)
    if unit is None or unit == "rank":
        return text
    if unit == "percent":
        return f"{text} percentage point{'' if value == 1 else 's'}" if points else f"{text}%"
    if unit.lower() == "gbp":
        return f"£{text}"
    if unit == "GBP thousands":
        return f"£{text} thousand"
    if value == 1 and " " not in unit and unit.endswith("s") and unit != "people":
        unit = unit[:-3] + "y" if unit.endswith("ies") else unit[:-1]
    return f"{text} {unit}"


# --------------------------------------------------------------------------- dates and periods


def period_label(period: Period) -> str:
    """``March 2025``, ``2024/25`` (an April-March year), ``April to July 2024``, ``January 2024 to March 2025``."""
    start, end = period.start, period.end
    if start == end:
        return month_words(start)
    if start % 12 == 3 and end == start + 11:
        year = start // 12
        return f"{year}/{(year + 1) % 100:02d}"
    if start // 12 == end // 12:
        return f"{MONTHS[start % 12]} to {MONTHS[end % 12]} {end // 12}"
    return f"{month_words(start)} to {month_words(end)}"


def period_range(period: Period) -> str:
    """``2025-03`` or ``2024-04 to 2025-03``."""
    if period.start == period.end:
        return format_month(period.start)
    return f"{format_month(period.start)} to {format_month(period.end)}"


def period_phrase(period: Period) -> str:
    """``in March 2025 (2025-03)`` or ``over 2024/25 (2024-04 to 2025-03)``."""
    word = "in" if period.start == period.end else "over"
    return f"{word} {period_label(period)} ({period_range(period)})"

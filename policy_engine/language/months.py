"""Months and dates: the calendar arithmetic the rules need, in one place."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

MONTH_FORMAT = "expected a month as YYYY-MM, e.g. 2025-03"
MONTH_RANGE = "expected a month from 0001-01 to 9999-12 (a month whose days are dates)"
DATE_FORMAT = "expected a date as YYYY-MM-DD, e.g. 2025-03-31"
"""What the errors about months and dates say (the value itself is shown once, beside them)."""


def parse_month(text: str) -> int:
    """``"2025-03"`` -> month index (year * 12 + month - 1). Raises ValueError, also for year 0000."""
    m = _MONTH_RE.fullmatch(text)
    if not m:
        raise ValueError(MONTH_FORMAT)
    if m.group(1) == "0000":  # no day of year 0 is a date (datetime's years are 1 to 9999)
        raise ValueError(MONTH_RANGE)
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def format_month(index: int) -> str:
    """Month index -> ``"YYYY-MM"``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
"""English month names, January first (never the locale's)."""


def month_words(index: int) -> str:
    """Month index -> ``"March 2025"``."""
    return f"{MONTH_NAMES[index % 12]} {index // 12}"


def date_words(value: dt.date) -> str:
    """A date as a reader writes it: ``"31 March 2025"``."""
    return f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}"


def month_end(index: int) -> dt.date:
    """The last day of the month."""
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def month_complete(index: int, as_of: dt.date) -> bool:
    """A month's data count once the month has ended before ``as_of``."""
    return month_end(index) < as_of


def parse_date(text: object) -> dt.date:
    """Strict ISO date (``YYYY-MM-DD``); accepts a ``datetime.date``. Raises ValueError.

    The error says what is expected, not what was given: callers show the value once, beside it."""
    if isinstance(text, dt.datetime):
        raise ValueError("expected a date, not a date and time")
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(DATE_FORMAT)
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:  # e.g. "day is out of range for month"
        raise ValueError(f"expected a valid date as YYYY-MM-DD, e.g. 2025-03-31: {exc}") from None

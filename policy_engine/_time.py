"""Months and dates: the calendar arithmetic the rules need, in one place."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> int:
    """``"2025-03"`` -> month index (year * 12 + month - 1). Raises ValueError."""
    m = _MONTH_RE.fullmatch(text)
    if not m:
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def format_month(index: int) -> str:
    """Month index -> ``"YYYY-MM"``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(index: int) -> dt.date:
    """The last day of the month."""
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def month_complete(index: int, as_of: dt.date) -> bool:
    """A month's data count once the month has ended before ``as_of``."""
    return month_end(index) < as_of


def parse_date(text: object) -> dt.date:
    """Strict ISO date (``YYYY-MM-DD``); accepts a ``datetime.date``. Raises ValueError."""
    if isinstance(text, dt.datetime):
        raise ValueError(f"expected a date, got a datetime {text!r}")
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}")
    return dt.date.fromisoformat(text)

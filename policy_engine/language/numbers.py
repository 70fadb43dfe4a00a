"""Exact numbers as text: the one place a Fraction becomes the decimal people read."""

from __future__ import annotations

from fractions import Fraction

__all__ = ["exact_decimal", "format_number"]


def format_number(v: Fraction, unit: str | None = None) -> str:
    """Exact where the decimal terminates, otherwise 4 decimal places marked with '~'."""
    if v.denominator == 1:
        text = str(v.numerator)
    else:
        d = v.denominator
        for p in (2, 5):
            while d % p == 0:
                d //= p
        if d == 1:
            text = exact_decimal(v)
        else:
            text = "~" + format(float(v), ".4f")
    if unit == "percent":
        return text + "%"
    return f"{text} {unit}" if unit else text


def exact_decimal(v: Fraction, max_digits: int | None = None) -> str:
    """The decimal expansion of ``v``, which must terminate (or is cut at ``max_digits``)."""
    sign = "-" if v < 0 else ""
    v = abs(v)
    whole, rest = divmod(v.numerator, v.denominator)
    digits: list[str] = []
    while rest and (max_digits is None or len(digits) < max_digits):
        rest *= 10
        d, rest = divmod(rest, v.denominator)
        digits.append(str(d))
    return f"{sign}{whole}.{''.join(digits)}"

"""Exact numbers as text: the one place a Fraction becomes the decimal people read."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "MAX_DECIMAL_PLACES",
    "MAX_INTEGER_DIGITS",
    "NUMBER_LIMITS",
    "bounded_decimal",
    "exact_decimal",
    "format_in_unit",
    "format_number",
    "round_fraction",
]

MAX_INTEGER_DIGITS = 20
"""Most digits a number in a state, a rule, a parameter or a statistics cell may have before the
decimal point (its magnitude is below 10^20; narrower limits, e.g. a state's 10^12, apply after)."""

MAX_DECIMAL_PLACES = 30
"""Most digits a number may have after the decimal point, trailing zeros aside."""

NUMBER_LIMITS = (
    f"expected a number with at most {MAX_INTEGER_DIGITS} digits before the decimal point "
    f"and {MAX_DECIMAL_PLACES} after it"
)
"""What an error about a number beyond those limits says (the value is shown beside it)."""

_MAX_TEXT = MAX_INTEGER_DIGITS + MAX_DECIMAL_PLACES + 40  # room for signs, zeros, an exponent


def bounded_decimal(value: Decimal | int | str) -> Decimal | None:
    """``value`` as an exact Decimal without trailing zeros, or None if it is not a finite number
    within ``MAX_INTEGER_DIGITS`` and ``MAX_DECIMAL_PLACES`` (or is text that is not a number).

    Never does arithmetic on the exponent or the digits beyond counting them, so a hostile
    ``1e-999999999`` or a million-digit literal is refused at once, before anything turns it into
    a Fraction (whose denominator would be 10^999999999) or an int (Python refuses more than 4300
    digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        # bit_length is exact and cheap; 10^20 < 2^67
        return Decimal(value) if value.bit_length() <= 67 and abs(value) < 10**MAX_INTEGER_DIGITS else None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT and not _zero_padded(text):
            return None
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
    if not value.is_finite():
        return None
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    if end == 1 and digits[0] == 0:
        return Decimal(0)
    exponent += len(digits) - end
    places = -exponent if exponent < 0 else 0
    whole = end + exponent  # digits before the point
    if places > MAX_DECIMAL_PLACES or whole > MAX_INTEGER_DIGITS:
        return None
    return Decimal((sign, digits[:end], exponent))


def shown_number(value: object) -> str:
    """A number as an error message shows it: as given, cut to 80 characters; an integer too long
    for Python to write as text (more than 4300 digits), by its number of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {round(value.bit_length() * 0.30103)} digits"
    text = str(value)
    return text if len(text) <= 80 else f"{text[:40]}... ({len(text)} characters)"


def _zero_padded(text: str) -> bool:
    """Whether a long number text is long only for leading or trailing zeros (``0.50000...``)."""
    core = text.lstrip("+-").lstrip("0")
    if "." in core:
        core = core.rstrip("0")
    return len(core) <= _MAX_TEXT


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


def round_fraction(v: Fraction, places: int = 0) -> Fraction:
    """``v`` rounded to ``places`` decimal places, halves away from zero (exact: no float)."""
    scale = 10**places
    q = abs(v) * scale
    whole, rest = divmod(q.numerator, q.denominator)
    if 2 * rest >= q.denominator:
        whole += 1
    return Fraction(-whole if v < 0 else whole, scale)


def _grouped(v: Fraction, places: int) -> str:
    """``v`` rounded to ``places`` decimals, with thousands separators (``1,234,567.8``)."""
    r = round_fraction(v, places)
    sign = "-" if r < 0 else ""
    scaled = abs(r) * 10**places
    assert scaled.denominator == 1
    digits = str(scaled.numerator).rjust(places + 1, "0")
    whole, frac = (digits[:-places], digits[-places:]) if places else (digits, "")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def _clock(seconds: Fraction) -> str:
    """Whole seconds as ``m:ss`` (``35:48``), or ``h:mm:ss`` from an hour up."""
    total = round_fraction(seconds)
    sign = "-" if total < 0 else ""
    n = abs(int(total))
    hours, rest = divmod(n, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def format_in_unit(value: Fraction | int, unit: str | None, *, places: int | None = None) -> str:
    """A number in its unit's natural form, as a reader of a report or an answer expects it.

    ``seconds``: minutes and seconds (``2148`` -> ``35:48``; ``h:mm:ss`` from an hour), to the
    whole second. ``gbp``: pounds with thousands separators (``£1,234,567``; to the penny
    where the value is not whole); ``GBP thousands``: ``£1,234 thousand``. ``percent``: one decimal
    place (``74.2%``) unless ``places`` says otherwise. Any other unit: the number with thousands
    separators (whole where it is whole, else one decimal place, or ``places``) and the unit
    (``1,234 beds``, ``1 bed``); ``None`` or ``rank``: the number alone. Rounding is exact, halves away from
    zero; ``format_number`` is the exact form for explanations and records.
    """
    v = Fraction(value)
    if unit == "seconds":
        return _clock(v)
    if unit == "percent":
        return _grouped(v, 1 if places is None else places) + "%"
    if unit is not None and unit.lower() == "gbp":
        places = (0 if v.denominator == 1 else 2) if places is None else places
        text = _grouped(v, places)
        return f"-£{text[1:]}" if text.startswith("-") else f"£{text}"
    if places is None:
        places = 0 if v.denominator == 1 else 1
    if unit == "GBP thousands":
        text = _grouped(v, places)
        return (f"-£{text[1:]}" if text.startswith("-") else f"£{text}") + " thousand"
    text = _grouped(v, places)
    if unit is None or unit == "rank":
        return text
    if v == 1 and " " not in unit and unit.endswith("s") and unit != "people":
        unit = unit[:-3] + "y" if unit.endswith("ies") else unit[:-1]  # 1 bed, 1 day, 1 facility
    return f"{text} {unit}"

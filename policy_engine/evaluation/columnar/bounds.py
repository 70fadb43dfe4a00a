"""Float64 values with error bounds: a compiled sub-expression (``_X``) carries, beside
its value, a bound on its absolute rounding error and a doubt flag; these are the bounds of the
values read from a table and of exact quotients, and when a comparison is in doubt."""

from __future__ import annotations

import sys

import attrs
import polars as pl

_EPS = sys.float_info.epsilon
_SAFETY = 4.0
"""Comparisons are in doubt when the sides are within 4x their combined error bounds."""


@attrs.frozen
class _X:
    """A compiled sub-expression: its value, (numbers) its absolute error bound, its doubt flag.

    ``doubt`` None means "never in doubt" (keeps the expressions small). ``ratio`` is the exact
    value as integers ``(numerator, denominator > 0)`` where there is one (a pct/rate quotient or a
    literal, or one arithmetic step on two of those: deeper ratios would grow the expressions
    exponentially, so they stop there), so two of them compare exactly by cross-multiplying in
    Int128. ``decimal`` marks a value that is exactly the decimal its float prints as (a value
    read from the table, one of them picked by min/max, or a literal such as 2.2): the reference
    reads table values that way and the shortest decimal that prints a float is monotone in it,
    so two such values compare exactly as floats."""

    value: pl.Expr
    err: pl.Expr | None = None
    doubt: pl.Expr | None = None
    ratio: tuple[pl.Expr, pl.Expr] | None = None
    decimal: bool = False
    depth: int = 0  # 0: a quotient's or literal's own ratio; 1: one arithmetic step on two of those


def _or(*flags: pl.Expr | None) -> pl.Expr | None:
    present = [f for f in flags if f is not None]
    if not present:
        return None
    out = present[0]
    for f in present[1:]:
        out = out | f
    return out


def _null(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


_EXACT_INT = float(2**53)


def _integral(x: pl.Expr) -> pl.Expr:
    """Whole numbers below 2**53 are exact in float64."""
    return ((x == x.round(0)) & (x.abs() < _EXACT_INT)).fill_null(True)


def _decimal_err(x: pl.Expr) -> pl.Expr:
    """Error bound of a float read as the decimal it prints as: 0 for whole numbers."""
    return pl.when(_integral(x)).then(0.0).otherwise(x.abs() * _EPS)


def _quotient_err(num: pl.Expr, den: pl.Expr, v: pl.Expr) -> pl.Expr:
    """Error bound of num/den (integers) computed in float64: 0 when it divides exactly."""
    exact = ((num % den) == 0) & (num.abs() < 2**53) & (den.abs() < 2**53)
    return pl.when(exact.fill_null(False)).then(0.0).otherwise(v.abs() * (2 * _EPS))

"""Exact ratios in Int128: a value's exact ``(numerator, denominator > 0)`` where it has
one, so that two such values compare exactly by cross-multiplying."""

from __future__ import annotations

import polars as pl

_RATIO_MAX = 2**62
_HALF_INT128 = 2**63


def _small(*parts: pl.Expr) -> pl.Expr:
    """Every part below 2**63 in magnitude, so a product of two fits in Int128 (false if null)."""
    limit = pl.lit(_HALF_INT128, dtype=pl.Int128)
    return pl.all_horizontal([(p.abs() < limit) for p in parts]).fill_null(False)


def _neg(x: pl.Expr) -> pl.Expr:
    """-x for Int128 (polars has no negation for it)."""
    return pl.lit(0, dtype=pl.Int128) - x


def _ratio_arith(op: str, a: tuple[pl.Expr, pl.Expr], b: tuple[pl.Expr, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    """The exact result of a op b as (numerator, denominator > 0) in Int128, or null where the
    parts are too large to multiply safely (the float path, with its doubt, then decides)."""
    (n1, d1), (n2, d2) = a, b
    if op == "+":
        n, d = n1 * d2 + n2 * d1, d1 * d2
    elif op == "-":
        n, d = n1 * d2 - n2 * d1, d1 * d2
    elif op == "*":
        n, d = n1 * n2, d1 * d2
    else:  # a / b: the value is null when n2 is 0; the sign moves to the numerator
        negative = n2 < 0
        n = pl.when(negative).then(_neg(n1 * d2)).otherwise(n1 * d2)
        d = pl.when(negative).then(_neg(d1 * n2)).otherwise(d1 * n2)
    ok = _small(n1, d1, n2, d2)
    return pl.when(ok).then(n), pl.when(ok).then(d)

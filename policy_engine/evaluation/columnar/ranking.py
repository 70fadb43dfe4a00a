"""rank() in floats: a rule's cohort ranking per state with its near-tie bound, and
near ties settled exactly where every member within the bound has an exact ratio."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs
import polars as pl

from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from ..expressions import find_rank_argument
from .bounds import _SAFETY, _or
from .cohorts import cohort_declared
from .columns import BOUND_PREFIX, DEN_PREFIX, DOUBT_PREFIX, NUM_PREFIX, RANK_PREFIX, VALUE_PREFIX, WHOLE_PREFIX
from .compiler import Leaves, _Compiler


def _rank_exprs(
    book: Rulebook, rule: Rule, columns: frozenset[str], leaves: Leaves, present: frozenset[str]
) -> list[pl.Expr]:
    """A rank() rule's cohort ranking, as ``cohort_ranks`` does it: the rank (1 = greatest, ties
    share), the float value ranked, the near-tie bound, and two doubt flags: the row's value is
    within the bound of another's (``__d:rank:``), or some member's guard or value is itself in
    doubt, so the whole cohort must be re-ranked (``__w:rank:``)."""
    arg_node = find_rank_argument(rule.condition)
    assert arg_node is not None
    c = _Compiler(book, rule, columns, leaves, present)
    arg = c.compile(arg_node)
    assert arg.err is not None
    typed = pl.col("org_type").is_in(list(rule.applies_to))
    member = typed
    guard_doubt: pl.Expr | None = None
    guard_value: pl.Expr = pl.lit(True)
    if rule.applicable_if is not None:
        guard = c.compile(rule.applicable_if)
        member = member & guard.value.fill_null(False)
        guard_doubt = guard.doubt
        guard_value = guard.value
    declared = cohort_declared(rule, columns)
    value = pl.when(member & declared).then(arg.value)
    rank = value.rank("min", descending=True).over("state_id").cast(pl.Float64)
    bound = (2 * _SAFETY * pl.when(member).then(arg.err).max()).over("state_id")
    # A member whose value or membership is unknown makes the others' ranks ranges: the reference
    # ranks such a cohort (``_cohort``), as it does one whose inputs are in doubt.
    uncertain = typed & (guard_value.is_null() | (member & arg.value.is_null()))
    whole = (declared & uncertain).any().over("state_id")
    inputs_doubt = _or(guard_doubt, arg.doubt)
    if inputs_doubt is not None:
        whole = whole | (typed & inputs_doubt).fill_null(False).any().over("state_id")
    rid = rule.id
    out = [
        rank.alias(RANK_PREFIX + rid),
        value.alias(VALUE_PREFIX + rid),
        bound.fill_null(0.0).alias(BOUND_PREFIX + rid),
        whole.alias(WHOLE_PREFIX + rid),
    ]
    if arg.ratio is not None:  # the exact value, to settle near ties without the reference
        out += [
            pl.when(member).then(arg.ratio[0]).alias(NUM_PREFIX + rid),
            pl.when(member).then(arg.ratio[1]).alias(DEN_PREFIX + rid),
        ]
    return out


def _settle_near_ties(work: pl.DataFrame, rid: str) -> pl.DataFrame:
    """Set the rank() doubt flag of a rule: a near tie in floats, or a whole cohort in doubt. Near
    ties are first settled exactly where every member within the bound has an exact value (the
    Int128 ratio of its rank argument): the row's rank becomes 1 + the members above it beyond
    the bound + the members within it whose exact value is greater, and it is no longer in doubt."""
    near = _near_ties(work, rid)
    whole = work.get_column(WHOLE_PREFIX + rid)
    rank = work.get_column(RANK_PREFIX + rid)
    if near.any() and NUM_PREFIX + rid in work.columns:
        rows = near.arg_true().to_list()
        states = work.get_column("state_id")
        members = (
            work.select(
                pl.int_range(pl.len()).alias("i"),
                "state_id",
                VALUE_PREFIX + rid,
                BOUND_PREFIX + rid,
                NUM_PREFIX + rid,
                DEN_PREFIX + rid,
            )
            .filter(
                pl.col("state_id").is_in(states.gather(rows).unique().implode())
                & pl.col(VALUE_PREFIX + rid).is_not_null()
            )
            .partition_by("state_id", as_dict=True, maintain_order=True)
        )
        cohorts: dict[Any, tuple[_Cohort, dict[int, Fraction | None]]] = {}
        for (sid,), m in members.items():
            i, v, b, n, d = (m.get_column(c).to_list() for c in m.columns if c != "state_id")
            exact = {
                j: (Fraction(nj, dj) if nj is not None and dj else None) for j, nj, dj in zip(i, n, d, strict=True)
            }
            cohorts[sid] = (_Cohort.of_members(i, v, b), exact)
        settled: dict[int, float] = {}
        for row in rows:
            cohort, exact = cohorts[states[row]]
            if any(exact[j] is None for j in cohort.near(row)):  # row itself included
                continue
            settled[row] = float(cohort.exact_rank(row, exact))
        if settled:
            rank = rank.scatter(list(settled), list(settled.values()))
            near = near.scatter(list(settled), False)
    return work.with_columns(rank.alias(RANK_PREFIX + rid), (near | whole).alias(DOUBT_PREFIX + "rank:" + rid))


def _near_ties(work: pl.DataFrame, rid: str) -> pl.Series:
    """Rows whose ranked value lies within the near-tie bound of another member's, in its state."""
    v, b = VALUE_PREFIX + rid, BOUND_PREFIX + rid
    ranked = (
        work.select(pl.int_range(pl.len()).alias("i"), "state_id", v, b)
        .filter(pl.col(v).is_not_null())
        .sort("state_id", v)
    )
    gap_prev = (pl.col(v) - pl.col(v).shift(1)).over("state_id")
    gap_next = (pl.col(v).shift(-1) - pl.col(v)).over("state_id")
    near = ranked.select(
        "i",
        ((pl.col(b) > 0) & ((gap_prev <= pl.col(b)).fill_null(False) | (gap_next <= pl.col(b)).fill_null(False))).alias(
            "n"
        ),
    )
    out = pl.Series("n", [False] * len(work), dtype=pl.Boolean)
    hits = near.filter(pl.col("n")).get_column("i")
    return out.scatter(hits, True) if len(hits) else out


@attrs.frozen
class _Cohort:
    """A rank() cohort's float values in ascending order, their rows, and (value, bound) by row."""

    values: list[float]
    rows: list[int]
    of: dict[int, tuple[float, float]]

    @classmethod
    def of_members(cls, rows: Sequence[int], values: Sequence[float | None], bounds: Sequence[float]) -> _Cohort:
        """The cohort of these rows: those with a value (the others are not ranked)."""
        kept = sorted((v, j, b) for j, v, b in zip(rows, values, bounds, strict=True) if v is not None)
        return cls([v for v, _, _ in kept], [j for _, j, _ in kept], {j: (v, b) for v, j, b in kept})

    def _window(self, i: int) -> tuple[float, float, int, int]:
        """Row i's value and bound, and the index range of the values within twice the bound
        (a superset of those within the bound, whatever the rounding of the window's ends)."""
        mine, bound = self.of[i]
        lo = bisect.bisect_left(self.values, mine - 2 * bound)
        hi = bisect.bisect_right(self.values, mine + 2 * bound)
        return mine, bound, lo, hi

    def near(self, i: int) -> list[int]:
        """The members whose value is within row i's bound of its own (row i included)."""
        mine, bound, lo, hi = self._window(i)
        return [j for j, v in zip(self.rows[lo:hi], self.values[lo:hi], strict=True) if abs(v - mine) <= bound]

    def above(self, i: int) -> int:
        """How many members' values are above row i's by more than its bound."""
        mine, bound, lo, hi = self._window(i)
        return (len(self.values) - hi) + sum(1 for v in self.values[lo:hi] if v - mine > bound)

    def exact_rank(self, i: int, exact: Mapping[int, Any]) -> Fraction:
        """Row i's rank: 1 + the members above it beyond the bound (floats decide those) + the
        members within the bound whose exact value is greater than row i's."""
        own = exact[i]
        assert isinstance(own, Fraction)
        greater = sum(1 for j in self.near(i) if isinstance(v := exact[j], Fraction) and v > own)
        return Fraction(1 + self.above(i) + greater)

"""The float pass over a frame: the rules compiled once per (rulebook, rules, columns),
each group of types evaluated on its own rows, stratum by stratum, and put back in row order."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import polars as pl

from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from ..decide import dependency_levels
from .columns import BOUND_PREFIX, DOUBT_PREFIX, STATUS_ENUM, STATUS_PREFIX, VALUE_PREFIX, WHOLE_PREFIX
from .compiler import Leaves
from .grouping import _groups
from .ranking import _rank_exprs, _settle_near_ties
from .statuses import _status_exprs

_OPT = pl.QueryOptFlags.none()
"""Plan optimisation costs more than it saves on these wide, one-step plans (measured: ~1.3 s of
planning per call with common-subexpression elimination, for 10 rows)."""


def _with(frame: pl.DataFrame, exprs: Sequence[pl.Expr]) -> pl.DataFrame:
    return frame.lazy().with_columns(exprs).collect(optimizations=_OPT)


@functools.lru_cache(maxsize=64)
def _compiled(
    book: Rulebook, ids: tuple[str, ...], columns: frozenset[str]
) -> tuple[Leaves, dict[str, list[pl.Expr]], dict[str, tuple[pl.Expr, pl.Expr]]]:
    """These rules compiled against a frame's columns, once per (rulebook, rule ids, column set)."""
    leaves: Leaves = ({}, {}, {}, {})
    present = frozenset(ids)
    rules = [r for r in book.rules if r.id in present]
    ranks = {r.id: _rank_exprs(book, r, columns, leaves, present) for r in rules if r.uses_rank}
    decided = {r.id: _status_exprs(book, r, columns, leaves, present) for r in rules}
    return leaves, ranks, decided


_ROW = "__i"


def decide_frame(book: Rulebook, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Float statuses and doubt flags for every rule and row, one column per rule, and the rank()
    rules' ranked values, near-tie bounds and whole-cohort doubt flags: (statuses, doubts, ranking).

    Each group of organisation types is evaluated on its own rows, with only its rules and the
    columns they read (most rows are organisations few rules apply to), and the results are put
    back in row order. A rule that does not apply to an organisation's type has a null status."""
    types = frame.get_column("org_type")
    keys: list[str] = [c for c in ("state_id", "org_id", "org_type", "as_of") if c in frame.columns]
    parts: list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]] = []
    for group in _groups(book):
        mask = types.is_in(list(group.types))
        n = int(mask.sum())
        if not n:
            continue
        sub = frame.select(keys + sorted(group.columns & set(frame.columns)))
        rows = mask.arg_true()
        if n != len(frame):
            sub = sub[rows]
        s, d, r = _decide_rules(book, group.rules, sub)
        row = rows.alias(_ROW)
        parts.append((_tagged(s, row), _tagged(d, row), _tagged(r, row)))
    ruled = [t for group in _groups(book) for t in group.types]
    rest = (~types.is_in(ruled)).arg_true().alias(_ROW)  # types no rule applies to (PCNs here)
    if len(rest) or not parts:
        empty = pl.DataFrame([rest])
        parts.append((empty, empty, empty))
    rank_rules = [r for r in book.rules if r.uses_rank]

    def assemble(k: int, names: list[str], dtype: pl.DataType, fill: Any) -> pl.DataFrame:
        frames = [p[k] for p in parts]
        whole = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal")
        if len(frames) > 1:
            whole = whole.sort(_ROW)
        have = set(whole.columns)
        columns = [
            (pl.col(c).fill_null(fill) if fill is not None else pl.col(c))
            if c in have
            else pl.lit(fill, dtype=dtype).alias(c)
            for c in names
        ]
        # The row index keeps the height when every column is a literal (e.g. no rows at all).
        return whole.select(pl.col(_ROW), *columns).drop(_ROW)

    ids = [r.id for r in book.rules]
    statuses = assemble(0, ids, STATUS_ENUM, None)
    doubts = assemble(1, ids, pl.Boolean(), False)
    ranking_cols = [f"{p}{r.id}" for r in rank_rules for p in (VALUE_PREFIX, BOUND_PREFIX, WHOLE_PREFIX)]
    ranking = assemble(2, ranking_cols, pl.Float64(), None)
    return statuses, doubts, ranking


def _tagged(frame: pl.DataFrame, row: pl.Series) -> pl.DataFrame:
    """The frame with its rows' indexes in the whole chunk (a frame of no columns has no height)."""
    return frame.with_columns(row) if frame.width else pl.DataFrame([row])


def _decide_rules(
    book: Rulebook, rules: tuple[Rule, ...], frame: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``decide_frame`` for some rules on the rows they apply to. Rules are added stratum by
    stratum so each reads the statuses of the rules before it."""
    leaves, ranks, decided = _compiled(book, tuple(r.id for r in rules), frozenset(frame.columns))
    levels = dependency_levels(book)
    work = frame
    for step in leaves:
        if step:
            work = _with(work, [e.alias(k) for k, e in step.items()])
    for level in sorted({levels[r.id] for r in rules}):
        at_level = [r for r in rules if levels[r.id] == level]
        ranked = [r for r in at_level if r.uses_rank]
        if ranked:
            work = _with(work, [e for r in ranked for e in ranks[r.id]])
            for r in ranked:
                work = _settle_near_ties(work, r.id)
        exprs = []
        for r in at_level:
            status, doubt = decided[r.id]
            exprs += [status.alias(STATUS_PREFIX + r.id), doubt.alias(DOUBT_PREFIX + r.id)]
        work = _with(work, exprs)
    statuses = work.select([pl.col(STATUS_PREFIX + r.id).alias(r.id) for r in rules])
    doubts = work.select([pl.col(DOUBT_PREFIX + r.id).alias(r.id) for r in rules])
    ranking = work.select(
        [pl.col(f"{p}{r.id}") for r in rules if r.uses_rank for p in (VALUE_PREFIX, BOUND_PREFIX, WHOLE_PREFIX)]
    )
    return statuses, doubts, ranking

"""The exact fallback: every cell the float pass left in doubt re-decided by the
reference evaluator (a whole state where a cohort's ranking is in doubt), and ``run``, the
backend's entry point."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs
import polars as pl

from ...data.state import OrgView
from ...language.ast import Call, walk
from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from .. import native
from ..decide import decide
from ..expressions import UNKNOWN, Env, evaluate, find_rank_argument
from .cohorts import declared_cohorts
from .columns import BOUND_PREFIX, VALUE_PREFIX, WHOLE_PREFIX, columns_read
from .frame import decide_frame
from .ranking import _Cohort


@attrs.frozen
class Resolution:
    """What the exact fallback did for one chunk."""

    cells: int
    rows: int
    states: int


ViewsOfRows = Callable[[pl.DataFrame, Sequence[int], Collection[str]], list[tuple[OrgView, dt.date]]]
"""``(frame, row indexes, columns needed) -> [(OrgView, as_of)]``: reference views of rows."""


def run(book: Rulebook, frame: pl.DataFrame, views_of_rows: ViewsOfRows) -> tuple[pl.DataFrame, Resolution]:
    """Statuses for every row (one status column per rule id, null where the rule does not apply
    to the organisation's type), with every doubtful cell re-decided exactly."""
    statuses, doubts, ranking = decide_frame(book, frame)
    doubtful_rows = doubts.select(pl.any_horizontal(pl.all())).to_series().arg_true().to_list()
    if not doubtful_rows:
        return statuses, Resolution(0, 0, 0)
    rules = {r.id: r for r in book.rules}
    state_ids = frame.get_column("state_id")
    flags_of = dict(zip(doubtful_rows, doubts[doubtful_rows].iter_rows(named=True), strict=True))
    cells = sum(sum(1 for v in f.values() if v) for f in flags_of.values())
    whole_states: set[Any] = set()
    if ranking.width:  # a rulebook without rank() rules has no ranking columns
        whole = ranking.select(pl.any_horizontal([pl.col(c) for c in ranking.columns if c.startswith(WHOLE_PREFIX)]))
        whole_states = set(state_ids.filter(whole.to_series().fill_null(False)).to_list())
    reads_outcomes = [r.id for r in book.rules if r.uses_rank and _rank_reads_outcomes(r)]
    for i in doubtful_rows:  # a rank argument that reads outcomes: the reference ranks the cohort
        if any(flags_of[i][rid] for rid in reads_outcomes):
            whole_states.add(state_ids[i])
    rows_of = _rows_by_state(frame) if whole_states or ranking.width else {}
    fixed: dict[int, dict[str, str]] = {}
    every = columns_read(book, book.rules) & set(frame.columns) if whole_states else set()
    for sid in whole_states:  # a member's rank input itself in doubt: the reference ranks the cohort
        members = rows_of[sid]
        views = views_of_rows(frame, members, every)
        index_of = {v.org.id: members[k] for k, (v, _) in enumerate(views)}
        for o in native.run(book, [v for v, _ in views], views[0][1], declared_cohorts(frame, members)):
            fixed.setdefault(index_of[o.org_id], {})[o.rule_id] = o.status
    single = [i for i in doubtful_rows if state_ids[i] not in whole_states]
    if single:
        ranks = _ExactRanks(book, frame, ranking, views_of_rows, rows_of, [(i, flags_of[i]) for i in single])
        needed = columns_read(book, [rules[k] for i in single for k, v in flags_of[i].items() if v])
        views = views_of_rows(frame, single, needed & set(frame.columns))
        current = statuses[single].iter_rows(named=True)
        for (view, as_of), i, row in zip(views, single, current, strict=True):
            flags = flags_of[i]
            known = {k: v for k, v in row.items() if v is not None}
            for rule in book.rules:  # dependency order: what a rule reads is exact before it
                if not (flags[rule.id] and rule.applies_to_type(view.org.type)):
                    continue
                rank = ranks.rank(rule, i) if rule.uses_rank else UNKNOWN
                known[rule.id] = decide(rule, view, as_of, book, known, rank).status
            fixed[i] = {k: known[k] for k, v in flags.items() if v}
    return _patch(statuses, fixed), Resolution(cells, len(fixed), len(whole_states))


def _rank_reads_outcomes(rule: Rule) -> bool:
    arg = find_rank_argument(rule.condition)
    return arg is not None and any(isinstance(n, Call) and n.func == "outcome" for n in walk(arg))


def _rows_by_state(frame: pl.DataFrame) -> dict[Any, list[int]]:
    """Row indexes of each state, in row order (one pass over the frame)."""
    grouped = (
        frame.select(pl.col("state_id"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("i"))
        .group_by("state_id", maintain_order=True)
        .agg("i")
    )
    return dict(zip(grouped.get_column("state_id").to_list(), grouped.get_column("i").to_list(), strict=True))


class _ExactRanks:
    """Exact ranks of the rows whose rank() is in doubt (a near tie in floats).

    A row's rank counts the cohort members whose float value is above its own by more than the
    near-tie bound (floats decide those), plus the members within the bound whose exact value
    (evaluated by the reference evaluator) is greater. The members within the bound of any
    doubtful row of a state are evaluated together, once per (rule, state): the cost is linear
    in the rows in doubt, not in the rows of the chunk."""

    def __init__(
        self,
        book: Rulebook,
        frame: pl.DataFrame,
        ranking: pl.DataFrame,
        views_of_rows: ViewsOfRows,
        rows_of: Mapping[Any, list[int]],
        flagged: Sequence[tuple[int, Mapping[str, bool]]],
    ) -> None:
        self.book, self.frame, self.ranking, self.views_of_rows = book, frame, ranking, views_of_rows
        self.rows_of = rows_of
        self.state_ids = frame.get_column("state_id")
        self.doubtful: dict[tuple[str, Any], list[int]] = {}
        for i, flags in flagged:
            for r in book.rules:
                if r.uses_rank and flags[r.id]:
                    self.doubtful.setdefault((r.id, self.state_ids[i]), []).append(i)
        self.exact: dict[tuple[str, Any], dict[int, Any]] = {}
        self.cohorts: dict[tuple[str, Any], _Cohort] = {}

    def _cohort(self, rule: Rule, sid: Any) -> _Cohort:
        key = (rule.id, sid)
        if key not in self.cohorts:
            members = self.rows_of[sid]
            values = self.ranking.get_column(VALUE_PREFIX + rule.id).gather(members).to_list()
            bounds = self.ranking.get_column(BOUND_PREFIX + rule.id).gather(members).to_list()
            self.cohorts[key] = _Cohort.of_members(members, values, bounds)
        return self.cohorts[key]

    def _exact_values(self, rule: Rule, sid: Any) -> dict[int, Any]:
        key = (rule.id, sid)
        if key not in self.exact:
            cohort = self._cohort(rule, sid)
            near: set[int] = set()
            for i in self.doubtful.get(key, []):
                if i in cohort.of:
                    near.update(cohort.near(i))
            arg = find_rank_argument(rule.condition)
            assert arg is not None
            needed = columns_read(self.book, [rule]) & set(self.frame.columns)
            order = sorted(near)
            exact: dict[int, Any] = {}
            for j, (view, as_of) in zip(order, self.views_of_rows(self.frame, order, needed), strict=True):
                env = Env(
                    rule, view, as_of, self.book.metrics, self.book.periods, {}, evidence=None, record_comparisons=False
                )
                exact[j] = evaluate(arg, env)
            self.exact[key] = exact
        return self.exact[key]

    def rank(self, rule: Rule, i: int) -> Fraction | Any:
        sid = self.state_ids[i]
        cohort = self._cohort(rule, sid)
        if i not in cohort.of:
            return UNKNOWN
        return cohort.exact_rank(i, self._exact_values(rule, sid))


def _patch(statuses: pl.DataFrame, fixed: Mapping[int, Mapping[str, str]]) -> pl.DataFrame:
    """Replace the listed cells (row index -> rule id -> exact status)."""
    by_rule: dict[str, tuple[list[int], list[str]]] = {}
    for i, cells in fixed.items():
        for rid, status in cells.items():
            idx, vals = by_rule.setdefault(rid, ([], []))
            idx.append(i)
            vals.append(status)
    cols = []
    for rid, (idx, vals) in by_rule.items():
        series = statuses.get_column(rid).clone().scatter(idx, vals)
        cols.append(series)
    return statuses.with_columns(cols) if cols else statuses

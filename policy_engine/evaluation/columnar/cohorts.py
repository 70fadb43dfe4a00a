"""Complete cohorts declared in a table: the ``cohorts`` column read as the cohorts a
state declares, and whether a rank() rule's cohort is declared."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import polars as pl

from ...data.state import CompleteCohort
from ...language.rules import Rule
from .columns import COHORTS_COLUMN


def cohort_declared(rule: Rule, present: Collection[str]) -> pl.Expr:
    """Whether every row of the state declares the complete cohort the rank() rule ranks within
    (every one of its types, ``scope:type`` in the ``cohorts`` column)."""
    if COHORTS_COLUMN not in present or rule.cohort is None:
        return pl.lit(False)
    col = pl.col(COHORTS_COLUMN)
    each = [col.list.contains(pl.lit(f"{rule.cohort}:{t}")).fill_null(False) for t in rule.applies_to]
    return pl.all_horizontal(each).all().over("state_id")


def declared_cohorts(frame: pl.DataFrame, rows: Sequence[int]) -> tuple[CompleteCohort, ...]:
    """The complete cohorts the rows' state declares (those every one of its rows lists)."""
    if COHORTS_COLUMN not in frame.columns or not rows:
        return ()
    return cohorts_of_cells(frame.get_column(COHORTS_COLUMN).gather(list(rows)).to_list())


def cohorts_of_cells(cells: Iterable[Sequence[str] | None]) -> tuple[CompleteCohort, ...]:
    """The cohorts every one of a state's ``cohorts`` cells lists (``scope:type`` entries)."""
    common = set.intersection(*(set(x or ()) for x in cells))
    by_scope: dict[str, list[str]] = {}
    for entry in sorted(common):
        scope, _, org_type = entry.partition(":")
        by_scope.setdefault(scope, []).append(org_type)
    return tuple(CompleteCohort(scope, tuple(types), TABLE_COHORT_SOURCE) for scope, types in by_scope.items())


TABLE_COHORT_SOURCE = "declared in the table's cohorts column"

"""A rule's status for every row, as a polars expression, with its doubt flag."""

from __future__ import annotations

from typing import Any

import polars as pl

from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from .bounds import _or
from .columns import STATUS_ENUM
from .compiler import Leaves, _Compiler


def _status(name: str) -> pl.Expr:
    return pl.lit(name, dtype=STATUS_ENUM)


def _status_exprs(
    book: Rulebook, rule: Rule, columns: frozenset[str], leaves: Leaves, present: frozenset[str]
) -> tuple[pl.Expr, pl.Expr]:
    """(status, doubt) of one rule for every row, mirroring ``_decide._status``."""
    c = _Compiler(book, rule, columns, leaves, present)
    cond = c.compile(rule.condition)
    applies = pl.col("org_type").is_in(list(rule.applies_to))
    guard = c.compile(rule.applicable_if) if rule.applicable_if is not None else None
    before: pl.Expr | None = None  # not yet judged (Rule.judged_on is false)
    if rule.timing == "standing":
        if rule.in_force is not None:
            before = pl.col("as_of") < pl.lit(rule.in_force, dtype=pl.Date)
    elif rule.deadline is not None:
        before = pl.col("as_of") <= pl.lit(rule.deadline, dtype=pl.Date)
    chain: Any = pl.when(~applies).then(None)
    if guard is not None:
        chain = (
            chain.when(guard.value.is_null())
            .then(_status("unknown"))
            .when(~guard.value)
            .then(_status("not_applicable"))
        )
    if rule.kind != "obligation":
        if before is not None:
            chain = chain.when(before).then(_status("due"))
        status = (
            chain.when(cond.value.is_null())
            .then(_status("unknown"))
            .when(cond.value)
            .then(_status(rule.positive_status))
            .otherwise(_status(rule.negative_status))
        )
        doubt = _or(guard.doubt if guard else None, cond.doubt)
    else:
        done_doubt: pl.Expr | None = None
        true = cond.value.fill_null(False)
        if rule.completed_on is not None and rule.deadline is not None:
            done = c.compile(rule.completed_on)
            done_doubt = done.doubt
            late = (done.value > pl.lit(rule.deadline, dtype=pl.Date)).fill_null(False)
            chain = chain.when(true & late).then(_status("met_late"))
        chain = chain.when(true).then(_status("met"))
        if before is not None:
            chain = chain.when(before).then(_status("due"))
        status = chain.when(cond.value.is_null()).then(_status("unknown")).otherwise(_status(rule.negative_status))
        doubt = _or(guard.doubt if guard else None, cond.doubt, done_doubt)
    flag = (applies & doubt).fill_null(False) if doubt is not None else pl.lit(False)
    return status.cast(STATUS_ENUM), flag

"""A rule's status for every row, as a polars expression, with its doubt flag."""

from __future__ import annotations

import functools
import operator
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
    """(status, doubt) of one rule for every row: its decision table (``language.statuses``),
    translated clause by clause into a polars ``when`` chain (a clause's tests are ANDed; an input
    the compiled expression leaves null is ``unknown``)."""
    c = _Compiler(book, rule, columns, leaves, present)
    cond = c.compile(rule.condition)
    guard = c.compile(rule.applicable_if) if rule.applicable_if is not None else None
    done = c.compile(rule.completed_on) if rule.completed_on is not None and rule.deadline is not None else None
    start = rule.judged_from  # not yet judged before it (Rule.judged_on)
    before = pl.lit(False) if start is None else pl.col("as_of") < pl.lit(start, dtype=pl.Date)
    late = (done.value > pl.lit(rule.deadline, dtype=pl.Date)).fill_null(False) if done is not None else None
    values: dict[str, pl.Expr | None] = {
        "guard": guard.value if guard is not None else None,
        "cond": cond.value,
        "judged": ~before,
        "late": late,
    }

    def test(name: str, want: object) -> pl.Expr:
        v = values[name]
        assert v is not None, f"{rule.id}: the decision table reads {name}, which the rule does not have"
        if want == "unknown":
            return v.is_null()
        return (v if want is True else ~v).fill_null(False)

    applies = pl.col("org_type").is_in(list(rule.applies_to))
    chain: Any = pl.when(~applies).then(None)
    for clause in rule.decision_table:
        status = _status(clause.status)
        if not clause.tests:
            chain = chain.otherwise(status)
            break
        chain = chain.when(functools.reduce(operator.and_, (test(n, w) for n, w in clause.tests))).then(status)
    doubt = _or(guard.doubt if guard else None, cond.doubt, done.doubt if done is not None else None)
    flag = (applies & doubt).fill_null(False) if doubt is not None else pl.lit(False)
    return chain.cast(STATUS_ENUM), flag

"""The columnar backend: every rule compiled once into polars expressions over a table of
organisation-period rows, evaluated a column at a time.

Exactness. The reference evaluator works in exact fractions; this backend works in float64 and
carries, beside every numeric value, a bound on its absolute rounding error. A comparison whose
two sides are closer than their combined error bounds is *in doubt*: its float result might
differ from the exact one. Doubt propagates to every rule that reads the doubtful result
(through ``outcome()``), and every (row, rule) cell in doubt is re-decided by the reference
evaluator (``_decide.decide``) on that row, in dependency order; a doubtful ``rank()`` (a near
tie within a cohort) re-decides the whole state with the reference backend. So the statuses
returned are the reference statuses, always; floats only decide the cells where they cannot be
wrong. ``tests/test_tabular.py`` checks this against the reference on generated states, including
values exactly on every threshold.

The input frame is the *normalised* frame of ``policy_engine.tabular`` (typed columns, already
validated); column names are those of the documented mapping.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs

from .._extras import require

with require("tables", feature="the columnar evaluator (policy_engine.evaluation.columnar)"):
    import polars as pl

from ..data.state import CompleteCohort, OrgView
from ..language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary, walk
from ..language.checker import metric_calls, metric_key, name_arg
from ..language.months import format_month, month_end
from ..language.rules import STATUSES, Rule
from ..rulebook.loader import Rulebook
from . import native
from .decide import decide, dependency_levels
from .expressions import UNKNOWN, Env, evaluate, find_rank_argument

_EPS = sys.float_info.epsilon
_SAFETY = 4.0
"""Comparisons are in doubt when the sides are within 4x their combined error bounds."""


STATUS_ENUM = pl.Enum(list(STATUSES))
"""Statuses are a polars Enum: one byte per cell, not a string."""


def _status(name: str) -> pl.Expr:
    return pl.lit(name, dtype=STATUS_ENUM)


STATUS_PREFIX = "__s:"
DOUBT_PREFIX = "__d:"
RANK_PREFIX = "__r:"
VALUE_PREFIX = "__v:"
BOUND_PREFIX = "__b:"
WHOLE_PREFIX = "__w:"
NUM_PREFIX = "__rn:"
DEN_PREFIX = "__rd:"


def metric_column(metric: str, month: int, part: str) -> str:
    """``metric.<name>.<YYYY-MM>.<numerator|denominator|value>`` (see docs/tabular.md)."""
    return f"metric.{metric}.{format_month(month)}.{part}"


def fact_column(fact: str, part: str | None = None) -> str:
    """``fact.<name>`` (the value), ``fact.<name>.date``, ``fact.<name>.evidence``."""
    return f"fact.{fact}" if part is None else f"fact.{fact}.{part}"


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


_RATIO_MAX = 2**62


def _lit_number(v: Fraction) -> _X:
    f = float(v)
    err = 0.0 if Fraction(f) == v else abs(f) * _EPS
    ratio = None
    if abs(v.numerator) < _RATIO_MAX and v.denominator < _RATIO_MAX:
        ratio = (pl.lit(v.numerator, dtype=pl.Int128), pl.lit(v.denominator, dtype=pl.Int128))
    return _X(pl.lit(f, dtype=pl.Float64), pl.lit(err, dtype=pl.Float64), ratio=ratio, decimal=Fraction(repr(f)) == v)


def _null(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


class _Compiler:
    """Compiles one rule's expressions against the columns a frame actually has."""

    def __init__(
        self, book: Rulebook, rule: Rule, columns: frozenset[str], leaves: Leaves, present: frozenset[str]
    ) -> None:
        self.book = book
        self.rule = rule
        self.columns = columns
        self.leaves = leaves
        self.present = present  # the rules evaluated in this frame (others do not apply to its rows)

    def col(self, name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in self.columns else _null(dtype)

    def compile(self, node: Node) -> _X:
        if isinstance(node, Num):
            return _lit_number(node.value)
        if isinstance(node, Str):
            return _X(pl.lit(node.value, dtype=pl.String))
        if isinstance(node, Bool):
            return _X(pl.lit(node.value, dtype=pl.Boolean))
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            x = self.compile(node.operand)
            if node.op == "not":
                return _X(~x.value, None, x.doubt)
            ratio = (_neg(x.ratio[0]), x.ratio[1]) if x.ratio is not None else None
            return _X(-x.value, x.err, x.doubt, ratio, x.decimal, x.depth)
        if isinstance(node, Binary):
            return self._binary(node)
        return self._call(node)

    def _name(self, node: Name) -> _X:
        if node.dotted == "as_of":
            return _X(pl.col("as_of"))
        if node.dotted == "deadline":
            assert self.rule.deadline is not None
            return _X(pl.lit(self.rule.deadline, dtype=pl.Date))
        return _lit_number(self.rule.parameters[node.parts[1]].value)

    def _binary(self, node: Binary) -> _X:
        a, b = self.compile(node.left), self.compile(node.right)
        op = node.op
        if op == "and":
            return _X(a.value & b.value, None, _or(a.doubt, b.doubt))
        if op == "or":
            return _X(a.value | b.value, None, _or(a.doubt, b.doubt))
        if op in ("+", "-", "*", "/"):
            return self._arith(op, a, b)
        ops: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
            "==": lambda x, y: x == y,
            "!=": lambda x, y: x != y,
            "<": lambda x, y: x < y,
            "<=": lambda x, y: x <= y,
            ">": lambda x, y: x > y,
            ">=": lambda x, y: x >= y,
        }
        value = ops[op](a.value, b.value)
        if a.err is None or b.err is None or (a.decimal and b.decimal):
            # dates, strings, booleans, statuses, and two printed decimals: exact
            return _X(value, None, _or(a.doubt, b.doubt))
        bound = a.err + b.err
        near = ((bound > 0) & ((a.value - b.value).abs() <= _SAFETY * bound)).fill_null(False)
        if a.ratio is not None and b.ratio is not None:  # n1/d1 op n2/d2 as n1*d2 op n2*d1 (d1, d2 > 0)
            (n1, d1), (n2, d2) = a.ratio, b.ratio
            ok = _small(n1, d1, n2, d2)  # the products fit in Int128; otherwise floats and doubt
            exact = ops[op](n1 * d2, n2 * d1)
            both = a.value.is_not_null() & b.value.is_not_null()
            decided = pl.when(~both).then(None).when(ok).then(exact).otherwise(value)
            return _X(decided, None, _or(a.doubt, b.doubt, ~ok & near))
        return _X(value, None, _or(a.doubt, b.doubt, near))

    @staticmethod
    def _arith(op: str, a: _X, b: _X) -> _X:
        x = _Compiler._float_arith(op, a, b)
        if a.ratio is None or b.ratio is None or a.depth or b.depth:
            return x
        return attrs.evolve(x, ratio=_ratio_arith(op, a.ratio, b.ratio), depth=1)

    @staticmethod
    def _float_arith(op: str, a: _X, b: _X) -> _X:
        assert a.err is not None and b.err is not None
        # Whole numbers below 2**53 add, subtract and multiply exactly in float64.
        whole = (a.err == 0) & (b.err == 0) & _integral(a.value) & _integral(b.value)
        if op in ("+", "-"):
            v = a.value + b.value if op == "+" else a.value - b.value
            err = a.err + b.err + v.abs() * _EPS
            return _X(v, pl.when(whole & _integral(v)).then(0.0).otherwise(err), _or(a.doubt, b.doubt))
        if op == "*":
            v = a.value * b.value
            err = a.value.abs() * b.err + b.value.abs() * a.err + a.err * b.err + v.abs() * _EPS
            return _X(v, pl.when(whole & _integral(v)).then(0.0).otherwise(err), _or(a.doubt, b.doubt))
        # Division: unknown when the divisor is exactly 0; in doubt when it might be 0.
        exact_zero = (b.value == 0) & (b.err == 0)
        maybe_zero = (b.value.abs() <= _SAFETY * b.err).fill_null(False) & ~exact_zero.fill_null(False)
        q = pl.when(exact_zero | maybe_zero).then(None).otherwise(a.value / b.value)
        margin = pl.when(maybe_zero).then(1.0).otherwise(b.value.abs() - b.err)
        err = (a.err + q.abs() * b.err) / margin + q.abs() * _EPS
        return _X(q, err, _or(a.doubt, b.doubt, maybe_zero))

    def _call(self, node: Call) -> _X:
        func = node.func
        if func == "outcome":
            assert isinstance(node.args[0], Str)
            rid = node.args[0].value
            if rid not in self.present:  # that rule applies to none of these rows: no status
                return _X(_null(STATUS_ENUM))
            s = pl.col(STATUS_PREFIX + rid)
            # An unknown outcome stays unknown downstream (as in the reference evaluator).
            return _X(pl.when(s == "unknown").then(None).otherwise(s), None, pl.col(DOUBT_PREFIX + rid))
        if func in ("fact", "fact_date", "has_fact"):
            fname = name_arg(node.args[0], "fact")
            fdef = self.book.facts[fname]
            date = self.col(fact_column(fname, "date"), pl.Date())
            visible = (date <= pl.col("as_of")).fill_null(False)
            if func == "has_fact":
                return _X(visible)
            if func == "fact_date":
                return _X(pl.when(visible).then(date))
            dtype = _FACT_DTYPES[fdef.type]
            value = pl.when(visible).then(self.col(fact_column(fname), dtype))
            if fdef.type == "number":
                return _X(value, _decimal_err(value), decimal=True)
            return _X(value)
        if func == "has_service":
            sname = name_arg(node.args[0], "service")
            services = self.col("services", pl.List(pl.String))
            return _X(services.list.contains(pl.lit(sname, dtype=pl.String)))
        if func == "rank":
            return _X(pl.col(RANK_PREFIX + self.rule.id), pl.lit(0.0), pl.col(DOUBT_PREFIX + "rank:" + self.rule.id))
        if func in ("min", "max"):
            a, b = self.compile(node.args[0]), self.compile(node.args[1])
            assert a.err is not None and b.err is not None
            either = a.value.is_null() | b.value.is_null()
            pick = pl.min_horizontal if func == "min" else pl.max_horizontal
            v = pl.when(either).then(None).otherwise(pick(a.value, b.value))
            return _X(v, pl.max_horizontal(a.err, b.err), _or(a.doubt, b.doubt), decimal=a.decimal and b.decimal)
        if func == "date":
            assert isinstance(node.args[0], Str)
            return _X(pl.lit(dt.date.fromisoformat(node.args[0].value), dtype=pl.Date))
        return self._metric(node)

    def _months(self, metric: str, period: str, part: str, dtype: pl.DataType) -> list[pl.Expr]:
        """One expression per month of the period: the column, null unless complete at as_of
        (each column is gated once per frame, in the first step of ``leaves``)."""
        gated = self.leaves[0]
        out: list[pl.Expr] = []
        for month in self.book.periods[period].months:
            name = metric_column(metric, month, part)
            if name not in self.columns:
                out.append(_null(dtype))
                continue
            if "__g:" + name not in gated:
                complete = pl.lit(month_end(month), dtype=pl.Date) < pl.col("as_of")
                gated["__g:" + name] = pl.when(complete).then(pl.col(name))
            out.append(pl.col("__g:" + name))
        return out

    def _metric(self, node: Call) -> _X:
        """A metric call is computed once per frame, as columns shared by every rule (``leaves``)."""
        func = node.func
        metric, period = metric_key(node)
        key = f"__m:{func}:{metric}:{period}"
        if key + ":v" not in self.leaves[2]:
            self._metric_leaves(func, metric, period, key)
        if func in ("pct", "rate"):
            ratio = (pl.col(key + ":n").cast(pl.Int128), pl.col(key + ":d").cast(pl.Int128))
            return _X(pl.col(key + ":v"), pl.col(key + ":e"), ratio=ratio)
        # One month's value, or one of the months' values, is exactly a value read from the table.
        picked = func in ("min_value", "max_value") or len(self.book.periods[period].months) == 1
        return _X(pl.col(key + ":v"), pl.col(key + ":e"), decimal=picked and func not in ("min_pct", "max_pct"))

    def _metric_leaves(self, func: str, metric: str, period: str, key: str) -> None:
        _, sums, values_, errs = self.leaves
        v = pl.col(key + ":v")
        if func in ("pct", "rate", "min_pct", "max_pct"):
            nums = self._months(metric, period, "numerator", pl.Int64())
            dens = self._months(metric, period, "denominator", pl.Int64())
            present = pl.all_horizontal([n.is_not_null() for n in nums])
            scale = 100 if func != "rate" else 1
            if func in ("pct", "rate"):
                sums[key + ":n"] = pl.when(present).then(pl.sum_horizontal(nums) * scale)
                sums[key + ":d"] = pl.when(present).then(pl.sum_horizontal(dens))
                num, den = pl.col(key + ":n"), pl.col(key + ":d")
                values_[key + ":v"] = pl.when(den != 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))
                errs[key + ":e"] = _quotient_err(num, den, v)
                return
            ratios = [(n * 100).cast(pl.Float64) / d.cast(pl.Float64) for n, d in zip(nums, dens, strict=True)]
            no_zero = pl.all_horizontal([d != 0 for d in dens])
            pick = pl.min_horizontal if func == "min_pct" else pl.max_horizontal
            values_[key + ":v"] = pl.when(present & no_zero).then(pick(ratios))
            errs[key + ":e"] = v.abs() * (2 * _EPS)
            return
        values = self._months(metric, period, "value", pl.Float64())
        present = pl.all_horizontal([x.is_not_null() for x in values])
        k = len(values)
        if func in ("total", "mean"):
            sums[key + ":m"] = pl.sum_horizontal([x.abs() for x in values])
            sums[key + ":i"] = pl.all_horizontal([_integral(x) for x in values])
            total = pl.when(present).then(pl.sum_horizontal(values))
            err = pl.when(pl.col(key + ":i")).then(0.0).otherwise(pl.col(key + ":m") * (_EPS * (k + 1)))
            if func == "total":
                values_[key + ":v"] = total
                errs[key + ":e"] = err
            else:
                values_[key + ":v"] = total / k
                errs[key + ":e"] = err / k + v.abs() * _EPS
            return
        pick = pl.min_horizontal if func == "min_value" else pl.max_horizontal
        values_[key + ":v"] = pl.when(present).then(pick(values))
        errs[key + ":e"] = _decimal_err(v)


Leaves = tuple[dict[str, pl.Expr], dict[str, pl.Expr], dict[str, pl.Expr], dict[str, pl.Expr]]
"""Shared metric columns, computed in four steps: month columns gated by as_of, sums, values,
error bounds."""


_EXACT_INT = float(2**53)
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


_FACT_DTYPES: dict[str, pl.DataType] = {
    "boolean": pl.Boolean(),
    "number": pl.Float64(),
    "date": pl.Date(),
    "string": pl.String(),
}


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


COHORTS_COLUMN = "cohorts"
"""The table column listing the complete cohorts a row's state declares, as ``scope:type``."""


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


@attrs.frozen
class _Group:
    """Organisation types evaluated together: the rules that apply to any of them and the
    columns those rules read. Types are grouped only when one rank() rule ranks them together
    (its cohort must be in one frame); otherwise each type is its own group."""

    types: frozenset[str]
    rules: tuple[Rule, ...]
    columns: frozenset[str]


@functools.lru_cache(maxsize=16)
def _groups(book: Rulebook) -> tuple[_Group, ...]:
    parent: dict[str, str] = {t: t for r in book.rules for t in r.applies_to}

    def root(t: str) -> str:
        while parent[t] != t:
            t = parent[t]
        return t

    for r in book.rules:
        if r.uses_rank:
            first = root(r.applies_to[0])
            for t in r.applies_to[1:]:
                parent[root(t)] = first
    members: dict[str, set[str]] = {}
    for t in parent:
        members.setdefault(root(t), set()).add(t)
    out = []
    for types in members.values():
        rules = tuple(r for r in book.rules if types & set(r.applies_to))
        out.append(_Group(frozenset(types), rules, frozenset(columns_read(book, rules) | {"services", COHORTS_COLUMN})))
    return tuple(sorted(out, key=lambda g: sorted(g.types)))


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


@attrs.frozen
class Resolution:
    """What the exact fallback did for one chunk."""

    cells: int
    rows: int
    states: int


ViewsOfRows = Callable[[pl.DataFrame, Sequence[int], Collection[str]], list[tuple[OrgView, dt.date]]]
"""``(frame, row indexes, columns needed) -> [(OrgView, as_of)]``: reference views of rows."""


def columns_read(book: Rulebook, rules: Iterable[Rule]) -> set[str]:
    """The table columns that these rules' expressions read (besides the key columns)."""
    out: set[str] = set()
    for rule in rules:
        for node in (rule.condition, rule.applicable_if, rule.completed_on):
            if node is None:
                continue
            for n in walk(node):
                if isinstance(n, Call) and n.func in ("fact", "fact_date", "has_fact"):
                    fname = name_arg(n.args[0], "fact")
                    out |= {fact_column(fname), fact_column(fname, "date")}
                elif isinstance(n, Call) and n.func == "has_service":
                    out.add("services")
            for call in metric_calls(node):
                metric, period = metric_key(call)
                parts = ("value",) if book.metrics[metric].kind == "value" else ("numerator", "denominator")
                for month in book.periods[period].months:
                    out |= {metric_column(metric, month, part) for part in parts}
    return out


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

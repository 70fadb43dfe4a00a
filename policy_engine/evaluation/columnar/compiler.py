"""The compiler: one rule's expressions compiled into polars expressions (``_X``: value,
error bound, doubt, exact ratio) against the columns a frame has; metric calls become columns
shared by every rule of the frame (``Leaves``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction

import attrs
import polars as pl

from ...language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary
from ...language.checker import metric_key, name_arg
from ...language.months import month_end
from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from .bounds import _EPS, _SAFETY, _X, _decimal_err, _integral, _null, _or, _quotient_err
from .columns import _FACT_DTYPES, DOUBT_PREFIX, RANK_PREFIX, STATUS_ENUM, STATUS_PREFIX, fact_column, metric_column
from .ratios import _RATIO_MAX, _neg, _ratio_arith, _small


def _lit_number(v: Fraction) -> _X:
    f = float(v)
    err = 0.0 if Fraction(f) == v else abs(f) * _EPS
    ratio = None
    if abs(v.numerator) < _RATIO_MAX and v.denominator < _RATIO_MAX:
        ratio = (pl.lit(v.numerator, dtype=pl.Int128), pl.lit(v.denominator, dtype=pl.Int128))
    return _X(pl.lit(f, dtype=pl.Float64), pl.lit(err, dtype=pl.Float64), ratio=ratio, decimal=Fraction(repr(f)) == v)


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

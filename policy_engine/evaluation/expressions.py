"""The reference interpreter: walks a checked AST with Kleene three-valued logic over exact numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING

import attrs

from ..language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary, render, walk
from ..language.checker import name_arg
from ..language.months import format_month
from .evidence import (
    Boolean,
    Date,
    Evidence,
    Listing,
    Number,
    OutcomeStatus,
    Quantity,
    Ratio,
    Text,
    Unknown,
    UnknownReason,
    format_quantity,
)

if TYPE_CHECKING:
    from ..data.state import Observation, OrgView
    from ..language.rules import MetricDef, Period, Rule


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "unknown"

    def __bool__(self) -> bool:
        raise TypeError("unknown has no truth value")


UNKNOWN = _Unknown()
Value = Fraction | bool | str | dt.date | _Unknown


def quantity(v: Value, unit: str | None = None, unknown: UnknownReason = "unknown_operand") -> Quantity:
    """The typed evidence value of a runtime value (``unknown`` says why, if it is unknown)."""
    if isinstance(v, _Unknown):
        return Unknown(unknown)
    if isinstance(v, bool):
        return Boolean(v)
    if isinstance(v, Fraction):
        return Number(v, unit)
    if isinstance(v, dt.date):
        return Date(v)
    return Text(v)


def format_value(v: Value, unit: str | None = None) -> str:
    """Human text of a runtime value."""
    return format_quantity(quantity(v, unit))


@attrs.define
class Env:
    """Everything one rule needs to evaluate for one organisation."""

    rule: Rule
    org: OrgView
    as_of: dt.date
    metrics: Mapping[str, MetricDef]
    periods: Mapping[str, Period]
    outcomes: Mapping[str, str]  # rule id -> status, this organisation
    rank: Value = UNKNOWN
    evidence: list[Evidence] | None = attrs.field(factory=list)
    record_comparisons: bool = True

    def note(self, item: Evidence) -> None:
        if self.evidence is not None and item not in self.evidence:
            self.evidence.append(item)


def evaluate(node: Node, env: Env) -> Value:
    """Evaluate a checked expression."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, Name):
        return _name(node, env)
    if isinstance(node, Unary):
        v = evaluate(node.operand, env)
        if v is UNKNOWN:
            return UNKNOWN
        if node.op == "not":
            return not v
        assert isinstance(v, Fraction)
        return -v
    if isinstance(node, Binary):
        return _binary(node, env)
    return _call(node, env)


def _name(node: Name, env: Env) -> Value:
    if node.dotted == "as_of":
        return env.as_of
    if node.dotted == "deadline":
        assert env.rule.deadline is not None
        return env.rule.deadline
    param = env.rule.parameters[node.parts[1]]
    env.note(Evidence("parameter", param.name, Number(param.value, param.unit), reference=param.override))
    return param.value


def _compare(op: str, a: Value, b: Value) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    assert isinstance(a, (Fraction, dt.date)) and isinstance(b, (Fraction, dt.date))
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    return a >= b  # type: ignore[operator]


def _binary(node: Binary, env: Env) -> Value:
    op = node.op
    a = evaluate(node.left, env)
    b = evaluate(node.right, env)
    if op == "and":
        if a is False or b is False:
            return False
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        return True
    if op == "or":
        if a is True or b is True:
            return True
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        return False
    if op in ("+", "-", "*", "/"):
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        assert isinstance(a, Fraction) and isinstance(b, Fraction)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return UNKNOWN if b == 0 else a / b
    result: Value = UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else _compare(op, a, b)
    if env.record_comparisons and env.evidence is not None:
        left_unit, right_unit = _unit_of(node.left, env), _unit_of(node.right, env)
        text = (
            f"{_side(node.left, a, left_unit or right_unit)} {op} "
            f"{_side(node.right, b, right_unit or left_unit)} -> {format_value(result)}"
        )
        env.note(Evidence("comparison", render(node), quantity(result), reference=text))
    return result


def _months(env: Env, mname: str, period: Period) -> list[tuple[int, Observation]] | None:
    series = env.org.series.get(mname, {})
    out = []
    for month in period.months:
        obs = series.get(month)
        if obs is None:
            return None
        out.append((month, obs))
    return out


def _call(node: Call, env: Env) -> Value:
    func = node.func
    if func == "outcome":
        assert isinstance(node.args[0], Str)
        rid = node.args[0].value
        status = env.outcomes[rid]
        env.note(Evidence("outcome", rid, OutcomeStatus(status)))
        # An unknown outcome stays unknown downstream: missing data never becomes a breach.
        return UNKNOWN if status == "unknown" else status
    if func in ("fact", "fact_date", "has_fact"):
        fname = name_arg(node.args[0], "fact")
        fact = env.org.facts.get(fname)
        if fact is None:
            env.note(Evidence("fact", fname, Unknown("not_declared")))
            return False if func == "has_fact" else UNKNOWN
        env.note(Evidence("fact", fname, quantity(fact.value), date=fact.date.isoformat(), reference=fact.evidence))
        if func == "has_fact":
            return True
        return fact.date if func == "fact_date" else fact.value
    if func == "has_service":
        sname = name_arg(node.args[0], "service")
        if env.org.services is None:
            env.note(Evidence("service", sname, Unknown("services_not_declared")))
            return UNKNOWN
        present = sname in env.org.services
        env.note(Evidence("service", sname, Listing(present)))
        return present
    if func == "rank":
        env.note(Evidence("rank", render(node.args[0]), quantity(env.rank, unknown="unknown_rank")))
        return env.rank
    if func in ("min", "max"):
        a, b = evaluate(node.args[0], env), evaluate(node.args[1], env)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        assert isinstance(a, Fraction) and isinstance(b, Fraction)
        return min(a, b) if func == "min" else max(a, b)
    if func == "date":
        assert isinstance(node.args[0], Str)
        return dt.date.fromisoformat(node.args[0].value)
    return _metric_call(node, env)


def _side(node: Node, value: Value, unit: str | None) -> str:
    """One side of a comparison in an explanation: the expression and, unless it is a literal, its value."""
    if isinstance(node, (Num, Str, Bool)):
        return render(node)
    return f"{render(node)} = {format_value(value, unit)}"


def _unit_of(node: Node, env: Env) -> str | None:
    """The unit of a numeric expression, for explanations (the checker has already verified them)."""
    if isinstance(node, Name) and node.parts[0] == "param":
        return env.rule.parameters[node.parts[1]].unit
    if isinstance(node, Call):
        if node.func in ("pct", "min_pct", "max_pct"):
            return "percent"
        if node.func in ("rate", "total", "mean", "min_value", "max_value"):
            return env.metrics[name_arg(node.args[0], "metric")].unit
        if node.func in ("min", "max"):
            return _unit_of(node.args[0], env) or _unit_of(node.args[1], env)
        return None
    if isinstance(node, Binary) and node.op in ("+", "-"):
        return _unit_of(node.left, env) or _unit_of(node.right, env)
    if isinstance(node, Unary) and node.op == "-":
        return _unit_of(node.operand, env)
    return None


def _counts(o: Observation) -> tuple[int, int]:
    # State validation guarantees counts for proportion and rate metrics.
    assert o.numerator is not None and o.denominator is not None
    return o.numerator, o.denominator


def _plain_value(o: Observation) -> Fraction:
    # State validation guarantees a value for value metrics.
    assert o.value is not None
    return o.value


def _metric_call(node: Call, env: Env) -> Value:
    func = node.func
    mname = name_arg(node.args[0], "metric")
    period = env.periods[name_arg(node.args[1], "period")]
    metric = env.metrics[mname]
    label = f"{format_month(period.start)}..{format_month(period.end)}"
    rows = _months(env, mname, period)
    if rows is None:
        have = sorted(m for m in env.org.series.get(mname, {}) if m in period.months)
        missing = tuple(format_month(m) for m in period.months if m not in have)
        env.note(Evidence("metric", f"{func}({mname})", Unknown("no_data", missing), period=label))
        return UNKNOWN
    obs = [o for _, o in rows]
    if func in ("pct", "rate"):
        num = sum(_counts(o)[0] for o in obs)
        den = sum(_counts(o)[1] for o in obs)
        if den == 0:
            env.note(
                Evidence(
                    "metric",
                    f"{func}({mname})",
                    Unknown("zero_denominator"),
                    period=label,
                    numerator=num,
                    denominator=den,
                )
            )
            return UNKNOWN
        ratio = Ratio(num, den, 100 if func == "pct" else 1, metric.unit)
        env.note(Evidence("metric", f"{func}({mname})", ratio, period=label, numerator=num, denominator=den))
        return ratio.value
    if func in ("min_pct", "max_pct"):
        monthly: list[Fraction] = []
        for o in obs:
            o_num, o_den = _counts(o)
            if o_den == 0:
                env.note(Evidence("metric", f"{func}({mname})", Unknown("zero_denominator_month"), period=label))
                return UNKNOWN
            monthly.append(Fraction(100 * o_num, o_den))
        value = min(monthly) if func == "min_pct" else max(monthly)
        env.note(Evidence("metric", f"{func}({mname})", Number(value, "percent"), period=label))
        return value
    values: list[Fraction] = [_plain_value(o) for o in obs]
    reducers: dict[str, Callable[[list[Fraction]], Fraction]] = {
        "total": lambda xs: sum(xs, Fraction(0)),
        "mean": lambda xs: sum(xs, Fraction(0)) / len(xs),
        "min_value": min,
        "max_value": max,
    }
    value = reducers[func](values)
    env.note(Evidence("metric", f"{func}({mname})", Number(value, metric.unit), period=label))
    return value


def find_rank_argument(node: Node) -> Node | None:
    """The argument of the (single) rank() call in a condition, if any."""
    return next((n.args[0] for n in walk(node) if isinstance(n, Call) and n.func == "rank"), None)

"""Type checker: resolves every name against the rulebook's catalogues before anything runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from .ast import ARITHMETIC, COMPARISONS, Binary, Bool, Call, Name, Node, Num, Str, Unary, walk
from .rules import STATUSES, FactDef, MetricDef, Parameter, Period


@attrs.frozen
class Type:
    kind: str  # number | bool | string | date | status
    unit: str | None = None

    def __str__(self) -> str:
        if self.kind == "number" and self.unit:
            return f"number ({self.unit})"
        return self.kind


BOOL = Type("bool")
DATE = Type("date")
STRING = Type("string")
STATUS = Type("status")


class CheckError(Exception):
    """An expression does not type-check; ``unknown`` when it names something that does not exist
    (a metric, period, fact, service, parameter, rule, function or name)."""

    def __init__(self, message: str, pos: int, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.unknown = unknown


@attrs.define
class CheckContext:
    """What an expression may refer to."""

    metrics: Mapping[str, MetricDef]
    facts: Mapping[str, FactDef]
    services: frozenset[str]
    periods: Mapping[str, Period]
    parameters: Mapping[str, Parameter]
    rule_types: Mapping[str, tuple[str, ...]]  # every rule id -> its applies_to
    applies_to: tuple[str, ...]
    has_deadline: bool
    allow_rank: bool = True
    depends_on: set[str] = attrs.field(factory=set)
    rank_calls: int = 0


_METRIC_FUNCS: dict[str, tuple[str, Callable[[MetricDef], Type]]] = {
    "pct": ("proportion", lambda m: Type("number", "percent")),
    "min_pct": ("proportion", lambda m: Type("number", "percent")),
    "max_pct": ("proportion", lambda m: Type("number", "percent")),
    "rate": ("rate", lambda m: Type("number", m.unit)),
    "total": ("value", lambda m: Type("number", m.unit)),
    "mean": ("value", lambda m: Type("number", m.unit)),
    "min_value": ("value", lambda m: Type("number", m.unit)),
    "max_value": ("value", lambda m: Type("number", m.unit)),
}
FUNCTIONS = frozenset(
    set(_METRIC_FUNCS) | {"fact", "fact_date", "has_fact", "has_service", "outcome", "rank", "min", "max", "date"}
)
METRIC_FUNCTIONS: frozenset[str] = frozenset(_METRIC_FUNCS)
"""The functions that read a metric over a period (pct, rate, total, ...)."""


def metric_calls(node: Node) -> list[Call]:
    """The metric function calls of an expression, left to right."""
    return [n for n in walk(node) if isinstance(n, Call) and n.func in _METRIC_FUNCS]


def metric_key(call: Call) -> tuple[str, str]:
    """(metric, period) that a metric function call reads."""
    return name_arg(call.args[0], "metric"), name_arg(call.args[1], "period")


def name_arg(node: Node, what: str) -> str:
    """A catalogue name given as a bare name or a string literal."""
    if isinstance(node, Name) and len(node.parts) == 1:
        return node.parts[0]
    if isinstance(node, Str):
        return node.value
    raise CheckError(f"expected the name of a {what}", node.pos)


def _units_fit(a: Type, b: Type) -> bool:
    return a.unit is None or b.unit is None or a.unit == b.unit


def check(node: Node, ctx: CheckContext) -> Type:
    """Type of ``node``; raises CheckError naming the position of the first problem."""
    if isinstance(node, Num):
        return Type("number")
    if isinstance(node, Str):
        return STRING
    if isinstance(node, Bool):
        return BOOL
    if isinstance(node, Name):
        return _check_name(node, ctx)
    if isinstance(node, Unary):
        inner = check(node.operand, ctx)
        if node.op == "not":
            if inner != BOOL:
                raise CheckError(f"'not' needs a boolean, got {inner}", node.pos)
            return BOOL
        if inner.kind != "number":
            raise CheckError(f"'-' needs a number, got {inner}", node.pos)
        return inner
    if isinstance(node, Binary):
        return _check_binary(node, ctx)
    return _check_call(node, ctx)


def _check_name(node: Name, ctx: CheckContext) -> Type:
    dotted = node.dotted
    if dotted == "as_of":
        return DATE
    if dotted == "deadline":
        if not ctx.has_deadline:
            raise CheckError("'deadline' is used but the rule has no deadline", node.pos)
        return DATE
    if node.parts[0] == "param" and len(node.parts) == 2:
        param = ctx.parameters.get(node.parts[1])
        if param is None:
            known = ", ".join(sorted(ctx.parameters)) or "none"
            raise CheckError(
                f"unknown parameter {node.parts[1]!r} (the rule declares: {known})", node.pos, unknown=True
            )
        return Type("number", param.unit)
    raise CheckError(
        f"unknown name {dotted!r}: expected as_of, deadline, param.NAME or a function call", node.pos, unknown=True
    )


def _check_binary(node: Binary, ctx: CheckContext) -> Type:
    left, right = check(node.left, ctx), check(node.right, ctx)
    op = node.op
    if op in ("and", "or"):
        for side, t in (("left", left), ("right", right)):
            if t != BOOL:
                raise CheckError(f"'{op}' needs booleans, the {side} side is {t}", node.pos)
        return BOOL
    if op in ARITHMETIC:
        if left.kind != "number" or right.kind != "number":
            raise CheckError(f"'{op}' needs numbers, got {left} and {right}", node.pos)
        if op in ("+", "-"):
            if not _units_fit(left, right):
                raise CheckError(f"'{op}' mixes units {left.unit} and {right.unit}", node.pos)
            return Type("number", left.unit or right.unit)
        if left.unit and right.unit:
            return Type("number", None)
        return Type("number", left.unit or right.unit)
    assert op in COMPARISONS
    if left.kind == "status" or right.kind == "status":
        other_node, other = (node.right, right) if left.kind == "status" else (node.left, left)
        if op not in ("==", "!="):
            raise CheckError("an outcome can only be compared with == or !=", node.pos)
        if isinstance(other_node, Str):
            if other_node.value not in STATUSES:
                raise CheckError(
                    f"{other_node.value!r} is not a status (expected one of {', '.join(sorted(STATUSES))})",
                    other_node.pos,
                )
        elif other.kind != "status":
            raise CheckError(f"an outcome can only be compared with a status, got {other}", node.pos)
        return BOOL
    if left.kind != right.kind:
        raise CheckError(f"cannot compare {left} with {right}", node.pos)
    if left.kind in ("bool", "string") and op not in ("==", "!="):
        raise CheckError(f"{left} values can only be compared with == or !=", node.pos)
    if left.kind == "number" and not _units_fit(left, right):
        raise CheckError(f"cannot compare {left} with {right}: the units differ", node.pos)
    return BOOL


def _arity(node: Call, n: int) -> None:
    if len(node.args) != n:
        raise CheckError(f"{node.func}() takes {n} argument(s), got {len(node.args)}", node.pos)


def _check_call(node: Call, ctx: CheckContext) -> Type:
    func = node.func
    if func not in FUNCTIONS:
        raise CheckError(f"unknown function {func!r} (known: {', '.join(sorted(FUNCTIONS))})", node.pos, unknown=True)
    if func in _METRIC_FUNCS:
        _arity(node, 2)
        kind, result = _METRIC_FUNCS[func]
        mname = name_arg(node.args[0], "metric")
        metric = ctx.metrics.get(mname)
        if metric is None:
            raise CheckError(f"unknown metric {mname!r}", node.args[0].pos, unknown=True)
        if metric.kind != kind:
            raise CheckError(f"{func}() needs a {kind} metric; {mname!r} is a {metric.kind}", node.args[0].pos)
        pname = name_arg(node.args[1], "period")
        if pname not in ctx.periods:
            raise CheckError(
                f"unknown period {pname!r} (known: {', '.join(sorted(ctx.periods))})", node.args[1].pos, unknown=True
            )
        return result(metric)
    if func in ("fact", "fact_date", "has_fact"):
        _arity(node, 1)
        fname = name_arg(node.args[0], "fact")
        fdef = ctx.facts.get(fname)
        if fdef is None:
            raise CheckError(f"unknown fact {fname!r}", node.args[0].pos, unknown=True)
        if func == "fact_date":
            return DATE
        if func == "has_fact":
            return BOOL
        return {"boolean": BOOL, "date": DATE, "string": STRING, "number": Type("number", fdef.unit)}[fdef.type]
    if func == "has_service":
        _arity(node, 1)
        sname = name_arg(node.args[0], "service")
        if sname not in ctx.services:
            raise CheckError(f"unknown service {sname!r}", node.args[0].pos, unknown=True)
        return BOOL
    if func == "outcome":
        _arity(node, 1)
        arg = node.args[0]
        if not isinstance(arg, Str):
            raise CheckError("outcome() takes a rule id as a string", arg.pos)
        types = ctx.rule_types.get(arg.value)
        if types is None:
            raise CheckError(f"unknown rule {arg.value!r}", arg.pos, unknown=True)
        missing = [t for t in ctx.applies_to if t not in types]
        if missing:
            raise CheckError(
                f"rule {arg.value!r} does not apply to {', '.join(missing)}, which this rule applies to",
                arg.pos,
            )
        ctx.depends_on.add(arg.value)
        return STATUS
    if func == "rank":
        _arity(node, 1)
        if not ctx.allow_rank:
            raise CheckError("rank() cannot be used here (only once, in a rule's condition)", node.pos)
        ctx.allow_rank = False
        ctx.rank_calls += 1
        inner = check(node.args[0], ctx)
        if inner.kind != "number":
            raise CheckError(f"rank() needs a number, got {inner}", node.args[0].pos)
        return Type("number", "rank")
    if func in ("min", "max"):
        _arity(node, 2)
        a, b = check(node.args[0], ctx), check(node.args[1], ctx)
        if a.kind != "number" or b.kind != "number" or not _units_fit(a, b):
            raise CheckError(f"{func}() needs two numbers of the same unit, got {a} and {b}", node.pos)
        return Type("number", a.unit or b.unit)
    # date("YYYY-MM-DD")
    _arity(node, 1)
    arg = node.args[0]
    if not isinstance(arg, Str):
        raise CheckError('date() takes a literal "YYYY-MM-DD"', arg.pos)
    from .months import parse_date

    try:
        parse_date(arg.value)
    except ValueError as exc:
        raise CheckError(str(exc), arg.pos) from None
    return DATE

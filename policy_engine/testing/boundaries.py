"""The threshold comparisons of a rulebook, found by reading each rule's condition AST, and the
smallest states that sit exactly on one of them (or one count either side).

A *threshold* is a comparison ``F(subject, period) OP param.NAME`` (or the mirror
``param.NAME OP F(...)``) where ``OP`` is one of ``>= > <= <`` and ``F`` is one of the metric
functions (``pct``, ``min_pct``, ``max_pct``, ``rate``, ``total``, ``mean``, ``min_value``,
``max_value``) or ``fact(name)`` of a number fact. It is found when it is the whole condition or
one conjunct of a condition that is an ``and`` of such comparisons (the other conjuncts are then
held comfortably true). Comparisons against another period, ranks or arithmetic are not
thresholds in this sense and are left out.

Public API (also re-exported from ``policy_engine.testing``)::

    thresholds(rulebook=None)            -> every Threshold of the rulebook
    rule_thresholds(rule_id, rulebook)   -> the thresholds of one rule
    boundary_state(threshold, offset)    -> a state dict exactly at (0), one step above (+1) or below (-1)
    expected_status(threshold, offset)   -> the status the rule must give that state
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

import attrs

from ..errors import ErrorCode, ErrorDetail, RulebookError
from ..language.ast import Binary, Bool, Call
from ..language.months import format_month, month_end
from ..language.rules import POSITIVE_STATUS, Rule, Status
from ..language.shape import Comparison, catalogue_name
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = [
    "COUNT_FUNCTIONS",
    "VALUE_FUNCTIONS",
    "Threshold",
    "boundary_state",
    "expected_status",
    "judged_after",
    "negative_status",
    "positive_status",
    "rule_thresholds",
    "thresholds",
]

COUNT_FUNCTIONS = frozenset({"pct", "min_pct", "max_pct", "rate"})
"""Metric functions over numerator/denominator counts (a step is one count)."""
VALUE_FUNCTIONS = frozenset({"total", "mean", "min_value", "max_value"})
"""Metric functions over plain monthly values (a step is one unit, or the parameter's last decimal)."""
_MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}
_VALUE_LIMIT = Fraction(10**12)


@attrs.frozen
class Threshold:
    """One comparison of a measured quantity against a rule parameter.

    ``function`` is the metric function (or ``fact``), ``subject`` the metric or fact name,
    ``period`` the period name (None for facts), ``op`` the comparison with the measured quantity
    on the left, ``value`` the parameter's exact value. ``others`` are the rule's other conjuncts
    (held true when a state is built for this one).
    """

    rule_id: str
    kind: str
    function: str
    subject: str
    period: str | None
    op: str
    parameter: str
    value: Fraction
    unit: str
    wording: str | None = None
    others: tuple[Threshold, ...] = ()

    @property
    def floor(self) -> bool:
        """True for ``>=``/``>`` (more is better), False for ceilings ``<=``/``<``."""
        return self.op in (">=", ">")

    @property
    def label(self) -> str:
        """``rule.id: pct(metric, period) >= param.threshold (78%)`` — for test ids and messages."""
        what = f"fact({self.subject})" if self.period is None else f"{self.function}({self.subject}, {self.period})"
        return f"{self.rule_id}: {what} {self.op} param.{self.parameter}"

    def holds(self, offset: int) -> bool:
        """Whether the comparison is true for a quantity ``offset`` steps from the threshold."""
        return {">=": offset >= 0, ">": offset > 0, "<=": offset <= 0, "<": offset < 0}[self.op]

    def step(self) -> Fraction:
        """The smallest change a state can make to the measured quantity's inputs: one count for
        count metrics; one unit (or a unit of the parameter's last decimal place) otherwise."""
        if self.function in COUNT_FUNCTIONS:
            return Fraction(1)
        k = 0
        while (self.value * 10**k).denominator != 1:
            k += 1
        return Fraction(1, 10**k)

    def offsets(self) -> tuple[int, ...]:
        """The offsets (-1, 0, +1) a valid state can realise: a percentage of 100 has nothing
        above it, 0% nothing below; a count cannot go below 0."""
        out = []
        for offset in (-1, 0, 1):
            try:
                _plan(self, offset, 1, (0,))
            except _Infeasible:
                continue
            out.append(offset)
        return tuple(out)


class _Infeasible(Exception):
    pass


def _comparison(rule: Rule, c: Comparison | None, book: Rulebook) -> Threshold | None:
    """A conjunct of the rule's threshold shape that compares one metric over one period, or one
    number fact, with one of the rule's parameters."""
    if c is None or c.op not in _MIRROR or c.parameter is None or c.parameter not in rule.parameters:
        return None
    if c.reads_metric():
        if c.subject not in book.metrics or c.period not in book.periods:
            return None
    elif c.function != "fact" or c.subject is None or c.subject not in book.facts:
        return None
    elif book.facts[c.subject].type != "number":
        return None
    assert c.function is not None and c.subject is not None
    param = rule.parameters[c.parameter]
    return Threshold(
        rule.id, rule.kind, c.function, c.subject, c.period, c.op, c.parameter, param.value, param.unit, param.wording
    )


def _guard_ok(rule: Rule) -> bool:
    """Guards we know how to make true: has_service(...) / fact(...) == true, joined by and/or."""
    if rule.applicable_if is None:
        return True
    stack = [rule.applicable_if]
    while stack:
        n = stack.pop()
        if isinstance(n, Binary) and n.op in ("and", "or"):
            stack += [n.left, n.right]
        elif isinstance(n, Call) and n.func == "has_service":
            continue
        elif (
            isinstance(n, Binary)
            and n.op == "=="
            and isinstance(n.left, Call)
            and n.left.func == "fact"
            and isinstance(n.right, Bool)
            and n.right.value is True
        ):
            continue
        else:
            return False
    return True


def _rule_thresholds(rule: Rule, book: Rulebook) -> tuple[Threshold, ...]:
    if rule.uses_rank or rule.depends_on or not _guard_ok(rule):
        return ()
    found = [_comparison(rule, c, book) for c in rule.shape.comparisons]
    if not found or any(t is None for t in found):
        return ()
    ts = [t for t in found if t is not None]
    subjects = [(t.function == "fact", t.subject) for t in ts]
    if len(set(subjects)) != len(subjects):  # two comparisons on one quantity: no single boundary
        return ()
    return tuple(attrs.evolve(t, others=tuple(o for o in ts if o is not t)) for t in ts)


@cache
def _all(book: Rulebook) -> tuple[Threshold, ...]:
    return tuple(t for r in book.rules for t in _rule_thresholds(r, book))


@cache
def _default_book() -> Rulebook:
    return load_rulebook()


def _book(rulebook: Rulebook | None) -> Rulebook:
    return rulebook if rulebook is not None else _default_book()


def thresholds(rulebook: Rulebook | None = None) -> tuple[Threshold, ...]:
    """Every threshold comparison of the rulebook (default: the bundled one), in rule order."""
    return _all(_book(rulebook))


def rule_thresholds(rule_id: str, rulebook: Rulebook | None = None) -> tuple[Threshold, ...]:
    """The thresholds of one rule. RulebookError if the rule does not exist or has none."""
    book = _book(rulebook)
    rule = book.rule(rule_id)
    found = tuple(t for t in _all(book) if t.rule_id == rule.id)
    if not found:
        raise RulebookError(
            "the rule has no threshold comparison",
            [
                ErrorDetail(
                    rule_id,
                    "expected a condition F(metric, period) OP param.NAME or fact(name) OP param.NAME "
                    "(or an 'and' of them)",
                    rule.condition_text,
                    code=ErrorCode.RULE_NO_THRESHOLD,
                )
            ],
        )
    return found


# --------------------------------------------------------------------------- building states


@attrs.frozen
class _Plan:
    """Monthly inputs (or a fact value) for one threshold at one offset."""

    months: tuple[int, ...]
    rows: tuple[dict[str, Any], ...]
    fact_value: Fraction | None


def _number(v: Fraction) -> int | float:
    """An exact JSON number: int when integral, else a float whose repr is the exact decimal."""
    if v.denominator == 1:
        return int(v)
    text = format(Decimal(v.numerator) / Decimal(v.denominator), "f")
    f = float(text)
    if Fraction(repr(f)) != v:
        raise _Infeasible
    return f


def _plan(t: Threshold, offset: int, scale: int, months: tuple[int, ...]) -> _Plan:
    if t.function == "fact":
        return _Plan((), (), t.value + offset * t.step())
    n = len(months)
    if t.function in ("pct", "min_pct", "max_pct"):
        den = 1000 * t.value.denominator * scale
        at = t.value * den / 100
        nums = [at] * n
        if not (0 <= at <= den):
            raise _Infeasible
    elif t.function == "rate":
        den = 10 * t.value.denominator * scale
        at = t.value * den
        nums = [at] * n
        if at < 0:
            raise _Infeasible
    else:
        den = 0
        at = t.value
        nums = [at] + [Fraction(0)] * (n - 1) if t.function == "total" else [at] * n
    step = t.step()
    if offset:
        # One step on one month moves pct/rate/total/mean by one count/unit; min_* rise only when
        # every month rises and max_* fall only when every month falls.
        every = (t.function in ("min_pct", "min_value") and offset > 0) or (
            t.function in ("max_pct", "max_value") and offset < 0
        )
        for i in range(n) if every else range(1):
            nums[i] += offset * step
    rows: list[dict[str, Any]] = []
    for m, num in zip(months, nums, strict=True):
        if t.function in COUNT_FUNCTIONS:
            if num.denominator != 1 or num < 0 or (t.function != "rate" and num > den):
                raise _Infeasible
            rows.append({"period": format_month(m), "numerator": int(num), "denominator": den})
        else:
            if abs(num) > _VALUE_LIMIT:
                raise _Infeasible
            rows.append({"period": format_month(m), "value": _number(num)})
    return _Plan(months, tuple(rows), None)


def judged_after(rule: Rule, rulebook: Rulebook | None = None) -> dt.date:
    """The last day on which the rule is not yet judged with complete data: its deadline, or the
    end of the last month its thresholds read, whichever is later (the rulebook's start if neither)."""
    book = _book(rulebook)
    days = [book.start]
    if rule.deadline is not None:
        days.append(rule.deadline)
    for t in _all(book):
        if t.rule_id == rule.id and t.period is not None:
            days.append(month_end(book.periods[t.period].end))
    return max(days)


def _guard_inputs(rule: Rule) -> tuple[list[str], list[str]]:
    services: list[str] = []
    facts: list[str] = []
    if rule.applicable_if is None:
        return services, facts
    stack = [rule.applicable_if]
    while stack:
        n = stack.pop()
        if isinstance(n, Binary):
            if n.op == "==" and isinstance(n.left, Call) and n.left.func == "fact":
                name = catalogue_name(n.left.args[0])
                if name is not None:
                    facts.append(name)
                continue
            stack += [n.left, n.right]
        elif isinstance(n, Call) and n.func == "has_service":
            name = catalogue_name(n.args[0])
            if name is not None:
                services.append(name)
    return sorted(set(services)), sorted(set(facts))


def _comfortable(t: Threshold) -> int:
    for offset in (0, 1, -1):
        if t.holds(offset) and offset in t.offsets():
            return offset
    raise _Infeasible


def boundary_state(
    threshold: Threshold,
    offset: int = 0,
    rulebook: Rulebook | None = None,
    *,
    org_type: str | None = None,
    org_id: str = "ORG001",
    scale: int = 1,
    days_after: int = 20,
) -> dict[str, Any]:
    """A one-organisation state whose measured quantity is exactly the threshold (``offset=0``)
    or the smallest possible step above (+1) or below (-1) it, judged ``days_after`` days after
    the rule's deadline (and after the last month it reads). ``scale`` multiplies denominators.

    The organisation has the services and facts the rule's applicability guard asks for, and the
    rule's other conjuncts (if any) are held true. ValueError if the offset cannot be realised
    (nothing is above 100%; see ``Threshold.offsets()``).
    """
    book = _book(rulebook)
    rule = book.rule(threshold.rule_id)
    otype = org_type or rule.applies_to[0]
    if otype not in rule.applies_to:
        raise ValueError(f"{rule.id} does not apply to {otype} (it applies to {', '.join(rule.applies_to)})")
    if days_after < 1:
        raise ValueError("days_after must be at least 1: on the deadline day a rule is still due")
    as_of = judged_after(rule, book) + dt.timedelta(days=days_after)
    fact_day = min(rule.deadline or as_of, as_of) - dt.timedelta(days=1)
    services, guard_facts = _guard_inputs(rule)
    org: dict[str, Any] = {"id": org_id, "type": otype}
    if services:
        org["services"] = services
    metrics: dict[str, list[dict[str, Any]]] = {}
    facts: list[dict[str, Any]] = [
        {"name": f, "value": True, "date": fact_day.isoformat(), "evidence": "boundary state"} for f in guard_facts
    ]
    try:
        parts = [(threshold, offset)] + [(o, _comfortable(o)) for o in threshold.others]
        for t, off in parts:
            months = tuple(book.periods[t.period].months) if t.period is not None else ()
            plan = _plan(t, off, scale, months)
            if plan.fact_value is not None:
                facts.append(
                    {
                        "name": t.subject,
                        "value": _number(plan.fact_value),
                        "date": fact_day.isoformat(),
                        "evidence": "boundary state",
                    }
                )
            else:
                metrics[t.subject] = list(plan.rows)
    except _Infeasible:
        raise ValueError(f"{threshold.label}: offset {offset:+d} cannot be realised by a valid state") from None
    if metrics:
        org["metrics"] = metrics
    if facts:
        org["facts"] = facts
    return {"as_of": as_of.isoformat(), "organisations": [org]}


def positive_status(kind: str) -> Status:
    """The status a rule of this kind gives when its condition is true (``met``, ``eligible``...)."""
    return POSITIVE_STATUS[kind]


def negative_status(rule: Rule, as_of: dt.date) -> Status:
    """The status a rule gives when its condition is false at ``as_of`` (after any deadline)."""
    if rule.kind == "obligation" and not rule.judged_on(as_of):
        return "due"
    return rule.negative_status


def expected_status(threshold: Threshold, offset: int, rulebook: Rulebook | None = None) -> Status:
    """The status ``threshold.rule_id`` must give ``boundary_state(threshold, offset)``."""
    book = _book(rulebook)
    rule = book.rule(threshold.rule_id)
    if threshold.holds(offset):
        return positive_status(rule.kind)
    return negative_status(rule, judged_after(rule, book) + dt.timedelta(days=1))

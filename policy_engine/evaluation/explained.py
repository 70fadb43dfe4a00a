"""Full outcomes from rules compiled once into closures: the fast path of ``evaluate(backend="native")``.

The compiled backend (``compiled.py``) gives statuses only. Here each rule's checked AST becomes
a tree of closures that compute, for one organisation, the value *and* the evidence the reference
interpreter (``expressions.py``, ``decide.py``) records: the same ``Evidence`` items in the same
order, the same explanation text, the same unknown reasons, so the ``Outcome``s are equal to the
reference's. What does not depend on the organisation is made once per rule: the citation, the
explanation's heading, each comparison's rendered sides and units, the evidence of parameters,
outcomes read, services and undeclared facts (immutable, so one object serves every outcome), and,
once per run, the reason text of every clause of the decision table.

How it matches the reference, where the two are written differently:

* **Both sides are evaluated**: the reference evaluates both operands of ``and``/``or`` (the
  evidence of both is recorded), so these closures do not short-circuit.
* **Evidence is recorded once**: the reference drops an item equal to one already recorded. Two
  items are equal exactly when their kind, name and period are (the value follows from those for
  one organisation), so each recording node has that key, fixed when the rule is compiled, and
  only a rule in which a key occurs twice checks it as it records.
* **Order**: evidence in evaluation order (left to right, guard, then condition, then completion
  date, as the decision tree reads them), then, for a rank() rule, the cohort item.
* **Rank rules** are ranked by the compiled closures (``compiled.cohort_ranks``), as the statuses
  path ranks them, and a rank range is settled by the compiled status function (the reference
  settles without recording evidence too), from the range's two ends when the rule is monotone
  in its rank (``compiled._settle_ends``, as the statuses path settles it).
* **Integers where they are exact** (as in ``compiled.py``): ``pct(m, p) op constant`` and
  ``pct(m, p) op pct(m', p')`` (or rates) are decided and shown from the summed counts, two
  fractions compare by cross-multiplication, the lowest (highest) month of ``min_pct``
  (``max_pct``) is found by cross-multiplying each month's counts and of ``min_value``
  (``max_value``) by comparing whole values as integers, whole totals are summed as integers;
  one ``Fraction`` is built for the value recorded; the texts are ``format_number``'s, made only
  for an item that is recorded.
* **Order**: organisations are decided in id order, so each rule's outcomes come in the trace's
  order and each organisation's in the outcomes' order (``evaluation``), without sorting.
* **The cyclic garbage collector is paused** while the outcomes are built, and what was made
  meanwhile goes straight to its oldest generation when it resumes (``collector_paused``).

``tests/test_explained.py`` checks it against the reference interpreter (``native.run`` through
``engine.reference_evaluate``, the oracle) on every scenario file of both rulebooks, the example
at many dates and generated states, thresholds included (docs/decisions/034-full-outcomes-from-compiled-closures.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from typing import Any

from ..data.state import CompleteCohort, Organisation
from ..io.collector import paused
from ..language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary, render
from ..language.checker import name_arg
from ..language.months import format_month, month_complete
from ..language.numbers import exact_decimal
from ..language.rules import STATUSES, Rule, Status
from ..language.statuses import STATUS_INFO, Branch, Clause
from ..rulebook.loader import Rulebook
from .cohort import Ranking, RankRange, settle
from .compiled import Ctx, Program, _settle_ends, cohort_ranks, program
from .decide import _cohort_evidence
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
)
from .expressions import UNKNOWN
from .outcomes import Citation, Firing, Outcome

__all__ = ["ExplainedProgram", "collector_paused", "evaluation", "explained_program", "run"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_TRUE, _FALSE = Boolean(True), Boolean(False)
_UNKNOWN_OPERAND = Unknown("unknown_operand")
_UNKNOWN_RANK = Unknown("unknown_rank")
_NOT_DECLARED = Unknown("not_declared")
_SERVICES_NOT_DECLARED = Unknown("services_not_declared")
_ZERO_DENOMINATOR = Unknown("zero_denominator")
_ZERO_DENOMINATOR_MONTH = Unknown("zero_denominator_month")
_STATUS_QUANTITY = {s: OutcomeStatus(s) for s in STATUSES}
_WITHOUT_COMPARISONS = frozenset({"unknown", "due", "not_applicable"})


class XCtx(Ctx):
    """One organisation at one date, with the evidence of the rule being decided."""

    __slots__ = ("done", "ev", "incomplete", "org_id", "org_type", "results", "seen")

    def __init__(
        self,
        org: Organisation,
        as_of: dt.date,
        complete: dict[str, bool],
        date_facts: frozenset[str],
        incomplete: frozenset[int],
    ) -> None:
        super().__init__(org, as_of, complete, date_facts)
        self.org_id = org.id
        self.org_type = org.type
        self.results: dict[str, Outcome] = {}
        self.done: Any = None
        self.incomplete = incomplete
        self.ev: list[Evidence] = []
        self.seen: set[tuple[str, str, str | None]] | None = None


Fn = Callable[[XCtx], Any]
Key = tuple[str, str, str | None]


def _quantity(v: Any, unit: str | None = None) -> Quantity:
    """``expressions.quantity`` (an unknown is an unknown operand)."""
    if v is UNKNOWN:
        return _UNKNOWN_OPERAND
    if v is True:
        return _TRUE
    if v is False:
        return _FALSE
    if isinstance(v, Fraction):
        return Number(v, unit)
    if isinstance(v, dt.date):
        return Date(v)
    return Text(v)


def _fmt(v: Any, unit: str | None) -> str:
    """``expressions.format_value``: the text of a runtime value."""
    if type(v) is Fraction:
        return _number(v.numerator, v.denominator, unit)
    if v is UNKNOWN:
        return "unknown"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Fraction):
        return _number(v.numerator, v.denominator, unit)
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _number(n: int, d: int, unit: str | None) -> str:
    """``numbers.format_number`` of n/d (in lowest terms, d > 0): the same text."""
    if d == 1:
        text = str(n)
    else:
        r = d
        while r % 2 == 0:
            r //= 2
        while r % 5 == 0:
            r //= 5
        text = exact_decimal(Fraction(n, d)) if r == 1 else "~" + format(n / d, ".4f")
    if unit == "percent":
        return text + "%"
    return f"{text} {unit}" if unit else text


def _lowest(n: int, d: int, unit: str | None) -> str:
    """``_number`` of n/d (d > 0) not yet in lowest terms: the text of ``Fraction(n, d)``."""
    g = math.gcd(n, d)
    return _number(n // g, d // g, unit)


def _total(xs: list[Fraction]) -> Fraction:
    """``sum(xs, Fraction(0))``, in integers when every value is whole."""
    whole = 0
    for x in xs:
        if x.denominator != 1:
            return sum(xs, Fraction(0))
        whole += x.numerator
    return Fraction(whole)


def _extreme(xs: list[Fraction], lowest: bool) -> Fraction:
    """``min(xs)`` (``max``): the first lowest (highest) value, compared as integers while the
    values are whole (a ``Fraction`` comparison only for one that is not)."""
    best = xs[0]
    bx: Any = best.numerator if best.denominator == 1 else best
    for v in xs:
        x = v.numerator if v.denominator == 1 else v
        if (x < bx) if lowest else (x > bx):
            best, bx = v, x
    return best


def _first(c: XCtx, key: Key) -> bool:
    """Whether no item of ``key`` is recorded yet for this outcome (and now it is)."""
    seen = c.seen
    assert seen is not None
    if key in seen:
        return False
    seen.add(key)
    return True


class _Compiler:
    """One rule's nodes as closures that record evidence (``keys``: each recording node's key)."""

    def __init__(self, book: Rulebook, rule: Rule, shared: frozenset[Key] = frozenset()) -> None:
        self.book = book
        self.rule = rule
        self.shared = shared
        self.keys: list[Key] = []
        self.reads_outcomes = False

    def _dup(self, key: Key) -> bool:
        """Note a recording node's key; whether it occurs more than once in the rule (``shared``,
        known from a first compilation), so that the node must check it as it records."""
        self.keys.append(key)
        return key in self.shared

    def compile(self, node: Node) -> Fn:
        if isinstance(node, (Num, Str, Bool)):
            value = node.value
            return lambda c: value
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            f = self.compile(node.operand)
            if node.op == "not":
                return lambda c: v if (v := f(c)) is UNKNOWN else not v
            return lambda c: v if (v := f(c)) is UNKNOWN else -v
        if isinstance(node, Binary):
            return self._binary(node)
        assert isinstance(node, Call)
        return self._call(node)

    def _name(self, node: Name) -> Fn:
        if node.dotted == "as_of":
            return lambda c: c.as_of
        if node.dotted == "deadline":
            deadline = self.rule.deadline
            return lambda c: deadline
        param = self.rule.parameters[node.parts[1]]
        value = param.value
        item = Evidence("parameter", param.name, Number(param.value, param.unit), reference=param.override)
        key = ("parameter", param.name, None)
        dup = self._dup(key)

        def parameter(c: XCtx) -> Any:
            if not dup or _first(c, key):
                c.ev.append(item)
            return value

        return parameter

    def _binary(self, node: Binary) -> Fn:
        op = node.op
        if op in _OPS:
            fast = self._ratio_comparison(node) or self._ratios_comparison(node)
            if fast is not None:
                return fast
        fa, fb = self.compile(node.left), self.compile(node.right)
        if op == "and":

            def conj(c: XCtx) -> Any:
                a, b = fa(c), fb(c)
                if a is False or b is False:
                    return False
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else True

            return conj
        if op == "or":

            def disj(c: XCtx) -> Any:
                a, b = fa(c), fb(c)
                if a is True or b is True:
                    return True
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else False

            return disj
        if op == "/":

            def div(c: XCtx) -> Any:
                a, b = fa(c), fb(c)
                if a is UNKNOWN or b is UNKNOWN or b == 0:
                    return UNKNOWN
                return a / b

            return div
        if op in ("+", "-", "*"):
            arith = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

            def binop(c: XCtx) -> Any:
                a, b = fa(c), fb(c)
                if a is UNKNOWN or b is UNKNOWN:
                    return UNKNOWN
                return arith(a, b)

            return binop
        return self._comparison(node, fa, fb)

    def _comparison(self, node: Binary, fa: Fn, fb: Fn) -> Fn:
        """A comparison, recording ``expressions._binary``'s item: the rendered sides with their
        values (a literal side only rendered), the operator and the result."""
        cmp = _OPS[node.op]
        name = render(node)
        lu, ru = self._unit_of(node.left), self._unit_of(node.right)
        left_unit, right_unit = lu or ru, ru or lu
        left_literal = isinstance(node.left, (Num, Str, Bool))
        right_literal = isinstance(node.right, (Num, Str, Bool))
        left_text = render(node.left) if left_literal else render(node.left) + " = "
        right_text = render(node.right) if right_literal else render(node.right) + " = "
        middle = f" {node.op} "
        key = ("comparison", name, None)
        dup = self._dup(key)

        def compare(c: XCtx) -> Any:
            a, b = fa(c), fb(c)
            if a is UNKNOWN or b is UNKNOWN:
                result: Any = UNKNOWN
                q: Quantity = _UNKNOWN_OPERAND
                shown = "unknown"
            elif (
                cmp(a.numerator * b.denominator, b.numerator * a.denominator)  # denominators > 0
                if type(a) is Fraction and type(b) is Fraction
                else cmp(a, b)
            ):
                result, q, shown = True, _TRUE, "true"
            else:
                result, q, shown = False, _FALSE, "false"
            if not dup or _first(c, key):
                left = left_text if left_literal else left_text + _fmt(a, left_unit)
                right = right_text if right_literal else right_text + _fmt(b, right_unit)
                c.ev.append(
                    Evidence("comparison", name, q, None, None, None, None, f"{left}{middle}{right} -> {shown}")
                )
            return result

        return compare

    def _constant(self, node: Node) -> Fraction | None:
        """The value of a literal number or a parameter (None for anything else)."""
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name) and node.parts[0] == "param":
            return self.rule.parameters[node.parts[1]].value
        return None

    def _ratio_comparison(self, node: Binary) -> Fn | None:
        """``pct(m, p) op constant`` (either side), recording the same items as ``_comparison``,
        decided and shown from the summed counts (no fraction is built)."""
        left, right = node.left, node.right
        ratio_left = isinstance(left, Call) and left.func in ("pct", "rate")
        ratio_right = isinstance(right, Call) and right.func in ("pct", "rate")
        const = self._constant(right) if ratio_left else self._constant(left) if ratio_right else None
        if const is None:
            return None
        call = left if ratio_left else right
        assert isinstance(call, Call)
        lu, ru = self._unit_of(left), self._unit_of(right)
        unit = (lu or ru) if ratio_left else (ru or lu)
        # the constant's side as ``expressions._side`` shows it (with the unit ``_binary`` gives it)
        const_node = right if ratio_left else left
        const_unit = (ru or lu) if ratio_left else (lu or ru)
        const_text = render(const_node) if isinstance(const_node, Num) else f"{render(const_node)} = "
        if not isinstance(const_node, Num):
            const_text += _fmt(const, const_unit)
        p, q = const.numerator, const.denominator
        fl = self._metric(call, want_counts=True) if ratio_left else self.compile(left)
        fr = self.compile(right) if ratio_left else self._metric(call, want_counts=True)
        cmp = _OPS[node.op]
        name = render(node)
        ratio_text = render(call) + " = "
        middle = f" {node.op} "
        key = ("comparison", name, None)
        dup = self._dup(key)

        def compare(c: XCtx) -> Any:
            a, b = fl(c), fr(c)
            nd = a if ratio_left else b
            if nd is None:
                result: Any = UNKNOWN
                q_: Quantity = _UNKNOWN_OPERAND
                shown = "unknown"
                ratio = ratio_text + "unknown"
            else:
                n, d = nd
                result = cmp(n * q, p * d) if ratio_left else cmp(p * d, n * q)  # d, q > 0
                q_, shown = (_TRUE, "true") if result else (_FALSE, "false")
                g = math.gcd(n, d)
                ratio = ratio_text + _number(n // g, d // g, unit)
            if not dup or _first(c, key):
                text = f"{ratio}{middle}{const_text}" if ratio_left else f"{const_text}{middle}{ratio}"
                c.ev.append(Evidence("comparison", name, q_, None, None, None, None, f"{text} -> {shown}"))
            return result

        return compare

    def _ratios_comparison(self, node: Binary) -> Fn | None:
        """``pct(m, p) op pct(m', p')`` (or rates), recording the same item as ``_comparison``,
        decided by cross-multiplying the summed counts and shown from them (no fraction is built)."""
        left, right = node.left, node.right
        ratios = ("pct", "rate")
        if not (isinstance(left, Call) and left.func in ratios and isinstance(right, Call) and right.func in ratios):
            return None
        lu, ru = self._unit_of(left), self._unit_of(right)
        left_unit, right_unit = lu or ru, ru or lu
        fl = self._metric(left, want_counts=True)
        fr = self._metric(right, want_counts=True)
        cmp = _OPS[node.op]
        name = render(node)
        left_text, right_text = render(left) + " = ", render(right) + " = "
        middle = f" {node.op} "
        key = ("comparison", name, None)
        dup = self._dup(key)

        def compare(c: XCtx) -> Any:
            a, b = fl(c), fr(c)
            if a is None or b is None:
                result: Any = UNKNOWN
                q: Quantity = _UNKNOWN_OPERAND
                shown = "unknown"
            else:
                result = cmp(a[0] * b[1], b[0] * a[1])  # both denominators > 0: the order is kept
                q, shown = (_TRUE, "true") if result else (_FALSE, "false")
            if not dup or _first(c, key):
                left = left_text + ("unknown" if a is None else _lowest(a[0], a[1], left_unit))
                right = right_text + ("unknown" if b is None else _lowest(b[0], b[1], right_unit))
                c.ev.append(
                    Evidence("comparison", name, q, None, None, None, None, f"{left}{middle}{right} -> {shown}")
                )
            return result

        return compare

    def _unit_of(self, node: Node) -> str | None:
        """``expressions._unit_of``: the unit of a numeric expression, for explanations."""
        if isinstance(node, Name) and node.parts[0] == "param":
            return self.rule.parameters[node.parts[1]].unit
        if isinstance(node, Call):
            if node.func in ("pct", "min_pct", "max_pct"):
                return "percent"
            if node.func in ("rate", "total", "mean", "min_value", "max_value"):
                return self.book.metrics[name_arg(node.args[0], "metric")].unit
            if node.func in ("min", "max"):
                return self._unit_of(node.args[0]) or self._unit_of(node.args[1])
            return None
        if isinstance(node, Binary) and node.op in ("+", "-"):
            return self._unit_of(node.left) or self._unit_of(node.right)
        if isinstance(node, Unary) and node.op == "-":
            return self._unit_of(node.operand)
        return None

    def _call(self, node: Call) -> Fn:
        func = node.func
        if func == "outcome":
            assert isinstance(node.args[0], Str)
            rid = node.args[0].value
            self.reads_outcomes = True
            items = {s: Evidence("outcome", rid, q) for s, q in _STATUS_QUANTITY.items()}
            key = ("outcome", rid, None)
            dup = self._dup(key)

            def outcome(c: XCtx) -> Any:
                status = c.outcomes[rid]
                if not dup or _first(c, key):
                    c.ev.append(items[status])
                return UNKNOWN if status == "unknown" else status

            return outcome
        if func in ("fact", "fact_date", "has_fact"):
            return self._fact(func, name_arg(node.args[0], "fact"))
        if func == "has_service":
            sname = name_arg(node.args[0], "service")
            undeclared = Evidence("service", sname, _SERVICES_NOT_DECLARED)
            listed = Evidence("service", sname, Listing(True))
            unlisted = Evidence("service", sname, Listing(False))
            key = ("service", sname, None)
            dup = self._dup(key)

            def service(c: XCtx) -> Any:
                services = c.services
                if services is None:
                    if not dup or _first(c, key):
                        c.ev.append(undeclared)
                    return UNKNOWN
                present = sname in services
                if not dup or _first(c, key):
                    c.ev.append(listed if present else unlisted)
                return present

            return service
        if func == "rank":
            what = render(node.args[0])
            unknown_rank = Evidence("rank", what, _UNKNOWN_RANK)
            key = ("rank", what, None)
            dup = self._dup(key)

            def rank(c: XCtx) -> Any:
                r = c.rank
                if not dup or _first(c, key):
                    c.ev.append(unknown_rank if r is UNKNOWN else Evidence("rank", what, _quantity(r)))
                return r

            return rank
        if func in ("min", "max"):
            fa, fb = self.compile(node.args[0]), self.compile(node.args[1])
            pick = min if func == "min" else max

            def extreme(c: XCtx) -> Any:
                a, b = fa(c), fb(c)
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else pick(a, b)

            return extreme
        if func == "date":
            assert isinstance(node.args[0], Str)
            day = dt.date.fromisoformat(node.args[0].value)
            return lambda c: day
        return self._metric(node)

    def _fact(self, func: str, fname: str) -> Fn:
        undeclared = Evidence("fact", fname, _NOT_DECLARED)
        key = ("fact", fname, None)
        dup = self._dup(key)
        missing: Any = False if func == "has_fact" else UNKNOWN

        def fact(c: XCtx) -> Any:
            f = c.facts.get(fname)
            if f is None:
                if not dup or _first(c, key):
                    c.ev.append(undeclared)
                return missing
            if not dup or _first(c, key):
                c.ev.append(
                    Evidence("fact", fname, _quantity(f.value), None, None, None, f.date.isoformat(), f.evidence)
                )
            if func == "has_fact":
                return True
            return f.date if func == "fact_date" else f.value

        return fact

    def _metric(self, call: Call, want_counts: bool = False) -> Fn:
        func = call.func
        mname = name_arg(call.args[0], "metric")
        pname = name_arg(call.args[1], "period")
        period = self.book.periods[pname]
        unit = self.book.metrics[mname].unit
        months = tuple(period.months)
        label = f"{format_month(period.start)}..{format_month(period.end)}"
        name = f"{func}({mname})"
        key = ("metric", name, label)
        dup = self._dup(key)

        def no_data(c: XCtx, series: Any) -> Any:
            if not dup or _first(c, key):
                have = series or {}
                gone = tuple(format_month(m) for m in months if m not in have or m in c.incomplete)
                c.ev.append(Evidence("metric", name, Unknown("no_data", gone), label))
            return UNKNOWN

        def rows(c: XCtx) -> list[Any] | None:
            if not c.complete[pname]:
                return None
            series = c.series.get(mname)
            if series is None:
                return None
            out = []
            for m in months:
                o = series.get(m)
                if o is None:
                    return None
                out.append(o)
            return out

        if func in ("pct", "rate"):
            scale = 100 if func == "pct" else 1

            def counts(c: XCtx) -> tuple[int, int] | None:
                """(scale * numerator, denominator) summed over the period, its item recorded;
                None when the value is unknown."""
                series = c.series.get(mname)
                if series is None or not c.complete[pname]:
                    no_data(c, series)
                    return None
                num = den = 0
                for m in months:
                    o = series.get(m)
                    if o is None:
                        no_data(c, series)
                        return None
                    num += o.numerator  # type: ignore[operator]  # counts: checked by the state schema
                    den += o.denominator  # type: ignore[operator]
                if den == 0:
                    if not dup or _first(c, key):
                        c.ev.append(Evidence("metric", name, _ZERO_DENOMINATOR, label, num, den))
                    return None
                if not dup or _first(c, key):
                    c.ev.append(Evidence("metric", name, Ratio(num, den, scale, unit), label, num, den))
                return scale * num, den

            if want_counts:
                return counts

            def ratio(c: XCtx) -> Any:
                nd = counts(c)
                return UNKNOWN if nd is None else Fraction(nd[0], nd[1])

            return ratio
        if func in ("min_pct", "max_pct"):
            lowest = func == "min_pct"

            def monthly(c: XCtx) -> Any:
                obs = rows(c)
                if obs is None:
                    return no_data(c, c.series.get(mname))
                if any(o.denominator == 0 for o in obs):
                    if not dup or _first(c, key):
                        c.ev.append(Evidence("metric", name, _ZERO_DENOMINATOR_MONTH, label))
                    return UNKNOWN
                # the lowest (highest) month's share, found by cross-multiplying its counts
                bn, bd = 0, 0
                for o in obs:
                    n, d = o.numerator, o.denominator
                    if not bd or ((n * bd < bn * d) if lowest else (n * bd > bn * d)):  # d, bd > 0
                        bn, bd = n, d
                value = Fraction(100 * bn, bd)
                if not dup or _first(c, key):
                    c.ev.append(Evidence("metric", name, Number(value, "percent"), label))
                return value

            return monthly
        k = len(months)
        reducers: dict[str, Callable[[list[Fraction]], Fraction]] = {
            "total": _total,
            "mean": lambda xs: _total(xs) / k,
            "min_value": functools.partial(_extreme, lowest=True),
            "max_value": functools.partial(_extreme, lowest=False),
        }
        reduce = reducers[func]

        def values(c: XCtx) -> Any:
            obs = rows(c)
            if obs is None:
                return no_data(c, c.series.get(mname))
            value = reduce([o.value for o in obs])
            if not dup or _first(c, key):
                c.ev.append(Evidence("metric", name, Number(value, unit), label))
            return value

        return values


class _Rule:
    """One rule compiled: its readers, the evidence-free constants of its outcomes."""

    def __init__(self, book: Rulebook, rule: Rule, compiled: Program) -> None:
        self.rule = rule
        self.id = rule.id
        first = _Compiler(book, rule)  # to learn the keys that occur twice
        for node in (rule.condition, rule.applicable_if, rule.completed_on):
            if node is not None:
                first.compile(node)
        counts: dict[Key, int] = {}
        for key in first.keys:
            counts[key] = counts.get(key, 0) + 1
        shared = frozenset(k for k, n in counts.items() if n > 1)
        comp = _Compiler(book, rule, shared)
        self.cond = comp.compile(rule.condition)
        self.guard = comp.compile(rule.applicable_if) if rule.applicable_if is not None else None
        self.done = comp.compile(rule.completed_on) if rule.completed_on is not None else None
        self.dedupe = bool(shared)
        self.citation = Citation(
            rule.source.document, rule.source.section, rule.source.quote, rule.confidence, rule.objective
        )
        self.period = rule.period.name if rule.period else None
        self.heading = {s: f"{STATUS_INFO[s].label}: {rule.title}" for s in STATUSES}
        self.overridden = any(p.override for p in rule.parameters.values())
        kinds = {kind for kind, _, _ in comp.keys}
        self.compares = "comparison" in kinds  # whether an outcome can show comparisons
        self.on_facts = rule.kind == "obligation" and "fact" in kinds  # whether it can rest on a fact
        self.reads_outcomes = comp.reads_outcomes
        self.index = 0  # the rule's place in the rulebook (set by ExplainedProgram)
        self.status_fn = compiled.status[rule.id]
        self.rank_inputs = compiled.rank_inputs.get(rule.id)
        self.monotone = compiled.monotone.get(rule.id, False)

    def tree(self, as_of: dt.date) -> Any:
        """The decision tree for ``as_of``: ``judged`` read once, leaves with their reason formatted
        (but for a reason that names the completion date, formatted when it is decided). A branch
        is ``(reader, {value: node})``, a leaf ``(status, reason, clause needing {done} or None)``."""
        rule = self.rule
        judged = rule.judged_on(as_of)
        readers: dict[str, Fn] = {"cond": self.cond}
        if self.guard is not None:
            readers["guard"] = self.guard
        done, deadline = self.done, rule.deadline
        if done is not None and deadline is not None:

            def late(c: XCtx) -> bool:
                c.done = when = done(c)
                return isinstance(when, dt.date) and when > deadline

            readers["late"] = late

        def reason(clause: Clause) -> str:
            return clause.reason.format(
                applies=rule.applicable_if_text,
                deadline=rule.deadline,
                in_force=rule.in_force,
                done=None,
                as_of=as_of,
            )

        def bind(node: Branch | Clause) -> Any:
            if isinstance(node, Clause):
                if "{done}" in node.reason:  # formatted when it is decided, with the completion date
                    return (node.status, "", node)
                return (node.status, reason(node), None)
            if node.input == "judged":
                return bind(node.branches[judged])
            return (
                readers[node.input],
                {(UNKNOWN if v == "unknown" else v): bind(sub) for v, sub in node.branches.items()},
            )

        return bind(rule.decision_tree)

    def decider(self, as_of: dt.date) -> Callable[[XCtx], Outcome]:
        """The outcome of the rule for the organisation of a context, at ``as_of`` (not a rank() rule)."""
        root = self.tree(as_of)
        rule = self.rule
        rid, kind, title, deadline, assumptions = rule.id, rule.kind, rule.title, rule.deadline, rule.assumptions
        period, citation, explain, dedupe = self.period, self.citation, self._explain, self.dedupe
        applies, in_force = rule.applicable_if_text, rule.in_force

        def decide(c: XCtx) -> Outcome:
            ev: list[Evidence] = []
            c.ev = ev
            c.done = None
            if dedupe:
                c.seen = set()
            node = root
            while len(node) == 2:
                read, branches = node
                node = branches[read(c)]
            status, reason, clause = node
            if clause is not None:
                reason = clause.reason.format(
                    applies=applies, deadline=deadline, in_force=in_force, done=c.done, as_of=as_of
                )
            evidence = tuple(ev)
            return Outcome(
                rid,
                c.org_id,
                kind,
                status,
                title,
                deadline,
                period,
                evidence,
                citation,
                explain(status, reason, evidence),
                assumptions,
            )

        return decide

    def decide(self, c: XCtx, tree: Any, as_of: dt.date, ranking: Ranking[str]) -> Outcome:
        """The outcome of a rank() rule for the organisation of ``c``, its rank read from ``ranking``."""
        ev: list[Evidence] = []
        c.ev = ev
        c.done = None
        if self.dedupe:
            c.seen = set()
        possible: Any = ranking.rank(c.org_id)
        c.rank = UNKNOWN if isinstance(possible, RankRange) else possible
        node = tree
        while len(node) == 2:
            read, branches = node
            node = branches[read(c)]
        status, reason, clause = node
        rule = self.rule
        if clause is not None:
            reason = clause.reason.format(
                applies=rule.applicable_if_text,
                deadline=rule.deadline,
                in_force=rule.in_force,
                done=c.done,
                as_of=as_of,
            )
        status, reason = self._ranked(c, ranking, possible, status, reason)
        evidence = tuple(ev)
        if status != "not_applicable":
            evidence += (_cohort_evidence(rule, ranking, c.org_id),)
        return Outcome(
            rule.id,
            c.org_id,
            rule.kind,
            status,
            rule.title,
            rule.deadline,
            self.period,
            evidence,
            self.citation,
            self._explain(status, reason, evidence),
            rule.assumptions,
        )

    def _ranked(self, c: XCtx, ranking: Ranking[str], possible: Any, status: Status, reason: str) -> tuple[Status, str]:
        """``decide.decide``'s handling of a rank: a range settled, the cohort's unknown reason."""
        if isinstance(possible, RankRange) and status == "unknown":
            fn = self.status_fn
            if self.monotone:  # the range's two ends give every status it gives
                settled = _settle_ends(fn, c, possible)
            else:
                settled = settle(possible, lambda r: fn(c.at_rank(r)))
            c.rank = UNKNOWN
            if settled != "unknown":
                status = settled
                reason = (
                    "decided whatever the unknown members' values: every rank from "
                    f"{possible.low} to {possible.high} gives it"
                )
        if status == "unknown":
            reason = ranking.unknown_reason(c.org_id, self.rule) or reason
        return status, reason

    def _explain(self, status: Status, reason: str, evidence: tuple[Evidence, ...]) -> str:
        """``decide._explain``, reading the evidence once."""
        text = f"{self.heading[status]}. {reason}" if reason else self.heading[status]
        if status == "unknown":
            missing = [f"{e.name} {e.period or ''}".strip() + f" ({e.value})" for e in evidence if e.unknown]
            if missing:
                text += ". missing: " + "; ".join(missing[:4])
        elif self.compares and status not in _WITHOUT_COMPARISONS:
            comparisons = [e.reference for e in evidence if e.kind == "comparison" and e.reference]
            if comparisons:
                text += ". " + "; ".join(comparisons[:3]) + (" ..." if len(comparisons) > 3 else "")
        if self.overridden:
            overrides = sorted({e.reference for e in evidence if e.kind == "parameter" and e.reference})
            if overrides:
                text += ". parameter overridden by " + "; ".join(overrides)
        if self.on_facts and any(e.kind == "fact" for e in evidence):
            text += ". decided on a self-declared fact, not a measured threshold"
        return text


class ExplainedProgram:
    """A rulebook compiled once for full outcomes: rules by dependency level and organisation type,
    as ``compiled.Program`` orders them."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        self.compiled = program(book)
        self.rules = {rule.id: _Rule(book, rule, self.compiled) for rule in book.rules}
        self.by_type: list[dict[str, list[_Rule]]] = [
            {t: [self.rules[rid] for rid, _ in fns] for t, fns in level.items()} for level in self.compiled.by_type
        ]
        self.ranked: list[list[_Rule]] = [[self.rules[r.id] for r, *_ in level] for level in self.compiled.ranked]
        for i, r in enumerate(self.rules.values()):
            r.index = i
        self.by_id: dict[str, list[str]] = {
            t: sorted(r.id for r in book.rules if t in r.applies_to)
            for t in {t for r in book.rules for t in r.applies_to}
        }
        months = {m for p in book.periods.values() for m in p.months}
        self.months = frozenset(months)

    def _decide_all(
        self, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort]
    ) -> tuple[list[XCtx], list[list[Outcome]]]:
        """Every outcome: the organisations' contexts in id order (each with its outcomes by rule)
        and, per rule in the rulebook's order, its outcomes in organisation id order."""
        book = self.book
        complete = {name: month_complete(p.end, as_of) for name, p in book.periods.items()}
        incomplete = frozenset(m for m in self.months if not month_complete(m, as_of))
        date_facts = book.date_facts
        ctxs = [XCtx(org, as_of, complete, date_facts, incomplete) for org in orgs]
        ordered = sorted(ctxs, key=lambda c: c.org_id)
        trees = {r.id: r.tree(as_of) for level in self.ranked for r in level}
        buckets: list[list[Outcome]] = [[] for _ in self.rules]
        deciders = {
            rid: (rid, r.decider(as_of), buckets[r.index].append)
            for rid, r in self.rules.items()
            if not r.rule.uses_rank
        }
        for level, ranked in zip(self.by_type, self.ranked, strict=True):
            by_type = {t: [deciders[r.id] for r in rules] for t, rules in level.items()}
            for r in ranked:
                assert r.rank_inputs is not None
                arg, guard = r.rank_inputs
                types = r.rule.applies_to
                members = [c for c in ctxs if c.org_type in types]  # the state's order, as the reference ranks
                ranking = cohort_ranks(r.rule, [c.org_id for c in members], members, arg, guard, cohorts)
                tree, bucket = trees[r.id], buckets[r.index]
                for c in ordered:
                    if c.org_type in types:
                        outcome = r.decide(c, tree, as_of, ranking)
                        c.outcomes[r.id] = outcome.status
                        c.results[r.id] = outcome
                        bucket.append(outcome)
            for c in ordered:
                statuses, results = c.outcomes, c.results
                for rid, decide, keep in by_type.get(c.org_type, ()):
                    outcome = decide(c)
                    statuses[rid] = outcome.status
                    results[rid] = outcome
                    keep(outcome)
        return ordered, buckets

    def run(
        self, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
    ) -> list[Outcome]:
        """Every applicable (rule, organisation) outcome, equal to ``native.run``'s (in the order
        of the trace: by rule in the rulebook's order, then by organisation id)."""
        _, buckets = self._decide_all(orgs, as_of, cohorts)
        return [o for bucket in buckets for o in bucket]

    def evaluation(
        self, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
    ) -> tuple[list[Outcome], list[Firing]]:
        """The outcomes in the order of ``Evaluation.outcomes`` (by organisation id, then rule id)
        and the firing trace (``decide.firing`` of each, by rule in the rulebook's order, then by
        organisation id): what ``engine.evaluate`` assembles from ``native.run``'s outcomes."""
        ordered, buckets = self._decide_all(orgs, as_of, cohorts)
        by_id = self.by_id
        outcomes = [c.results[rid] for c in ordered for rid in by_id.get(c.org_type, ())]
        trace: list[Firing] = []
        step = 0
        for r, bucket in zip(self.rules.values(), buckets, strict=True):
            rid, stratum = r.id, r.rule.stratum
            for o in bucket:
                step += 1
                inputs = (
                    tuple((e.name, e.quantity.value) for e in o.evidence if isinstance(e.quantity, OutcomeStatus))
                    if r.reads_outcomes
                    else ()
                )
                trace.append(Firing(step, rid, o.org_id, o.status, stratum, inputs))
        return outcomes, trace


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while the outcomes are built, then as it was.

    The outcomes, their evidence and the trace are hundreds of thousands of new objects; each
    batch of them lets the collector run, and a full collection walks every object alive, the
    whole frozen State among them (over a million observations nationally): two such collections
    cost as much as the evaluation's own work. Nothing built here holds a reference cycle
    (reference counting frees it all), so pausing loses nothing. The pause is the process's one
    (``io.collector.paused``: shared by threads and nested calls, resumed when the last ends).

    When it ends, the objects made meanwhile (and any other young ones) are moved to the oldest
    generation (``gc.freeze`` then ``gc.unfreeze``: a splice of lists, no traversal), so the
    collections of the young generations that would follow do not walk the outcomes only to
    promote them (about 8% of ``evaluate`` on the UEC slice); cyclic garbage among those objects
    waits for the next full collection. Skipped when objects are frozen already (a pre-fork
    server's ``gc.freeze``), which ``gc.unfreeze`` would release, and after an error."""
    with paused(_to_oldest_generation):
        yield


def _to_oldest_generation() -> None:
    if not gc.get_freeze_count():  # nobody else has frozen objects (a pre-fork server might)
        gc.freeze()  # the young objects, the outcomes among them, straight to the oldest generation
        gc.unfreeze()


@functools.lru_cache(maxsize=8)
def explained_program(book: Rulebook) -> ExplainedProgram:
    """The rulebook compiled for full outcomes (once per rulebook digest)."""
    return ExplainedProgram(book)


def run(
    book: Rulebook, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
) -> list[Outcome]:
    """Every applicable (rule, organisation) outcome: equal to ``native.run`` on the organisations'
    views at ``as_of``, from the compiled closures."""
    with collector_paused():
        return explained_program(book).run(orgs, as_of, cohorts)


def evaluation(
    book: Rulebook, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
) -> tuple[list[Outcome], list[Firing]]:
    """``ExplainedProgram.evaluation`` of the rulebook's program: the outcomes sorted as
    ``Evaluation.outcomes`` and the trace."""
    with collector_paused():
        return explained_program(book).evaluation(orgs, as_of, cohorts)

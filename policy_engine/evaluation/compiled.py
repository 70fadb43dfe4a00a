"""The compiled backend: statuses only, from rules compiled once into Python closures.

Each rule's checked AST becomes a tree of closures (no ``eval``, no source text generated), with
rules indexed by organisation type and dependency level, so an organisation only runs the rules
that apply to it. It computes what the reference evaluator computes, in exact arithmetic, but
records no evidence or explanation: it is the fast path for loops that only need statuses
(``policy_engine.statuses``). Comparisons of a percentage or rate with a constant are decided
in integers (``100 * num * q >= p * den``), without building fractions.
``tests/test_compiled.py`` checks it against the reference evaluator for equality.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

from ..data.state import CompleteCohort, Organisation, facts_at
from ..language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary
from ..language.checker import metric_key, name_arg
from ..language.months import month_end
from ..language.rules import Rule, Status
from ..language.statuses import Input, Tri, status_function
from ..rulebook.loader import Rulebook
from .cohort import Ranking, rank_cohort, settle
from .decide import dependency_levels
from .expressions import UNKNOWN, find_rank_argument

K = TypeVar("K", bound=Hashable)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Ctx:
    """One organisation at one date: what the closures read."""

    __slots__ = ("as_of", "complete", "facts", "outcomes", "rank", "series", "services")

    def __init__(
        self, org: Organisation, as_of: dt.date, complete: Mapping[str, bool], date_facts: frozenset[str]
    ) -> None:
        self.as_of = as_of
        self.complete = complete
        self.series = org.metrics
        self.services = org.services
        self.facts = facts_at(org, as_of, date_facts)
        self.outcomes: dict[str, Status] = {}
        self.rank: Any = UNKNOWN

    def at_rank(self, rank: Any) -> Ctx:
        """This context with ``rank`` as the value of rank()."""
        self.rank = rank
        return self


Fn = Callable[[Ctx], Any]


class _Compiler:
    def __init__(self, book: Rulebook, rule: Rule) -> None:
        self.book = book
        self.rule = rule

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
        return self._call(node)

    def _name(self, node: Name) -> Fn:
        if node.dotted == "as_of":
            return lambda c: c.as_of
        if node.dotted == "deadline":
            deadline = self.rule.deadline
            return lambda c: deadline
        value = self.rule.parameters[node.parts[1]].value
        return lambda c: value

    def _constant(self, node: Node) -> Fraction | None:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Name) and node.parts[0] == "param":
            return self.rule.parameters[node.parts[1]].value
        return None

    def _binary(self, node: Binary) -> Fn:
        op = node.op
        if op in _OPS:
            fast = self._ratio_comparison(node)
            if fast is not None:
                return fast
        fa, fb = self.compile(node.left), self.compile(node.right)
        if op == "and":

            def conj(c: Ctx) -> Any:
                a = fa(c)
                if a is False:
                    return False
                b = fb(c)
                if b is False:
                    return False
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else True

            return conj
        if op == "or":

            def disj(c: Ctx) -> Any:
                a = fa(c)
                if a is True:
                    return True
                b = fb(c)
                if b is True:
                    return True
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else False

            return disj
        if op == "/":

            def div(c: Ctx) -> Any:
                a, b = fa(c), fb(c)
                if a is UNKNOWN or b is UNKNOWN or b == 0:
                    return UNKNOWN
                return a / b

            return div
        fn = {"+": operator.add, "-": operator.sub, "*": operator.mul}.get(op) or _OPS[op]

        def binop(c: Ctx) -> Any:
            a, b = fa(c), fb(c)
            if a is UNKNOWN or b is UNKNOWN:
                return UNKNOWN
            return fn(a, b)

        return binop

    def _ratio_comparison(self, node: Binary) -> Fn | None:
        """``pct(m, p) op constant`` (either side) in integers: no fraction is built."""
        left, right, op = node.left, node.right, node.op
        const = self._constant(right)
        call = left
        if const is None:
            const, call = self._constant(left), right
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if const is None or not isinstance(call, Call) or call.func not in ("pct", "rate"):
            return None
        counts = self._counts(call)
        scale = 100 if call.func == "pct" else 1
        p, q = const.numerator, const.denominator
        cmp = _OPS[op]

        def compare(c: Ctx) -> Any:
            nd = counts(c)
            if nd is None:
                return UNKNOWN
            num, den = nd
            return cmp(scale * num * q, p * den)  # den > 0: the order is kept

        return compare

    def _counts(self, call: Call) -> Callable[[Ctx], tuple[int, int] | None]:
        """Summed (numerator, denominator) over the period; None when unknown (or denominator 0)."""
        metric, period = metric_key(call)
        months = tuple(self.book.periods[period].months)

        def counts(c: Ctx) -> tuple[int, int] | None:
            if not c.complete[period]:
                return None
            series = c.series.get(metric)
            if series is None:
                return None
            num = den = 0
            for m in months:
                o = series.get(m)
                if o is None:
                    return None
                num += o.numerator  # type: ignore[operator]
                den += o.denominator  # type: ignore[operator]
            return (num, den) if den else None

        return counts

    def _call(self, node: Call) -> Fn:
        func = node.func
        if func == "outcome":
            assert isinstance(node.args[0], Str)
            rid = node.args[0].value
            return lambda c: UNKNOWN if (s := c.outcomes[rid]) == "unknown" else s
        if func in ("fact", "fact_date", "has_fact"):
            fname = name_arg(node.args[0], "fact")
            if func == "has_fact":
                return lambda c: fname in c.facts
            if func == "fact_date":
                return lambda c: UNKNOWN if (f := c.facts.get(fname)) is None else f.date
            return lambda c: UNKNOWN if (f := c.facts.get(fname)) is None else f.value
        if func == "has_service":
            sname = name_arg(node.args[0], "service")
            return lambda c: UNKNOWN if c.services is None else sname in c.services
        if func == "rank":
            return lambda c: c.rank
        if func in ("min", "max"):
            fa, fb = self.compile(node.args[0]), self.compile(node.args[1])
            pick = min if func == "min" else max

            def extreme(c: Ctx) -> Any:
                a, b = fa(c), fb(c)
                return UNKNOWN if (a is UNKNOWN or b is UNKNOWN) else pick(a, b)

            return extreme
        if func == "date":
            assert isinstance(node.args[0], Str)
            day = dt.date.fromisoformat(node.args[0].value)
            return lambda c: day
        return self._metric(node)

    def _metric(self, call: Call) -> Fn:
        func = call.func
        if func in ("pct", "rate"):
            counts = self._counts(call)
            scale = 100 if func == "pct" else 1
            return lambda c: UNKNOWN if (nd := counts(c)) is None else Fraction(scale * nd[0], nd[1])
        metric, period = metric_key(call)
        months = tuple(self.book.periods[period].months)

        def rows(c: Ctx) -> list[Any] | None:
            if not c.complete[period]:
                return None
            series = c.series.get(metric)
            if series is None:
                return None
            out = []
            for m in months:
                o = series.get(m)
                if o is None:
                    return None
                out.append(o)
            return out

        if func in ("min_pct", "max_pct"):
            pick = min if func == "min_pct" else max

            def monthly(c: Ctx) -> Any:
                obs = rows(c)
                if obs is None or any(o.denominator == 0 for o in obs):
                    return UNKNOWN
                return pick(Fraction(100 * o.numerator, o.denominator) for o in obs)

            return monthly
        k = len(months)
        reducers: dict[str, Callable[[list[Fraction]], Any]] = {
            "total": lambda xs: sum(xs, Fraction(0)),
            "mean": lambda xs: sum(xs, Fraction(0)) / k,
            "min_value": min,
            "max_value": max,
        }
        reduce = reducers[func]

        def values(c: Ctx) -> Any:
            obs = rows(c)
            return UNKNOWN if obs is None else reduce([o.value for o in obs])

        return values


def _status_fn(book: Rulebook, rule: Rule) -> Callable[[Ctx], Status]:
    """The rule's status for one organisation: its decision table (``language.statuses``) over
    the compiled guard, condition and completion date."""
    comp = _Compiler(book, rule)
    cond = comp.compile(rule.condition)
    guard = comp.compile(rule.applicable_if) if rule.applicable_if is not None else None
    done = comp.compile(rule.completed_on) if rule.completed_on is not None else None
    deadline = rule.deadline

    def late(c: Ctx) -> Tri:
        assert done is not None and deadline is not None
        when = done(c)
        return isinstance(when, dt.date) and when > deadline

    judged_on = rule.judged_on
    readers: dict[Input, Callable[[Ctx], object]] = {
        "cond": cond,
        "judged": lambda c: judged_on(c.as_of),
        "late": late,
    }
    if guard is not None:
        readers["guard"] = guard
    return status_function(rule.decision_tree, readers, unknown=UNKNOWN)


class Program:
    """A rulebook compiled for one process: rules by dependency level and organisation type."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        levels = dependency_levels(book)
        self.levels: list[list[tuple[Rule, Callable[[Ctx], Status]]]] = [
            [] for _ in range(max(levels.values(), default=-1) + 1)
        ]
        for rule in book.rules:
            self.levels[levels[rule.id]].append((rule, _status_fn(book, rule)))
        self.by_type: list[dict[str, list[tuple[str, Callable[[Ctx], Status]]]]] = [
            {t: [(r.id, f) for r, f in level if t in r.applies_to and not r.uses_rank] for t in _types(book)}
            for level in self.levels
        ]
        self.ranked: list[list[tuple[Rule, Callable[[Ctx], Status], Fn, Fn | None]]] = []
        for level in self.levels:
            ranked = []
            for rule, fn in level:
                if rule.uses_rank:
                    arg = find_rank_argument(rule.condition)
                    assert arg is not None
                    comp = _Compiler(book, rule)
                    guard = comp.compile(rule.applicable_if) if rule.applicable_if is not None else None
                    ranked.append((rule, fn, comp.compile(arg), guard))
            self.ranked.append(ranked)

        self.status = {rule.id: fn for level in self.levels for rule, fn in level}
        self.rank_inputs = {rule.id: (arg, guard) for ranked in self.ranked for rule, _, arg, guard in ranked}

    def contexts(self, orgs: Sequence[Organisation], as_of: dt.date) -> list[Ctx]:
        """What the closures read, per organisation, at ``as_of``."""
        complete = {name: month_end(p.end) < as_of for name, p in self.book.periods.items()}
        date_facts = self.book.date_facts
        return [Ctx(org, as_of, complete, date_facts) for org in orgs]

    def run(
        self, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
    ) -> dict[str, dict[str, Status]]:
        """org id -> rule id -> status, for every rule that applies to the organisation's type."""
        ctxs = list(zip(orgs, self.contexts(orgs, as_of), strict=True))
        for by_type, ranked in zip(self.by_type, self.ranked, strict=True):
            for rule, fn, arg, guard in ranked:
                members = [(org.id, c) for org, c in ctxs if org.type in rule.applies_to]
                ranking = cohort_ranks(rule, [k for k, _ in members], [c for _, c in members], arg, guard, cohorts)
                for key, c in members:
                    c.outcomes[rule.id] = ranked_status(fn, c, ranking.rank(key))
            for org, c in ctxs:
                outcomes = c.outcomes
                for rid, fn in by_type.get(org.type, ()):
                    outcomes[rid] = fn(c)
        return {org.id: c.outcomes for org, c in ctxs}


def cohort_ranks(
    rule: Rule,
    keys: Sequence[K],
    cohort: Sequence[Ctx],
    arg: Fn,
    guard: Fn | None,
    cohorts: Sequence[CompleteCohort] = (),
) -> Ranking[K]:
    """The ranking of ``cohort`` (keyed by ``keys``), as ``_decide.cohort_ranks`` makes it."""
    members = []
    for key, c in zip(keys, cohort, strict=True):
        g = True if guard is None else guard(c)
        members.append((key, g, arg(c) if g is True else UNKNOWN))
    return rank_cohort(rule, members, cohorts)


def ranked_status(fn: Callable[[Ctx], Status], c: Ctx, rank: Any) -> Status:
    """A rank() rule's status for one member: every rank its range allows must agree."""
    return settle(rank, lambda r: fn(c.at_rank(r)))


def _types(book: Rulebook) -> set[str]:
    return {t for r in book.rules for t in r.applies_to}


@functools.lru_cache(maxsize=8)
def program(book: Rulebook) -> Program:
    """The compiled program of a rulebook (compiled once per rulebook digest)."""
    return Program(book)

"""The compiled backend: statuses only, from rules compiled once into Python closures.

Each rule's checked AST becomes a tree of closures (no ``eval``, no source text generated), with
rules indexed by organisation type and dependency level, so an organisation only runs the rules
that apply to it. It computes what the reference evaluator computes, in exact arithmetic, but
records no evidence or explanation: it is the fast path for loops that only need statuses
(``policy_engine.statuses``).

Numbers are exact rationals carried as integer pairs ``(numerator, denominator)``, denominator
positive, not as ``Fraction`` objects: a comparison of two numeric expressions is decided by
cross-multiplying integers (``100 * num * q >= p * den`` for a percentage against a constant,
``n1 * d2 < n2 * d1`` for one year's rate against another's). Sums of monthly values stay
integers while the values are whole; the lowest or highest month of a share is found by
cross-multiplication. A ``Fraction`` is built only where a value leaves the comparisons (a
rank() argument). Per run, each rule's decision is specialised to whether the date is one on
which the rule is judged, and a rank() rule whose condition compares the rank with a constant
settles a range of possible ranks from its two ends.
``tests/test_compiled.py`` checks it against the reference evaluator for equality.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Any, TypeVar

from ..data.state import CompleteCohort, Organisation, facts_at
from ..language.ast import ARITHMETIC, Binary, Bool, Call, Name, Node, Num, Str, Unary, walk
from ..language.checker import metric_key, name_arg
from ..language.months import month_end
from ..language.rules import Rule, Status
from ..language.statuses import Branch, Clause, Input, Tri, status_function
from ..rulebook.loader import Rulebook
from .cohort import MAX_RANK_RANGE, Ranking, RankRange, rank_cohort, settle
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
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ORDERS = frozenset({"<", "<=", ">", ">="})


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
Pair = tuple[int, int]
"""An exact rational as (numerator, denominator), the denominator positive (not reduced)."""
QFn = Callable[[Ctx], Pair | None]
"""A numeric expression's value as a Pair; None when it is unknown."""


def _pair(v: Fraction | int) -> Pair:
    return v.numerator, v.denominator


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
        if not (isinstance(node, Call) and node.func == "rank") and (q := self._rational(node)) is not None:
            return _as_fraction(q)  # a number leaving the comparisons (a rank() argument)
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
            fast = self._comparison(node)
            if fast is not None:
                return fast
        if op in ("and", "or"):
            services = self._services(node)
            if services is not None:
                return services
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

    def _services(self, node: Binary) -> Fn | None:
        """``has_service(a) or has_service(b) ...`` (or all ``and``) as one set test: unknown when
        the organisation declares no services, as each call is (and Kleene logic keeps it)."""
        names: set[str] = set()
        stack: list[Node] = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, Binary) and n.op == node.op:
                stack += [n.left, n.right]
            elif isinstance(n, Call) and n.func == "has_service":
                names.add(name_arg(n.args[0], "service"))
            else:
                return None
        wanted = frozenset(names)
        if node.op == "or":
            return lambda c: UNKNOWN if (s := c.services) is None else not wanted.isdisjoint(s)
        return lambda c: UNKNOWN if (s := c.services) is None else wanted <= s

    def _comparison(self, node: Binary) -> Fn | None:
        """A comparison of two numbers in integers (cross-multiplied pairs): no fraction is built."""
        op, left, right = node.op, node.left, node.right
        cl, cr = self._constant(left), self._constant(right)
        if cl is not None and cr is not None:
            return None
        if cl is not None:  # constant op x: x mirrored op constant
            left, right, cr = right, left, cl
            op = _MIRROR.get(op, op)
        cmp = _OPS[op]
        fa = self._rational(left)
        if fa is None:
            return None
        if cr is not None:
            p, q = cr.numerator, cr.denominator
            if q == 1:

                def against_int(c: Ctx) -> Any:
                    a = fa(c)
                    return UNKNOWN if a is None else cmp(a[0], p * a[1])

                return against_int

            def against(c: Ctx) -> Any:
                a = fa(c)
                return UNKNOWN if a is None else cmp(a[0] * q, p * a[1])

            return against
        fb = self._rational(right)
        if fb is None:
            return None

        def compare(c: Ctx) -> Any:
            a = fa(c)
            if a is None:
                return UNKNOWN
            b = fb(c)
            if b is None:
                return UNKNOWN
            return cmp(a[0] * b[1], b[0] * a[1])  # both denominators > 0: the order is kept

        return compare

    def _rational(self, node: Node) -> QFn | None:
        """A numeric expression as a closure giving its exact value as a Pair (None: unknown), or
        None when ``node`` is not a number this compiles."""
        const = self._constant(node)
        if const is not None:
            pair = _pair(const)
            return lambda c: pair
        if isinstance(node, Unary):
            if node.op != "-" or (f := self._rational(node.operand)) is None:
                return None
            return lambda c: None if (a := f(c)) is None else (-a[0], a[1])
        if isinstance(node, Binary):
            if node.op not in ARITHMETIC:
                return None
            fa, fb = self._rational(node.left), self._rational(node.right)
            if fa is None or fb is None:
                return None
            return _arithmetic(node.op, fa, fb)
        if not isinstance(node, Call):
            return None
        func = node.func
        if func in ("pct", "rate"):
            counts = self._counts(node)
            if func == "rate":
                return counts
            return lambda c: None if (nd := counts(c)) is None else (100 * nd[0], nd[1])
        if func in ("min_pct", "max_pct"):
            return self._monthly_share(node, func == "min_pct")
        if func in ("total", "mean", "min_value", "max_value"):
            return self._values(node)
        if func == "fact":
            fname = name_arg(node.args[0], "fact")
            fdef = self.book.facts.get(fname)
            if fdef is None or fdef.type != "number":
                return None
            return lambda c: None if (f := c.facts.get(fname)) is None else _pair(f.value)  # type: ignore[arg-type]
        if func == "rank":
            return lambda c: None if (r := c.rank) is UNKNOWN else _pair(r)
        if func in ("min", "max"):
            fa, fb = self._rational(node.args[0]), self._rational(node.args[1])
            if fa is None or fb is None:
                return None
            lowest = func == "min"

            def extreme(c: Ctx) -> Pair | None:
                a = fa(c)
                if a is None:
                    return None
                b = fb(c)
                if b is None:
                    return None
                if a[0] * b[1] < b[0] * a[1]:  # a < b
                    return a if lowest else b
                return b if lowest else a

            return extreme
        return None

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

    def _monthly_share(self, call: Call, lowest: bool) -> QFn:
        """min_pct / max_pct: the lowest (highest) month's share, found by cross-multiplying each
        month's counts; unknown if a month is missing or has a zero denominator."""
        metric, period = metric_key(call)
        months = tuple(self.book.periods[period].months)

        def monthly(c: Ctx) -> Pair | None:
            if not c.complete[period]:
                return None
            series: Any = c.series.get(metric)  # month -> Observation
            if series is None:
                return None
            bn, bd = 0, 0
            for m in months:
                o = series.get(m)
                if o is None:
                    return None
                n, d = o.numerator, o.denominator
                if not d:
                    return None
                if not bd or ((n * bd < bn * d) if lowest else (n * bd > bn * d)):
                    bn, bd = n, d
            return (100 * bn, bd)

        return monthly

    def _values(self, call: Call) -> QFn:
        """total / mean / min_value / max_value over a value series: integers while the values
        are whole, ``Fraction`` arithmetic only for a value that is not."""
        func = call.func
        metric, period = metric_key(call)
        months = tuple(self.book.periods[period].months)
        k = len(months)

        total = func in ("total", "mean")
        scale = k if func == "mean" else 1
        lowest = func == "min_value"

        def values(c: Ctx) -> Pair | None:
            if not c.complete[period]:
                return None
            series: Any = c.series.get(metric)  # month -> Observation
            if series is None:
                return None
            acc: Any = 0 if total else None  # the sum, or the extreme so far: an int while values are whole
            for m in months:
                o = series.get(m)
                if o is None:
                    return None
                v = o.value
                x = v.numerator if v.denominator == 1 else v
                if total:
                    acc += x
                elif acc is None or (x < acc if lowest else x > acc):
                    acc = x
            return (acc, scale) if type(acc) is int else (acc.numerator, acc.denominator * scale)

        return values

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
        assert func == "date", func  # every numeric call compiles to a rational (``_rational``)
        assert isinstance(node.args[0], Str)
        day = dt.date.fromisoformat(node.args[0].value)
        return lambda c: day


def _as_fraction(q: QFn) -> Fn:
    return lambda c: UNKNOWN if (a := q(c)) is None else Fraction(a[0], a[1])


def _arithmetic(op: str, fa: QFn, fb: QFn) -> QFn:
    """``a op b`` on Pairs (unknown if either is; a division by zero is unknown)."""

    def arith(c: Ctx) -> Pair | None:
        a = fa(c)
        if a is None:
            return None
        b = fb(c)
        if b is None:
            return None
        an, ad = a
        bn, bd = b
        if op == "+":
            return (an * bd + bn * ad, ad * bd) if ad != bd else (an + bn, ad)
        if op == "-":
            return (an * bd - bn * ad, ad * bd) if ad != bd else (an - bn, ad)
        if op == "*":
            return (an * bn, ad * bd)
        if bn == 0:
            return None
        return (an * bd, ad * bn) if bn > 0 else (-an * bd, -ad * bn)

    return arith


def _status_fn(book: Rulebook, rule: Rule) -> Callable[[Ctx], Status]:
    """The rule's status for one organisation: its decision table (``language.statuses``) over
    the compiled guard, condition and completion date."""
    return _status_fns(book, rule)[0]


def _status_fns(
    book: Rulebook, rule: Rule
) -> tuple[Callable[[Ctx], Status], tuple[Callable[[Ctx], Status], Callable[[Ctx], Status]]]:
    """The rule's status function (``_status_fn``), and the same specialised to a date on which
    the rule is not judged and to one on which it is (indexed by that bool): the decision tree
    with its ``judged`` input fixed, so a run reads it once per rule, not once per organisation."""
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
    tree = rule.decision_tree
    general = status_function(tree, readers, unknown=UNKNOWN)
    fixed = (
        status_function(_fix(tree, "judged", False), readers, unknown=UNKNOWN),
        status_function(_fix(tree, "judged", True), readers, unknown=UNKNOWN),
    )
    return general, fixed


def _fix(node: Branch | Clause, name: Input, value: Tri) -> Branch | Clause:
    """The decision tree with input ``name`` known to be ``value``."""
    if isinstance(node, Clause):
        return node
    if node.input == name:
        return _fix(node.branches[value], name, value)
    return Branch(node.input, MappingProxyType({v: _fix(sub, name, value) for v, sub in node.branches.items()}))


def _monotone_in_rank(comp: _Compiler, rule: Rule) -> bool:
    """Whether the rule's rank() is compared with a constant by an order (``rank(x) <= k``), its
    only use, and the guard and completion date do not read it: then the status, over a range of
    ranks, takes at most the values it takes at the range's two ends (the comparison is a step
    in the rank, and the status depends on the rank only through it)."""
    if any(find_rank_argument(n) is not None for n in (rule.applicable_if, rule.completed_on) if n is not None):
        return False
    ranks = [n for n in walk(rule.condition) if isinstance(n, Call) and n.func == "rank"]
    if len(ranks) != 1:
        return False
    for n in walk(rule.condition):
        if isinstance(n, Binary) and n.op in _ORDERS:
            if (n.left is ranks[0] and comp._constant(n.right) is not None) or (
                n.right is ranks[0] and comp._constant(n.left) is not None
            ):
                return True
    return False


_Ranked = tuple[Rule, Callable[[Ctx], Status], Fn, "Fn | None", bool]
_Plan = list[tuple[dict[str, list[tuple[str, Callable[[Ctx], Status]]]], list[_Ranked]]]


class Program:
    """A rulebook compiled for one process: rules by dependency level and organisation type."""

    def __init__(self, book: Rulebook) -> None:
        self.book = book
        levels = dependency_levels(book)
        self.levels: list[list[tuple[Rule, Callable[[Ctx], Status]]]] = [
            [] for _ in range(max(levels.values(), default=-1) + 1)
        ]
        self.fixed: dict[str, tuple[Callable[[Ctx], Status], Callable[[Ctx], Status]]] = {}
        """Each rule's status function on a date it is not judged (``[False]``) and one it is (``[True]``)."""
        for rule in book.rules:
            general, fixed = _status_fns(book, rule)
            self.levels[levels[rule.id]].append((rule, general))
            self.fixed[rule.id] = fixed
        self.by_type: list[dict[str, list[tuple[str, Callable[[Ctx], Status]]]]] = [
            {t: [(r.id, f) for r, f in level if t in r.applies_to and not r.uses_rank] for t in _types(book)}
            for level in self.levels
        ]
        self.ranked: list[list[tuple[Rule, Callable[[Ctx], Status], Fn, Fn | None]]] = []
        self.monotone: dict[str, bool] = {}
        """rank() rules whose status over a range of ranks is settled by the range's ends."""
        for level in self.levels:
            ranked = []
            for rule, fn in level:
                if rule.uses_rank:
                    arg = find_rank_argument(rule.condition)
                    assert arg is not None
                    comp = _Compiler(book, rule)
                    guard = comp.compile(rule.applicable_if) if rule.applicable_if is not None else None
                    ranked.append((rule, fn, comp.compile(arg), guard))
                    self.monotone[rule.id] = _monotone_in_rank(comp, rule)
            self.ranked.append(ranked)

        self.status = {rule.id: fn for level in self.levels for rule, fn in level}
        self.rank_inputs = {rule.id: (arg, guard) for ranked in self.ranked for rule, _, arg, guard in ranked}
        self._plans: dict[tuple[bool, ...], _Plan] = {}

    def contexts(self, orgs: Sequence[Organisation], as_of: dt.date) -> list[Ctx]:
        """What the closures read, per organisation, at ``as_of``."""
        complete = {name: month_end(p.end) < as_of for name, p in self.book.periods.items()}
        date_facts = self.book.date_facts
        return [Ctx(org, as_of, complete, date_facts) for org in orgs]

    def _plan(self, as_of: dt.date) -> _Plan:
        """The levels' rules by organisation type, each status function specialised to whether
        the rule is judged on ``as_of`` (kept per pattern of judged rules: a few per rulebook)."""
        judged = tuple(rule.judged_on(as_of) for rule in self.book.rules)
        plan = self._plans.get(judged)
        if plan is None:
            when = dict(zip((r.id for r in self.book.rules), judged, strict=True))
            plan = []
            for by_type, ranked in zip(self.by_type, self.ranked, strict=True):
                fixed_types = {
                    t: [(rid, self.fixed[rid][when[rid]]) for rid, _ in rules] for t, rules in by_type.items()
                }
                fixed_ranked: list[_Ranked] = [
                    (rule, self.fixed[rule.id][when[rule.id]], arg, guard, self.monotone[rule.id])
                    for rule, _, arg, guard in ranked
                ]
                plan.append((fixed_types, fixed_ranked))
            self._plans[judged] = plan
        return plan

    def run(
        self, orgs: Sequence[Organisation], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
    ) -> dict[str, dict[str, Status]]:
        """org id -> rule id -> status, for every rule that applies to the organisation's type."""
        ctxs = list(zip(orgs, self.contexts(orgs, as_of), strict=True))
        for by_type, ranked in self._plan(as_of):
            for rule, fn, arg, guard, monotone in ranked:
                members = [(org.id, c) for org, c in ctxs if org.type in rule.applies_to]
                ranking = cohort_ranks(rule, [k for k, _ in members], [c for _, c in members], arg, guard, cohorts)
                rid = rule.id
                for key, c in members:
                    rank = ranking.rank(key)
                    if monotone and isinstance(rank, RankRange):
                        c.outcomes[rid] = _settle_ends(fn, c, rank)
                    else:
                        c.outcomes[rid] = ranked_status(fn, c, rank)
            for org, c in ctxs:
                outcomes = c.outcomes
                for rid, fn in by_type.get(org.type, ()):
                    outcomes[rid] = fn(c)
        return {org.id: c.outcomes for org, c in ctxs}


def _settle_ends(fn: Callable[[Ctx], Status], c: Ctx, rank: RankRange) -> Status:
    """``ranked_status`` for a rule monotone in its rank (``_monotone_in_rank``): the statuses at
    the range's two ends are every status the range gives; a range too wide is unknown, as ever."""
    if rank.high - rank.low > MAX_RANK_RANGE:
        return "unknown"
    low = fn(c.at_rank(Fraction(rank.low)))
    return low if fn(c.at_rank(Fraction(rank.high))) == low else "unknown"


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

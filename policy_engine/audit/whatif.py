"""Counterfactuals: the smallest change in an organisation's data that would flip an outcome."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import attrs

from ..data.state import Observation, State, state_from_dict, view_at
from ..engine import evaluate as evaluate_state
from ..errors import StateError
from ..evaluation.expressions import UNKNOWN, Env, evaluate
from ..language.ast import render
from ..language.months import format_month, month_complete
from ..language.numbers import exact_decimal, format_in_unit
from ..language.rules import Period, Rule
from ..language.shape import Comparison
from ..language.statuses import STATUS_INFO
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = ["WhatIf", "what_if"]

_NEGATE = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
_MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}


@attrs.frozen
class WhatIf:
    """The answer: the change (exact and verified by re-evaluation), or why it cannot be computed."""

    rule_id: str
    org_id: str
    status: str
    flipped_status: str | None
    exact: bool
    message: str
    metric: str | None = None
    period: str | None = None
    delta: Fraction | None = None
    """The change in the metric's own counts or values: the numerator (pct, rate, min_pct, max_pct),
    or the values (total, mean, min_value, max_value), summed over the months changed."""
    unit: str | None = None
    """The unit of ``before``, ``after`` and ``threshold`` (``percent`` for the pct functions)."""
    before: Fraction | None = None
    """The measured side of the condition now (``rate(cat2_response, fy2024_25)``: the mean, in seconds)."""
    after: Fraction | None = None
    """The measured side after the change."""
    threshold: Fraction | None = None
    """The value it is compared with."""
    changes: tuple[tuple[str, Fraction, Fraction], ...] = ()
    """Each month changed: (``YYYY-MM``, the numerator or value before, after)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: exact numbers as text (``"2147/1"`` is written ``"2147"``), the changes as objects."""
        d = attrs.asdict(self, recurse=False)
        for key in ("delta", "before", "after", "threshold"):
            d[key] = None if d[key] is None else str(d[key])
        d["changes"] = [{"period": p, "from": str(old), "to": str(new)} for p, old, new in self.changes]
        return d

    def text(self) -> str:
        """The answer as the command line shows it."""
        verdict = "exact: " if self.exact else "not computed exactly: "
        return f"{self.rule_id} [{self.org_id}]: {self.status}\n{verdict}{self.message}\n"


def what_if(
    state: State | dict[str, Any],
    rule_id: str,
    org_id: str,
    rulebook: Rulebook | str | None = None,
    *,
    as_of: dt.date | str | None = None,
) -> WhatIf:
    """The smallest change to ``org_id``'s data that flips ``rule_id``'s outcome.

    Computed for a condition that is one comparison ``F(metric, period) OP bound`` (the bound may be a
    parameter or an expression over other data that does not read the metric over that period):

    - ``pct``/``rate``: the numerator changes with the denominator held (latest month first);
    - ``total``/``mean`` of a value metric: the latest month's value changes;
    - ``max_value``/``min_value``/``max_pct``/``min_pct`` (every-month conditions): where every month
      must be on one side of the threshold, each month on the wrong side moves to the nearest value
      on the right side; where one month must, the month nearest the threshold does.

    A value moves in steps of the data's precision (its finest decimal place; whole numbers for
    whole data, docs/decisions/029-terminal-and-what-if-units.md). The answer is verified by
    re-evaluating the changed state, and its message is in the metric's units (``35:48 → 30:00``,
    ``74.2% → 78.0%``, ``£1,234``; ``language.numbers.format_in_unit``). Anything else is answered
    with ``exact=False`` and the precise reason (missing data, not yet due, several conditions, a
    rule decided by other rules or by declared facts).
    """
    book = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook or "nhs-2024-25")
    frozen = state if isinstance(state, State) else state_from_dict(state, book)
    ev = evaluate_state(frozen, book, as_of=as_of, backend="native")
    outcome = ev.outcome(rule_id, org_id)
    rule = book.rule(rule_id)
    base = WhatIf(rule_id, org_id, outcome.status, None, False, "")
    flipped = STATUS_INFO[outcome.status].opposite
    if flipped is None:
        reason = {
            "unknown": "the outcome is unknown (missing data), so no single change decides it: " + outcome.explanation,
            "due": "the rule is not judged until after its deadline",
            "not_applicable": "the rule does not apply to this organisation",
        }.get(outcome.status, f"{outcome.status} is decided by declared facts, not by a threshold on a metric")
        return attrs.evolve(base, message=reason)
    if rule.kind == "obligation":
        return attrs.evolve(
            base,
            message="an obligation decided by the organisation's dated declarations; it changes "
            "when a declaration does (see explain for the facts used)",
        )
    if rule.depends_on:
        return attrs.evolve(
            base, message="decided by other rules' outcomes: ask what-if of " + ", ".join(rule.depends_on)
        )
    c = rule.shape.single
    why = _not_computable(rule, c)
    if why is not None:
        return attrs.evolve(base, message=why)
    assert c is not None and c.subject is not None and c.period is not None and c.function is not None
    period = book.periods[c.period]
    metric = book.metrics[c.subject]
    org = frozen.organisation(org_id)
    when = ev.record.as_of
    view = view_at(org, when, book.date_facts)
    env = Env(rule, view, when, book.metrics, book.periods, {}, UNKNOWN, evidence=None, record_comparisons=False)
    bound = evaluate(c.bound, env)
    before = evaluate(c.measured, env)
    if not isinstance(bound, Fraction) or not isinstance(before, Fraction):
        return attrs.evolve(base, message="the threshold it is compared with is unknown")
    holds = outcome.status in ("met", "eligible", "breached")
    want = _NEGATE[c.op] if holds else c.op
    if want in ("==", "!="):
        return attrs.evolve(base, message="an equality threshold has no smallest change")
    series = view.series.get(c.subject, {})
    months = [m for m in period.months if m in series and month_complete(m, when)]
    ctx = _Change(c.subject, metric.unit, metric.kind, format_period(period), want, bound, before)
    plan = _plan(c.function, ctx, {m: series[m] for m in months})
    if isinstance(plan, str):
        return attrs.evolve(base, flipped_status=flipped, message=plan)
    edits, words, after, delta = plan
    try:
        changed = state_from_dict(_edited(frozen, org_id, c.subject, edits), book)
    except StateError as exc:
        return attrs.evolve(
            base, flipped_status=flipped, message=f"the change ({words}) does not make a valid state: {exc.summary}"
        )
    again = evaluate_state(changed, book, as_of=when, backend="native")
    new_status = again.outcome(rule_id, org_id).status
    return WhatIf(
        rule_id,
        org_id,
        outcome.status,
        new_status,
        new_status == flipped,
        f"{words} would make it {new_status}",
        c.subject,
        ctx.label,
        delta,
        metric.unit if c.function not in _PERCENT else "percent",
        before,
        after,
        bound,
        tuple((format_month(m), old, new) for m, (old, new) in sorted(edits.items())),
    )


_PERCENT = frozenset({"pct", "min_pct", "max_pct"})
_PER_MONTH = frozenset({"min_pct", "max_pct", "min_value", "max_value"})
_SUPPORTED = frozenset({"pct", "rate", "total", "mean"}) | _PER_MONTH


def format_period(period: Period) -> str:
    """``2025-03`` for one month, ``2024-04..2025-03`` for more."""
    return format_month(period.start) + (f"..{format_month(period.end)}" if period.end != period.start else "")


def _not_computable(rule: Rule, c: Comparison | None) -> str | None:
    """Why the smallest change of ``rule`` cannot be computed, precisely; None when it can."""
    shape = rule.shape
    if c is None:
        if len(shape.conjuncts) > 1:
            return (
                f"the condition joins {len(shape.conjuncts)} conditions with 'and' "
                f"({'; '.join(render(n) for n in shape.conjuncts)}); a change may be needed in more than one "
                "of them, so no single smallest change is computed (ask explain which of them failed)"
            )
        return f"the condition ({render(shape.conjuncts[0])}) is not a comparison with a threshold"
    if c.function == "fact":
        return (
            f"decided by the declared fact {c.subject} ({c.text} {c.op} {render(c.bound)}): it changes when "
            "the declaration does, not by a change in a metric"
        )
    if c.function is None or not c.reads_metric(_SUPPORTED):
        return (
            f"the measured side {c.text} is not one metric over one period (pct, rate, total, mean, "
            "min_value, max_value, min_pct or max_pct of a metric); the smallest change of a combination "
            "is not computed"
        )
    if c.bound_reads:
        return (
            f"the threshold ({render(c.bound)}) reads {c.subject} over the same period as the measured side, "
            f"so no change to {c.subject} alone moves one without the other"
        )
    return None


@attrs.frozen
class _Change:
    """What the plan of a change is computed from: the metric, the threshold and the value now."""

    metric: str
    unit: str
    kind: str
    label: str
    want: str
    """The operator the measured side must satisfy after the change."""
    bound: Fraction
    before: Fraction

    @property
    def need(self) -> str:
        """``at least``, ``more than``, ``at most`` or ``less than``: what the operator asks."""
        return _WANT_WORDS[self.want]

    def show(self, v: Fraction, *, percent: bool = False, places: int | None = None) -> str:
        return format_in_unit(v, "percent" if percent else self.unit, places=places)


_MONEY = frozenset({"gbp", "gbp thousands"})
"""Units whose values may be below zero (a deficit); every other value metric counts something."""

_WANT_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}

_Plan = tuple[dict[int, tuple[Fraction, Fraction]], str, Fraction, Fraction]
"""(month -> (old, new) numerator or value, the change in words, the measured value after, the total change)."""


def _nearest(op: str, bound: Fraction, step: Fraction) -> Fraction:
    """The value nearest ``bound``, a multiple of ``step``, with ``value OP bound``."""
    k = bound / step
    if op == ">=":
        n = math.ceil(k)
    elif op == ">":
        n = math.floor(k) + 1
    elif op == "<=":
        n = math.floor(k)
    else:
        n = math.ceil(k) - 1
    return n * step


def _places(v: Fraction) -> int | None:
    """Decimal places of ``v`` when its decimal terminates."""
    den, places = v.denominator, 0
    while den % 10**places:
        if places > 30:
            return None
        places += 1
    return places


def _step(values: list[Fraction], bound: Fraction) -> Fraction:
    """The precision of the data: the finest decimal place among the values (and the bound, when its
    decimal terminates), whole numbers for whole data."""
    places = max((p for v in [*values, bound] if (p := _places(v)) is not None), default=0)
    return Fraction(1, 10**places)


def _distinct_places(before: Fraction, after: Fraction, bound: Fraction, want: str) -> int:
    """Decimal places of a percentage (one, or up to four) enough to show apart what differs: the value
    before and after, before and the threshold, and, for a strict threshold, after and the threshold."""
    pairs = [(before, after), (before, bound)] + ([(after, bound)] if want in ("<", ">") else [])
    for places in range(1, 5):
        shown = [
            format_in_unit(a, "percent", places=places) != format_in_unit(b, "percent", places=places)
            for a, b in pairs
            if a != b
        ]
        if all(shown):
            return places
    return 4


def _plan(function: str, ch: _Change, obs: dict[int, Observation]) -> _Plan | str:
    if not obs:
        return f"no complete month of {ch.metric} in {ch.label} to change"
    if function in ("pct", "rate"):
        return _ratio_plan(function, ch, obs)
    if function in ("total", "mean"):
        return _aggregate_plan(function, ch, obs)
    return _month_plan(function, ch, obs)


def _ratio_plan(function: str, ch: _Change, obs: dict[int, Observation]) -> _Plan | str:
    num = sum(o.numerator or 0 for o in obs.values())
    den = sum(o.denominator or 0 for o in obs.values())
    scale = Fraction(100) if function == "pct" else Fraction(1)
    needed = int(_nearest(ch.want, ch.bound * den / scale, Fraction(1)))
    percent = function == "pct"
    if needed < 0 or (percent and needed > den):
        return (
            f"no change to the numerator of {ch.metric} alone can reach {ch.need} "
            f"{ch.show(ch.bound, percent=percent)} in {ch.label} (it would need {needed:,} of {den:,})"
        )
    delta = needed - num
    edits = _spread(obs, delta, capped=percent)
    if edits is None:
        return "the change does not fit within the months' denominators"
    after = scale * Fraction(needed, den)
    more = "more" if delta > 0 else "fewer"
    if percent:
        places = _distinct_places(ch.before, after, ch.bound, ch.want)
        words = (
            f"{ch.metric} in {ch.label}: {ch.show(ch.before, percent=True, places=places)} → "
            f"{ch.show(after, percent=True, places=places)} "
            f"({ch.need} {ch.show(ch.bound, percent=True, places=places)} needed): "
            f"{abs(delta):,} {more} counted in the numerator "
            f"(now {num:,} of {den:,}; {needed:,} needed)"
        )
    else:
        change = ch.show(abs(after - ch.before))
        words = (
            f"{ch.metric} in {ch.label}: mean {ch.show(ch.before)} → {ch.show(after)} ({ch.need} "
            f"{ch.show(ch.bound)} needed): {change} {'more' if delta > 0 else 'less'} on average over the "
            f"{den:,} counted ({abs(delta):,} {more} {ch.unit} in the total of {num:,}; {needed:,} needed)"
        )
    return edits, words, after, Fraction(delta)


def _aggregate_plan(function: str, ch: _Change, obs: dict[int, Observation]) -> _Plan | str:
    values = {m: o.value for m, o in obs.items() if o.value is not None}
    n = len(values)
    total = sum(values.values(), Fraction(0))
    step = _step(list(values.values()), ch.bound)
    # One month (the latest) changes: the total by d, the mean by d / n.
    target = _nearest(ch.want, ch.bound * (n if function == "mean" else 1), step)
    delta = target - total
    # A count (any unit but money) stays at zero or more: a fall is spread over the months, latest first.
    floor = None if ch.unit.lower() in _MONEY else Fraction(0)
    edits: dict[int, tuple[Fraction, Fraction]] = {}
    remaining = delta
    for m in sorted(values, reverse=True):
        if remaining == 0:
            break
        old = values[m]
        change = remaining if remaining > 0 or floor is None else max(remaining, floor - old)
        if change:
            edits[m] = (old, old + change)
            remaining -= change
    if remaining != 0:
        return (
            f"no change to the values of {ch.metric} alone can reach {ch.need} {ch.show(ch.bound)} in "
            f"{ch.label} (the {function} would need {ch.show(target)}, below zero)"
        )
    after = target / n if function == "mean" else target
    months = "; ".join(f"{format_month(m)} {ch.show(old)} → {ch.show(new)}" for m, (old, new) in sorted(edits.items()))
    words = (
        f"{ch.metric} in {ch.label}: {function} {ch.show(ch.before)} → {ch.show(after)} ({ch.need} "
        f"{ch.show(ch.bound)} needed)" + (f": {months}" if len(values) > 1 else "")
    )
    return edits, words, after, delta


def _month_plan(function: str, ch: _Change, obs: dict[int, Observation]) -> _Plan | str:
    """min/max of monthly values or percentages: the months that must move, each to the nearest value
    on the right side of the threshold."""
    percent = function in _PERCENT
    if percent:
        if any(not o.denominator for o in obs.values()):
            return f"a month of {ch.metric} in {ch.label} has no denominator, so its percentage cannot move"
        monthly = {m: Fraction(100 * (o.numerator or 0), o.denominator or 1) for m, o in obs.items()}
    else:
        monthly = {m: o.value for m, o in obs.items() if o.value is not None}
    upward = ch.want in (">=", ">")
    # max(...) <= b and min(...) >= b constrain every month; max(...) >= b and min(...) <= b one month.
    every = (function.startswith("max") and not upward) or (function.startswith("min") and upward)
    satisfied = {m for m, v in monthly.items() if _compare(v, ch.want, ch.bound)}
    if every:
        movers = sorted(m for m in monthly if m not in satisfied)
    else:
        movers = [max(monthly, key=lambda m: (monthly[m] if upward else -monthly[m], m))]
    step = _step(list(monthly.values()), ch.bound)
    edits: dict[int, tuple[Fraction, Fraction]] = {}
    shown: list[str] = []
    for m in movers:
        o = obs[m]
        if percent:
            den = o.denominator or 0
            needed = int(_nearest(ch.want, ch.bound * den / 100, Fraction(1)))
            if needed < 0 or needed > den:
                return (
                    f"no change to the numerator of {ch.metric} in {format_month(m)} can reach {ch.need} "
                    f"{ch.show(ch.bound, percent=True)} (it would need {needed:,} of {den:,})"
                )
            edits[m] = (Fraction(o.numerator or 0), Fraction(needed))
            new_pct = Fraction(100 * needed, den)
            places = _distinct_places(monthly[m], new_pct, ch.bound, ch.want)
            shown.append(
                f"{format_month(m)} {ch.show(monthly[m], percent=True, places=places)} → "
                f"{ch.show(new_pct, percent=True, places=places)} ({o.numerator or 0:,} → {needed:,} of {den:,})"
            )
        else:
            new = _nearest(ch.want, ch.bound, step)
            edits[m] = (monthly[m], new)
            shown.append(f"{format_month(m)} {ch.show(monthly[m])} → {ch.show(new)}")
    after_values = {
        **monthly,
        **{m: (Fraction(100 * new, obs[m].denominator or 1) if percent else new) for m, (_, new) in edits.items()},
    }
    after = max(after_values.values()) if function.startswith("max") else min(after_values.values())
    rule_words = (
        f"every month {ch.need} {ch.show(ch.bound, percent=percent)}"
        if every
        else f"one month {ch.need} {ch.show(ch.bound, percent=percent)}"
    )
    delta = sum((new - old for old, new in edits.values()), Fraction(0))
    months_words = "; ".join(shown)
    count = f" ({len(edits)} months)" if len(edits) > 1 else ""
    words = f"{ch.metric} in {ch.label} ({function}: {rule_words} needed){count}: {months_words}"
    return edits, words, after, delta


def _compare(a: Fraction, op: str, b: Fraction) -> bool:
    return {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b}[op]


def _spread(obs: dict[int, Observation], delta: int, *, capped: bool) -> dict[int, tuple[Fraction, Fraction]] | None:
    """``delta`` added to the numerators, latest month first, within the denominators when ``capped``."""
    edits: dict[int, tuple[Fraction, Fraction]] = {}
    remaining = delta
    for m in sorted(obs, reverse=True):
        if remaining == 0:
            break
        o = obs[m]
        num, den = o.numerator or 0, o.denominator or 0
        room = (den - num) if remaining > 0 else num
        if not capped and remaining > 0:
            room = remaining
        step = min(abs(remaining), room)
        if step:
            change = step if remaining > 0 else -step
            edits[m] = (Fraction(num), Fraction(num + change))
            remaining -= change
    return None if remaining != 0 else edits


def _edited(state: State, org_id: str, metric: str, edits: dict[int, tuple[Fraction, Fraction]]) -> dict[str, Any]:
    """A copy of the state's document with each month's numerator (or value) set to its new value."""
    doc = state.to_dict()
    org = next(o for o in doc["organisations"] if o["id"] == org_id)
    obs = {o["period"]: o for o in org.get("metrics", {}).get(metric, [])}
    for m, (_, new) in edits.items():
        o = obs[format_month(m)]
        key = "numerator" if "numerator" in o else "value"
        o[key] = int(new) if key == "numerator" else Decimal(exact_decimal(new)) if new.denominator != 1 else int(new)
    return doc

"""Counterfactuals: the smallest change in an organisation's data that would flip an outcome."""

from __future__ import annotations

import copy
import datetime as dt
import math
from fractions import Fraction
from typing import Any

import attrs

from ..data.state import State, state_from_dict, view_at
from ..engine import evaluate as evaluate_state
from ..evaluation.expressions import UNKNOWN, Env, evaluate
from ..language.ast import Call, Node
from ..language.checker import name_arg
from ..language.months import format_month, month_complete
from ..language.rules import Rule
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

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["delta"] = None if self.delta is None else str(self.delta)
        return d


def _threshold_count(op: str, target: Fraction, scale: Fraction, den: int) -> int:
    """Smallest/largest integer n with (scale * n / den) OP target."""
    bound = target * den / scale
    if op == ">=":
        return math.ceil(bound)
    if op == ">":
        return math.floor(bound) + 1
    if op == "<=":
        return math.floor(bound)
    if op == "<":
        return math.ceil(bound) - 1
    raise ValueError(op)


def what_if(
    state: State | dict[str, Any],
    rule_id: str,
    org_id: str,
    rulebook: Rulebook | str | None = None,
    *,
    as_of: dt.date | str | None = None,
) -> WhatIf:
    """The smallest change to ``org_id``'s data that flips ``rule_id``'s outcome.

    Computed exactly for threshold rules of the form ``pct|rate(metric, period) OP bound`` (the bound
    may be a parameter or an expression over other data), by changing the metric's numerator with
    its denominator held, and verified by re-evaluating the changed state. Anything else is answered
    with ``exact=False`` and the reason (missing data, not yet due, a rule decided by other rules or
    by declared facts).
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
    shape = _threshold_shape(rule)
    if shape is None:
        return attrs.evolve(
            base,
            message="not a single threshold on a metric (e.g. decided by declared facts or "
            "several conditions); the smallest change cannot be computed exactly",
        )
    call, op, bound_node = shape
    mname, pname = name_arg(call.args[0], "metric"), name_arg(call.args[1], "period")
    period = book.periods[pname]
    org = frozen.organisation(org_id)
    when = ev.record.as_of
    view = view_at(org, when, book.date_facts)
    env = Env(rule, view, when, book.metrics, book.periods, {}, UNKNOWN, evidence=None, record_comparisons=False)
    bound = evaluate(bound_node, env)
    if not isinstance(bound, Fraction):
        return attrs.evolve(base, message="the threshold it is compared with is unknown")
    series = view.series.get(mname, {})
    months = [m for m in period.months if m in series]
    num = sum(series[m].numerator or 0 for m in months)
    den = sum(series[m].denominator or 0 for m in months)
    scale = Fraction(100) if call.func == "pct" else Fraction(1)
    holds = outcome.status in ("met", "eligible", "breached")
    want = _NEGATE[op] if holds else op
    if want in ("==", "!="):
        return attrs.evolve(base, message="an equality threshold has no smallest change")
    needed = _threshold_count(want, bound, scale, den)
    limit = den if call.func == "pct" else None
    if needed < 0 or (limit is not None and needed > limit):
        return attrs.evolve(
            base,
            flipped_status=flipped,
            message=f"no change to the numerator of {mname} alone can make it "
            f"{flipped} (it would need {needed} of {den})",
        )
    delta = needed - num
    changed = _apply(
        frozen, org_id, mname, [m for m in period.months if month_complete(m, when)], delta, call.func == "pct"
    )
    if changed is None:
        return attrs.evolve(base, message="the change does not fit within the months' denominators")
    again = evaluate_state(state_from_dict(changed, book), book, as_of=when, backend="native")
    new_status = again.outcome(rule_id, org_id).status
    label = f"{format_month(period.start)}" + (f"..{format_month(period.end)}" if period.end != period.start else "")
    unit = book.metrics[mname].unit
    what = "counted in the numerator of" if call.func == "pct" else f"{unit} in the total of"
    message = (
        f"{abs(delta)} {'more' if delta > 0 else 'fewer'} {what} {mname} in {label} "
        f"(now {num}/{den}; {needed}/{den} needed) would make it {new_status}"
    )
    return WhatIf(
        rule_id,
        org_id,
        outcome.status,
        new_status,
        new_status == flipped,
        message,
        mname,
        label,
        Fraction(delta),
    )


def _threshold_shape(rule: Rule) -> tuple[Call, str, Node] | None:
    """(pct or rate call, operator, bound) when the condition is one comparison of a count metric
    with a bound that does not read it (the rule's threshold shape)."""
    c = rule.shape.single
    if c is None or not c.reads_metric(frozenset({"pct", "rate"})) or not isinstance(c.measured, Call):
        return None
    if c.bound_reads:
        return None
    return c.measured, c.op, c.bound


def _apply(state: State, org_id: str, metric: str, months: list[int], delta: int, capped: bool) -> Any:
    """A copy of the state with ``delta`` added to the numerator, latest month first, within denominators."""
    doc = state.to_dict()
    org = next(o for o in doc["organisations"] if o["id"] == org_id)
    obs = {o["period"]: o for o in org.get("metrics", {}).get(metric, [])}
    remaining = delta
    for m in reversed(months):
        o = obs.get(format_month(m))
        if o is None or remaining == 0:
            continue
        room = (o["denominator"] - o["numerator"]) if remaining > 0 else o["numerator"]
        if not capped and remaining > 0:
            room = remaining
        step = min(abs(remaining), room)
        o["numerator"] += step if remaining > 0 else -step
        remaining -= step if remaining > 0 else -step
    if remaining != 0:
        return None
    return copy.deepcopy(doc)

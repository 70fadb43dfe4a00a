"""How one rule decides one organisation's status. Shared by every backend, so that backends
differ only in how they schedule rules (matching and chaining), never in what a rule means."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from fractions import Fraction

from ._expr.evaluate import UNKNOWN, Env, Evidence, Value, evaluate, find_rank_argument
from .loader import Rulebook
from .outcomes import Citation, Firing, Outcome
from .rules import Rule
from .state import OrgView

_POSITIVE = {"target": "met", "breach": "breached", "eligibility": "eligible", "obligation": "met"}
_NEGATIVE = {"target": "not_met", "breach": "not_breached", "eligibility": "not_eligible", "obligation": "overdue"}


def _env(
    rule: Rule,
    view: OrgView,
    as_of: dt.date,
    book: Rulebook,
    outcomes: Mapping[str, str],
    rank: Value = UNKNOWN,
    record: bool = True,
) -> Env:
    return Env(
        rule,
        view,
        as_of,
        book.metrics,
        book.periods,
        outcomes,
        rank,
        evidence=[] if record else None,
        record_comparisons=record,
    )


def dependency_levels(book: Rulebook) -> dict[str, int]:
    """0 for rules that read no outcome, else one more than the deepest rule they read."""
    levels: dict[str, int] = {}
    for rule in book.rules:  # dependency order
        levels[rule.id] = 1 + max((levels[d] for d in rule.depends_on), default=-1)
    return levels


def guard_value(rule: Rule, view: OrgView, as_of: dt.date, book: Rulebook, outcomes: Mapping[str, str]) -> Value:
    """The rule's applicability guard for this organisation (True when it has none)."""
    if rule.applicable_if is None:
        return True
    return evaluate(rule.applicable_if, _env(rule, view, as_of, book, outcomes, record=False))


def cohort_ranks(
    rule: Rule,
    views: Sequence[OrgView],
    as_of: dt.date,
    book: Rulebook,
    outcomes: Mapping[str, Mapping[str, str]],
) -> dict[str, Value]:
    """rank() for every organisation the rule applies to: 1 = greatest; ties share a rank."""
    arg = find_rank_argument(rule.condition)
    assert arg is not None
    values: dict[str, Fraction] = {}
    for view in views:
        org_outcomes = outcomes.get(view.org.id, {})
        if guard_value(rule, view, as_of, book, org_outcomes) is not True:
            continue
        v = evaluate(arg, _env(rule, view, as_of, book, org_outcomes, record=False))
        if isinstance(v, Fraction):
            values[view.org.id] = v
    ordered = sorted(values.values(), reverse=True)
    first_index: dict[Fraction, int] = {}
    for i, v in enumerate(ordered):
        first_index.setdefault(v, i + 1)
    ranks: dict[str, Value] = {view.org.id: UNKNOWN for view in views}
    for org_id, v in values.items():
        ranks[org_id] = Fraction(first_index[v])
    return ranks


def decide(
    rule: Rule,
    view: OrgView,
    as_of: dt.date,
    book: Rulebook,
    outcomes: Mapping[str, str],
    rank: Value = UNKNOWN,
) -> Outcome:
    """The outcome of ``rule`` for one organisation, given the statuses of the rules it reads."""
    env = _env(rule, view, as_of, book, outcomes, rank)
    status, reason = _status(rule, env, as_of)
    evidence = tuple(env.evidence or ())
    return Outcome(
        rule_id=rule.id,
        org_id=view.org.id,
        kind=rule.kind,
        status=status,
        title=rule.title,
        deadline=rule.deadline,
        period=rule.period.name if rule.period else None,
        evidence=evidence,
        citation=Citation(
            rule.source.document, rule.source.section, rule.source.quote, rule.confidence, rule.objective
        ),
        explanation=_explain(rule, status, reason, evidence),
        assumptions=rule.assumptions,
    )


def _status(rule: Rule, env: Env, as_of: dt.date) -> tuple[str, str]:
    if rule.applicable_if is not None:
        g = evaluate(rule.applicable_if, env)
        if g is UNKNOWN:
            return "unknown", f"cannot tell whether the rule applies ({rule.applicable_if_text} is unknown)"
        if g is False:
            return "not_applicable", f"the rule does not apply ({rule.applicable_if_text} is false)"
    before = rule.deadline is not None and as_of <= rule.deadline
    if rule.kind != "obligation":
        if before:
            return "due", f"judged after {rule.deadline}; as of {as_of} it is not yet due for assessment"
        v = evaluate(rule.condition, env)
        if v is UNKNOWN:
            return "unknown", "the data needed are missing"
        return (_POSITIVE[rule.kind] if v else _NEGATIVE[rule.kind]), ""
    v = evaluate(rule.condition, env)
    if v is True:
        if rule.completed_on is not None and rule.deadline is not None:
            done = evaluate(rule.completed_on, env)
            if isinstance(done, dt.date) and done > rule.deadline:
                return "met_late", f"done on {done}, after the deadline {rule.deadline}"
        return "met", ""
    if before or rule.deadline is None:
        when = f" by {rule.deadline}" if rule.deadline else ""
        missing = "not yet declared" if v is UNKNOWN else "not yet done"
        return "due", f"{missing}{when}"
    if v is UNKNOWN:
        return "unknown", f"the deadline {rule.deadline} has passed and nothing is declared"
    return "overdue", f"not done by the deadline {rule.deadline}"


_LABEL = {
    "met": "Met",
    "met_late": "Met late",
    "not_met": "Not met",
    "due": "Due",
    "overdue": "Overdue",
    "breached": "Breached",
    "not_breached": "Not breached",
    "eligible": "Eligible",
    "not_eligible": "Not eligible",
    "unknown": "Unknown",
    "not_applicable": "Not applicable",
}


def _explain(rule: Rule, status: str, reason: str, evidence: Sequence[Evidence]) -> str:
    parts = [f"{_LABEL[status]}: {rule.title}"]
    if reason:
        parts.append(reason)
    comparisons = [e.reference for e in evidence if e.kind == "comparison" and e.reference]
    if status in ("unknown",):
        missing = [
            f"{e.name} {e.period or ''}".strip() + f" ({e.value})"
            for e in evidence
            if e.value.startswith("unknown") or e.value in ("not declared", "services not declared")
        ]
        if missing:
            parts.append("missing: " + "; ".join(missing[:4]))
    elif status not in ("due", "not_applicable") and comparisons:
        parts.append("; ".join(comparisons[:3]) + (" ..." if len(comparisons) > 3 else ""))
    overrides = sorted({e.reference for e in evidence if e.kind == "parameter" and e.reference})
    if overrides:
        parts.append("parameter overridden by " + "; ".join(overrides))
    if any(e.kind == "fact" for e in evidence) and rule.kind == "obligation":
        parts.append("decided on a self-declared fact, not a measured threshold")
    return ". ".join(parts)


def firing(step: int, rule: Rule, outcome: Outcome) -> Firing:
    """The trace entry for an outcome."""
    inputs = tuple((e.name, e.value) for e in outcome.evidence if e.kind == "outcome")
    return Firing(step, rule.id, outcome.org_id, outcome.status, rule.stratum, inputs)

"""How one rule decides one organisation's status. Shared by every backend, so that backends
differ only in how they schedule rules (matching and chaining), never in what a rule means."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

from ..data.state import CompleteCohort, OrgView
from ..language.rules import Rule, Status
from ..language.statuses import STATUS_INFO, Input, Tri, decide_status
from ..rulebook.loader import Rulebook
from .cohort import Ranking, RankRange, cutoff_rank, rank_cohort, settle
from .evidence import CohortFigures, CohortStanding, Evidence, OutcomeStatus
from .expressions import UNKNOWN, Env, Value, evaluate, find_rank_argument
from .outcomes import Citation, Firing, Outcome


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
    views: Iterable[OrgView],
    as_of: dt.date,
    book: Rulebook,
    outcomes: Mapping[str, Mapping[str, str]],
    cohorts: Sequence[CompleteCohort] = (),
) -> Ranking[str]:
    """The rank() rule's ranking of ``views`` (the organisations of its types), by organisation id,
    against the complete cohort the state declares for the rule's scope (see ``_cohort``).
    ``views`` is read once, so it may make each view as it is read."""
    arg = find_rank_argument(rule.condition)
    assert arg is not None
    members: list[tuple[str, Value, Value]] = []
    for view in views:
        org_outcomes = outcomes.get(view.org.id, {})
        guard = guard_value(rule, view, as_of, book, org_outcomes)
        value = evaluate(arg, _env(rule, view, as_of, book, org_outcomes, record=False)) if guard is True else UNKNOWN
        members.append((view.org.id, guard, value))
    return rank_cohort(rule, members, cohorts)


def decide(
    rule: Rule,
    view: OrgView,
    as_of: dt.date,
    book: Rulebook,
    outcomes: Mapping[str, str],
    rank: Value = UNKNOWN,
    ranking: Ranking[str] | None = None,
) -> Outcome:
    """The outcome of ``rule`` for one organisation, given the statuses of the rules it reads.

    A rank() rule is given its ``ranking`` (the rank is read from it), or, by the exact fallback of
    the columnar backend, the ``rank`` itself."""
    org_id = view.org.id
    possible: Value | RankRange = rank if ranking is None else ranking.rank(org_id)
    env = _env(rule, view, as_of, book, outcomes, possible if not isinstance(possible, RankRange) else UNKNOWN)
    status, reason = _status(rule, env, as_of)
    if isinstance(possible, RankRange) and status == "unknown":

        def status_at(r: Value) -> Status:
            return _status(rule, _env(rule, view, as_of, book, outcomes, r, record=False), as_of)[0]

        settled = settle(possible, status_at)
        if settled != "unknown":
            status = settled
            reason = (
                "decided whatever the unknown members' values: every rank from "
                f"{possible.low} to {possible.high} gives it"
            )
    if status == "unknown" and ranking is not None:
        reason = ranking.unknown_reason(org_id, rule) or reason
    evidence = tuple(env.evidence or ())
    if ranking is not None and status != "not_applicable":
        evidence += (_cohort_evidence(rule, ranking, org_id),)
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


def _status(rule: Rule, env: Env, as_of: dt.date) -> tuple[Status, str]:
    """The rule's status and the reason, by its decision table (``language.statuses``)."""
    done: list[Value] = []

    def read(name: Input) -> Tri:
        if name == "judged":
            return rule.judged_on(as_of)
        if name == "late":
            assert rule.completed_on is not None and rule.deadline is not None
            done.append(evaluate(rule.completed_on, env))
            return isinstance(done[0], dt.date) and done[0] > rule.deadline
        node = rule.applicable_if if name == "guard" else rule.condition
        assert node is not None
        v = evaluate(node, env)
        return "unknown" if v is UNKNOWN else bool(v)

    clause = decide_status(rule.decision_tree, read)
    reason = clause.reason.format(
        applies=rule.applicable_if_text,
        deadline=rule.deadline,
        in_force=rule.in_force,
        done=done[0] if done else None,
        as_of=as_of,
    )
    return clause.status, reason


def _cohort_evidence(rule: Rule, ranking: Ranking[str], org_id: str) -> Evidence:
    """The cohort a rank() rule ranked within, the organisation's value and rank, and the cut-off."""
    c = ranking.cohort
    own = ranking.values.get(org_id)
    rank = ranking.rank(org_id)
    k = cutoff_rank(rule)
    cut = ranking.value_at_rank(k) if k is not None else None
    figures = CohortFigures(
        scope=rule.cohort or "",
        types=tuple(rule.applies_to),
        complete=c is not None,
        source=c.source if c else None,
        date=c.date.isoformat() if c and c.date else None,
        size=len(ranking.values) + len(ranking.uncertain),
        ranked=len(ranking.values),
        value=float(own) if own is not None else None,
        value_exact=f"{own.numerator}/{own.denominator}" if own is not None else None,
        rank=int(rank) if isinstance(rank, Fraction) else None,
        rank_low=rank.low if isinstance(rank, RankRange) else None,
        rank_high=rank.high if isinstance(rank, RankRange) else None,
        cutoff_rank=k,
        cutoff_value=float(cut) if cut is not None else None,
        cutoff_exact=f"{cut.numerator}/{cut.denominator}" if cut is not None else None,
        candidates=ranking.candidates,
    )
    standing = CohortStanding(figures, own, cut)
    return Evidence("cohort", f"{rule.cohort} cohort of {', '.join(rule.applies_to)}", standing, cohort=figures)


def _explain(rule: Rule, status: str, reason: str, evidence: Sequence[Evidence]) -> str:
    parts = [f"{STATUS_INFO[status].label}: {rule.title}"]
    if reason:
        parts.append(reason)
    comparisons = [e.reference for e in evidence if e.kind == "comparison" and e.reference]
    if status in ("unknown",):
        missing = [f"{e.name} {e.period or ''}".strip() + f" ({e.value})" for e in evidence if e.unknown]
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
    inputs = tuple((e.name, e.quantity.value) for e in outcome.evidence if isinstance(e.quantity, OutcomeStatus))
    return Firing(step, rule.id, outcome.org_id, outcome.status, rule.stratum, inputs)

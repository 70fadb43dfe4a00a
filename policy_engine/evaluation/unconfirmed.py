"""Organisations whose type is assumed, not confirmed: no rule is judged on a guessed type.

A state records, in an organisation's ``provenance``, where its type came from; an import that
could not confirm a type (no reference file lists the organisation, and the statistics do not
show what it is) writes ``"confirmed": false``. Which rules apply to an organisation, and what
they conclude, depend on its type, so every outcome for such an organisation is ``unknown``,
saying why, on every backend (docs/decisions/015-organisation-reference.md).

A declared complete cohort of a type is not treated as complete while the state holds
organisations of that type whose type is not confirmed: one of them may not belong to it. Rules
that rank within that cohort are then judged as for any state that does not declare its cohort
complete (``unknown`` where the rank decides), and their explanation names those organisations.

This is applied to what the evaluators decide, in one place (``engine.evaluate`` and
``engine.statuses``), so all four evaluators agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from ..data.state import CompleteCohort, Organisation
from ..language.rules import Rule, Status
from .outcomes import Outcome

__all__ = ["Unconfirmed", "unconfirmed"]


@attrs.frozen
class Unconfirmed:
    """The organisations of a state whose type is assumed, and what that does to its cohorts."""

    assumed: Mapping[str, str]
    """Organisation id -> why its type is not confirmed (in words)."""
    cohorts: tuple[CompleteCohort, ...]
    """The declared cohorts still treated as complete."""
    dropped: Mapping[tuple[str, tuple[str, ...]], tuple[str, ...]]
    """(scope, types) of each declared cohort not treated as complete -> the unconfirmed members."""

    def __bool__(self) -> bool:
        return bool(self.assumed) or bool(self.dropped)

    def outcomes(self, outcomes: Iterable[Outcome], rules: Mapping[str, Rule]) -> list[Outcome]:
        """The outcomes with every one that rests on an assumed type made ``unknown``."""
        return [self._outcome(o, rules[o.rule_id]) for o in outcomes]

    def statuses(self, statuses: dict[str, dict[str, Status]]) -> dict[str, dict[str, Status]]:
        """``{org: {rule: status}}`` with the same statuses ``outcomes`` gives (changed in place;
        rank rules were already ranked without the cohorts not treated as complete)."""
        for org_id in self.assumed.keys() & statuses.keys():
            by_rule = statuses[org_id]
            for rule_id in by_rule:
                by_rule[rule_id] = "unknown"
        return statuses

    def _cohort_members(self, rule: Rule) -> tuple[str, ...] | None:
        if rule.cohort is None or not rule.uses_rank:
            return None
        need = set(rule.applies_to)
        for (scope, types), members in self.dropped.items():
            if scope == rule.cohort and need <= set(types):
                return members
        return None

    def _outcome(self, outcome: Outcome, rule: Rule) -> Outcome:
        why = self.assumed.get(outcome.org_id)
        if why is not None:
            note = f"the organisation's type is not confirmed: {why}"
            return attrs.evolve(
                outcome,
                status="unknown",
                explanation=(
                    f"Not judged, because {note}. Which rules apply, and what they require, depend on the type: "
                    "give a reference file that lists the organisation (policy-engine import --reference), or "
                    "confirm its type in the state."
                ),
                assumptions=(*outcome.assumptions, note),
            )
        members = self._cohort_members(rule)
        if members is None or outcome.status != "unknown":
            return outcome  # the evaluators ranked without the cohort: unknown where it mattered
        names = ", ".join(members[:5]) + (" ..." if len(members) > 5 else "")
        note = (
            f"the state declares the {rule.cohort} cohort of {', '.join(rule.applies_to)} complete, but the types "
            f"of {len(members)} organisation(s) in it are not confirmed ({names}), so it is not treated as complete"
        )
        return attrs.evolve(
            outcome,
            status="unknown",
            explanation=f"Not judged: {note}.",
            assumptions=(*outcome.assumptions, note),
        )


def _why(org: Organisation) -> str:
    basis = org.provenance["type"]
    how = f"{basis.source}: {basis.basis}" if basis.basis else basis.source
    return f"{org.type} was assumed ({how})"


def unconfirmed(organisations: Sequence[Organisation], cohorts: Sequence[CompleteCohort]) -> Unconfirmed:
    """What the assumed types of ``organisations`` do to their outcomes and to ``cohorts``."""
    assumed = {org.id: _why(org) for org in organisations if not org.type_confirmed}
    if not assumed:
        return Unconfirmed({}, tuple(cohorts), {})
    kept: list[CompleteCohort] = []
    dropped: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
    for cohort in cohorts:
        members = tuple(
            org.id for org in organisations if org.id in assumed and org.type in cohort.types
        )  # scope "national" (the only one): every organisation in the state is in it
        if members:
            dropped[(cohort.scope, cohort.types)] = members
        else:
            kept.append(cohort)
    return Unconfirmed(assumed, tuple(kept), dropped)

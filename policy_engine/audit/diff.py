"""What changed between two rulebooks (or parameter sets), and which outcomes that changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ..data.state import State
from ..engine import evaluate
from ..language.numbers import format_number
from ..language.rules import Rule
from ..rulebook.loader import Rulebook

__all__ = ["Change", "OutcomeChange", "diff_outcomes", "diff_rulebooks"]


@attrs.frozen
class Change:
    """One difference between two rulebooks."""

    kind: str  # added | removed | threshold | deadline | condition | applies_to | source | other
    rule_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:10s} {self.rule_id}: {self.detail}"


@attrs.frozen
class OutcomeChange:
    """An outcome whose status differs between the two rulebooks on the same state."""

    rule_id: str
    org_id: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.rule_id} / {self.org_id}: {self.old} -> {self.new}"


def _fields(rule: Rule) -> dict[str, tuple[str, Any]]:
    return {
        "kind": ("other", rule.kind),
        "applies_to": ("applies_to", rule.applies_to),
        "applicable_if": ("condition", rule.applicable_if_text),
        "condition": ("condition", rule.condition_text),
        "completed_on": ("condition", rule.completed_on_text),
        "deadline": ("deadline", rule.deadline),
        "period": ("deadline", rule.period.name if rule.period else None),
        "quote": ("source", rule.source.quote),
        "document": ("source", rule.source.document),
        "confidence": ("source", rule.confidence),
        "assumptions": ("other", rule.assumptions),
    }


def diff_rulebooks(old: Rulebook, new: Rulebook) -> list[Change]:
    """Rules added and removed; thresholds, deadlines, conditions and sources that moved."""
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    out: list[Change] = []
    for rid in sorted(set(after) - set(before)):
        out.append(Change("added", rid, after[rid].title))
    for rid in sorted(set(before) - set(after)):
        out.append(Change("removed", rid, before[rid].title))
    for rid in sorted(set(before) & set(after)):
        a, b = before[rid], after[rid]
        for name in sorted(set(a.parameters) | set(b.parameters)):
            pa, pb = a.parameters.get(name), b.parameters.get(name)
            if pa is None or pb is None:
                out.append(Change("threshold", rid, f"parameter {name} {'added' if pa is None else 'removed'}"))
            elif (pa.value, pa.unit) != (pb.value, pb.unit):
                old_text, new_text = format_number(pa.value, pa.unit), format_number(pb.value, pb.unit)
                out.append(Change("threshold", rid, f"{name}: {old_text} -> {new_text}"))
        fa, fb = _fields(a), _fields(b)
        for name, (kind, va) in fa.items():
            vb = fb[name][1]
            if va != vb:
                out.append(Change(kind, rid, f"{name}: {_show(va)} -> {_show(vb)}"))
    return out


def _show(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def diff_outcomes(
    old: Rulebook, new: Rulebook, state: State, as_of: dt.date | str | None = None
) -> list[OutcomeChange]:
    """Outcomes whose status differs when the same state is evaluated under each rulebook."""
    a = {(o.rule_id, o.org_id): o.status for o in evaluate(state, old, as_of=as_of, backend="native").outcomes}
    b = {(o.rule_id, o.org_id): o.status for o in evaluate(state, new, as_of=as_of, backend="native").outcomes}
    return [
        OutcomeChange(rid, org, a.get((rid, org), "absent"), b.get((rid, org), "absent"))
        for rid, org in sorted(set(a) | set(b))
        if a.get((rid, org)) != b.get((rid, org))
    ]

"""What changed between two rulebooks (or parameter sets), and which outcomes that changes.

Two variants of one rulebook (an overlay, a local copy) are compared rule by rule, paired by id
(``diff_rulebooks``). Two planning years are compared measure by measure (``diff_years``): rules are
paired by their ``measure`` (what they measure, the same in every year), never by id, and each pair
is classed as tightened, loosened, re-dated, redefined, carried over, new or dropped
(docs/decisions/033-rulebooks-per-planning-year.md)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs

from ..data.state import State
from ..engine import evaluate
from ..language.numbers import format_number
from ..language.rules import Rule
from ..language.shape import Comparison
from ..rulebook.loader import Rulebook

__all__ = [
    "CHANGE_CLASSES",
    "Change",
    "MeasureChange",
    "OutcomeChange",
    "YearDiff",
    "diff_outcomes",
    "diff_rulebooks",
    "diff_years",
]


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


# --------------------------------------------------------------------------- planning years

CHANGE_CLASSES = ("tightened", "loosened", "re-dated", "redefined", "carried over", "new", "dropped")
"""How a measure changed from one planning year to the next, in the order a diff lists them."""

_TIGHTER_WHEN_HIGHER = {">=": True, ">": True, "<=": False, "<": False}


@attrs.frozen
class MeasureChange:
    """One measure across two planning years: its rule in each (None where it has none) and how it changed."""

    measure: str
    change: str
    """One of ``CHANGE_CLASSES``."""
    old: Rule | None
    new: Rule | None
    details: tuple[str, ...] = ()
    """What moved, in words: thresholds (old -> new), deadlines, what is compared."""

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON data: both rules' ids, titles, deadlines and quotes."""
        return {
            "measure": self.measure,
            "change": self.change,
            "details": list(self.details),
            "old": _side(self.old),
            "new": _side(self.new),
        }


def _side(rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "rule": rule.id,
        "title": rule.title,
        "deadline": rule.deadline.isoformat() if rule.deadline else None,
        "document": rule.source.document,
        "section": rule.source.section,
        "quote": rule.source.quote,
    }


@attrs.frozen
class YearDiff:
    """Every measure of two planning years' rulebooks, and (given a state) the outcomes that change."""

    old: Rulebook
    new: Rulebook
    changes: tuple[MeasureChange, ...]
    outcomes: tuple[OutcomeChange, ...] = ()

    def counts(self) -> dict[str, int]:
        """Measures by class, every class listed."""
        out = dict.fromkeys(CHANGE_CLASSES, 0)
        for c in self.changes:
            out[c.change] += 1
        return out

    def to_text(self) -> str:
        """The diff as an auditor reads it: each measure with its class, what moved and both quotes."""
        lines = [
            f"{self.old.id} ({self.old.start} to {self.old.end}) -> {self.new.id} ({self.new.start} to {self.new.end})",
            ", ".join(f"{n} {k}" for k, n in self.counts().items()),
        ]
        for c in self.changes:
            ids = " -> ".join(r.id if r else "(none)" for r in (c.old, c.new))
            lines.append(f"\n{c.change.upper()}  {c.measure}: {ids}")
            lines += [f"    {d}" for d in c.details]
            for label, rule in ((self.old.id, c.old), (self.new.id, c.new)):
                if rule is not None:
                    lines.append(f"    {label}: \u201c{rule.source.quote}\u201d ({rule.source.section})")
        if self.outcomes:
            lines.append(f"\n{len(self.outcomes)} outcome(s) change:")
            lines += [f"  {o}" for o in self.outcomes]
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """The diff as JSON: ``old``, ``new``, ``counts``, ``changes`` and ``outcomes``."""

        def year(book: Rulebook) -> dict[str, str]:
            return {"rulebook": book.id, "start": book.start.isoformat(), "end": book.end.isoformat()}

        doc = {
            "old": year(self.old),
            "new": year(self.new),
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
            "outcomes": [attrs.asdict(o) for o in self.outcomes],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _measure_of(rule: Rule) -> str:
    """The measure a rule is paired by: its ``measure``, or (without one) its id, so it pairs with nothing."""
    return rule.measure or f"rule:{rule.id}"


def _compared(rule: Rule) -> dict[tuple[str | None, str | None, str], Comparison] | None:
    """What the rule compares, without its periods or values, in any order of its conjuncts:
    (function, metric or fact, operator) -> the comparison; None when a conjunct is not a comparison
    or two conjuncts compare the same thing."""
    found = rule.shape.all_comparisons
    if found is None:
        return None
    keyed = {(c.function, c.subject, c.op): c for c in found}
    return keyed if len(keyed) == len(found) else None


def _when(rule: Rule) -> str:
    if rule.deadline is not None:
        return f"by {rule.deadline.isoformat()}"
    return rule.timing or "no deadline"


def _classify(a: Rule, b: Rule) -> tuple[str, tuple[str, ...]]:
    """The class of a pair of rules measuring the same thing, with what moved."""
    details: list[str] = []
    if (a.kind, a.applies_to) != (b.kind, b.applies_to):
        details.append(f"kind and types: {a.kind} {', '.join(a.applies_to)} -> {b.kind} {', '.join(b.applies_to)}")
    redated = a.deadline != b.deadline or a.timing != b.timing
    if redated:
        details.append(f"deadline: {_when(a)} -> {_when(b)}")
    shape_a, shape_b = _compared(a), _compared(b)
    if shape_a is None or shape_b is None or set(shape_a) != set(shape_b):
        details.append(f"condition: {a.condition_text} -> {b.condition_text}")
        return "redefined", tuple(details)
    directions: set[bool] = set()
    for key, ca in sorted(shape_a.items(), key=lambda item: str(item[0])):
        cb = shape_b[key]
        if ca.constant is None or cb.constant is None or ca.constant == cb.constant:
            continue
        unit = a.parameters[ca.parameter].unit if ca.parameter is not None and ca.parameter in a.parameters else None
        was, now = f"{ca.op} {format_number(ca.constant, unit)}", f"{cb.op} {format_number(cb.constant, unit)}"
        if ca.text == cb.text:
            details.insert(0, f"threshold on {ca.text}: {was} -> {now}")
        else:  # the period moved too: say both sides in full
            details.insert(0, f"threshold: {ca.text} {was} -> {cb.text} {now}")
        directions.add((cb.constant > ca.constant) == _TIGHTER_WHEN_HIGHER.get(ca.op, True))
    if len(directions) > 1:
        return "redefined", tuple(details)
    if directions:
        return ("tightened" if directions.pop() else "loosened"), tuple(details)
    return ("re-dated" if redated else "carried over"), tuple(details)


def _follow_what_they_read(changes: list[MeasureChange], measure_of: Mapping[str, str]) -> list[MeasureChange]:
    """A pair unchanged in itself (a breach that reads its target's outcome, say) takes the class
    of the measures it reads when they changed, saying so: the breach of a re-dated target is
    re-dated. Several classes among what it reads make it redefined. ``measure_of``: the old
    rulebook's rule id -> measure."""
    by_measure = {c.measure: c for c in changes}
    out: list[MeasureChange] = []
    for c in changes:
        if c.change == "carried over" and c.old is not None:
            read = [by_measure[measure_of[d]] for d in c.old.depends_on if measure_of.get(d) in by_measure]
            moved = {r.measure: r.change for r in read if r.change != "carried over"}
            if moved:
                classes = set(moved.values())
                change = classes.pop() if len(classes) == 1 else "redefined"
                said = tuple(f"reads {m}, {how}" for m, how in sorted(moved.items()))
                c = attrs.evolve(c, change=change, details=(*c.details, *said))
        out.append(c)
    return out


def diff_years(
    old: Rulebook, new: Rulebook, state: State | None = None, as_of: dt.date | str | None = None
) -> YearDiff:
    """Pair the rules of two planning years' rulebooks by ``measure`` and class each pair; with
    ``state``, also the outcomes that change (paired by measure and organisation), both judged
    ``as_of`` (default: the state's)."""
    by_rule_a = {r.id: _measure_of(r) for r in old.rules}
    by_rule_b = {r.id: _measure_of(r) for r in new.rules}
    before = {by_rule_a[r.id]: r for r in old.rules}
    after = {by_rule_b[r.id]: r for r in new.rules}
    changes: list[MeasureChange] = []
    for m in sorted(set(before) | set(after)):
        a, b = before.get(m), after.get(m)
        if a is None:
            changes.append(MeasureChange(m, "new", None, b))
        elif b is None:
            changes.append(MeasureChange(m, "dropped", a, None))
        else:
            change, details = _classify(a, b)
            changes.append(MeasureChange(m, change, a, b, details))
    changes = _follow_what_they_read(changes, by_rule_a)
    changes.sort(key=lambda c: (CHANGE_CLASSES.index(c.change), c.measure))
    moved: list[OutcomeChange] = []
    if state is not None:
        a_out = {(by_rule_a[o.rule_id], o.org_id): o.status for o in evaluate(state, old, as_of=as_of).outcomes}
        b_out = {(by_rule_b[o.rule_id], o.org_id): o.status for o in evaluate(state, new, as_of=as_of).outcomes}
        for m, org in sorted(set(a_out) | set(b_out)):
            if m not in before or m not in after:
                continue  # a new or dropped measure: every outcome of it is new or gone, said by the class
            sa, sb = a_out.get((m, org), "absent"), b_out.get((m, org), "absent")
            if sa != sb:
                moved.append(OutcomeChange(f"{m} ({before[m].id} -> {after[m].id})", org, sa, sb))
    return YearDiff(old, new, tuple(changes), tuple(moved))

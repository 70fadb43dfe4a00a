"""Typed results of an evaluation: outcomes, the firing trace and the decision record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import attrs

from ._expr.evaluate import Evidence
from .errors import ErrorDetail, PolicyError
from .rules import STATUSES

__all__ = ["STATUSES", "Citation", "DecisionRecord", "Evaluation", "Evidence", "Firing", "Outcome"]


@attrs.frozen
class Citation:
    """The guidance text a rule rests on."""

    document: str
    section: str
    quote: str
    confidence: str
    objective: int | None = None


@attrs.frozen
class Outcome:
    """What one rule decided about one organisation, with the evidence and the reason."""

    rule_id: str
    org_id: str
    kind: str
    status: str
    title: str
    deadline: dt.date | None
    period: str | None
    evidence: tuple[Evidence, ...]
    citation: Citation
    explanation: str
    assumptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (matches ``outcome.schema.json``)."""
        return {
            "rule": self.rule_id,
            "organisation": self.org_id,
            "kind": self.kind,
            "status": self.status,
            "title": self.title,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "period": self.period,
            "evidence": [_drop_none(attrs.asdict(e)) for e in self.evidence],
            "citation": _drop_none(attrs.asdict(self.citation)),
            "explanation": self.explanation,
            "assumptions": list(self.assumptions),
        }


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@attrs.frozen
class Firing:
    """One rule firing for one organisation: what it concluded and which derived facts it read."""

    step: int
    rule_id: str
    org_id: str
    status: str
    stratum: int
    inputs: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "rule": self.rule_id,
            "organisation": self.org_id,
            "status": self.status,
            "stratum": self.stratum,
            "inputs": [{"rule": r, "status": s} for r, s in self.inputs],
        }


@attrs.frozen
class DecisionRecord:
    """Enough to reproduce and check an evaluation: what went in, which rules, which engine."""

    state_digest: str
    rulebook_id: str
    rulebook_version: str
    rulebook_digest: str
    package_version: str
    backend: str
    engine_version: str
    as_of: dt.date
    evaluated_at: str
    overlays: tuple[str, ...] = ()
    """Parameter overlays applied to the rulebook, as ``id@sha256``."""

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["overlays"] = list(self.overlays)
        return d


@attrs.frozen
class Evaluation:
    """The outcomes (sorted by organisation, then rule), the trace and the decision record."""

    outcomes: tuple[Outcome, ...]
    trace: tuple[Firing, ...]
    record: DecisionRecord

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def outcome(self, rule_id: str, org_id: str) -> Outcome:
        """The outcome of ``rule_id`` for ``org_id``; PolicyError if the rule produced none for it."""
        for o in self.outcomes:
            if o.rule_id == rule_id and o.org_id == org_id:
                return o
        raise PolicyError(
            "no such outcome",
            [
                ErrorDetail(
                    f"{rule_id} / {org_id}",
                    "the rule produced no outcome for this organisation "
                    "(unknown rule or organisation, or the rule does not apply to its type)",
                )
            ],
        )

    def find(self, rule_id: str | None = None, org_id: str | None = None, status: str | None = None) -> list[Outcome]:
        """Outcomes filtered by rule, organisation and/or status."""
        return [
            o
            for o in self.outcomes
            if (rule_id is None or o.rule_id == rule_id)
            and (org_id is None or o.org_id == org_id)
            and (status is None or o.status == status)
        ]

    def counts(self) -> dict[str, int]:
        """Number of outcomes per status."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (matches ``outcome.schema.json``)."""
        return {
            "schema": "policy-engine/evaluation/1",
            "record": self.record.to_dict(),
            "summary": self.counts(),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "trace": [f.to_dict() for f in self.trace],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Deterministic JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)

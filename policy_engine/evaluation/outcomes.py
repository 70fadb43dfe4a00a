"""Typed results of an evaluation: outcomes, the firing trace and the decision record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..language.rules import STATUSES, RuleKind, Status
from .evidence import Evidence
from .select import Selectors

if TYPE_CHECKING:
    import polars as pl

    from ..rulebook.loader import Rulebook

__all__ = [
    "STATUSES",
    "Citation",
    "DecisionRecord",
    "Evaluation",
    "Evidence",
    "Firing",
    "Outcome",
    "RuleKind",
    "Status",
]


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
    kind: RuleKind
    status: Status
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
            "evidence": [e.to_dict() for e in self.evidence],
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
    status: Status
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
    rulebook_source: str = "bundled"
    """``"bundled"`` (the rulebook shipped with the package under ``rulebook_id``) or the absolute
    path of the folder it was read from (``Rulebook.source``)."""

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["overlays"] = list(self.overlays)
        return d


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Evaluation:
    """The outcomes (sorted by organisation, then rule), the trace and the decision record."""

    outcomes: tuple[Outcome, ...]
    trace: tuple[Firing, ...]
    record: DecisionRecord
    org_ids: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    """Every organisation of the evaluated state, including those no rule applies to (empty: the
    organisations of ``outcomes``)."""
    rule_ids: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    """Every rule of the rulebook evaluated (empty: the rules of ``outcomes``)."""
    rulebook: Rulebook | None = attrs.field(default=None, eq=False, repr=False)
    """The rulebook evaluated (set by ``evaluate``): the areas and threshold shapes of ``to_frame``."""
    org_types: Mapping[str, str] = attrs.field(
        default=MappingProxyType({}), converter=_frozen_map, eq=False, repr=False
    )
    """Each organisation's type (set by ``evaluate``)."""

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def _selectors(
        self, rule_ids: Iterable[str] | None, org_ids: Iterable[str] | None, statuses: Iterable[str] | None
    ) -> None:
        check = Selectors()
        check.check("rule_id", "rule", rule_ids, self.rule_ids or {o.rule_id for o in self.outcomes}, "in the rulebook")
        check.check(
            "org_id", "organisation", org_ids, self.org_ids or {o.org_id for o in self.outcomes}, "in the state"
        )
        check.check("status", "status", statuses, STATUSES)
        check.raise_if_unknown()

    def outcome(self, rule_id: str, org_id: str) -> Outcome:
        """The outcome of ``rule_id`` for ``org_id``.

        SelectorError (with close matches) if the rulebook has no such rule or the state no such
        organisation; PolicyError if the rule produced no outcome for it (it does not apply to the
        organisation's type).
        """
        self._selectors((rule_id,), (org_id,), None)
        for o in self.outcomes:
            if o.rule_id == rule_id and o.org_id == org_id:
                return o
        raise PolicyError(
            "no such outcome",
            [
                ErrorDetail(
                    f"{rule_id} / {org_id}",
                    "the rule produced no outcome for this organisation (it does not apply to its type)",
                    code=ErrorCode.EVALUATION_NO_OUTCOME,
                )
            ],
        )

    def find(
        self,
        rule_id: str | Iterable[str] | None = None,
        org_id: str | Iterable[str] | None = None,
        status: str | Iterable[str] | None = None,
    ) -> list[Outcome]:
        """Outcomes filtered by rule, organisation and/or status (each one value or several).

        Every value must exist: a rule of the rulebook, an organisation of the state, one of
        ``STATUSES``; otherwise SelectorError (with close matches), never an empty list that looks
        like "none". A valid filter that matches nothing gives ``[]``.
        """
        rules, orgs, statuses = _values(rule_id), _values(org_id), _values(status)
        self._selectors(rules, orgs, statuses)
        return [
            o
            for o in self.outcomes
            if (rules is None or o.rule_id in rules)
            and (orgs is None or o.org_id in orgs)
            and (statuses is None or o.status in statuses)
        ]

    def counts(self) -> dict[Status, int]:
        """Number of outcomes per status."""
        out: dict[Status, int] = {}
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

    def to_frame(self, rulebook: Rulebook | None = None) -> pl.DataFrame:
        """The outcomes as a polars DataFrame: one row per outcome, typed columns (ids, organisation
        type, area, kind, status and its label, deadline as a date, period, the deciding value and
        the threshold as Float64 and as exact text, unit, numerator/denominator, citation,
        explanation; ``evaluation.frames.COLUMNS``). ``frame.to_pandas()`` gives a pandas one.

        ``rulebook`` is needed only for an Evaluation not made by ``evaluate`` (which carries its
        own). Needs the ``tables`` extra (polars): MissingExtraError otherwise."""
        from .frames import to_frame

        return to_frame(self, rulebook)

    def to_json(self, indent: int | None = 2) -> str:
        """Deterministic JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False)


def _values(selector: str | Iterable[str] | None) -> frozenset[str] | None:
    if selector is None:
        return None
    return frozenset((selector,) if isinstance(selector, str) else selector)

"""Value objects of a rulebook: rules, their sources, parameters and the catalogues they read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

import attrs

from ._expr.ast import Node

__all__ = [
    "ORGANISATION_TYPES",
    "RULE_KINDS",
    "STATUSES",
    "FactDef",
    "MetricDef",
    "Parameter",
    "Period",
    "Rule",
    "Source",
]

ORGANISATION_TYPES: tuple[str, ...] = (
    "acute_trust",
    "ambulance_trust",
    "mental_health_trust",
    "community_provider",
    "icb",
    "gp_practice",
    "pcn",
)
RULE_KINDS: tuple[str, ...] = ("obligation", "target", "breach", "eligibility")
STATUSES: tuple[str, ...] = (
    "met",
    "met_late",
    "not_met",
    "due",
    "overdue",
    "breached",
    "not_breached",
    "eligible",
    "not_eligible",
    "unknown",
    "not_applicable",
)
"""Every status an outcome can have (see docs/rule-language.md)."""
RuleKind = Literal["obligation", "target", "breach", "eligibility"]


@attrs.frozen
class Source:
    """Where a rule comes from: the document, its section and the verbatim quote."""

    document: str
    section: str
    quote: str


@attrs.frozen
class Parameter:
    """A named threshold with its unit and the guidance's own wording."""

    name: str
    value: Fraction
    unit: str
    wording: str | None = None
    override: str | None = None
    """Set when a parameter overlay changed the value: which overlay, the original value, why."""


@attrs.frozen
class Period:
    """An inclusive range of months (month indexes, see ``policy_engine._time``)."""

    name: str
    start: int
    end: int

    @property
    def months(self) -> range:
        return range(self.start, self.end + 1)


@attrs.frozen
class MetricDef:
    """A metric a rule may read. ``proportion`` and ``rate`` are numerator/denominator counts."""

    name: str
    kind: Literal["proportion", "rate", "value"]
    unit: str
    description: str
    area: str


@attrs.frozen
class FactDef:
    """A declared fact a rule may read."""

    name: str
    type: Literal["boolean", "number", "date", "string"]
    description: str
    area: str
    unit: str | None = None


def _freeze_params(value: Mapping[str, Parameter]) -> Mapping[str, Parameter]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Rule:
    """One requirement of the guidance, compiled: its condition is a checked AST."""

    id: str
    title: str
    kind: RuleKind
    area: str
    applies_to: tuple[str, ...]
    condition_text: str
    condition: Node
    source: Source
    file: str
    parameters: Mapping[str, Parameter] = attrs.field(converter=_freeze_params, factory=dict)
    applicable_if_text: str | None = None
    applicable_if: Node | None = None
    completed_on_text: str | None = None
    completed_on: Node | None = None
    period: Period | None = None
    deadline: dt.date | None = None
    objective: int | None = None
    confidence: Literal["quoted", "published", "reconstructed"] = "quoted"
    assumptions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    uses_rank: bool = False
    stratum: int = 0

    def applies_to_type(self, org_type: str) -> bool:
        """Whether organisations of this type are subject to the rule."""
        return org_type in self.applies_to

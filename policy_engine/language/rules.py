"""Value objects of a rulebook: rules, their sources, parameters and the catalogues they read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import attrs

from . import statuses
from .ast import Node
from .months import date_words, month_words
from .statuses import (
    NEGATIVE_STATUS,
    POSITIVE_STATUS,
    STATUSES,
    Branch,
    Clause,
    Status,
    negative_status,
)

if TYPE_CHECKING:
    from .shape import Shape

__all__ = [
    "NEGATIVE_STATUS",
    "ORGANISATION_TYPES",
    "POSITIVE_STATUS",
    "RULE_KINDS",
    "STATUSES",
    "TIMINGS",
    "FactDef",
    "MetricDef",
    "Parameter",
    "Period",
    "Rule",
    "ServiceDef",
    "Source",
    "Status",
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
RuleKind = Literal["obligation", "target", "breach", "eligibility"]
Timing = Literal["standing", "within_year", "dated"]

TIMINGS: Mapping[str, str] = MappingProxyType(
    {
        "standing": "a requirement that must hold throughout the planning year: judged on every date from its "
        "start; met while the latest declaration meets it, not_met on a date when it does not, unknown while "
        "nothing is declared (due only before the year starts)",
        "within_year": "an action to be done within the planning year, with no date in the text: its deadline is "
        "the end of the planning year; due until then, then met, met_late (with a completion date after it), "
        "overdue, or unknown if nothing is declared",
        "dated": "an action with a date in the text: due until that deadline, then met, met_late, overdue, or "
        "unknown if nothing is declared",
    }
)
"""How an obligation is judged over time (its ``timing``), with the statuses each gives."""


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
    """An inclusive range of months (month indexes, see ``policy_engine.language.months``)."""

    name: str
    start: int
    end: int

    @property
    def months(self) -> range:
        return range(self.start, self.end + 1)


@attrs.frozen
class MetricDef:
    """A metric a rule may read. ``proportion`` and ``rate`` are numerator/denominator counts.

    ``label`` is the noun phrase the rule reference names it by (``share of …``, ``number of …``),
    without an article; ``description`` says exactly what is counted.
    """

    name: str
    kind: Literal["proportion", "rate", "value"]
    unit: str
    description: str
    area: str
    label: str = ""


@attrs.frozen
class FactDef:
    """A declared fact a rule may read. ``label`` is the short clause the rule reference names it
    by (``the ICB has published its plan``)."""

    name: str
    type: Literal["boolean", "number", "date", "string"]
    description: str
    area: str
    unit: str | None = None
    label: str = ""


@attrs.frozen
class ServiceDef:
    """A service or capability an organisation may declare (``has_service``). ``label`` is the
    short phrase the rule reference names it by (``a Type 1 A&E department``)."""

    name: str
    description: str
    area: str
    label: str = ""


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
    timing: Timing | None = None
    """Obligations only: how the rule is judged over time (see ``TIMINGS``)."""
    in_force: dt.date | None = None
    """Standing obligations only: the first date on which the requirement holds (the year's start)."""
    objective: int | None = None
    measure: str | None = None
    """What the rule measures, the same across planning years (``cancer.fds``); diff pairs by it."""
    confidence: Literal["quoted", "published", "reconstructed"] = "quoted"
    assumptions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    uses_rank: bool = False
    cohort: str | None = None
    """Rules that use rank() only: the scope of the cohort they rank within (``"national"``)."""
    stratum: int = 0
    shape: Shape = attrs.field(init=False, eq=False, repr=False)
    """The condition's threshold shape (``language.shape``), computed when the rule is built."""

    @shape.default
    def _shape(self) -> Shape:
        from .shape import shape_of  # the shape module reads the checker, which reads this module

        return shape_of(self.condition, {n: p.value for n, p in self.parameters.items()})

    judged_from: dt.date | None = attrs.field(init=False, eq=False, repr=False)
    """The first date on which the rule is judged (None: every date): the day after its deadline,
    or, for a standing requirement, the day it is in force. Computed when the rule is built."""

    @judged_from.default
    def _judged_from(self) -> dt.date | None:
        if self.timing == "standing":
            return self.in_force
        return None if self.deadline is None else self.deadline + dt.timedelta(days=1)

    decision_table: tuple[Clause, ...] = attrs.field(init=False, eq=False, repr=False)
    """The clauses that decide this rule's status (``statuses.decision_table``), computed when the
    rule is built."""

    @decision_table.default
    def _decision_table(self) -> tuple[Clause, ...]:
        return statuses.decision_table(
            self.kind,
            self.timing,
            self.applicable_if is not None,
            self.completed_on is not None and self.deadline is not None,
        )

    decision_tree: Branch | Clause = attrs.field(init=False, eq=False, repr=False)
    """The decision table as a tree that reads each input at most once (``statuses.decision_tree``)."""

    @decision_tree.default
    def _decision_tree(self) -> Branch | Clause:
        return statuses.decision_tree(self.decision_table)

    def applies_to_type(self, org_type: str) -> bool:
        """Whether organisations of this type are subject to the rule."""
        return org_type in self.applies_to

    @property
    def positive_status(self) -> Status:
        """The status when the condition is true at the time the rule is judged."""
        return POSITIVE_STATUS[self.kind]

    @property
    def negative_status(self) -> Status:
        """The status when the condition is false at the time the rule is judged."""
        return negative_status(self.kind, self.timing)

    def judged_on(self, as_of: dt.date) -> bool:
        """Whether the rule is judged on ``as_of`` (else it is ``due``, unless an obligation is
        already met): from ``judged_from``."""
        return self.judged_from is None or as_of >= self.judged_from

    def timing_label(self) -> str:
        """The timing in a few words, for a table cell (``timing_text`` says it in full)."""
        if self.timing == "standing":
            return f"standing, from {_day(self.in_force)}"
        if self.timing == "within_year":
            return f"by {_day(self.deadline)} (within the year)"
        if self.timing == "dated":
            return f"by {_day(self.deadline)}"
        if self.deadline is not None:
            return f"judged after {_day(self.deadline)}"
        return "judged on every date"

    def timing_text(self) -> str:
        """How the rule is judged over time, in plain words."""
        if self.timing == "standing":
            since = f" from {_day(self.in_force)}" if self.in_force else ""
            return (
                f"Standing requirement: must hold on every date{since}, so it is judged on each date; "
                "not met on a date when the latest declaration falls short."
            )
        if self.timing == "within_year":
            return (
                f"To be done within the planning year, by {_day(self.deadline)} (the text gives no date): "
                "due until then, then met or overdue."
            )
        if self.timing == "dated":
            return (
                f"To be done by {_day(self.deadline)}, the date the text gives: due until then, "
                "then met, met late or overdue."
            )
        if self.deadline is not None:
            data = f", on the data for {_months(self.period)}" if self.period is not None else ""
            return f"Judged after {_day(self.deadline)}{data}: due until then."
        return "Judged on every date, on the data available on that date."


def _months(period: Period) -> str:
    if period.start == period.end:
        return month_words(period.end)
    return f"{month_words(period.start)} to {month_words(period.end)}"


def _day(date: dt.date | None) -> str:
    return date_words(date) if date is not None else "?"

"""What an outcome rests on, as typed values: the evidence items and the values they hold.

An :class:`Evidence` item holds a typed :data:`Quantity` (an exact number, a ratio of counts, a
date, a truth value, a text or status, whether a service is listed, a cohort standing, or
:class:`Unknown` with its reason). Text is made only when it is shown: :func:`format_quantity` is the one
function that turns a quantity into the words of explanations, reports and explain trees
(``Evidence.value``), and :func:`quantity_to_dict` / :func:`quantity_from_dict` its exact JSON form.
"""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from typing import Any, Literal, TypeAlias, get_args

import attrs

from ..language.numbers import format_number
from ..language.rules import STATUSES

__all__ = [
    "Boolean",
    "CohortFigures",
    "CohortStanding",
    "Date",
    "Evidence",
    "Listing",
    "Number",
    "OutcomeStatus",
    "Quantity",
    "Ratio",
    "Text",
    "Unknown",
    "UnknownReason",
    "format_number",
    "format_quantity",
    "quantity_from_dict",
    "quantity_to_dict",
]


_EXACT = re.compile(r"-?[0-9]+/[0-9]+")


def _exact_to_json(v: Fraction) -> int | str:
    """An exact number in JSON: an integer when it is whole, else ``"numerator/denominator"`` text."""
    return v.numerator if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _exact_from_json(v: int | str) -> Fraction:
    """The inverse of :func:`_exact_to_json`."""
    if isinstance(v, int) and not isinstance(v, bool):
        return Fraction(v)
    if isinstance(v, str) and _EXACT.fullmatch(v):
        return Fraction(v)
    raise ValueError(f"an exact number is an integer or 'numerator/denominator' text, not {v!r}")


# --- the values evidence can hold -------------------------------------------------------------


@attrs.frozen
class Number:
    """An exact number with its unit: a parameter, a metric's total, mean, least or greatest value
    (``min_pct`` / ``max_pct`` in percent), a rank, a number fact.

    The unit is the catalogue's (``"percent"`` is shown as ``%``); ``None`` for a bare number."""

    value: Fraction
    unit: str | None = None


@attrs.frozen
class Ratio:
    """A ratio of summed counts: ``pct()`` of a proportion metric (``scale`` 100) or ``rate()`` of a
    rate metric (``scale`` 1). The counts are the metric's numerator and denominator over the period."""

    numerator: int
    denominator: int = attrs.field(validator=attrs.validators.ge(1))
    """Never 0: a zero denominator makes the value ``Unknown("zero_denominator")``."""
    scale: int = attrs.field(validator=attrs.validators.ge(1))
    unit: str | None = None

    @property
    def value(self) -> Fraction:
        """``scale`` * numerator / denominator, exactly."""
        return Fraction(self.numerator, self.denominator) * self.scale


@attrs.frozen
class Date:
    """A date (a fact declared as a date)."""

    value: dt.date


@attrs.frozen
class Boolean:
    """A truth value: a yes/no fact, or the result of a comparison."""

    value: bool


@attrs.frozen
class Text:
    """A text or enumerated value (a fact declared as text)."""

    value: str


@attrs.frozen
class OutcomeStatus:
    """The status of another rule's outcome, as the rule read it (one of ``STATUSES``; an outcome
    whose status is ``"unknown"`` is read as unknown, so :attr:`Evidence.unknown` is true for it)."""

    value: str = attrs.field(validator=attrs.validators.in_(STATUSES))


@attrs.frozen
class Listing:
    """Whether the organisation's declared services list the named service."""

    listed: bool


@attrs.frozen
class CohortStanding:
    """The organisation's standing in the cohort a rank() rule ranks within: the figures (also
    :attr:`Evidence.cohort`) and, exactly, its own value and the value at the cut-off rank."""

    figures: CohortFigures
    own: Fraction | None = None
    cutoff: Fraction | None = None


UnknownReason: TypeAlias = Literal[
    "no_data",
    "zero_denominator",
    "zero_denominator_month",
    "not_declared",
    "services_not_declared",
    "unknown_operand",
    "unknown_rank",
]
"""Why a value is unknown:

``no_data``
    a month of the period has no observation (``Unknown.months`` lists every missing month);
``zero_denominator``
    the counts of the period sum to a denominator of 0;
``zero_denominator_month``
    a month has a denominator of 0 (``min_pct`` / ``max_pct``);
``not_declared``
    the fact is not declared;
``services_not_declared``
    the organisation does not declare its services;
``unknown_operand``
    a comparison whose operand is unknown;
``unknown_rank``
    the organisation's rank in the cohort is not known.
"""

_REASONS: frozenset[str] = frozenset(get_args(UnknownReason))


def _reason(_inst: Unknown, _attr: attrs.Attribute[str], value: str) -> None:
    if value not in _REASONS:
        raise ValueError(f"not a reason a value is unknown: {value!r} (expected one of {', '.join(sorted(_REASONS))})")


@attrs.frozen
class Unknown:
    """A value that is not known, and why (see :data:`UnknownReason`)."""

    reason: UnknownReason = attrs.field(validator=_reason)
    months: tuple[str, ...] = ()
    """For ``no_data``: every month of the period without an observation (``YYYY-MM``)."""


Quantity: TypeAlias = Number | Ratio | Date | Boolean | Text | OutcomeStatus | Listing | CohortStanding | Unknown
"""What one evidence item holds."""

_QUANTITY_TYPES = (Number, Ratio, Date, Boolean, Text, OutcomeStatus, Listing, CohortStanding, Unknown)

_UNKNOWN_TEXT: dict[str, str] = {
    "zero_denominator": "unknown: denominator is 0",
    "zero_denominator_month": "unknown: a month has denominator 0",
    "not_declared": "not declared",
    "services_not_declared": "services not declared",
    "unknown_operand": "unknown",
    "unknown_rank": "unknown",
}

_SHOWN_MONTHS = 6


def format_quantity(q: Quantity) -> str:
    """The text of a value, as explanations, reports and explain trees show it."""
    if isinstance(q, (Number, Ratio)):
        return format_number(q.value, q.unit)
    if isinstance(q, Boolean):
        return "true" if q.value else "false"
    if isinstance(q, Date):
        return q.value.isoformat()
    if isinstance(q, (Text, OutcomeStatus)):
        return q.value
    if isinstance(q, Listing):
        return "listed" if q.listed else "not listed"
    if isinstance(q, CohortStanding):
        return _render_standing(q)
    if q.reason == "no_data":
        shown = ", ".join(q.months[:_SHOWN_MONTHS]) + (" ..." if len(q.months) > _SHOWN_MONTHS else "")
        return f"unknown: no data for {shown}"
    return _UNKNOWN_TEXT[q.reason]


def _render_standing(q: CohortStanding) -> str:
    f = q.figures
    if not f.complete:
        return f"not declared complete: {f.candidates} organisation(s) of these types in the state"
    if f.rank is not None:
        where = f"rank {f.rank}"
    elif f.rank_low is not None:
        where = f"rank {f.rank_low}..{f.rank_high}"
    else:
        where = "not ranked"
    text = f"complete ({f.source}); {where} of {f.size}"
    if q.own is not None:
        text += f"; own value {format_number(q.own)}"
    if q.cutoff is not None:
        text += f"; value at the cut-off (rank {f.cutoff_rank}) {format_number(q.cutoff)}"
    return text


def quantity_to_dict(q: Quantity) -> dict[str, Any]:
    """The exact JSON form of a value (``{"type": ...}``; numbers as integers or ``"n/d"`` text).

    A cohort standing is ``{"type": "cohort"}``: its figures are the evidence item's ``cohort``."""
    if isinstance(q, Number):
        return _unit({"type": "number", "value": _exact_to_json(q.value)}, q.unit)
    if isinstance(q, Ratio):
        d = {
            "type": "ratio",
            "numerator": q.numerator,
            "denominator": q.denominator,
            "scale": q.scale,
            "value": _exact_to_json(q.value),
        }
        return _unit(d, q.unit)
    if isinstance(q, Date):
        return {"type": "date", "value": q.value.isoformat()}
    if isinstance(q, Boolean):
        return {"type": "boolean", "value": q.value}
    if isinstance(q, Text):
        return {"type": "text", "value": q.value}
    if isinstance(q, OutcomeStatus):
        return {"type": "status", "value": q.value}
    if isinstance(q, Listing):
        return {"type": "listing", "listed": q.listed}
    if isinstance(q, CohortStanding):
        return {"type": "cohort"}
    unknown: dict[str, Any] = {"type": "unknown", "reason": q.reason}
    if q.months:
        unknown["months"] = list(q.months)
    return unknown


def _unit(d: dict[str, Any], unit: str | None) -> dict[str, Any]:
    if unit is not None:
        d["unit"] = unit
    return d


def quantity_from_dict(d: dict[str, Any], cohort: CohortFigures | None = None) -> Quantity:
    """The inverse of :func:`quantity_to_dict` (a cohort standing needs the item's ``cohort`` figures)."""
    kind = d["type"]
    if kind == "number":
        return Number(_exact_from_json(d["value"]), d.get("unit"))
    if kind == "ratio":
        return Ratio(d["numerator"], d["denominator"], d["scale"], d.get("unit"))
    if kind == "date":
        return Date(dt.date.fromisoformat(d["value"]))
    if kind == "boolean":
        return Boolean(d["value"])
    if kind == "text":
        return Text(d["value"])
    if kind == "status":
        return OutcomeStatus(d["value"])
    if kind == "listing":
        return Listing(d["listed"])
    if kind == "cohort":
        if cohort is None:
            raise ValueError("a cohort standing needs the evidence item's cohort figures")
        return CohortStanding(
            cohort,
            None if cohort.value_exact is None else Fraction(cohort.value_exact),
            None if cohort.cutoff_exact is None else Fraction(cohort.cutoff_exact),
        )
    if kind == "unknown":
        return Unknown(d["reason"], tuple(d.get("months", ())))
    raise ValueError(f"not a type of evidence value: {kind!r}")


# --- evidence items ---------------------------------------------------------------------------


@attrs.frozen
class CohortFigures:
    """The numbers of a rank() rule's cohort for one organisation (JSON numbers; exact values also
    as ``"numerator/denominator"`` text)."""

    scope: str
    types: tuple[str, ...]
    complete: bool
    """Whether the state declares the complete cohort of this scope."""
    source: str | None
    date: str | None
    size: int
    """Members of the cohort in the state (ranked and uncertain)."""
    ranked: int
    """Members with a known value."""
    value: float | None
    value_exact: str | None
    rank: int | None
    rank_low: int | None
    rank_high: int | None
    cutoff_rank: int | None
    cutoff_value: float | None
    """The value of the member at the cut-off rank (the least value that qualifies)."""
    cutoff_exact: str | None
    candidates: int
    """Organisations of the rule's types in the state."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (every field; the types as a list)."""
        d = attrs.asdict(self)
        d["types"] = list(self.types)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CohortFigures:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**d, "types": tuple(d["types"])})


@attrs.frozen
class Evidence:
    """One datum an outcome rests on: a metric over a period, a fact, a parameter, another outcome,
    a comparison, a service, a rank or the cohort of a rank.

    ``quantity`` is the typed value; ``value`` is its text (:func:`format_quantity`), as explanations show it.
    """

    kind: str  # metric | fact | parameter | outcome | rank | comparison | service | cohort
    name: str
    quantity: Quantity = attrs.field(validator=attrs.validators.instance_of(_QUANTITY_TYPES))
    period: str | None = None
    numerator: int | None = None
    denominator: int | None = None
    date: str | None = None
    reference: str | None = None
    cohort: CohortFigures | None = None

    @property
    def value(self) -> str:
        """The value as text: ``"~74.1686%"``, ``"665303600 gbp"``, ``"not declared"``, ``"unknown: ..."``."""
        return format_quantity(self.quantity)

    @property
    def unknown(self) -> bool:
        """Whether the datum is unknown: missing data, a zero denominator, an undeclared fact or
        undeclared services, an unknown comparison or rank, or an outcome whose status is unknown."""
        return isinstance(self.quantity, Unknown) or self.quantity == OutcomeStatus("unknown")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (matches ``outcome.schema.json``): ``value`` is the text, ``quantity`` the
        typed value; absent fields are left out."""
        d: dict[str, Any] = {"kind": self.kind, "name": self.name, "value": self.value}
        for key in ("period", "numerator", "denominator", "date", "reference"):
            if (v := getattr(self, key)) is not None:
                d[key] = v
        if self.cohort is not None:
            d["cohort"] = self.cohort.to_dict()
        d["quantity"] = quantity_to_dict(self.quantity)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        """The inverse of :meth:`to_dict` (the text ``value`` is rendered again from the quantity)."""
        cohort = CohortFigures.from_dict(d["cohort"]) if "cohort" in d else None
        return cls(
            d["kind"],
            d["name"],
            quantity_from_dict(d["quantity"], cohort),
            period=d.get("period"),
            numerator=d.get("numerator"),
            denominator=d.get("denominator"),
            date=d.get("date"),
            reference=d.get("reference"),
            cohort=cohort,
        )

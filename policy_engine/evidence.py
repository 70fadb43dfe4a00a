"""The values an outcome's evidence holds, typed (public API).

``Outcome.evidence`` is a tuple of :class:`Evidence`; each item's ``quantity`` is one of the types
below, and its ``value`` the text explanations show (:func:`format_quantity`)::

    from policy_engine.evidence import Ratio, Unknown

    for e in outcome.evidence:
        if isinstance(e.quantity, Unknown):
            print(e.name, "is unknown:", e.quantity.reason, e.quantity.months)
        elif isinstance(e.quantity, Ratio):
            print(e.name, e.quantity.numerator, "/", e.quantity.denominator, "=", e.quantity.value)

The JSON form of each type is in ``schemas/outcome.schema.json`` (``$defs/quantity``) and
``docs/outcomes.md``.
"""

from __future__ import annotations

from .evaluation.evidence import (
    Boolean,
    CohortFigures,
    CohortStanding,
    Date,
    Evidence,
    Listing,
    Number,
    OutcomeStatus,
    Quantity,
    Ratio,
    Text,
    Unknown,
    UnknownReason,
    format_number,
    format_quantity,
    quantity_from_dict,
    quantity_to_dict,
)

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

"""The one place JSON Schema validators are built: one validator per (schema, definition,
formats), built on first use and kept for the process.

Every bundled schema declares draft 2020-12, so each validator is a ``Draft202012Validator``
(``validator_for`` picks the class a schema declares). ``formats=True`` adds the draft's
format checker (``date``, ``date-time`` ... are checked, not only annotated): the state schema and
the decision-record schema are validated with it; the rulebook, area, overlay and coverage
schemas without it, as they always were.
"""

from __future__ import annotations

import functools

import jsonschema
from jsonschema.protocols import Validator

from .._resources import load_schema

__all__ = ["schema_validator"]


@functools.cache
def schema_validator(name: str, *, definition: str | None = None, formats: bool = False) -> Validator:
    """The validator of a bundled schema (``state.schema.json`` ...), cached.

    ``definition`` validates against one of the schema's ``$defs`` instead of its root (e.g. the
    rulebook schema's ``manifest`` or ``area``); ``formats`` checks ``format`` keywords."""
    schema = load_schema(name)
    if definition is not None:
        if definition not in schema.get("$defs", {}):
            raise KeyError(f"{name} has no definition {definition!r}")
        schema = {**schema, "$ref": f"#/$defs/{definition}"}
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    if formats:
        return cls(schema, format_checker=cls.FORMAT_CHECKER)
    return cls(schema)

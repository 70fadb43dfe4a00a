"""The one place JSON Schema validators are built: one validator per (schema, definition,
formats), built on first use and kept for the process.

A ``pattern`` is matched as JSON Schema means it (ECMA-262): its final ``$`` is the end of the
text. Python's ``$`` also matches before a final line break, so ``"a.x\\n"`` would pass a rule
id's pattern and load as a second id beside ``a.x``; here a pattern's final ``$`` is read as
``\\Z`` (decision 019).

Every bundled schema declares draft 2020-12, so each validator is a ``Draft202012Validator``
(``validator_for`` picks the class a schema declares). ``formats=True`` adds the draft's
format checker (``date``, ``date-time`` ... are checked, not only annotated): the state schema and
the decision-record schema are validated with it; the rulebook, area, overlay and coverage
schemas without it, as they always were.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

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
    cls = _exact_patterns(jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator))
    if formats:
        return cls(schema, format_checker=cls.FORMAT_CHECKER)
    return cls(schema)


@functools.cache
def _exact(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with a final unescaped ``$`` read as the end of the text (``\\Z``)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not _exact(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _exact_patterns(cls: type[Validator]) -> type[Validator]:
    """``cls`` with the ``pattern`` keyword matched exactly (see the module docstring)."""
    extended: type[Validator] = jsonschema.validators.extend(cls, {"pattern": _pattern})  # type: ignore[no-untyped-call]
    return extended

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

``compiled_check`` is the fast verdict on the happy path (decision 032): the schema compiled by
jsonschema-rs (Rust), which says only valid or not. It is used where big documents are checked
(the state); when it refuses, the jsonschema validator describes every error, so the messages are
jsonschema's. It compiles only the keywords and forms it is known to check as jsonschema does,
its ``format`` checks are jsonschema's own format checker, and ``tests/test_compiled_schema.py``
checks both agree on generated valid and invalid states.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from .._resources import load_schema

__all__ = ["compiled_check", "schema_validator", "validator_of"]


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
    return validator_of(schema, formats=formats)


def validator_of(schema: Mapping[str, Any], *, formats: bool = False) -> Validator:
    """The jsonschema validator of ``schema`` as ``schema_validator`` builds it (the class its
    ``$schema`` declares, patterns matched exactly, the format checker when ``formats``); not
    cached: callers keep it."""
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


# --------------------------------------------------------------------------- compiled checks

_COMPILABLE = frozenset(
    {
        # the keywords the compiled check is tested to read as jsonschema does (tests/
        # test_compiled_schema.py); a schema with any other keyword is not compiled
        "$schema",
        "$id",
        "$defs",
        "$ref",
        "type",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "enum",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "oneOf",
        "anyOf",
        "allOf",
        "not",
        "propertyNames",
    }
)
_ANNOTATIONS = frozenset({"title", "description", "$comment"})
_DOLLAR = re.compile(r"(?<!\\)\$")
_WIDER_CLASS = re.compile(r"(?<!\\)\\[DSWswbB]")
"""Class escapes whose Rust (ECMA-262) reading could accept text Python's ``re`` refuses (``\\d``
is ASCII there, Unicode in Python: a subset, so it may refuse more, never accept more)."""


def _compilable(schema: Any, formats: set[str]) -> bool:
    """Whether the compiled check reads ``schema`` exactly as jsonschema does (collecting the
    ``format`` names in it into ``formats``): only the keywords of ``_COMPILABLE``, ``items`` as
    one schema, and patterns whose only ``$`` is the final one (read as the end of the text by
    both; ``_exact`` reads no other ``$`` so) and without the class escapes of ``_WIDER_CLASS``."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    for key, value in schema.items():
        if key not in _COMPILABLE and key not in _ANNOTATIONS:
            return False
        if key in ("properties", "$defs"):
            if not all(_compilable(sub, formats) for sub in value.values()):
                return False
        elif key in ("items", "additionalProperties", "not", "propertyNames"):
            if not _compilable(value, formats):
                return False
        elif key in ("oneOf", "anyOf", "allOf"):
            if not all(_compilable(sub, formats) for sub in value):
                return False
        elif key == "pattern":
            if _DOLLAR.search(value[:-1] if value.endswith("$") else value) or _WIDER_CLASS.search(value):
                return False
        elif key == "format":
            formats.add(value)
    return True


def compiled_check(schema: Mapping[str, Any], *, formats: bool = False) -> Callable[[Any], bool] | None:
    """A compiled check of ``schema`` (True: the instance is valid) by jsonschema-rs, or None when
    the schema uses a keyword or form ``_compilable`` does not vouch for (or jsonschema-rs is not
    installed). Only a verdict: an instance it refuses is described by the jsonschema validator.

    Its ``format`` checks are jsonschema's own format checker (when ``formats``), and it is only
    as exact as jsonschema where the instance holds no integral Decimal (jsonschema-rs counts
    ``Decimal("5.0")`` as an integer, jsonschema does not): callers ask it only of such
    instances (``data.state`` knows from its number check). Compiling takes milliseconds:
    callers keep the result."""
    names: set[str] = set()
    if not _compilable(schema, names):
        return None
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a core dependency; without it jsonschema checks alone
        return None
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    custom: dict[str, Callable[..., bool]] | None = None
    if formats:
        custom = {name: functools.partial(_conforms, checker, name) for name in names}
    try:
        validator = jsonschema_rs.validator_for(
            copy.deepcopy(dict(schema)), formats=custom, validate_formats=formats, offline=True
        )
    except Exception:  # noqa: BLE001 - a schema it cannot build is checked by jsonschema alone
        return None

    def check(instance: Any) -> bool:
        try:
            return bool(validator.is_valid(instance))
        except Exception:  # noqa: BLE001 - a value it cannot read (a 20-digit integer...): jsonschema says
            return False

    return check


def _conforms(checker: jsonschema.FormatChecker, name: str, value: Any) -> bool:
    """The format check jsonschema makes (the compiled check calls it for each ``format``)."""
    return checker.conforms(value, name)

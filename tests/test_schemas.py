"""The one validator factory (policy_engine.io.schemas): one cached validator per schema and
options, with the format checker exactly where it always was."""

from __future__ import annotations

import jsonschema
import pytest

from policy_engine.io.schemas import schema_validator


def test_validators_are_built_once() -> None:
    assert schema_validator("state.schema.json", formats=True) is schema_validator("state.schema.json", formats=True)
    assert schema_validator("state.schema.json") is not schema_validator("state.schema.json", formats=True)


def test_every_bundled_schema_is_draft_2020_12() -> None:
    for name in ("state.schema.json", "overlay.schema.json", "coverage.schema.json", "decision-record.schema.json"):
        validator = schema_validator(name)
        assert validator.META_SCHEMA == jsonschema.Draft202012Validator.META_SCHEMA
        assert validator.VALIDATORS["type"] is jsonschema.Draft202012Validator.VALIDATORS["type"]


def test_a_final_dollar_of_a_pattern_is_the_end_of_the_text() -> None:
    """As in ECMA-262: Python's ``$`` also matched before a final line break (decision 019)."""
    validator = schema_validator("overlay.schema.json")
    overlay = {"id": "local", "title": "t", "rulebook": "nhs-2024-25", "date": "2025-01-01"}
    parameters = {"uec.ae-4h-78": {"threshold": {"value": 80, "unit": "percent", "reason": "a reason"}}}
    assert validator.is_valid({"overlay": overlay, "parameters": parameters})
    for field in ("id", "rulebook", "date"):
        assert not validator.is_valid({"overlay": {**overlay, field: overlay[field] + "\n"}, "parameters": parameters})
    assert not validator.is_valid({"overlay": overlay, "parameters": {"uec.ae-4h-78": {"threshold\n": {"value": 80}}}})


def test_formats_are_checked_only_when_asked() -> None:
    checked = schema_validator("decision-record.schema.json", formats=True)
    plain = schema_validator("decision-record.schema.json")
    assert checked.FORMAT_CHECKER is jsonschema.Draft202012Validator.FORMAT_CHECKER
    assert checked.format_checker is not None
    assert plain.format_checker is None


def test_a_definition_validates_against_that_definition() -> None:
    area = schema_validator("rulebook.schema.json", definition="area")
    manifest = schema_validator("rulebook.schema.json", definition="manifest")
    assert area.schema["$ref"] == "#/$defs/area"
    assert manifest.schema["$ref"] == "#/$defs/manifest"
    assert list(area.iter_errors({})) != []
    with pytest.raises(KeyError, match="no definition 'nope'"):
        schema_validator("rulebook.schema.json", definition="nope")

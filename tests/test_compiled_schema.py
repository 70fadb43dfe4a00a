"""The compiled state schema (decision 032) against jsonschema: the same verdict on every state,
and the same errors, listed the same way.

``validate_state`` asks a compiled check (jsonschema-rs) first and runs jsonschema only on the
parts of a state it refuses. These tests hold it to jsonschema's own verdict:

* **differential** — over valid generated states (``policy_engine.testing.strategies.states``)
  and states broken in one to three places (wrong types, unknown fields, missing required
  fields, text that breaks a pattern or a format, numbers out of range, values outside an enum,
  optional fields added with any value), the compiled check of the whole state and of each
  organisation accepts exactly what jsonschema accepts, and ``validate_state`` lists exactly the
  problems it lists when only jsonschema is used;
* **dialect** — the places the Rust validator could read a schema differently: a pattern's ``$``
  before a final line break, ``\\d`` and Unicode digits (ASCII in Rust, so it refuses more: the
  slow path, not a different verdict), calendar dates (29 February, year 0: jsonschema's own
  format checker), integers written as decimals (``5.0``: an integer to the Rust validator, so a
  state holding an integral Decimal is checked by jsonschema), booleans among numbers;
* **the error path** — a state with bad cells in many organisations lists every one of them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data import state as state_module
from policy_engine.data.state import _normalise_numbers, _state_schema, _validator
from policy_engine.io.canonical import canonical_json
from policy_engine.io.schemas import compiled_check
from policy_engine.testing.strategies import states

BOOK = pe.load_rulebook()
ROOT = Path(__file__).resolve().parents[1]
PARTS = _state_schema()
assert PARTS is not None, "the state schema compiles"

# values of every JSON type, and the texts and numbers where the two validators could part
ODD_TEXTS = [
    "",
    " ",
    "x",
    "A" * 21,
    "a" * 301,
    "RA1\n",
    "2025-03\n",
    "2025-03-31\n",
    "٢٠٢٥-٠٣",  # Arabic-Indic digits: \d matches them in Python's re
    "٢٠٢٥-٠٣-٣١",
    "2025-02-29",
    "2024-02-29",
    "2025-02-30",
    "0000-01-01",
    "0000-01",
    "2025-13",
    "2025-1-01",
    "$",
    "a$b",
    "acute_trust",
    "hospital",
    "national",
    "ICB1",
    "Y59",
    "y59",
    "ab",
    "snake_case_name",
    "Bad-Name",
    "\u00e9t\u00e9",
]
ODD_NUMBERS: list[Any] = [
    0,
    1,
    -1,
    10**12,
    10**12 + 1,
    -(10**12) - 1,
    Decimal("1.0"),
    Decimal("2.5"),
    Decimal("-1000000000000.5"),
    Decimal("1000000000000.0"),
    Decimal("0E+3"),
]
JSON_VALUES: list[Any] = [None, True, False, [], {}, ["x"], {"x": 1}, *ODD_NUMBERS, *ODD_TEXTS]
OPTIONAL_FIELDS: dict[str, list[Any]] = {
    # fields the generated states leave out, with valid and invalid values
    "name": ["Trust", "", "n" * 300, "n" * 301, 5],
    "region": ["South East", "", "r" * 101],
    "region_code": ["Y59", "y59", "Y5", "Y590", "Y59\n"],
    "provenance": [
        {"type": {"source": "a.csv:3", "confirmed": False}},
        {"type": {"source": ""}},
        {"name": {"source": "x", "basis": "col B"}},
        {"kind": {"source": "x"}},
        {"type": {"basis": "no source"}},
        {"type": {"source": "x", "confirmed": "no"}},
    ],
    "note": ["a note", "n" * 1001, 3],
    "description": ["words", "d" * 10001],
    "date": ["2025-04-10", "2025-02-30", "2025-4-10"],
    "evidence": ["board paper", "e" * 2001],
    "cohorts": [
        [{"scope": "national", "types": ["acute_trust"], "source": "x"}],
        [{"scope": "regional", "types": ["acute_trust"], "source": "x"}],
        [{"scope": "national", "types": [], "source": "x"}],
        [{"scope": "national", "types": ["icb", "icb"], "source": "x"}],
    ],
    "services": [["type1_ae", "type1_ae"], ["Bad"], ["a" * 64], ["a" * 65]],
}


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every node of a JSON document with its path (the root first)."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nodes(v, (*path, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


@st.composite
def broken(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` changed in one place: a value replaced, a key removed or added, a text spoilt."""
    doc = copy.deepcopy(doc)
    nodes = list(_nodes(doc))
    path, node = draw(st.sampled_from(nodes))
    how = draw(st.sampled_from(["replace", "remove", "add", "optional", "text", "number"]))
    note(f"{how} at {path}")
    if how == "remove" and isinstance(node, dict) and node:
        del node[draw(st.sampled_from(sorted(node)))]
    elif how == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(["extra", "Period", "values", "id", "period", "value", "numerator"]))] = draw(
            st.sampled_from(JSON_VALUES)
        )
    elif how == "optional" and isinstance(node, dict):
        field = draw(st.sampled_from(sorted(OPTIONAL_FIELDS)))
        node[field] = copy.deepcopy(draw(st.sampled_from(OPTIONAL_FIELDS[field])))
    elif how == "text" and isinstance(node, str):
        spoilt = draw(
            st.one_of(
                st.sampled_from(ODD_TEXTS),
                st.sampled_from([node + "\n", node + " ", " " + node, node + "$", node.upper(), node[:-1]]),
                st.text(max_size=8),
            )
        )
        doc = _set(doc, path, spoilt)
    elif how == "number" and isinstance(node, (int, Decimal)) and not isinstance(node, bool):
        doc = _set(doc, path, draw(st.sampled_from(ODD_NUMBERS)))
    else:
        doc = _set(doc, path, draw(st.sampled_from(JSON_VALUES)))
    return doc


@st.composite
def valid_or_broken(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(states(BOOK, max_size=4))
    for _ in range(draw(st.integers(0, 3))):
        doc = draw(broken(doc))
    return doc


def _jsonschema_valid(doc: Any, validator: Any = None) -> bool:
    return not any(True for _ in (validator or _validator()).iter_errors(doc))


def _only_jsonschema(doc: Any) -> list[pe.ErrorDetail]:
    """``validate_state`` as it was before the compiled check: jsonschema on the whole state."""
    with mock.patch.object(state_module, "_state_schema", return_value=None):
        return pe.validate_state(doc, BOOK)


def _assert_agree(raw: Any) -> None:
    """The compiled verdicts are jsonschema's (where the package asks for them: a document whose
    numbers pass and hold no integral Decimal), and validate_state lists what jsonschema lists."""
    errors: list[pe.ErrorDetail] = []
    integral: list[Any] = []
    doc = _normalise_numbers(raw, errors, integral)
    if not errors and not integral:
        assert PARTS is not None
        assert PARTS.whole(doc) == _jsonschema_valid(doc)
        orgs = doc.get("organisations") if isinstance(doc, dict) else None
        for org in orgs if isinstance(orgs, list) else []:
            assert PARTS.organisation(org) == _jsonschema_valid(org, PARTS.organisation_validator)
    assert pe.validate_state(raw, BOOK) == _only_jsonschema(raw)


@settings(max_examples=max(settings().max_examples * 4, 100))
@given(valid_or_broken())
@example({"organisations": "none"})
@example({"organisations": [{"id": "A1", "type": "icb"}], "as_of": "2025-02-29"})
def test_the_compiled_check_agrees_with_jsonschema(doc: dict[str, Any]) -> None:
    _assert_agree(doc)


@given(states(BOOK, max_size=4))
def test_valid_generated_states_pass_the_compiled_check(doc: dict[str, Any]) -> None:
    normalised = _normalise_numbers(doc, [])
    assert PARTS is not None and PARTS.whole(normalised)
    assert pe.validate_state(doc, BOOK) == []


def _org(**fields: Any) -> dict[str, Any]:
    return {"id": "A1", "type": "acute_trust", **fields}


@pytest.mark.parametrize(
    "doc",
    [
        {"organisations": [_org(id="A1\n")]},  # a final "$" is the end of the text, not before "\n"
        {"organisations": [_org(metrics={"m": [{"period": "2025-03\n", "numerator": 1, "denominator": 2}]})]},
        {"organisations": [_org(metrics={"m": [{"period": "٢٠٢٥-٠٣", "numerator": 1, "denominator": 2}]})]},
        {"organisations": [_org()], "as_of": "٢٠٢٥-٠٣-٣١"},
        {"organisations": [_org()], "as_of": "2025-02-29"},
        {"organisations": [_org()], "as_of": "2024-02-29"},
        {"organisations": [_org()], "as_of": "0000-01-01"},
        {"organisations": [_org()], "as_of": "2025-03-31\n"},
        {"organisations": [_org(region_code="Y59\n")]},
        {
            "organisations": [
                _org(metrics={"m": [{"period": "2025-03", "numerator": Decimal("1.0"), "denominator": 2}]})
            ]
        },
        {"organisations": [_org(metrics={"m": [{"period": "2025-03", "numerator": True, "denominator": 2}]})]},
        {"organisations": [_org(metrics={"m": [{"period": "2025-03", "value": True}]})]},
        {"organisations": [_org(metrics={"m": [{"period": "2025-03", "value": Decimal("1E+12")}]})]},
        {"organisations": [_org(metrics={"m": [{"period": "2025-03", "value": Decimal("1.0000000000001E+12")}]})]},
        {"organisations": [_org(metrics={"m": [{"period": "2025-03", "value": 1, "numerator": 1}]})]},
        {"organisations": [_org(metrics={"Bad": []})]},
        {"organisations": [_org(facts=[{"name": "f", "value": None, "date": "2025-01-01"}])]},
        {"organisations": [_org(services=["a", "a"])]},
        {"organisations": [_org(type="icb", extra=1)], "extra": 2},
        {"organisations": [], "cohorts": [{"scope": "national", "types": ["icb"], "source": "x", "date": "2025-9-1"}]},
        {"organisations": [1, "x", None]},
        {"organisations": [_org()] * 2},
    ],
)
def test_the_dialects_agree_where_they_could_part(doc: dict[str, Any]) -> None:
    _assert_agree(doc)


def test_what_could_be_read_differently_is_not_compiled() -> None:
    """A ``$`` before the end of a pattern (the package reads only a final one as the end of the
    text), a class escape Rust reads more widely than Python (``\\S``, ``\\w``...), a keyword the
    tests do not cover: such a schema is left to jsonschema (no compiled check)."""
    assert compiled_check({"type": "string", "pattern": "^a$|^b$"}) is None
    assert compiled_check({"type": "string", "pattern": "^\\S+$"}) is None
    assert compiled_check({"type": "string", "pattern": "^a\\$b$"}) is not None
    assert compiled_check({"type": "string", "pattern": "^\\d{4}$"}) is not None
    assert compiled_check({"prefixItems": [{"type": "string"}]}) is None
    check = compiled_check({"type": "string", "pattern": "^a$"})
    assert check is not None and check("a") and not check("a\n")


def test_a_state_with_an_integral_decimal_is_checked_by_jsonschema() -> None:
    """``5.0`` as a count: an integer to jsonschema-rs, not to jsonschema (which the messages and
    the verdict follow): refused, as before."""
    obs = {"period": "2025-03", "numerator": Decimal("5.0"), "denominator": 6}
    doc = {"organisations": [_org(metrics={"ae_4h_type1": [obs]})]}
    assert PARTS is not None and PARTS.whole(_normalise_numbers(doc, []))  # the Rust verdict alone would pass it
    errors = pe.validate_state(doc, BOOK)
    assert [(d.location[-1], d.message) for d in errors] == [("numerator", "expected integer")]
    assert pe.validate_state(pe.state_from_json(b'{"organisations": []}').to_dict()) == []
    with pytest.raises(pe.StateError, match="expected integer"):
        pe.state_from_json(
            b'{"organisations": [{"id": "A1", "type": "acute_trust", "metrics": {"ae_4h_type1": '
            b'[{"period": "2025-03", "numerator": 5.0, "denominator": 6}]}}]}'
        )


def test_every_bad_cell_of_a_big_state_is_listed() -> None:
    """Bad cells in several organisations of a state the compiled check refuses: each is listed,
    at its path, with jsonschema's message, as when jsonschema checks the whole state."""
    base = pe.load_state(ROOT / "examples" / "state.json").to_dict()
    orgs = []
    for k in range(12):
        for org in base["organisations"]:
            copy_ = copy.deepcopy(org)
            copy_["id"] = f"{org['id']}-{k}"
            for ref in ("parent", "pcn"):
                if ref in copy_:
                    copy_[ref] = f"{copy_[ref]}-{k}"
            orgs.append(copy_)
    doc = {**base, "organisations": orgs}
    spoilt = [(11, "numerator", -1), (95, "denominator", "12"), (104, "period", "2025-3")]
    for i, field, value in spoilt:
        series = next(iter(orgs[i]["metrics"].values()))
        series[0][field] = value
    orgs[63]["colour"] = "blue"
    doc["extra"] = True
    errors = pe.validate_state(doc, BOOK)
    assert errors == _only_jsonschema(doc)
    places = {(d.location[:2], d.location[-1:]) for d in errors}
    for i, field, _ in spoilt:
        assert (("organisations", i), (field,)) in places
    assert any(d.location == ("organisations", 63) and "colour" in d.message for d in errors)
    assert any(d.location == () and "extra" in d.message for d in errors)
    assert len(errors) == 5
    with pytest.raises(pe.StateError) as refused:  # the same, from the text (load_state's path)
        pe.state_from_json(canonical_json(doc))
    assert list(refused.value.details) == pe.validate_state(doc)

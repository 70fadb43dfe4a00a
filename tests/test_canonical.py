"""The one canonical JSON (policy_engine.io.canonical): the digests made with it are today's,
byte for byte, and it is json.dumps's compact sorted form wherever that form is defined."""

from __future__ import annotations

import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import cli
from policy_engine.audit.records import append_log, decision_record
from policy_engine.io.canonical import _encode, canonical_json, readable_json

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"

EXAMPLE_STATE_DIGEST = "0bcf552b100e4ddd67a6ebfec9836f39ffffc3f110a7f3a6a23fd7d1e8cb6893"
"""sha256 of the example state's canonical JSON, as every decision record made of it holds."""


def _compact(value: Any, ascii: bool) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii)


def test_the_example_state_digest_is_unchanged() -> None:
    state = pe.load_state(EXAMPLE)
    assert state.digest == EXAMPLE_STATE_DIGEST
    assert hashlib.sha256(canonical_json(state.document).encode("utf-8")).hexdigest() == EXAMPLE_STATE_DIGEST
    assert state.canonical == canonical_json(json.loads(EXAMPLE.read_text(encoding="utf-8"), parse_float=Decimal))


def test_a_state_given_with_floats_has_the_same_digest() -> None:
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))  # floats, as a Python caller has them
    assert any(isinstance(v, float) for v in _leaves(document))
    assert pe.state_from_dict(document).digest == EXAMPLE_STATE_DIGEST


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


@pytest.mark.parametrize("as_of", ["2024-06-30", "2025-04-30"])
def test_the_outcomes_digest_is_json_dumps_compact_sorted_ascii(as_of: str) -> None:
    evaluation = pe.evaluate(pe.load_state(EXAMPLE), as_of=as_of)
    outcomes = [o.to_dict() for o in evaluation.outcomes]
    for o in outcomes:  # records leave the typed quantity out (docs/decisions/009-typed-evidence.md)
        o["evidence"] = [{k: v for k, v in e.items() if k != "quantity"} for e in o["evidence"]]
    today = hashlib.sha256(_compact(outcomes, ascii=True).encode("utf-8")).hexdigest()
    assert decision_record(evaluation)["outcomes_digest"] == today
    assert canonical_json(outcomes, ascii=True) == _compact(outcomes, ascii=True)
    assert canonical_json(evaluation.to_dict()) == _compact(evaluation.to_dict(), ascii=False)


def test_json_lines_outputs_are_canonical(tmp_path: Path) -> None:
    evaluation = pe.evaluate(pe.load_state(EXAMPLE), as_of="2025-04-30")
    record = decision_record(evaluation)
    log = tmp_path / "audit.jsonl"
    append_log(log, record)  # chained: the first line's prev is zeros (docs/decisions/022-...)
    assert log.read_text(encoding="utf-8") == _compact({**record, "prev": "0" * 64}, ascii=False) + "\n"
    lines = tmp_path / "states.jsonl"
    lines.write_text(EXAMPLE.read_text(encoding="utf-8").replace("\n", " ") + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli.run(["evaluate", str(lines), "--batch", "--as-of", "2025-04-30", "-o", str(out)], io.StringIO()) == 0
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert line == _compact(json.loads(line), ascii=False)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("2.50"), "2.5"),
        (Decimal("1E+2"), "100"),
        (Decimal("-0.000010"), "-0.00001"),
        (1e-05, "1e-05"),  # floats as json.dumps writes them: outcome evidence holds some
        (2.0, "2.0"),
        (8.696625262947762, "8.696625262947762"),
        (10**20, "100000000000000000000"),
        (True, "true"),
        (None, "null"),
        ({"b": [1, "é"], "a": {"z": False}}, '{"a":{"z":false},"b":[1,"é"]}'),
        (("x", 1), '["x",1]'),
    ],
)
def test_canonical_forms(value: Any, text: str) -> None:
    assert canonical_json(value) == text


def test_ascii_escapes_like_json_dumps() -> None:
    value = {"naïve": ["café", "\U0001f600", 'quote " and \\']}
    assert canonical_json(value, ascii=True) == _compact(value, ascii=True)
    assert "\\u00ef" in canonical_json(value, ascii=True)
    assert canonical_json(value) == _compact(value, ascii=False)


def test_readable_json_keeps_numbers_as_given() -> None:
    assert readable_json({"b": Decimal("2.50"), "a": [1e-05, None]}) == '{"a": [1e-05, null], "b": 2.50}'


def test_not_json_data_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serialisable: set"):
        canonical_json({"a": {1, 2}})


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=None)
    | st.sampled_from([Decimal("2.50"), Decimal("1E+2"), Decimal("-0.0"), Decimal("0E-7")])
    | st.text()
    | st.sampled_from(["\x00", "\x000\x00", "\\u0000", '"\\u00000\\u0000"', "\u00e9\U0001f600"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON, st.booleans())
@example({"a": "\x000\x00", "b": Decimal("1.5")}, False)  # a NUL of its own beside a marker
@example(["\x000\x00", Decimal("7")], True)
def test_the_fast_encoder_writes_what_the_python_encoder_writes(value: Any, ascii: bool) -> None:
    """``canonical_json`` (json.dumps's C encoder with markers for Decimals) is ``_encode``'s text."""
    parts: list[str] = []
    _encode(value, parts, False, ascii)
    assert canonical_json(value, ascii=ascii) == "".join(parts)

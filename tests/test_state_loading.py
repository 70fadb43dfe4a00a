"""Loading a state from JSON text fast (issue 19, decision 035) changes nothing a caller can see.

``state_from_json`` and ``load_state`` now read a text with no hook for integers or objects
(``_parse_fast``), tell repeated keys by counting colons, tell the consistency checks' verdict
while freezing (``_frozen``), write ``Observation`` slots directly, make the canonical text an
organisation at a time and walk a refused document only where the schema refuses it. These tests
hold them to the path they replace (kept here as the reference: ``_parse_json`` with every hook,
``validate_state``, the former ``organisations_of`` and the Python canonical encoder):

* **differential** — over valid generated states and states broken in one to three places
  (``test_compiled_schema.valid_or_broken``), each written compactly, with spaces and with
  ``\\uXXXX`` escapes: the same organisations, canonical text and digest, or a StateError with
  the same message and exactly the same problems;
* **what the fast parse gives up on** — a repeated key in the root, an organisation or an
  observation (alone or beside another problem), a colon escaped as ``\\u003a``, a run of more
  than 20 digits in a number or in a text, NaN, an integral decimal: each read, or refused, as
  before;
* **consistency** — each problem ``_frozen`` must not miss (a repeated id, a missing or wrong
  parent or PCN, its own parent, two observations of one month, a fact declared twice, text
  with a line break) gives the same problems as ``validate_state``;
* **representation** — the frozen values are as immutable as before, observations equal, hash
  and print as the constructor's, the collector is left as it was found, and the example's and
  a (scaled) national state's digests are those of the reference.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import importlib.util
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.data.state import (
    Fact,
    Observation,
    Organisation,
    Provenance,
    _normalise_numbers,
    _parse_json,
    _to_fraction,
    organisations_of,
)
from policy_engine.io.canonical import _encode, canonical_json
from policy_engine.language.months import parse_date, parse_month
from policy_engine.testing.strategies import states

ROOT = Path(__file__).resolve().parents[1]
BOOK = pe.load_rulebook()
EXAMPLE = ROOT / "examples" / "state.json"
EXAMPLE_DIGEST = "0bcf552b100e4ddd67a6ebfec9836f39ffffc3f110a7f3a6a23fd7d1e8cb6893"  # as test_canonical's


def _module(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


valid_or_broken = _module("compiled_schema_cases", ROOT / "tests" / "test_compiled_schema.py").valid_or_broken


# --------------------------------------------------------------------------- the reference


def _reference_organisations(doc: dict[str, Any]) -> list[Organisation]:
    """``organisations_of`` as it was before decision 035 (attrs' constructors throughout)."""
    orgs: list[Organisation] = []
    for org in doc["organisations"]:
        metrics: dict[str, dict[int, Observation]] = {}
        for mname, series in org.get("metrics", {}).items():
            obs_map: dict[int, Observation] = {}
            for obs in series:
                month = parse_month(obs["period"])
                if "value" in obs:
                    obs_map[month] = Observation(month, value=_to_fraction(obs["value"]))
                else:
                    obs_map[month] = Observation(month, int(obs["numerator"]), int(obs["denominator"]))
            metrics[mname] = obs_map
        facts = []
        for f in org.get("facts", []):
            value = f["value"]
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                value = _to_fraction(value)
            facts.append(Fact(f["name"], value, parse_date(f["date"]), f.get("evidence")))
        services = org.get("services")
        orgs.append(
            Organisation(
                id=org["id"],
                type=org["type"],
                name=org.get("name"),
                parent=org.get("parent"),
                pcn=org.get("pcn"),
                region=org.get("region"),
                services=frozenset(services) if services is not None else None,
                metrics=metrics,
                facts=tuple(facts),
                region_code=org.get("region_code"),
                provenance={
                    key: Provenance(p["source"], p.get("basis"), p.get("confirmed", True))
                    for key, p in org.get("provenance", {}).items()
                },
            )
        )
    return orgs


def _reference(text: str | bytes) -> tuple[Any, ...]:
    """What the full path makes of ``text``: ("state", organisations, canonical, digest), or
    ("refused", message, problems)."""
    try:
        doc = _parse_json(text, "state")
    except pe.StateError as exc:
        return ("refused", exc.summary, exc.details)
    problems = pe.validate_state(doc)
    if problems:
        n = len(problems)
        return ("refused", f"the state is invalid ({n} problem{'s' if n != 1 else ''})", tuple(problems))
    normal = _normalise_numbers(doc, [])
    parts: list[str] = []
    _encode(normal, parts, False, False)  # the Python encoder: the canonical text by definition
    canonical = "".join(parts)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return ("state", tuple(_reference_organisations(normal)), canonical, digest)


def _loaded(text: str | bytes) -> tuple[Any, ...]:
    """What ``state_from_json`` makes of ``text``, in ``_reference``'s terms."""
    try:
        state = pe.state_from_json(text)
    except pe.StateError as exc:
        return ("refused", exc.summary, tuple(exc.details))
    assert state.digest == hashlib.sha256(state.canonical.encode("utf-8")).hexdigest()
    return ("state", state.organisations, state.canonical, state.digest)


def _same(text: str | bytes) -> None:
    assert _loaded(text) == _reference(text)


def _texts(doc: dict[str, Any]) -> list[str]:
    """``doc`` written three ways: compact, with spaces (numbers as given), non-ASCII escaped."""
    return [canonical_json(doc), _readable(doc), canonical_json(doc, ascii=True)]


def _readable(doc: Any) -> str:
    parts: list[str] = []
    _encode(doc, parts, True, False)
    return "".join(parts)


# --------------------------------------------------------------------------- differential


@given(valid_or_broken())
def test_a_text_loads_as_the_full_path_loads_it(doc: dict[str, Any]) -> None:
    for text in _texts(doc):
        _same(text)


@given(states(BOOK, max_size=4))
def test_a_valid_state_is_frozen_as_before(doc: dict[str, Any]) -> None:
    text = canonical_json(doc)
    loaded, reference = _loaded(text), _reference(text)
    assert loaded[0] == "state" and loaded == reference
    assert pe.state_from_dict(doc).digest == loaded[3]
    assert organisations_of(_normalise_numbers(doc, [])) == _reference_organisations(_normalise_numbers(doc, []))


@given(states(BOOK, max_size=3), st.sampled_from(["root", "organisation", "observation", "fact"]), st.booleans())
def test_a_repeated_key_is_refused_as_before(doc: dict[str, Any], where: str, also_bad: bool) -> None:
    if also_bad:  # a second problem, which the repeated key is reported before
        doc["organisations"][-1]["type"] = "hospital"
    text = canonical_json(doc)
    marker = {
        "root": ('{"', '{"organisations":[],"'),
        "organisation": ('"organisations":[{"', '"organisations":[{"type":"icb","'),
        "observation": ('"period":', '"period":"2024-01","period":'),
        "fact": ('"name":', '"name":"x","name":'),
    }[where]
    if marker[0] not in text:
        return
    repeated = text.replace(marker[0], marker[1], 1)
    outcome = _loaded(repeated)
    assert outcome == _reference(repeated)
    assert outcome[0] == "refused" and "duplicate key" in outcome[2][0].message


# --------------------------------------------------------------------------- what the fast parse gives up on


def _example_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"), parse_float=Decimal)
    return doc


def _with_fact_value(value: Any) -> dict[str, Any]:
    doc = _example_doc()
    doc["organisations"][0]["facts"][0] = {"name": "n", "value": value, "date": "2025-01-01"}
    return doc


@pytest.mark.parametrize(
    "text",
    [
        # a colon escaped: counted by neither side, read the full way
        canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"a\\u003ab ', 1),
        canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"\\u003A', 1),
        # an escaped colon beside a repeated key
        canonical_json(_example_doc())
        .replace('"evidence":"', '"evidence":"\\u003a', 1)
        .replace('"period":', '"period":"2024-01","period":', 1),
        # more than 20 digits: in a number (beyond the limits), in a text (fine), 21 with a sign
        canonical_json(_with_fact_value(10**25)),
        canonical_json(_with_fact_value(-(10**19))),
        canonical_json(_with_fact_value(-(10**20) + 1)),
        canonical_json(_with_fact_value(10**20)),
        '{"organisations":[{"id":"A","type":"icb","facts":[{"name":"n","date":"2025-01-01","value":'
        + "9" * 5000
        + "}]}]}",
        canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"' + "1" * 30, 1),
        # numbers the hooks note: NaN, an integral decimal, a long fraction, an exponent
        canonical_json(_example_doc()).replace('"value":true', '"value":NaN', 1),
        canonical_json(_with_fact_value(Decimal("5.0"))).replace('"value":5', '"value":5.0', 1),
        canonical_json(_with_fact_value(Decimal("0." + "1" * 40))),
        canonical_json(_with_fact_value(1)).replace('"value":1', '"value":1E+2', 1),
        # a lone surrogate escaped, a text with a NUL, a BOM, not JSON, not UTF-8, nested deeply
        canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"\\udfff', 1),
        canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"\\u0000', 1),
        "\ufeff" + canonical_json(_example_doc()),
        canonical_json(_example_doc())[:-1],
        b'{"organisations":[{"id":"\xff","type":"icb"}]}',
        '{"organisations":[],"description":' + "[" * 70 + "]" * 70 + "}",
        '{"organisations":[{"id":"A","type":"icb","facts":' + "[" * 70 + "]" * 70 + "}]}",
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_what_the_fast_parse_gives_up_on_is_read_as_before(text: str | bytes) -> None:
    _same(text)


# --------------------------------------------------------------------------- consistency


def _linked() -> dict[str, Any]:
    """The example with a practice in a PCN of its ICB."""
    doc = _example_doc()
    icb = next(o["id"] for o in doc["organisations"] if o["type"] == "icb")
    doc["organisations"].append({"id": "PCN1", "type": "pcn", "parent": icb})
    doc["organisations"].append({"id": "GP1", "type": "gp_practice", "parent": icb, "pcn": "PCN1"})
    return doc


def _spoil(doc: dict[str, Any], how: str) -> dict[str, Any]:
    orgs = doc["organisations"]
    with_metrics = next(o for o in orgs if o.get("metrics"))
    with_facts = next(o for o in orgs if o.get("facts"))
    series = next(iter(with_metrics["metrics"].values()))
    if how == "repeated id":
        orgs[1]["id"] = orgs[0]["id"]
    elif how == "missing parent":
        orgs[-1]["parent"] = "NOWHERE"
    elif how == "parent of the wrong type":
        orgs[-1]["parent"] = "PCN1"
    elif how == "its own parent":
        orgs[-2]["parent"] = "PCN1"
    elif how == "pcn of the wrong type":
        orgs[-1]["pcn"] = orgs[-1]["parent"]
    elif how == "its own pcn":
        orgs[-2]["pcn"] = "PCN1"
    elif how == "two observations of a month":
        series.append(dict(series[0]))
    elif how == "a fact declared twice":
        with_facts["facts"].append(dict(with_facts["facts"][0]))
    elif how == "year 0000":
        series[0]["period"] = "0000-03"
    elif how == "a line break in an id":
        orgs[0]["id"] = orgs[0]["id"] + "\n"
    elif how == "a space in a period":
        series[0]["period"] = series[0]["period"] + " "
    elif how == "a space in a fact's date":
        with_facts["facts"][0]["date"] = " " + with_facts["facts"][0]["date"]
    elif how == "a line break in as_of":
        doc["as_of"] = doc["as_of"] + "\n"
    return doc


@pytest.mark.parametrize(
    "how",
    [
        "none",
        "repeated id",
        "missing parent",
        "parent of the wrong type",
        "its own parent",
        "pcn of the wrong type",
        "its own pcn",
        "two observations of a month",
        "a fact declared twice",
        "year 0000",
        "a line break in an id",
        "a space in a period",
        "a space in a fact's date",
        "a line break in as_of",
    ],
)
def test_a_consistency_problem_is_listed_as_before(how: str) -> None:
    text = canonical_json(_spoil(_linked(), how))
    outcome = _loaded(text)
    assert outcome == _reference(text)
    assert outcome[0] == ("state" if how == "none" else "refused")


# --------------------------------------------------------------------------- representation


def test_the_example_and_a_national_state_keep_their_digests(tmp_path: Path) -> None:
    state = pe.load_state(EXAMPLE)
    assert state.digest == EXAMPLE_DIGEST == _reference(EXAMPLE.read_bytes())[3]
    bench = _module("bench_national_for_digest", ROOT / "benchmarks" / "bench_national.py")
    path = tmp_path / "national.json"
    bench.write_state(path, scale=0.01)
    loaded, reference = pe.load_state(path), _reference(path.read_bytes())
    assert (loaded.organisations, loaded.canonical, loaded.digest) == reference[1:]
    assert len(loaded.organisations) > 70


def test_frozen_values_stay_immutable_and_equal_to_constructed_ones() -> None:
    state = pe.load_state(EXAMPLE)
    org = next(o for o in state.organisations if o.metrics)
    assert isinstance(org.metrics, MappingProxyType)
    series = next(iter(org.metrics.values()))
    assert isinstance(series, MappingProxyType)
    month, obs = next(iter(series.items()))
    with pytest.raises(TypeError):
        series[month] = obs  # type: ignore[index,unused-ignore]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        obs.numerator = 1
    made = Observation(obs.month, obs.numerator, obs.denominator, obs.value)
    assert (obs == made, hash(obs) == hash(made), repr(obs) == repr(made), type(obs)) == (True, True, True, Observation)
    assert obs.period == made.period and month == obs.month
    values = [x for o in state.organisations for s in o.metrics.values() for x in s.values() if x.value is not None]
    assert values and all(isinstance(x.value, Fraction) and x.numerator is None for x in values)
    assert all(isinstance(f.date, dt.date) for o in state.organisations for f in o.facts)


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("text", [EXAMPLE.read_text(encoding="utf-8"), '{"organisations": 1}', "{"])
def test_the_collector_is_left_as_it_was_found(enabled: bool, text: str) -> None:
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        try:
            pe.state_from_json(text)
        except pe.StateError:
            pass
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


@given(valid_or_broken())
def test_canonical_json_of_a_tree_is_the_same_without_the_circular_check(doc: dict[str, Any]) -> None:
    normal = _normalise_numbers(doc, [])
    assert canonical_json(normal, acyclic=True) == canonical_json(normal)
    assert canonical_json(normal, acyclic=True, ascii=True) == canonical_json(normal, ascii=True)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        (canonical_json(_example_doc()), True),
        (_readable(_example_doc()), True),
        (canonical_json(_spoil(_linked(), "its own pcn")), True),  # refused by the consistency checks
        (canonical_json(_with_fact_value([1])), True),  # refused by the schema
        (canonical_json(_example_doc()).replace('"period":', '"period":"2024-01","period":', 1), False),
        (canonical_json(_with_fact_value(10**25)), False),
        (canonical_json(_example_doc()).replace('"evidence":"', '"evidence":"\\u003a', 1), False),
    ],
)
def test_the_differential_tests_reach_the_fast_path(text: str, fast: bool) -> None:
    """The differential tests above are about the fast path: it is the one taken (``_parse_json``
    not called) for a regular text, valid or refused, and given up on where it must be."""
    from unittest import mock

    from policy_engine.data import state as state_module

    with mock.patch.object(state_module, "_parse_json", wraps=state_module._parse_json) as full:
        _loaded(text)
    assert full.called is not fast

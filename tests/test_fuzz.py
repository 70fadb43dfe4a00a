"""Hypothesis-driven fuzzing of the three parsers that take untrusted text: the expression parser,
the rulebook loader and the state loader. Only PolicyError (or, for the bare expression parser,
ParseError) may come out, and nothing may hang or recurse without bound.

Run briefly in CI (six times the Hypothesis profile's examples: the inputs are cheap; 150 under
``ci``, 6,000 under ``deep``); at length with ``POLICY_ENGINE_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py``.
Crashes found and fixed are kept below as explicit ``@example``s.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.language.checker import CheckContext, CheckError, check
from policy_engine.language.parser import ParseError, parse

N = int(os.environ.get("POLICY_ENGINE_FUZZ_EXAMPLES") or 6 * settings().max_examples)
FUZZ = settings(
    max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
BOOK = pe.load_rulebook()
TOKENS = [
    "pct(",
    "ae_4h_all",
    ",",
    "mar_2025",
    ")",
    ">=",
    "param.threshold",
    "and",
    "or",
    "not",
    "(",
    "-",
    "1",
    "2.5",
    '"x"',
    "outcome(",
    '"uec.ae-4h-78"',
    "==",
    "rank(",
    "fact(",
    "__class__",
    ".",
    "*",
    "/",
    "true",
    "date(",
    '"2024-02-30"',
    "as_of",
    "deadline",
]


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)))
@example("(" * 5000)
@example("-" * 5000 + "1")
@example("not " * 3000 + "true")
@example("1" + " + 1" * 1500)
def test_expression_parser_and_checker(text: str) -> None:
    rule = BOOK.rule("uec.ae-4h-78")
    ctx = CheckContext(
        BOOK.metrics,
        BOOK.facts,
        frozenset(BOOK.services),
        BOOK.periods,
        rule.parameters,
        {r.id: r.applies_to for r in BOOK.rules},
        rule.applies_to,
        has_deadline=True,
    )
    try:
        node = parse(text)
    except ParseError:
        return
    try:
        check(node, ctx)
    except CheckError:
        pass


@pytest.fixture(scope="module")
def mini_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("book")
    src = policies_root() / "nhs-2024-25"
    (root / "rulebook.yaml").write_bytes((src / "rulebook.yaml").read_bytes())
    shutil.copytree(str(src / "sources"), root / "sources")
    return root


AREA = (policies_root() / "nhs-2024-25" / "urgent-emergency-care.yaml").read_text(encoding="utf-8")[:6000]


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    text = AREA
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(
            st.sampled_from(
                [
                    ":",
                    "-",
                    " ",
                    "\n",
                    "&a",
                    "*a",
                    "!!python/object/apply:os.system ['true']",
                    "[",
                    "{",
                    "'",
                    '"',
                    "\t",
                    "\x00",
                    "é",
                    "1e309",
                    "<<: *a",
                ]
            )
        )
        if op == "insert":
            text = text[:i] + chunk + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)) :]
        else:
            text = text[:i] + chunk + text[i + len(chunk) :]
    return text


@FUZZ
@given(mutated_yaml())
@example("a: &x [1]\nb: *x\n")
@example("!!python/object/apply:os.system ['echo pwned']\n")
def test_rulebook_loader(mini_book: Path, text: str) -> None:
    area = mini_book / "urgent-emergency-care.yaml"
    area.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        pe.load_rulebook(mini_book)
    except pe.RulebookError:
        pass
    finally:
        area.unlink()


VALID = json.dumps(
    {
        "as_of": "2025-04-20",
        "organisations": [
            {
                "id": "RA1",
                "type": "acute_trust",
                "services": ["type1_ae"],
                "metrics": {"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]},
                "facts": [{"name": "sdec_hours_per_day", "value": 12, "date": "2024-05-01"}],
            }
        ],
    }
).encode()


@st.composite
def mutated_json(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data)))
        data[i : i + draw(st.integers(0, 3))] = draw(st.binary(max_size=4))
    return bytes(data)


@FUZZ
@given(st.one_of(mutated_json(), st.binary(max_size=300)))
@example(b"[" * 100000)
@example(b'{"organisations": [], "as_of": "2025-04-20", "as_of": "2025-04-21"}')
@example(
    b'{"organisations": [{"id": "A", "type": "icb", "metrics": {"ae_4h_all": [{"period": "2025-03",'
    b' "numerator": 1e400, "denominator": 1}]}}]}'
)
def test_state_loader(data: bytes) -> None:
    try:
        state = pe.state_from_json(data)
    except pe.StateError:
        return
    try:
        pe.evaluate(state, BOOK, as_of="2025-04-20", backend="native")
    except pe.PolicyError:
        pass

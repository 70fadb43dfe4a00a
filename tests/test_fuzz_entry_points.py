"""A fuzz target per entry point that reads a file: states, overlays, scenario files, tables,
importer files (statistics and reference files) and decision records. Each target mutates the seeds
kept in ``tests/fuzz-corpus/<target>/`` and checks:

* only ``PolicyError`` comes out (the CLI's "internal error" is never reached);
* a record that no longer says what it said does not verify.

The expression parser, the rulebook loader and the state loader have generated-input targets of
their own in ``tests/test_fuzz.py``. Every target runs for the Hypothesis profile's examples (25
under ``ci``), or at length with ``POLICY_ENGINE_FUZZ_EXAMPLES=5000``. A crash found is fixed and
its input added to the corpus, so the seeds hold both typical and once-crashing inputs.
"""

from __future__ import annotations

import io
import json
import os
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.audit.records import verify_record
from policy_engine.cli import run

CORPUS = Path(__file__).parent / "fuzz-corpus"
N = int(os.environ.get("POLICY_ENGINE_FUZZ_EXAMPLES") or settings().max_examples)
FUZZ = settings(
    max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

HOSTILE = [
    b"1e999999999",
    b"1e-999999999",
    b"1" * 5000,
    b"\\udfff",
    b"\xed\xbf\xbf",  # a lone surrogate, as UTF-8 bytes
    b"\x00",
    b"\x1b[2J",
    b"0000-01",
    b"2025-02-30",
    b"NaN",
    b"-1",
    b'"',
    b"'",
    b",",
    b"\n",
    b"\r\n",
    b"&a [*a, *a, *a]",
    b"*a",
    b"!!python/object/apply:os.system ['true']",
    b"{" * 200,
    b"[" * 200,
    b"<script>",
    b"\xff\xfe",
    b"TOTAL",
    b"acute_trust",
    b"\t",
]


def _seeds(target: str) -> list[Path]:
    return sorted(p for p in (CORPUS / target).iterdir() if p.is_file())


@st.composite
def mutated(draw: st.DrawFn, target: str) -> tuple[Path, bytes]:
    """A seed of ``target`` with a few byte-level mutations (insert, delete, replace, duplicate)."""
    seed = draw(st.sampled_from(_seeds(target)))
    data = bytearray(seed.read_bytes())
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "bytes"]))
        if op == "insert":
            data[i:i] = draw(st.sampled_from(HOSTILE))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "replace":
            chunk = draw(st.sampled_from(HOSTILE))
            data[i : i + len(chunk)] = chunk
        elif op == "duplicate":
            data[i:i] = data[i : i + draw(st.integers(1, 200))]
        else:
            data[i : i + draw(st.integers(0, 3))] = draw(st.binary(max_size=4))
    return seed, bytes(data)


@cache
def _book() -> pe.Rulebook:
    return pe.load_rulebook()


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    assert "internal error" not in err.getvalue(), err.getvalue()
    return code, err.getvalue()


def test_every_target_has_seeds() -> None:
    targets = {"state", "overlay", "scenario", "table", "importer", "record"}
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} == targets
    assert all(_seeds(t) for t in targets)


@FUZZ
@given(mutated("state"))
def test_state_files(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(case[1])
    try:
        state = pe.load_state(path)
        pe.evaluate(state, _book(), backend="native")
    except pe.PolicyError:
        pass
    _cli("validate", str(path))


@FUZZ
@given(mutated("overlay"))
def test_overlay_files(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    from policy_engine.rulebook.overlay import apply_overlay

    path = tmp_path / "overlay.yaml"
    path.write_bytes(case[1])
    try:
        apply_overlay(_book(), path)
    except pe.PolicyError:
        pass


@FUZZ
@given(mutated("scenario"))
def test_scenario_files(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    from policy_engine.testing import load_scenarios

    path = tmp_path / "scenario.yaml"
    path.write_bytes(case[1])
    try:
        load_scenarios(path)
    except pe.PolicyError:
        pass


@FUZZ
@given(mutated("table"))
def test_table_files(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    pytest.importorskip("polars", reason="the tables extra is not installed")
    from policy_engine.tabular import evaluate_table

    path, out = tmp_path / "rows.csv", tmp_path / "out.jsonl"
    path.write_bytes(case[1])
    out.unlink(missing_ok=True)  # tmp_path is shared by the examples
    try:
        evaluate_table(path, out, _book())
    except pe.PolicyError:
        assert not out.exists()  # nothing written when it fails


@FUZZ
@given(mutated("importer"))
def test_importer_files(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    from policy_engine.importers import import_files, read_reference

    seed, data = case
    path = tmp_path / seed.name
    path.write_bytes(data)
    try:
        if seed.name.startswith("reference"):
            read_reference(path)
        else:
            import_files("auto", [path], rulebook=_book())
    except pe.PolicyError:
        pass


_RECORD_STATE = CORPUS / "state" / "icb-and-trust.json"


@FUZZ
@given(mutated("record"))
def test_decision_records(tmp_path: Path, case: tuple[Path, bytes]) -> None:
    seed, data = case
    original = json.loads(seed.read_bytes())
    state = pe.load_state(_RECORD_STATE)
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        record = None
    if record is not None:
        try:
            check = verify_record(record, state, _book())
        except pe.PolicyError:
            pass
        else:
            if record != original:
                assert not check.ok, "a record that no longer says what it said verified as good"
    path = tmp_path / "record.json"
    path.write_bytes(data)
    _cli("verify-record", str(path), str(_RECORD_STATE))

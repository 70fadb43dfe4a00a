"""Streamed evaluation (``engine.evaluate_stream``, ``evaluate -o``): the same text as
``Evaluation.to_json()`` byte for byte, the same decision record, in memory that does not grow with
the number of organisations (docs/decisions/024-streamed-evaluation.md)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.audit.records import decision_record
from policy_engine.cli import run as cli
from policy_engine.engine import available_backends, evaluate_stream
from policy_engine.testing.strategies import states

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from big_state import big_state  # noqa: E402

BOOK = pe.load_rulebook()
STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
BACKENDS = available_backends()


def streamed(state: Any, backend: str, **kw: Any) -> str:
    sink = io.StringIO()
    evaluate_stream(state, BOOK, backend=backend, evaluated_at=STAMP).write_json(sink, **kw)
    return sink.getvalue()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [None, 200], ids=["example", "200-organisations"])
def test_streamed_text_is_to_json_byte_for_byte(backend: str, n: int | None) -> None:
    state = pe.load_state(ROOT / "examples" / "state.json") if n is None else pe.state_from_dict(big_state(n), BOOK)
    whole = pe.evaluate(state, BOOK, backend=backend, evaluated_at=STAMP)
    assert streamed(state, backend) == whole.to_json()
    assert len(whole.outcomes) > (0 if n is None else 5000)  # every organisation had outcomes to write


@settings(deadline=None)
@given(states(BOOK, max_size=8), st.sampled_from(BACKENDS))
def test_streamed_equals_evaluate_on_generated_states(doc: dict[str, Any], backend: str) -> None:
    state = pe.state_from_dict(doc, BOOK)
    whole = pe.evaluate(state, BOOK, backend=backend, evaluated_at=STAMP)
    stream = evaluate_stream(state, BOOK, backend=backend, evaluated_at=STAMP)
    per_org = list(stream)
    assert [o for outcomes in per_org for o in outcomes] == list(whole.outcomes)
    assert all(len({o.org_id for o in outcomes}) == 1 for outcomes in per_org)
    assert list(stream.trace()) == list(whole.trace)
    assert stream.counts() == whole.counts()
    assert stream.record == whole.record


@settings(deadline=None)
@given(states(BOOK, min_size=2, max_size=6), st.data())
def test_filtered_stream_is_the_filtered_evaluation(doc: dict[str, Any], data: st.DataObject) -> None:
    """``select`` (``evaluate --org/--status``) keeps what ``find`` keeps; the summary counts those."""
    state = pe.state_from_dict(doc, BOOK)
    whole = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    orgs = set(data.draw(st.lists(st.sampled_from([o["id"] for o in doc["organisations"]]), min_size=1)))
    statuses = set(data.draw(st.lists(st.sampled_from(pe.STATUSES), min_size=1)))
    import attrs

    expected = attrs.evolve(whole, outcomes=tuple(whole.find(org_id=orgs, status=statuses))).to_json()
    assert streamed(state, "native", select=lambda o: o.org_id in orgs and o.status in statuses) == expected


def test_a_stream_is_read_once_and_its_trace_only_at_the_end() -> None:
    state = pe.load_state(ROOT / "examples" / "state.json")
    stream = evaluate_stream(state, BOOK, backend="native")
    with pytest.raises(pe.EngineError, match="known once every organisation is evaluated"):
        stream.counts()
    list(stream)
    with pytest.raises(pe.EngineError, match="read once"):
        list(stream)
    assert sum(stream.counts().values()) == len(list(stream.trace()))


def test_invalid_input_is_refused_before_anything_is_written() -> None:
    with pytest.raises(pe.StateError):
        evaluate_stream({"organisations": []}, BOOK)  # no as_of
    with pytest.raises(pe.EngineError, match="unknown backend"):
        evaluate_stream(pe.load_state(ROOT / "examples" / "state.json"), BOOK, backend="nope")


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_output_and_decision_record_are_unchanged(backend: str, tmp_path: Path) -> None:
    """``evaluate -o --record --log`` (streamed) writes what the whole Evaluation gives."""
    path = tmp_path / "state.json"
    path.write_text(json.dumps(big_state(30)), encoding="utf-8")
    out, rec, log = tmp_path / "out.json", tmp_path / "rec.json", tmp_path / "log.jsonl"
    argv = ["evaluate", str(path), "--backend", backend, "-o", str(out), "--record", str(rec), "--log", str(log)]
    assert cli(argv, io.StringIO(), io.StringIO()) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    stamp = dt.datetime.fromisoformat(written["record"]["evaluated_at"])
    whole = pe.evaluate(pe.load_state(path), BOOK, backend=backend, evaluated_at=stamp)
    assert out.read_text(encoding="utf-8") == whole.to_json() + "\n"
    record = decision_record(whole)
    assert json.loads(rec.read_text(encoding="utf-8")) == record
    line = json.loads(log.read_text(encoding="utf-8"))
    assert line.pop("prev") == "0" * 64  # the log's hash chain (decision 022): its first line
    assert line == record


def _peak_streaming(n: int) -> int:
    """Peak traced bytes of streaming the evaluation of ``n`` organisations to a sink that keeps
    nothing (the state is loaded and checked against the rulebook before tracing starts)."""
    state = pe.state_from_dict(big_state(n, slim=True), BOOK)

    class Null(io.TextIOBase):
        def write(self, text: str) -> int:
            return len(text)

    stream = evaluate_stream(state, BOOK, backend="native", evaluated_at=STAMP)  # validated here
    tracemalloc.start()
    try:
        stream.write_json(Null())  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peaks_in_a_fresh_process(*sizes: int) -> list[int]:
    """``_peak_streaming`` of each size, measured in a new interpreter: the JSON encoder's
    indented output leaves reference cycles (the closures of ``json.encoder._make_iterencode``),
    which a process with a large heap (a test worker after other tests) collects later, so the
    peak there depends on what ran before (2.6 MB instead of 1.5 MB for 1,000 organisations)."""
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('stream_test', {str(Path(__file__))!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        f"print(*[module._peak_streaming(n) for n in {list(sizes)!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [int(x) for x in done.stdout.split()]


@pytest.mark.slow
def test_memory_grows_sub_linearly_with_organisations() -> None:
    """Ten times the organisations: far less than ten times the peak memory. The whole evaluation
    grew by about 1.2 MB an organisation of the example (its outcomes, their dictionaries and the
    text); streamed, what grows is the trace's index and the cohort's values, under 2 KB each."""
    small, large = _peaks_in_a_fresh_process(100, 1000)
    assert large < 3 * small, (small, large)
    assert (large - small) / 900 < 2000, (small, large)

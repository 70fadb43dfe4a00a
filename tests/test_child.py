"""A function called in a fresh Python process (policy_engine.io.child), and what uses it: a table
evaluated in a child process under an address-space limit (decision 031), and an extra that cannot
load under one. The limit itself is faked here (the real one: tests/test_files.py)."""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_engine import _extras
from policy_engine.errors import EngineError, ErrorCode, ErrorDetail, PolicyError, StateError
from policy_engine.io.child import ChildDied, call_in_child
from policy_engine.io.files import TEMP_PREFIX, remove_temporaries_of

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the child runner is POSIX only")

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"

_HELPER = """
import os, sys, threading

def echo(send, x):
    send("first")
    send({"second": x})
    return {"x": x, "pid": os.getpid()}

def fail(send):
    from policy_engine.errors import ErrorDetail, StateError
    raise StateError("bad table", [ErrorDetail("t.csv", "not a number", "x", code="table.cell", line=3)])

def abort(send):
    sys.stderr.write("memory allocation of 8 bytes failed\\n")
    sys.stderr.flush()
    os.abort()

def interrupt(send):
    raise KeyboardInterrupt

class Odd(Exception):
    def __init__(self, a, b):
        super().__init__(a)
        self.lock = threading.Lock()

def odd(send):
    raise Odd(1, 2)

def chatty(send):
    print("to stdout")
    return "done"
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of child functions, on the sys.path that the child is given."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "child_helper.py").write_text(_HELPER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    return "child_helper"


def test_the_result_and_the_messages_come_back_and_the_child_has_ended(helper: str) -> None:
    messages: list[Any] = []
    ended: list[int] = []
    result = call_in_child(f"{helper}:echo", (41,), messages.append, ended.append)
    assert result["x"] == 41 and result["pid"] != os.getpid()
    assert messages == ["first", {"second": 41}]
    assert ended == [result["pid"]]
    with pytest.raises(ProcessLookupError):  # waited for: no such process any more
        os.kill(result["pid"], 0)


def test_a_policy_error_in_the_child_arrives_whole(helper: str) -> None:
    with pytest.raises(StateError) as caught:
        call_in_child(f"{helper}:fail", ())
    assert caught.value.summary == "bad table"
    assert caught.value.details == (ErrorDetail("t.csv", "not a number", "x", code="table.cell", line=3),)


def test_a_child_that_aborts_is_child_died_with_its_signal_and_stderr(helper: str) -> None:
    ended: list[int] = []
    with pytest.raises(ChildDied) as caught:
        call_in_child(f"{helper}:abort", (), None, ended.append)
    died = caught.value
    assert (died.signal, died.returncode, died.stopped) == ("SIGABRT", -signal.SIGABRT, None)
    assert "memory allocation of 8 bytes failed" in died.stderr
    assert ended == [died.pid]
    assert str(died) == f"the child process {died.pid} was killed by SIGABRT without a result"


def test_a_child_stopped_by_a_base_exception_is_child_died(helper: str) -> None:
    with pytest.raises(ChildDied) as caught:
        call_in_child(f"{helper}:interrupt", ())
    assert caught.value.stopped == "KeyboardInterrupt" and caught.value.how == "was stopped by KeyboardInterrupt"


def test_an_exception_that_does_not_pickle_is_an_internal_engine_error(helper: str) -> None:
    with pytest.raises(EngineError) as caught:
        call_in_child(f"{helper}:odd", ())
    (detail,) = caught.value.details
    assert detail.code == ErrorCode.ENGINE_INTERNAL and detail.message.startswith("Odd: 1")


def test_the_childs_prints_do_not_corrupt_its_replies(helper: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert call_in_child(f"{helper}:chatty", ()) == "done"
    assert "to stdout" in capfd.readouterr().err  # sent to its stderr, and passed on


def test_policy_errors_pickle_with_their_details_whatever_their_init() -> None:
    missing = _extras.MissingExtraError("the thing", "tables", ("polars",))
    again = pickle.loads(pickle.dumps(missing))
    assert type(again) is _extras.MissingExtraError
    assert (str(again), again.extra, again.missing, again.command, again.name) == (
        str(missing),
        "tables",
        ("polars",),
        missing.command,
        "polars",
    )
    error = StateError("bad", [ErrorDetail("s", "m", "v", code=ErrorCode.STATE_VALUE)])
    assert pickle.loads(pickle.dumps(error)).details == error.details


def test_remove_temporaries_of_removes_only_that_processs_files(tmp_path: Path) -> None:
    mine = tmp_path / f"{TEMP_PREFIX}4242-abc.tmp"
    other = tmp_path / f"{TEMP_PREFIX}4243-abc.tmp"
    unlike = tmp_path / f"{TEMP_PREFIX}4242-abc.partial"
    for path in (mine, other, unlike):
        path.write_text("x", encoding="utf-8")
    assert remove_temporaries_of(tmp_path / "out.parquet", 4242) == [mine.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, unlike.name])
    assert remove_temporaries_of(tmp_path / "missing" / "out.parquet", 4242) == []


# --------------------------------------------------------------------------- an extra under a limit


def test_an_extra_that_fails_to_import_under_a_limit_is_an_extra_memory_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_extras, "address_space_limit", lambda: 512 * 2**20)
    with pytest.raises(_extras.ExtraMemoryError) as caught:
        with _extras.require("tables", feature="the table API (policy_engine.tabular)"):
            raise ImportError("libarrow.so: failed to map segment from shared object")
    assert isinstance(caught.value, EngineError) and isinstance(caught.value, ImportError)
    assert caught.value.summary == "the table API (policy_engine.tabular) could not be loaded under the memory limit"
    (detail,) = caught.value.details
    assert (detail.code, detail.subject, detail.value) == (
        ErrorCode.ENGINE_MEMORY,
        "RLIMIT_AS",
        "536870912 bytes (512 MiB)",
    )
    assert "(ImportError: libarrow.so: failed to map segment from shared object)" in detail.message
    with pytest.raises(_extras.ExtraMemoryError):  # what a half-loaded library raises next
        with _extras.require("tables", feature="x"):
            raise NameError("name 'PySeries' is not defined")


def test_without_a_limit_an_import_error_stays_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_extras, "address_space_limit", lambda: None)
    with pytest.raises(ImportError, match="failed to map") as caught:
        with _extras.require("tables", feature="x"):
            raise ImportError("failed to map segment")
    assert not isinstance(caught.value, PolicyError)


def test_the_address_space_limit_is_read_from_rlimit_as() -> None:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    assert _extras.address_space_limit() == (None if soft == resource.RLIM_INFINITY else soft)


# --------------------------------------------------------------------------- evaluate_table in a child


@pytest.mark.parametrize(
    ("stderr", "stopped", "code"),
    [
        ("memory allocation of 320000 bytes failed\n", None, ErrorCode.ENGINE_MEMORY),
        ("", "PanicException: OS can't spawn worker thread: Resource temporarily unavailable", ErrorCode.ENGINE_MEMORY),
        ("", "PanicException: could not spawn threads: ThreadPoolBuildError", ErrorCode.ENGINE_MEMORY),
        (
            "OpenBLAS error: Memory allocation still failed after 10 retries, giving up.\n",
            None,
            ErrorCode.ENGINE_MEMORY,
        ),
        ("<jemalloc>: background thread creation failed (11)\n", "KeyboardInterrupt", ErrorCode.ENGINE_MEMORY),
        ("", "PanicException: index out of bounds", ErrorCode.ENGINE_INTERNAL),
        ("Traceback ...\nZeroDivisionError\n", None, ErrorCode.ENGINE_INTERNAL),
    ],
)
def test_how_a_child_ended_decides_memory_or_internal(stderr: str, stopped: str | None, code: str) -> None:
    """What a child that ended without a result said decides the code: an allocation or a thread
    that could not be had is engine.memory; anything else engine.internal, with what it said."""
    pytest.importorskip("polars")
    from policy_engine.tabular.streaming import _died

    returncode = 1 if stopped is None else 0
    error = _died(ChildDied(7, returncode, stderr, stopped), "t.parquet", 10, 2**30)
    assert error.details[0].code == code and error.details[0].subject == "t.parquet"
    if code == ErrorCode.ENGINE_INTERNAL:
        assert error.summary == "internal error during table evaluation"
        assert (stopped or stderr.splitlines()[-1]) in error.details[0].message
    else:
        assert error.summary == "out of memory" and error.details[0].value == "1073741824 bytes (1,024 MiB)"


def test_the_reader_running_out_of_memory_is_not_a_bad_table() -> None:
    """ENOMEM from the table reader (an OSError, or polars' Rust error, which words it ``os error
    12``) is out of memory (evaluate_table's engine.memory), not "cannot read the table"."""
    import errno

    pl = pytest.importorskip("polars")
    from policy_engine.tabular.reading import _no_memory

    assert _no_memory(OSError(errno.ENOMEM, "Cannot allocate memory"))
    assert _no_memory(pl.exceptions.ComputeError("Cannot allocate memory (os error 12)"))
    assert not _no_memory(OSError(errno.ENOENT, "No such file or directory"))
    assert not _no_memory(pl.exceptions.ComputeError("parquet: out of specification (os error 2)"))


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """Three copies of the example state as a Parquet table (30 rows, one state per 10)."""
    pl = pytest.importorskip("polars")
    from policy_engine import load_state
    from policy_engine.tabular import states_to_frame

    frame = states_to_frame([("s", load_state(_EXAMPLE))])
    rows = pl.concat([frame.with_columns(pl.lit(f"s{i}").alias("state_id")) for i in range(3)])
    path = tmp_path / "rows.parquet"
    rows.write_parquet(path)
    return path


def _fake_limit(monkeypatch: pytest.MonkeyPatch, limit: int | None) -> None:
    from policy_engine.tabular import streaming

    monkeypatch.setattr(streaming, "address_space_limit", lambda: limit)


def test_a_table_evaluated_in_a_child_is_the_table_evaluated_here(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_engine import tabular

    here = tabular.evaluate_table(table, tmp_path / "here.jsonl", chunk_rows=10)
    _fake_limit(monkeypatch, 2**40)
    rows: list[int] = []
    there = tabular.evaluate_table(table, tmp_path / "there.jsonl", chunk_rows=10, progress=rows.append)
    assert (tmp_path / "there.jsonl").read_bytes() == (tmp_path / "here.jsonl").read_bytes()
    assert (there.rows, there.states, there.chunks, there.exact_cells) == (here.rows, here.states, here.chunks, 0)
    assert rows == [10, 10, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["here.jsonl", "rows.parquet", "there.jsonl"]


def test_a_bad_table_in_a_child_raises_the_same_state_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("polars")
    from policy_engine import tabular

    bad = tmp_path / "bad.csv"
    bad.write_text("state_id,org_id,org_type,as_of,metric.nope.2025-01.value\ns,A,acute_trust,2025-02-01,1\n")
    with pytest.raises(StateError) as here:
        tabular.evaluate_table(bad, tmp_path / "out.parquet")
    _fake_limit(monkeypatch, 2**40)
    with pytest.raises(StateError) as there:
        tabular.evaluate_table(bad, tmp_path / "out.parquet")
    assert (there.value.summary, there.value.details) == (here.value.summary, here.value.details)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_a_child_killed_mid_table_is_engine_memory_and_its_temporary_is_removed(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child dies as an allocation failure kills it (SIGABRT) while it writes: the parent
    raises EngineError ``engine.memory`` naming the file and the limit, and removes the child's
    temporary file itself (no later write is needed)."""
    from policy_engine import tabular

    _fake_limit(monkeypatch, 3 * 2**30)
    out = tmp_path / "out.parquet"
    out.write_text("the previous output", encoding="utf-8")
    killed: list[int] = []

    def kill_the_child(rows: int) -> None:
        if not killed:
            (temp,) = (p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX))
            pid = int(temp.name.removeprefix(TEMP_PREFIX).split("-")[0])
            os.kill(pid, signal.SIGABRT)
            killed.append(pid)

    with pytest.raises(EngineError) as caught:
        tabular.evaluate_table(table, out, chunk_rows=10, progress=kill_the_child)
    assert killed and killed[0] != os.getpid()
    assert caught.value.summary == "out of memory"
    first, chunk = caught.value.details
    assert (first.code, first.subject, first.value) == (
        ErrorCode.ENGINE_MEMORY,
        str(table),
        "3221225472 bytes (3,072 MiB)",
    )
    assert "(the process evaluating it was killed by SIGABRT)" in first.message
    assert (chunk.subject, chunk.value) == ("chunk_rows", "10")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet", "rows.parquet"]
    assert out.read_text(encoding="utf-8") == "the previous output"


def test_without_a_limit_a_table_is_evaluated_in_this_process(
    table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_engine.io import child
    from policy_engine.tabular import evaluate_table

    def refuse(*args: object) -> None:
        raise AssertionError("no child process without a limit")

    _fake_limit(monkeypatch, None)
    monkeypatch.setattr(sys.modules["policy_engine.tabular.streaming"], "call_in_child", refuse)
    monkeypatch.setattr(child, "call_in_child", refuse)
    assert evaluate_table(table, tmp_path / "out.parquet").rows == 30

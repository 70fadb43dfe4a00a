"""The one atomic-write helper (policy_engine.io.files): a destination appears whole or not at
all, no temporary file is left behind, and an unwritable destination is a PolicyError naming it."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.errors import PolicyError
from policy_engine.io.files import TEMP_PREFIX, append_line, atomic_write, write_text_atomic

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_writes_text_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with atomic_write(target) as fh:
        fh.write('{"a": "é"}\n')
        assert not target.exists()  # nothing appears before the block ends
        assert len(_leftovers(tmp_path)) == 1
    assert target.read_bytes() == '{"a": "é"}\n'.encode()
    assert _leftovers(tmp_path) == []


def test_writes_bytes(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_write(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_an_error_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.txt"
    with pytest.raises(RuntimeError, match="half-way"), atomic_write(fresh) as fh:
        fh.write("half of it")
        raise RuntimeError("half-way")
    assert not fresh.exists()
    old = tmp_path / "old.txt"
    old.write_text("the old content", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), atomic_write(old) as fh:
        fh.write("the new content, half-written")
        raise KeyboardInterrupt
    assert old.read_text(encoding="utf-8") == "the old content"
    assert _leftovers(tmp_path) == []


def test_a_missing_folder_is_a_policy_error_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "out.json"
    with pytest.raises(PolicyError) as info, atomic_write(target) as fh:
        fh.write("never written")
    assert info.value.summary == "cannot write the file"
    (detail,) = info.value.details
    assert detail.path == str(target)
    assert detail.message == f"the folder {tmp_path / 'no-such-folder'} does not exist"
    assert not (tmp_path / "no-such-folder").exists()


def test_a_folder_as_destination_is_a_policy_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(PolicyError) as info:
        write_text_atomic(tmp_path / "sub", "text")
    assert info.value.details[0].message == "it is a folder"
    assert _leftovers(tmp_path) == []


def test_a_file_as_folder_is_a_policy_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        write_text_atomic(tmp_path / "plain" / "out.txt", "text")
    assert info.value.details[0].message == f"{tmp_path / 'plain'} is not a folder"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permissions_are_those_of_a_new_file(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "out.txt", "text")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o640  # not mkstemp's 0o600


def test_newline_is_kept_as_asked(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "a.md", "one\ntwo\n", newline="\n")
    assert (tmp_path / "a.md").read_bytes() == b"one\ntwo\n"


def test_only_write_modes() -> None:
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        atomic_write("x", "a")  # type: ignore[call-overload]


def test_the_cli_names_a_missing_output_folder(tmp_path: Path) -> None:
    from policy_engine import cli

    example = Path(__file__).resolve().parents[1] / "examples" / "state.json"
    target = tmp_path / "missing" / "out.json"
    err = io.StringIO()
    assert cli.run(["evaluate", str(example), "-o", str(target)], io.StringIO(), err) == cli.EXIT_INVALID
    assert err.getvalue() == (
        f"policy-engine: invalid input: cannot write the file\n"
        f"  - {target}: the folder {tmp_path / 'missing'} does not exist\n"
    )


def test_evaluate_table_names_a_missing_output_folder_and_leaves_nothing(tmp_path: Path) -> None:
    pytest.importorskip("polars")
    from policy_engine import tabular

    source = tmp_path / "rows.csv"
    source.write_text("state_id,org_id,org_type,as_of\ns,EXB,acute_trust,2025-04-30\n", encoding="utf-8")
    target = tmp_path / "missing" / "out.parquet"
    with pytest.raises(PolicyError) as info:
        tabular.evaluate_table(source, target)
    assert [str(d) for d in info.value.details] == [f"{target}: the folder {tmp_path / 'missing'} does not exist"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]
    tabular.evaluate_table(source, tmp_path / "out.jsonl")  # the same table, written where it can be
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "rows.csv"]


# --------------------------------------------------------------------------- only regular files (issue 20)

_KINDS = ("absent", "regular", "folder", "fifo", "socket", "device")


def _make(path: Path, kind: str) -> Path:
    """A destination of ``kind`` at ``path`` (a device is /dev/null, reached through a link)."""
    if kind == "regular":
        path.write_text("the old content", encoding="utf-8")
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "device":
        return Path(os.devnull)
    return path


def _snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every entry of ``folder``: its type bits and (for a file) content, (for a link) target."""
    out = {}
    for p in folder.iterdir():
        mode = p.lstat().st_mode
        if stat.S_ISLNK(mode):
            extra = os.readlink(p)
        elif stat.S_ISREG(mode):
            extra = p.read_text(encoding="utf-8")
        else:
            extra = ""
        out[p.name] = (stat.S_IFMT(mode), extra)
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, sockets and symbolic links")
@given(kind=st.sampled_from(_KINDS), links=st.integers(0, 3), relative=st.booleans())
@settings(deadline=None)
def test_only_a_regular_file_is_written_through_any_chain_of_links(kind: str, links: int, relative: bool) -> None:
    """A destination that is (or whose links end at) a folder, FIFO, socket or device is refused and
    left exactly as it was; a regular file or nothing is written, and the links stay links."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if kind == "device" and links == 0:
            final, path = Path(os.devnull), Path(os.devnull)
        else:
            final = _make(folder / "final", kind)
            path = final
            for i in range(links):
                link = folder / f"link{i}"
                link.symlink_to(path.name if relative and path.parent == folder else path)
                path = link
        before = _snapshot(folder)
        if kind in ("absent", "regular"):
            write_text_atomic(path, "the new content")
            assert final.read_text(encoding="utf-8") == "the new content"
            after = _snapshot(folder)
            assert {n: v for n, v in after.items() if n != "final"} == {
                n: v for n, v in before.items() if n != "final"
            }  # every link is still the same link
            assert stat.S_ISREG(final.lstat().st_mode)
        else:
            with pytest.raises(PolicyError) as info:
                write_text_atomic(path, "the new content")
            (detail,) = info.value.details
            assert detail.code == "output.write"
            assert detail.path == str(path)
            expected = "a folder" if kind == "folder" else ""
            assert expected in detail.message
            if kind != "folder":
                assert detail.message.endswith("only a regular file is written")
            if links:
                assert "symbolic link" in detail.message
            assert _snapshot(folder) == before  # nothing replaced, no temporary file
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="a FIFO")
def test_a_fifo_is_refused_by_name_and_kind(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError) as info:
        write_text_atomic(fifo, "text")
    assert [str(d) for d in info.value.details] == [
        f"{fifo}: it is a FIFO (named pipe); only a regular file is written"
    ]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_the_cli_refuses_a_device_as_output_and_leaves_it(tmp_path: Path) -> None:
    from policy_engine import cli

    err = io.StringIO()
    code = cli.run(["evaluate", str(_EXAMPLE), "-o", "/dev/full"], io.StringIO(), err)
    assert code == cli.EXIT_INVALID
    assert err.getvalue() == (
        "policy-engine: invalid input: cannot write the file\n"
        "  - /dev/full: it is a character device; only a regular file is written\n"
    )
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_the_cli_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    from policy_engine import cli

    (tmp_path / "real.json").write_text("old", encoding="utf-8")
    (tmp_path / "out.json").symlink_to("real.json")
    assert cli.run(["evaluate", str(_EXAMPLE), "-o", str(tmp_path / "out.json")], io.StringIO(), io.StringIO()) == 0
    assert os.readlink(tmp_path / "out.json") == "real.json"
    assert json.loads((tmp_path / "real.json").read_text(encoding="utf-8"))["outcomes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "real.json"]


def test_the_log_refuses_what_is_not_a_regular_file_and_appends_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(PolicyError) as info:
        append_line(tmp_path / "sub", "x\n")
    assert info.value.details[0].message == "it is a folder"
    (tmp_path / "real.log").write_text("one\n", encoding="utf-8")
    if sys.platform != "win32":
        (tmp_path / "audit.log").symlink_to("real.log")
        append_line(tmp_path / "audit.log", "two\n")
        assert (tmp_path / "real.log").read_text(encoding="utf-8") == "one\ntwo\n"
        assert (tmp_path / "audit.log").is_symlink()


# --------------------------------------------------------------------------- records only for outputs written


@pytest.mark.parametrize("bad", ["-o", "--record", "--log"])
def test_a_destination_that_cannot_be_written_means_nothing_is_written(tmp_path: Path, bad: str) -> None:
    """-o, --record or --log into a missing folder: exit 3 naming it, and none of the three written."""
    from policy_engine import cli

    dests = {
        opt: str(tmp_path / name) for opt, name in (("-o", "out.json"), ("--record", "rec.json"), ("--log", "a.log"))
    }
    dests[bad] = str(tmp_path / "missing" / "x")
    err = io.StringIO()
    argv = ["evaluate", str(_EXAMPLE), *(x for pair in dests.items() for x in pair)]
    assert cli.run(argv, io.StringIO(), err) == cli.EXIT_INVALID
    assert f"  - {dests[bad]}: the folder {tmp_path / 'missing'} does not exist\n" in err.getvalue()
    assert "internal error" not in err.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_no_record_or_log_line_when_the_output_fails_while_written(tmp_path: Path, monkeypatch: Any) -> None:
    """The output is written first: if writing it fails after the checks, no record and no log line."""
    from policy_engine import cli
    from policy_engine.cli import command

    real = command.atomic_write

    def failing(path: Any, *a: Any, **k: Any) -> Any:
        if str(path).endswith("out.json"):
            raise PolicyError("cannot write the file", [])
        return real(path, *a, **k)

    monkeypatch.setattr(command, "atomic_write", failing)
    argv = ["evaluate", str(_EXAMPLE), "-o", str(tmp_path / "out.json")]
    argv += ["--record", str(tmp_path / "rec.json"), "--log", str(tmp_path / "a.log")]
    assert cli.run(argv, io.StringIO(), io.StringIO()) == cli.EXIT_INVALID
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    monkeypatch.setattr(command, "atomic_write", real)
    assert cli.run(argv, io.StringIO(), io.StringIO()) == cli.EXIT_OK
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "out.json", "rec.json"]


def test_record_and_log_are_refused_with_batch(tmp_path: Path) -> None:
    from policy_engine import cli

    batch = tmp_path / "states.jsonl"
    batch.write_text(_EXAMPLE.read_text(encoding="utf-8").replace("\n", " ") + "\n", encoding="utf-8")
    err = io.StringIO()
    argv = ["evaluate", "--batch", str(batch), "--record", str(tmp_path / "r.json")]
    assert cli.run(argv, io.StringIO(), err) == cli.EXIT_USAGE
    assert "--record and --log are not accepted with --batch" in err.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["states.jsonl"]


# --------------------------------------------------------------------------- a writer killed half-way


@pytest.mark.skipif(os.name != "posix", reason="kill -9 and probing a pid")
def test_a_writer_killed_half_way_leaves_a_named_temporary_file_the_next_run_removes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    line = json.dumps(json.loads(_EXAMPLE.read_text(encoding="utf-8")))
    batch = tmp_path / "states.jsonl"
    batch.write_text((line + "\n") * 2000, encoding="utf-8")
    target = tmp_path / "out.jsonl"
    target.write_text("the previous run's output\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    argv = [sys.executable, "-m", "policy_engine", "evaluate", "--batch", str(batch), "-o", str(target)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            temps = [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX) and p.stat().st_size > 0]
            if temps:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    (temp,) = (p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX))
    assert temp.name.startswith(f"{TEMP_PREFIX}{proc.pid}-") and temp.name.endswith(".tmp")
    assert target.read_text(encoding="utf-8") == "the previous run's output\n"  # intact
    # The next write into the folder removes it (its process is dead); another's live one is kept.
    live = tmp_path / f"{TEMP_PREFIX}{os.getppid()}-keep.tmp"
    live.write_text("a live writer's", encoding="utf-8")
    other = tmp_path / f"{TEMP_PREFIX}{proc.pid}-x.partial"  # not the temporary files' name
    other.write_text("not ours", encoding="utf-8")
    write_text_atomic(tmp_path / "next.json", "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, other.name, "next.json", "out.jsonl", "states.jsonl"]
    )


# --------------------------------------------------------------------------- under a memory limit

_UNDER_LIMIT = """
import json, resource, sys
mode, table, out, headroom = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from policy_engine import cli
from policy_engine.errors import PolicyError
if mode != "load":  # what the command imports, loaded before the limit is set
    import policy_engine.cli.states, policy_engine.tabular
with open("/proc/self/status") as fh:
    size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + headroom * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))
if mode == "api":
    from policy_engine import tabular
    try:
        tabular.evaluate_table(table, out)
    except PolicyError as exc:
        details = [d.to_dict() for d in exc.details]
        print(json.dumps({"type": type(exc).__name__, "summary": exc.summary, "details": details}))
    sys.exit(0)
sys.exit(cli.run(["evaluate", "--batch", table, "-o", out]))
"""

_LIMITED = pytest.mark.skipif(
    not Path("/proc/self/status").exists() or os.name != "posix", reason="RLIMIT_AS and /proc (Linux)"
)


@pytest.fixture(scope="module")
def limit_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A table of 2,000 copies of the example state (20,000 rows): more than 400 MiB of address
    space to evaluate, in a folder of its own."""
    pl = pytest.importorskip("polars")
    from policy_engine import load_state
    from policy_engine.tabular import states_to_frame

    frame = states_to_frame([("s", load_state(_EXAMPLE))])
    rows = frame[[i % len(frame) for i in range(2000 * len(frame))]].with_columns(
        (pl.lit("s") + (pl.int_range(pl.len()) // len(frame)).cast(pl.String)).alias("state_id")
    )
    path = tmp_path_factory.mktemp("limit") / "rows.parquet"
    rows.write_parquet(path)
    return path


def _under_limit(mode: str, table: Path, out: Path, headroom_mib: int) -> Any:
    import subprocess

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "POLARS_MAX_THREADS": "2",  # what a thread pool reserves depends on the machine's cores
        "OPENBLAS_NUM_THREADS": "1",
    }
    argv = [sys.executable, "-c", _UNDER_LIMIT, mode, str(table), str(out), str(headroom_mib)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


@_LIMITED
def test_a_table_under_an_address_space_limit_is_out_of_memory_and_leaves_no_file(
    limit_table: Path, tmp_path: Path
) -> None:
    """A table evaluated with 400 MiB of address space beyond what the command had loaded: the
    evaluation (in a child process, decision 031) dies as polars' allocation fails, and the
    command says so (exit 4, naming the file and the limit), leaving no output and no temporary
    file (the parent removes the one its child was writing)."""
    proc = _under_limit("cli", limit_table, tmp_path / "out.parquet", 400)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "internal error" not in proc.stderr
    assert proc.stderr.startswith("policy-engine: error: out of memory\n"), proc.stderr[-2000:]
    assert f"  - {limit_table}: evaluating this table needed more address space than the limit" in proc.stderr
    assert "(RLIMIT_AS)" in proc.stderr and "bytes (" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no output, and no temporary file even before another write


@_LIMITED
def test_evaluate_table_under_an_address_space_limit_raises_engine_memory(limit_table: Path, tmp_path: Path) -> None:
    """The API: ``tabular.evaluate_table`` under the same limit raises EngineError, code
    ``engine.memory``, its first detail naming the file and the limit in bytes; nothing is left."""
    proc = _under_limit("api", limit_table, tmp_path / "out.parquet", 400)
    assert proc.returncode == 0, proc.stderr[-2000:]
    error = json.loads(proc.stdout)
    assert (error["type"], error["summary"]) == ("EngineError", "out of memory"), error
    first, chunk = error["details"]
    assert (first["code"], first["subject"]) == ("engine.memory", str(limit_table))
    assert first["value"].endswith(" MiB)") and int(first["value"].split()[0]) > 400 * 2**20
    assert "raise the limit (ulimit -v)" in first["message"]
    assert (chunk["code"], chunk["subject"], chunk["value"]) == ("engine.memory", "chunk_rows", "100000")
    assert list(tmp_path.iterdir()) == []


@_LIMITED
def test_a_table_engine_that_cannot_load_under_the_limit_is_said_so(limit_table: Path, tmp_path: Path) -> None:
    """With too little address space for polars to load at all (the command imports it only for
    a table), the import's failure (an ImportError, a MemoryError, or the NameError a half-loaded
    polars raises) is a clear error saying so (exit 4), never "internal error"."""
    proc = _under_limit("load", limit_table, tmp_path / "out.parquet", 64)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "internal error" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("policy-engine:")]
    assert len(lines) == 1 and lines[0].endswith("could not be loaded under the memory limit"), proc.stderr
    assert "  - RLIMIT_AS: " in proc.stderr and "raise the limit (ulimit -v)" in proc.stderr
    assert list(tmp_path.iterdir()) == []

"""Streaming a table file: evaluated chunk by chunk into a file that appears only
if every row was valid and evaluated; under an address-space limit, in a child process."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs

from .._extras import address_space_limit, mebibytes, unloadable
from ..errors import EngineError, ErrorCode, ErrorDetail, PolicyError, StateError
from ..io.arguments import check_count, check_path, wrong_argument
from ..io.child import ChildDied, call_in_child
from ..io.files import atomic_write, remove_temporaries_of
from ..rulebook.loader import Rulebook
from .chunking import _check_apart, _state_chunks
from .columns import _default_book
from .evaluate import evaluate_frame
from .problems import _Problems
from .reading import Format, _read_batches, _row_names, table_format
from .validation import _normalise
from .writers import _empty_result, _write_chunk


@attrs.frozen
class TableSummary:
    """What ``evaluate_table`` did."""

    rows: int
    states: int
    chunks: int
    exact_cells: int
    seconds: float

    def text(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"{self.rows} rows ({self.states} states) in {self.chunks} chunk(s), {self.seconds:.2f} s "
            f"({rate:,.0f} organisation-evaluations/s); {self.exact_cells} cell(s) re-decided exactly"
        )


DEFAULT_CHUNK_ROWS: dict[Format, int] = {"parquet": 100_000, "csv": 20_000}
"""Rows evaluated at a time by default. With all 2,758 columns of the bundled rulebook's mapping,
100,000 Parquet rows peak at ~2.5 GB and 20,000 CSV rows at ~3.6 GB (text); each chunk also pays
a fixed cost (~0.3 s) for planning the rules' expressions (docs/performance.md)."""


_ADVICE = (
    "raise the limit (ulimit -v), give fewer rows a chunk (--chunk-rows), or limit memory with a cgroup "
    "instead (systemd-run -p MemoryMax=), which counts memory used rather than reserved"
)

_ALLOCATION_SIGNALS = frozenset({signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL})
"""How a process dies when an allocation fails under an address-space limit: Rust's allocation
failure aborts (SIGABRT); a stack or mapping that cannot grow faults; the kernel's OOM killer kills."""


def _out_of_memory(
    chunk_rows: int, source: str | os.PathLike[str] | None = None, limit: int | None = None, how: str = ""
) -> EngineError:
    details = []
    if source is not None and limit is not None:
        details.append(
            ErrorDetail(
                os.fspath(source),
                f"evaluating this table needed more address space than the limit (RLIMIT_AS) allows{how}; {_ADVICE}",
                f"{limit} bytes ({mebibytes(limit)})",
                code=ErrorCode.ENGINE_MEMORY,
            )
        )
    details.append(
        ErrorDetail(
            "chunk_rows",
            "evaluating chunks of this many rows ran out of memory; give fewer rows a chunk (--chunk-rows)",
            str(chunk_rows),
            code=ErrorCode.ENGINE_MEMORY,
        )
    )
    return EngineError("out of memory", details)


_SAYS_MEMORY = re.compile(
    r"MemoryError|memory allocation|cannot allocate memory|out of memory|address space|failed to map segment"
    r"|spawn\b.{0,30}\bthread|thread creat|pthread_create|can't start new thread",
    re.IGNORECASE,
)
"""What a process that ran out of address space says on its way out (Python, Rust, the C library,
the dynamic loader, OpenBLAS; a thread whose stack cannot be mapped is not started)."""


def _died(died: ChildDied, source: str | os.PathLike[str], chunk_rows: int, limit: int) -> EngineError:
    """The error for a child that ended without a result: out of memory if it died as an
    allocation failure makes it die or said so on its way out, else an internal error."""
    said = [line.strip() for line in died.stderr.splitlines() if line.strip()]
    last = f": {said[-1][:200]}" if said else ""
    memory = next((line for line in reversed(said) if _SAYS_MEMORY.search(line)), None)
    if -died.returncode in _ALLOCATION_SIGNALS or memory is not None or _SAYS_MEMORY.search(died.stopped or ""):
        why = f": {memory[:200]}" if memory is not None else last
        return _out_of_memory(chunk_rows, source, limit, f" (the process evaluating it {died.how}{why})")
    detail = ErrorDetail(
        os.fspath(source),
        f"the process evaluating this table {died.how} without a result{last}",
        code=ErrorCode.ENGINE_INTERNAL,
    )
    return EngineError("internal error during table evaluation", [detail])


def evaluate_table(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    rulebook: Rulebook | None = None,
    *,
    chunk_rows: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> TableSummary:
    """Evaluate a CSV or Parquet table into a Parquet, CSV or JSON Lines file, streaming: memory is
    bounded by ``chunk_rows`` (and by the largest single state), not by the size of the file.
    The default is ``DEFAULT_CHUNK_ROWS`` for the input's format: CSV cells arrive as text, which
    takes several times the memory of Parquet's typed columns.

    The destination appears only if every row was valid and evaluated (it is written to a
    temporary file beside it and renamed at the end: ``io.files.atomic_write``); otherwise
    StateError names the bad cells (PolicyError names a destination that cannot be written;
    EngineError, code ``engine.memory``, says the evaluation ran out of memory, and no file is left).

    Under a finite address-space limit (``RLIMIT_AS``, ``ulimit -v``) the evaluation runs in a
    child process (decision 031), so that an allocation failure inside polars, which aborts the
    process making it, is an EngineError (``engine.memory``, naming the file and the limit) here,
    with the child's temporary file removed, rather than the end of this process.
    ``chunk_rows`` must be a whole number of at least 1 (StateError otherwise). ``progress``, if
    given, is called with the number of rows of each chunk once it is evaluated."""
    source = check_path(source, "source", StateError)
    destination = check_path(destination, "destination", StateError)
    book = _default_book(rulebook)
    if chunk_rows is not None:
        chunk_rows = check_count(chunk_rows, "chunk_rows", StateError)
    if progress is not None and not callable(progress):
        raise wrong_argument(StateError, "progress", "a function of the number of rows, or None", progress)
    out_fmt = table_format(destination)
    if out_fmt == "xlsx":
        raise StateError(
            "unsupported output",
            [ErrorDetail(str(destination), "write .parquet, .csv or .jsonl", out_fmt, code=ErrorCode.TABLE_FORMAT)],
        )
    if chunk_rows is None:
        chunk_rows = DEFAULT_CHUNK_ROWS.get(table_format(source), 20_000)  # other formats are refused below
    limit = address_space_limit()
    if limit is None or not sys.executable:
        return _stream(source, destination, book, chunk_rows, out_fmt, progress, None)
    return _stream_in_child(source, destination, book, chunk_rows, out_fmt, progress, limit)


def _stream_in_child(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    book: Rulebook,
    chunk_rows: int,
    out_fmt: Format,
    progress: Callable[[int], object] | None,
    limit: int,
) -> TableSummary:
    """``_stream`` in a child process (decision 031): under an address-space limit an allocation
    failure inside polars aborts the process that makes it, and this one must survive to say so
    and to remove the temporary file the child was writing."""
    args = (source, destination, book, chunk_rows, out_fmt, progress is not None)
    try:
        summary: TableSummary = call_in_child(
            f"{__name__}:_child_stream", args, progress, lambda pid: remove_temporaries_of(destination, pid)
        )
    except ChildDied as died:
        raise _died(died, source, chunk_rows, limit) from None
    except PolicyError:
        raise
    except (ImportError, MemoryError) as exc:  # a module loaded late (pyarrow's libraries) did not fit
        raise unloadable("the table engine (polars and pyarrow)", limit, exc) from None
    except OSError as exc:  # the child could not be started (fork and exec need address space too)
        raise _out_of_memory(chunk_rows, source, limit, f" (the child process could not be started: {exc})") from None
    return summary


def _child_stream(
    send: Callable[[int], object],
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    book: Rulebook,
    chunk_rows: int,
    out_fmt: Format,
    progress: bool,
) -> TableSummary:
    """The child's side of ``_stream_in_child``: each chunk's rows sent as its progress."""
    return _stream(source, destination, book, chunk_rows, out_fmt, send if progress else None, address_space_limit())


def _stream(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    book: Rulebook,
    chunk_rows: int,
    out_fmt: Format,
    progress: Callable[[int], object] | None,
    limit: int | None,
) -> TableSummary:
    """The file evaluated chunk by chunk, in this process (arguments already checked)."""
    start = time.perf_counter()
    rows = states = chunks = cells = 0
    seen: set[str] = set()
    writer: Any = None
    problems = _Problems()
    with atomic_write(destination, "wb") as sink:
        try:
            for offset, chunk in _state_chunks(_read_batches(source, chunk_rows), chunk_rows):
                # Once a problem is found nothing more is evaluated, but the rest of the file is
                # still checked, so that one run lists all its problems (up to MAX_ERRORS).
                problems.chunk(offset)
                table = _normalise(chunk, book, problems)
                if table is None or problems.full():
                    break  # a column does not fit: every chunk has the same columns
                ids = _check_apart(table, seen, problems)
                if problems.items:
                    continue
                result = evaluate_frame(table, book, normalised=True)
                writer = _write_chunk(result.frame, out_fmt, sink, writer)
                rows += len(table)
                states += len(ids)
                chunks += 1
                cells += result.exact_cells
                if progress is not None:
                    progress(len(table))
                del chunk, table, result  # free this chunk before the next is read
            if problems.items:
                raise problems.error(_row_names(source), os.fspath(source))
            if writer is not None:
                writer.close()
            elif out_fmt in ("parquet", "csv"):  # an empty input still gives a readable (empty) file
                _write_chunk(_empty_result(book), out_fmt, sink, None).close()
        except BaseException as exc:
            if writer is not None:  # before the file it writes to is closed and removed
                with contextlib.suppress(Exception):
                    writer.close()
            if isinstance(exc, MemoryError):
                raise _out_of_memory(chunk_rows, source, limit, f" ({exc})" if str(exc) else "") from None
            raise
    return TableSummary(rows, states, chunks, cells, time.perf_counter() - start)

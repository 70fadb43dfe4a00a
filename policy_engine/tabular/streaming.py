"""Streaming a table file: evaluated chunk by chunk into a file that appears only
if every row was valid and evaluated."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import EngineError, ErrorCode, ErrorDetail, StateError
from ..io.arguments import check_count, check_path, wrong_argument
from ..io.files import atomic_write
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


def _out_of_memory(chunk_rows: int) -> EngineError:
    detail = ErrorDetail(
        "chunk_rows",
        "evaluating chunks of this many rows ran out of memory; give fewer rows a chunk (--chunk-rows)",
        str(chunk_rows),
        code=ErrorCode.ENGINE_MEMORY,
    )
    return EngineError("out of memory", [detail])


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
                raise _out_of_memory(chunk_rows) from None
            raise
    return TableSummary(rows, states, chunks, cells, time.perf_counter() - start)

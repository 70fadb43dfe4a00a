"""Reading table files: the format of a file name, CSV, Parquet and Excel (``.xlsx``, its first
sheet) files read in batches, and how a file's problems name its rows (CSV lines, spreadsheet
rows, Parquet data rows)."""

from __future__ import annotations

import csv
import errno
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import polars as pl

from ..errors import ErrorCode, ErrorDetail, StateError
from .problems import RowNames

Format = Literal["csv", "parquet", "jsonl", "xlsx"]


def table_format(path: str | os.PathLike[str]) -> Format:
    """The format of a table file, from its extension (.csv, .parquet/.pq, .jsonl/.ndjson, .xlsx)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise StateError(
        "unknown table format",
        [
            ErrorDetail(
                str(path),
                "expected a .csv, .parquet, .jsonl or .xlsx file name",
                suffix or "(none)",
                code=ErrorCode.TABLE_FORMAT,
            )
        ],
    )


MAX_HEADER_CHARS = 16 * 1024 * 1024
"""The longest header line of a CSV table read (the bundled rulebook's full mapping is ~0.1 MB)."""


def _csv_header(path: str | os.PathLike[str]) -> list[str]:
    """The column names of a CSV file's first line. A line longer than ``MAX_HEADER_CHARS``, or a
    cell longer than Python's CSV field limit (131,072 characters: no column name is that long),
    is a StateError naming the file, not a ``csv.Error`` or a line read whole into memory."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        line = fh.readline(MAX_HEADER_CHARS + 1)
    if len(line) > MAX_HEADER_CHARS:
        raise _bad_header(path, f"the header line is longer than {MAX_HEADER_CHARS} characters")
    try:
        return next(csv.reader([line]), [])
    except csv.Error as exc:
        limit = csv.field_size_limit()  # the one cause a line no longer than the limit cannot have
        raise _bad_header(
            path, f"a header cell is longer than {limit} characters" if len(line) > limit else str(exc)
        ) from None


def _bad_header(path: str | os.PathLike[str], why: str) -> StateError:
    return StateError(
        "cannot read the table",
        [ErrorDetail(str(path), f"{why}; expected column names of the mapping", code=ErrorCode.TABLE_READ, line=1)],
    )


def _read_batches(path: str | os.PathLike[str], chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Batches of a CSV (every column read as text), Parquet or Excel file (its first sheet, read
    whole, every cell as text), in file order, read as they are needed: memory holds one batch (for
    Parquet, at most the row groups the batch spans)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    fmt = table_format(path)
    if fmt not in ("csv", "parquet", "xlsx"):
        raise StateError(
            "not a table",
            [
                ErrorDetail(
                    str(path), "expected a .csv, .parquet or .xlsx input table", fmt, code=ErrorCode.TABLE_FORMAT
                )
            ],
        )
    if fmt == "xlsx":
        frame = _xlsx_frame(path)
        for offset in range(0, frame.height, chunk_rows):
            yield frame.slice(offset, chunk_rows)
        if not frame.height:
            yield frame
        return
    try:
        if fmt == "parquet":
            scan = pl.scan_parquet(os.fspath(path))
            rows = scan.select(pl.len()).collect().item()
            for offset in range(0, rows, chunk_rows):  # row-group pruning: only the groups it spans
                yield scan.slice(offset, chunk_rows).collect()
            if not rows:  # no rows: the columns are still checked
                yield scan.head(0).collect()
            return
        header = _csv_header(path)
        reader = pacsv.open_csv(
            os.fspath(path),
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
            ),
        )
        empty = True
        for batch in reader:
            empty = False
            yield pl.DataFrame(pa.Table.from_batches([batch]))
        if empty:  # a header and no rows: the columns are still checked
            yield pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in header})
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _no_memory(exc):  # the reader could not allocate: out of memory, not a bad file
            raise MemoryError(first) from exc
        raise StateError("cannot read the table", [ErrorDetail(str(path), first, code=ErrorCode.TABLE_READ)]) from None


_RUST_ENOMEM = re.compile(rf"\(os error {errno.ENOMEM}\)")
"""How polars' Rust reader words ENOMEM: its errors carry no errno, only this text."""


def _no_memory(exc: BaseException) -> bool:
    """``exc`` is the reader's report of an allocation that failed (ENOMEM, from the OS or as
    Rust's ``os error 12``), which ``evaluate_table`` reports as out of memory."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOMEM) or _RUST_ENOMEM.search(str(exc)) is not None


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a CSV cell would hold: empty is None (missing), a whole
    number has no ``.0``, a date is ``YYYY-MM-DD``, a boolean ``true``/``false``."""
    import datetime as dt

    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx_frame(path: str | os.PathLike[str]) -> pl.DataFrame:
    """The first sheet of a workbook as a frame of text columns: its first row the column names,
    every later row (blank rows too, so that rows keep their spreadsheet numbers) a data row.
    StateError (``table.read``) for a file that is not a readable workbook."""
    from .._extras import require

    with require("spreadsheets", feature="reading a table from a spreadsheet (.xlsx)"):
        import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(os.fspath(path))
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False) if book.sheet_names else []
    except (python_calamine.CalamineError, ValueError, OSError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateError("cannot read the table", [ErrorDetail(str(path), first, code=ErrorCode.TABLE_READ)]) from None
    if not rows:
        raise _bad_header(path, "the first sheet is empty")
    header = [_cell_text(c) or "" for c in rows[0]]
    while header and not header[-1]:
        header.pop()
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise _bad_header(path, f"the column {twice[0]!r} is given twice")
    body = [[_cell_text(c) for c in r[: len(header)]] for r in rows[1:]]
    while body and not any(body[-1]):  # blank rows after the data are not rows (blank lines in a CSV)
        body.pop()
    data = {name: [r[j] if j < len(r) else None for r in body] for j, name in enumerate(header)}
    return pl.DataFrame({k: pl.Series(v, dtype=pl.String) for k, v in data.items()})


def _row_names(source: str | os.PathLike[str]) -> RowNames:
    """How a file's problems name their rows: a CSV file's line (1-based, the header is line 1,
    a quoted cell may span lines), a spreadsheet's row (the header is row 1), or a Parquet file's
    data row (1-based, no header)."""
    if table_format(source) == "xlsx":
        return lambda rows: {i: f"row {i + 2}, column {{column}}" for i in rows}
    if table_format(source) != "csv":
        return lambda rows: {i: f"data row {i + 1}, column {{column}}" for i in rows}

    def lines(rows: Sequence[int]) -> dict[int, str]:
        wanted, out = set(rows), dict[int, str]()
        if not wanted:
            return out
        last = max(wanted)
        limit = csv.field_size_limit()
        try:
            csv.field_size_limit(2**31 - 1)  # a cell too long for the mapping is still a cell to count past
            with open(source, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh)
                before = 0  # lines read before the record
                record = -1  # the header
                for cells in reader:
                    if cells:  # blank lines are not rows (Arrow's reader skips them too)
                        if record in wanted:
                            out[record] = f"line {before + 1}, column {{column}}"
                        record += 1
                        if record > last:
                            break
                    before = reader.line_num
        except (OSError, ValueError, csv.Error):  # unreadable as Python reads CSV: rows keep their numbers
            pass
        finally:
            csv.field_size_limit(limit)
        return {i: out.get(i, f"data row {i + 1}, column {{column}}") for i in rows}

    return lines

"""The problems of a table: every bad column and cell, listed once (at most
``MAX_ERRORS``) and reported as one StateError in file order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import polars as pl

from ..data.state import _short as short_value
from ..errors import ErrorCode, ErrorDetail, StateError

MAX_ERRORS = 50


@attrs.frozen
class _Problem:
    """A bad column (``row`` None) or cell (``row``: the data row, from 0 at the file's first)."""

    row: int | None
    column: str
    message: str
    value: str | None


RowNames = Callable[[Sequence[int]], Mapping[int, str]]
"""How the problems of a table name their cells: data rows (from 0) -> a path with ``{column}``
for the column, e.g. ``rows[3][{column}]`` or ``line 5, column {column}``."""


def _frame_rows(rows: Sequence[int]) -> dict[int, str]:
    return {i: f"rows[{i}][{{column}}]" for i in rows}


class _Locator(Protocol):
    """Where a cell of the table checked came from in the file, when they differ (a long table is
    checked as the wide table it pivots to: ``long._Locator``)."""

    def cell(self, row: int, column: str, message: str) -> tuple[int, str, str]: ...

    def column(self, name: str) -> str: ...


class _Problems:
    """Every problem of a table, listed once (at most ``MAX_ERRORS``).

    A chunk is checked in stages: columns, then cells of the wrong type, then each row, then each
    state. A later stage skips the cells an earlier one already reported (``bad`` marks them), so
    a bad date is not also a missing value, but the rest of the row is still checked."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.items: list[_Problem] = []
        self.unfit = False  # a column is not in the mapping: no cell can be read
        self.bad: dict[str, pl.Series] = {}
        self.locate: _Locator | None = None  # rows and columns as the file has them, if not the table's

    def chunk(self, offset: int) -> None:
        """The rows that follow start at data row ``offset``."""
        self.offset = offset
        self.bad = {}
        self.locate = None

    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def column(self, name: str, message: str) -> None:
        self.unfit = True
        if self.locate is not None:  # the wide columns of one long column: reported once
            name = self.locate.column(name)
            if any(p.row is None and p.column == name and p.message == message for p in self.items):
                return
        if not self.full():
            self.items.append(_Problem(None, name, message, name))

    def cell(self, row: int, column: str, message: str, value: Any) -> None:
        if self.locate is not None:
            row, column, message = self.locate.cell(row, column, message)
        if not self.full():
            self.items.append(_Problem(self.offset + row, column, message, _short(value)))

    def cells(
        self, mask: pl.Series, column: str, message: str, values: pl.Series, positions: pl.Series | None = None
    ) -> None:
        """Report the cells where ``mask`` is true; ``positions`` maps a filtered frame's rows back."""
        mask = mask.fill_null(False)
        if positions is None:
            self.bad[column] = self.bad[column] | mask if column in self.bad else mask
        for i in mask.arg_true().head(MAX_ERRORS - len(self.items)).to_list():
            self.cell(i if positions is None else int(positions[i]), column, message, values[i])

    def reported(self, columns: Iterable[str]) -> pl.Series | None:
        """The rows where a cell of ``columns`` was already reported (None: nowhere)."""
        marks = [self.bad[c] for c in columns if c in self.bad]
        if not marks:
            return None
        out = marks[0]
        for m in marks[1:]:
            out = out | m
        return out

    def error(self, names: RowNames = _frame_rows, source: str | None = None) -> StateError:
        """The problems in file order (columns first, then by row; a row's in the order found)."""
        rows = names(sorted({p.row for p in self.items if p.row is not None}))
        ordered = sorted(self.items, key=lambda p: -1 if p.row is None else p.row)
        details = [
            ErrorDetail(
                f"columns[{p.column!r}]" if p.row is None else rows[p.row].format(column=repr(p.column)),
                p.message,
                p.value,
                code=ErrorCode.TABLE_COLUMN if p.row is None else ErrorCode.TABLE_CELL,
            )
            for p in ordered
        ]
        what = "the table does not fit the column mapping" if self.unfit else "the table is invalid"
        count = f"the first {MAX_ERRORS} problems (there may be more)" if self.full() else f"{len(details)} problem"
        count += "s" if len(details) != 1 and not self.full() else ""
        return StateError(f"{source + ': ' if source else ''}{what} ({count})", details)


def _short(value: Any) -> str:
    """A cell as error messages show values everywhere: JSON (dates as their ISO text)."""
    return short_value(value.isoformat() if isinstance(value, dt.date) else value)

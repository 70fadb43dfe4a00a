"""Errors raised by the importers: every one is a :class:`policy_engine.PolicyError`."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ErrorDetail, PolicyError

__all__ = ["ImportFileError", "LayoutError", "ReferenceTableError"]


class ImportFileError(PolicyError, ValueError):
    """A statistics file cannot be read: missing, unreadable, too large, not text, not CSV."""


class LayoutError(ImportFileError):
    """A file is not in a layout the importer knows: the error names the file, line and column(s).

    ``file``, ``line`` and ``column`` say where the problem is (``column`` is the missing or
    ambiguous column heading, or several joined by ``", "``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None,
        column: str | None,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        where = file if line is None else f"{file}, line {line}"
        if column:
            where += f", column {column}"
        super().__init__(f"{where}: {message}", details)


class ReferenceTableError(ImportFileError):
    """The organisation reference table is malformed (every problem is listed with its line)."""

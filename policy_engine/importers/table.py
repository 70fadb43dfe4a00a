"""The shared CSV layer: read a published statistics file, find its header, and parse its cells.

Everything here uses the standard library only (``csv``, ``zipfile``). A file is read whole into
memory (at most ``MAX_FILE_BYTES``), decoded as UTF-8 (a byte-order mark is dropped) or, failing
that, as Windows-1252, and parsed with ``csv`` so Windows line endings and quoted fields with
commas ("1,234") are handled. Rows are then produced one at a time, with their line numbers.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Literal

import attrs

from .errors import ImportFileError, LayoutError

__all__ = [
    "MAX_COUNT",
    "MAX_FILE_BYTES",
    "MISSING_MARKERS",
    "Column",
    "Layout",
    "Number",
    "Row",
    "Table",
    "normalise_header",
    "open_table",
    "parse_number",
    "parse_period",
    "read_text",
]

MAX_FILE_BYTES = 1 << 30
"""Largest file (or zip member) read, in bytes."""

MAX_COUNT = 10**12
"""Largest number a cell may hold (the state schema's limit for counts)."""

HEADER_SEARCH_ROWS = 40
"""How many non-blank rows at the top of a file are searched for the header."""

MISSING_MARKERS = frozenset({"*", "-", "\u2013", "\u2014", "..", ".", ":", "x", "n/a", "na"})
"""Cell texts that mean "suppressed or not available" (compared case-insensitively). A blank cell
is missing too, but is reported separately as blank."""

_ODS_CODE = re.compile(r"^[A-Z0-9]{2,12}$")
_PLAIN_NUMBER = re.compile(r"^\+?\d+(\.\d+)?$")
_GROUPED_NUMBER = re.compile(r"^\+?\d{1,3}(,\d{3})+(\.\d+)?$")

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-(\d{1,2}))?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_NAMED_MONTH = re.compile(r"^(?:[A-Za-z0-9]+[-_ ])?([A-Za-z]+)[-_ ]+(\d{4})$")


def normalise_header(text: str) -> str:
    """Header text for matching: no BOM, underscores as spaces, whitespace collapsed, case-folded."""
    return " ".join(text.replace("\ufeff", "").replace("_", " ").split()).casefold()


def month_index(year: int, month: int) -> int | None:
    """``year * 12 + month - 1`` (the engine's month index), or None for an impossible month."""
    if not (1 <= month <= 12 and 1900 <= year <= 2999):
        return None
    return year * 12 + month - 1


def parse_period(text: str) -> int | None:
    """A month from the period texts the publications use, or None.

    Accepts ``MSitAE-MARCH-2025``, ``RTT-June-2026``, ``DM01-MAY-2026`` (any prefix, then a month
    name and a year), ``March 2025``, ``2025-03``, ``2025-03-01`` (optionally with a time, as Excel
    writes dates) and ``01/03/2025``.
    """
    t = text.strip()
    m = _ISO_MONTH.match(t)
    if m:
        return month_index(int(m.group(1)), int(m.group(2)))
    m = _UK_DATE.match(t)
    if m:
        return month_index(int(m.group(3)), int(m.group(2)))
    m = _NAMED_MONTH.match(t)
    if m:
        month = _MONTHS.get(m.group(1).casefold())
        return None if month is None else month_index(int(m.group(2)), month)
    return None


def month_from_name(text: str) -> int | None:
    """1..12 for a month name or three-letter abbreviation (``APR``), else None."""
    return _MONTHS.get(text.strip().casefold())


@attrs.frozen
class Number:
    """A parsed cell: ``value`` is None unless ``status`` is ``ok``."""

    status: Literal["ok", "blank", "suppressed", "invalid"]
    value: Fraction | None = None
    separators: bool = False
    text: str = ""


def parse_number(text: str) -> Number:
    """Parse a count cell: ``1234``, ``1,234`` (thousands separators), ``1234.0``, ``83.5``.

    Blank and the markers in ``MISSING_MARKERS`` are missing; negative numbers, numbers above
    ``MAX_COUNT`` and anything else are invalid.
    """
    t = text.replace("\u00a0", " ").strip()
    if t.isdigit() and t.isascii():  # the common case, fast
        whole = int(t)
        return Number("ok", Fraction(whole), False, t) if whole <= MAX_COUNT else Number("invalid", text=t)
    if not t:
        return Number("blank", text=text)
    if t.casefold() in MISSING_MARKERS:
        return Number("suppressed", text=t)
    original = t
    separators = False
    if _GROUPED_NUMBER.match(t):
        t = t.replace(",", "")
        separators = True
    elif not _PLAIN_NUMBER.match(t):
        # Excel exports sometimes write 1.5E+03; anything else is not a count.
        try:
            d = Decimal(t)
        except InvalidOperation:
            return Number("invalid", text=t)
        if not d.is_finite() or d < 0 or d > MAX_COUNT or "e" not in t.casefold():
            return Number("invalid", text=t)
        return Number("ok", Fraction(d), False, t)
    value = Fraction(Decimal(t))
    if value > MAX_COUNT:
        return Number("invalid", text=original)
    return Number("ok", value, separators, original)


def is_ods_code(text: str) -> bool:
    """Whether ``text`` looks like an organisation code (letters and digits, 2-12 characters)."""
    return bool(_ODS_CODE.match(text))


def _normalise_all(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(normalise_header(n) for n in names)


@attrs.frozen
class Column:
    """A column a layout reads: its key and the header texts accepted for it."""

    key: str
    names: tuple[str, ...] = attrs.field(converter=_normalise_all)
    required: bool = True

    @property
    def label(self) -> str:
        """The first accepted heading (as normalised), for messages."""
        return self.names[0]


@attrs.frozen
class Layout:
    """One published layout of a file: the columns read, and headings that rule it out.

    ``absent``: headings whose presence means the file is a different (usually newer) layout, so
    a file with booked-appointment columns is never read with the older A&E layout that would
    silently drop them.
    """

    name: str
    columns: tuple[Column, ...]
    absent: tuple[str, ...] = attrs.field(default=(), converter=_normalise_all)

    def match(self, header: Sequence[str]) -> tuple[dict[str, int], list[str], list[str]]:
        """(column positions by key, missing required headings, headings present that rule it out)."""
        norm = [normalise_header(h) for h in header]
        index: dict[str, int] = {}
        missing: list[str] = []
        for col in self.columns:
            pos = next((i for i, h in enumerate(norm) if h in col.names), None)
            if pos is None:
                if col.required:
                    missing.append(col.label)
            else:
                index[col.key] = pos
        unwanted = [h for h in self.absent if h in norm]
        return index, missing, unwanted


@attrs.frozen
class Row:
    """A data row with its (first) physical line number."""

    line: int
    cells: tuple[str, ...]

    def is_blank(self) -> bool:
        """True if every cell is empty or whitespace."""
        return not any(c.strip() for c in self.cells)


@attrs.define
class Table:
    """A file whose header matched a layout; iterate ``rows()`` once."""

    file: str
    layout: Layout
    header: tuple[str, ...]
    header_line: int
    index: Mapping[str, int]
    encoding: str
    preamble: list[int]
    _reader: Iterator[Row]

    def has(self, key: str) -> bool:
        """Whether the file has this (optional) column."""
        return key in self.index

    def heading(self, key: str) -> str:
        """The column's heading as written in the file."""
        return self.header[self.index[key]].strip() if key in self.index else key

    def cell(self, row: Row, key: str) -> str:
        """The cell's text (stripped), or "" when the column is absent or the row is short."""
        pos = self.index.get(key)
        if pos is None or pos >= len(row.cells):
            return ""
        return row.cells[pos].strip()

    def rows(self) -> Iterator[Row]:
        """The rows after the header (blank rows included; callers skip them)."""
        return self._reader

    def extra_cells(self, row: Row) -> bool:
        """True if the row has non-empty cells beyond the header's last column."""
        return any(c.strip() for c in row.cells[len(self.header) :])


def _display(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def read_text(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """(display name, text, encoding) of a CSV file, or of the single CSV inside a zip file.

    Raises ImportFileError for a missing, unreadable or oversized file, an Excel workbook, a zip
    without exactly one CSV, or bytes that are neither UTF-8 nor Windows-1252.
    """
    p = Path(path)
    name = _display(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFileError(f"{name}: file too large ({size} bytes; at most {MAX_FILE_BYTES} are read)")
        data = p.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file: {exc.strerror or exc}") from None
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(f"{name}: this is an Excel 97-2003 workbook, not CSV: save the data sheet as CSV")
    if data.startswith(b"PK\x03\x04"):
        name, data = _unzip(name, data)
    return (name, *_decode(name, data))


def _unzip(name: str, data: bytes) -> tuple[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            if any(i.filename == "[Content_Types].xml" for i in members):
                raise ImportFileError(f"{name}: this is an Excel workbook, not CSV: save the data sheet as CSV")
            csvs = [i for i in members if i.filename.lower().endswith(".csv")]
            if len(csvs) != 1:
                found = ", ".join(i.filename for i in members) or "nothing"
                raise ImportFileError(f"{name}: a zip file must hold exactly one .csv file (found {found})")
            info = csvs[0]
            if info.file_size > MAX_FILE_BYTES:
                raise ImportFileError(f"{name}: {info.filename} is too large ({info.file_size} bytes)")
            with zf.open(info) as fh:
                content = fh.read(MAX_FILE_BYTES + 1)
            if len(content) > MAX_FILE_BYTES:
                raise ImportFileError(f"{name}: {info.filename} is too large")
            return f"{name}!{info.filename}", content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise ImportFileError(f"{name}: not a readable zip file: {exc}") from None


def _decode(name: str, data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8" + (" with BOM" if data.startswith(b"\xef\xbb\xbf") else "")
    except UnicodeDecodeError as first:
        try:
            return data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{name}: not UTF-8 or Windows-1252 text (invalid byte at offset {first.start}); is it a CSV file?"
            ) from None


def _csv_rows(name: str, text: str) -> Iterator[Row]:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportFileError(f"{name}, line {line}: the file contains NUL bytes: is it a CSV file?")
    reader = csv.reader(io.StringIO(text, newline=""))
    last = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"{name}, line {reader.line_num}: not valid CSV: {exc}") from None
        yield Row(last + 1, tuple(cells))
        last = reader.line_num


def open_table(path: str | os.PathLike[str], kind: str, layouts: Sequence[Layout]) -> Table:
    """Read a file and match its header against ``layouts`` (first match wins).

    The header is the first of the top ``HEADER_SEARCH_ROWS`` non-blank rows that matches a
    layout; non-blank rows above it are a preamble (reported by the caller). Raises LayoutError
    naming the file, line and missing column(s) when no layout matches, and ImportFileError when
    the file cannot be read.
    """
    name, text, encoding = read_text(path)
    rows = _csv_rows(name, text)
    best: tuple[int, int, Layout, list[str], list[str]] | None = None
    preamble: list[int] = []
    seen = 0
    for row in rows:
        if row.is_blank():
            continue
        seen += 1
        for layout in layouts:
            index, missing, unwanted = layout.match(row.cells)
            if not missing and not unwanted:
                _check_duplicates(name, row, layout, index)
                return Table(name, layout, row.cells, row.line, index, encoding, preamble, rows)
            score = len(missing) + len(unwanted)
            if best is None or score < best[0]:
                best = (score, row.line, layout, missing, unwanted)
        preamble.append(row.line)
        if seen >= HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise LayoutError(f"the file is empty: expected a {kind} file", file=name, line=None, column=None)
    _, line, layout, missing, unwanted = best
    if missing:
        raise LayoutError(
            f"not a {kind} file in a known layout: missing column(s) {', '.join(repr(m) for m in missing)} "
            f"(closest layout: {layout.name})",
            file=name,
            line=line,
            column=", ".join(missing),
        )
    raise LayoutError(
        f"not a {kind} file in a known layout: column(s) {', '.join(repr(u) for u in unwanted)} belong to "
        f"another layout, and the columns that go with them are missing (closest layout: {layout.name})",
        file=name,
        line=line,
        column=", ".join(unwanted),
    )


def _check_duplicates(name: str, row: Row, layout: Layout, index: Mapping[str, int]) -> None:
    norm = [normalise_header(c) for c in row.cells]
    for col in layout.columns:
        pos = index.get(col.key)
        if pos is None:
            continue
        others = [i for i, h in enumerate(norm) if h == norm[pos] and i != pos]
        if others:
            raise LayoutError(
                f"the heading {row.cells[pos].strip()!r} appears more than once (columns {pos + 1} and "
                f"{others[0] + 1}), so its values cannot be told apart: is this a spreadsheet sheet saved "
                "as CSV rather than the published CSV?",
                file=name,
                line=row.line,
                column=row.cells[pos].strip(),
            )

"""The shared CSV layer: read a published statistics file, find its header, and parse its cells.

Everything here uses the standard library only (``csv``, ``zipfile``). A file is read whole into
memory (at most ``MAX_FILE_BYTES``), decoded as UTF-8 (a byte-order mark is dropped) or, failing
that, as Windows-1252, and parsed with ``csv`` so Windows line endings and quoted fields with
commas ("1,234") are handled. Rows are then produced one at a time, with their line numbers.

A workbook (``.xlsx``, ``.xls``, ``.ods``, told by its bytes) is read by ``workbook.py`` instead:
the sheet is chosen by the published name a layout gives (``Layout.sheets``), its cells become the
text a CSV save would give, and its rows keep the sheet's row numbers as line numbers. The file is
then named ``book.xlsx!Sheet name``, as a zip member is named ``file.zip!member.csv``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal

import attrs

from ..language.numbers import bounded_decimal
from .errors import ImportFileError, LayoutError
from .workbook import describe, find_sheet, open_workbook, workbook_format

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
    "read_bytes",
    "read_text",
]

MAX_FILE_BYTES = 1 << 30
"""Largest file (or zip member) read, in bytes."""

MAX_COUNT = 10**12
MAX_COUNT_DIGITS = 13  # the digits of MAX_COUNT
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
        if len(t.lstrip("0")) > MAX_COUNT_DIGITS:  # and never int() of thousands of digits
            return Number("invalid", text=_shown(t))
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
        # bounded before any arithmetic: 1e-30000000 would otherwise build a Fraction over 10^30000000
        d = bounded_decimal(t) if "e" in t.casefold() else None
        if d is None or d < 0 or d > MAX_COUNT:
            return Number("invalid", text=_shown(t))
        return Number("ok", Fraction(d), False, t)
    exact = bounded_decimal(t)
    if exact is None or exact > MAX_COUNT:
        return Number("invalid", text=_shown(original))
    return Number("ok", Fraction(exact), separators, original)


def _shown(text: str) -> str:
    """A cell's text as an issue shows it: cut to 60 characters (a cell may hold a megabyte)."""
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def is_ods_code(text: str) -> bool:
    """Whether ``text`` looks like an organisation code (letters and digits, 2-12 characters)."""
    return bool(_ODS_CODE.match(text))


def _normalise_all(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(normalise_header(n) for n in names)


@attrs.frozen
class Column:
    """A column a layout reads: its key and the header texts accepted for it.

    ``after`` and ``before`` (keys of other columns of the layout, which have no window of their
    own) make the column positional within a group: its heading is looked for only strictly
    between those columns. That is how a sheet whose headings repeat from group to group (the A&E
    spreadsheet's ``Type 1 Departments - Major A&E`` under attendances, under 4 hours and over 4
    hours) is read: each group is bounded by its total column, whose heading is unique.
    """

    key: str
    names: tuple[str, ...] = attrs.field(converter=_normalise_all)
    required: bool = True
    after: str | None = None
    before: str | None = None

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

    ``sheets``: the published names of the workbook sheet that holds this layout (``CWT CRS
    Provider Extract``); a workbook is read only through a layout that names one of its sheets.

    ``title_period``: the layout has no period column; the file's month is the ``Period:`` line
    above the header (a spreadsheet's title rows), or the period the import is given
    (docs/decisions/016-spreadsheet-period.md). ``open_table`` sets ``Table.period`` from them.
    """

    name: str
    columns: tuple[Column, ...]
    absent: tuple[str, ...] = attrs.field(default=(), converter=_normalise_all)
    sheets: tuple[str, ...] = ()
    title_period: bool = False

    def __attrs_post_init__(self) -> None:
        anchors = {c.key for c in self.columns if c.after is None and c.before is None}
        for col in self.columns:
            for anchor in (col.after, col.before):
                if anchor is not None and anchor not in anchors:
                    raise ValueError(
                        f"layout {self.name!r}: column {col.key!r} is placed by {anchor!r}, "
                        "which is not a column of the layout without a window of its own"
                    )

    def label(self, col: Column) -> str:
        """The column's first accepted heading, with the headings that bound it if it is placed by them."""
        anchors = {c.key: c.label for c in self.columns}
        bounds = [
            f"after {anchors[col.after]!r}" if col.after else "",
            f"before {anchors[col.before]!r}" if col.before else "",
        ]
        window = " and ".join(b for b in bounds if b)
        return f"{col.label} ({window})" if window else col.label

    def window(self, col: Column, index: Mapping[str, int], width: int) -> range | None:
        """The positions where ``col``'s heading is looked for (None if an anchor is missing)."""
        if (col.after is not None and col.after not in index) or (col.before is not None and col.before not in index):
            return None
        low = index[col.after] + 1 if col.after is not None else 0
        high = index[col.before] if col.before is not None else width
        return range(low, high)

    def match(self, header: Sequence[str]) -> tuple[dict[str, int], list[str], list[str]]:
        """(column positions by key, missing required headings, headings present that rule it out)."""
        norm = [normalise_header(h) for h in header]
        index: dict[str, int] = {}
        missing: list[str] = []
        placed = [c for c in self.columns if c.after is None and c.before is None]
        for col in placed + [c for c in self.columns if c.after is not None or c.before is not None]:
            window = self.window(col, index, len(norm))
            pos = None if window is None else next((i for i in window if norm[i] in col.names), None)
            if pos is None:
                if col.required:
                    missing.append(self.label(col))
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
    period: int | None = None
    """The file's month for a layout without a period column (``Layout.title_period``), else None."""

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


def read_bytes(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """(display name, bytes) of a file; ImportFileError for a missing, unreadable or oversized one."""
    p = Path(path)
    name = _display(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFileError(f"{name}: file too large ({size} bytes; at most {MAX_FILE_BYTES} are read)")
        return name, p.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file: {exc.strerror or exc}") from None


def read_text(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """(display name, text, encoding) of a CSV file, or of the single CSV inside a zip file.

    Raises ImportFileError for a missing, unreadable or oversized file, an Excel workbook, a zip
    without exactly one CSV, or bytes that are neither UTF-8 nor Windows-1252. (Statistics files
    in workbooks are read by :func:`open_table`; this reads text only.)
    """
    name, data = read_bytes(path)
    return _text(name, data)


def _text(name: str, data: bytes) -> tuple[str, str, str]:
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
    consumed = 0  # characters of the text the reader has taken (it takes whole lines, as it needs them)

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(text, newline=""):
            consumed += len(line)
            yield line

    reader = csv.reader(lines())
    last = 0
    while True:
        start = consumed
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"{name}, line {reader.line_num}: not valid CSV: {exc}") from None
        if consumed == len(text):
            # The last record: the csv module ends a quoted field that is never closed at the end of
            # the file without a word (the rest of the file becomes one cell), so look for it here.
            opened = _unclosed_quote(text, start)
            if opened is not None:
                breaks = text.count("\n", start, opened) + text.count("\r", start, opened)
                line = last + 1 + breaks - text.count("\r\n", start, opened)  # as the reader counts lines
                raise ImportFileError(
                    f"{name}, line {line}: not valid CSV: an unbalanced quote (the quoted field that starts "
                    "here is never closed)"
                )
        yield Row(last + 1, tuple(cells))
        last = reader.line_num


_UNQUOTED = re.compile(r"[^,\r\n]*")
"""The rest of a field that is not (or no longer) quoted: a quote inside it is a character."""


def _unclosed_quote(text: str, start: int) -> int | None:
    """Where the quoted field that is still open at the end of ``text`` starts, reading the CSV
    record at ``start`` as the (lenient) csv module does; None if every quoted field is closed."""
    i, n = start, len(text)
    while i < n:
        if text[i] == '"':
            j = i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    return i
                if text.startswith('"', k + 1):  # a doubled quote: a quote character, still quoted
                    j = k + 2
                    continue
                i = k + 1
                break
        match = _UNQUOTED.match(text, i)
        i = (match.end() if match else i) + 1  # past the delimiter or line end
    return None


def open_table(
    path: str | os.PathLike[str], kind: str, layouts: Sequence[Layout], *, period: int | None = None
) -> Table:
    """Read a file and match its header against ``layouts`` (first match wins).

    The header is the first of the top ``HEADER_SEARCH_ROWS`` non-blank rows that matches a
    layout; non-blank rows above it are a preamble (reported by the caller). Raises LayoutError
    naming the file, line and missing column(s) when no layout matches, and ImportFileError when
    the file cannot be read.

    A workbook is read from the first of its sheets that a layout names (``Layout.sheets``);
    LayoutError lists the sheets present when none does. ``period`` (a month index) is the month
    of a layout without a period column (``Layout.title_period``) when its title rows do not say
    it; when they do, the two must agree.
    """
    name, data = read_bytes(path)
    fmt = workbook_format(data)
    if fmt is None:
        name, text, encoding = _text(name, data)
        return _match(name, _csv_rows(name, text), kind, layouts, encoding, period)
    readable = [layout for layout in layouts if layout.sheets]
    if not readable:
        raise ImportFileError(
            f"{name}: this is an {describe(fmt)}, and no layout of a {kind} is read from a workbook: "
            "save the data sheet as CSV"
        )
    book = open_workbook(name, data, fmt, max_bytes=MAX_FILE_BYTES)
    wanted = list(dict.fromkeys(sheet for layout in readable for sheet in layout.sheets))
    sheet = find_sheet(book, wanted)
    if sheet is None:
        present = ", ".join(repr(s) for s in book.sheet_names) or "none"
        raise LayoutError(
            f"no sheet named {' or '.join(repr(w) for w in wanted)} (the published name of the sheet that is "
            f"read); the workbook's sheets: {present}",
            file=name,
            line=None,
            column=None,
        )
    on_sheet = [layout for layout in readable if find_sheet(book, layout.sheets) == sheet]
    display = f"{name}!{sheet}"
    rows = (Row(line, cells) for line, cells in book.rows(sheet))
    return _match(display, rows, kind, on_sheet, book.description, period)


def _match(
    name: str, rows: Iterator[Row], kind: str, layouts: Sequence[Layout], encoding: str, period: int | None
) -> Table:
    best: tuple[int, int, Layout, list[str], list[str]] | None = None
    preamble: list[Row] = []
    seen = 0
    for row in rows:
        if row.is_blank():
            continue
        seen += 1
        for layout in layouts:
            index, missing, unwanted = layout.match(row.cells)
            if not missing and not unwanted:
                _check_duplicates(name, row, layout, index)
                month = _file_period(name, layout, preamble, row, period)
                lines = [r.line for r in preamble]
                return Table(name, layout, row.cells, row.line, index, encoding, lines, rows, month)
            score = len(missing) + len(unwanted)
            if best is None or score < best[0]:
                best = (score, row.line, layout, missing, unwanted)
        preamble.append(row)
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


_PERIOD_LABELS = frozenset({"period", "period:"})


def _title_period(preamble: Sequence[Row]) -> tuple[Row, str] | None:
    """The ``Period:`` line of a sheet's title rows: (its row, the text after the label), or None.

    NHS England's spreadsheets open with lines such as ``Title:``, ``Summary:``, ``Period:``
    ``April 2025``, ``Source:``; the label is the first non-blank cell of its row and the period
    the next non-blank one.
    """
    for row in preamble:
        cells = [c.strip() for c in row.cells if c.strip()]
        if len(cells) >= 2 and normalise_header(cells[0]) in _PERIOD_LABELS:
            return row, cells[1]
    return None


def _file_period(name: str, layout: Layout, preamble: Sequence[Row], header: Row, given: int | None) -> int | None:
    """The month of a layout without a period column: its ``Period:`` line, or ``given``."""
    if not layout.title_period:
        return None
    found = _title_period(preamble)
    if found is None:
        if given is None:
            raise LayoutError(
                "this sheet has no period column and no 'Period:' line above its header, so its month is not "
                "known: give it (period='2025-04' in Python, --period 2025-04 on the command line); the "
                "importer does not guess it from the file name",
                file=name,
                line=header.line,
                column=None,
            )
        return given
    row, text = found
    month = parse_period(text)
    if month is None:
        raise LayoutError(
            f"the 'Period:' line says {text!r}, which is not a month", file=name, line=row.line, column=None
        )
    if given is not None and given != month:
        raise LayoutError(
            f"the 'Period:' line says {text!r}, but the import was given another period "
            f"({_month_text(given)}): leave the period out, or check the file",
            file=name,
            line=row.line,
            column=None,
        )
    return month


def _month_text(month: int) -> str:
    year, mon = divmod(month, 12)
    return f"{year}-{mon + 1:02d}"


def _check_duplicates(name: str, row: Row, layout: Layout, index: Mapping[str, int]) -> None:
    norm = [normalise_header(c) for c in row.cells]
    for col in layout.columns:
        pos = index.get(col.key)
        if pos is None:
            continue
        window = layout.window(col, index, len(norm))
        if window is None:  # not placed by other columns (a placed one was found, so its anchors were)
            window = range(len(norm))
        others = [i for i in window if norm[i] == norm[pos] and i != pos]
        if others:
            raise LayoutError(
                f"the heading {row.cells[pos].strip()!r} appears more than once (columns {pos + 1} and "
                f"{others[0] + 1}), so its values cannot be told apart: is this a spreadsheet sheet saved "
                "as CSV rather than the published CSV?",
                file=name,
                line=row.line,
                column=row.cells[pos].strip(),
            )

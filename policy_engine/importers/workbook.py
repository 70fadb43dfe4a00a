"""Published spreadsheets: Excel workbooks (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``) and ``.ods``.

A workbook is told by its bytes, not its name: a zip holding ``[Content_Types].xml`` (Office Open
XML), a zip whose ``mimetype`` is an OpenDocument spreadsheet, or an OLE compound file (Excel
97-2003, and also how Excel stores a password-protected ``.xlsx``). It is read with
python-calamine (the ``spreadsheets`` extra: ``pip install "policy-engine[spreadsheets]"``),
imported only when a workbook is met, so CSV files need nothing more.

Each cell becomes the text a "Save as CSV" of the sheet would give, so the CSV layer's
``parse_number`` and ``parse_period`` read it unchanged: whole numbers without a decimal point
(``384.0`` reads ``384``), other numbers to Excel's 15 significant digits (``49.5``), dates as ISO
``2023-10-01`` (with `` HH:MM:SS`` when there is a time of day), booleans ``TRUE``/``FALSE``. Number
formats are not applied: a cell shown as ``76.0%`` reads ``0.76``. Rows are numbered as the sheet
numbers them (row 1 is the sheet's first row, blank or not).

A corrupt or unreadable workbook, a password-protected one and a sheet that cannot be read raise
:class:`ImportFileError` naming the file (and sheet).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from .._extras import require
from .errors import ImportFileError

if TYPE_CHECKING:
    import python_calamine

__all__ = [
    "OLE_MAGIC",
    "Workbook",
    "WorkbookFormat",
    "cell_text",
    "describe",
    "find_sheet",
    "is_encrypted",
    "open_workbook",
    "workbook_format",
]

WorkbookFormat = Literal["xlsx", "xls", "ods"]

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first bytes of an OLE compound file (Excel 97-2003 ``.xls``, or an encrypted ``.xlsx``)."""

_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_DESCRIPTION = {
    "xlsx": "Excel workbook",
    "xls": "Excel 97-2003 workbook (.xls)",
    "ods": "OpenDocument spreadsheet (.ods)",
}
_FEATURE = "reading spreadsheets (policy_engine.importers)"

Cell = int | float | str | bool | dt.time | dt.date | dt.datetime | dt.timedelta


def workbook_format(data: bytes) -> WorkbookFormat | None:
    """``"xlsx"``, ``"xls"`` or ``"ods"`` if the bytes are a workbook, else None (CSV or a plain zip).

    ``"xlsx"`` covers every Office Open XML workbook (``.xlsx``, ``.xlsm``, ``.xlsb``); ``"xls"``
    every OLE compound file (the first four bytes ``D0 CF 11 E0`` are enough, so a damaged header
    still reads as a workbook to refuse rather than as text).
    """
    if data.startswith(OLE_MAGIC[:4]):
        return "xls"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "[Content_Types].xml" in names:
                return "xlsx"
            if "mimetype" in names and zf.read("mimetype").strip() == _ODS_MIME:
                return "ods"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, KeyError):
        # A damaged zip (a truncated download loses the directory at its end): the members' own
        # headers still name the parts of a workbook.
        if b"[Content_Types].xml" in data or b"xl/workbook.xml" in data:
            return "xlsx"
        return None  # the zip layer reports it
    return None


def is_encrypted(data: bytes) -> bool:
    """Whether an OLE compound file holds an ``EncryptionInfo`` stream (a password-protected
    Office Open XML workbook: Excel stores it encrypted inside an OLE file).

    The directory is scanned for the entry itself: a 128-byte directory entry on a 128-byte
    boundary whose name is ``EncryptionInfo``, with the name length (30 bytes, UTF-16 with its
    terminator) and the object type of a stream (2) where the format puts them.
    """
    if not data.startswith(OLE_MAGIC):
        return False
    name = "EncryptionInfo".encode("utf-16-le")
    start = data.find(name)
    while start != -1:
        if (
            start % 128 == 0
            and data[start + 64 : start + 66] == b"\x1e\x00"
            and data[start + 66 : start + 67] == b"\x02"
        ):
            return True
        start = data.find(name, start + 1)
    return False


def _too_large(data: bytes, limit: int) -> int | None:
    """The uncompressed size of a zip-based workbook if it is over ``limit`` (a zip bomb), else None."""
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError):
        return None  # calamine reports the damage
    return total if total > limit else None


def describe(fmt: WorkbookFormat) -> str:
    """What a workbook of this format is called in messages (``Excel 97-2003 workbook (.xls)``)."""
    return _DESCRIPTION[fmt]


def cell_text(value: Cell | None) -> str:
    """The text a CSV save of the sheet gives for a cell (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)  # a duration


class Workbook:
    """An open workbook: its sheet names, and each sheet's rows as text."""

    def __init__(self, name: str, fmt: WorkbookFormat, book: python_calamine.CalamineWorkbook) -> None:
        self.name = name
        self.format = fmt
        self._book = book
        self.sheet_names: list[str] = list(book.sheet_names)

    @property
    def description(self) -> str:
        """What the file is, for messages and the summary (``Excel workbook``)."""
        return describe(self.format)

    def rows(self, sheet: str) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(sheet row number, cell texts) for every row of ``sheet``, from row 1."""
        import python_calamine

        try:
            values = self._book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except (python_calamine.CalamineError, ValueError, OSError) as exc:
            raise ImportFileError(
                f"{self.name}: the sheet {sheet!r} of this {self.description} cannot be read: {exc}"
            ) from None
        for number, cells in enumerate(values, start=1):
            yield number, tuple(cell_text(c) for c in cells)


def open_workbook(name: str, data: bytes, fmt: WorkbookFormat, *, max_bytes: int) -> Workbook:
    """Open a workbook's bytes (``fmt`` from :func:`workbook_format`).

    Raises ImportFileError for a password-protected, oversized (uncompressed over ``max_bytes``)
    or unreadable workbook, and MissingExtraError (naming the ``spreadsheets`` extra) when
    python-calamine is not installed.
    """
    what = _DESCRIPTION[fmt]
    if is_encrypted(data):
        raise ImportFileError(
            f"{name}: this workbook is password-protected (encrypted), so it cannot be read: open it, "
            "remove the password and save it again (or save the data sheet as CSV)"
        )
    size = _too_large(data, max_bytes)
    if size is not None:
        raise ImportFileError(f"{name}: this {what} is too large ({size} bytes uncompressed; at most {max_bytes})")
    with require("spreadsheets", feature=_FEATURE):
        import python_calamine
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError:
        raise ImportFileError(
            f"{name}: this {what} is password-protected, so it cannot be read: open it, remove the password "
            "and save it again (or save the data sheet as CSV)"
        ) from None
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise ImportFileError(f"{name}: not a readable {what} (the file is damaged or not a workbook): {exc}") from None
    if not book.sheet_names:
        raise ImportFileError(
            f"{name}: not a readable {what}: it has no sheets (the file is damaged or not a workbook)"
        )
    return Workbook(name, fmt, book)


def find_sheet(book: Workbook, wanted: Sequence[str]) -> str | None:
    """The sheet named by the first of ``wanted`` that names one (compared case-insensitively,
    runs of spaces collapsed; ``*`` matches any text, so ``EPR Suppliers*`` finds a sheet named
    after its date and ``*`` the first sheet), in the workbook's order; or None."""
    for pattern in wanted:
        key = _key(pattern)
        found = next((s for s in book.sheet_names if fnmatch.fnmatchcase(_key(s), key)), None)
        if found is not None:
            return found
    return None


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()

"""Published workbooks (``policy_engine/importers/workbook.py``, the sheet choice in ``table.py``,
the A&E spreadsheet layout in ``ae.py``), on made-up workbooks written here.

calamine only reads, so :func:`write_xlsx` writes a minimal Office Open XML workbook with
``zipfile`` (inline strings, numbers, dates with Excel's built-in date format), and
:func:`write_cfb` a minimal OLE compound file (how Excel stores a password-protected workbook:
``EncryptionInfo`` and ``EncryptedPackage`` streams). Every organisation and figure is made up, the
same as tests/fixtures/importers/ae-msitae-2025-03-made-up.csv (RZZ, RZY, RZX).
"""

from __future__ import annotations

import datetime as dt
import importlib.abc
import io
import json
import struct
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

import policy_engine as pe
from policy_engine.cli import EXIT_INVALID, run
from policy_engine.importers import ImportFileError, LayoutError, import_files
from policy_engine.importers.table import Column, Layout
from policy_engine.importers.workbook import cell_text, is_encrypted

FIX = Path(__file__).parent / "fixtures" / "importers"
AE_CSV = FIX / "ae-msitae-2025-03-made-up.csv"
CWT_CSV = FIX / "cwt-crs-provider-extract-2025-03-made-up.csv"
REF = FIX / "organisations-made-up.csv"

Value = str | int | float | dt.date | None

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _cell(ref: str, value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
    if isinstance(value, dt.date):  # a date serial with the built-in date format (style 1)
        return f'<c r="{ref}" s="1"><v>{(value - dt.date(1899, 12, 30)).days}</v></c>'
    return f'<c r="{ref}"><v>{value!r}</v></c>'


def write_xlsx(path: Path, sheets: Mapping[str, Sequence[Sequence[Value]]]) -> Path:
    """A minimal valid .xlsx with these sheets (rows of cells; None is an empty cell)."""
    names = list(sheets)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for i in range(1, len(names) + 1)
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1))
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PKG}">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, len(names) + 1)
            )
            + f'<Relationship Id="rIdS" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs></styleSheet>'
        ),
    }
    for i, name in enumerate(names, start=1):
        rows = "".join(
            f'<row r="{r}">' + "".join(_cell(f"{_column(c)}{r}", v) for c, v in enumerate(cells)) + "</row>"
            for r, cells in enumerate(sheets[name], start=1)
            if any(v is not None for v in cells)
        )
        parts[f"xl/worksheets/sheet{i}.xml"] = f'<worksheet xmlns="{_MAIN}"><sheetData>{rows}</sheetData></worksheet>'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    path.write_bytes(buf.getvalue())
    return path


def _ods_cell(value: Value) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, str):
        return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'
    if isinstance(value, dt.date):
        return f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}"/>'
    return f'<table:table-cell office:value-type="float" office:value="{value!r}"/>'


def write_ods(path: Path, sheets: Mapping[str, Sequence[Sequence[Value]]]) -> Path:
    """A minimal OpenDocument spreadsheet with these sheets."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join("<table:table-row>" + "".join(_ods_cell(v) for v in r) + "</table:table-row>" for r in rows)
        + "</table:table>"
        for name, rows in sheets.items()
    )
    manifest = (
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")  # first, stored
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr(
            "content.xml",
            f'<office:document-content {ns} office:version="1.2"><office:body><office:spreadsheet>{tables}'
            "</office:spreadsheet></office:body></office:document-content>",
            zipfile.ZIP_DEFLATED,
        )
    path.write_bytes(buf.getvalue())
    return path


_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def _entry(name: str, kind: int, *, child: int = _FREE, right: int = _FREE, start: int = _END, size: int = 0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB3I", len(encoded), kind, 1, _FREE, right, child)
        + b"\0" * 36
        + struct.pack("<IQ", start, size)
    )


def write_cfb(path: Path, streams: Mapping[str, bytes]) -> Path:
    """A minimal OLE compound file (version 3, 512-byte sectors) with these streams (each padded to
    4096 bytes, so that none lives in the mini stream)."""
    sectors: list[bytes] = []
    fat = [_FAT, _END]  # sector 0: the FAT, sector 1: the directory
    entries = [_entry("Root Entry", 5, child=1)]
    for i, (name, data) in enumerate(streams.items()):
        body = data.ljust(4096, b"\0")
        first = 2 + len(sectors)
        count = len(body) // 512
        sectors += [body[k * 512 : (k + 1) * 512] for k in range(count)]
        fat += [first + k + 1 for k in range(count - 1)] + [_END]
        right = i + 2 if i + 1 < len(streams) else _FREE
        entries.append(_entry(name, 2, right=right, start=first, size=len(data)))
    entries += [_entry("", 0)] * (-len(entries) % 4)
    assert len(fat) <= 128 and len(entries) == 4
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<I", 0)
        + struct.pack("<108I", *[_FREE] * 108)
    )
    fat_sector = struct.pack("<128I", *(fat + [_FREE] * (128 - len(fat))))
    path.write_bytes(header + fat_sector + b"".join(entries) + b"".join(sectors))
    return path


# The A&E spreadsheet's Provider Level Data sheet: title lines, a group row, the headings (which
# repeat from group to group), an England row, then providers. Made-up figures, equal to the
# made-up MSitAE CSV's (booked appointments included in the spreadsheet's counts).
_TYPES = (
    "Type 1 Departments - Major A&E",
    "Type 2 Departments - Single Specialty",
    "Type 3 Departments - Other A&E/Minor Injury Unit",
)
HEADINGS: list[Value] = [
    "Code",
    "Region",
    "Name",
    *_TYPES,
    "Total attendances",
    *_TYPES,
    "Total Attendances < 4 hours",
    *_TYPES,
    "Total Attendances > 4 hours",
    "Percentage in 4 hours or less (all)",
    "Percentage in 4 hours or less (type 1)",
    "Emergency Admissions via Type 1 A&E",
]


def _provider(code: str, name: str, att: Sequence[Value], over: Sequence[Value]) -> list[Value]:
    def whole(v: Value) -> int:
        return v if isinstance(v, int) else 0

    within: list[Value] = [whole(a) - whole(o) if isinstance(a, int) else a for a, o in zip(att, over, strict=True)]
    totals = [sum(whole(v) for v in group) for group in (att, within, over)]
    return [
        code,
        "NHS England Midlands",
        name,
        *att,
        totals[0],
        *within,
        totals[1],
        *over,
        totals[2],
        round(totals[1] / totals[0], 3),
        round(whole(within[0]) / whole(att[0]), 3),
        123,
    ]


def provider_sheet(period: Value = "March 2025") -> list[list[Value]]:
    """The made-up Provider Level Data sheet (``period`` None: without the Period: line)."""
    title: list[list[Value]] = [
        ["Title:", "A&E Attendances and Emergency Admissions (made up for the policy-engine tests)"],
        ["Summary:", "Made-up figures in the layout of the monthly A&E spreadsheet"],
        ["Period:", period] if period is not None else [None],
        ["Source:", "Made up"],
        [None],
        [None, None, None, "A&E attendances", None, None, None, "A&E attendances < 4 hours", None, None, None],
    ]
    return [
        *title,
        HEADINGS,
        ["-", "-", "England", 17200, 700, 3800, 21700, 12950, 630, 3650, 17230, 4250, 70, 150, 4470, 0.794, 0.753, 9],
        _provider("RZZ", "Example Hospitals NHS Trust (made up)", [9200, 0, 2800], [2550, 0, 150]),
        _provider("RZY", "Sample Teaching Hospitals NHS Foundation Trust (made up)", [4000, 0, 1000], [1100, 0, 0]),
        _provider("RZX", "Fictional University Hospitals NHS Trust (made up)", [3000, "*", 0], [600, 70, 0]),
        ["Y09999", "NHS England Midlands", "Example Walk In Centre (made up)", 0, 0, 950, 950, 0, 0, 950, 950],
        [None],
        ["Note: every figure in this sheet is made up for the policy-engine tests"],
    ]


def _metrics(state: dict[str, Any]) -> dict[str, Any]:
    return {o["id"]: o.get("metrics") for o in state["organisations"]}


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ the A&E spreadsheet layout


def test_the_provider_level_data_sheet_gives_what_the_msitae_csv_gives(tmp_path: Path) -> None:
    book = write_xlsx(
        tmp_path / "AE-March-2025.xlsx", {"Notes": [["made up"]], "Provider Level Data": provider_sheet()}
    )
    state, summary = import_files("ae", [book], reference=REF)
    csv_state, _ = import_files("ae", [AE_CSV], reference=REF)
    assert _metrics(state) == _metrics(csv_state)
    rzz = _metrics(state)["RZZ"]
    assert rzz["ae_4h_all"] == [{"period": "2025-03", "numerator": 9300, "denominator": 12000}]
    assert rzz["ae_4h_type1"] == [{"period": "2025-03", "numerator": 6650, "denominator": 9200}]
    assert "ae_4h_all" not in _metrics(state)["RZX"]  # its suppressed Type 2 cell
    (stats,) = summary.files
    assert stats.file == f"{book}!Provider Level Data"
    assert stats.encoding == "Excel workbook"
    assert stats.layout.startswith("monthly A&E spreadsheet")
    lines = {i.line for i in summary.issues if i.reason == "line above the header (title or preamble)"}
    assert lines == {1, 2, 3, 4, 6}  # sheet row numbers: the title lines and the group row, not the blank row 5
    missing = summary.find("missing")
    # RZX's suppressed Type 2 cells (attendances, and so under 4 hours), each reported at its sheet row
    assert [(i.line, i.column, i.detail) for i in missing] == [(11, "Type 2 Departments - Single Specialty", "'*'")] * 2
    assert state["as_of"] == "2025-04-01"


def test_an_ods_spreadsheet_reads_as_the_xlsx_does(tmp_path: Path) -> None:
    ods = write_ods(tmp_path / "ae.ods", {"Provider Level Data": provider_sheet(dt.date(2025, 3, 1))})
    xlsx = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": provider_sheet()})
    state, summary = import_files("ae", [ods], reference=REF)
    assert _metrics(state) == _metrics(import_files("ae", [xlsx], reference=REF)[0])
    assert summary.files[0].encoding == "OpenDocument spreadsheet (.ods)"
    assert summary.files[0].file == f"{ods}!Provider Level Data"


def test_the_period_line_may_be_a_date_cell(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": provider_sheet(dt.date(2025, 3, 1))})
    state, _ = import_files("ae", [book], reference=REF)
    assert _metrics(state)["RZY"]["ae_4h_type1"][0]["period"] == "2025-03"


def test_the_sheet_saved_as_csv_needs_an_explicit_period(tmp_path: Path) -> None:
    rows = provider_sheet(None)[6:]  # what a CSV save of the sheet from its headings keeps
    text = "\n".join(",".join(f'"{cell_text(v)}"' for v in r) for r in rows) + "\n"
    saved = tmp_path / "March-2025-AE.csv"
    saved.write_text(text, encoding="utf-8")
    with pytest.raises(LayoutError, match="no period column and no 'Period:' line") as info:
        import_files("ae", [saved], reference=REF)
    assert info.value.file == str(saved) and info.value.line == 1
    assert "does not guess it from the file name" in str(info.value)
    state, _ = import_files("ae", [saved], reference=REF, period="2025-03")
    csv_state, _ = import_files("ae", [AE_CSV], reference=REF)
    assert _metrics(state) == _metrics(csv_state)
    code, out, err = _run("import", "ae", str(saved), "--reference", str(REF), "--period", "2025-03")
    assert code == 0, err
    assert _metrics(json.loads(out)) == _metrics(csv_state)


def test_a_period_that_contradicts_the_period_line_is_refused(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": provider_sheet()})
    with pytest.raises(LayoutError, match="the 'Period:' line says 'March 2025'") as info:
        import_files("ae", [book], period="2025-04")
    assert info.value.line == 3 and info.value.file.endswith("ae.xlsx!Provider Level Data")
    state, _ = import_files("ae", [book], reference=REF, period="2025-03")  # agreeing is fine
    assert "RZZ" in _metrics(state)
    bad = write_xlsx(tmp_path / "bad.xlsx", {"Provider Level Data": provider_sheet("sometime")})
    with pytest.raises(LayoutError, match="'sometime', which is not a month"):
        import_files("ae", [bad])
    with pytest.raises(pe.StateError, match="invalid period"):
        import_files("ae", [book], period="April")


def test_a_period_given_for_a_file_with_period_columns_is_reported_unused() -> None:
    _, summary = import_files("ae", [AE_CSV], reference=REF, period="2025-03")
    assert [i.reason for i in summary.find("warning") if "period" in i.reason] == [
        "period option not used: the file gives each row's period"
    ]


def test_counts_that_do_not_add_up_leave_the_type_out(tmp_path: Path) -> None:
    sheet = provider_sheet()
    rzz = sheet[8]
    assert rzz[0] == "RZZ"
    rzz[7] = 6000  # Type 1 under 4 hours, which should be 9200 - 2550
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": sheet})
    state, summary = import_files("ae", [book], reference=REF)
    assert _metrics(state)["RZZ"] is None  # neither its Type 1 nor its all-types proportion
    assert _metrics(state)["RZY"] is not None
    (issue,) = [i for i in summary.find("missing") if i.line == 9]
    assert issue.reason == "attendances are not those under 4 hours plus those over 4 hours"
    assert issue.detail == "Type 1: 9200 != 6000 + 2550"


def test_a_group_missing_its_total_is_not_read_by_position(tmp_path: Path) -> None:
    sheet = provider_sheet()
    headings = list(sheet[6])
    headings[10] = "Total"  # "Total Attendances < 4 hours" gone: the < 4 and > 4 hours groups run together
    sheet[6] = headings
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": sheet})
    with pytest.raises(LayoutError, match="missing column") as info:
        import_files("ae", [book])
    assert "total attendances < 4 hours" in str(info.value)
    assert "type 1 departments - major a&e (after 'total attendances' and before 'total attendances < 4 hours')" in str(
        info.value
    )


def test_a_heading_repeated_within_its_group_is_ambiguous(tmp_path: Path) -> None:
    sheet = provider_sheet()
    headings = list(sheet[6])
    headings.insert(4, _TYPES[0])  # Type 1 twice among the attendances
    sheet[6] = headings
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": sheet})
    with pytest.raises(LayoutError, match="appears more than once"):
        import_files("ae", [book])


def test_a_column_window_must_be_bounded_by_placed_columns() -> None:
    with pytest.raises(ValueError, match="not a column of the layout"):
        Layout("bad", (Column("a", ("A",)), Column("b", ("B",), after="c")))
    with pytest.raises(ValueError, match="not a column of the layout"):
        Layout("bad", (Column("a", ("A",), after="b"), Column("b", ("B",), after="a")))


# ------------------------------------------------------------------ CWT through a workbook


def test_the_cwt_layout_reads_its_published_sheet(tmp_path: Path) -> None:
    import csv

    rows: list[list[Value]] = [list(r) for r in csv.reader(CWT_CSV.read_text(encoding="utf-8-sig").splitlines())]
    for r in rows[1:]:  # numbers as numbers, as in the published workbook
        r[:] = [float(c) if c.replace(".", "", 1).isdigit() else c for c in r if isinstance(c, str)]
    book = write_xlsx(tmp_path / "cwt.xlsx", {"CWT CRS Provider Extract": rows})
    state, _ = import_files("cancer", [book], reference=REF)
    csv_state, _ = import_files("cancer", [CWT_CSV], reference=REF)
    assert _metrics(state) == _metrics(csv_state)
    assert any(m for m in _metrics(state).values())


# ------------------------------------------------------------------ bad workbooks: clear errors, nothing written


def test_a_workbook_without_the_sheet_names_the_sheets_it_has(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "ae.xlsx", {"Summary": [["x"]], "Timeseries": [["y"]]})
    with pytest.raises(LayoutError, match="no sheet named 'Provider Level Data'") as info:
        import_files("ae", [book])
    assert info.value.file == str(book)
    assert "the workbook's sheets: 'Summary', 'Timeseries'" in str(info.value)
    with pytest.raises(LayoutError, match="'Provider Level Data' or 'CWT CRS Provider Extract'"):
        import_files("auto", [book])


def test_a_kind_without_a_workbook_layout_asks_for_csv(tmp_path: Path) -> None:
    book = write_xlsx(tmp_path / "rtt.xlsx", {"Provider": [["x"]]})
    with pytest.raises(ImportFileError, match=r"no layout of a referral to treatment .* is read from a workbook"):
        import_files("rtt", [book])


@pytest.mark.parametrize("damage", ["truncated", "no workbook part", "bad sheet xml", "ole junk"])
def test_a_corrupt_workbook_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", {"Provider Level Data": provider_sheet()}).read_bytes()
    path = tmp_path / "ae.xlsx"
    if damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "ole junk":
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(buf, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if damage == "no workbook part" and info.filename == "xl/workbook.xml":
                    continue
                if damage == "bad sheet xml" and info.filename == "xl/worksheets/sheet1.xml":
                    data = data[:200]
                dst.writestr(info.filename, data)
        path.write_bytes(buf.getvalue())
    with pytest.raises(ImportFileError) as info:
        import_files("ae", [path])
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "not a readable" in message or "cannot be read" in message, message
    assert "workbook" in message, message  # not taken for a damaged zip of CSV files
    if damage == "bad sheet xml":
        assert "'Provider Level Data'" in message
    target = tmp_path / "state.json"
    code, out, err = _run("import", "ae", str(path), "-o", str(target))
    assert code == EXIT_INVALID and out == "" and not target.exists()
    assert "Traceback" not in err and str(path) in err


def test_a_password_protected_workbook_is_a_clear_error(tmp_path: Path) -> None:
    path = write_cfb(
        tmp_path / "protected.xlsx",
        {"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00", "EncryptedPackage": b"\x10" * 300},
    )
    assert is_encrypted(path.read_bytes())
    with pytest.raises(ImportFileError, match="password-protected") as info:
        import_files("ae", [path])
    assert str(info.value).startswith(str(path))
    target = tmp_path / "state.json"
    code, _, err = _run("import", "cancer", str(path), "-o", str(target))
    assert code == EXIT_INVALID and not target.exists() and "password-protected" in err and "Traceback" not in err
    # The same compound file without the EncryptionInfo stream is not taken for a protected one.
    plain = write_cfb(tmp_path / "plain.xls", {"Workbook": b"\x09\x08" * 10, "EncryptedPackage": b"\x10"})
    assert not is_encrypted(plain.read_bytes())
    with pytest.raises(ImportFileError, match="not a readable Excel 97-2003 workbook"):
        import_files("ae", [plain])


def test_a_workbook_too_large_when_uncompressed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import policy_engine.importers.table as table

    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": provider_sheet()})
    monkeypatch.setattr(table, "MAX_FILE_BYTES", book.stat().st_size + 10)  # the file passes, its contents do not
    with pytest.raises(ImportFileError, match=r"too large \(\d+ bytes uncompressed"):
        import_files("ae", [book])


def test_cells_read_as_a_csv_save_writes_them() -> None:
    assert [cell_text(v) for v in (384.0, 49.5, 0.1 + 0.2, 7, True, None, "", " x ")] == [
        "384",
        "49.5",
        "0.3",
        "7",
        "TRUE",
        "",
        "",
        " x ",
    ]
    assert cell_text(dt.date(2023, 10, 1)) == "2023-10-01"
    assert cell_text(dt.datetime(2023, 10, 1)) == "2023-10-01"
    assert cell_text(dt.datetime(2023, 10, 1, 9, 30)) == "2023-10-01 09:30:00"
    assert cell_text(dt.time(9, 30)) == "09:30:00"


class _NotInstalled(importlib.abc.MetaPathFinder):
    """Says python_calamine is not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "python_calamine":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_without_python_calamine_a_workbook_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = write_xlsx(tmp_path / "ae.xlsx", {"Provider Level Data": provider_sheet()})
    for module in [m for m in sys.modules if m.partition(".")[0] == "python_calamine"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(sys, "meta_path", [_NotInstalled(), *sys.meta_path])
    with pytest.raises(pe.MissingExtraError, match=r'pip install "policy-engine\[spreadsheets\]"') as info:
        import_files("ae", [book])
    assert info.value.extra == "spreadsheets" and isinstance(info.value, pe.PolicyError)
    code, _, err = _run("import", "ae", str(book), "-o", str(tmp_path / "state.json"))
    assert code == 4 and "policy-engine[spreadsheets]" in err and "Traceback" not in err
    assert not (tmp_path / "state.json").exists()
    state, _ = import_files("ae", [AE_CSV], reference=REF)  # CSV files need nothing more
    assert _metrics(state)["RZZ"]

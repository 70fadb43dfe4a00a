"""Organisation reference: what each organisation is (type), where it sits (ICB, region) and its name,
read from the reference files NHS analysts download, in their published layouts, in any mix.

=================================== ==========================================================
file (layout, found from its content) what it gives
=================================== ==========================================================
ODS ``etr.csv`` (NHS trusts;         each trust's name, region (national grouping ``Y56``..``Y63``)
headerless, 27 columns)              and ICB (high-level health geography): not its type
ODS ``eccg.csv`` (sub-ICB locations; each ICB's region and name (open locations only)
headerless, 27 columns)
ICB code/name list (ONS             each ICB's name (``QHM``: "NHS North East and North Cumbria
``ICB24CD, ICB24CDH, ICB24NM``)      Integrated Care Board")
NHS England trust list by type      type (``Trust Type (Primary)``: Acute, Ambulance, Community,
(``Organisation Code``,             Mental Health, Mental Health and Community (Combined))
``Organisation``, ``Trust Type``)
ERIC trust data (``Trust Code``,     type (ERIC's ``Trust Type``: ACUTE - TEACHING ..., AMBULANCE,
``Trust Type``)                      COMMUNITY, MENTAL HEALTH AND LEARNING DISABILITY; CARE TRUST
                                     is not mapped)
NHS Staff Survey benchmark groups   type (``type``: Acute and Acute & Community Trusts, Acute
(``ods_code, name, type, region``;   Specialist Trusts, Community Trusts, Ambulance Trusts, Mental
CSV or a JSON list of objects)       Health & Learning Disability ...); region (name)
the package's own table             type (``acute_trust`` ...), name, ICB, region, services
(``ods_code, type[, name, icb,
region, services]``)
=================================== ==========================================================

Several files may describe one organisation. Each detail is settled the same way whatever order
the files come in: the most trusted source wins (the package's own table, then NHS England's own
files: ODS and its trust list, then ERIC, then the Staff Survey list), and a disagreement with a
less trusted source is kept as a :class:`ReferenceConflict` (both values and the rule that settled
it), which the import summary reports. Two equally trusted sources that disagree (a trust in two
regions, in two ICBs, or with two types) are an error naming both files and lines: the import
stops and writes nothing. Region codes and names are one vocabulary (:mod:`.regions`). ICB codes
are read as they are written, so the 2026 mergers' five-character codes need no change here.

Blank lines and lines whose first cell starts with ``#`` are ignored in the package's own table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import ErrorCode, ErrorDetail
from ..language.rules import ORGANISATION_TYPES
from .errors import LayoutError, ReferenceTableError
from .regions import REGIONS, Region, find_region
from .table import Column, Layout, _csv_rows, _text, is_ods_code, open_table, read_bytes, read_text
from .workbook import workbook_format

__all__ = [
    "REFERENCE_LAYOUT",
    "OrgRef",
    "Reference",
    "ReferenceConflict",
    "ReferenceNote",
    "Source",
    "read_reference",
]

REFERENCE_LAYOUT = Layout(
    "organisation reference table (ods_code, name, type, icb[, region, services])",
    (
        Column("ods_code", ("ods_code", "ods code", "org code", "code")),
        Column("type", ("type", "organisation type", "org type")),
        Column("name", ("name", "org name", "organisation name"), required=False),
        Column("icb", ("icb", "icb code", "parent", "parent icb"), required=False),
        Column("region", ("region",), required=False),
        Column("services", ("services",), required=False),
    ),
)

_TRUST_LIST_LAYOUT = Layout(
    "NHS England trust list by type (Organisation Code, Organisation, Trust Type (Primary))",
    (
        Column("ods_code", ("organisation code",)),
        Column("name", ("organisation",), required=False),
        Column("type", ("trust type (primary)", "trust type")),
    ),
    sheets=("EPR Suppliers*", "*"),  # NHS England's FOI export names its sheet after its date
)

_ERIC_LAYOUT = Layout(
    "ERIC trust data (Trust Code, Trust Name, Trust Type)",
    (
        Column("ods_code", ("trust code",)),
        Column("name", ("trust name",), required=False),
        Column("type", ("trust type", "provider type source")),
    ),
    sheets=("Trust data*", "*"),
)

_ICB_LIST_LAYOUT = Layout(
    "ICB code and name list (ICByyCDH, ICByyNM)",
    (
        Column("icb", (*(f"icb{y}cdh" for y in range(20, 40)), "icb code", "icb ods code")),
        Column("name", (*(f"icb{y}nm" for y in range(20, 40)), "icb name")),
    ),
)

_LAYOUTS = (REFERENCE_LAYOUT, _TRUST_LIST_LAYOUT, _ERIC_LAYOUT, _ICB_LIST_LAYOUT)

# How much each kind of source is trusted: lower wins a disagreement.
_OWN, _NHSE, _ERIC, _NSS, _WEAK = 0, 1, 2, 3, 4
_RANK_NAMES = {
    _OWN: "the package's own reference table",
    _NHSE: "NHS England's own files (ODS, its trust list)",
    _ERIC: "ERIC",
    _NSS: "the NHS Staff Survey benchmark list",
    _WEAK: (
        "a combined category (NHS England's 'Mental Health and Community (Combined)', read as mental health; "
        "an eccg location's name for its ICB)"
    ),
}
_PRECEDENCE = (
    "the package's own reference table, then NHS England's own files (ODS, its trust list by type), "
    "then ERIC, then the NHS Staff Survey benchmark list, then combined categories"
)
_COMBINED = "mental health and community (combined)"

_SPLIT = re.compile(r"[;\s]+")
_SUB_ICB_NAME = re.compile(r"^(?P<icb>.*\bICB)\s*-\s*[A-Z0-9]{3,5}$")

# Type vocabularies, by source: normalised text -> organisation type (None: deliberately not mapped).
_NHSE_TYPES: dict[str, str | None] = {
    "acute": "acute_trust",
    "ambulance": "ambulance_trust",
    "community": "community_provider",
    "mental health": "mental_health_trust",
    "mental health and community (combined)": "mental_health_trust",
}
_ERIC_TYPES: dict[str, str | None] = {
    **{f"acute - {size}": "acute_trust" for size in ("teaching", "large", "medium", "small", "specialist")},
    "acute - multi-service": "acute_trust",
    "ambulance": "ambulance_trust",
    "community": "community_provider",
    "mental health and learning disability": "mental_health_trust",
    "care trust": None,
}
_NSS_TYPES: dict[str, str | None] = {
    "acute and acute & community trusts": "acute_trust",
    "acute specialist trusts": "acute_trust",
    "ambulance trusts": "ambulance_trust",
    "community trusts": "community_provider",
    "mental health & learning disability and mental health, learning disability & community trusts": (
        "mental_health_trust"
    ),
    "online / digital": None,
}


@attrs.frozen
class Source:
    """Where a detail came from: a file, the line (or JSON item) and what in it gave the value."""

    file: str
    line: int
    basis: str
    rank: int = _OWN

    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def _order(self) -> tuple[int, str, int]:
        return (self.rank, self.file, self.line)


@attrs.frozen
class OrgRef:
    """One organisation as the reference files describe it; ``sources`` says where each detail
    (``type``, ``name``, ``parent``, ``region``) came from. ``type`` is None when no file gives it
    (``etr.csv`` lists trusts without their type)."""

    code: str
    type: str | None
    name: str | None = None
    icb: str | None = None
    region: str | None = None
    services: tuple[str, ...] | None = None
    line: int = 0
    region_code: str | None = None
    sources: Mapping[str, Source] = attrs.field(factory=dict)


@attrs.frozen
class ReferenceConflict:
    """Two reference files disagree on a detail: the value kept, the other, and the rule that settled it."""

    code: str
    detail: str
    kept: str
    kept_from: Source
    other: str
    other_from: Source
    rule: str

    def describe(self) -> str:
        """One line for the import summary."""
        return (
            f"{self.code} {self.detail}: {self.kept!r} ({self.kept_from.where()}) kept over {self.other!r} "
            f"({self.other_from.where()}): {self.rule}"
        )


@attrs.frozen
class ReferenceNote:
    """A row of a reference file that was not used, and why."""

    file: str
    line: int
    reason: str
    detail: str | None = None


@attrs.frozen
class Reference:
    """The organisations the reference files describe, by ODS code."""

    file: str
    orgs: Mapping[str, OrgRef]
    files: tuple[str, ...] = ()
    conflicts: tuple[ReferenceConflict, ...] = ()
    notes: tuple[ReferenceNote, ...] = ()
    lists_organisations: bool = True
    """Whether the files list organisations (trusts and others), so that an organisation they do
    not list is not imported; False when they only describe ICBs (eccg, an ICB list)."""

    def get(self, code: str) -> OrgRef | None:
        """The organisation with this code, or None."""
        return self.orgs.get(code)


@attrs.frozen
class _Claim:
    code: str
    detail: str  # type | name | parent | region | services | listed
    value: str
    source: Source


class _Reader:
    """What one reference file says: claims about organisations, notes, and problems."""

    def __init__(self, file: str, rank: int) -> None:
        self.file = file
        self.rank = rank
        self.claims: list[_Claim] = []
        self.notes: list[ReferenceNote] = []
        self.problems: list[ErrorDetail] = []
        self.lists = False

    def claim(self, code: str, detail: str, value: str, line: int, basis: str, rank: int | None = None) -> None:
        source = Source(self.file, line, basis, self.rank if rank is None else rank)
        self.claims.append(_Claim(code, detail, value, source))

    def problem(self, line: int, message: str, value: str | None = None) -> None:
        self.problems.append(ErrorDetail(self.file, message, value, code=ErrorCode.IMPORT_REFERENCE, line=line))

    def note(self, line: int, reason: str, detail: str | None = None) -> None:
        self.notes.append(ReferenceNote(self.file, line, reason, detail))

    def region(self, code: str, text: str, line: int, basis: str) -> None:
        region = find_region(text)
        if region is None and self.rank != _OWN:
            self.note(line, f"region {text.strip()!r} is not an NHS England region: not used", code)
            return
        if region is None:
            self.problem(
                line,
                f"{code}: region not recognised: expected an NHS England region's name or code "
                f"({', '.join(f'{c} {n}' for c, n in REGIONS.items())})",
                repr(text),
            )
            return
        self.claim(code, "region", region.code, line, basis)


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split()).casefold()


def _ods_date(text: str) -> dt.date | None:
    t = text.strip()
    if len(t) != 8 or not t.isdigit():
        return None
    try:
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    except ValueError:
        return None


# ----------------------------------------------------------------------------- the layouts


def _read_headerless_ods(path: str | os.PathLike[str]) -> _Reader | None:
    """etr.csv or eccg.csv (ODS's headerless layout), or None if the file is not in it."""
    name, data = read_bytes(path)
    if workbook_format(data) is not None:
        return None  # ODS publishes these as CSV; a workbook is read by its headings
    name, text, _ = _text(name, data)
    rows = [r for r in _csv_rows(name, text) if not r.is_blank()]
    if not rows:
        return None
    first = rows[0].cells
    if not (
        len(first) >= 12
        and is_ods_code(first[0].strip())
        and re.match(r"^[A-Z][0-9]{2}$", first[2].strip())
        and is_ods_code(first[3].strip())
    ):
        return None
    names = [r.cells[1] for r in rows if len(r.cells) > 1]
    sub_icb = sum(1 for n in names if n.rstrip().endswith("CCG") or _SUB_ICB_NAME.match(n.strip()))
    reader = _Reader(name, _NHSE)
    if sub_icb * 2 > len(names):
        _read_eccg(reader, rows)
    else:
        _read_etr(reader, rows)
    return reader


def _cells(row: Sequence[str], n: int) -> list[str]:
    return [c.strip() for c in row[:n]] + [""] * max(0, n - len(row))


def _read_etr(reader: _Reader, rows: Sequence[Any]) -> None:
    reader.lists = True
    base = "ODS etr (NHS trusts)"
    for row in rows:
        cells = _cells(row.cells, 12)
        code, name, grouping, icb = cells[0].upper(), cells[1], cells[2], cells[3]
        if len(row.cells) < 12 or not is_ods_code(code):
            reader.problem(row.line, "not a row of ODS's etr layout (code, name, region, ICB, ... 27 columns)", code)
            continue
        closed = cells[11]
        reader.claim(code, "listed", "", row.line, base)
        if name:
            reader.claim(code, "name", name, row.line, f"{base}: name")
        if grouping:
            reader.region(code, grouping, row.line, f"{base}: national grouping {grouping}")
        if icb and not closed:
            if not is_ods_code(icb.upper()) or icb.upper() == code:
                reader.problem(row.line, f"{code}: ICB code not recognised", repr(icb))
            else:
                reader.claim(code, "parent", icb.upper(), row.line, f"{base}: high-level health geography {icb}")
        elif icb:
            reader.note(row.line, "closed trust: its ICB is not used (ODS keeps the last one it had)", code)


def _read_eccg(reader: _Reader, rows: Sequence[Any]) -> None:
    base = "ODS eccg (sub-ICB locations)"
    for row in rows:
        cells = _cells(row.cells, 12)
        code, name, grouping, icb = cells[0].upper(), cells[1], cells[2], cells[3].upper()
        if len(row.cells) < 12 or not is_ods_code(code) or not is_ods_code(icb):
            reader.problem(row.line, "not a row of ODS's eccg layout (code, name, region, ICB, ... 27 columns)", code)
            continue
        if cells[11]:
            reader.note(row.line, "closed sub-ICB location (or CCG): not used", code)
            continue
        reader.claim(icb, "type", "icb", row.line, f"{base}: ICB of sub-ICB location {code}")
        reader.region(icb, grouping, row.line, f"{base}: national grouping of sub-ICB location {code}")
        m = _SUB_ICB_NAME.match(name)
        if m:
            reader.claim(icb, "name", m.group("icb"), row.line, f"{base}: name of sub-ICB location {code}", _WEAK)


def _typed(
    reader: _Reader, vocabulary: Mapping[str, str | None], code: str, text: str, line: int, heading: str
) -> None:
    key = _norm(text)
    if key not in vocabulary:
        known = "; ".join(k for k in vocabulary)
        reader.problem(line, f"{code}: type not recognised in {heading}: expected one of: {known}", repr(text))
        return
    org_type = vocabulary[key]
    if org_type is None:
        reader.note(line, f"type {text.strip()!r} is not one of the package's organisation types: not used", code)
        return
    reader.claim(code, "type", org_type, line, f"{heading} {text.strip()!r}", _WEAK if key == _COMBINED else None)


def _read_table(path: str | os.PathLike[str]) -> _Reader:
    table = open_table(path, "organisation reference file", list(_LAYOUTS))
    layout = table.layout
    heading = table.heading("type") if table.has("type") else ""
    rows = [r for r in table.rows() if not r.is_blank() and not r.cells[0].strip().startswith("#")]
    if layout is _ICB_LIST_LAYOUT:
        reader = _Reader(table.file, _NHSE)
        for row in rows:
            code, name = table.cell(row, "icb").upper(), table.cell(row, "name")
            if not is_ods_code(code):
                reader.problem(row.line, "ICB code must be an ODS code (letters and digits)", repr(code))
                continue
            reader.claim(code, "type", "icb", row.line, f"ICB list: {table.heading('icb')}")
            if name:
                reader.claim(code, "name", name, row.line, f"ICB list: {table.heading('name')}")
        return reader
    if layout is REFERENCE_LAYOUT:
        values = {_norm(table.cell(r, "type")) for r in rows}
        own = {_norm(t) for t in ORGANISATION_TYPES} | {_norm(t.replace("_", " ")) for t in ORGANISATION_TYPES}
        nss = values <= _NSS_TYPES.keys() and not values <= own
        rank, vocabulary = (_NSS, _NSS_TYPES) if nss else (_OWN, None)
    elif layout is _TRUST_LIST_LAYOUT:
        rank, vocabulary = _NHSE, _NHSE_TYPES
    else:
        rank, vocabulary = _ERIC, _ERIC_TYPES
    reader = _Reader(table.file, rank)
    reader.lists = True
    label = {_NSS: "NHS Staff Survey benchmark group", _NHSE: "NHS England trust list", _ERIC: "ERIC"}.get(rank)
    for row in rows:
        code = table.cell(row, "ods_code").upper()
        if not is_ods_code(code):
            if rank == _NSS and not code:
                reader.note(row.line, "no ODS code (the list's ICB rows have none): not used")
            else:
                reader.problem(row.line, "ods_code must be an ODS code (letters and digits)", repr(code))
            continue
        reader.claim(code, "listed", "", row.line, layout.name)
        type_text = table.cell(row, "type")
        if vocabulary is None:
            org_type = _norm(type_text).replace(" ", "_")
            if org_type not in ORGANISATION_TYPES:
                reader.problem(row.line, f"type must be one of {', '.join(ORGANISATION_TYPES)}", org_type)
                continue
            reader.claim(code, "type", org_type, row.line, f"{heading} {type_text!r}")
        else:
            _typed(reader, vocabulary, code, type_text, row.line, f"{label} ({heading})")
        if table.has("name") and table.cell(row, "name"):
            reader.claim(code, "name", table.cell(row, "name"), row.line, f"{label or 'reference table'}: name")
        if table.has("region") and table.cell(row, "region"):
            reader.region(code, table.cell(row, "region"), row.line, f"{label or 'reference table'}: region")
        if vocabulary is None:
            icb = table.cell(row, "icb").upper()
            if icb:
                if not is_ods_code(icb) or icb == code:
                    reader.problem(row.line, "icb must be the ODS code of another organisation", repr(icb))
                else:
                    reader.claim(code, "parent", icb, row.line, "reference table: icb")
            services = table.cell(row, "services")
            if services:
                reader.claim(code, "services", services, row.line, "reference table: services")
    return reader


def _read_json(path: str | os.PathLike[str]) -> _Reader:
    name, text, _ = read_text(path)
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ReferenceTableError(
            f"{name}: not a reference file: not valid JSON",
            [ErrorDetail(name, f"not valid JSON: {exc}", code=ErrorCode.IMPORT_REFERENCE)],
        ) from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ReferenceTableError(
            f"{name}: not a reference file in a known layout",
            [
                ErrorDetail(
                    name,
                    "expected a JSON list of objects with ods_code and type (the NHS Staff Survey benchmark list)",
                    code=ErrorCode.IMPORT_REFERENCE,
                )
            ],
        )
    reader = _Reader(name, _NSS)
    reader.lists = True
    for i, item in enumerate(items, start=1):
        code = item.get("ods_code")
        if not isinstance(code, str) or not code.strip():
            reader.note(i, "no ODS code (the list's ICB entries have none): not used", str(item.get("name", ""))[:80])
            continue
        code = code.strip().upper()
        if not is_ods_code(code):
            reader.problem(i, "ods_code must be an ODS code (letters and digits)", repr(code))
            continue
        reader.claim(code, "listed", "", i, "NHS Staff Survey benchmark list")
        type_text = item.get("type")
        if isinstance(type_text, str):
            _typed(reader, _NSS_TYPES, code, type_text, i, "NHS Staff Survey benchmark group (type)")
        names = item.get("names") or item.get("name")
        first = names[0] if isinstance(names, list) and names else names
        if isinstance(first, str) and first.strip():
            reader.claim(code, "name", first.strip(), i, "NHS Staff Survey benchmark list: name")
        region = item.get("region")
        if isinstance(region, str) and region.strip():
            reader.region(code, region, i, "NHS Staff Survey benchmark list: region")
    return reader


def _read_one(path: str | os.PathLike[str]) -> _Reader:
    if Path(path).suffix.casefold() == ".json":
        return _read_json(path)
    ods = _read_headerless_ods(path)
    if ods is not None:
        return ods
    try:
        return _read_table(path)
    except LayoutError as exc:
        raise LayoutError(
            f"{exc.args[0] if exc.args else exc}. A reference file is one of: ODS etr.csv or eccg.csv "
            "(headerless), an ICB code/name list (ICB24CDH, ICB24NM), NHS England's trust list by type "
            "(Organisation Code, Trust Type (Primary)), ERIC trust data (Trust Code, Trust Type), the NHS "
            "Staff Survey benchmark list (ods_code, type, region), or the package's own table (ods_code, type)",
            file=exc.file,
            line=exc.line,
            column=exc.column,
        ) from None


# ----------------------------------------------------------------------------- combining


_DISAGREE = {
    "type": "is listed with two types",
    "region": "is listed in two regions",
    "parent": "is listed in two ICBs",
    "services": "is listed with two service lists",
    "name": "is listed with two names",
}


def _settle(
    code: str, detail: str, claims: list[_Claim], problems: list[ErrorDetail], conflicts: list[ReferenceConflict]
) -> _Claim:
    """The claim that settles ``detail`` of ``code`` (the most trusted; ties broken by file, line)."""
    claims.sort(key=lambda c: c.source._order())
    best = claims[0]
    same = (lambda v: _norm(v)) if detail == "name" else (lambda v: v)
    for other in claims[1:]:
        if same(other.value) == same(best.value):
            continue
        if detail == "name" and not other.source.rank == best.source.rank == _OWN:
            continue  # names are spelled many ways (ODS writes capitals): the most trusted is kept, silently
        if other.source.rank == best.source.rank:
            first, again = best.source, other.source
            if first.file == again.file:
                message = (
                    f"{code} is listed again with different details (first at line {first.line}): "
                    f"{detail} {_show(detail, best.value)!r} there, {_show(detail, other.value)!r} here"
                )
            else:
                message = (
                    f"{code} {_DISAGREE[detail]}: {_show(detail, other.value)!r} here and "
                    f"{_show(detail, best.value)!r} at {first.where()}"
                )
            problems.append(ErrorDetail(again.file, message, code=ErrorCode.IMPORT_REFERENCE, line=again.line))
            continue
        conflicts.append(
            ReferenceConflict(
                code,
                detail,
                _show(detail, best.value),
                best.source,
                _show(detail, other.value),
                other.source,
                f"{_RANK_NAMES[best.source.rank]} is trusted over {_RANK_NAMES[other.source.rank]} "
                f"(order: {_PRECEDENCE})",
            )
        )
    return best


def _show(detail: str, value: str) -> str:
    return Region(value, REGIONS.get(value)).describe() if detail == "region" else value


def _combine(readers: Sequence[_Reader]) -> Reference:
    by_code: dict[str, dict[str, list[_Claim]]] = {}
    for reader in readers:
        for claim in reader.claims:
            by_code.setdefault(claim.code, {}).setdefault(claim.detail, []).append(claim)
    problems: list[ErrorDetail] = [p for r in readers for p in r.problems]
    conflicts: list[ReferenceConflict] = []
    orgs: dict[str, OrgRef] = {}
    for code in sorted(by_code):
        details = by_code[code]
        settled = {d: _settle(code, d, claims, problems, conflicts) for d, claims in details.items() if d != "listed"}
        services_text = settled["services"].value if "services" in settled else None
        region = settled.get("region")
        first = min((c.source for cs in details.values() for c in cs), key=Source._order)
        orgs[code] = OrgRef(
            code,
            settled["type"].value if "type" in settled else None,
            settled["name"].value if "name" in settled else None,
            settled["parent"].value if "parent" in settled else None,
            REGIONS.get(region.value) if region is not None else None,
            tuple(s for s in _SPLIT.split(services_text) if s) if services_text is not None else None,
            first.line,
            region.value if region is not None else None,
            {d: c.source for d, c in settled.items()},
        )
    for ref in orgs.values():
        parent = orgs.get(ref.icb) if ref.icb is not None else None
        if parent is not None and parent.type not in (None, "icb"):
            problems.append(
                ErrorDetail(
                    ref.sources["parent"].file,
                    f"icb {ref.icb} is listed with type {parent.type}, not icb",
                    code=ErrorCode.IMPORT_REFERENCE,
                    line=ref.sources["parent"].line,
                )
            )
    files = tuple(r.file for r in readers)
    if problems:
        raise ReferenceTableError(f"{', '.join(files)}: the organisation reference has errors", problems)
    return Reference(
        ", ".join(sorted(files)),
        orgs,
        files,
        tuple(sorted(conflicts, key=lambda c: (c.code, c.detail))),
        tuple(n for r in readers for n in r.notes),
        any(r.lists for r in readers),
    )


def read_reference(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Reference:
    """Read one or several organisation reference files, in any of the layouts above, into one reference.

    The result does not depend on the order of ``paths``. Raises LayoutError for a file in no known
    layout (naming the file, line and missing columns), ImportFileError for one that cannot be
    read, and ReferenceTableError listing every bad row and every disagreement between equally
    trusted files.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    readers = [_read_one(p) for p in paths]
    if not readers:
        raise ReferenceTableError(
            "no reference file given",
            [ErrorDetail("reference", "give at least one file", code=ErrorCode.IMPORT_REFERENCE)],
        )
    return _combine(sorted(readers, key=lambda r: r.file))

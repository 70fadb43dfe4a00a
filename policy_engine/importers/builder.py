"""Merge what the importers read into one system state: organisations, parents and observations.

Importers read a file through a :class:`FileContext` (which accounts for every row and records
issues) and hand the builder one observation per organisation, metric and month. The builder admits
organisations (from the reference table, or by ODS code pattern without one), merges files (the
same observation twice is counted once; two different values for it are a conflict and neither is
used), and writes the state document.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Hashable, Iterable, Iterator
from fractions import Fraction
from typing import Any, Literal

import attrs

from ..language.months import format_month
from .reference import OrgRef, Reference
from .regions import REGIONS, find_region
from .summary import FileStats, ImportIssue, ImportSummary, IssueKind, RowGroup
from .table import MAX_COUNT, Row, Table, is_ods_code, parse_number

__all__ = ["Dedup", "FileContext", "StateBuilder"]

_NHS_TRUST_CODE = frozenset("RT")

# Reasons shared by the importers (stable texts: the summary groups issues by reason).
TOTAL_ROW = "total row (England, region or TOTAL)"
FOOTNOTE_ROW = "footnote or note row (no organisation code)"
BAD_PERIOD = "period not recognised"
BAD_CODE = "organisation code not recognised"
NOT_IN_REFERENCE = "organisation not in the reference table"
NOT_A_TRUST = "not an NHS trust code (a site, independent provider or other body): list it in a reference table"
DUPLICATE_ROW = "duplicate row (same key and values)"
CONFLICTING_ROWS = "rows with the same key and different values (neither used)"
CONFLICTED_MONTH = "left out with its organisation's month: the file has conflicting rows for it"
MISSING_VALUE = "a value it needs is missing (see Missing values)"
WITH_MISSING = "added to a row whose value is missing, so the organisation's month is left out"
ZERO_DENOMINATOR = "a non-zero numerator over a zero denominator (an error in the file)"
NO_ACTIVITY = "no activity (0 of 0): not stored"
SAME_OBSERVATION = "the same observation in two files (kept once)"
OTHER_FILE_DIFFERS = "another file gives a different value (neither used)"
UNACCOUNTED = "no observation and no recorded reason (an importer bug: please report it)"
"""The reason given to a row no importer step accounted for; the tests check it never appears."""

Outcome = Literal["stored", "duplicate", "conflict"]
"""What the builder did with an observation."""

_ObsKey = tuple[str, str, int]

_SCALE_NOTE = (
    "counts x{k}: the published figures include fractions of a patient (a pathway shared by two providers "
    "counts 0.5 at each), so numerator and denominator are both multiplied by {k} to keep them whole"
)


class FileContext:
    """One file being imported: its table, the accounting of its rows, and issue recording.

    Every data row read gets one disposition (docs/importers.md, "Every row accounted for"):
    **used** if an observation stored in the state came from it; else **not needed** if an
    importer said so (:meth:`ignore`: a valid row no metric needs); else **skipped**, with the
    first reason recorded (:meth:`skip`, :meth:`leave_out`, or any ``skipped`` issue at the row).
    Used wins over not needed, which wins over skipped: a row that fed one stored observation is
    used whatever else happened to it, and a row that would not have been used anyway is not
    reported as a problem. A row that reaches :meth:`finish` with none is skipped as "a value it
    needs is missing" if a missing value was recorded at it, and otherwise with
    :data:`UNACCOUNTED` (a bug in an importer, which the tests look for).
    """

    def __init__(self, table: Table, kind: str, summary: ImportSummary, builder: StateBuilder) -> None:
        self.table = table
        self.kind = kind
        self.summary = summary
        self.builder = builder
        self.stats = FileStats(table.file, kind, table.layout.name, table.encoding)
        summary.files.append(self.stats)
        self._separator_rows: set[int] = set()
        self._once: set[Hashable] = set()
        self._read: dict[int, None] = {}  # the data rows' lines, in order
        self._stored: dict[int, set[_ObsKey]] = {}
        self._not_needed: dict[int, str] = {}
        self._skipped: dict[int, str] = {}
        self._missing: set[int] = set()
        self._finished = False
        for line in table.preamble:
            self.issue("skipped", "line above the header (title or preamble)", line)

    @property
    def file(self) -> str:
        """The file's display name."""
        return self.table.file

    def data_rows(self) -> Iterator[Row]:
        """The non-blank rows after the header, counted as read."""
        for row in self.table.rows():
            if row.is_blank():
                continue
            self.stats.rows_read += 1
            self._read[row.line] = None
            if self.table.extra_cells(row):
                self.issue("repaired", "cells beyond the last heading ignored", row)
            yield row

    def issue(
        self,
        kind: IssueKind,
        reason: str,
        where: Row | int | None = None,
        column: str | None = None,
        detail: str | None = None,
        once: Hashable | None = None,
    ) -> None:
        """Record an issue at a row (or line); ``column`` is a layout key or a heading.

        With ``once``, only the first issue with that key is recorded (e.g. one "not in the
        reference table" per organisation and file, not one per row). A ``skipped`` issue at a
        data row also skips that row (every time, ``once`` or not: rows are counted, issues
        grouped); a ``missing`` one marks the row as missing a value.
        """
        line = where.line if isinstance(where, Row) else where
        if line is not None and line in self._read:
            if kind == "skipped":
                self._skipped.setdefault(line, reason)
            elif kind == "missing":
                self._missing.add(line)
        if once is not None:
            if once in self._once:
                return
            self._once.add(once)
        heading = self.table.heading(column) if column is not None else None
        self.summary.add(ImportIssue(kind, reason, self.file, line, heading, detail))

    def ignore(self, where: Row | int | Iterable[int], reason: str) -> None:
        """Count valid rows that no metric needs (unless they are used), with the reason."""
        for line in _lines(where):
            if line in self._read:
                self._not_needed.setdefault(line, reason)

    def skip(self, row: Row, reason: str, detail: str | None = None, column: str | None = None) -> None:
        """Record a skipped row (an issue, and the row's disposition)."""
        self.issue("skipped", reason, row, column, detail)

    def leave_out(self, where: Row | int | Iterable[int], reason: str) -> None:
        """Count rows as skipped (unless used or not needed) without recording an issue: the issue,
        if any, is recorded elsewhere (at another row, or once per organisation)."""
        for line in _lines(where):
            if line in self._read:
                self._skipped.setdefault(line, reason)

    def number(self, row: Row, key: str, *, report: bool = True) -> Fraction | None:
        """The cell as a number, or None (blank, suppressed or invalid: recorded as missing)."""
        parsed = parse_number(self.table.cell(row, key))
        if parsed.status == "ok":
            if parsed.separators and row.line not in self._separator_rows:
                self._separator_rows.add(row.line)
                self.issue("repaired", "thousands separators removed", row, key, repr(parsed.text))
            return parsed.value
        if report:
            if parsed.status == "blank":
                self.issue("missing", "blank cell", row, key)
            elif parsed.status == "suppressed":
                self.issue("missing", "suppressed or not-available marker", row, key, repr(parsed.text))
            else:
                self.issue("missing", "not a number (or negative, or above 10^12)", row, key, repr(parsed.text))
        return None

    def whole(self, row: Row, key: str) -> int | None:
        """The cell as a whole number, or None (a fraction is recorded as missing)."""
        value = self.number(row, key)
        if value is None:
            return None
        if value.denominator != 1:
            self.issue("missing", "not a whole number", row, key, str(float(value)))
            return None
        return int(value)

    def observe(
        self,
        org: str,
        metric: str,
        month: int,
        lines: tuple[int, ...],
        *,
        numerator: Fraction | int | None = None,
        denominator: Fraction | int | None = None,
        value: Fraction | int | None = None,
        note: str | None = None,
    ) -> None:
        """Hand one observation to the builder; its rows count as used if it is stored.

        A proportion or rate over a zero denominator is not stored: 0 of 0 is a month with no
        activity (reported under ``no_activity``, its rows not needed), and a non-zero numerator
        over 0 is an error in the file (missing, its rows skipped).
        """
        where = lines[0] if lines else None
        if value is None and denominator is not None and denominator == 0:
            detail = f"{org} {metric} {format_month(month)}"
            if numerator is not None and numerator == 0:
                self.summary.no_activity[metric] += 1
                self.issue("no_activity", f"{metric}: no activity (0 of 0)", where, detail=detail)
                self.ignore(lines, NO_ACTIVITY)
            else:
                self.issue("missing", ZERO_DENOMINATOR, where, detail=f"{detail}: {numerator} of 0")
                self.leave_out(lines, ZERO_DENOMINATOR)
            return
        outcome = self.builder.observe(self, org, metric, month, lines, numerator, denominator, value, note)
        if outcome == "stored":
            for line in lines:
                self._stored.setdefault(line, set()).add((org, metric, month))
        else:
            self.leave_out(lines, SAME_OBSERVATION if outcome == "duplicate" else OTHER_FILE_DIFFERS)

    def revoke(self, key: _ObsKey, lines: Iterable[int], reason: str) -> None:
        """Take back a stored observation (another file conflicts with it, or a count is too large):
        its rows are used no longer unless another observation of theirs is stored."""
        for line in lines:
            self._stored.get(line, set()).discard(key)
            if line in self._read:
                self._skipped.setdefault(line, reason)
        if self._finished:
            self.finish()

    def disposition(self, line: int) -> tuple[str, str] | None:
        """(disposition, reason) of a data row as things stand, or None if the line is not a data row."""
        if line not in self._read:
            return None
        stored = self._stored.get(line)
        if stored:
            return "used", ", ".join(sorted({metric for _, metric, _ in stored}))
        if line in self._not_needed:
            return "not needed", self._not_needed[line]
        if line in self._skipped:
            return "skipped", self._skipped[line]
        return "skipped", MISSING_VALUE if line in self._missing else UNACCOUNTED

    def finish(self) -> None:
        """Close the file's counts: every data row read in exactly one of used, not needed and skipped."""
        self._finished = True
        groups: dict[str, dict[str, RowGroup]] = {"used": {}, "not needed": {}, "skipped": {}}
        for line in self._read:
            found = self.disposition(line)
            assert found is not None
            disposition, reason = found
            groups[disposition].setdefault(reason, RowGroup()).add(line)
        st = self.stats
        st.used, st.not_needed, st.skipped = groups["used"], groups["not needed"], groups["skipped"]
        st.rows_read = len(self._read)
        st.rows_used = sum(g.rows for g in st.used.values())
        st.rows_ignored = sum(g.rows for g in st.not_needed.values())
        st.rows_skipped = sum(g.rows for g in st.skipped.values())


def _lines(where: Row | int | Iterable[int]) -> Iterable[int]:
    if isinstance(where, Row):
        return (where.line,)
    if isinstance(where, int):
        return (where,)
    return where


class Dedup:
    """Detect rows repeated within a file: the same key with the same values, or different values."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, tuple[int, tuple[str, ...]]] = {}

    def check(self, key: Hashable, signature: tuple[str, ...], line: int) -> tuple[str, int]:
        """("new" | "duplicate" | "conflict", line of the first row with this key)."""
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = (line, signature)
            return "new", line
        return ("duplicate" if first[1] == signature else "conflict"), first[0]


_Seen = tuple[str, int]
"""(file, line) where something was read."""


@attrs.define
class _Org:
    code: str
    ref: OrgRef | None = None
    kinds: dict[str, _Seen] = attrs.Factory(dict)
    """Kind of file -> the first place the organisation appears in one."""
    shown: dict[str, tuple[_Seen, str]] = attrs.Factory(dict)
    """Type -> where the statistics show it, and how."""
    names: dict[str, _Seen] = attrs.Factory(dict)
    regions: dict[str, _Seen] = attrs.Factory(dict)
    """Region code -> where a statistics file names it."""
    parents: dict[str, _Seen] = attrs.Factory(dict)
    services: set[str] | None = None
    inferred: set[str] = attrs.Factory(set)
    type: str = ""
    name: str | None = None
    region: str | None = None
    parent: str | None = None
    provenance: dict[str, dict[str, Any]] = attrs.Factory(dict)


def _earlier(seen: dict[str, _Seen], key: str, where: _Seen) -> None:
    """Keep the first place (by file, then line) ``key`` was seen: the same whatever the file order."""
    if key not in seen or where < seen[key]:
        seen[key] = where


def _earlier_shown(shown: dict[str, tuple[_Seen, str]], org_type: str, value: tuple[_Seen, str]) -> None:
    if org_type not in shown or value[0] < shown[org_type][0]:
        shown[org_type] = value


def _region_text(code: str) -> str:
    name = REGIONS.get(code)
    return f"{name} ({code})" if name else code


def _put_region(doc: dict[str, Any], code: str | None) -> None:
    if code is None:
        return
    doc["region_code"] = code
    if code in REGIONS:
        doc["region"] = REGIONS[code]


def _clip(provenance: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[:1000] if isinstance(v, str) else v) for k, v in provenance.items()}


def _at(where: _Seen) -> str:
    return f"{where[0]}:{where[1]}"


_ASSUMED_TYPE = {"ambulance": "ambulance_trust"}
"""The type assumed for an organisation no reference file types, by the kind of file it appears in
(acute_trust otherwise); an assumption, marked unconfirmed in the state."""

_SHOWN_BY = {
    "ambulance_trust": "a provider in the Ambulance Quality Indicators (AmbSYS) is an ambulance service",
    "acute_trust": "it had Type 1 (major emergency department) A&E attendances, which only acute trusts provide",
}


@attrs.define
class _Entry:
    numerator: Fraction | None
    denominator: Fraction | None
    value: Fraction | None
    file: str
    lines: tuple[int, ...]
    note: str | None
    source: FileContext | None = attrs.field(default=None, eq=False, repr=False)
    """The file the observation came from (told when the observation is taken back)."""

    def same(self, other: _Entry) -> bool:
        return (self.numerator, self.denominator, self.value) == (other.numerator, other.denominator, other.value)


def _frac(v: Fraction | int | None) -> Fraction | None:
    return None if v is None else Fraction(v)


class StateBuilder:
    """Collects organisations and observations from every file, then writes the state document.

    Nothing depends on the order of the files: each detail of an organisation (type, name,
    region, parent ICB) is settled when the state is built, from everything read (the reference
    first, then what the statistics show), and a disagreement is reported with both values and
    the rule that settled it.
    """

    def __init__(self, reference: Reference | None, summary: ImportSummary, *, infer_services: bool = False) -> None:
        self.reference = reference
        self.summary = summary
        self.infer_services = infer_services
        self.orgs: dict[str, _Org] = {}
        self.entries: dict[tuple[str, str, int], _Entry] = {}
        self.conflicted: set[tuple[str, str, int]] = set()
        self.icb_names: dict[str, dict[str, _Seen]] = {}
        self.files: list[str] = []
        self.cohorts: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        """(scope, types) -> the evidence, per file, that the state holds that cohort completely."""

    def declare_complete(self, scope: str, types: tuple[str, ...], source: str) -> None:
        """Record that a file shows the state holds every organisation of ``types`` in ``scope``."""
        self.cohorts.setdefault((scope, types), []).append(source)

    # ----------------------------------------------------------------- organisations

    def admit(
        self,
        ctx: FileContext,
        row: Row,
        code: str,
        *,
        name: str | None = None,
        region: str | None = None,
        icb: str | None = None,
        icb_name: str | None = None,
    ) -> str | None:
        """The organisation id for a row's code, or None if its rows are not imported (recorded).

        ``region`` is the file's text for the region (a code or a name); ``icb`` the parent ICB's
        code where the file gives one. What the organisation *is* is settled in ``build``.
        """
        code = code.strip().upper()
        if not is_ods_code(code):
            ctx.skip(row, BAD_CODE, repr(code))
            return None
        org = self.orgs.get(code)
        if org is None:
            org = self._new_org(ctx, row, code)
            if org is None:
                return None
            self.orgs[code] = org
        where = (ctx.file, row.line)
        _earlier(org.kinds, ctx.kind, where)
        if name:
            _earlier(org.names, name, where)
        if region:
            found = find_region(region)
            if found is not None:
                _earlier(org.regions, found.code, where)
        if icb:
            icb = icb.strip().upper()
            if not is_ods_code(icb) or icb == code:
                ctx.issue(
                    "warning",
                    "parent ICB code not recognised: left out",
                    row,
                    detail=f"{code}: {icb!r}",
                    once=("badicb", code, icb),
                )
            else:
                _earlier(org.parents, icb, where)
                if icb_name:
                    _earlier(self.icb_names.setdefault(icb, {}), icb_name, where)
        return code

    def show_type(self, ctx: FileContext, row: Row, org: str, org_type: str) -> None:
        """Record that a file's figures show what ``org`` is (``_SHOWN_BY`` says how)."""
        _earlier_shown(self.orgs[org].shown, org_type, ((ctx.file, row.line), _SHOWN_BY[org_type]))

    def _new_org(self, ctx: FileContext, row: Row, code: str) -> _Org | None:
        ref = self.reference.get(code) if self.reference is not None else None
        if self.reference is not None and self.reference.lists_organisations:
            if ref is None:
                ctx.issue("skipped", NOT_IN_REFERENCE, row, detail=code, once=("notref", code))
                return None
        elif len(code) != 3 or code[0] not in _NHS_TRUST_CODE:
            ctx.issue("skipped", NOT_A_TRUST, row, detail=code, once=("nottrust", code))
            return None
        services = set(ref.services) if ref is not None and ref.services is not None else None
        return _Org(code, ref, services=services)

    def infer_service(self, org: str, service: str) -> None:
        """Record that the files show the organisation providing a service (used with infer_services)."""
        self.orgs[org].inferred.add(service)

    def _settle(self) -> None:
        """Settle each organisation's type, name, region and parent from everything read."""
        where = ", ".join(sorted(self.files))
        for code in sorted(self.orgs):
            org = self.orgs[code]
            ref = org.ref
            self._settle_type(org, ref)
            self._settle_name(org, ref)
            self._settle_region(org, ref, where)
            self._settle_parent(org, ref, where)

    def _warn(self, reason: str, detail: str, file: str | None = None, line: int | None = None) -> None:
        self.summary.add(ImportIssue("warning", reason, file or ", ".join(sorted(self.files)), line, detail=detail))

    def _settle_type(self, org: _Org, ref: OrgRef | None) -> None:
        shown = sorted(org.shown.items(), key=lambda kv: kv[1])
        if ref is not None and ref.type is not None:
            source = ref.sources["type"]
            org.type = ref.type
            org.provenance["type"] = {"source": source.where(), "basis": source.basis}
            for org_type, (seen, how) in shown:
                if org_type != ref.type:
                    self.summary.add(
                        ImportIssue(
                            "conflict",
                            "the statistics show another type than the reference (the reference is kept)",
                            seen[0],
                            seen[1],
                            detail=f"{org.code}: reference {ref.type} ({source.where()}); the file shows "
                            f"{org_type} ({how})",
                        )
                    )
            return
        if len(shown) == 1:
            org_type, (seen, how) = shown[0]
            org.type = org_type
            org.provenance["type"] = {"source": _at(seen), "basis": how}
            return
        kinds = sorted(org.kinds.items(), key=lambda kv: kv[1])
        first_kind, first_seen = kinds[0]
        org.type = _ASSUMED_TYPE.get(first_kind, "acute_trust")
        if shown:
            basis = (
                "the statistics show two types ("
                + "; ".join(f"{t} at {_at(s)}: {how}" for t, (s, how) in shown)
                + f"), so neither is confirmed; {org.type} assumed"
            )
            self.summary.add(
                ImportIssue(
                    "conflict",
                    "the statistics show two types (type not confirmed)",
                    shown[0][1][0][0],
                    shown[0][1][0][1],
                    detail=f"{org.code}: {basis}",
                )
            )
        else:
            basis = (
                f"no reference file types it, and a {', '.join(k for k, _ in kinds)} file does not show what it is: "
                f"{org.type} assumed"
            )
        org.provenance["type"] = {"source": _at(first_seen), "basis": basis, "confirmed": False}
        self._warn(
            "type not confirmed (assumed): every outcome for the organisation is unknown until a reference "
            "file (--reference) gives its type",
            f"{org.code}: {org.type}",
            *first_seen,
        )

    def _settle_name(self, org: _Org, ref: OrgRef | None) -> None:
        if ref is not None and ref.name is not None:
            org.name = ref.name
            org.provenance["name"] = {"source": ref.sources["name"].where(), "basis": ref.sources["name"].basis}
        elif org.names:
            name, seen = min(org.names.items(), key=lambda kv: kv[1])
            org.name = name
            org.provenance["name"] = {"source": _at(seen), "basis": "the statistics file's organisation name"}

    def _settle_region(self, org: _Org, ref: OrgRef | None, where: str) -> None:
        given = ref.region_code if ref is not None else None
        org.region = self._settle_place(org, "region", "region", given, ref, org.regions, _region_text, where)

    def _settle_parent(self, org: _Org, ref: OrgRef | None, where: str) -> None:
        given = ref.icb if ref is not None else None
        org.parent = self._settle_place(org, "parent", "parent ICB", given, ref, org.parents, str, where)

    def _settle_place(
        self,
        org: _Org,
        detail: str,
        what: str,
        given: str | None,
        ref: OrgRef | None,
        seen: dict[str, _Seen],
        show: Callable[[str], str],
        where: str,
    ) -> str | None:
        """The region or parent ICB: the reference's (a file that differs is a reported conflict),
        else the one value the statistics give, else none (two values are a conflict, neither used)."""
        ordered = sorted(seen.items(), key=lambda kv: kv[1])
        if given is not None and ref is not None:
            source = ref.sources[detail]
            org.provenance[detail] = {"source": source.where(), "basis": source.basis}
            for value, at in ordered:
                if value != given:
                    self.summary.add(
                        ImportIssue(
                            "conflict",
                            f"the statistics give another {what} than the reference (the reference is kept)",
                            at[0],
                            at[1],
                            detail=f"{org.code}: reference {show(given)} ({source.where()}); the file: {show(value)}",
                        )
                    )
            return given
        if len(ordered) == 1:
            org.provenance[detail] = {"source": _at(ordered[0][1]), "basis": f"the statistics file's {what}"}
            return ordered[0][0]
        if ordered:
            self.summary.add(
                ImportIssue(
                    "conflict",
                    f"the files give the organisation two {what}s (neither used)",
                    where,
                    detail=f"{org.code}: " + "; ".join(f"{show(c)} at {_at(s)}" for c, s in ordered),
                )
            )
        return None

    # ----------------------------------------------------------------- observations

    def observe(
        self,
        ctx: FileContext,
        org: str,
        metric: str,
        month: int,
        lines: tuple[int, ...],
        numerator: Fraction | int | None,
        denominator: Fraction | int | None,
        value: Fraction | int | None,
        note: str | None,
    ) -> Outcome:
        """Store an observation, or say why not: it duplicates or conflicts with another file's
        (a conflict also takes back the other file's observation)."""
        key = (org, metric, month)
        entry = _Entry(_frac(numerator), _frac(denominator), _frac(value), ctx.file, lines, note, ctx)
        where = lines[0] if lines else None
        detail = f"{org} {metric} {format_month(month)}"
        if key in self.conflicted:
            ctx.issue("conflict", OTHER_FILE_DIFFERS, where, detail=detail)
            return "conflict"
        existing = self.entries.get(key)
        if existing is None:
            self.entries[key] = entry
            return "stored"
        if existing.same(entry):
            ctx.issue("duplicate", SAME_OBSERVATION, where, detail=f"{detail}; first in {existing.file}")
            return "duplicate"
        del self.entries[key]
        self.conflicted.add(key)
        if existing.source is not None:
            existing.source.revoke(key, existing.lines, OTHER_FILE_DIFFERS)
        ctx.issue("conflict", OTHER_FILE_DIFFERS, where, detail=f"{detail}; other value in {existing.file}")
        return "conflict"

    # ----------------------------------------------------------------- the state

    def build(self, as_of: dt.date | None, metric_kinds: dict[str, str]) -> dict[str, Any]:
        """The state document (plain JSON data)."""
        series: dict[tuple[str, str], dict[int, _Entry]] = {}
        for (code, metric, month), entry in self.entries.items():
            series.setdefault((code, metric), {})[month] = entry
        if as_of is None and self.entries:
            latest = max(month for _, _, month in self.entries)
            year, mon = divmod(latest + 1, 12)
            as_of = dt.date(year, mon + 1, 1)
        self._reference_issues()
        self._settle()
        parents = self._parents()
        orgs_out: list[dict[str, Any]] = []
        for code in sorted(parents.keys() - self.orgs.keys()):
            orgs_out.append(self._icb(code))
        no_services: list[str] = []
        inferred_for: list[str] = []
        for code in sorted(self.orgs, key=lambda c: (self.orgs[c].type != "icb", c)):
            org = self.orgs[code]
            doc: dict[str, Any] = {"id": code, "type": org.type}
            if org.name:
                doc["name"] = org.name[:300]
            if org.parent is not None and org.parent in parents:
                doc["parent"] = org.parent
            else:
                org.provenance.pop("parent", None)
            _put_region(doc, org.region)
            services = set(org.services) if org.services is not None else None
            if self.infer_services and org.inferred:
                if not org.inferred <= (services or set()):
                    inferred_for.append(code)
                services = (services or set()) | org.inferred
            if services is not None:
                doc["services"] = sorted(services)
            if org.provenance:
                doc["provenance"] = {k: _clip(v) for k, v in sorted(org.provenance.items())}
            metrics: dict[str, list[dict[str, Any]]] = {}
            for metric in sorted({m for (o, m) in series if o == code}):
                observations = self._series(code, metric, series[(code, metric)], metric_kinds.get(metric))
                if observations:
                    metrics[metric] = observations
            if metrics:
                doc["metrics"] = metrics
                if services is None and any(m.startswith("ae_") for m in metrics):
                    no_services.append(code)
            orgs_out.append(doc)
        self._service_warnings(no_services, inferred_for)
        self.summary.organisations = len(orgs_out)
        self.summary.icbs = sum(1 for o in orgs_out if o["type"] == "icb")
        self.summary.as_of = as_of.isoformat() if as_of else None
        state: dict[str, Any] = {}
        if as_of is not None:
            state["as_of"] = as_of.isoformat()
        files = ", ".join(sorted(self.files))
        state["description"] = (
            f"Imported by policy-engine from NHS England published statistics: {files}. "
            "Values the files suppress or leave blank are missing (rules give unknown)."
        )[:10000]
        cohorts = self._complete_cohorts()
        if cohorts:
            state["cohorts"] = cohorts
        state["organisations"] = orgs_out
        return state

    def _complete_cohorts(self) -> list[dict[str, Any]]:
        """The cohorts the files show complete, unless an organisation of their types is unconfirmed."""
        out: list[dict[str, Any]] = []
        for (scope, types), sources in sorted(self.cohorts.items()):
            unsure = sorted(
                code for code, org in self.orgs.items() if org.type in types and "confirmed" in org.provenance["type"]
            )
            if unsure:
                self._warn(
                    f"the {scope} cohort of {', '.join(types)} is not declared complete: the types of some "
                    "organisations in it are not confirmed, so rules that rank within it give unknown",
                    ", ".join(unsure[:20]) + (" ..." if len(unsure) > 20 else ""),
                )
                continue
            out.append({"scope": scope, "types": list(types), "source": "; ".join(sorted(sources))[:2000]})
        return out

    def _icb(self, code: str) -> dict[str, Any]:
        """An ICB the state holds because an organisation names it as its parent."""
        icb: dict[str, Any] = {"id": code, "type": "icb"}
        provenance: dict[str, dict[str, Any]] = {}
        ref = self.reference.get(code) if self.reference is not None else None
        names = self.icb_names.get(code, {})
        if ref is not None and ref.name:
            icb["name"] = ref.name[:300]
            provenance["name"] = {"source": ref.sources["name"].where(), "basis": ref.sources["name"].basis}
        elif names:
            name, seen = min(names.items(), key=lambda kv: kv[1])
            icb["name"] = name[:300]
            provenance["name"] = {"source": _at(seen), "basis": "the statistics file's parent name"}
        if ref is not None and ref.region_code:
            _put_region(icb, ref.region_code)
            provenance["region"] = {"source": ref.sources["region"].where(), "basis": ref.sources["region"].basis}
        if ref is not None and ref.type == "icb":
            provenance["type"] = {"source": ref.sources["type"].where(), "basis": ref.sources["type"].basis}
        else:
            child = min(c for c, o in self.orgs.items() if o.parent == code)
            provenance["type"] = {
                "source": self.orgs[child].provenance["parent"]["source"],
                "basis": f"the parent ICB of {child}",
            }
        icb["provenance"] = {k: _clip(v) for k, v in sorted(provenance.items())}
        return icb

    def _reference_issues(self) -> None:
        if self.reference is None:
            return
        for conflict in self.reference.conflicts:
            self.summary.add(
                ImportIssue(
                    "conflict",
                    "reference files disagree (settled by the order of trust; the more trusted is kept)",
                    conflict.kept_from.file,
                    conflict.kept_from.line,
                    detail=conflict.describe(),
                )
            )
        for note in self.reference.notes:
            self.summary.add(
                ImportIssue(
                    "warning", f"reference row not used: {note.reason}", note.file, note.line, detail=note.detail
                )
            )

    def _parents(self) -> dict[str, str]:
        """ICB code -> "" for every parent that can be written (others dropped with a warning)."""
        out: dict[str, str] = {}
        for code in sorted(self.orgs):
            org = self.orgs[code]
            if org.parent is None:
                continue
            known = self.orgs.get(org.parent)
            ref = self.reference.get(org.parent) if self.reference is not None else None
            if (known is not None and known.type != "icb") or (ref is not None and ref.type not in (None, "icb")):
                self._warn("parent is not an ICB: left out", f"{org.code} -> {org.parent}")
                org.parent = None
                continue
            out[org.parent] = ""
        return out

    def _series(self, org: str, metric: str, months: dict[int, _Entry], kind: str | None) -> list[dict[str, Any]]:
        scale = 1
        if kind in ("proportion", "rate"):
            for e in months.values():
                for f in (e.numerator, e.denominator):
                    if f is not None:
                        scale = math.lcm(scale, f.denominator)
        out: list[dict[str, Any]] = []
        for month in sorted(months):
            e = months[month]
            obs: dict[str, Any] = {"period": format_month(month)}
            notes = [e.note] if e.note else []
            numbers = [
                x * (scale if e.value is None else 1) for x in (e.numerator, e.denominator, e.value) if x is not None
            ]
            if any(abs(x) > MAX_COUNT for x in numbers):
                reason = f"a count above {MAX_COUNT} (the state's limit): left out"
                self.summary.add(
                    ImportIssue(
                        "missing",
                        reason,
                        e.file,
                        e.lines[0] if e.lines else None,
                        detail=f"{org} {metric} {format_month(month)}",
                    )
                )
                if e.source is not None:
                    e.source.revoke((org, metric, month), e.lines, reason)
                continue
            if e.value is not None:
                obs["value"] = int(e.value) if e.value.denominator == 1 else float(e.value)
            else:
                assert e.numerator is not None and e.denominator is not None
                obs["numerator"] = int(e.numerator * scale)
                obs["denominator"] = int(e.denominator * scale)
                if scale != 1:
                    notes.append(_SCALE_NOTE.format(k=scale))
            if notes:
                obs["note"] = "; ".join(notes)[:1000]
            out.append(obs)
            self.summary.observations[metric] += 1
        return out

    def _service_warnings(self, no_services: list[str], inferred_for: list[str]) -> None:
        where = self.files[0] if self.files else ""
        if no_services:
            self.summary.add(
                ImportIssue(
                    "warning",
                    "no services declared, so rules that check has_service() (uec.ae-4h-78, the Type 1 "
                    "incentive) will be unknown: add a services column to the reference table, or infer "
                    "A&E services from the attendances",
                    where,
                    detail=", ".join(no_services[:20]) + (" ..." if len(no_services) > 20 else ""),
                )
            )
        if inferred_for:
            self.summary.add(
                ImportIssue(
                    "warning",
                    "A&E services inferred from attendances: these organisations now declare a service list, so "
                    "any service not in it (e.g. maternity) reads as not provided",
                    where,
                    detail=", ".join(inferred_for[:20]) + (" ..." if len(inferred_for) > 20 else ""),
                )
            )

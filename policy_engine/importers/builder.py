"""Merge what the importers read into one system state: organisations, parents and observations.

Importers read a file through a :class:`FileContext` (which counts rows and records issues) and
hand the builder one observation per organisation, metric and month. The builder admits
organisations (from the reference table, or by ODS code pattern without one), merges files (the
same observation twice is counted once; two different values for it are a conflict and neither is
used), and writes the state document.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Iterator
from fractions import Fraction
from typing import Any

import attrs

from ..language.months import format_month
from .reference import Reference
from .summary import FileStats, ImportIssue, ImportSummary, IssueKind
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

_SCALE_NOTE = (
    "counts x{k}: the published figures include fractions of a patient (a pathway shared by two providers "
    "counts 0.5 at each), so numerator and denominator are both multiplied by {k} to keep them whole"
)


class FileContext:
    """One file being imported: its table, row counts, and issue recording."""

    def __init__(self, table: Table, kind: str, summary: ImportSummary, builder: StateBuilder) -> None:
        self.table = table
        self.kind = kind
        self.summary = summary
        self.builder = builder
        self.stats = FileStats(table.file, kind, table.layout.name, table.encoding)
        summary.files.append(self.stats)
        self._separator_rows: set[int] = set()
        self._used: set[int] = set()
        self._once: set[Hashable] = set()
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
        reference table" per organisation and file, not one per row).
        """
        if once is not None:
            if once in self._once:
                return
            self._once.add(once)
        line = where.line if isinstance(where, Row) else where
        heading = self.table.heading(column) if column is not None else None
        self.summary.add(ImportIssue(kind, reason, self.file, line, heading, detail))

    def ignore(self, reason: str) -> None:
        """Count a valid row that no metric needs."""
        self.stats.rows_ignored += 1
        self.summary.ignored[reason] += 1

    def skip(self, row: Row, reason: str, detail: str | None = None, column: str | None = None) -> None:
        """Record a skipped row."""
        self.issue("skipped", reason, row, column, detail)

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

    def use(self, *lines: int) -> None:
        """Mark rows as having gone into an observation."""
        self._used.update(lines)

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
        """Hand one observation to the builder; its rows count as used."""
        if self.builder.observe(self, org, metric, month, lines, numerator, denominator, value, note):
            self.use(*lines)

    def finish(self) -> None:
        """Close the file's counts."""
        self.stats.rows_used = len(self._used)


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


@attrs.define
class _Org:
    code: str
    type: str
    name: str | None = None
    region: str | None = None
    parent: str | None = None
    services: set[str] | None = None
    inferred: set[str] = attrs.Factory(set)


@attrs.define
class _Entry:
    numerator: Fraction | None
    denominator: Fraction | None
    value: Fraction | None
    file: str
    lines: tuple[int, ...]
    note: str | None

    def same(self, other: _Entry) -> bool:
        return (self.numerator, self.denominator, self.value) == (other.numerator, other.denominator, other.value)


def _frac(v: Fraction | int | None) -> Fraction | None:
    return None if v is None else Fraction(v)


class StateBuilder:
    """Collects organisations and observations from every file, then writes the state document."""

    def __init__(self, reference: Reference | None, summary: ImportSummary, *, infer_services: bool = False) -> None:
        self.reference = reference
        self.summary = summary
        self.infer_services = infer_services
        self.orgs: dict[str, _Org] = {}
        self.entries: dict[tuple[str, str, int], _Entry] = {}
        self.conflicted: set[tuple[str, str, int]] = set()
        self.icb_names: dict[str, str] = {}
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
        default_type: str,
        name: str | None = None,
        region: str | None = None,
        icb: str | None = None,
        icb_name: str | None = None,
    ) -> str | None:
        """The organisation id for a row's code, or None if its rows are not imported (recorded)."""
        code = code.strip().upper()
        if not is_ods_code(code):
            ctx.skip(row, BAD_CODE, repr(code))
            return None
        org = self.orgs.get(code)
        if org is None:
            org = self._new_org(ctx, row, code, default_type)
            if org is None:
                return None
            self.orgs[code] = org
        elif org.type != default_type and self.reference is None:
            ctx.issue(
                "warning",
                "organisation type differs between files without a reference table (first kept)",
                row,
                detail=f"{code}: {org.type}, not {default_type}",
                once=("type", code),
            )
        if name and not org.name:
            org.name = name
        if region and not org.region:
            org.region = region
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
                icb = None
        if icb:
            if icb_name:
                self.icb_names.setdefault(icb, icb_name)
            if org.parent is None:
                org.parent = icb
            elif org.parent != icb:
                ctx.issue(
                    "warning",
                    "the file's parent ICB differs from the one already known (the first is kept)",
                    row,
                    detail=f"{code}: {icb}, kept {org.parent}",
                    once=("parent", code, icb),
                )
        return code

    def _new_org(self, ctx: FileContext, row: Row, code: str, default_type: str) -> _Org | None:
        if self.reference is not None:
            ref = self.reference.get(code)
            if ref is None:
                ctx.issue("skipped", NOT_IN_REFERENCE, row, detail=code, once=("notref", code))
                return None
            services = set(ref.services) if ref.services is not None else None
            return _Org(code, ref.type, ref.name, ref.region, ref.icb, services)
        if len(code) != 3 or code[0] not in _NHS_TRUST_CODE:
            ctx.issue("skipped", NOT_A_TRUST, row, detail=code, once=("nottrust", code))
            return None
        ctx.issue(
            "warning",
            "no reference table: organisation type assumed from the kind of file",
            row,
            detail=f"{code}: {default_type}",
            once=("assumed", code),
        )
        return _Org(code, default_type)

    def infer_service(self, org: str, service: str) -> None:
        """Record that the files show the organisation providing a service (used with infer_services)."""
        self.orgs[org].inferred.add(service)

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
    ) -> bool:
        """Store an observation; False if it duplicates or conflicts with another file's."""
        key = (org, metric, month)
        entry = _Entry(_frac(numerator), _frac(denominator), _frac(value), ctx.file, lines, note)
        where = lines[0] if lines else None
        detail = f"{org} {metric} {format_month(month)}"
        if key in self.conflicted:
            ctx.issue("conflict", "another file gives a different value (neither used)", where, detail=detail)
            return False
        existing = self.entries.get(key)
        if existing is None:
            self.entries[key] = entry
            return True
        if existing.same(entry):
            ctx.issue(
                "duplicate",
                "the same observation in two files (kept once)",
                where,
                detail=f"{detail}; first in {existing.file}",
            )
            return False
        del self.entries[key]
        self.conflicted.add(key)
        ctx.issue(
            "conflict",
            "another file gives a different value (neither used)",
            where,
            detail=f"{detail}; other value in {existing.file}",
        )
        return False

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
        parents = self._parents()
        orgs_out: list[dict[str, Any]] = []
        for code in sorted(parents.keys() - self.orgs.keys()):
            icb: dict[str, Any] = {"id": code, "type": "icb"}
            ref = self.reference.get(code) if self.reference is not None else None
            name = (ref.name if ref is not None else None) or self.icb_names.get(code)
            if name:
                icb["name"] = name
            if ref is not None and ref.region:
                icb["region"] = ref.region
            orgs_out.append(icb)
        no_services: list[str] = []
        inferred_for: list[str] = []
        for code in sorted(self.orgs, key=lambda c: (self.orgs[c].type != "icb", c)):
            org = self.orgs[code]
            doc: dict[str, Any] = {"id": code, "type": org.type}
            if org.name:
                doc["name"] = org.name[:300]
            if org.parent is not None and org.parent in parents:
                doc["parent"] = org.parent
            if org.region:
                doc["region"] = org.region[:100]
            services = set(org.services) if org.services is not None else None
            if self.infer_services and org.inferred:
                if not org.inferred <= (services or set()):
                    inferred_for.append(code)
                services = (services or set()) | org.inferred
            if services is not None:
                doc["services"] = sorted(services)
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
        files = ", ".join(self.files)
        state["description"] = (
            f"Imported by policy-engine from NHS England published statistics: {files}. "
            "Values the files suppress or leave blank are missing (rules give unknown)."
        )[:10000]
        if self.cohorts:
            state["cohorts"] = [
                {"scope": scope, "types": list(types), "source": "; ".join(sources)[:2000]}
                for (scope, types), sources in sorted(self.cohorts.items())
            ]
        state["organisations"] = orgs_out
        return state

    def _parents(self) -> dict[str, str]:
        """ICB code -> name-or-"" for every parent that can be written (others dropped with a warning)."""
        out: dict[str, str] = {}
        for org in self.orgs.values():
            if org.parent is None:
                continue
            known = self.orgs.get(org.parent)
            ref = self.reference.get(org.parent) if self.reference is not None else None
            if (known is not None and known.type != "icb") or (ref is not None and ref.type != "icb"):
                self.summary.add(
                    ImportIssue(
                        "warning",
                        "parent is not an ICB: left out",
                        self.files[0] if self.files else "",
                        detail=f"{org.code} -> {org.parent}",
                    )
                )
                org.parent = None
                continue
            out[org.parent] = self.icb_names.get(org.parent, "")
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
                self.summary.add(
                    ImportIssue(
                        "missing",
                        f"a count above {MAX_COUNT} (the state's limit): left out",
                        e.file,
                        e.lines[0] if e.lines else None,
                        detail=f"{org} {metric} {format_month(month)}",
                    )
                )
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

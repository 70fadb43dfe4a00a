"""What an import did: every row read, used, not needed or skipped, and every issue with its reason.

Each data row of a file (the non-blank rows after the header) is in exactly one of three groups,
each broken down by reason with its lines (:class:`FileStats`):

* **used**: at least one observation stored in the state came from the row (by metric);
* **not needed**: a valid row that no metric needs (another cancer standard, a breakdown whose
  total is used, a month with no activity, ...);
* **skipped**: a row that could have given an observation but did not (a total row, an organisation
  not imported, a missing value, a duplicate or a conflict).

So ``rows_read == rows_used + rows_ignored + rows_skipped`` for every file. Issues (a suppressed
cell, a repaired band, an organisation not in the reference table) are recorded separately, some
once per organisation: the row counts count rows, the issues explain them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

import attrs

__all__ = [
    "DISPOSITIONS",
    "ISSUE_KINDS",
    "Disposition",
    "FileStats",
    "ImportIssue",
    "ImportSummary",
    "IssueKind",
    "RowGroup",
]

IssueKind = Literal["skipped", "repaired", "missing", "no_activity", "duplicate", "conflict", "warning"]

ISSUE_KINDS: tuple[IssueKind, ...] = (
    "skipped",
    "repaired",
    "missing",
    "no_activity",
    "duplicate",
    "conflict",
    "warning",
)
"""Issue kinds, in the order the text summary lists them.

``skipped``: a row not used (totals, footnotes, unknown organisations, rows that cannot be read);
``repaired``: a row used after a documented, lossless repair (thousands separators, blank bands read
as 0 because the row's own total proves them empty); ``missing``: a value left out, so the month is
missing data and the rules reading it give ``unknown``; ``no_activity``: a month with no activity (a
0 of 0 proportion or rate), not stored, so it too is missing data (docs/decisions/017-zero-activity.md),
grouped by metric; ``duplicate``: a row or observation seen
twice with the same values, counted once; ``conflict``: the same thing seen twice with different
values: neither is used, or (for an organisation's details) the reason says which was kept and by
what rule; ``warning``: anything else worth knowing (assumed types, layouts that
cannot give a metric)."""

Disposition = Literal["used", "not needed", "skipped"]
"""What became of a data row; a row touched several ways counts once: used, else not needed, else skipped."""

DISPOSITIONS: tuple[Disposition, ...] = ("used", "not needed", "skipped")

_HEADINGS: dict[IssueKind, str] = {
    "skipped": "Skipped (the issues; an organisation that is not imported is reported once for all its rows)",
    "repaired": "Repaired rows (used)",
    "missing": "Missing values (left out: the rules see missing data, so unknown)",
    "no_activity": "No activity (0 of 0: not stored, so the rules see missing data for the month)",
    "duplicate": "Duplicates (counted once)",
    "conflict": "Conflicts (each says what was left out or kept, and why)",
    "warning": "Warnings",
}

MAX_EXAMPLES = 25
"""Issues kept per (kind, reason) group; the count is always exact."""


@attrs.frozen
class ImportIssue:
    """One skipped, repaired or doubtful row: where it is and why."""

    kind: IssueKind
    reason: str
    file: str
    line: int | None = None
    column: str | None = None
    detail: str | None = None

    def location(self) -> str:
        """``file:line`` (with the column and detail when known)."""
        text = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column:
            text += f" [{self.column}]"
        if self.detail:
            text += f" {self.detail}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return attrs.asdict(self)


@attrs.define
class RowGroup:
    """Rows of one file with the same disposition and reason: the exact count and the first lines."""

    rows: int = 0
    lines: list[int] = attrs.Factory(list)
    """The first ``MAX_EXAMPLES`` line numbers (the file's own, from 1 at its first line)."""

    def add(self, line: int) -> None:
        """Count one more row."""
        self.rows += 1
        if len(self.lines) < MAX_EXAMPLES:
            self.lines.append(line)

    def describe(self, examples: int) -> str:
        """``12 (lines 4, 5, 9 and 9 more)``."""
        shown = ", ".join(str(n) for n in self.lines[:examples])
        more = f" and {self.rows - min(self.rows, examples)} more" if self.rows > examples else ""
        return f"{self.rows} (line{'' if self.rows == 1 else 's'} {shown}{more})"


@attrs.define
class FileStats:
    """Counts for one file: every data row read is in exactly one of used, not needed (``ignored``)
    and skipped, each broken down by reason (``used`` by the metrics the rows went into)."""

    file: str
    kind: str
    layout: str = ""
    encoding: str = ""
    rows_read: int = 0
    rows_used: int = 0
    rows_ignored: int = 0
    """Rows not needed for any metric."""
    rows_skipped: int = 0
    used: dict[str, RowGroup] = attrs.Factory(dict)
    """Used rows by the metric(s) they went into (``ae_4h_all, ae_4h_type1``)."""
    not_needed: dict[str, RowGroup] = attrs.Factory(dict)
    skipped: dict[str, RowGroup] = attrs.Factory(dict)

    def groups(self, disposition: Disposition) -> dict[str, RowGroup]:
        """The reasons of one disposition, with their rows."""
        return {"used": self.used, "not needed": self.not_needed, "skipped": self.skipped}[disposition]

    def accounted(self) -> bool:
        """Whether read = used + not needed + skipped, and each total is the sum of its reasons."""
        totals = (self.rows_used, self.rows_ignored, self.rows_skipped)
        return self.rows_read == sum(totals) and all(
            total == sum(g.rows for g in self.groups(d).values()) for d, total in zip(DISPOSITIONS, totals, strict=True)
        )


@attrs.define
class ImportSummary:
    """The outcome of an import, for the analyst: counts, and every problem grouped by reason.

    ``issues`` keeps up to ``MAX_EXAMPLES`` issues per (kind, reason); ``counts`` has the exact
    number of each. ``files`` accounts for every row of each file (:class:`FileStats`);
    ``no_activity`` counts the months of no activity left out, by metric.
    """

    files: list[FileStats] = attrs.Factory(list)
    issues: list[ImportIssue] = attrs.Factory(list)
    counts: Counter[tuple[IssueKind, str]] = attrs.Factory(Counter)
    no_activity: Counter[str] = attrs.Factory(Counter)
    organisations: int = 0
    icbs: int = 0
    observations: Counter[str] = attrs.Factory(Counter)
    as_of: str | None = None

    @property
    def rows_read(self) -> int:
        """Data rows read in every file (headers, preambles and blank lines excluded)."""
        return sum(f.rows_read for f in self.files)

    @property
    def rows_used(self) -> int:
        """Rows whose values went into at least one observation."""
        return sum(f.rows_used for f in self.files)

    @property
    def rows_ignored(self) -> int:
        """Valid rows no metric needs."""
        return sum(f.rows_ignored for f in self.files)

    @property
    def rows_skipped(self) -> int:
        """Rows that gave no observation (totals, organisations not imported, missing values, ...)."""
        return sum(f.rows_skipped for f in self.files)

    @property
    def ignored(self) -> Counter[str]:
        """Rows not needed for any metric, by reason, over every file."""
        return self._by_reason("not needed")

    @property
    def skipped(self) -> Counter[str]:
        """Skipped rows, by reason, over every file."""
        return self._by_reason("skipped")

    def _by_reason(self, disposition: Disposition) -> Counter[str]:
        out: Counter[str] = Counter()
        for f in self.files:
            for reason, group in f.groups(disposition).items():
                out[reason] += group.rows
        return out

    def add(self, issue: ImportIssue) -> None:
        """Record an issue (kept as an example while its group has fewer than ``MAX_EXAMPLES``)."""
        key = (issue.kind, issue.reason)
        if self.counts[key] < MAX_EXAMPLES:
            self.issues.append(issue)
        self.counts[key] += 1

    def count(self, kind: IssueKind, reason: str | None = None) -> int:
        """How many issues of this kind (and reason, if given) were recorded."""
        return sum(n for (k, r), n in self.counts.items() if k == kind and (reason is None or r == reason))

    def find(self, kind: IssueKind | None = None, reason_contains: str | None = None) -> list[ImportIssue]:
        """The recorded example issues, filtered by kind and/or a substring of the reason."""
        return [
            i
            for i in self.issues
            if (kind is None or i.kind == kind) and (reason_contains is None or reason_contains in i.reason)
        ]

    def _groups(self, kind: IssueKind) -> Iterator[tuple[str, int, list[ImportIssue]]]:
        for (k, reason), n in sorted(self.counts.items(), key=lambda kv: kv[0][1]):
            if k == kind:
                yield reason, n, [i for i in self.issues if i.kind == kind and i.reason == reason]

    def to_text(self, examples: int = 3) -> str:
        """A readable report (what the CLI prints to stderr)."""
        lines = [
            f"Import: {len(self.files)} file(s), {self.rows_read} rows read, {self.rows_used} used, "
            f"{self.rows_ignored} not needed, {self.rows_skipped} skipped."
        ]
        for f in self.files:
            lines.append(
                f"  {f.file} [{f.kind}: {f.layout}{'; ' + f.encoding if f.encoding else ''}]: "
                f"{f.rows_read} read: {f.rows_used} used, {f.rows_ignored} not needed, {f.rows_skipped} skipped"
            )
            for disposition in DISPOSITIONS:
                for reason, group in sorted(f.groups(disposition).items(), key=lambda rg: (-rg[1].rows, rg[0])):
                    lines.append(f"    {disposition}: {reason}: {group.describe(examples)}")
        obs = ", ".join(f"{m} {n}" for m, n in sorted(self.observations.items())) or "none"
        lines.append(
            f"State: {self.organisations} organisations ({self.icbs} ICB{'' if self.icbs == 1 else 's'}); "
            f"{sum(self.observations.values())} observations ({obs}); as_of {self.as_of or 'not set'}."
        )
        for kind in ISSUE_KINDS:
            groups = list(self._groups(kind))
            if not groups:
                continue
            lines.append(f"{_HEADINGS[kind]}:")
            for reason, n, found in groups:
                shown = "; ".join(i.location() for i in found[:examples])
                more = f"; and {n - min(n, examples)} more" if n > examples else ""
                lines.append(f"  - {reason}: {n} ({shown}{more})")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): counts, per-file statistics and the example issues."""
        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_ignored": self.rows_ignored,
            "rows_skipped": self.rows_skipped,
            "files": [attrs.asdict(f) for f in self.files],
            "ignored": dict(sorted(self.ignored.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "no_activity": dict(sorted(self.no_activity.items())),
            "counts": [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(self.counts.items())],
            "issues": [i.to_dict() for i in self.issues],
            "organisations": self.organisations,
            "icbs": self.icbs,
            "observations": dict(sorted(self.observations.items())),
            "as_of": self.as_of,
        }

"""What an import did: rows read and used, and every skipped, repaired or doubtful row with its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

import attrs

__all__ = ["ISSUE_KINDS", "FileStats", "ImportIssue", "ImportSummary", "IssueKind"]

IssueKind = Literal["skipped", "repaired", "missing", "duplicate", "conflict", "warning"]

ISSUE_KINDS: tuple[IssueKind, ...] = ("skipped", "repaired", "missing", "duplicate", "conflict", "warning")
"""Issue kinds, in the order the text summary lists them.

``skipped``: a row not used (totals, footnotes, unknown organisations, rows that cannot be read);
``repaired``: a row used after a documented, lossless repair (thousands separators, blank bands read
as 0 because the row's own total proves them empty); ``missing``: a value left out, so the month is
missing data and the rules reading it give ``unknown``; ``duplicate``: a row or observation seen
twice with the same values, counted once; ``conflict``: the same thing seen twice with different
values, so neither is used; ``warning``: anything else worth knowing (assumed types, layouts that
cannot give a metric)."""

_HEADINGS: dict[IssueKind, str] = {
    "skipped": "Skipped rows",
    "repaired": "Repaired rows (used)",
    "missing": "Missing values (left out: the rules see missing data, so unknown)",
    "duplicate": "Duplicates (counted once)",
    "conflict": "Conflicts (left out)",
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
class FileStats:
    """Counts for one file."""

    file: str
    kind: str
    layout: str = ""
    encoding: str = ""
    rows_read: int = 0
    rows_used: int = 0
    rows_ignored: int = 0


@attrs.define
class ImportSummary:
    """The outcome of an import, for the analyst: counts, and every problem grouped by reason.

    ``issues`` keeps up to ``MAX_EXAMPLES`` issues per (kind, reason); ``counts`` has the exact
    number of each. ``ignored`` counts rows that are valid but not needed for any metric (other
    cancer standards, completed RTT pathways, ...), by reason.
    """

    files: list[FileStats] = attrs.Factory(list)
    issues: list[ImportIssue] = attrs.Factory(list)
    counts: Counter[tuple[IssueKind, str]] = attrs.Factory(Counter)
    ignored: Counter[str] = attrs.Factory(Counter)
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
            f"{self.rows_ignored} not needed, {self.count('skipped')} skipped."
        ]
        for f in self.files:
            lines.append(
                f"  {f.file} [{f.kind}: {f.layout}{'; ' + f.encoding if f.encoding else ''}]: "
                f"{f.rows_read} read, {f.rows_used} used, {f.rows_ignored} not needed"
            )
        obs = ", ".join(f"{m} {n}" for m, n in sorted(self.observations.items())) or "none"
        lines.append(
            f"State: {self.organisations} organisations ({self.icbs} ICB{'' if self.icbs == 1 else 's'}); "
            f"{sum(self.observations.values())} observations ({obs}); as_of {self.as_of or 'not set'}."
        )
        if self.ignored:
            lines.append("Not needed for any metric:")
            lines.extend(f"  - {reason}: {n}" for reason, n in sorted(self.ignored.items()))
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
            "files": [attrs.asdict(f) for f in self.files],
            "ignored": dict(sorted(self.ignored.items())),
            "counts": [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(self.counts.items())],
            "issues": [i.to_dict() for i in self.issues],
            "organisations": self.organisations,
            "icbs": self.icbs,
            "observations": dict(sorted(self.observations.items())),
            "as_of": self.as_of,
        }

"""Verify a rulebook's quotes against copies of its guidance texts (``verify-sources``).

A rulebook's shipped texts are checked when it loads. A text kept outside the package (``shipped:
false``) cannot be: the rulebook records the sha256 of the copy its quotes were verified against,
and :func:`verify_sources` checks every rule and ledger quote against the copy an auditor names,
saying for each quote whether it was found, not found, or not verified because its text is not
available — never a silent pass (docs/decisions/033-rulebooks-per-planning-year.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import attrs

from ..errors import ErrorCode, ErrorDetail, RulebookError
from ..io.arguments import check_instance, check_path
from ..rulebook.loader import Rulebook
from ..rulebook.sources import quote_found

__all__ = ["QuoteCheck", "SourceCheck", "SourceReport", "verify_sources"]

MAX_SOURCE_BYTES = 16 * 1024 * 1024

SourceStatus = Literal["verified", "differs", "missing", "unreadable"]
QuoteStatus = Literal["found", "not found", "not verified"]


@attrs.frozen
class SourceCheck:
    """One guidance text: where it was looked for and whether it is the copy the rulebook was verified against."""

    document: str
    shipped: bool
    path: str
    status: SourceStatus
    """``verified`` (the sha256 the rulebook records), ``differs`` (another copy: its quotes are
    checked against it), ``missing`` or ``unreadable`` (not UTF-8, or too large)."""
    expected_sha256: str | None
    sha256: str | None = None
    detail: str = ""


@attrs.frozen
class QuoteCheck:
    """One quote of a rule or a ledger entry, and whether it is in its text."""

    kind: Literal["rule", "ledger"]
    id: str
    document: str
    quote: str
    status: QuoteStatus
    reason: str = ""


@attrs.frozen
class SourceReport:
    """Every source and every quote of a rulebook, checked."""

    rulebook: str
    version: str
    sources: tuple[SourceCheck, ...]
    quotes: tuple[QuoteCheck, ...]

    @property
    def ok(self) -> bool:
        """Every quote found (so every text it needs was available)."""
        return all(q.status == "found" for q in self.quotes)

    def counts(self) -> dict[str, int]:
        """Quotes by status."""
        out = {"found": 0, "not found": 0, "not verified": 0}
        for q in self.quotes:
            out[q.status] += 1
        return out

    def to_text(self) -> str:
        """The report as an auditor reads it: each text, then each quote not found or not verified."""
        lines = [f"Guidance texts of {self.rulebook} {self.version}:"]
        for s in self.sources:
            where = "shipped" if s.shipped else "external"
            digest = s.sha256 or "-" * 64
            note = {
                "verified": "the copy the quotes were verified against",
                "differs": f"a different copy (the rulebook was verified against {s.expected_sha256})",
                "missing": "not found",
                "unreadable": s.detail,
            }[s.status]
            lines.append(f"  {digest}  {s.document} ({where}) at {s.path}: {note}")
        for q in self.quotes:
            if q.status != "found":
                lines.append(f"  {q.status.upper()}: {q.kind} {q.id}: {q.reason} \u201c{q.quote[:100]}\u201d")
        c = self.counts()
        rules = sum(1 for q in self.quotes if q.kind == "rule")
        lines.append(
            f"{c['found']} of {len(self.quotes)} quotes found verbatim ({rules} of rules, "
            f"{len(self.quotes) - rules} of ledger entries); {c['not found']} not found, "
            f"{c['not verified']} not verified."
        )
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """The report as JSON: ``sources``, ``quotes`` (each with its status) and ``counts``."""
        doc: dict[str, Any] = {
            "rulebook": self.rulebook,
            "version": self.version,
            "ok": self.ok,
            "counts": self.counts(),
            "sources": [attrs.asdict(s) for s in self.sources],
            "quotes": [attrs.asdict(q) for q in self.quotes],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


NOT_SHIPPED = "(not shipped with the rulebook: no folder given)"
"""The path of an external text when no folder was given to look in."""


def _read(book: Rulebook, name: str, folder: Path | None) -> tuple[SourceCheck, str | None]:
    spec = book.source_specs[name]
    if folder is not None:
        entry: Any = folder / name
    elif spec.shipped:
        entry = book.folder / "sources" / name
    else:
        return SourceCheck(name, False, NOT_SHIPPED, "missing", spec.sha256), None
    where = str(entry)
    if not entry.is_file():
        return SourceCheck(name, spec.shipped, where, "missing", spec.sha256), None
    with entry.open("rb") as fh:
        raw = fh.read(MAX_SOURCE_BYTES + 1)
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > MAX_SOURCE_BYTES:
        return SourceCheck(
            name, spec.shipped, where, "unreadable", spec.sha256, digest, f"more than {MAX_SOURCE_BYTES} bytes"
        ), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SourceCheck(
            name, spec.shipped, where, "unreadable", spec.sha256, digest, f"not UTF-8 (byte {exc.start})"
        ), None
    expected = spec.sha256
    if expected is None and spec.shipped:  # a shipped text: the copy inside the rulebook
        shipped = book.folder / "sources" / name
        expected = hashlib.sha256(shipped.read_bytes()).hexdigest() if shipped.is_file() else None
    status: SourceStatus = "verified" if expected in (None, digest) else "differs"
    return SourceCheck(name, spec.shipped, where, status, expected, digest), text


def verify_sources(book: Rulebook, sources_dir: str | os.PathLike[str] | None = None) -> SourceReport:
    """Check every rule and ledger quote of ``book`` against its guidance texts.

    ``sources_dir``: a folder holding the texts under their names (``rulebook.yaml``'s ``sources``);
    without it, shipped texts are read from the rulebook and external ones are not verified. A quote
    whose text is missing is ``not verified`` with where it was looked for. RulebookError if
    ``sources_dir`` is not a folder or the rulebook's ledger is inconsistent.
    """
    from .coverage import load_coverage

    check_instance(book, Rulebook, "book", "a Rulebook (from load_rulebook)", RulebookError)
    folder: Path | None = None
    if sources_dir is not None:
        folder = Path(check_path(sources_dir, "sources_dir", RulebookError))
        if not folder.is_dir():
            raise RulebookError(
                "the sources folder is not a folder",
                [
                    ErrorDetail(
                        str(folder), "expected a folder holding the guidance texts", code=ErrorCode.RULEBOOK_SOURCE
                    )
                ],
            )
    checks: list[SourceCheck] = []
    texts: dict[str, str] = {}
    for name in book.sources:
        check, text = _read(book, name, folder)
        checks.append(check)
        if text is not None:
            texts[name] = text
    where = {c.document: c.path for c in checks}

    def judge(kind: Literal["rule", "ledger"], ident: str, document: str, quote: str) -> QuoteCheck:
        spec = book.source_specs.get(document)
        if spec is None:
            reason = f"{document} is not one of the rulebook's sources"
            return QuoteCheck(kind, ident, document, quote, "not found", reason)
        needed = [document, *([spec.table_of] if spec.table_of else [])]
        absent = [n for n in needed if n not in texts]
        if absent:
            reason = "; ".join(
                f"not verified: source {n} not found: it is not shipped with the rulebook and no folder was given "
                "(pass sources_dir / --sources DIR with your copy)"
                if where[n] == NOT_SHIPPED
                else f"not verified: source not found at {where[n]}"
                for n in absent
            )
            return QuoteCheck(kind, ident, document, quote, "not verified", reason)
        found, why = quote_found(quote, document, texts, book.source_specs)
        return QuoteCheck(kind, ident, document, quote, "found" if found else "not found", why)

    quotes = [judge("rule", r.id, r.source.document, r.source.quote) for r in book.rules]
    try:
        ledger = load_coverage(book).entries
    except RulebookError as exc:
        if not any(d.code == ErrorCode.COVERAGE_MISSING for d in exc.details):
            raise
        ledger = ()
    quotes.extend(judge("ledger", e.id, e.document, e.quote) for e in ledger)
    return SourceReport(book.id, book.version, tuple(checks), tuple(quotes))

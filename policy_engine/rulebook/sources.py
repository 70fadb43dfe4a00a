"""A rulebook's guidance texts: those shipped in its ``sources/`` and those kept outside the package.

A shipped text is read when the rulebook loads, and every quote citing it is checked then. An
external text (``shipped: false`` in ``rulebook.yaml``) is not distributed with the package: the
rulebook records the sha256 of the copy its quotes were verified against, and its quotes are checked
by :func:`policy_engine.audit.sources.verify_sources` against a copy the auditor names
(docs/decisions/033-rulebooks-per-planning-year.md).

Texts are compared after normalisation, which is explicit per source (``format``):

``text``
    every run of whitespace (non-breaking spaces included) becomes one space;
``pdf-markdown``
    a Markdown conversion of a PDF: page furniture (a page number followed by the running header at
    the top of the next page) removed, markdown emphasis (``**``, ``*``) and backslash escapes
    (``\\(``) removed, typographic quotes (U+2018, U+2019, U+201C, U+201D) made straight, then
    whitespace as for ``text``;
``markdown-table``
    a Markdown file of a table quoted from another source (``table_of``): emphasis and escapes
    removed as for ``pdf-markdown``. A quote citing it must also be found in that other source once
    the bold runs that are fragments of the table's first text column (the column interleaved with
    the quoted one in the conversion) are removed from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

__all__ = [
    "SOURCE_FORMATS",
    "SourceSpec",
    "normalise_markdown",
    "normalise_source",
    "normalise_text",
    "quote_found",
    "table_cells",
    "without_fragments",
]

SOURCE_FORMATS = ("text", "pdf-markdown", "markdown-table")


@attrs.frozen
class SourceSpec:
    """One guidance text a rulebook cites, as its manifest declares it."""

    document: str
    title: str | None = None
    shipped: bool = True
    sha256: str | None = None
    """For an external text: the sha256 of the bytes the quotes were verified against."""
    format: str = "text"
    running_header: str | None = None
    """``pdf-markdown``: the header at the top of each page, removed with the page number before it."""
    table_of: str | None = None
    """``markdown-table``: the source this table is quoted from."""
    fragment_column: int = 1
    """``markdown-table``: the (0-based) column whose text the conversion interleaved with the quoted one."""


def normalise_text(text: str) -> str:
    """Every run of whitespace (non-breaking spaces included) becomes one space."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|&<>~'\"])")
_EMPHASIS = re.compile(r"\*+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalise_markdown(text: str) -> str:
    """``text`` with markdown emphasis and backslash escapes removed, typographic quotes made
    straight (the conversions do not agree on them), then whitespace collapsed."""
    return normalise_text(_EMPHASIS.sub("", _ESCAPE.sub(r"\1", text)).translate(_QUOTES))


def _without_furniture(text: str, running_header: str | None) -> str:
    """``text`` with each page break (a page number alone at a line's end, blank lines, then the
    running header) reduced to a space. The header is matched only after a page number and blank
    lines, so the same words in a sentence are kept."""
    if not running_header:
        return text
    header = r"\s+".join(re.escape(word) for word in running_header.split())
    return re.sub(rf"[ \t]*\d+[ \t]*\n(?:[ \t]*\n)+[ \t]*{header}", " ", text)


def normalise_source(text: str, spec: SourceSpec) -> str:
    """The text of ``spec``'s document as quotes are compared with it."""
    if spec.format == "text":
        return normalise_text(text)
    return normalise_markdown(_without_furniture(text, spec.running_header))


def table_cells(table_text: str, column: int) -> tuple[str, ...]:
    """The (emphasis-free) text of ``column`` in each row of the Markdown tables of ``table_text``."""
    cells: list[str] = []
    for line in table_text.splitlines():
        line = line.strip()
        if not line.startswith("|") or re.fullmatch(r"\|[\s|:-]*\|?", line):
            continue
        parts = [p.strip() for p in line.strip("|").split("|")]
        if column < len(parts):
            cells.append(normalise_markdown(parts[column]))
    return tuple(cells[1:]) if cells else ()  # the first row is the header


_BOLD_RUN = re.compile(r"\*\*([^*]*)\*\*")


def without_fragments(text: str, spec: SourceSpec, fragments_of: Iterable[str]) -> str:
    """``text`` (the raw source) normalised as ``spec`` says, with every bold run whose text is a
    non-empty piece of one of ``fragments_of`` (the interleaved column's cells) removed first."""
    cells = [normalise_text(c) for c in fragments_of if c.strip()]

    def drop(match: re.Match[str]) -> str:
        inner = normalise_markdown(match.group(1))
        return " " if inner and any(inner in cell for cell in cells) else match.group(0)

    return normalise_source(_BOLD_RUN.sub(drop, _without_furniture(text, spec.running_header)), spec)


def quote_found(
    quote: str,
    document: str,
    texts: Mapping[str, str],
    specs: Mapping[str, SourceSpec],
) -> tuple[bool, str]:
    """Whether ``quote`` is found in ``document`` among the raw ``texts`` (name -> text), with why
    not: ``(True, "")`` or ``(False, reason)``. A quote citing a ``markdown-table`` must be in the
    table and in the source it is quoted from."""
    spec = specs[document]
    raw = texts.get(document)
    if raw is None:
        return False, f"{document} is not available"
    wanted = normalise_markdown(quote) if spec.format != "text" else normalise_text(quote)
    if wanted not in normalise_source(raw, spec):
        return False, f"not found verbatim in {document}"
    if spec.format == "markdown-table" and spec.table_of:
        base = texts.get(spec.table_of)
        if base is None:
            return False, f"{spec.table_of} (which {document} is quoted from) is not available"
        cleaned = without_fragments(base, specs[spec.table_of], table_cells(raw, spec.fragment_column))
        if wanted not in cleaned:
            return False, f"found in {document} but not in {spec.table_of} (with the table's other column removed)"
    return True, ""

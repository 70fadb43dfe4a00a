"""Empty inputs for one organisation type: the columns or fields its rules read, to be filled in
and read back by ``evaluate`` (``policy-engine template``; decision 028).

Three forms, each one the existing readers take unchanged:

- **CSV** (``.csv``): the table layout of ``docs/tabular.md``: a header of the key columns, then
  ``services`` (if the type's rules read a service), one ``metric.<name>.<YYYY-MM>.<part>`` column
  per month each metric is read for (numerator and denominator, or value) and ``fact.<name>``,
  ``.date`` and ``.evidence`` for each fact; one row with the keys filled in and every other cell
  empty. ``evaluate input.csv --batch -o statuses.jsonl`` reads it: an empty cell is missing data,
  so what depends on it is ``unknown``.
- **Excel** (``.xlsx``): the same table on its first sheet (``table``), and a ``dictionary``
  sheet describing each column (what it is, its unit, the rules that read it). Read back by
  ``evaluate input.xlsx --batch`` (the table reader's first sheet).
- **JSON** (``.json``): a state with the organisation and an empty observation list for every
  metric its rules read, for ``evaluate input.json``; its ``description`` says how observations
  and facts are written and which facts the rules read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from ..errors import ErrorCode, ErrorDetail, StateError
from ..rulebook.loader import Rulebook
from .catalogue import CatalogueEntry, catalogue, check_org_type, month_range

__all__ = ["DEFAULT_ORG_ID", "TEMPLATE_FORMATS", "template_columns", "template_state", "write_template"]

TemplateFormat = Literal["csv", "xlsx", "json"]
TEMPLATE_FORMATS: tuple[TemplateFormat, ...] = ("csv", "xlsx", "json")
DEFAULT_ORG_ID = "ORG1"
"""The organisation id a template is written with unless another is given (replace it)."""

_KEYS = ("state_id", "org_id", "org_type", "as_of")
_DESCRIPTION_LIMIT = 10_000  # the state schema's description length


def template_format(path: str | os.PathLike[str]) -> TemplateFormat:
    """The format of a template file, from its extension; StateError (``table.format``) otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt in TEMPLATE_FORMATS:
        if suffix == fmt:
            return fmt
    raise StateError(
        "unknown template format",
        [
            ErrorDetail(
                str(path),
                "expected a .csv, .xlsx or .json file name",
                f".{suffix}" if suffix else "(none)",
                code=ErrorCode.TABLE_FORMAT,
            )
        ],
    )


def _check_org_id(org_id: str) -> None:
    """StateError (``argument.value``) unless ``org_id`` is an organisation id a state accepts."""
    import re

    if not isinstance(org_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,19}", org_id):
        raise StateError(
            "invalid organisation id",
            [
                ErrorDetail(
                    "--org-id",
                    "expected an id of 1 to 20 letters, digits and '-' (an ODS code)",
                    repr(org_id)[:80],
                    code=ErrorCode.ARGUMENT_VALUE,
                )
            ],
        )


def default_as_of(book: Rulebook) -> dt.date:
    """The day after the rulebook's year ends: every month it reads has ended, every deadline passed."""
    return book.end + dt.timedelta(days=1)


def _metric_columns(e: CatalogueEntry) -> list[str]:
    parts = ("value",) if e.kind == "value" else ("numerator", "denominator")
    return [f"metric.{e.name}.{m}.{p}" for m in e.months for p in parts]


def template_columns(book: Rulebook, org_type: str) -> tuple[str, ...]:
    """The columns of a table template for ``org_type``: the keys, ``services`` (if its rules read
    a service), each metric's months and parts, and each fact's value, date and evidence."""
    entries = catalogue(book, org_type)
    cols = list(_KEYS)
    if any(e.category == "service" for e in entries):
        cols.append("services")
    for e in entries:
        if e.category == "metric":
            cols += _metric_columns(e)
        elif e.category == "fact":
            cols += [f"fact.{e.name}", f"fact.{e.name}.date", f"fact.{e.name}.evidence"]
    return tuple(cols)


def _dictionary_rows(book: Rulebook, org_type: str) -> list[list[str]]:
    """One row per column of the table template: the column, what it holds, its unit, the rules."""
    rows = [
        ["column", "category", "name", "month", "part", "kind", "unit", "description", "rules"],
        ["state_id", "key", "", "", "", "text", "", "rows with the same state_id form one state", ""],
        ["org_id", "key", "", "", "", "text", "", "the organisation's ODS code (replace the placeholder)", ""],
        ["org_type", "key", "", "", "", "text", "", f"the organisation type ({org_type})", ""],
        ["as_of", "key", "", "", "", "date", "", "the date the row is judged at (YYYY-MM-DD)", ""],
    ]
    entries = catalogue(book, org_type)
    services = [e for e in entries if e.category == "service"]
    if services:
        names = "; ".join(e.name for e in services)
        rows.append(
            ["services", "service", "", "", "", "text", "", f"services provided, separated by ';' ({names})", ""]
        )
    for e in entries:
        rules = "; ".join(e.rules)
        unit = e.unit or ""
        if e.category == "metric":
            for col in _metric_columns(e):
                _, _, month, part = col.split(".")
                rows.append([col, "metric", e.name, month, part, e.kind, unit, e.description, rules])
        elif e.category == "fact":
            rows.append([f"fact.{e.name}", "fact", e.name, "", "value", e.kind, unit, e.description, rules])
            rows.append(
                [
                    f"fact.{e.name}.date",
                    "fact",
                    e.name,
                    "",
                    "date",
                    "date",
                    "",
                    "when it was declared (YYYY-MM-DD)",
                    rules,
                ]
            )
            rows.append(
                [
                    f"fact.{e.name}.evidence",
                    "fact",
                    e.name,
                    "",
                    "evidence",
                    "text",
                    "",
                    "its evidence reference (optional)",
                    rules,
                ]
            )
    return rows


def _row(book: Rulebook, org_type: str, org_id: str, as_of: dt.date, columns: Sequence[str]) -> list[str]:
    keys = {"state_id": "template", "org_id": org_id, "org_type": org_type, "as_of": as_of.isoformat()}
    return [keys.get(c, "") for c in columns]


def template_state(
    book: Rulebook, org_type: str, *, org_id: str = DEFAULT_ORG_ID, as_of: dt.date | None = None
) -> dict[str, Any]:
    """A state template for ``org_type``: one organisation with an empty observation list for each
    metric its rules read, no facts, services not declared; ``description`` says what to add."""
    entries = catalogue(book, org_type)
    when = as_of or default_as_of(book)
    metrics = [e for e in entries if e.category == "metric"]
    facts = [e for e in entries if e.category == "fact"]
    services = [e for e in entries if e.category == "service"]
    text = (
        f"Empty input for an organisation of type {org_type} (rulebook {book.id} {book.version}): replace the id "
        f"{org_id}, then add to each metric's list one observation per month, "
        '{"period": "YYYY-MM", "numerator": N, "denominator": D} for a proportion or rate, '
        '{"period": "YYYY-MM", "value": V} for a value. Months read: '
        + "; ".join(f"{e.name} ({e.kind}, {e.unit}) {month_range(e.months)}" for e in metrics)
        + '. Declare facts in "facts" as {"name", "value", "date", "evidence"}'
    )
    listing = ": " + "; ".join(f"{e.name} ({e.kind}{', ' + e.unit if e.unit else ''})" for e in facts) if facts else ""
    tail = (
        (f'. Services ("services": a list of names): {", ".join(e.name for e in services)}' if services else "")
        + f". Anything left empty is missing data: what depends on it is unknown. "
        f"`policy-engine catalogue --type {org_type}` describes each item."
    )
    if len(text) + len(listing) + len(tail) > _DESCRIPTION_LIMIT:
        listing = f" (the {len(facts)} facts `policy-engine catalogue --type {org_type}` lists)"
    description = text + listing + tail
    if len(description) > _DESCRIPTION_LIMIT:  # a rulebook reading very many metrics: name the command only
        description = (
            f"Empty input for an organisation of type {org_type} (rulebook {book.id} {book.version}): add observations "
            f"and facts as `policy-engine catalogue --type {org_type}` describes; empty is unknown."
        )
    return {
        "as_of": when.isoformat(),
        "description": description,
        "organisations": [{"id": org_id, "type": org_type, "metrics": {e.name: [] for e in metrics}, "facts": []}],
    }


def render_template(
    book: Rulebook,
    org_type: str,
    fmt: TemplateFormat,
    *,
    org_id: str = DEFAULT_ORG_ID,
    as_of: dt.date | None = None,
) -> bytes:
    """The template of ``org_type`` in ``fmt``, as the bytes of its file."""
    check_org_type(org_type, "--type")
    _check_org_id(org_id)
    when = as_of or default_as_of(book)
    if fmt == "json":
        return (
            json.dumps(template_state(book, org_type, org_id=org_id, as_of=when), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    columns = template_columns(book, org_type)
    row = _row(book, org_type, org_id, when, columns)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerow(row)
        return buf.getvalue().encode()
    return _xlsx(columns, row, _dictionary_rows(book, org_type))


def _xlsx(columns: Sequence[str], row: Sequence[str], dictionary: Sequence[Sequence[str]]) -> bytes:
    """A workbook: the table (header and one row, every cell text) and the dictionary sheet."""
    from .._extras import require

    with require("workbooks", feature="writing a spreadsheet (template -o input.xlsx)"):
        import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    text = book.add_format({"num_format": "@"})
    table = book.add_worksheet("table")
    table.set_column(0, len(columns) - 1, 14)
    for j, name in enumerate(columns):
        table.write_string(0, j, name, bold)
        if row[j]:
            table.write_string(1, j, row[j], text)
    table.freeze_panes(1, 4)
    sheet = book.add_worksheet("dictionary")
    for i, values in enumerate(dictionary):
        for j, value in enumerate(values):
            sheet.write_string(i, j, value, bold if i == 0 else None)
    sheet.freeze_panes(1, 1)
    book.close()
    return buf.getvalue()


def write_template(
    book: Rulebook,
    org_type: str,
    path: str | os.PathLike[str],
    *,
    org_id: str = DEFAULT_ORG_ID,
    as_of: dt.date | None = None,
) -> Path:
    """Write the template of ``org_type`` to ``path`` (its format from the extension: ``.csv``,
    ``.xlsx`` or ``.json``), atomically; returns the path."""
    from ..io.files import atomic_write

    data = render_template(book, org_type, template_format(path), org_id=org_id, as_of=as_of)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)

"""Empty inputs for one organisation type: the columns or fields its rules read, to be filled in
and read back by ``evaluate`` (``policy-engine template``; decisions 028 and 030).

Three forms, each one the existing readers take unchanged:

- **CSV** (``.csv``): a table of ``docs/tabular.md``. By default the long layout: one row per
  month (every month of the rulebook's year and every earlier month its rules read), with the key
  columns, ``period`` (the row's month), ``services`` (if the type's rules read a service), a
  ``metric.<name>.<part>`` column per metric (numerator and denominator, or value) and
  ``fact.<name>``, ``.date`` and ``.evidence`` for each fact (given on any one row, or the same on
  each). With ``layout="wide"``, one row with a ``metric.<name>.<YYYY-MM>.<part>`` column per
  month each metric is read for. The keys are filled in and every other cell is empty.
  ``evaluate input.csv --batch -o statuses.jsonl`` reads either: an empty cell is missing data,
  so what depends on it is ``unknown``.
- **Excel** (``.xlsx``): the same table on its first sheet (``table``), and a ``dictionary``
  sheet describing each column (what it is, its unit, the months and rules that read it). Read
  back by ``evaluate input.xlsx --batch`` (the table reader's first sheet).
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
from ..language.months import format_month, parse_month
from ..rulebook.loader import Rulebook
from .catalogue import CatalogueEntry, catalogue, check_org_type, month_range

__all__ = [
    "DEFAULT_ORG_ID",
    "TEMPLATE_FORMATS",
    "TEMPLATE_LAYOUTS",
    "template_columns",
    "template_months",
    "template_rows",
    "template_state",
    "write_template",
]

TemplateFormat = Literal["csv", "xlsx", "json"]
TEMPLATE_FORMATS: tuple[TemplateFormat, ...] = ("csv", "xlsx", "json")
TemplateLayout = Literal["long", "wide"]
TEMPLATE_LAYOUTS: tuple[TemplateLayout, ...] = ("long", "wide")
"""A table template's layouts: ``long`` (a row per month, the default) or ``wide`` (one row)."""
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


def _parts(e: CatalogueEntry) -> tuple[str, ...]:
    return ("value",) if e.kind == "value" else ("numerator", "denominator")


def _metric_columns(e: CatalogueEntry) -> list[str]:
    return [f"metric.{e.name}.{m}.{p}" for m in e.months for p in _parts(e)]


def _check_layout(layout: object) -> TemplateLayout:
    for known in TEMPLATE_LAYOUTS:
        if layout == known:
            return known
    raise StateError(
        "unknown template layout",
        [ErrorDetail("--layout", "expected long or wide", repr(layout)[:80], code=ErrorCode.ARGUMENT_VALUE)],
    )


def template_months(book: Rulebook, org_type: str) -> tuple[str, ...]:
    """The rows of a long template for ``org_type``: every month of the rulebook's year and every
    other month (a baseline) that its rules read a metric for, in order."""
    first, last = (parse_month(f"{d.year:04d}-{d.month:02d}") for d in (book.start, book.end))
    months = {format_month(i) for i in range(first, last + 1)}
    months.update(m for e in catalogue(book, org_type) if e.category == "metric" for m in e.months)
    return tuple(sorted(months))


def template_columns(book: Rulebook, org_type: str, layout: TemplateLayout = "long") -> tuple[str, ...]:
    """The columns of a table template for ``org_type``: the keys (and ``period`` in the long
    layout), ``services`` (if its rules read a service), each metric's parts (in the wide layout,
    for each month its rules read it) and each fact's value, date and evidence."""
    layout = _check_layout(layout)
    entries = catalogue(book, org_type)
    cols = list(_KEYS)
    if layout == "long":
        cols.append("period")
    if any(e.category == "service" for e in entries):
        cols.append("services")
    for e in entries:
        if e.category == "metric":
            cols += _metric_columns(e) if layout == "wide" else [f"metric.{e.name}.{p}" for p in _parts(e)]
        elif e.category == "fact":
            cols += [f"fact.{e.name}", f"fact.{e.name}.date", f"fact.{e.name}.evidence"]
    return tuple(cols)


def _dictionary_rows(book: Rulebook, org_type: str, layout: TemplateLayout) -> list[list[str]]:
    """One row per column of the table template: the column, what it holds, its unit, the rules
    (and for a metric the month of the column, or in the long layout the months its rules read)."""
    month = "month" if layout == "wide" else "months read"
    rows = [
        ["column", "category", "name", month, "part", "kind", "unit", "description", "rules"],
        ["state_id", "key", "", "", "", "text", "", "rows with the same state_id form one state", ""],
        ["org_id", "key", "", "", "", "text", "", "the organisation's ODS code (replace the placeholder)", ""],
        ["org_type", "key", "", "", "", "text", "", f"the organisation type ({org_type})", ""],
        ["as_of", "key", "", "", "", "date", "", "the date the row is judged at (YYYY-MM-DD)", ""],
    ]
    if layout == "long":
        rows.append(
            [
                "period",
                "key",
                "",
                "",
                "",
                "month",
                "",
                "the month of the row's metric cells (YYYY-MM): one row per organisation and month; services "
                "and facts are the organisation's (given on any one of its rows, or the same on each)",
                "",
            ]
        )
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
        if e.category == "metric" and layout == "long":
            for part in _parts(e):
                read = month_range(e.months)
                rows.append(
                    [f"metric.{e.name}.{part}", "metric", e.name, read, part, e.kind, unit, e.description, rules]
                )
        elif e.category == "metric":
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


def template_rows(
    book: Rulebook,
    org_type: str,
    *,
    org_id: str = DEFAULT_ORG_ID,
    as_of: dt.date | None = None,
    layout: TemplateLayout = "long",
) -> list[list[str]]:
    """The rows of a table template, the header first: in the long layout one row per month of
    ``template_months`` (keys and ``period`` filled in), in the wide layout one row (keys filled
    in); every other cell empty."""
    columns = template_columns(book, org_type, layout)
    when = (as_of or default_as_of(book)).isoformat()
    keys = {"state_id": "template", "org_id": org_id, "org_type": org_type, "as_of": when}
    months = template_months(book, org_type) if layout == "long" else ("",)
    return [list(columns)] + [[{**keys, "period": m}.get(c, "") for c in columns] for m in months]


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
    layout: TemplateLayout | None = None,
) -> bytes:
    """The template of ``org_type`` in ``fmt``, as the bytes of its file. ``layout`` (a table's:
    ``long``, the default, or ``wide``) is refused for ``json``, whose state lists each metric's
    months as observations."""
    check_org_type(org_type, "--type")
    _check_org_id(org_id)
    when = as_of or default_as_of(book)
    if fmt == "json":
        if layout is not None:
            raise StateError(
                "a layout is a table's",
                [
                    ErrorDetail(
                        "--layout",
                        "a .json template is a state (a list of monthly observations per metric): give --layout "
                        "only with a .csv or .xlsx file",
                        str(layout),
                        code=ErrorCode.ARGUMENT_CONFLICT,
                    )
                ],
            )
        return (
            json.dumps(template_state(book, org_type, org_id=org_id, as_of=when), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    chosen = _check_layout("long" if layout is None else layout)
    rows = template_rows(book, org_type, org_id=org_id, as_of=when, layout=chosen)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue().encode()
    return _xlsx(rows, _dictionary_rows(book, org_type, chosen), keys=len(_KEYS) + (chosen == "long"))


def _xlsx(rows: Sequence[Sequence[str]], dictionary: Sequence[Sequence[str]], *, keys: int) -> bytes:
    """A workbook: the table (the header and its rows, every cell text; the first ``keys`` columns
    frozen beside the rest) and the dictionary sheet."""
    from .._extras import require

    with require("workbooks", feature="writing a spreadsheet (template -o input.xlsx)"):
        import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    text = book.add_format({"num_format": "@"})
    table = book.add_worksheet("table")
    table.set_column(0, len(rows[0]) - 1, 14)
    for j, name in enumerate(rows[0]):
        table.write_string(0, j, name, bold)
    for i, row in enumerate(rows[1:], start=1):
        for j, value in enumerate(row):
            if value:
                table.write_string(i, j, value, text)
    table.freeze_panes(1, keys)
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
    layout: TemplateLayout | None = None,
) -> Path:
    """Write the template of ``org_type`` to ``path`` (its format from the extension: ``.csv``,
    ``.xlsx`` or ``.json``; a table's ``layout`` as ``render_template`` says), atomically; returns
    the path."""
    from ..io.files import atomic_write

    data = render_template(book, org_type, template_format(path), org_id=org_id, as_of=as_of, layout=layout)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)

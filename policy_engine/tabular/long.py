"""The long layout of a table: one row per organisation and month, told by its ``period`` column,
pivoted to the wide layout (one row per organisation) before the wide layout's checks (decision 030).

A long table has the key columns, ``period`` (``YYYY-MM``) and ``metric.<name>.<part>`` columns
(the wide names without the month: the row's ``period`` is the month). ``services``, ``cohorts``
and the ``fact.*`` columns are an organisation's, not a month's: each is given on any of its rows,
or repeated on each with the same value. The pivot reports what only a long table can get wrong
(a missing or bad ``period``, a month given twice for one organisation, two values for one
organisation, a state's rows apart) at the long file's rows; every other problem is found by the
wide checks and named, through ``_Locator``, at the long row and column its cell came from."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import attrs
import polars as pl

from ..evaluation import columnar
from ..language.months import parse_month
from ..rulebook.loader import Rulebook
from .columns import _FACT_COL, _METRIC_COL, KEY_COLUMNS, _column_spec
from .problems import MAX_ERRORS, _Problems

PERIOD_COLUMN = "period"
"""The column that makes a table long: the month (``YYYY-MM``) of the row's metric cells."""

_LONG_METRIC_COL = re.compile(r"^metric\.([a-z][a-z0-9_]{0,63})\.(numerator|denominator|value)$")
_MONTH = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"  # ASCII digits, as a wide column name has
_WIDE_IN_TEXT = re.compile(r"\bmetric\.([a-z][a-z0-9_]{0,63})\.(\d{4}-\d{2})\.(numerator|denominator|value)\b")
_GROUP = ("state_id", "org_id")
_NOT_LONG = (
    "not a column of the long table layout (expected state_id, org_id, org_type, as_of, period, services, "
    "cohorts, metric.<name>.<numerator|denominator|value> or fact.<name>[.date|.evidence])"
)


def is_long(columns: Sequence[str]) -> bool:
    """Whether a table with these columns is in the long layout (it has a ``period`` column)."""
    return PERIOD_COLUMN in columns


def long_metric_column(wide: str) -> str | None:
    """The long column of a wide metric column (``metric.x.2025-03.value`` -> ``metric.x.value``)."""
    m = _METRIC_COL.fullmatch(wide)
    return f"metric.{m.group(1)}.{m.group(3)}" if m else None


@attrs.frozen
class _Locator:
    """Where a cell of the pivoted (wide) table came from in the long table: its row (within the
    chunk) and column. ``first``: each wide row's first long row; ``given``: per organisation
    column, the long row its value was taken from; ``months``: per month, the long row of that
    month (None where the organisation has no row for it)."""

    first: Sequence[int]
    given: Mapping[str, Sequence[int]]
    months: Mapping[str, Sequence[int | None]]

    def cell(self, row: int, column: str, message: str) -> tuple[int, str, str]:
        """The long row and column of a wide cell, and its message with the wide columns it
        names as the long ones (the month is the row's, e.g. the denominator beside a numerator)."""
        message = _WIDE_IN_TEXT.sub(r"metric.\1.\3", message)
        m = _METRIC_COL.fullmatch(column)
        if m:
            at = self.months[m.group(2)][row] if m.group(2) in self.months else None
            return (self.first[row] if at is None else at), f"metric.{m.group(1)}.{m.group(3)}", message
        return self.given.get(column, self.first)[row], column, message

    def column(self, name: str) -> str:
        return long_metric_column(name) or name


def _columns(schema: pl.Schema, book: Rulebook, problems: _Problems) -> tuple[list[str], list[str]] | None:
    """The long table's metric columns and organisation columns, or None (reported) if a column
    does not fit the long layout."""
    metrics: list[str] = []
    org_columns: list[str] = []
    unfit = False

    def refuse(name: str, message: str) -> None:
        nonlocal unfit
        unfit = True
        problems.column(name, message)

    for name, dtype in schema.items():
        if name == PERIOD_COLUMN:
            if not (dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)):
                refuse(name, f"expected text (a month as YYYY-MM), got a column of {dtype}")
            continue
        if name in _GROUP:
            continue
        m = _LONG_METRIC_COL.fullmatch(name)
        wide = _METRIC_COL.fullmatch(name)
        if m:
            spec = _column_spec(f"metric.{m.group(1)}.2000-01.{m.group(2)}", book)
            if isinstance(spec, str):
                refuse(name, spec)
            else:
                metrics.append(name)
        elif wide:
            metric, month, part = wide.groups()
            refuse(
                name,
                f"a month's column in a long table (one with a period column): give metric.{metric}.{part} "
                f"on the row whose period is {month}",
            )
        elif name in KEY_COLUMNS or name in ("services", columnar.COHORTS_COLUMN) or _FACT_COL.fullmatch(name):
            spec = _column_spec(name, book)
            if isinstance(spec, str):
                refuse(name, spec)
            else:
                org_columns.append(name)
        else:
            refuse(name, _NOT_LONG)
    for key in KEY_COLUMNS:
        if key not in schema:
            refuse(key, "a required column is missing")
    return None if unfit else (metrics, org_columns)


def _report(problems: _Problems, frame: pl.DataFrame, mask: pl.Expr, column: str, message: str) -> pl.Series:
    """Report the rows of ``frame`` where ``mask`` holds (``column``'s cell, at most the errors left);
    the mask, as a series."""
    hits = frame.select(mask.fill_null(False).alias("m")).to_series()
    for i in hits.arg_true().head(MAX_ERRORS).to_list():
        problems.cell(i, column, message, frame.get_column(column)[i])
    return hits


def _bad_periods(problems: _Problems, frame: pl.DataFrame) -> pl.Series:
    """Report each ``period`` cell that is not a month; the mask of the rows that are not."""
    period = pl.col(PERIOD_COLUMN).cast(pl.String)
    bad = frame.select(
        (period.is_not_null() & (~period.str.contains(_MONTH) | period.str.starts_with("0000"))).alias("b")
    ).to_series()
    values = frame.get_column(PERIOD_COLUMN).cast(pl.String)
    for i in bad.arg_true().head(MAX_ERRORS).to_list():
        try:
            parse_month(values[i])
            why = "expected a month as YYYY-MM, e.g. 2025-03"  # a month parse_month reads in other digits
        except ValueError as exc:
            why = str(exc)
        problems.cell(i, PERIOD_COLUMN, why, values[i])
    return bad


def _comparable(name: str, dtype: pl.DataType) -> pl.Expr:
    """An organisation column's cell as a value two cells can be compared by (a list as its text)."""
    c = pl.col(name)
    return c.list.join(";") if isinstance(dtype, pl.List) else c


def _conflicts(problems: _Problems, frame: pl.DataFrame, org_columns: Sequence[str]) -> None:
    """Report, per organisation and column, the first row whose value differs from the value an
    earlier row of the organisation gave (an organisation's value is one value)."""
    if not org_columns or not len(frame):
        return
    masks, firsts = [], []
    for j, name in enumerate(org_columns):
        cmp = _comparable(name, frame.schema[name])
        first = cmp.filter(cmp.is_not_null()).first().over(_GROUP)
        differs = (cmp.is_not_null() & (cmp != first)).fill_null(False)
        masks.append((differs & (differs.cum_sum().over(_GROUP) == 1)).alias(f"m{j}"))
        firsts.append(first.alias(f"f{j}"))
    found = frame.select(masks)
    flagged = [j for j, hit in enumerate(found.select(pl.all().any()).row(0)) if hit]
    if not flagged:
        return
    values = frame.select(firsts[j] for j in flagged)
    for j in flagged:
        name = org_columns[j]
        shown = frame.select(_comparable(name, frame.schema[name])).to_series()
        for i in found.get_column(f"m{j}").arg_true().head(MAX_ERRORS).to_list():
            org, state = frame.get_column("org_id")[i], frame.get_column("state_id")[i]
            earlier, here = values.get_column(f"f{j}")[i], shown[i]
            problems.cell(
                i,
                name,
                f"organisation {org} (state {state}) has two values in this column: {_text(earlier)} on an "
                f"earlier row and {_text(here)} here; expected one value (repeated on each of its rows, or on one)",
                here,
            )


def _text(value: object) -> str:
    import datetime as dt

    return repr(value.isoformat() if isinstance(value, dt.date) else value)


def to_wide(frame: pl.DataFrame, book: Rulebook, problems: _Problems) -> tuple[pl.DataFrame, _Locator] | None:
    """A long table (rows of one chunk of whole states) as the wide table it stands for (one row
    per organisation, a ``metric.<name>.<YYYY-MM>.<part>`` column per month given), and where each
    wide cell came from; its long-only problems reported at its rows. None (reported) if a column
    does not fit the long layout: then no row can be read.

    Rows whose ``state_id``, ``org_id`` or ``period`` is missing or bad, and a month given again
    for the same organisation, are reported and left out of the pivot. The wide rows are ordered
    by their state's first row, then their organisation's."""
    cols = _columns(frame.schema, book, problems)
    if cols is None:
        return None
    metrics, org_columns = cols
    frame = frame.with_row_index("_row")
    keep = pl.Series([True] * len(frame), dtype=pl.Boolean)
    for key in (*_GROUP, PERIOD_COLUMN):
        keep &= ~_report(problems, frame, pl.col(key).is_null(), key, "a required value is missing")
    keep &= ~_bad_periods(problems, frame)
    keys = frame.filter(keep).select(*_GROUP, PERIOD_COLUMN, "_row")
    twice = keys.select(~pl.struct(*_GROUP, PERIOD_COLUMN).is_first_distinct()).to_series()
    for i in twice.arg_true().head(MAX_ERRORS).to_list():
        row = keys.row(i, named=True)
        problems.cell(
            row["_row"],
            PERIOD_COLUMN,
            f"organisation {row['org_id']} (state {row['state_id']}) has this month on an earlier row too; "
            "expected one row per organisation and month",
            row[PERIOD_COLUMN],
        )
    _apart(problems, keys)
    kept = frame.filter(keep).filter(~twice)
    _conflicts(problems, kept, org_columns)
    orgs = (
        kept.group_by(list(_GROUP), maintain_order=True)
        .agg(
            pl.col("_row").first().alias("_first"),
            *[pl.col(c).drop_nulls().first() for c in org_columns],
            *[pl.col("_row").filter(pl.col(c).is_not_null()).first().alias(f"_given:{c}") for c in org_columns],
        )
        .with_columns(pl.col("_first").min().over("state_id").alias("_state_first"))
        .sort("_state_first", "_first")
        .with_row_index("_g")
    )
    orgs = orgs.with_columns(pl.col(f"_given:{c}").fill_null(pl.col("_first")) for c in org_columns)
    rows = kept.join(orgs.select(*_GROUP, "_g"), on=list(_GROUP), how="left")
    months = sorted(rows.get_column(PERIOD_COLUMN).cast(pl.String).unique().to_list())
    wide = orgs
    for month in months:
        part = rows.filter(pl.col(PERIOD_COLUMN).cast(pl.String) == month).select(
            "_g",
            pl.col("_row").alias(f"_row:{month}"),
            *[pl.col(c).alias(_wide_name(c, month)) for c in metrics],
        )
        wide = wide.join(part, on="_g", how="left")
    wide = wide.sort("_g")
    locator = _Locator(
        first=wide.get_column("_first").to_list(),
        given={c: wide.get_column(f"_given:{c}").to_list() for c in org_columns},
        months={m: wide.get_column(f"_row:{m}").to_list() for m in months},
    )
    keep_cols = [*_GROUP, *org_columns, *[_wide_name(c, m) for m in months for c in metrics]]
    return wide.select(keep_cols), locator


def _wide_name(long: str, month: str) -> str:
    _, metric, part = long.split(".")
    return f"metric.{metric}.{month}.{part}"


def _apart(problems: _Problems, keys: pl.DataFrame) -> None:
    """A state's long rows must be contiguous, as in the wide layout (``validation._check_states``;
    the pivot gathers an organisation's rows, so the wide rows it makes are contiguous anyway)."""
    sid = keys.get_column("state_id")
    runs = (sid != sid.shift(1)).fill_null(True)
    per_run = keys.select(sid.alias("s"), runs.cum_sum().alias("r")).unique().group_by("s").len()
    split = per_run.filter(pl.col("len") > 1).get_column("s").to_list()
    if split:
        bad = sid.is_in(split) & runs
        for i in bad.arg_true().head(MAX_ERRORS).to_list():
            problems.cell(keys["_row"][i], "state_id", "the rows of a state must be contiguous", sid[i])

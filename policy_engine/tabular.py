"""Tables of organisation-period rows: the column mapping, validation, conversion to and from
states, and fast evaluation of whole tables (CSV or Parquet in; Parquet or JSON Lines out).

One row is one organisation in one state (e.g. one trust at one month's ``as_of``, or in one
what-if scenario). The columns (documented in ``docs/tabular.md``):

``state_id``
    Rows with the same ``state_id`` form one state: the cohort that ``rank()`` ranks within.
    A state's rows must be contiguous in the file, and they share one ``as_of``.
``org_id``, ``org_type``, ``as_of``
    As in a state document (``org_id`` unique within its state).
``services``
    The services an organisation provides, separated by ``;`` (empty = none; null = not declared).
``cohorts``
    The complete cohorts the row's state declares, as ``scope:type`` separated by ``;`` (e.g.
    ``national:acute_trust``: the state holds every acute trust in England). A ``rank()`` rule is
    judged only against a cohort its state declares (every row of a state lists the same); otherwise unknown.
``metric.<name>.<YYYY-MM>.numerator`` / ``.denominator``
    A month of a proportion or rate metric (both or neither).
``metric.<name>.<YYYY-MM>.value``
    A month of a value metric.
``fact.<name>``, ``fact.<name>.date``, ``fact.<name>.evidence``
    A declared fact: its value, the date it was declared (both or neither), its evidence.

A missing column, or a null cell, is missing data: it makes what depends on it unknown, never a
breach. Any other column is an error (a misspelt metric must not read as missing data).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import math
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs

from ._extras import require

with require("tables", feature="the table API (policy_engine.tabular)"):
    import polars as pl

from .data.state import OrgView, State, _did_you_mean, facts_at, organisations_of, state_from_dict, view_at
from .data.state import _short as short_value
from .errors import ErrorDetail, PolicyError, StateError
from .evaluation import columnar
from .language.months import DATE_FORMAT, format_month
from .language.rules import ORGANISATION_TYPES
from .rulebook.loader import Rulebook

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "KEY_COLUMNS",
    "TableResult",
    "TableSummary",
    "evaluate_frame",
    "evaluate_table",
    "frame_to_states",
    "normalise_frame",
    "states_to_frame",
]

KEY_COLUMNS: tuple[str, ...] = ("state_id", "org_id", "org_type", "as_of")
"""The columns every table must have (see the module docstring)."""

MAX_ERRORS = 50
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
_STATE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_METRIC_COL = re.compile(r"^metric\.([a-z][a-z0-9_]{0,63})\.(\d{4}-(?:0[1-9]|1[0-2]))\.(numerator|denominator|value)$")
_FACT_COL = re.compile(r"^fact\.([a-z][a-z0-9_]{0,63})(?:\.(date|evidence))?$")
_COUNT_MAX = 10**12
_VALUE_MAX = 10**12
STATUS_DTYPE = columnar.STATUS_ENUM
"""Status columns of a result: a polars Enum (a dictionary-encoded string column in Parquet)."""


def _default_book(rulebook: Rulebook | None) -> Rulebook:
    if rulebook is not None:
        return rulebook
    from .evaluation.engine import _default_rulebook

    return _default_rulebook()


# --------------------------------------------------------------------------- the column mapping


@attrs.frozen
class _Column:
    name: str
    dtype: pl.DataType
    kind: str  # key | services | count | value | fact_value | fact_date | fact_evidence
    fact_type: str | None = None


def _column_spec(name: str, book: Rulebook) -> _Column | str:
    """The spec of a column name, or why it is not in the mapping."""
    if name in ("state_id", "org_id", "org_type"):
        return _Column(name, pl.String(), "key")
    if name == "as_of":
        return _Column(name, pl.Date(), "key")
    if name in ("services", columnar.COHORTS_COLUMN):
        return _Column(name, pl.List(pl.String()), "services")
    m = _METRIC_COL.fullmatch(name)
    if m:
        metric, _month, part = m.groups()
        mdef = book.metrics.get(metric)
        if mdef is None:
            hint = _did_you_mean(metric, book.metrics)
            return f"unknown metric {metric!r}{hint} (not in the catalogue of rulebook {book.id})"
        if (part == "value") != (mdef.kind == "value"):
            want = "value" if mdef.kind == "value" else "numerator and denominator"
            return f"{metric} is a {mdef.kind} metric: expected its {want} column(s)"
        if part == "value":
            return _Column(name, pl.Float64(), "value")
        return _Column(name, pl.Int64(), "count")
    f = _FACT_COL.fullmatch(name)
    if f:
        fact, part = f.groups()
        fdef = book.facts.get(fact)
        if fdef is None:
            hint = _did_you_mean(fact, book.facts)
            return f"unknown fact {fact!r}{hint} (not in the catalogue of rulebook {book.id})"
        if part == "date":
            return _Column(name, pl.Date(), "fact_date")
        if part == "evidence":
            return _Column(name, pl.String(), "fact_evidence")
        return _Column(name, columnar._FACT_DTYPES[fdef.type], "fact_value", fdef.type)
    return (
        "not a column of the table mapping (expected state_id, org_id, org_type, as_of, services, cohorts, "
        "metric.<name>.<YYYY-MM>.<numerator|denominator|value> or fact.<name>[.date|.evidence])"
    )


# --------------------------------------------------------------------------- validation


@attrs.frozen
class _Problem:
    """A bad column (``row`` None) or cell (``row``: the data row, from 0 at the file's first)."""

    row: int | None
    column: str
    message: str
    value: str | None


RowNames = Callable[[Sequence[int]], Mapping[int, str]]
"""How the problems of a table name their cells: data rows (from 0) -> a path with ``{column}``
for the column, e.g. ``rows[3][{column}]`` or ``line 5, column {column}``."""


def _frame_rows(rows: Sequence[int]) -> dict[int, str]:
    return {i: f"rows[{i}][{{column}}]" for i in rows}


class _Problems:
    """Every problem of a table, listed once (at most ``MAX_ERRORS``).

    A chunk is checked in stages: columns, then cells of the wrong type, then each row, then each
    state. A later stage skips the cells an earlier one already reported (``bad`` marks them), so
    a bad date is not also a missing value, but the rest of the row is still checked."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.items: list[_Problem] = []
        self.unfit = False  # a column is not in the mapping: no cell can be read
        self.bad: dict[str, pl.Series] = {}

    def chunk(self, offset: int) -> None:
        """The rows that follow start at data row ``offset``."""
        self.offset = offset
        self.bad = {}

    def full(self) -> bool:
        return len(self.items) >= MAX_ERRORS

    def column(self, name: str, message: str) -> None:
        self.unfit = True
        if not self.full():
            self.items.append(_Problem(None, name, message, name))

    def cell(self, row: int, column: str, message: str, value: Any) -> None:
        if not self.full():
            self.items.append(_Problem(self.offset + row, column, message, _short(value)))

    def cells(
        self, mask: pl.Series, column: str, message: str, values: pl.Series, positions: pl.Series | None = None
    ) -> None:
        """Report the cells where ``mask`` is true; ``positions`` maps a filtered frame's rows back."""
        mask = mask.fill_null(False)
        if positions is None:
            self.bad[column] = self.bad[column] | mask if column in self.bad else mask
        for i in mask.arg_true().head(MAX_ERRORS - len(self.items)).to_list():
            self.cell(i if positions is None else int(positions[i]), column, message, values[i])

    def reported(self, columns: Iterable[str]) -> pl.Series | None:
        """The rows where a cell of ``columns`` was already reported (None: nowhere)."""
        marks = [self.bad[c] for c in columns if c in self.bad]
        if not marks:
            return None
        out = marks[0]
        for m in marks[1:]:
            out = out | m
        return out

    def error(self, names: RowNames = _frame_rows, source: str | None = None) -> StateError:
        """The problems in file order (columns first, then by row; a row's in the order found)."""
        rows = names(sorted({p.row for p in self.items if p.row is not None}))
        ordered = sorted(self.items, key=lambda p: -1 if p.row is None else p.row)
        details = [
            ErrorDetail(
                f"columns[{p.column!r}]" if p.row is None else rows[p.row].format(column=repr(p.column)),
                p.message,
                p.value,
            )
            for p in ordered
        ]
        what = "the table does not fit the column mapping" if self.unfit else "the table is invalid"
        count = f"the first {MAX_ERRORS} problems (there may be more)" if self.full() else f"{len(details)} problem"
        count += "s" if len(details) != 1 and not self.full() else ""
        return StateError(f"{source + ': ' if source else ''}{what} ({count})", details)


def _short(value: Any) -> str:
    """A cell as error messages show values everywhere: JSON (dates as their ISO text)."""
    return short_value(value.isoformat() if isinstance(value, dt.date) else value)


_DATE = "%Y-%m-%d"


@attrs.frozen
class _Check:
    """A vectorised check: the cells where ``bad`` is true are reported with ``message``.

    ``stats``, where given, names a cheaper whole-column test that is true whenever some cell is
    bad (``_suspects``: column statistics computed for all such columns at once, with ``other``
    the column a pair check compares against); ``bad`` is then computed only for the columns it
    flags."""

    column: str
    message: str
    bad: pl.Expr
    shown: pl.Expr
    stats: _Stats | None = None
    other: str | None = None
    reads: tuple[str, ...] = ()  # other columns it reads: their cells reported already are skipped


_Stats = Literal["count", "count64", "number", "value", "both", "at_most"]


def _plan(spec: _Column, dtype: pl.DataType) -> tuple[pl.Expr, _Check | None] | str:
    """How a column becomes its mapped type: (conversion, check of the cells that cannot), or
    why the whole column cannot."""
    name = spec.name
    c = pl.col(name)
    given = c.is_not_null()
    if spec.kind == "services":
        if dtype == pl.List(pl.String):
            return c, None
        if dtype != pl.String:
            return f"expected text (services separated by ';'), got a column of {dtype}"
        return c.str.split(";").list.eval(pl.element().filter(pl.element() != "")), None
    target = spec.dtype
    if target == pl.String():
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            return c.cast(pl.String), None
        return f"expected text, got a column of {dtype}"
    if target == pl.Date():
        if dtype == pl.Date:
            return c, None
        if dtype != pl.String:
            return f"expected dates (YYYY-MM-DD), got a column of {dtype}"
        parsed = c.str.strptime(pl.Date, _DATE, strict=False)
        bad = given & (parsed.is_null() | (parsed.dt.to_string(_DATE) != c))
        return parsed, _Check(name, DATE_FORMAT, bad, c)
    if target == pl.Boolean():
        if dtype == pl.Boolean:
            return c, None
        if dtype != pl.String:
            return f"expected booleans (true/false), got a column of {dtype}"
        return c == "true", _Check(
            name, f"{name} expects a boolean: true or false", given & ~c.is_in(["true", "false"]), c
        )
    if target == pl.Int64():
        out = c.cast(pl.Int64, strict=False)
        if dtype.is_float():
            bad = given & (~c.is_finite() | (c != c.floor()) | out.is_null())
        elif dtype.is_integer() or dtype == pl.String:
            bad = given & out.is_null()
        else:
            return f"expected whole-number counts, got a column of {dtype}"
        bad = bad | (given & ((out < 0) | (out > _COUNT_MAX)).fill_null(False))
        stats: Literal["count", "count64"] | None = None  # a whole number is bad only out of range
        if dtype.is_integer():
            stats = "count64" if dtype == pl.Int64 else "count"
        return out, _Check(name, f"expected a whole-number count from 0 to {_COUNT_MAX}", bad, c, stats)
    if dtype.is_numeric():
        out = c.cast(pl.Float64)
    elif dtype == pl.String:
        out = c.cast(pl.Float64, strict=False)
    else:
        return f"expected numbers, got a column of {dtype}"
    bad = given & (out.is_null() | ~out.is_finite()).fill_null(True)
    what = "expected a finite number"
    if spec.kind == "value":
        bad = bad | (given & (out.abs() > _VALUE_MAX)).fill_null(False)
        what = f"expected a finite number from -{_VALUE_MAX} to {_VALUE_MAX}"
    kind: Literal["number", "value"] = "value" if spec.kind == "value" else "number"
    return out, _Check(name, what, bad, c, kind if dtype.is_numeric() else None)


def _select(frame: pl.DataFrame, exprs: Sequence[pl.Expr]) -> pl.DataFrame:
    # Thousands of independent column expressions: plan optimisation only costs time here.
    return frame.lazy().select(exprs).collect(optimizations=pl.QueryOptFlags.none())


def _run_checks(frame: pl.DataFrame, checks: Sequence[_Check], problems: _Problems) -> None:
    """Every check in one pass; cells are listed only for the checks that found something, and not
    where a cell it reads was reported by an earlier stage (one message per problem)."""
    if not checks:
        return
    earlier = dict(problems.bad)
    suspects = _suspects(frame, [ck for ck in checks if ck.stats is not None])
    rest = [ck for ck in checks if ck.stats is None]
    any_bad = (
        _select(frame, [ck.bad.fill_null(False).any().alias(str(k)) for k, ck in enumerate(rest)]).row(0)
        if rest
        else ()
    )
    flagged = {id(ck) for ck, f in zip(rest, any_bad, strict=True) if f} | suspects
    for ck in checks:
        if id(ck) in flagged and not problems.full():
            found = frame.select(ck.bad.fill_null(False).alias("bad"), ck.shown.alias("shown"))
            bad = found.get_column("bad")
            seen = [earlier[c] for c in (ck.column, ck.other, *ck.reads) if c is not None and c in earlier]
            for mask in seen:
                bad = bad & ~mask
            problems.cells(bad, ck.column, ck.message, found.get_column("shown"))


def _suspects(frame: pl.DataFrame, checks: Sequence[_Check]) -> set[int]:
    """``id`` of each check whose column may hold a bad cell, from column statistics computed in
    one pass (reductions over whole columns, no per-cell results):

    - ``count``: a whole-number column is bad only below 0 or above the maximum; ``count64``
      the same for Int64 in one reduction: read as unsigned, a negative number is above 2**63;
    - ``number``: a numeric column only with a NaN or an infinity, which make its sum non-finite
      (the sum of finite numbers within the maxima stays finite);
    - ``value``: also beyond its maxima;
    - ``both``: a cell given while ``other`` is null exists exactly when more rows have a null
      in ``column - other`` than in ``column``;
    - ``at_most``: a cell above ``other`` exists exactly when ``column - other`` has a maximum
      above 0."""
    if not checks:
        return set()

    def of(kind: str) -> list[_Check]:
        return [ck for ck in checks if ck.stats == kind]

    counts = [ck.column for ck in of("count")]
    counts64 = [ck.column for ck in of("count64")]
    numbers = [ck.column for ck in of("number") + of("value")]
    values = [ck.column for ck in of("value")]
    pairs = sorted({tuple(sorted((ck.column, str(ck.other)))) for ck in of("both")})
    at_most = [(ck.column, str(ck.other)) for ck in of("at_most")]
    exprs = []
    if counts:
        exprs += [pl.col(counts).min().name.prefix("min:"), pl.col(counts).max().name.prefix("max:")]
    if counts64:
        exprs.append(pl.col(counts64).reinterpret(signed=False).max().name.prefix("umax:"))
    if numbers:
        exprs.append(pl.col(numbers).cast(pl.Float64).sum().name.prefix("sum:"))
    if values:
        as_float = pl.col(values).cast(pl.Float64)
        exprs += [as_float.min().name.prefix("min:"), as_float.max().name.prefix("max:")]
    if pairs:
        left, right = [a for a, _ in pairs], [b for _, b in pairs]
        exprs.append(pl.col(sorted({*left, *right})).null_count().name.prefix("nulls:"))
        exprs.append((pl.col(left) - pl.col(right)).null_count().name.prefix("either:"))
    if at_most:
        mine, theirs = [a for a, _ in at_most], [b for _, b in at_most]
        exprs.append((pl.col(mine) - pl.col(theirs)).max().name.prefix("above:"))
    stats = _select(frame, exprs).row(0, named=True)
    out = set()
    for ck in checks:
        c = ck.column
        low, high = stats.get("min:" + c), stats.get("max:" + c)
        if ck.stats == "count":
            bad = (low is not None and low < 0) or (high is not None and high > _COUNT_MAX)
        elif ck.stats == "count64":
            top = stats["umax:" + c]
            bad = top is not None and top > _COUNT_MAX
        elif ck.stats == "both":
            bad = stats["either:" + min(c, str(ck.other))] > stats["nulls:" + c]
        elif ck.stats == "at_most":
            above = stats["above:" + c]
            bad = above is not None and above > 0
        else:
            bad = not math.isfinite(stats["sum:" + c])
            if ck.stats == "value":
                bad = bad or (low is not None and low < -_VALUE_MAX) or (high is not None and high > _VALUE_MAX)
        if bad:
            out.add(id(ck))
    return out


def normalise_frame(frame: pl.DataFrame, rulebook: Rulebook | None = None, *, offset: int = 0) -> pl.DataFrame:
    """Check a table against the column mapping and the rulebook's catalogues and return it with
    every column in its mapped type. Raises StateError naming each bad cell as
    ``rows[i]['column']`` (``i`` counts the frame's rows from 0, plus ``offset``), its value and
    what was expected; every problem once, at most 50. (``evaluate_table`` names a file's lines.)"""
    book = _default_book(rulebook)
    problems = _Problems(offset)
    table = _normalise(frame, book, problems)
    if table is None or problems.items:
        raise problems.error()
    return table


def _normalise(frame: pl.DataFrame, book: Rulebook, problems: _Problems) -> pl.DataFrame | None:
    """The table in its mapped types, with its problems added to ``problems``; None if a column
    does not fit the mapping (then no cell can be read)."""
    schema = tuple(frame.schema.items())
    column_errors, conversions, checks = _plans(book, schema)
    for name, message in column_errors:
        problems.column(name, message)
    if column_errors:
        return None
    _run_checks(frame, checks, problems)
    table = _select(frame, conversions)  # a cell that cannot convert is null: it was reported above
    if not problems.full():
        _run_checks(table, _row_checks(book, tuple(table.columns)), problems)
    if not problems.full():
        _check_states(table, problems)
    return table


@functools.lru_cache(maxsize=32)
def _plans(
    book: Rulebook, schema: tuple[tuple[str, pl.DataType], ...]
) -> tuple[list[tuple[str, str]], list[pl.Expr], list[_Check]]:
    """Column errors, conversions and cell checks for a schema (once per file, not per chunk)."""
    errors: list[tuple[str, str]] = []
    conversions: list[pl.Expr] = []
    checks: list[_Check] = []
    names = {name for name, _ in schema}
    for name, dtype in schema:
        spec = _column_spec(name, book)
        if isinstance(spec, str):
            errors.append((name, spec))
            continue
        plan = _plan(spec, dtype)
        if isinstance(plan, str):
            errors.append((name, plan))
            continue
        conversions.append(plan[0].alias(name))
        if plan[1] is not None:
            checks.append(plan[1])
    errors += [(key, "a required column is missing") for key in KEY_COLUMNS if key not in names]
    return errors, conversions, checks


@functools.lru_cache(maxsize=32)
def _row_checks(book: Rulebook, columns: tuple[str, ...]) -> list[_Check]:
    present = set(columns)
    checks = [_Check(key, "a required value is missing", pl.col(key).is_null(), pl.col(key)) for key in KEY_COLUMNS]
    sid, oid, otype = pl.col("state_id"), pl.col("org_id"), pl.col("org_type")
    checks += [
        _Check("state_id", "expected 1-200 printable characters", ~sid.str.contains(_STATE_ID.pattern), sid),
        _Check("org_id", "expected an id like RXX or QE1-2 (letters, digits, -)", ~oid.str.contains(_ID.pattern), oid),
        _Check(
            "org_type",
            f"expected one of {', '.join(ORGANISATION_TYPES)}",
            ~otype.is_in(list(ORGANISATION_TYPES)),
            otype,
        ),
    ]
    if columnar.COHORTS_COLUMN in present:
        cohorts = pl.col(columnar.COHORTS_COLUMN)
        known = [f"national:{t}" for t in ORGANISATION_TYPES]
        bad = cohorts.list.eval(pl.element().is_in(known).not_()).list.any()
        checks.append(
            _Check(
                columnar.COHORTS_COLUMN,
                "expected scope:type entries separated by ';' (scope national; a type of the mapping)",
                bad,
                cohorts.list.join(";"),
            )
        )
    if "services" in present:
        services = pl.col("services")
        unknown = services.list.eval(pl.element().is_in(list(book.services)).not_()).list.any()
        shown = services.list.join(";")
        checks.append(_Check("services", "a service not in the rulebook's catalogue", unknown, shown))
        checks.append(
            _Check(
                "services", "a service is listed twice", services.list.len() != services.list.unique().list.len(), shown
            )
        )
    for name in columns:
        mine = pl.col(name)
        m = _METRIC_COL.fullmatch(name)
        if m and m.group(3) != "value":
            other = name.rsplit(".", 1)[0] + (".denominator" if m.group(3) == "numerator" else ".numerator")
            if other not in present:
                checks.append(_Check(name, f"expected {other} too (both counts or neither)", mine.is_not_null(), mine))
                continue
            theirs = pl.col(other)
            both = mine.is_not_null() & theirs.is_null()
            checks.append(_Check(name, f"expected {other} too (both counts or neither)", both, mine, "both", other))
            if m.group(3) == "numerator" and book.metrics[m.group(1)].kind == "proportion":
                checks.append(_Check(name, f"expected numerator <= {other}", mine > theirs, mine, "at_most", other))
        f = _FACT_COL.fullmatch(name)
        if f and f.group(2) is None:
            date = name + ".date"
            no_date = mine.is_not_null() & (pl.col(date).is_null() if date in present else pl.lit(True))
            reads = (date,) if date in present else ()
            checks.append(
                _Check(name, f"expected {date} too (a fact is declared on a date)", no_date, mine, reads=reads)
            )
        elif f:
            base = "fact." + f.group(1)
            orphan = mine.is_not_null() & (pl.col(base).is_null() if base in present else pl.lit(True))
            reads = (base,) if base in present else ()
            checks.append(_Check(name, f"expected {base} too (a fact has a value)", orphan, mine, reads=reads))
            if f.group(2) == "evidence":
                checks.append(_Check(name, "at most 2000 characters", mine.str.len_chars() > 2000, mine))
    return checks


def _check_states(table: pl.DataFrame, problems: _Problems) -> None:
    """One state: contiguous rows, one as_of, unique organisation ids (among the rows whose keys
    have no problem reported already)."""
    reported = problems.reported(KEY_COLUMNS)
    positions = None
    if reported is not None and reported.any():
        positions = (~reported).arg_true()
        table = table[positions.to_list()]
    sid, oid = table.get_column("state_id"), table.get_column("org_id")
    runs = (sid != sid.shift(1)).fill_null(True)
    per_run = (
        table.select(sid.alias("s"), runs.cum_sum().alias("r")).unique().group_by("s").len().filter(pl.col("len") > 1)
    )
    if len(per_run):
        bad = sid.is_in(per_run.get_column("s").to_list()) & runs
        problems.cells(bad, "state_id", "the rows of a state must be contiguous", sid, positions)
    grouped = table.select(sid.alias("s"), table.get_column("as_of").alias("a"), oid.alias("o"))
    mixed = grouped.select((pl.col("a").n_unique().over("s") > 1).alias("m")).to_series()
    as_of = table.get_column("as_of")
    problems.cells(mixed, "as_of", "every row of a state must have the same as_of", as_of, positions)
    if columnar.COHORTS_COLUMN in table.columns:  # a state declares its cohorts once, on every row
        cells = table.get_column(columnar.COHORTS_COLUMN).list.sort().list.join(";").fill_null("")
        split = pl.DataFrame({"s": sid, "c": cells}).select((pl.col("c").n_unique().over("s") > 1).alias("m"))
        problems.cells(
            split.to_series(),
            columnar.COHORTS_COLUMN,
            "every row of a state must list the same cohorts",
            cells,
            positions,
        )
    dup_org = grouped.select(pl.struct("s", "o").is_duplicated().alias("d")).to_series()
    problems.cells(dup_org, "org_id", "an organisation appears twice in one state", oid, positions)


# --------------------------------------------------------------------------- rows <-> states


def _number(x: float) -> Decimal | int:
    d = Decimal(repr(x))
    return int(d) if d == d.to_integral_value() and abs(d) < 2**53 else d


def _org_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row (of a normalised table) as an organisation of a state document."""
    org: dict[str, Any] = {"id": row["org_id"], "type": row["org_type"]}
    if row.get("services") is not None:
        org["services"] = list(row["services"])
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    facts: list[dict[str, Any]] = []
    for name, value in row.items():
        if value is None:
            continue
        m = _METRIC_COL.fullmatch(name)
        if m:
            metric, month, part = m.groups()
            obs = metrics.setdefault(metric, {}).setdefault(month, {"period": month})
            obs[part] = _number(value) if part == "value" else int(value)
            continue
        f = _FACT_COL.fullmatch(name)
        if f and f.group(2) is None:
            fact: dict[str, Any] = {"name": f.group(1), "date": row[name + ".date"].isoformat()}
            if isinstance(value, dt.date):
                fact["value"] = value.isoformat()
            elif isinstance(value, float):
                fact["value"] = _number(value)
            else:
                fact["value"] = value
            if row.get(name + ".evidence") is not None:
                fact["evidence"] = row[name + ".evidence"]
            facts.append(fact)
    if metrics:
        org["metrics"] = {k: sorted(v.values(), key=lambda o: o["period"]) for k, v in sorted(metrics.items())}
    if facts:
        org["facts"] = facts
    return org


def _state_of(rows: Sequence[Mapping[str, Any]], book: Rulebook) -> State:
    """The state of a table's rows (validated again as a state document)."""
    as_of = rows[0]["as_of"]
    doc: dict[str, Any] = {"as_of": as_of.isoformat(), "organisations": [_org_document(r) for r in rows]}
    declared = columnar.cohorts_of_cells(r.get(columnar.COHORTS_COLUMN) for r in rows)
    if declared:
        doc["cohorts"] = [{"scope": c.scope, "types": list(c.types), "source": c.source} for c in declared]
    return state_from_dict(doc, book)


def frame_to_states(frame: pl.DataFrame, rulebook: Rulebook | None = None) -> list[tuple[str, State]]:
    """Each state of a table, as ``(state_id, State)`` in table order (validated both ways)."""
    book = _default_book(rulebook)
    table = normalise_frame(frame, book)
    out: list[tuple[str, State]] = []
    for (sid,), group in table.group_by("state_id", maintain_order=True):
        out.append((str(sid), _state_of(list(group.iter_rows(named=True)), book)))
    return out


def states_to_frame(
    states: Iterable[tuple[str, State]] | Mapping[str, State], rulebook: Rulebook | None = None
) -> pl.DataFrame:
    """The rows of one or more states (``state_id`` -> State), typed as ``normalise_frame`` returns.

    A row holds one declaration per fact: the one in force at the state's ``as_of`` (the latest
    dated on or before it; if none is, the earliest after it, which is equally invisible). Names,
    parents, PCNs and regions are not part of the mapping (no rule reads them). So the table
    evaluates exactly as the state does at its ``as_of``."""
    book = _default_book(rulebook)
    pairs = states.items() if isinstance(states, Mapping) else states
    rows: list[dict[str, Any]] = []
    for sid, state in pairs:
        if state.as_of is None:
            raise StateError("a state without as_of cannot become rows", [ErrorDetail(f"{sid}.as_of", "missing")])
        for org in state.organisations:
            row: dict[str, Any] = {"state_id": sid, "org_id": org.id, "org_type": org.type, "as_of": state.as_of}
            if org.services is not None:
                row["services"] = sorted(org.services)
            if state.cohorts:
                row[columnar.COHORTS_COLUMN] = sorted({f"{c.scope}:{t}" for c in state.cohorts for t in c.types})
            for mname, series in org.metrics.items():
                kind = book.metrics[mname].kind
                for month, obs in series.items():
                    stem = f"metric.{mname}.{format_month(month)}"
                    if kind == "value":
                        assert obs.value is not None
                        row[stem + ".value"] = float(obs.value)
                    else:
                        row[stem + ".numerator"] = obs.numerator
                        row[stem + ".denominator"] = obs.denominator
            in_force = facts_at(org, state.as_of)
            for name in {f.name for f in org.facts}:
                fact = in_force.get(name) or min((f for f in org.facts if f.name == name), key=lambda f: f.date)
                value: Any = fact.value
                if book.facts[name].type == "date" and isinstance(value, str):
                    value = dt.date.fromisoformat(value)
                elif book.facts[name].type == "number":
                    value = float(value)
                row[f"fact.{name}"] = value
                row[f"fact.{name}.date"] = fact.date
                if fact.evidence is not None:
                    row[f"fact.{name}.evidence"] = fact.evidence
            rows.append(row)
    columns = sorted({k for r in rows for k in r}, key=_column_order)
    schema: dict[str, pl.DataType] = {}
    for name in columns:
        spec = _column_spec(name, book)
        assert not isinstance(spec, str), spec
        schema[name] = spec.dtype
    data = {name: [r.get(name) for r in rows] for name in columns}
    return pl.DataFrame(data, schema=schema)


def _column_order(name: str) -> tuple[int, str]:
    if name in KEY_COLUMNS:
        return KEY_COLUMNS.index(name), ""
    return len(KEY_COLUMNS), name


# --------------------------------------------------------------------------- evaluation


@attrs.frozen
class TableResult:
    """Statuses of a table: ``frame`` has the key columns and one status column per rule (in the
    rulebook's dependency order; null where the rule does not apply to the organisation's type).
    ``exact_cells`` counts the cells the float pass could not decide and the reference evaluator
    re-decided (see ``policy_engine.evaluation.columnar``)."""

    frame: pl.DataFrame
    exact_cells: int
    exact_rows: int
    exact_states: int


def _views_of_rows(book: Rulebook) -> columnar.ViewsOfRows:
    def views(frame: pl.DataFrame, indexes: Sequence[int], columns: Collection[str]) -> list[tuple[OrgView, dt.date]]:
        keep = [*KEY_COLUMNS, *sorted(columns)]
        rows = list(frame.select(keep)[list(indexes)].iter_rows(named=True))
        by_state: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            by_state.setdefault(r["state_id"], []).append(r)
        built: dict[tuple[str, str], OrgView] = {}
        for sid, members in by_state.items():
            doc = {"organisations": [_org_document(r) for r in members]}
            for org in organisations_of(doc):  # rows already checked by normalise_frame
                built[(sid, org.id)] = view_at(org, members[0]["as_of"], book.date_facts)
        return [(built[(r["state_id"], r["org_id"])], r["as_of"]) for r in rows]

    return views


def evaluate_frame(frame: pl.DataFrame, rulebook: Rulebook | None = None, *, normalised: bool = False) -> TableResult:
    """Evaluate every row of a table (see the module docstring for the columns).

    The statuses equal the reference evaluator's for the same states (``frame_to_states``), cell
    for cell. Invalid tables raise StateError naming each bad cell; nothing is evaluated."""
    book = _default_book(rulebook)
    table = frame if normalised else normalise_frame(frame, book)
    try:
        statuses, res = columnar.run(book, table, _views_of_rows(book))
    except PolicyError:
        raise
    except Exception as exc:  # pragma: no cover - an internal failure, reported as such
        from .errors import EngineError

        raise EngineError(
            "internal error during table evaluation", [ErrorDetail("engine", f"{type(exc).__name__}: {exc}")]
        ) from exc
    keys = table.select(KEY_COLUMNS)
    out = pl.concat([keys, statuses.select(pl.all().cast(STATUS_DTYPE))], how="horizontal")
    return TableResult(out, res.cells, res.rows, res.states)


# --------------------------------------------------------------------------- streaming files


@attrs.frozen
class TableSummary:
    """What ``evaluate_table`` did."""

    rows: int
    states: int
    chunks: int
    exact_cells: int
    seconds: float

    def text(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"{self.rows} rows ({self.states} states) in {self.chunks} chunk(s), {self.seconds:.2f} s "
            f"({rate:,.0f} organisation-evaluations/s); {self.exact_cells} cell(s) re-decided exactly"
        )


Format = Literal["csv", "parquet", "jsonl"]

DEFAULT_CHUNK_ROWS: dict[Format, int] = {"parquet": 100_000, "csv": 20_000}
"""Rows evaluated at a time by default. With all 2,758 columns of the bundled rulebook's mapping,
100,000 Parquet rows peak at ~2.5 GB and 20,000 CSV rows at ~3.6 GB (text); each chunk also pays
a fixed cost (~0.3 s) for planning the rules' expressions (docs/performance.md)."""


def table_format(path: str | os.PathLike[str]) -> Format:
    """The format of a table file, from its extension (.csv, .parquet/.pq, .jsonl/.ndjson)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise StateError(
        "unknown table format",
        [ErrorDetail(str(path), "expected a .csv, .parquet or .jsonl file name", suffix or "(none)")],
    )


def _read_batches(path: str | os.PathLike[str], chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Batches of a CSV (every column read as text) or Parquet file, in file order, read as they
    are needed: memory holds one batch (for Parquet, at most the row groups the batch spans)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    fmt = table_format(path)
    if fmt not in ("csv", "parquet"):
        raise StateError("not a table", [ErrorDetail(str(path), "expected a .csv or .parquet input table", fmt)])
    try:
        if fmt == "parquet":
            scan = pl.scan_parquet(os.fspath(path))
            rows = scan.select(pl.len()).collect().item()
            for offset in range(0, rows, chunk_rows):  # row-group pruning: only the groups it spans
                yield scan.slice(offset, chunk_rows).collect()
            if not rows:  # no rows: the columns are still checked
                yield scan.head(0).collect()
            return
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader([fh.readline()]), [])
        reader = pacsv.open_csv(
            os.fspath(path),
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
            ),
        )
        empty = True
        for batch in reader:
            empty = False
            yield pl.DataFrame(pa.Table.from_batches([batch]))
        if empty:  # a header and no rows: the columns are still checked
            yield pl.DataFrame({name: pl.Series([], dtype=pl.String) for name in header})
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateError("cannot read the table", [ErrorDetail(str(path), first)]) from None


def _state_chunks(batches: Iterable[pl.DataFrame], chunk_rows: int) -> Iterator[tuple[int, pl.DataFrame]]:
    """Re-cut batches into chunks of whole states: (offset of the chunk's first row, rows)."""
    pending: list[pl.DataFrame] = []
    held = 0
    offset = 0
    yielded = False
    for batch in batches:
        if "state_id" not in batch.columns:
            yield offset, batch  # normalise_frame reports the missing column
            return
        pending.append(batch)
        held += len(batch)
        if held < chunk_rows:
            continue
        frame = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
        sid = frame.get_column("state_id")
        starts = (sid != sid.shift(1)).fill_null(True)
        cut = int(starts.arg_true()[-1])  # the first row of the last state, which may go on
        if cut == 0:  # one state fills the whole buffer: keep reading
            pending = [frame]
            continue
        yield offset, frame[:cut]
        yielded = True
        offset += cut
        # A copy of the rows held back (one state's), not a slice: a slice would keep the whole
        # batch's buffers alive while the next batch is read, doubling the memory.
        pending = [frame[list(range(cut, len(frame)))]]
        held = len(frame) - cut
    if pending:
        frame = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
        if len(frame) or not yielded:  # an empty table still has its columns checked
            yield offset, frame


def evaluate_table(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    rulebook: Rulebook | None = None,
    *,
    chunk_rows: int | None = None,
) -> TableSummary:
    """Evaluate a CSV or Parquet table into a Parquet or JSON Lines file, streaming: memory is
    bounded by ``chunk_rows`` (and by the largest single state), not by the size of the file.
    The default is ``DEFAULT_CHUNK_ROWS`` for the input's format: CSV cells arrive as text, which
    takes several times the memory of Parquet's typed columns.

    The destination appears only if every row was valid and evaluated (it is written to a
    temporary file beside it and renamed at the end); otherwise StateError names the bad cells."""
    import tempfile

    book = _default_book(rulebook)
    out_fmt = table_format(destination)
    if out_fmt == "csv":
        raise StateError("unsupported output", [ErrorDetail(str(destination), "write .parquet or .jsonl", "csv")])
    if chunk_rows is None:
        chunk_rows = DEFAULT_CHUNK_ROWS.get(table_format(source), 20_000)  # other formats are refused below
    start = time.perf_counter()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(destination)), prefix=".policy-engine-")
    os.close(fd)
    rows = states = chunks = cells = 0
    seen: set[str] = set()
    writer: Any = None
    problems = _Problems()
    try:
        with open(tmp, "wb") as sink:
            for offset, chunk in _state_chunks(_read_batches(source, chunk_rows), chunk_rows):
                # Once a problem is found nothing more is evaluated, but the rest of the file is
                # still checked, so that one run lists all its problems (up to MAX_ERRORS).
                problems.chunk(offset)
                table = _normalise(chunk, book, problems)
                if table is None or problems.full():
                    break  # a column does not fit: every chunk has the same columns
                ids = _check_apart(table, seen, problems)
                if problems.items:
                    continue
                result = evaluate_frame(table, book, normalised=True)
                writer = _write_chunk(result.frame, out_fmt, sink, writer)
                rows += len(table)
                states += len(ids)
                chunks += 1
                cells += result.exact_cells
                del chunk, table, result  # free this chunk before the next is read
            if problems.items:
                raise problems.error(_row_names(source), os.fspath(source))
            if writer is not None:
                writer.close()
            elif out_fmt == "parquet":  # an empty input still gives a readable (empty) file
                _write_chunk(_empty_result(book), out_fmt, sink, None).close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, destination)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return TableSummary(rows, states, chunks, cells, time.perf_counter() - start)


def _check_apart(table: pl.DataFrame, seen: set[str], problems: _Problems) -> list[str]:
    """A state whose rows appeared in an earlier chunk is not contiguous (within a chunk,
    ``_check_states`` sees it); ``seen`` gathers the states of every chunk. The chunk's states."""
    sid = table.get_column("state_id")
    reported = problems.reported(["state_id"])
    if reported is not None:  # rows whose state_id was reported (a null, a bad id) belong to no state
        sid = sid.zip_with(~reported, pl.Series([None], dtype=pl.String).extend_constant(None, len(sid) - 1))
    ids = [s for s in sid.unique(maintain_order=True).to_list() if s is not None]
    again = [s for s in ids if s in seen]
    if again:
        first = int(sid.is_in(again).fill_null(False).arg_true()[0])
        problems.cell(first, "state_id", "this state's rows appeared earlier, apart", again[0])
    seen.update(ids)
    return ids


def _row_names(source: str | os.PathLike[str]) -> RowNames:
    """How a file's problems name their rows: a CSV file's line (1-based, the header is line 1,
    a quoted cell may span lines), or a Parquet file's data row (1-based, no header)."""
    if table_format(source) != "csv":
        return lambda rows: {i: f"data row {i + 1}, column {{column}}" for i in rows}

    def lines(rows: Sequence[int]) -> dict[int, str]:
        wanted, out = set(rows), dict[int, str]()
        if not wanted:
            return out
        last = max(wanted)
        limit = csv.field_size_limit()
        try:
            csv.field_size_limit(2**31 - 1)  # a cell too long for the mapping is still a cell to count past
            with open(source, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh)
                before = 0  # lines read before the record
                record = -1  # the header
                for cells in reader:
                    if cells:  # blank lines are not rows (Arrow's reader skips them too)
                        if record in wanted:
                            out[record] = f"line {before + 1}, column {{column}}"
                        record += 1
                        if record > last:
                            break
                    before = reader.line_num
        except (OSError, ValueError, csv.Error):  # unreadable as Python reads CSV: rows keep their numbers
            pass
        finally:
            csv.field_size_limit(limit)
        return {i: out.get(i, f"data row {i + 1}, column {{column}}") for i in rows}

    return lines


def _empty_result(book: Rulebook) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "state_id": pl.String(),
        "org_id": pl.String(),
        "org_type": pl.String(),
        "as_of": pl.Date(),
    }
    schema.update({r.id: STATUS_DTYPE for r in book.rules})
    return pl.DataFrame(schema=schema)


def _write_chunk(frame: pl.DataFrame, fmt: Format, sink: Any, writer: Any) -> Any:
    if fmt == "jsonl":
        keys = list(KEY_COLUMNS)
        rules = [c for c in frame.columns if c not in KEY_COLUMNS]
        frame.select(*keys, pl.struct(rules).alias("statuses")).write_ndjson(sink)
        return writer
    import pyarrow.parquet as pq

    table = frame.to_arrow()
    if writer is None:
        # Statistics only for the key columns (for readers that prune by state or organisation):
        # min/max of 219 status columns cost two thirds of the writing time and prune nothing.
        writer = pq.ParquetWriter(sink, table.schema, compression="zstd", write_statistics=list(KEY_COLUMNS))
    writer.write_table(table)
    return writer

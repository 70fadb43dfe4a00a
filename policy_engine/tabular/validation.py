"""Validation and conversion: a table checked against the column mapping and the
rulebook's catalogues (vectorised, stage by stage) and returned in its mapped types."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Literal

import attrs
import polars as pl

from ..errors import StateError
from ..evaluation import columnar
from ..io.arguments import check_count
from ..language.months import DATE_FORMAT
from ..language.rules import ORGANISATION_TYPES
from ..rulebook.loader import Rulebook
from .columns import (
    _COUNT_MAX,
    _FACT_COL,
    _ID,
    _METRIC_COL,
    _STATE_ID,
    _VALUE_MAX,
    KEY_COLUMNS,
    _check_frame,
    _Column,
    _column_spec,
    _default_book,
)
from .long import is_long, to_wide
from .problems import _Problems

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
    what was expected; every problem once, at most 50. (``evaluate_table`` names a file's lines.)
    A long table (a ``period`` column: ``policy_engine.tabular.long``) is returned as the wide
    table it stands for, one row per organisation; its problems name its own rows and columns."""
    frame = _check_frame(frame)
    book = _default_book(rulebook)
    offset = check_count(offset, "offset", StateError, minimum=0)
    problems = _Problems(offset)
    table = _normalise(frame, book, problems)
    if table is None or problems.items:
        raise problems.error()
    return table


def _normalise(frame: pl.DataFrame, book: Rulebook, problems: _Problems) -> pl.DataFrame | None:
    """The table in its mapped types, with its problems added to ``problems``; None if a column
    does not fit the mapping (then no cell can be read). A long table (a ``period`` column) is
    pivoted to the wide table first, and its problems named at the long table's rows and columns."""
    if is_long(frame.columns):
        pivoted = to_wide(frame, book, problems)
        if pivoted is None:
            return None
        frame, problems.locate = pivoted
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

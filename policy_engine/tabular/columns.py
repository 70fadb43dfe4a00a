"""The column mapping of a table (documented in ``policy_engine.tabular`` and
``docs/tabular.md``): which column names exist, and the type each is read as."""

from __future__ import annotations

import re
from typing import Any

import attrs
import polars as pl

from ..data.state import _did_you_mean
from ..errors import StateError
from ..evaluation import columnar
from ..io.arguments import check_instance
from ..language.months import parse_month
from ..rulebook.loader import Rulebook

KEY_COLUMNS: tuple[str, ...] = ("state_id", "org_id", "org_type", "as_of")
"""The columns every table must have (see ``policy_engine.tabular``)."""


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")
_STATE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_METRIC_COL = re.compile(r"^metric\.([a-z][a-z0-9_]{0,63})\.(\d{4}-(?:0[1-9]|1[0-2]))\.(numerator|denominator|value)$")
_FACT_COL = re.compile(r"^fact\.([a-z][a-z0-9_]{0,63})(?:\.(date|evidence))?$")
_COUNT_MAX = 10**12
_VALUE_MAX = 10**12
STATUS_DTYPE = columnar.STATUS_ENUM
"""Status columns of a result: a polars Enum (a dictionary-encoded string column in Parquet)."""


def _check_frame(frame: Any) -> pl.DataFrame:
    """``frame`` if it is a polars DataFrame; StateError naming the argument otherwise (a dict or
    a pandas frame is not converted silently: ``pl.DataFrame(...)`` it first)."""
    return check_instance(frame, pl.DataFrame, "frame", "a polars DataFrame", StateError)


def _default_book(rulebook: Rulebook | None) -> Rulebook:
    """``rulebook``, or the bundled one for None; StateError naming the argument for anything else."""
    if rulebook is not None:
        return check_instance(rulebook, Rulebook, "rulebook", "a Rulebook (from load_rulebook) or None", StateError)
    from ..rulebook.loader import default_rulebook

    return default_rulebook()


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
        metric, month, part = m.groups()
        try:
            parse_month(month)
        except ValueError as exc:  # year 0000: refused as in a state (decision 018)
            return str(exc)
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


def _column_order(name: str) -> tuple[int, str]:
    if name in KEY_COLUMNS:
        return KEY_COLUMNS.index(name), ""
    return len(KEY_COLUMNS), name

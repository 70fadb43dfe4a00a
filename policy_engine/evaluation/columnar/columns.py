"""Column names: the table columns the rules read (``metric.<name>.<YYYY-MM>.<part>``,
``fact.<name>[.date|.evidence]``, ``cohorts``, as documented in docs/tabular.md), their types,
and the prefixes of the working columns the backend adds (statuses, doubt flags, ranks)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from ...language.ast import Call, walk
from ...language.checker import metric_calls, metric_key, name_arg
from ...language.months import format_month
from ...language.rules import STATUSES, Rule
from ...rulebook.loader import Rulebook

STATUS_ENUM = pl.Enum(list(STATUSES))
"""Statuses are a polars Enum: one byte per cell, not a string."""


STATUS_PREFIX = "__s:"
DOUBT_PREFIX = "__d:"
RANK_PREFIX = "__r:"
VALUE_PREFIX = "__v:"
BOUND_PREFIX = "__b:"
WHOLE_PREFIX = "__w:"
NUM_PREFIX = "__rn:"
DEN_PREFIX = "__rd:"


def metric_column(metric: str, month: int, part: str) -> str:
    """``metric.<name>.<YYYY-MM>.<numerator|denominator|value>`` (see docs/tabular.md)."""
    return f"metric.{metric}.{format_month(month)}.{part}"


def fact_column(fact: str, part: str | None = None) -> str:
    """``fact.<name>`` (the value), ``fact.<name>.date``, ``fact.<name>.evidence``."""
    return f"fact.{fact}" if part is None else f"fact.{fact}.{part}"


_FACT_DTYPES: dict[str, pl.DataType] = {
    "boolean": pl.Boolean(),
    "number": pl.Float64(),
    "date": pl.Date(),
    "string": pl.String(),
}


COHORTS_COLUMN = "cohorts"
"""The table column listing the complete cohorts a row's state declares, as ``scope:type``."""


def columns_read(book: Rulebook, rules: Iterable[Rule]) -> set[str]:
    """The table columns that these rules' expressions read (besides the key columns)."""
    out: set[str] = set()
    for rule in rules:
        for node in (rule.condition, rule.applicable_if, rule.completed_on):
            if node is None:
                continue
            for n in walk(node):
                if isinstance(n, Call) and n.func in ("fact", "fact_date", "has_fact"):
                    fname = name_arg(n.args[0], "fact")
                    out |= {fact_column(fname), fact_column(fname, "date")}
                elif isinstance(n, Call) and n.func == "has_service":
                    out.add("services")
            for call in metric_calls(node):
                metric, period = metric_key(call)
                parts = ("value",) if book.metrics[metric].kind == "value" else ("numerator", "denominator")
                for month in book.periods[period].months:
                    out |= {metric_column(metric, month, part) for part in parts}
    return out

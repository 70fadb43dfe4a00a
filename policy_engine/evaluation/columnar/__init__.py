"""The columnar backend: every rule compiled once into polars expressions over a table of
organisation-period rows, evaluated a column at a time.

Exactness. The reference evaluator works in exact fractions; this backend works in float64 and
carries, beside every numeric value, a bound on its absolute rounding error. A comparison whose
two sides are closer than their combined error bounds is *in doubt*: its float result might
differ from the exact one. Doubt propagates to every rule that reads the doubtful result
(through ``outcome()``), and every (row, rule) cell in doubt is re-decided by the reference
evaluator (``_decide.decide``) on that row, in dependency order; a doubtful ``rank()`` (a near
tie within a cohort) re-decides the whole state with the reference backend. So the statuses
returned are the reference statuses, always; floats only decide the cells where they cannot be
wrong. ``tests/test_tabular.py`` checks this against the reference on generated states, including
values exactly on every threshold.

The input frame is the *normalised* frame of ``policy_engine.tabular`` (typed columns, already
validated); column names are those of the documented mapping.

The package, one module per job (each imports only modules above it in this list):

``columns``    table column names and types; the working columns' prefixes
``bounds``     float64 values with error bounds, and when a comparison is in doubt
``ratios``     exact Int128 ratios
``compiler``   a rule's expressions compiled into polars expressions
``statuses``   a rule's status for every row (``_status_exprs``)
``cohorts``    complete cohorts declared in the ``cohorts`` column
``ranking``    rank() in floats, near ties settled exactly where the ratios allow
``grouping``   organisation types evaluated together
``frame``      the float pass over a frame (``decide_frame``)
``fallback``   the exact fallback for the cells in doubt, and ``run``
"""

from __future__ import annotations

from ..._extras import require

# polars and pyarrow (the [tables] extra): without them, a MissingExtraError that names the extra
with require("tables", feature="the columnar evaluator (policy_engine.evaluation.columnar)"):
    from .cohorts import TABLE_COHORT_SOURCE, cohort_declared, cohorts_of_cells, declared_cohorts
    from .columns import _FACT_DTYPES as _FACT_DTYPES
    from .columns import (
        BOUND_PREFIX,
        COHORTS_COLUMN,
        DEN_PREFIX,
        DOUBT_PREFIX,
        NUM_PREFIX,
        RANK_PREFIX,
        STATUS_ENUM,
        STATUS_PREFIX,
        VALUE_PREFIX,
        WHOLE_PREFIX,
        columns_read,
        fact_column,
        metric_column,
    )
    from .fallback import Resolution, ViewsOfRows, run
    from .frame import decide_frame
    from .grouping import _groups as _groups

__all__ = [
    "BOUND_PREFIX",
    "COHORTS_COLUMN",
    "DEN_PREFIX",
    "DOUBT_PREFIX",
    "NUM_PREFIX",
    "RANK_PREFIX",
    "STATUS_ENUM",
    "STATUS_PREFIX",
    "TABLE_COHORT_SOURCE",
    "VALUE_PREFIX",
    "WHOLE_PREFIX",
    "Resolution",
    "ViewsOfRows",
    "cohort_declared",
    "cohorts_of_cells",
    "columns_read",
    "decide_frame",
    "declared_cohorts",
    "fact_column",
    "metric_column",
    "run",
]

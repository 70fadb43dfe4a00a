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

A table with a ``period`` column is in the long layout instead (decision 030): one row per
organisation per month, ``metric.<name>.<part>`` columns for the row's month, and ``services``,
``cohorts`` and the ``fact.*`` columns given on any of the organisation's rows (the same value
on each that gives one). It is pivoted to the wide layout above before it is checked; its
problems name its own rows and columns.

A missing column, or a null cell, is missing data: it makes what depends on it unknown, never a
breach. Any other column is an error (a misspelt metric must not read as missing data).

The package, one module per job (each imports only modules above it in this list):

``columns``      the column mapping: names, the type each is read as
``problems``     every bad column and cell of a table, reported once
``long``         the long layout (a row per organisation and month, a ``period`` column) pivoted to the wide
``validation``   a table checked and converted to its mapped types (``normalise_frame``)
``convert``      rows <-> states (``frame_to_states``, ``states_to_frame``)
``evaluate``     a frame evaluated in memory (``evaluate_frame``)
``reading``      table files read in batches; how a file names its rows
``chunking``     batches re-cut into chunks of whole states
``writers``      chunks of statuses written to Parquet or JSON Lines
``streaming``    a file evaluated chunk by chunk into an atomically written file (``evaluate_table``;
                 in a child process under an address-space limit)
"""

from __future__ import annotations

from .._extras import require

# polars and pyarrow (the [tables] extra): without them, a MissingExtraError that names the extra
with require("tables", feature="the table API (policy_engine.tabular)"):
    # ``__all__`` is the public API, as before the split; MAX_ERRORS, STATUS_DTYPE, RowNames, Format
    # and table_format stay reachable here too, as they were.
    from .columns import KEY_COLUMNS
    from .columns import STATUS_DTYPE as STATUS_DTYPE
    from .convert import frame_to_states, states_to_frame
    from .evaluate import TableResult, evaluate_frame
    from .problems import MAX_ERRORS as MAX_ERRORS
    from .problems import RowNames as RowNames
    from .reading import Format as Format
    from .reading import table_format as table_format
    from .streaming import DEFAULT_CHUNK_ROWS, TableSummary, evaluate_table
    from .validation import normalise_frame

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

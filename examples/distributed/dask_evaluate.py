"""Evaluate a table of organisation-period rows with Dask: the batch evaluator as a function over partitions.

The pattern (explained in ``docs/distributed.md``):

1. Shuffle the rows so that every row of a ``state_id`` lands in one partition. A state is the
   cohort ``rank()`` ranks within, so a partition must hold whole states; the input files may
   cut a state anywhere.
2. ``map_partitions`` one plain function over the partitions: pandas -> polars, a stable sort by
   ``state_id`` (``evaluate_frame`` wants a state's rows contiguous), ``evaluate_frame``, polars ->
   pandas.
3. Each worker process loads the rulebook once (a module-level cache keyed by its name) and checks
   its digest against the client's; the rulebook itself is never shipped with the tasks.

Run it from the repository root (``policy_engine`` must be importable, e.g. installed)::

    python examples/distributed/dask_evaluate.py [--states 6] [--partitions 3] [--scheduler processes]

It builds a small input from ``examples/state.json`` seen at several ``as_of`` dates (one state
each), writes it as Parquet files whose boundaries cut through states, reads them with
``dd.read_parquet``, evaluates them on the local process pool, writes the statuses as Parquet and
prints a summary.

Column types on the Dask side: ``services`` is ``;``-separated text and dates are ISO strings
(both are accepted by the table mapping); other columns get pandas' default dtypes (see
``read_input``) and ``pl.from_pandas`` turns NaN back into null. The result has ``state_id``,
``org_id``, ``org_type``, ``as_of`` (ISO text) and one status column per rule, all pyarrow-backed
text (``large_string[pyarrow]``, null where a rule does not apply to the organisation's type).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import polars as pl

import policy_engine as pe
from policy_engine import tabular
from policy_engine.data.state import state_from_dict
from policy_engine.rulebook.loader import Rulebook

RULEBOOK = "nhs-2024-25"
EXAMPLE_STATE = Path(__file__).resolve().parents[1] / "state.json"

# ----------------------------------------------------------------------------- the worker side

_BOOKS: dict[str, Rulebook] = {}
_BOOKS_LOCK = threading.Lock()  # the threaded scheduler runs partitions concurrently in one process
LOADS: Counter[str] = Counter()
"""How many times this process has loaded each rulebook (once, however many partitions it runs)."""


def worker_rulebook(name: str, digest: str) -> Rulebook:
    """The rulebook ``name``, loaded at most once per process, refused if it is not the client's."""
    with _BOOKS_LOCK:
        book = _BOOKS.get(name)
        if book is None:
            book = _BOOKS[name] = pe.load_rulebook(name)
            LOADS[name] += 1
    if book.digest != digest:
        raise RuntimeError(
            f"rulebook {name!r} on this worker has digest {book.digest[:12]}, the client's has {digest[:12]}: "
            "install the same policy_engine version everywhere (overlaid rulebooks cannot be reloaded by name)"
        )
    return book


def _to_pandas(result: pl.DataFrame) -> pd.DataFrame:
    """A result frame as pandas: ``as_of`` as ISO text, every column pyarrow-backed text (nulls kept)."""
    text = result.with_columns(pl.col("as_of").dt.to_string("%Y-%m-%d"), pl.all().exclude("as_of").cast(pl.String))
    return text.to_pandas(use_pyarrow_extension_array=True)


def result_meta(book: Rulebook) -> pd.DataFrame:
    """The empty result with the columns and dtypes every partition returns (Dask's ``meta``)."""
    empty = pl.DataFrame(schema=dict.fromkeys(tabular.KEY_COLUMNS, pl.String))
    return _to_pandas(tabular.evaluate_frame(empty, book).frame)


def evaluate_partition(partition: pd.DataFrame, name: str, digest: str, meta: pd.DataFrame) -> pd.DataFrame:
    """Statuses of one partition holding whole states (any row order). Runs on the workers."""
    if len(partition) == 0:  # hash partitioning can leave partitions without a state
        return meta
    book = worker_rulebook(name, digest)
    frame = pl.from_pandas(partition.reset_index(drop=True))
    frame = frame.sort("state_id", maintain_order=True)  # a state's rows contiguous, in arrival order
    return _to_pandas(tabular.evaluate_frame(frame, book).frame)


# ----------------------------------------------------------------------------- the client side


def evaluate_partitioned(ddf: dd.DataFrame, book: Rulebook, *, npartitions: int | None = None) -> dd.DataFrame:
    """The statuses of every row of ``ddf`` (columns of the table mapping), as a lazy Dask dataframe.

    Rows are shuffled by ``state_id`` first, so the input may be partitioned in any way. Only the
    rulebook's name and digest travel with the tasks; each worker loads the rulebook itself, so
    ``book`` must be loadable by name (``pe.load_rulebook(book.id)``) wherever the workers run.
    Invalid rows raise ``policy_engine.StateError`` when the result is computed."""
    meta = result_meta(book)
    by_state = ddf.shuffle("state_id", npartitions=npartitions)
    return by_state.map_partitions(evaluate_partition, book.id, book.digest, meta, meta=meta, align_dataframes=False)


# ----------------------------------------------------------------------------- the demonstration


def build_input(n_states: int, book: Rulebook, example: Path = EXAMPLE_STATE) -> pl.DataFrame:
    """``n_states`` states: the example state seen at successive month ends (state_id ``M<YYYY-MM>``),
    with ``services`` and ``cohorts`` as ``;``-separated text and every date as ISO text, ready for pandas and Dask."""
    doc = pe.load_state(example).to_dict()
    states = {}
    first = dt.date(2025, 3, 1)
    for _ in range(n_states):
        following = (first + dt.timedelta(days=31)).replace(day=1)
        as_of = following - dt.timedelta(days=1)
        states[f"M{as_of:%Y-%m}"] = state_from_dict({**doc, "as_of": as_of.isoformat()}, book)
        first = following
    frame = tabular.states_to_frame(states, book)
    return frame.with_columns(pl.col(pl.List(pl.String)).list.join(";"), pl.col(pl.Date).dt.to_string("%Y-%m-%d"))


def write_input(frame: pl.DataFrame, directory: Path, rows_per_file: int) -> list[Path]:
    """``frame`` as Parquet files of ``rows_per_file`` rows (a state's rows may span two files)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, start in enumerate(range(0, frame.height, rows_per_file)):
        path = directory / f"part-{i:04d}.parquet"
        frame.slice(start, rows_per_file).write_parquet(path)
        paths.append(path)
    return paths


def read_input(directory: Path) -> dd.DataFrame:
    """The table as a Dask dataframe, one partition per file, with pandas' default dtypes: counts
    with missing cells become float64 (NaN, read back as null), booleans with missing cells object.
    (``dtype_backend="pyarrow"`` keeps exact nullable types but makes Dask's shuffle of these wide
    frames several times slower.)"""
    return dd.read_parquet(str(directory))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--states", type=int, default=6, help="number of states (default 6)")
    parser.add_argument("--rows-per-file", type=int, default=7, help="input rows per Parquet file (default 7)")
    parser.add_argument("--partitions", type=int, default=3, help="partitions after the shuffle (default 3)")
    parser.add_argument(
        "--scheduler",
        choices=["processes", "threads", "synchronous"],
        default="processes",
        help="local Dask scheduler (default processes: a pool of worker processes)",
    )
    parser.add_argument("--out", type=Path, help="directory for the result Parquet (default: a temporary one)")
    args = parser.parse_args(argv)

    book = pe.load_rulebook(RULEBOOK)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="policy-engine-dask-") as tmp:
        source = Path(tmp) / "input"
        files = write_input(build_input(args.states, book), source, args.rows_per_file)
        out = args.out if args.out is not None else Path(tmp) / "statuses"
        result = evaluate_partitioned(read_input(source), book, npartitions=args.partitions)
        with dask.config.set(scheduler=args.scheduler):
            result.to_parquet(str(out), write_index=False)
            statuses = dd.read_parquet(str(out)).compute()
    elapsed = time.perf_counter() - started

    rule_columns = [c for c in statuses.columns if c not in tabular.KEY_COLUMNS]
    counts = Counter(status for column in rule_columns for status in statuses[column].dropna())
    print(f"input: {len(files)} Parquet files; scheduler: {args.scheduler}; {elapsed:.1f} s")
    print(f"rows: {len(statuses)}  states: {statuses['state_id'].nunique()}  rules: {len(rule_columns)}")
    for status, n in counts.most_common():
        print(f"  {status:<16} {n}")
    if args.out is not None:
        print(f"statuses written to {out}")
    return 0


if __name__ == "__main__":
    # Run the importable module rather than this __main__ copy, so that worker processes import
    # dask_evaluate by name (and keep its rulebook cache) instead of receiving its functions by value.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dask_evaluate import main as _main

    sys.exit(_main())

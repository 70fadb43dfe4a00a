"""The Dask example (examples/distributed/dask_evaluate.py): the batch evaluator mapped over partitions of
whole states gives, cell for cell, what evaluate_frame gives on the whole table in one process."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

dd = pytest.importorskip("dask.dataframe")

import dask  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402

import policy_engine as pe  # noqa: E402
from policy_engine import tabular  # noqa: E402

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "distributed"
N_STATES = 4  # the example state has 10 organisations: 40 rows
ROWS_PER_FILE = 7  # input files cut through states, so the shuffle has work to do
PARTITIONS = 3

pytestmark = pytest.mark.slow  # a Dask cluster's work: most of these take well over 5 s each


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    # Imported by name from a directory on sys.path (not from a file path) so that the process
    # scheduler's spawned workers, which inherit sys.path, can import it too.
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLE_DIR))
        module = importlib.import_module("dask_evaluate")
        yield module
    sys.modules.pop("dask_evaluate", None)


@pytest.fixture(scope="module")
def book() -> pe.Rulebook:
    return pe.load_rulebook("nhs-2024-25")


@pytest.fixture(scope="module")
def table(example: ModuleType, book: pe.Rulebook) -> pl.DataFrame:
    frame: pl.DataFrame = example.build_input(N_STATES, book)
    return frame


@pytest.fixture(scope="module")
def source(example: ModuleType, table: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dask") / "input"
    files = example.write_input(table, directory, ROWS_PER_FILE)
    assert len(files) == -(-table.height // ROWS_PER_FILE)
    return directory


@pytest.fixture(scope="module")
def expected(table: pl.DataFrame, book: pe.Rulebook) -> pl.DataFrame:
    """evaluate_frame on the whole table in this process, every column as text."""
    return _canonical(tabular.evaluate_frame(table, book).frame)


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.cast(pl.String).sort(["state_id", "org_id"], maintain_order=True)


def _compute_partitions(result: dd.DataFrame, scheduler: str) -> list[pd.DataFrame]:
    with dask.config.set(scheduler=scheduler):
        parts: list[pd.DataFrame] = list(dask.compute(*result.to_delayed()))
    return parts


def test_input_files_cut_through_states(example: ModuleType, source: Path) -> None:
    ddf = example.read_input(source)
    assert ddf.npartitions >= 2
    with dask.config.set(scheduler="synchronous"):
        per_partition = ddf.map_partitions(lambda p: p[["state_id"]].drop_duplicates()).compute()
    assert per_partition["state_id"].duplicated().any()  # some state starts in one file and ends in another


def test_dask_result_equals_one_process_cell_for_cell(
    example: ModuleType, book: pe.Rulebook, source: Path, expected: pl.DataFrame
) -> None:
    result = example.evaluate_partitioned(example.read_input(source), book, npartitions=PARTITIONS)
    parts = _compute_partitions(result, "processes")
    filled = [p for p in parts if len(p)]
    assert len(filled) >= 2, "the states should spread over at least two partitions"
    for part in filled:  # every state whole in exactly one partition
        assert not set(part["state_id"]) & set().union(*(set(q["state_id"]) for q in filled if q is not part))
    meta = example.result_meta(book)
    assert all(list(p.columns) == list(meta.columns) and (p.dtypes == meta.dtypes).all() for p in parts)
    got = _canonical(pl.from_pandas(pd.concat(filled, ignore_index=True)))
    assert got.columns == expected.columns
    assert got.height == expected.height == N_STATES * 10
    assert got.equals(expected)


def test_the_rulebook_is_loaded_once_per_worker(
    example: ModuleType, book: pe.Rulebook, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(example, "_BOOKS", {})
    monkeypatch.setattr(example, "LOADS", type(example.LOADS)())
    result = example.evaluate_partitioned(example.read_input(source), book, npartitions=PARTITIONS)
    parts = _compute_partitions(result, "threads")  # one process: all partitions share its cache
    assert sum(1 for p in parts if len(p)) >= 2
    assert example.LOADS == {book.id: 1}


def test_a_different_rulebook_on_a_worker_is_refused(example: ModuleType, book: pe.Rulebook) -> None:
    with pytest.raises(RuntimeError, match="digest"):
        example.worker_rulebook(book.id, "0" * 64)


def test_invalid_rows_raise_state_error(
    example: ModuleType, book: pe.Rulebook, table: pl.DataFrame, tmp_path: Path
) -> None:
    bad = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("spaceport")).otherwise("org_type").alias("org_type")
    )
    example.write_input(bad, tmp_path, ROWS_PER_FILE)
    result = example.evaluate_partitioned(example.read_input(tmp_path), book, npartitions=PARTITIONS)
    with dask.config.set(scheduler="synchronous"), pytest.raises(pe.StateError, match="org_type"):
        result.compute()


def test_main_writes_and_summarises(example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "statuses"
    assert example.main(["--states", "3", "--partitions", "2", "--scheduler", "threads", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows: 30  states: 3" in printed and "met" in printed
    written = pl.read_parquet(out / "*.parquet")
    assert written.height == 30 and written["state_id"].n_unique() == 3

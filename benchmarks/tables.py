"""Generated organisation-period tables for the benchmarks (not part of the package).

Rows are the bundled example's organisations (one of each type, with their full 2023-2025 data)
with every count scaled by a per-row random factor and every fact date shifted, so no two rows
are alike; ``mix`` picks the organisation types. Deterministic for a seed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from bench_national import COUNTS  # run from benchmarks/, as the other benchmarks import this module

from policy_engine import load_rulebook, load_state
from policy_engine.tabular import states_to_frame

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = COUNTS
"""Roughly England's organisations: most rows are practices and PCNs, which few rules read."""


def templates() -> pl.DataFrame:
    book = load_rulebook("nhs-2024-25")
    state = load_state(ROOT / "examples" / "state.json")
    frame = states_to_frame({"t": state}, book)
    return frame.unique(subset="org_type", keep="first", maintain_order=True)


def iter_frames(
    rows: int, chunk_rows: int = 50_000, *, orgs_per_state: int = 250, mix: str = "national", seed: int = 7
) -> Iterator[pl.DataFrame]:
    """``rows`` rows in chunks; every ``orgs_per_state`` consecutive rows form one state."""
    base = templates()
    types = base.get_column("org_type").to_list()
    if mix == "national":
        weights = [float(NATIONAL[t]) for t in types]
    elif mix in types:
        weights = [1.0 if t == mix else 0.0 for t in types]
    else:
        raise ValueError(f"mix: national or one of {types}")
    rng = random.Random(seed)
    nums = [c for c in base.columns if c.endswith(".numerator")]
    values = [c for c in base.columns if c.endswith(".value")]
    fact_dates = [c for c in base.columns if c.startswith("fact.") and c.endswith(".date")]
    done = 0
    while done < rows:
        n = min(chunk_rows, rows - done)
        pick = rng.choices(range(len(types)), weights=weights, k=n)
        frame = base[pick]
        idx = range(done, done + n)
        scale = pl.Series([rng.uniform(0.9, 1.1) for _ in idx])
        shift = pl.Series([rng.randint(-60, 59) for _ in idx])
        frame = frame.with_columns(
            pl.Series("state_id", [f"S{i // orgs_per_state:07d}" for i in idx]),
            pl.Series("org_id", [f"R{i:07d}" for i in idx]),
            *[
                pl.min_horizontal(
                    (pl.col(c) * scale).round().cast(pl.Int64), pl.col(c[: -len("numerator")] + "denominator")
                ).alias(c)
                for c in nums
            ],
            *[(pl.col(c) * scale).round(2).alias(c) for c in values],
            *[(pl.col(c) + pl.duration(days=shift)).alias(c) for c in fact_dates],
        )
        yield frame
        done += n


def write_parquet(path: str | os.PathLike[str], rows: int, **kwargs: object) -> None:
    import pyarrow.parquet as pq

    writer = None
    for frame in iter_frames(rows, **kwargs):  # type: ignore[arg-type]
        table = frame.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()

"""Writing results: chunks of statuses appended to a Parquet or JSON Lines file."""

from __future__ import annotations

from typing import Any

import polars as pl

from ..rulebook.loader import Rulebook
from .columns import KEY_COLUMNS, STATUS_DTYPE
from .reading import Format


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

"""Writing results: chunks of statuses appended to a Parquet, CSV or JSON Lines file."""

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


class _CsvStarted:
    """The CSV "writer": that the header has been written (the file needs nothing at its end)."""

    def close(self) -> None:
        pass


def _write_chunk(frame: pl.DataFrame, fmt: Format, sink: Any, writer: Any) -> Any:
    """Append ``frame`` to ``sink``; returns the writer to pass with the next chunk (and close at the end)."""
    if fmt == "csv":
        # one header, before the first chunk; statuses are written as their names, dates as YYYY-MM-DD
        frame.write_csv(sink, include_header=writer is None)
        return writer or _CsvStarted()
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

"""Chunks of whole states: batches re-cut at state boundaries, and the check that a
state's rows are contiguous across chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import polars as pl

from .problems import _Problems


def _state_chunks(batches: Iterable[pl.DataFrame], chunk_rows: int) -> Iterator[tuple[int, pl.DataFrame]]:
    """Re-cut batches into chunks of whole states: (offset of the chunk's first row, rows)."""
    pending: list[pl.DataFrame] = []
    held = 0
    offset = 0
    yielded = False
    for batch in batches:
        if "state_id" not in batch.columns:
            yield offset, batch  # normalise_frame reports the missing column
            return
        pending.append(batch)
        held += len(batch)
        if held < chunk_rows:
            continue
        frame = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
        sid = frame.get_column("state_id")
        starts = (sid != sid.shift(1)).fill_null(True)
        cut = int(starts.arg_true()[-1])  # the first row of the last state, which may go on
        if cut == 0:  # one state fills the whole buffer: keep reading
            pending = [frame]
            continue
        yield offset, frame[:cut]
        yielded = True
        offset += cut
        # A copy of the rows held back (one state's), not a slice: a slice would keep the whole
        # batch's buffers alive while the next batch is read, doubling the memory.
        pending = [frame[list(range(cut, len(frame)))]]
        held = len(frame) - cut
    if pending:
        frame = pl.concat(pending, how="vertical_relaxed") if len(pending) > 1 else pending[0]
        if len(frame) or not yielded:  # an empty table still has its columns checked
            yield offset, frame


def _check_apart(table: pl.DataFrame, seen: set[str], problems: _Problems) -> list[str]:
    """A state whose rows appeared in an earlier chunk is not contiguous (within a chunk,
    ``_check_states`` sees it); ``seen`` gathers the states of every chunk. The chunk's states."""
    sid = table.get_column("state_id")
    reported = problems.reported(["state_id"])
    if reported is not None:  # rows whose state_id was reported (a null, a bad id) belong to no state
        sid = sid.zip_with(~reported, pl.Series([None], dtype=pl.String).extend_constant(None, len(sid) - 1))
    ids = [s for s in sid.unique(maintain_order=True).to_list() if s is not None]
    again = [s for s in ids if s in seen]
    if again:
        first = int(sid.is_in(again).fill_null(False).arg_true()[0])
        problems.cell(first, "state_id", "this state's rows appeared earlier, apart", again[0])
    seen.update(ids)
    return ids

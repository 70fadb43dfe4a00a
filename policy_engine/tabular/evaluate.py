"""Evaluating a table in memory: the columnar backend on a normalised frame, with the
reference views its exact fallback needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs
import polars as pl

from ..data.state import OrgView, organisations_of, view_at
from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation import columnar
from ..rulebook.loader import Rulebook
from .columns import KEY_COLUMNS, STATUS_DTYPE, _check_frame, _default_book
from .convert import _org_document
from .validation import normalise_frame


@attrs.frozen
class TableResult:
    """Statuses of a table: ``frame`` has the key columns and one status column per rule (in the
    rulebook's dependency order; null where the rule does not apply to the organisation's type).
    ``exact_cells`` counts the cells the float pass could not decide and the reference evaluator
    re-decided (see ``policy_engine.evaluation.columnar``)."""

    frame: pl.DataFrame
    exact_cells: int
    exact_rows: int
    exact_states: int


def _views_of_rows(book: Rulebook) -> columnar.ViewsOfRows:
    def views(frame: pl.DataFrame, indexes: Sequence[int], columns: Collection[str]) -> list[tuple[OrgView, dt.date]]:
        keep = [*KEY_COLUMNS, *sorted(columns)]
        rows = list(frame.select(keep)[list(indexes)].iter_rows(named=True))
        by_state: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            by_state.setdefault(r["state_id"], []).append(r)
        built: dict[tuple[str, str], OrgView] = {}
        for sid, members in by_state.items():
            doc = {"organisations": [_org_document(r) for r in members]}
            for org in organisations_of(doc):  # rows already checked by normalise_frame
                built[(sid, org.id)] = view_at(org, members[0]["as_of"], book.date_facts)
        return [(built[(r["state_id"], r["org_id"])], r["as_of"]) for r in rows]

    return views


def evaluate_frame(frame: pl.DataFrame, rulebook: Rulebook | None = None, *, normalised: bool = False) -> TableResult:
    """Evaluate every row of a table (the columns: see ``policy_engine.tabular``).

    The statuses equal the reference evaluator's for the same states (``frame_to_states``), cell
    for cell. Invalid tables raise StateError naming each bad cell; nothing is evaluated."""
    frame = _check_frame(frame)
    book = _default_book(rulebook)
    table = frame if normalised else normalise_frame(frame, book)
    try:
        statuses, res = columnar.run(book, table, _views_of_rows(book))
    except PolicyError:
        raise
    except Exception as exc:  # pragma: no cover - an internal failure, reported as such
        from ..errors import EngineError

        raise EngineError(
            "internal error during table evaluation",
            [ErrorDetail("engine", f"{type(exc).__name__}: {exc}", code=ErrorCode.ENGINE_INTERNAL)],
        ) from exc
    keys = table.select(KEY_COLUMNS)
    out = pl.concat([keys, statuses.select(pl.all().cast(STATUS_DTYPE))], how="horizontal")
    return TableResult(out, res.cells, res.rows, res.states)

"""Rows <-> states: a normalised table's rows as state documents, and states as rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from ..data.state import State, facts_at, state_from_dict
from ..errors import ErrorCode, ErrorDetail, StateError
from ..evaluation import columnar
from ..io.arguments import wrong_argument
from ..language.months import format_month
from ..rulebook.loader import Rulebook
from .columns import _FACT_COL, _METRIC_COL, _check_frame, _column_order, _column_spec, _default_book
from .validation import normalise_frame


def _number(x: float) -> Decimal | int:
    d = Decimal(repr(x))
    return int(d) if d == d.to_integral_value() and abs(d) < 2**53 else d


def _org_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row (of a normalised table) as an organisation of a state document."""
    org: dict[str, Any] = {"id": row["org_id"], "type": row["org_type"]}
    if row.get("services") is not None:
        org["services"] = list(row["services"])
    metrics: dict[str, dict[str, dict[str, Any]]] = {}
    facts: list[dict[str, Any]] = []
    for name, value in row.items():
        if value is None:
            continue
        m = _METRIC_COL.fullmatch(name)
        if m:
            metric, month, part = m.groups()
            obs = metrics.setdefault(metric, {}).setdefault(month, {"period": month})
            obs[part] = _number(value) if part == "value" else int(value)
            continue
        f = _FACT_COL.fullmatch(name)
        if f and f.group(2) is None:
            fact: dict[str, Any] = {"name": f.group(1), "date": row[name + ".date"].isoformat()}
            if isinstance(value, dt.date):
                fact["value"] = value.isoformat()
            elif isinstance(value, float):
                fact["value"] = _number(value)
            else:
                fact["value"] = value
            if row.get(name + ".evidence") is not None:
                fact["evidence"] = row[name + ".evidence"]
            facts.append(fact)
    if metrics:
        org["metrics"] = {k: sorted(v.values(), key=lambda o: o["period"]) for k, v in sorted(metrics.items())}
    if facts:
        org["facts"] = facts
    return org


def _state_of(rows: Sequence[Mapping[str, Any]], book: Rulebook) -> State:
    """The state of a table's rows (validated again as a state document)."""
    as_of = rows[0]["as_of"]
    doc: dict[str, Any] = {"as_of": as_of.isoformat(), "organisations": [_org_document(r) for r in rows]}
    declared = columnar.cohorts_of_cells(r.get(columnar.COHORTS_COLUMN) for r in rows)
    if declared:
        doc["cohorts"] = [{"scope": c.scope, "types": list(c.types), "source": c.source} for c in declared]
    return state_from_dict(doc, book)


def frame_to_states(frame: pl.DataFrame, rulebook: Rulebook | None = None) -> list[tuple[str, State]]:
    """Each state of a table, as ``(state_id, State)`` in table order (validated both ways)."""
    book = _default_book(rulebook)
    table = normalise_frame(_check_frame(frame), book)
    out: list[tuple[str, State]] = []
    for (sid,), group in table.group_by("state_id", maintain_order=True):
        out.append((str(sid), _state_of(list(group.iter_rows(named=True)), book)))
    return out


def _state_pairs(states: Any) -> Iterator[tuple[str, State]]:
    """The ``(state_id, State)`` pairs of ``states``; StateError naming the argument (and the
    item) for anything else: a lone State, text, a number, a pair of other types."""
    expected = "a mapping or an iterable of (state_id, State) pairs, state_id a non-empty str"
    if isinstance(states, (str, bytes, bytearray, State)) or not isinstance(states, Iterable):
        raise wrong_argument(StateError, "states", expected, states)
    pairs = states.items() if isinstance(states, Mapping) else states
    for i, pair in enumerate(pairs):
        if (
            not isinstance(pair, tuple)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not pair[0]
            or not isinstance(pair[1], State)
        ):
            raise wrong_argument(StateError, f"states[{i}]", expected, pair)
        yield pair


def states_to_frame(
    states: Iterable[tuple[str, State]] | Mapping[str, State],
    rulebook: Rulebook | None = None,
    *,
    lists: Literal["list", "text"] = "list",
) -> pl.DataFrame:
    """The rows of one or more states (``state_id`` -> State), typed as ``normalise_frame`` returns.

    A row holds one declaration per fact: the one in force at the state's ``as_of`` (the latest
    dated on or before it; if none is, the earliest after it, which is equally invisible). Names,
    parents, PCNs and regions are not part of the mapping (no rule reads them). So the table
    evaluates exactly as the state does at its ``as_of``.

    ``lists`` is how the ``services`` and ``cohorts`` columns hold their names: ``"list"`` (the
    default, ``List(String)``, as Parquet keeps them) or ``"text"`` (the names joined by ``;``, as a
    CSV file holds them: ``frame.write_csv`` accepts the frame, and the table reader reads the file
    back to the same states; an empty text is no services, a null one services not declared)."""
    if lists not in ("list", "text"):
        raise wrong_argument(StateError, "lists", '"list" or "text"', lists)
    book = _default_book(rulebook)
    rows: list[dict[str, Any]] = []
    for sid, state in _state_pairs(states):
        if state.as_of is None:
            raise StateError(
                "a state without as_of cannot become rows",
                [ErrorDetail(sid, "missing", code=ErrorCode.STATE_AS_OF, location=("as_of",))],
            )
        for org in state.organisations:
            row: dict[str, Any] = {"state_id": sid, "org_id": org.id, "org_type": org.type, "as_of": state.as_of}
            if org.services is not None:
                row["services"] = sorted(org.services)
            if state.cohorts:
                row[columnar.COHORTS_COLUMN] = sorted({f"{c.scope}:{t}" for c in state.cohorts for t in c.types})
            for mname, series in org.metrics.items():
                kind = book.metrics[mname].kind
                for month, obs in series.items():
                    stem = f"metric.{mname}.{format_month(month)}"
                    if kind == "value":
                        assert obs.value is not None
                        row[stem + ".value"] = float(obs.value)
                    else:
                        row[stem + ".numerator"] = obs.numerator
                        row[stem + ".denominator"] = obs.denominator
            in_force = facts_at(org, state.as_of)
            for name in {f.name for f in org.facts}:
                fact = in_force.get(name) or min((f for f in org.facts if f.name == name), key=lambda f: f.date)
                value: Any = fact.value
                if book.facts[name].type == "date" and isinstance(value, str):
                    value = dt.date.fromisoformat(value)
                elif book.facts[name].type == "number":
                    value = float(value)
                row[f"fact.{name}"] = value
                row[f"fact.{name}.date"] = fact.date
                if fact.evidence is not None:
                    row[f"fact.{name}.evidence"] = fact.evidence
            rows.append(row)
    columns = sorted({k for r in rows for k in r}, key=_column_order)
    schema: dict[str, pl.DataType] = {}
    for name in columns:
        spec = _column_spec(name, book)
        assert not isinstance(spec, str), spec
        schema[name] = spec.dtype
    data = {name: [r.get(name) for r in rows] for name in columns}
    frame = pl.DataFrame(data, schema=schema)
    if lists == "text":
        frame = frame.with_columns(pl.col(pl.List(pl.String)).list.join(";"))
    return frame

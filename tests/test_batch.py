"""evaluate_many and `evaluate --batch`: streams of states in, one evaluation per state out."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import policy_engine as pe
from policy_engine.cli import EXIT_INVALID, EXIT_OK, run

BOOK = pe.load_rulebook()
STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def state(num: int) -> dict[str, Any]:
    return {
        "as_of": "2025-04-20",
        "organisations": [
            {
                "id": "RA1",
                "type": "acute_trust",
                "services": ["type1_ae"],
                "metrics": {"ae_4h_all": [{"period": "2025-03", "numerator": num, "denominator": 1000}]},
            }
        ],
    }


def test_evaluate_many_is_lazy_and_equals_evaluate() -> None:
    pulled: list[int] = []

    def source() -> Iterator[dict[str, Any]]:
        for num in (779, 780, 781):
            pulled.append(num)
            yield state(num)

    results = pe.evaluate_many(source(), BOOK, backend="native", evaluated_at=STAMP)
    assert pulled == []  # nothing is read before it is asked for
    first = next(results)
    assert pulled == [779]
    rest = list(results)
    statuses = [e.outcome("uec.ae-4h-78", "RA1").status for e in [first, *rest]]
    assert statuses == ["not_met", "met", "met"]
    assert first.outcomes == pe.evaluate(state(779), BOOK, backend="native", evaluated_at=STAMP).outcomes


def test_evaluate_many_raises_at_the_bad_state() -> None:
    results = pe.evaluate_many([state(779), {"organisations": "nope"}], BOOK, backend="native")
    next(results)
    with pytest.raises(pe.StateError):
        next(results)


def _lines(tmp_path: Path, *docs: Any) -> Path:
    p = tmp_path / "states.jsonl"
    p.write_text("\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs) + "\n")
    return p


def test_cli_batch_streams_one_line_per_state(tmp_path: Path) -> None:
    src = _lines(tmp_path, state(779), "", state(781))
    out, err = io.StringIO(), io.StringIO()
    assert run(["evaluate", str(src), "--batch", "--backend", "native"], stdout=out, stderr=err) == EXIT_OK
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["line"] for r in records] == [1, 3]
    status = [next(o["status"] for o in r["outcomes"] if o["rule"] == "uec.ae-4h-78") for r in records]
    assert status == ["not_met", "met"]


def test_cli_batch_reports_bad_lines_and_fails(tmp_path: Path) -> None:
    src = _lines(tmp_path, state(779), '{"organisations": [', state(781), {"organisations": [{"id": "X"}]})
    target = tmp_path / "out.jsonl"
    out, err = io.StringIO(), io.StringIO()
    code = run(["evaluate", str(src), "--batch", "--backend", "native", "-o", str(target)], stdout=out, stderr=err)
    assert code == EXIT_INVALID
    assert "2 line(s) of the batch were not valid states" in err.getvalue()
    assert "line 2" in err.getvalue() and "line 4" in err.getvalue()
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [("error" in r, r["line"]) for r in records] == [(False, 1), (True, 2), (False, 3), (True, 4)]
    assert records[3]["details"][0]["path"] == "state.organisations[0]"

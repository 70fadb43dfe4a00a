"""An organisation whose type is assumed (provenance ``confirmed: false``) is judged on no rule, on
every backend; a declared cohort holding one is not treated as complete."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import policy_engine as pe
from policy_engine.engine import available_backends

EXAMPLE = Path(__file__).parent.parent / "examples" / "state.json"


def _example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return doc


def _assume(doc: dict[str, Any], org_id: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    org = next(o for o in out["organisations"] if o["id"] == org_id)
    org["provenance"] = {"type": {"source": "made-up.csv:3", "basis": "a provider in an A&E file", "confirmed": False}}
    return out


def _first_acute(doc: dict[str, Any]) -> str:
    return str(next(o["id"] for o in doc["organisations"] if o["type"] == "acute_trust"))


def test_every_outcome_of_an_assumed_type_is_unknown_on_every_backend() -> None:
    book = pe.load_rulebook()
    doc = _example()
    org_id = _first_acute(doc)
    state = pe.state_from_dict(_assume(doc, org_id), book)
    before = pe.statuses(pe.state_from_dict(doc, book), book, backend="native")
    assert set(before[org_id].values()) != {"unknown"}  # the test can fail: it was judged before
    backends = [b for b in ("native", "compiled", "durable", "columnar") if b in available_backends()]
    results = {b: pe.statuses(state, book, backend=b) for b in backends}
    for b in backends:
        assert results[b] == results["native"], b
        assert set(results[b][org_id].values()) == {"unknown"}
        assert results[b][org_id].keys() == before[org_id].keys()
    evaluation = pe.evaluate(state, book, backend="native")
    mine = [o for o in evaluation.outcomes if o.org_id == org_id]
    assert {o.status for o in mine} == {"unknown"}
    assert all("type is not confirmed" in o.explanation and "made-up.csv:3" in o.explanation for o in mine)
    assert all(any("not confirmed" in a for a in o.assumptions) for o in mine)
    for o in evaluation.outcomes:  # statuses and outcomes agree rule by rule
        assert results["native"][o.org_id][o.rule_id] == o.status


def test_a_cohort_with_an_assumed_member_is_not_treated_as_complete() -> None:
    book = pe.load_rulebook()
    doc = _example()
    assert doc.get("cohorts")
    org_id = _first_acute(doc)
    state = pe.state_from_dict(_assume(doc, org_id), book)
    ranked = [r for r in book.rules if r.uses_rank]
    assert ranked
    evaluation = pe.evaluate(state, book, backend="native", as_of="2025-05-10")
    others = [o for o in evaluation.outcomes if o.rule_id == ranked[0].id and o.org_id != org_id]
    unknown = [o for o in others if o.status == "unknown"]
    assert unknown, "the ranked rule should be unknown for the other members"
    assert all(org_id in o.explanation and "not treated as complete" in o.explanation for o in unknown)
    # Without the assumption the same rule is judged for them.
    judged = pe.evaluate(pe.state_from_dict(doc, book), book, backend="native", as_of="2025-05-10")
    assert {o.status for o in judged.outcomes if o.rule_id == ranked[0].id and o.org_id != org_id} != {"unknown"}


@pytest.mark.parametrize("confirmed", [True, None])
def test_a_confirmed_or_unrecorded_type_is_judged(confirmed: bool | None) -> None:
    book = pe.load_rulebook()
    doc = _example()
    org_id = _first_acute(doc)
    changed = copy.deepcopy(doc)
    org = next(o for o in changed["organisations"] if o["id"] == org_id)
    org["provenance"] = {"type": {"source": "ref.csv:2"} | ({"confirmed": True} if confirmed else {})}
    assert pe.statuses(pe.state_from_dict(changed, book), book) == pe.statuses(pe.state_from_dict(doc, book), book)

"""The durable backend and the native reference agree on every generated state."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings

import policy_engine as pe
from policy_engine.testing.strategies import states

pytestmark = pytest.mark.skipif("durable" not in pe.available_backends(), reason="durable-rules not importable")

BOOK = pe.load_rulebook()
STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states(BOOK))
def test_durable_and_native_agree(state: dict) -> None:
    native = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    durable = pe.evaluate(state, BOOK, backend="durable", evaluated_at=STAMP)
    assert native.outcomes == durable.outcomes
    assert native.trace == durable.trace


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states(BOOK, min_size=3, max_size=8, types=["acute_trust"]))
def test_agree_on_cross_organisation_ranking(state: dict) -> None:
    for org in state["organisations"]:
        org["services"] = ["type1_ae"]
    native = pe.evaluate(state, BOOK, backend="native", evaluated_at=STAMP)
    durable = pe.evaluate(state, BOOK, backend="durable", evaluated_at=STAMP)
    assert native.outcomes == durable.outcomes

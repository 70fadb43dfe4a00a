"""A State is validated once (decision 032): its schema and consistency checks when it is made,
its fit to a rulebook's catalogues once per rulebook, and never again by what reads it.

* a spy counts the schema checks and the catalogue checks across ``load_state``, ``statuses``,
  ``evaluate`` (native and durable), ``evaluate_stream``, ``explain``, ``what_if``, the report and
  ``diff_outcomes``: one schema check in all (``load_state``'s), and the catalogue read from the
  state's document never (it fits: told from the frozen organisations);
* the digest the decision records carry is the State's own, unchanged, computed once;
* ``validate`` on the command line checks the schema once too;
* the fast verdict on the catalogues agrees with the document's check on generated states broken
  against the catalogues (unknown names, the wrong kind of observation, numerator > denominator,
  the wrong type of fact).
"""

from __future__ import annotations

import copy
import hashlib
import io
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, note
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import cli, engine
from policy_engine.audit.diff import diff_outcomes
from policy_engine.audit.whatif import what_if
from policy_engine.data import state as state_module
from policy_engine.render.report import render_report
from policy_engine.testing.strategies import states

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "state.json"
BOOK = pe.load_rulebook()


class _Schema:
    """Counts the schema checks of states: a verdict on parsed text (``_schema_accepts``) or a
    full check that lists problems (``_schema_problems``), whichever a State was made by."""

    def __init__(self) -> None:
        self.call_count = 0

    def __enter__(self) -> _Schema:
        accepts, problems = state_module._schema_accepts, state_module._schema_problems

        def counted(fn: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.call_count += 1
                return fn(*args, **kwargs)

            return call

        self._patches = [
            mock.patch.object(state_module, "_schema_accepts", counted(accepts)),
            mock.patch.object(state_module, "_schema_problems", counted(problems)),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for patch in self._patches:
            patch.stop()


def _spies() -> tuple[Any, Any, Any]:
    return (
        _Schema(),
        mock.patch.object(state_module, "_fits_catalogue", wraps=state_module._fits_catalogue),
        mock.patch.object(state_module, "_check_catalogue", wraps=state_module._check_catalogue),
    )


def test_a_state_is_validated_once_across_every_reader() -> None:
    schema_spy, fits_spy, catalogue_spy = _spies()
    with schema_spy as schema, fits_spy as fits, catalogue_spy as catalogue:
        state = pe.load_state(EXAMPLE)
        digest = state.digest
        assert schema.call_count == 1
        statuses = pe.statuses(state, BOOK)
        ev = pe.evaluate(state, BOOK, backend="native")
        if "durable" in pe.available_backends():
            assert pe.evaluate(state, BOOK, backend="durable").record.state_digest == digest
        stream = engine.evaluate_stream(state, BOOK, backend="native")
        stream.write_json(io.StringIO())
        pe.explain(ev, "uec.ae-4h-78", "EXA")
        render_report(ev, state, BOOK, "html")
        render_report(ev, state, BOOK, "md")
        what_if(state, "uec.ae-4h-78", "EXB", BOOK)  # validates the changed state, not this one
        diff_outcomes(BOOK, BOOK, state)
        # one schema check of this state (load_state's) and one of what_if's changed state
        assert schema.call_count == 2
        assert fits.call_count == 1  # this state against BOOK, once (the changed state was made with BOOK)
        assert catalogue.call_count == 1  # the changed state, as state_from_dict(doc, BOOK) made it
    assert ev.record.state_digest == stream.record.state_digest == digest == state.digest
    assert digest == hashlib.sha256(state.canonical.encode("utf-8")).hexdigest()
    assert statuses == pe.statuses(state, BOOK)


def test_the_digest_is_computed_once() -> None:
    state = pe.load_state(EXAMPLE)
    with mock.patch.object(state_module.hashlib, "sha256", side_effect=AssertionError("digest recomputed")):
        pe.statuses(state, BOOK)
        ev = pe.evaluate(state, BOOK, backend="native")
        assert ev.record.state_digest == state.digest


def test_validate_on_the_command_line_checks_the_schema_once() -> None:
    schema_spy, _, _ = _spies()
    with schema_spy as schema:
        out = io.StringIO()
        with mock.patch("sys.stdout", out):
            assert cli.run(["validate", str(EXAMPLE)]) == 0
    assert "valid" in out.getvalue()
    assert schema.call_count == 1


def test_a_state_that_does_not_fit_is_described_from_its_document() -> None:
    doc = pe.load_state(EXAMPLE).to_dict()
    doc["organisations"][1]["metrics"]["ae_4h_typo"] = doc["organisations"][1]["metrics"].pop("ae_4h_type1")
    state = pe.state_from_dict(doc)  # fits the schema; not the rulebook
    errors = state_module.rulebook_errors(state, BOOK)
    assert errors == pe.validate_state(doc, BOOK)
    assert [d.location for d in errors] == [("organisations", 1, "metrics", "ae_4h_typo")]


def _break(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    """Break ``doc`` against the catalogues (not the schema) in one of the ways they check."""
    orgs = doc["organisations"]
    org = draw(st.sampled_from(orgs))
    how = draw(st.sampled_from(["metric", "fact", "service", "kind", "proportion", "fact_type"]))
    note(f"{how} in {org['id']}")
    metrics = org.get("metrics") or {}
    if how == "metric" and metrics:
        name = draw(st.sampled_from(sorted(metrics)))
        metrics[name + "_x"] = metrics.pop(name)
    elif how == "fact" and org.get("facts"):
        org["facts"][0]["name"] = org["facts"][0]["name"] + "_x"
    elif how == "service":
        org["services"] = sorted({*org.get("services", []), "no_such_service"})
    elif how in ("kind", "proportion") and metrics:
        name = draw(st.sampled_from(sorted(metrics)))
        series = metrics[name]
        if series:
            obs = series[0]
            if how == "kind":
                if "value" in obs:
                    series[0] = {"period": obs["period"], "numerator": 1, "denominator": 1}
                else:
                    series[0] = {"period": obs["period"], "value": 1}
            elif "numerator" in obs:
                obs["numerator"] = obs["denominator"] + 1
    elif how == "fact_type" and org.get("facts"):
        fact = org["facts"][0]
        fact["value"] = draw(st.sampled_from([True, 3, "text", "2025-02-30", "2025-03-31"]))


@st.composite
def fitting_or_not(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(states(BOOK, max_size=4)))
    for _ in range(draw(st.integers(0, 2))):
        _break(draw, doc)
    return doc


@given(fitting_or_not())
def test_the_fast_verdict_on_the_catalogues_agrees_with_the_document(doc: dict[str, Any]) -> None:
    state = pe.state_from_dict(doc)
    from_document: list[pe.ErrorDetail] = []
    state_module._check_catalogue(state.document, BOOK, from_document)
    assert state_module._fits_catalogue(state.organisations, BOOK) == (from_document == [])
    assert state_module.rulebook_errors(state, BOOK) == pe.validate_state(doc, BOOK)

"""Typed evidence values: each renders to the text outcomes have always shown, round-trips through
JSON, and the JSON of every outcome of the example matches the outcome schema."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, Inexact, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine._resources import load_schema
from policy_engine.audit.records import decision_record
from policy_engine.evidence import (
    Boolean,
    CohortFigures,
    CohortStanding,
    Date,
    Evidence,
    Listing,
    Number,
    OutcomeStatus,
    Quantity,
    Ratio,
    Text,
    Unknown,
    format_quantity,
    quantity_from_dict,
    quantity_to_dict,
)

BOOK = pe.load_rulebook()
EXAMPLE = pe.load_state(Path(__file__).resolve().parent.parent / "examples" / "state.json")
STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
UNITS = [None, "percent", "gbp", "count", "minutes", "GBP thousands", "adult inpatients per million adults"]
VALIDATOR = jsonschema.Draft202012Validator(
    load_schema("outcome.schema.json"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def old_number_text(v: Fraction, unit: str | None) -> str:
    """The text evidence has always shown for a number, computed independently with decimals:
    whole numbers as integers, terminating decimals exactly, others to 4 places after a '~'."""
    with localcontext() as ctx:
        ctx.prec = 2000
        ctx.traps[Inexact] = True
        try:
            exact: Decimal | None = Decimal(v.numerator) / Decimal(v.denominator)
        except Inexact:
            exact = None
    if v.denominator == 1:
        text = str(v.numerator)
    elif exact is not None:
        text = format(exact.normalize(), "f")
    else:
        text = "~" + format(float(v), ".4f")
    if unit == "percent":
        return text + "%"
    return f"{text} {unit}" if unit else text


@pytest.mark.parametrize(
    ("quantity", "text"),
    [
        (Number(Fraction(665303600), "gbp"), "665303600 gbp"),
        (Number(Fraction(-16400), "GBP thousands"), "-16400 GBP thousands"),
        (Number(Fraction(70), "percent"), "70%"),
        (Number(Fraction(22, 10), "percent"), "2.2%"),
        (Number(Fraction(49, 2), "days"), "24.5 days"),
        (Number(Fraction(154, 3), "days per discharge"), "~51.3333 days per discharge"),
        (Number(Fraction(-1, 8)), "-0.125"),
        (Number(Fraction(2)), "2"),
        (Ratio(16326, 22012, 100, "percent"), "~74.1686%"),
        (Ratio(779, 1000, 100, "percent"), "77.9%"),
        (Ratio(351, 400, 100, "percent"), "87.75%"),
        (Ratio(3, 4, 1, "minutes"), "0.75 minutes"),
        (Ratio(10, 3, 1, "minutes"), "~3.3333 minutes"),
        (Date(dt.date(2024, 6, 1)), "2024-06-01"),
        (Boolean(True), "true"),
        (Boolean(False), "false"),
        (Text("board paper"), "board paper"),
        (OutcomeStatus("not_eligible"), "not_eligible"),
        (OutcomeStatus("unknown"), "unknown"),
        (Listing(True), "listed"),
        (Listing(False), "not listed"),
        (Unknown("no_data", ("2024-07",)), "unknown: no data for 2024-07"),
        (Unknown("no_data", ("2025-01", "2025-02", "2025-03")), "unknown: no data for 2025-01, 2025-02, 2025-03"),
        (
            Unknown("no_data", tuple(f"2024-{m:02d}" for m in range(4, 10))),
            "unknown: no data for 2024-04, 2024-05, 2024-06, 2024-07, 2024-08, 2024-09",
        ),
        (
            Unknown("no_data", tuple(f"2024-{m:02d}" for m in range(4, 13))),
            "unknown: no data for 2024-04, 2024-05, 2024-06, 2024-07, 2024-08, 2024-09 ...",
        ),
        (Unknown("zero_denominator"), "unknown: denominator is 0"),
        (Unknown("zero_denominator_month"), "unknown: a month has denominator 0"),
        (Unknown("not_declared"), "not declared"),
        (Unknown("services_not_declared"), "services not declared"),
        (Unknown("unknown_operand"), "unknown"),
        (Unknown("unknown_rank"), "unknown"),
    ],
)
def test_each_typed_value_renders_to_the_text_outcomes_show(quantity: Quantity, text: str) -> None:
    assert format_quantity(quantity) == text
    assert quantity_from_dict(quantity_to_dict(quantity)) == quantity


def _figures(complete: bool, rank: int | None, low: int | None, own: Fraction | None, cut: Fraction | None) -> Any:
    return CohortFigures(
        scope="national",
        types=("acute_trust",),
        complete=complete,
        source="every Type 1 provider" if complete else None,
        date=None,
        size=3,
        ranked=3 if low is None else 2,
        value=None if own is None else float(own),
        value_exact=None if own is None else f"{own.numerator}/{own.denominator}",
        rank=rank,
        rank_low=low,
        rank_high=None if low is None else low + 1,
        cutoff_rank=None if cut is None else 1,
        cutoff_value=None if cut is None else float(cut),
        cutoff_exact=None if cut is None else f"{cut.numerator}/{cut.denominator}",
        candidates=3,
    )


@pytest.mark.parametrize(
    ("figures", "own", "cut", "text"),
    [
        (
            _figures(False, None, None, Fraction(4), None),
            Fraction(4),
            None,
            "not declared complete: 3 organisation(s) of these types in the state",
        ),
        (
            _figures(True, 2, None, Fraction(4), Fraction(6)),
            Fraction(4),
            Fraction(6),
            "complete (every Type 1 provider); rank 2 of 3; own value 4; value at the cut-off (rank 1) 6",
        ),
        (
            _figures(True, None, 1, Fraction(13, 2), None),
            Fraction(13, 2),
            None,
            "complete (every Type 1 provider); rank 1..2 of 3; own value 6.5",
        ),
        (_figures(True, None, None, None, None), None, None, "complete (every Type 1 provider); not ranked of 3"),
    ],
)
def test_a_cohort_standing_renders_from_its_figures(
    figures: CohortFigures, own: Fraction | None, cut: Fraction | None, text: str
) -> None:
    e = Evidence("cohort", "national cohort of acute_trust", CohortStanding(figures, own, cut), cohort=figures)
    assert e.value == text
    assert Evidence.from_dict(json.loads(json.dumps(e.to_dict()))) == e


fractions = st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**9)


@given(fractions, st.sampled_from(UNITS))
def test_a_number_shows_the_same_text_as_before(value: Fraction, unit: str | None) -> None:
    q = Number(value, unit)
    assert format_quantity(q) == old_number_text(value, unit)
    assert quantity_from_dict(json.loads(json.dumps(quantity_to_dict(q)))) == q


@given(st.integers(0, 10**12), st.integers(1, 10**12), st.sampled_from([1, 100]), st.sampled_from(UNITS))
def test_a_ratio_shows_its_exact_value_and_keeps_its_counts(num: int, den: int, scale: int, unit: str | None) -> None:
    q = Ratio(num, den, scale, unit)
    assert q.value == Fraction(scale * num, den)
    assert format_quantity(q) == old_number_text(Fraction(scale * num, den), unit)
    d = json.loads(json.dumps(quantity_to_dict(q)))
    assert (d["numerator"], d["denominator"], d["scale"]) == (num, den, scale)
    assert Fraction(d["value"]) == q.value and not isinstance(d["value"], float)
    assert quantity_from_dict(d) == q


def test_exact_numbers_are_integers_or_fraction_text_in_json() -> None:
    assert quantity_to_dict(Number(Fraction(70), "percent")) == {"type": "number", "value": 70, "unit": "percent"}
    assert quantity_to_dict(Number(Fraction(-610, 9))) == {"type": "number", "value": "-610/9"}
    for bad in (1.5, "1.5", " 1/2", True, "1/2/3"):
        with pytest.raises(ValueError, match="an exact number"):
            quantity_from_dict({"type": "number", "value": bad})


def test_impossible_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not a reason a value is unknown"):
        Unknown("missing")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Evidence("fact", "x", "not declared")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OutcomeStatus("passed")
    with pytest.raises(ValueError, match="denominator"):
        Ratio(0, 0, 100, "percent")  # a zero denominator is Unknown("zero_denominator")
    with pytest.raises(ValueError, match="not a type of evidence value"):
        quantity_from_dict({"type": "percentage"})


def _evaluations() -> list[pe.Evaluation]:
    dates = ("2024-06-30", "2025-03-31", "2025-04-30")
    return [pe.evaluate(EXAMPLE, BOOK, as_of=d, backend="native", evaluated_at=STAMP) for d in dates]


def test_every_outcome_of_the_example_matches_the_schema_and_round_trips() -> None:
    seen: set[str] = set()
    for ev in _evaluations():
        doc = json.loads(ev.to_json())
        errors = list(VALIDATOR.iter_errors(doc))
        assert not errors, errors[:3]
        for outcome, o_json in zip(ev.outcomes, doc["outcomes"], strict=True):
            for e, e_json in zip(outcome.evidence, o_json["evidence"], strict=True):
                seen.add(e_json["quantity"]["type"])
                assert Evidence.from_dict(e_json) == e
                assert e_json["value"] == e.value == format_quantity(quantity_from_dict(e_json["quantity"], e.cohort))
    assert seen == {"number", "ratio", "boolean", "status", "listing", "cohort", "unknown"}


def test_the_schema_refuses_a_quantity_it_does_not_describe() -> None:
    ev = _evaluations()[-1]
    doc = json.loads(ev.to_json())
    evidence = next(e for o in doc["outcomes"] for e in o["evidence"] if e["quantity"]["type"] == "ratio")
    for bad in (
        {**evidence["quantity"], "value": 0.5},
        {**evidence["quantity"], "extra": 1},
        {"type": "unknown", "reason": "missing"},
        {"type": "number", "value": "1.5"},
    ):
        evidence["quantity"] = bad
        assert list(VALIDATOR.iter_errors(doc)), bad


def _state(metrics: dict[str, Any], services: list[str] | None, facts: list[dict[str, Any]]) -> dict[str, Any]:
    org: dict[str, Any] = {"id": "RX1", "type": "acute_trust", "metrics": metrics, "facts": facts}
    if services is not None:
        org["services"] = services
    return {"as_of": "2025-04-30", "organisations": [org]}


def _evidence(doc: dict[str, Any], rule_id: str) -> list[Evidence]:
    return list(pe.evaluate(doc, BOOK, backend="native", evaluated_at=STAMP).outcome(rule_id, "RX1").evidence)


def test_an_evaluation_records_unknown_values_with_their_reasons() -> None:
    zero = {"ae_4h_all": [{"period": "2025-03", "numerator": 0, "denominator": 0}]}
    metric = next(e for e in _evidence(_state(zero, ["type1_ae"], []), "uec.ae-4h-78") if e.kind == "metric")
    assert metric.quantity == Unknown("zero_denominator") and metric.unknown
    assert (metric.numerator, metric.denominator, metric.value) == (0, 0, "unknown: denominator is 0")
    missing = next(e for e in _evidence(_state({}, ["type1_ae"], []), "uec.ae-4h-78") if e.kind == "metric")
    assert missing.quantity == Unknown("no_data", ("2025-03",))
    undeclared = _evidence(_state({}, None, []), "uec.type1-ae-over-80")
    service = next(e for e in undeclared if e.kind == "service")
    assert service.quantity == Unknown("services_not_declared") and service.value == "services not declared"
    facts = [e for o in _evaluations()[-1].outcomes for e in o.evidence if e.kind == "fact"]
    assert {type(e.quantity) for e in facts} == {Boolean, Number, Unknown}
    assert all(e.unknown == (e.value == "not declared") for e in facts)


def test_the_explanation_lists_exactly_the_unknown_evidence() -> None:
    listed = 0
    for ev in _evaluations():
        for o in ev.find(status="unknown"):
            unknown = [e for e in o.evidence if e.unknown]
            shown = [f"{e.name} {e.period or ''}".strip() + f" ({e.value})" for e in unknown[:4]]
            if shown:
                assert o.explanation.split(". missing: ")[1].split(". ")[0] == "; ".join(shown), o.explanation
                listed += 1
            else:
                assert "missing: " not in o.explanation
    assert listed > 50


def test_a_fact_whose_text_reads_unknown_is_not_missing() -> None:
    """Before the values were typed, a text fact "unknown ..." was taken for missing data."""
    e = Evidence("fact", "plan_status", Text("unknown at board level"))
    assert not e.unknown and e.value == "unknown at board level"
    assert Evidence("outcome", "uec.ae-4h-78", OutcomeStatus("unknown")).unknown


def test_the_outcomes_digest_ignores_the_typed_form() -> None:
    """Decision records written before evidence had a quantity still verify: the digest is over
    the outcomes without it (the text and counts it renders are in the digest)."""
    ev = _evaluations()[-1]
    stripped = attrs.evolve(
        ev,
        outcomes=tuple(
            attrs.evolve(o, evidence=tuple(attrs.evolve(e, quantity=Text(e.value)) for e in o.evidence))
            for o in ev.outcomes
        ),
    )
    assert decision_record(stripped)["outcomes_digest"] == decision_record(ev)["outcomes_digest"]
    changed = attrs.evolve(ev, outcomes=(attrs.evolve(ev.outcomes[0], explanation="other"), *ev.outcomes[1:]))
    assert decision_record(changed)["outcomes_digest"] != decision_record(ev)["outcomes_digest"]


def test_every_evidence_item_carries_its_typed_quantity() -> None:
    """The typed quantity is the value to read (the text ``value`` is for display): the outcome
    schema requires it, and refuses an evidence item that has only the text."""
    doc = json.loads(_evaluations()[-1].to_json())
    item = doc["outcomes"][0]["evidence"][0]
    del item["quantity"]
    errors = list(VALIDATOR.iter_errors(doc))
    assert [e.message for e in errors] == ["'quantity' is a required property"]

"""render.sentences: every outcome in plain English, from the rule's AST and the typed evidence."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine import evaluate, load_rulebook, load_state
from policy_engine.evaluation.outcomes import Evaluation
from policy_engine.language.statuses import STATUS_INFO
from policy_engine.render.sentences import missing_data, natural, outcome_sentence
from policy_engine.rulebook.loader import Rulebook

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"
FORMULA = re.compile(r">=|<=|==|!=|->|\bpct\(|\brate\(|\btotal\(|\bfact\(|\boutcome\(|param\.|~[0-9]|_[a-z0-9]+\(")


@cache
def _example() -> tuple[Evaluation, Rulebook]:
    book = load_rulebook()
    return evaluate(load_state(EXAMPLE), book, backend="native"), book


def _sentence(rule_id: str, org_id: str) -> str:
    evaluation, book = _example()
    (outcome,) = evaluation.find(rule_id=[rule_id], org_id=[org_id])
    return outcome_sentence(outcome, next(r for r in book.rules if r.id == rule_id), book)


def test_every_outcome_of_the_example_has_a_sentence_without_formula_syntax() -> None:
    evaluation, book = _example()
    rules = {r.id: r for r in book.rules}
    assert len(evaluation.outcomes) > 500
    seen_rules = set()
    for outcome in evaluation.outcomes:
        text = outcome_sentence(outcome, rules[outcome.rule_id], book)
        seen_rules.add(outcome.rule_id)
        assert text.startswith(STATUS_INFO[outcome.status].label + ": "), text
        assert text.endswith("."), text
        assert not FORMULA.search(text), (outcome.rule_id, outcome.org_id, text)
        assert "*" not in text and "\\" not in text, text  # no Markdown left in plain text
    assert len(seen_rules) > 150


def test_exact_sentences() -> None:
    assert _sentence("uec.ae-4h-78", "EXA") == (
        "Not met: the share of A&E attendances of all types where the patient was admitted, transferred or "
        "discharged within 4 hours of arrival in March 2025 was 74.2%; the standard is at least 78% "
        "(16,326 of 22,012; 844 more needed)."
    )
    assert _sentence("uec.cat2-mean-30min", "EXR") == (
        "Not met: the mean response time of category 2 ambulance incidents over 2024/25 was 35:48 (min:s); "
        "the standard is at most 30:00 (min:s) (5 min 48 s over)."
    )
    assert _sentence("uor.agency-max-2pct-pay-bill", "EXA").endswith(
        "was 2.8%; the standard is at most 2% (17,736 of 626,250; 5,211 fewer needed)."
    )
    assert _sentence("elec.rtt-65wk-sep-2024-breach", "EXA") == (
        "Breached: “No incomplete RTT pathways over 65 weeks by 30 September 2024 (exempt patients excluded)” "
        "(elec.rtt-65wk-sep-2024) is Not met (it must be Not met)."
    )
    assert _sentence("uor.off-framework-agency-ended-jul-2024", "EXA") == (
        "Overdue: declared no: the trust has ended the use of all off-framework agencies (yes is required); "
        "not done by the deadline, 31 July 2024."
    )
    assert "ranks 1 of 2 in the national cohort" in _sentence("uec.type1-ae-greatest-improvement", "EXA")


def test_unknown_outcomes_name_the_data_that_would_decide_them() -> None:
    evaluation, book = _example()
    (outcome,) = evaluation.find(rule_id=["uor.acute-productivity-recovery"], org_id=["EXA"])
    assert outcome.status == "unknown"
    text = outcome_sentence(outcome, next(r for r in book.rules if r.id == outcome.rule_id), book)
    assert "is not known (no data for April 2024 to March 2025)" in text
    missing = missing_data(outcome, book)
    assert missing[0].startswith("uor_implied_productivity (") and missing[0].endswith(
        "no data for April 2024 to March 2025"
    )
    (fact,) = evaluation.find(rule_id=["qs.governance-reporting-frameworks"], org_id=["EXA"])
    assert missing_data(fact, book) == [
        "qs_governance_reporting_frameworks_in_place (the organisation has robust governance and reporting "
        "frameworks in place): not declared"
    ]


def test_a_sentence_for_another_rule_is_refused() -> None:
    evaluation, book = _example()
    with pytest.raises(ValueError, match=r"not 'uec\.ae-4h-78'"):
        outcome_sentence(evaluation.outcomes[0], next(r for r in book.rules if r.id == "uec.ae-4h-78"), book)


def test_natural_units() -> None:
    assert natural(Fraction(2147, 1), "seconds") == "35:47 (min:s)"
    assert natural(Fraction(3725), "seconds") == "1:02:05 (h:min:s)"
    assert natural(Fraction(665303600), "gbp") == "£665,303,600"
    assert natural(Fraction(1234), "GBP thousands") == "£1,234 thousand"
    assert natural(Fraction(7796, 100), "percent", Fraction(78), ">=") == "77.96%"
    assert natural(Fraction(7796, 100), "percent") == "78.0%"
    assert natural(Fraction(1), "beds") == "1 bed"
    assert natural(Fraction(1), "people") == "1 person"


_PERCENT = st.fractions(min_value=0, max_value=100, max_denominator=100_000)


@settings(deadline=None)
@given(value=_PERCENT, bound=st.integers(0, 100).map(Fraction), op=st.sampled_from([">=", ">", "<=", "<"]))
def test_a_shown_percentage_compares_with_its_bound_as_the_exact_value_does(
    value: Fraction, bound: Fraction, op: str
) -> None:
    """The shown figure never makes the comparison read wrongly (77.96% against 78% is not 78.0%), and
    it has one decimal wherever one decimal is enough."""
    text = natural(value, "percent", bound, op)
    shown = Fraction(text.rstrip("%").replace(",", ""))
    exact = {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[op]
    assert {">=": shown >= bound, ">": shown > bound, "<=": shown <= bound, "<": shown < bound}[op] == exact
    assert (shown == bound) == (value == bound)
    decimals = len(text.rstrip("%").partition(".")[2])
    if decimals > 1:
        one = Fraction(natural(value, "percent").rstrip("%"))
        assert one == bound or ((one >= bound) != (value >= bound)) or ((one > bound) != (value > bound))

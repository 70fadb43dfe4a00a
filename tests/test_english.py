"""render.english: every node type of the rule language in plain English, from a small rulebook."""

from __future__ import annotations

import shutil

import attrs
import pytest

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.language.parser import parse
from policy_engine.render.english import COMPARE_WORDS, Words, condition_in_words
from policy_engine.render.words import code

SRC = policies_root() / "nhs-2024-25"

AREA = """
area: t
title: Test
metrics:
  m_share: {kind: proportion, unit: percent, label: share of patients seen in time, description: seen / all}
  m_wait: {kind: rate, unit: seconds, label: mean wait, description: seconds / waits}
  m_beds: {kind: value, unit: beds, label: number of beds, description: beds open}
  m_spend: {kind: value, unit: GBP, label: ICB's spend on agency staff, description: spend}
facts:
  f_done: {type: boolean, label: the plan is published, description: Declaration that the plan is published}
  f_hours: {type: number, unit: hours, label: hours the service is open, description: Hours open}
  f_when: {type: date, label: the service went live, description: Date it went live}
services:
  svc_a: {label: a Type 1 A&E department, description: "A Type 1 A&E department: consultant-led"}
  svc_b: {label: a neonatal unit, description: A neonatal unit run by the organisation}
rules:
  - id: t.base
    title: a test rule
    kind: target
    applies_to: [acute_trust]
    period: mar_2025
    deadline: 2025-03-31
    parameters:
      threshold: {value: 78, unit: percent, wording: "no less than 78%"}
      gap: {value: 5, unit: percent}
      top: {value: 3, unit: rank, wording: "the three best"}
      hours: {value: 1, unit: hours}
    condition: pct(m_share, mar_2025) >= param.threshold
    source:
      document: news-hhe-designated-lead.txt
      section: test
      quote: "a minimum of 78% of patients being seen within four hours in March 2025"
  - id: t.other
    title: another rule
    kind: breach
    applies_to: [acute_trust]
    condition: outcome("t.base") == "not_met"
    source:
      document: news-hhe-designated-lead.txt
      section: test
      quote: "a minimum of 78% of patients being seen within four hours in March 2025"
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> pe.Rulebook:
    root = tmp_path_factory.mktemp("english") / "book"
    root.mkdir()
    (root / "rulebook.yaml").write_bytes((SRC / "rulebook.yaml").read_bytes())
    shutil.copytree(str(SRC / "sources"), root / "sources")
    (root / "t.yaml").write_text(AREA, encoding="utf-8")
    return pe.load_rulebook(root)


@pytest.fixture(scope="module")
def words(book: pe.Rulebook) -> Words:
    return Words(book, book.rule("t.base"), code)


def say(words: Words, text: str) -> str:
    return words.expr(parse(text))


# --------------------------------------------------------------------------- literals and names


def test_numbers_strings_and_booleans(words: Words) -> None:
    assert say(words, "78") == "78"
    assert say(words, "2.25") == "2.25"
    assert say(words, '"a_b*c"') == "“a\\_b\\*c”"  # escaped for Markdown
    assert say(words, "true") == "true" and say(words, "false") == "false"


def test_parameters_as_of_and_deadline(words: Words) -> None:
    assert say(words, "param.threshold") == "78% (“no less than 78%”)"
    assert say(words, "param.gap") == "5%"
    assert say(words, "param.hours") == "1 hour"  # a singular unit for 1
    assert say(words, "as_of") == "the evaluation date (as_of)"
    assert say(words, "deadline") == "the deadline (31 March 2025)"


def test_a_deadline_the_rule_does_not_have(book: pe.Rulebook) -> None:
    assert Words(book, book.rule("t.other"), code).expr(parse("deadline")) == "the deadline"


# --------------------------------------------------------------------------- unary and binary operators


def test_not_and_minus(words: Words) -> None:
    assert say(words, 'not fact("f_done")') == "it is not the case that the declared fact “the plan is published”"
    assert say(words, "-param.gap") == "minus 5%"
    assert say(words, "not (1 > 2)") == "it is not the case that (1 is more than 2)"


@pytest.mark.parametrize("op", sorted(COMPARE_WORDS))
def test_every_comparison(words: Words, op: str) -> None:
    is_word = f"is {COMPARE_WORDS[op]}" if COMPARE_WORDS[op] else "is"
    assert say(words, f"total(m_beds, mar_2025) {op} 10") == (
        f"the *number of beds* in March 2025 (2025-03) {is_word} 10 beds"
    )


def test_comparison_with_a_boolean(words: Words) -> None:
    assert say(words, 'fact("f_done") == true') == "the declared fact “the plan is published” is true"
    assert say(words, 'fact("f_done") != false') == "the declared fact “the plan is published” is not false"


def test_and_or_as_a_lead_and_items(words: Words) -> None:
    lead, items = words.condition(parse('fact("f_done") and (1 > 2 or 3 < 4) and fact("f_hours") >= 8'))
    assert lead == "all of the following hold"
    assert items == [
        "the declared fact “the plan is published”",
        "1 is more than 2 or 3 is less than 4",
        "the declared fact “hours the service is open” is at least 8 hours",
    ]
    lead, items = words.condition(parse("1 > 2 or 3 < 4"))
    assert (lead, items) == ("at least one of the following holds", ["1 is more than 2", "3 is less than 4"])
    assert words.condition(parse("1 > 2")) == ("1 is more than 2", [])
    assert say(words, "1 > 2 and (3 < 4 or 5 < 6)") == "1 is more than 2 and (3 is less than 4 or 5 is less than 6)"


def test_arithmetic(words: Words) -> None:
    assert say(words, "total(m_beds, mar_2025) + 2") == "the *number of beds* in March 2025 (2025-03) plus 2"
    assert say(words, "2 * (3 - 1)") == "2 multiplied by (3 minus 1)"
    assert say(words, "6 / 3") == "6 divided by 3"
    # a difference of percentages is in percentage points
    assert say(words, "pct(m_share, mar_2025) - pct(m_share, mar_2024) >= param.gap") == (
        "the change in the *share of patients seen in time* from March 2024 (2024-03) to March 2025 (2025-03) "
        "is at least 5 percentage points"
    )


def test_percentage_of_totals(words: Words) -> None:
    assert say(words, "100 * total(m_spend, fy2024_25) / total(m_beds, fy2024_25)") == (
        "the *ICB's spend on agency staff* as a percentage of the *number of beds*, both in total over 2024/25 "
        "(2024-04 to 2025-03)"
    )
    assert say(words, "100 * (2 / 4)") == "2 as a percentage of 4"


def test_the_gap_between_highest_and_lowest(words: Words) -> None:
    assert say(words, "max_pct(m_share, fy2024_25) - min_pct(m_share, fy2024_25)") == (
        "the gap between the highest and the lowest monthly *share of patients seen in time* over 2024/25 "
        "(2024-04 to 2025-03)"
    )


def test_the_same_measure_over_another_period(words: Words) -> None:
    assert say(words, "rate(m_wait, fy2024_25) < rate(m_wait, fy2023_24)") == (
        "the *mean wait* over 2024/25 (2024-04 to 2025-03) is less than what it was over 2023/24 (2023-04 to 2024-03)"
    )


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("func", "words_for"),
    [
        ("pct", "the *share of patients seen in time*"),
        ("rate", "the *share of patients seen in time*"),
        ("total", "the total *share of patients seen in time*"),
        ("mean", "the mean of the monthly *share of patients seen in time*"),
        ("min_pct", "the lowest monthly *share of patients seen in time*"),
        ("max_pct", "the highest monthly *share of patients seen in time*"),
        ("min_value", "the lowest monthly *share of patients seen in time*"),
        ("max_value", "the highest monthly *share of patients seen in time*"),
    ],
)
def test_metric_functions(words: Words, func: str, words_for: str) -> None:
    assert say(words, f"{func}(m_share, fy2024_25)") == f"{words_for} over 2024/25 (2024-04 to 2025-03)"
    # over a single month every aggregate is the month's value
    assert say(words, f"{func}(m_share, mar_2025)") == "the *share of patients seen in time* in March 2025 (2025-03)"


def test_a_possessive_label_takes_of_the(words: Words) -> None:
    assert say(words, "total(m_spend, fy2024_25)") == (
        "the total of the *ICB's spend on agency staff* over 2024/25 (2024-04 to 2025-03)"
    )


def test_facts_and_services(words: Words) -> None:
    assert say(words, 'fact("f_hours")') == "the declared fact “hours the service is open”"
    assert say(words, 'fact_date("f_when")') == "the date of the declared fact “the service went live”"
    assert say(words, 'has_fact("f_when")') == "a declaration of the fact “the service went live” exists"
    assert say(words, 'has_service("svc_a")') == "the organisation declares the service “a Type 1 A&E department”"


def test_the_guard_over_services(words: Words) -> None:
    assert words.guard(parse('has_service("svc_a") or has_service("svc_b")')) == (
        "the organisation declares any of the services “a Type 1 A&E department” or “a neonatal unit”"
    )
    assert words.guard(parse('has_service("svc_b")')) == "the organisation declares the service “a neonatal unit”"


def test_outcomes_link_the_rule(book: pe.Rulebook) -> None:
    w = Words(book, book.rule("t.base"), lambda rid: f"<{rid}>")
    assert w.expr(parse('outcome("t.other")')) == "the outcome of rule <t.other>"
    assert w.expr(parse('outcome("t.other") == "not_met"')) == "rule <t.other> is not met"
    assert w.expr(parse('outcome("t.other") != "met"')) == "the outcome of rule <t.other> is other than “met”"


def test_rank(words: Words) -> None:
    ranked = "among the organisations this rule applies to, it ranks"
    tail = (
        "(the greatest value ranks first; ties share a rank) "
        "by the *share of patients seen in time* in March 2025 (2025-03)"
    )
    assert say(words, "rank(pct(m_share, mar_2025)) <= 1") == f"{ranked} first {tail}"
    assert say(words, "rank(pct(m_share, mar_2025)) <= param.top") == f"{ranked} in the top 3 {tail} (“the three best”)"
    assert say(words, "rank(pct(m_share, mar_2025)) < 4") == f"{ranked} in the top 3 {tail}"
    assert say(words, "rank(pct(m_share, mar_2025)) == 2") == f"{ranked} number 2 {tail}"
    assert say(words, "rank(pct(m_share, mar_2025))") == (
        "its rank by the *share of patients seen in time* in March 2025 (2025-03) (1 = the greatest)"
    )


def test_min_max_and_dates(words: Words) -> None:
    assert say(words, "min(1, 2 + 3)") == "the smaller of 1 and (2 plus 3)"
    assert say(words, "max(param.gap, param.threshold)") == "the larger of 5% and 78% (“no less than 78%”)"
    assert say(words, 'fact_date("f_when") <= date("2024-09-30")') == (
        "the date of the declared fact “the service went live” is at most 30 September 2024"
    )


def test_condition_in_words(book: pe.Rulebook) -> None:
    assert condition_in_words(book.rule("t.base"), book) == (
        "the *share of patients seen in time* in March 2025 (2025-03) is at least 78% (“no less than 78%”)"
    )
    assert condition_in_words(book.rule("t.other"), book) == "rule `t.base` is not met"


def test_an_entry_without_a_label_is_named_by_its_catalogue_name(book: pe.Rulebook) -> None:
    bare = attrs.evolve(book, metrics={**book.metrics, "m_share": attrs.evolve(book.metrics["m_share"], label="")})
    assert Words(bare, book.rule("t.base"), code).expr(parse("pct(m_share, mar_2025)")) == (
        "the *m\\_share* in March 2025 (2025-03)"
    )

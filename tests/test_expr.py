"""The condition language: grammar and precedence, Kleene three-valued logic, exact arithmetic,
render() round trips, and a parser that never raises anything but ParseError."""

from __future__ import annotations

import datetime as dt
import itertools
from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.data.state import Fact, Observation, Organisation, view_at
from policy_engine.evaluation.expressions import UNKNOWN, Env, Value, evaluate
from policy_engine.language.ast import Binary, Bool, Call, Name, Node, Num, Str, Unary, render
from policy_engine.language.checker import BOOL, CheckContext, CheckError, Type, check
from policy_engine.language.months import parse_month
from policy_engine.language.parser import MAX_DEPTH, MAX_LENGTH, ParseError, parse
from policy_engine.language.rules import FactDef, MetricDef, Parameter, Period, Rule, Source

AS_OF = dt.date(2025, 6, 30)
MAR_2025 = parse_month("2025-03")

METRICS = {
    "m_prop": MetricDef("m_prop", "proportion", "percent", "a proportion", "demo"),
    "m_zero": MetricDef("m_zero", "proportion", "percent", "a proportion with no cases", "demo"),
    "m_missing": MetricDef("m_missing", "proportion", "percent", "never reported", "demo"),
    "m_beds": MetricDef("m_beds", "value", "beds", "a value", "demo"),
}
FACTS = {
    "t": FactDef("t", "boolean", "declared true", "demo"),
    "f": FactDef("f", "boolean", "declared false", "demo"),
    "u": FactDef("u", "boolean", "never declared", "demo"),
    "five": FactDef("five", "number", "declared 5", "demo"),
    "n_unknown": FactDef("n_unknown", "number", "never declared", "demo"),
    "hours": FactDef("hours", "number", "declared 12", "demo", "hours"),
    "when": FactDef("when", "date", "declared 2024-06-01", "demo"),
}
PERIODS = {
    "mar_2025": Period("mar_2025", MAR_2025, MAR_2025),
    "q4_2024_25": Period("q4_2024_25", parse_month("2025-01"), MAR_2025),
}
PARAMS = {
    "threshold": Parameter("threshold", Fraction(78), "percent"),
    "min_hours": Parameter("min_hours", Fraction(12), "hours"),
}


def context() -> CheckContext:
    return CheckContext(
        metrics=METRICS,
        facts=FACTS,
        services=frozenset({"svc_a"}),
        periods=PERIODS,
        parameters=PARAMS,
        rule_types={"demo.other": ("acute_trust",)},
        applies_to=("acute_trust",),
        has_deadline=True,
    )


def organisation(prop: tuple[int, int] = (780, 1000), q4: list[tuple[int, int]] | None = None) -> Organisation:
    prop_series = {MAR_2025: Observation(MAR_2025, *prop)}
    for i, (num, den) in enumerate(q4 or []):
        month = parse_month("2025-01") + i
        prop_series[month] = Observation(month, num, den)
    return Organisation(
        id="RAA",
        type="acute_trust",
        services=frozenset({"svc_a"}),
        metrics={
            "m_prop": prop_series,
            "m_zero": {MAR_2025: Observation(MAR_2025, 0, 0)},
            "m_beds": {MAR_2025: Observation(MAR_2025, value=Fraction(512))},
        },
        facts=(
            Fact("t", True, dt.date(2024, 4, 1)),
            Fact("f", False, dt.date(2024, 4, 1)),
            Fact("five", Fraction(5), dt.date(2024, 4, 1)),
            Fact("hours", Fraction(12), dt.date(2024, 4, 1)),
            Fact("when", "2024-06-01", dt.date(2024, 6, 1)),
        ),
    )


def run(text: str, org: Organisation | None = None, outcomes: dict[str, str] | None = None) -> Value:
    """Parse, type-check and evaluate ``text`` for one organisation."""
    node = parse(text)
    check(node, context())
    rule = Rule(
        id="demo.r",
        title="demo",
        kind="target",
        area="demo",
        applies_to=("acute_trust",),
        condition_text=text,
        condition=node,
        source=Source("doc.txt", "S", "a quote of some length"),
        file="demo.yaml",
        parameters=PARAMS,
        deadline=dt.date(2025, 3, 31),
    )
    view = view_at(org or organisation(), AS_OF, frozenset({"when"}))
    return evaluate(node, Env(rule, view, AS_OF, METRICS, PERIODS, outcomes or {}))


def shape(node: Node) -> Any:
    """The AST without source positions."""
    if isinstance(node, (Num, Str, Bool)):
        return (type(node).__name__, node.value)
    if isinstance(node, Name):
        return ("Name", node.parts)
    if isinstance(node, Call):
        return ("Call", node.func, tuple(shape(a) for a in node.args))
    if isinstance(node, Unary):
        return ("Unary", node.op, shape(node.operand))
    assert isinstance(node, Binary)
    return ("Binary", node.op, shape(node.left), shape(node.right))


def same(a: str, b: str) -> bool:
    return bool(shape(parse(a)) == shape(parse(b)))


# --------------------------------------------------------------------------- grammar and precedence


@pytest.mark.parametrize(
    ("text", "grouped"),
    [
        ("a or b and c", "a or (b and c)"),
        ("a and b or c", "(a and b) or c"),
        ("not a and b", "(not a) and b"),
        ("not a or b", "(not a) or b"),
        ("not not a", "not (not a)"),
        ("not a < b", "not (a < b)"),
        ("a < b and c", "(a < b) and c"),
        ("a + b < c * d", "(a + b) < (c * d)"),
        ("1 + 2 * 3", "1 + (2 * 3)"),
        ("1 * 2 + 3", "(1 * 2) + 3"),
        ("1 - 2 - 3", "(1 - 2) - 3"),
        ("8 / 4 / 2", "(8 / 4) / 2"),
        ("-2 * 3", "(-2) * 3"),
        ("- -2", "-(-2)"),
        ("a or b or c", "(a or b) or c"),
        ("f(a or b, c)", "f((a or b), (c))"),
    ],
)
def test_precedence(text: str, grouped: str) -> None:
    assert same(text, grouped)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 + 2 * 3 == 7", True),
        ("(1 + 2) * 3 == 9", True),
        ("1 - 2 - 3 == -4", True),
        ("8 / 4 / 2 == 1", True),
        ("-2 * 3 == -6", True),
        ("2 - -2 == 4", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("not false and false", False),
        ("not (false and false)", True),
        ("not 1 > 2", True),
    ],
)
def test_precedence_evaluates(text: str, value: bool) -> None:
    assert run(text) is value


@pytest.mark.parametrize(
    ("text", "pos"),
    [("1 < 2 < 3", 6), ("a == b != c", 7), ("1 <= 2 >= 0", 7), ("a > b == true", 6)],
)
def test_comparisons_cannot_chain(text: str, pos: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.pos == pos
    assert "cannot be chained" in info.value.message


def test_parenthesised_comparisons_may_be_compared() -> None:
    assert run("(1 < 2) == true") is True
    assert run("(1 < 2) != (2 < 1)") is True


@pytest.mark.parametrize(
    ("text", "pos", "message"),
    [
        ("", 0, "found 'end of expression'"),
        ("1 +", 3, "found 'end of expression'"),
        ("(1 > 0", 6, "expected ')'"),
        ("f(1,", 4, "found 'end of expression'"),
        ("1 > 0)", 5, "unexpected ')' after a complete expression"),
        ("2 ** 3", 3, "found '*'"),
        ("a.", 2, "expected a name after '.'"),
        ("a._b", 2, "names may not start with '_'"),
        ('"unterminated', 0, "unexpected character '\"'"),
        ("1 = 1", 2, "unexpected character '='"),
        ("x @ y", 2, "unexpected character '@'"),
        ("not", 3, "found 'end of expression'"),
    ],
)
def test_parse_errors_name_the_position(text: str, pos: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.pos == pos
    assert message in info.value.message


def test_parse_refuses_non_text() -> None:
    with pytest.raises(ParseError):
        parse(None)  # type: ignore[arg-type]


def test_length_and_depth_limits() -> None:
    ok = "1" + " + 1" * ((MAX_LENGTH - 1) // 4)
    assert len(ok) <= MAX_LENGTH
    with pytest.raises(ParseError, match="nested deeper"):
        parse(ok)  # long, so deep: a chain of '+' nests to the left
    with pytest.raises(ParseError, match="longer than"):
        parse("1" * (MAX_LENGTH + 1))
    assert isinstance(parse("(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)), Num)
    with pytest.raises(ParseError, match="nested deeper"):
        parse("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))


def test_literals() -> None:
    assert parse("2.50") == Num(Fraction(5, 2), 0)
    assert parse('"a \\"quoted\\" \\\\ word"') == Str('a "quoted" \\ word', 0)
    assert parse("true") == Bool(True, 0)
    assert parse("param.threshold") == Name(("param", "threshold"), 0)
    assert run('date("2024-02-29") < as_of') is True


# --------------------------------------------------------------------------- type checking


def test_checker_types() -> None:
    ctx = context()
    assert check(parse("pct(m_prop, mar_2025)"), ctx) == Type("number", "percent")
    assert check(parse("total(m_beds, mar_2025) / 2"), ctx) == Type("number", "beds")
    assert check(parse("total(m_beds, mar_2025) / total(m_beds, mar_2025)"), ctx) == Type("number", None)
    assert check(parse('fact("hours") >= param.min_hours'), ctx) == BOOL
    assert check(parse('fact("when")'), ctx).kind == "date"
    assert check(parse('outcome("demo.other")'), ctx).kind == "status"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('fact("hours") >= param.threshold', "the units differ"),
        ("pct(m_prop, mar_2025) + total(m_beds, mar_2025)", "mixes units percent and beds"),
        ('fact("t") and 1', "the right side is number"),
        ('fact("when") < 5', "cannot compare date with number"),
        ('"a" < "b"', "string values can only be compared"),
    ],
)
def test_checker_refuses(text: str, message: str) -> None:
    with pytest.raises(CheckError) as info:
        check(parse(text), context())
    assert message in info.value.message


def test_unitless_literals_fit_any_unit() -> None:
    assert run('fact("hours") >= 12') is True
    assert run('fact("hours") + 1 > param.min_hours') is True


# --------------------------------------------------------------------------- Kleene logic

T, F, U = 'fact("t")', 'fact("f")', 'fact("u")'
TRUTH = {T: True, F: False, U: UNKNOWN}

AND = {
    (True, True): True,
    (True, False): False,
    (True, UNKNOWN): UNKNOWN,
    (False, True): False,
    (False, False): False,
    (False, UNKNOWN): False,
    (UNKNOWN, True): UNKNOWN,
    (UNKNOWN, False): False,
    (UNKNOWN, UNKNOWN): UNKNOWN,
}
OR = {
    (True, True): True,
    (True, False): True,
    (True, UNKNOWN): True,
    (False, True): True,
    (False, False): False,
    (False, UNKNOWN): UNKNOWN,
    (UNKNOWN, True): True,
    (UNKNOWN, False): UNKNOWN,
    (UNKNOWN, UNKNOWN): UNKNOWN,
}
NOT = {True: False, False: True, UNKNOWN: UNKNOWN}

PAIRS = list(itertools.product(TRUTH, repeat=2))


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_and_truth_table(a: str, b: str) -> None:
    assert run(f"{a} and {b}") is AND[TRUTH[a], TRUTH[b]]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_or_truth_table(a: str, b: str) -> None:
    assert run(f"{a} or {b}") is OR[TRUTH[a], TRUTH[b]]


@pytest.mark.parametrize("a", list(TRUTH))
def test_not_truth_table(a: str) -> None:
    assert run(f"not {a}") is NOT[TRUTH[a]]


@pytest.mark.parametrize("a", list(TRUTH))
def test_kleene_with_literals(a: str) -> None:
    assert run(f"false and {a}") is False
    assert run(f"{a} and false") is False
    assert run(f"true or {a}") is True
    assert run(f"{a} or true") is True
    assert run(f"true and {a}") is TRUTH[a]
    assert run(f"false or {a}") is TRUTH[a]


def test_unknown_is_not_excluded_middle() -> None:
    assert run(f"{U} or not {U}") is UNKNOWN
    assert run(f"{U} and not {U}") is UNKNOWN
    assert run(f"{U} == {U}") is UNKNOWN


def test_has_fact_is_never_unknown() -> None:
    assert run('has_fact("u")') is False
    assert run('has_fact("t")') is True
    assert run('not has_fact("u")') is True


def test_has_service_is_unknown_when_no_services_are_declared() -> None:
    assert run('has_service("svc_a")') is True
    no_services = Organisation(id="RAA", type="acute_trust")
    assert run('has_service("svc_a")', no_services) is UNKNOWN
    declared_none = Organisation(id="RAA", type="acute_trust", services=frozenset())
    assert run('has_service("svc_a")', declared_none) is False


def test_an_unknown_outcome_stays_unknown() -> None:
    assert run('outcome("demo.other") == "met"', outcomes={"demo.other": "met"}) is True
    assert run('outcome("demo.other") == "met"', outcomes={"demo.other": "not_met"}) is False
    assert run('outcome("demo.other") == "not_met"', outcomes={"demo.other": "unknown"}) is UNKNOWN


# --------------------------------------------------------------------------- arithmetic with unknown


@pytest.mark.parametrize(
    "text",
    [
        'fact("n_unknown") + 1 > 0',
        'fact("n_unknown") - fact("n_unknown") == 0',
        'fact("n_unknown") * 0 == 0',
        '0 / fact("n_unknown") == 0',
        '-fact("n_unknown") < 0',
        'min(fact("n_unknown"), 1) <= 1',
        'max(1, fact("n_unknown")) >= 1',
        'fact("n_unknown") == fact("n_unknown")',
        "pct(m_missing, mar_2025) >= 0",
        "pct(m_prop, q4_2024_25) >= 0",  # January and February missing
    ],
)
def test_arithmetic_and_comparison_with_unknown_is_unknown(text: str) -> None:
    assert run(text) is UNKNOWN


def test_unknown_comparisons_combine_by_kleene() -> None:
    assert run('fact("n_unknown") > 1 or true') is True
    assert run('fact("n_unknown") > 1 and false') is False
    assert run('fact("n_unknown") > 1 and true') is UNKNOWN


@pytest.mark.parametrize(
    "text",
    [
        "1 / 0 > 0",
        "1 / 0 == 1 / 0",
        '1 / (fact("five") - 5) < 1',
        "pct(m_zero, mar_2025) >= 0",
        "min_pct(m_zero, mar_2025) >= 0",
        "(1 / 0) * 0 == 0",
    ],
)
def test_division_by_zero_is_unknown(text: str) -> None:
    assert run(text) is UNKNOWN


def test_division_by_zero_does_not_poison_a_decided_result() -> None:
    assert run("1 / 0 > 0 or true") is True
    assert run("1 / 0 > 0 and false") is False
    assert run("0 / 5 == 0") is True


# --------------------------------------------------------------------------- exact thresholds


@pytest.mark.parametrize(
    ("counts", "text", "value"),
    [
        ((780, 1000), "pct(m_prop, mar_2025) >= 78", True),
        ((780, 1000), "pct(m_prop, mar_2025) >= param.threshold", True),
        ((780, 1000), "pct(m_prop, mar_2025) == 78", True),
        ((780, 1000), "pct(m_prop, mar_2025) > 78", False),
        ((779, 1000), "pct(m_prop, mar_2025) >= 78", False),
        ((7799, 10000), "pct(m_prop, mar_2025) >= 78", False),
        ((800, 1000), "pct(m_prop, mar_2025) > 80", False),
        ((801, 1000), "pct(m_prop, mar_2025) > 80", True),
        ((39, 50), "pct(m_prop, mar_2025) >= 78", True),
        ((39, 50), "pct(m_prop, mar_2025) == 78.0", True),
        ((1, 3), "pct(m_prop, mar_2025) * 3 == 100", True),
        ((1, 3), "pct(m_prop, mar_2025) == 100 / 3", True),
        ((1, 3), "pct(m_prop, mar_2025) > 33.333333333333333333333", True),
        ((1, 3), "pct(m_prop, mar_2025) < 33.333333333333333333334", True),
        ((2, 3), "pct(m_prop, mar_2025) >= 66.7", False),
        ((2, 3), "pct(m_prop, mar_2025) >= 66.6", True),
        ((667, 1000), "pct(m_prop, mar_2025) >= 66.7", True),
    ],
)
def test_exact_thresholds(counts: tuple[int, int], text: str, value: bool) -> None:
    assert run(text, organisation(counts)) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1 + 0.2 == 0.3", True),
        ("1 / 3 * 3 == 1", True),
        ("1 / 3 + 1 / 3 + 1 / 3 == 1", True),
        ("2 / 3 == 0.6666666666666666", False),
        ("0.1 * 3 == 0.3", True),
        ("1.10 == 1.1", True),
    ],
)
def test_arithmetic_is_exact(text: str, value: bool) -> None:
    assert run(text) is value


def test_pct_over_a_period_pools_counts() -> None:
    # January 1/1 (100%), February 0/3 (0%), March 780/1000: pooled, not averaged.
    org = organisation((780, 1000), q4=[(1, 1), (0, 3)])
    assert run("pct(m_prop, q4_2024_25) * 1004 == 78100", org) is True
    assert run("min_pct(m_prop, q4_2024_25) == 0", org) is True
    assert run("max_pct(m_prop, q4_2024_25) == 100", org) is True


def test_value_metric_and_facts_evaluate_exactly() -> None:
    assert run("total(m_beds, mar_2025) == 512") is True
    assert run("mean(m_beds, mar_2025) / 3 == 512 / 3") is True
    assert run('fact("when") == date("2024-06-01")') is True
    assert run('fact_date("five") < date("2024-04-02")') is True


# --------------------------------------------------------------------------- render round trip

ROUND_TRIP = [
    "a or b and c",
    "(a or b) and c",
    "not a and b",
    "not (a and b)",
    "not not a",
    "1 + 2 * 3",
    "(1 + 2) * 3",
    "1 - (2 - 3)",
    "1 - 2 - 3",
    "-(1 + 2)",
    "- -1",
    "-1 * 2",
    "2.50 >= 2.5",
    "0.000001 < 1",
    "007 == 7",
    'outcome("uec.ae-4h-78") == "not_met"',
    'pct(ae_4h_all, mar_2025) >= param.threshold and has_service("type1_ae")',
    'fact("x") != "it\'s \\"quoted\\" \\\\ here"',
    'date("2024-09-30") <= as_of',
    "rank(pct(a, p) - pct(a, q)) <= param.top_n",
    "min(a, max(b, c)) > 0",
    "f()",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_render_round_trip(text: str) -> None:
    node = parse(text)
    rendered = render(node)
    assert shape(parse(rendered)) == shape(node)
    # Rendering is canonical: a second round changes nothing, positions included.
    assert parse(render(parse(rendered))) == parse(rendered)
    assert render(parse(rendered)) == rendered


def test_render_round_trip_of_every_bundled_condition() -> None:
    book = pe.load_rulebook()
    for rule in book.rules:
        for node in (rule.condition, rule.applicable_if, rule.completed_on):
            if node is not None:
                assert shape(parse(render(node))) == shape(node), rule.id


def test_render_round_trip_of_a_long_decimal() -> None:
    node = parse("0.000000000000000000000000000001 > 0")  # 30 places, the most a number may have
    assert shape(parse(render(node))) == shape(node)


@pytest.mark.parametrize("text", ["true == (not x)", "(not a) == b"])
def test_render_round_trip_of_not_under_a_comparison(text: str) -> None:
    node = parse(text)
    assert shape(parse(render(node))) == shape(node)


# --------------------------------------------------------------------------- Hypothesis

_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"and", "or", "not", "true", "false"}
)
_LEAVES: st.SearchStrategy[Node] = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False).map(
        lambda d: Num(Fraction(d), 0)
    ),
    st.text(st.characters(blacklist_characters="\n"), max_size=8).map(lambda s: Str(s, 0)),
    st.booleans().map(lambda b: Bool(b, 0)),
    st.lists(_IDENT, min_size=1, max_size=3).map(lambda p: Name(tuple(p), 0)),
)
_BOOL_OPS = ["and", "or"]
_OTHER_OPS = ["<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "/"]


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def binary(op: str, left: Node, right: Node) -> Node:
        # Known render defect (see the xfail above): keep 'not' away from comparison/arithmetic operands.
        if op in _OTHER_OPS:
            left, right = (Call("f", (x,), 0) if isinstance(x, Unary) and x.op == "not" else x for x in (left, right))
        return Binary(op, left, right, 0)

    return st.one_of(
        st.builds(lambda op, x: Unary(op, x, 0), st.sampled_from(["not", "-"]), children),
        st.builds(binary, st.sampled_from(_BOOL_OPS + _OTHER_OPS), children, children),
        st.builds(lambda f, args: Call(f, tuple(args), 0), _IDENT, st.lists(children, max_size=3)),
    )


ASTS = st.recursive(_LEAVES, _extend, max_leaves=15)

# More than the profile's examples: the parser's inputs are cheap (hundreds take well under a
# second) and its grammar is wide, so these ask for 12 (the checker's 8) times the profile's
# examples: 300 (200) under ci, and they still scale under deep.
_PROFILE = settings().max_examples
PARSER = settings(max_examples=12 * _PROFILE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHECKER = settings(max_examples=8 * _PROFILE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PARSER
@given(st.text())
def test_parse_any_text_returns_an_ast_or_raises_parse_error(text: str) -> None:
    try:
        node = parse(text)
    except ParseError as exc:
        assert 0 <= exc.pos <= max(len(text), MAX_LENGTH)
        return
    assert isinstance(node, (Num, Str, Bool, Name, Call, Unary, Binary))


_TOKENS = [
    "(",
    ")",
    ",",
    ".",
    " ",
    "not ",
    " and ",
    " or ",
    "-",
    "+",
    "*",
    "/",
    "<",
    "<=",
    "==",
    "!=",
    "1",
    "2.5",
    '"s"',
    '"\\"',
    "\\",
    '"',
    "a",
    "_a",
    "param",
    "pct",
    "true",
    "\u00a0",
    "\u0663",
]


@PARSER
@given(st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join))
def test_parse_token_soup_returns_an_ast_or_raises_parse_error(text: str) -> None:
    try:
        parse(text)
    except ParseError:
        pass


@PARSER
@given(ASTS)
def test_render_then_parse_is_the_identity(node: Node) -> None:
    rendered = render(node)
    try:
        parsed = parse(rendered)
    except ParseError as exc:
        assert "nested deeper" in exc.message
        return
    assert shape(parsed) == shape(node), rendered


@CHECKER
@given(
    st.lists(
        st.sampled_from([*_TOKENS[:16], '"met"', "m_prop", "mar_2025", 'fact("t")', "param.threshold"]), max_size=30
    ).map("".join)
)
def test_check_raises_only_check_error(text: str) -> None:
    try:
        node = parse(text)
    except ParseError:
        return
    try:
        check(node, context())
    except CheckError:
        pass


# --------------------------------------------------------------------------- end to end: a tiny rulebook


@pytest.fixture(scope="module")
def logic_book(tmp_path_factory: pytest.TempPathFactory) -> pe.Rulebook:
    """A rulebook whose rules are 'a and b', 'a or b', 'not a' over two boolean facts."""
    bundled = policies_root() / "nhs-2024-25"
    root = tmp_path_factory.mktemp("logic")
    (root / "sources").mkdir()
    (root / "rulebook.yaml").write_bytes((bundled / "rulebook.yaml").read_bytes())
    for entry in (bundled / "sources").iterdir():
        (root / "sources" / entry.name).write_bytes(entry.read_bytes())
    source = {
        "document": "news-hhe-designated-lead.txt",
        "section": "S",
        "quote": "reducing Category 2 ambulance response times to an average of 30 minutes across 2024/25",
    }
    rules = [
        {
            "id": f"logic.{name}",
            "title": name,
            "kind": "target",
            "applies_to": ["icb"],
            "condition": cond,
            "source": dict(source),
        }
        for name, cond in [
            ("and", 'fact("a") and fact("b")'),
            ("or", 'fact("a") or fact("b")'),
            ("not", 'not fact("a")'),
        ]
    ]
    area = {
        "area": "logic",
        "title": "Logic",
        "facts": {
            "a": {"type": "boolean", "label": "a", "description": "a"},
            "b": {"type": "boolean", "label": "b", "description": "b"},
        },
        "rules": rules,
    }
    (root / "logic.yaml").write_text(yaml.safe_dump(area, sort_keys=False), encoding="utf-8")
    return pe.load_rulebook(root)


STATUS = {True: "met", False: "not_met", UNKNOWN: "unknown"}
VALUES: list[Any] = [True, False, UNKNOWN]


def _state(a: Any, b: Any) -> dict[str, Any]:
    facts = [{"name": name, "value": v, "date": "2024-04-01"} for name, v in (("a", a), ("b", b)) if v is not UNKNOWN]
    return {"as_of": "2025-04-20", "organisations": [{"id": "QAA", "type": "icb", "facts": facts}]}


@pytest.mark.parametrize("backend", pe.available_backends())
def test_kleene_end_to_end(logic_book: pe.Rulebook, backend: str) -> None:
    for a, b in itertools.product(VALUES, repeat=2):
        result = pe.evaluate(_state(a, b), logic_book, backend=backend)
        got = {o.rule_id: o.status for o in result}
        assert got == {
            "logic.and": STATUS[AND[a, b]],
            "logic.or": STATUS[OR[a, b]],
            "logic.not": STATUS[NOT[a]],
        }, (a, b)


def test_tiny_rulebook_reads_only_declared_facts(logic_book: pe.Rulebook) -> None:
    state = _state(True, True)
    state["organisations"][0]["facts"].append({"name": "c", "value": True, "date": "2024-04-01"})
    with pytest.raises(pe.StateError) as info:
        pe.evaluate(state, logic_book, backend="native")
    assert [d.path for d in info.value.details] == ["state.organisations[0].facts[2].name"]


def test_unknown_value_has_no_truth_value() -> None:
    with pytest.raises(TypeError):
        bool(UNKNOWN)

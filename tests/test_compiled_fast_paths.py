"""The compiled backend's integer fast paths against the reference evaluator, on states built to
sit exactly on each comparison (ties of one year with the other, a month exactly at a constant),
one unit either side of it, with missing months, zero denominators and values that are not whole.

Each fast path is a rule of a small rulebook (the UEC file with test rules added): the rate or
share of one year against the other's, a percentage against a constant that is not an integer
(either side), every month of a share against a constant, sums, means and extremes of value
series against each other and against a declared fact, arithmetic on them, and a rank() rule
whose range of ranks is settled from its two ends (and one, compared with ``==``, that is not).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import policy_engine as pe

ROOT = Path(__file__).resolve().parent.parent
FY23 = [f"2023-{m:02d}" for m in range(4, 13)] + [f"2024-{m:02d}" for m in range(1, 4)]
FY24 = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
MONTHS = FY23 + FY24

SOURCE = """    source:
      document: news-hhe-designated-lead.txt
      section: "Improving care, discharge and waiting times"
      quote: "a target for A&E staff of a minimum of 78% of patients being seen within four hours in March 2025"
    confidence: quoted
    assumptions: ["A test of the compiled backend's fast paths."]
"""

CONDITIONS = {
    "uec.t-rate-years": "rate(drd_delay_days, fy2024_25) < rate(drd_delay_days, fy2023_24)",
    "uec.t-rate-years-le": "rate(drd_delay_days, fy2024_25) <= rate(drd_delay_days, fy2023_24)",
    "uec.t-pct-years": "pct(ae_12h_type1, fy2024_25) >= pct(ae_12h_type1, fy2023_24)",
    "uec.t-pct-equal": "pct(ae_12h_type1, fy2024_25) == pct(virtual_ward_occupancy, fy2023_24)",
    "uec.t-pct-const": "pct(ae_4h_all, mar_2025) >= param.t",
    "uec.t-const-pct": "param.t < pct(ae_4h_all, mar_2025)",
    "uec.t-rate-const": "rate(drd_delay_days, fy2024_25) <= 2.5",
    "uec.t-every-month": "min_pct(virtual_ward_occupancy, fy2024_25) > 80",
    "uec.t-every-month-ge": "min_pct(virtual_ward_occupancy, fy2024_25) >= param.t",
    "uec.t-any-month": "max_pct(virtual_ward_occupancy, fy2024_25) < 90",
    "uec.t-min-month-eq": "min_pct(virtual_ward_occupancy, fy2024_25) == 80",
    "uec.t-months-years": "min_pct(virtual_ward_occupancy, fy2024_25) >= max_pct(virtual_ward_occupancy, fy2023_24)",
    "uec.t-total-years": "total(ucr_referrals, fy2024_25) > total(ucr_referrals, fy2023_24)",
    "uec.t-mean-years": "mean(ucr_referrals, fy2024_25) <= mean(ucr_referrals, q4_2023_24)",
    "uec.t-min-fact": 'min_value(g_and_a_beds, fy2024_25) >= fact("g_and_a_beds_plan_2023_24")',
    "uec.t-max-fact": 'max_value(g_and_a_beds, fy2024_25) <= fact("g_and_a_beds_plan_2023_24") + 2',
    "uec.t-min-mean": "min_value(g_and_a_beds, fy2024_25) >= mean(g_and_a_beds, q4_2023_24)",
    "uec.t-difference": "pct(ae_4h_all, mar_2025) - pct(ae_4h_all, mar_2024) >= 2.5",
    "uec.t-quotient": "total(ucr_referrals, fy2024_25) / total(ucr_referrals, fy2023_24) > 1.1",
    "uec.t-negative-divisor": "rate(drd_delay_days, fy2024_25) / -2 > -rate(drd_delay_days, fy2023_24) / 2",
    "uec.t-product": "-rate(drd_delay_days, fy2024_25) * 3 < rate(drd_delay_days, fy2023_24) * -2",
    "uec.t-min-max": "min(pct(ae_4h_all, mar_2025), pct(ae_12h_type1, fy2024_25)) < max(2, pct(ae_4h_all, mar_2024))",
}
PARAMS = {
    "uec.t-pct-const": "78.5",
    "uec.t-const-pct": "78.5",
    "uec.t-every-month-ge": "80.25",
}
RANKED = {
    "uec.t-rank-top": "rank(pct(ae_4h_all, mar_2025) - pct(ae_4h_all, mar_2024)) <= param.n",
    "uec.t-rank-exact": "rank(pct(ae_4h_all, mar_2025) - pct(ae_4h_all, mar_2024)) == param.n",
}


def _rule(rid: str, condition: str, param: str | None, ranked: bool = False) -> str:
    params = ""
    if param is not None:
        unit = "rank" if ranked else "percent"
        params = f'    parameters:\n      {"n" if ranked else "t"}: {{value: {param}, unit: {unit}, wording: "x"}}\n'
    cohort = "    cohort: national\n" if ranked else ""
    return (
        f'  - id: {rid}\n    title: "{rid}"\n    kind: target\n    applies_to: [acute_trust]\n'
        f"    period: fy2024_25\n    deadline: 2025-03-31\n{params}{cohort}    condition: {condition}\n{SOURCE}\n"
    )


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> pe.Rulebook:
    tmp = tmp_path_factory.mktemp("fast-paths")
    src = ROOT / "policies" / "nhs-2024-25"
    shutil.copy(src / "rulebook.yaml", tmp / "rulebook.yaml")
    shutil.copytree(src / "sources", tmp / "sources")
    text = (src / "urgent-emergency-care.yaml").read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    text += "".join(_rule(rid, cond, PARAMS.get(rid)) for rid, cond in CONDITIONS.items())
    text += "".join(_rule(rid, cond, "2", ranked=True) for rid, cond in RANKED.items())
    (tmp / "urgent-emergency-care.yaml").write_text(text, encoding="utf-8")
    return pe.load_rulebook(tmp)


def reference(state: pe.State, book: pe.Rulebook) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {org.id: {} for org in state.organisations}
    for o in pe.evaluate(state, book, backend="native").outcomes:
        out[o.org_id][o.rule_id] = o.status
    return out


def _counts(months: list[str], pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"period": m, "numerator": n, "denominator": d} for m, (n, d) in zip(months, pairs, strict=True)]


def _values(months: list[str], values: list[Any]) -> list[dict[str, Any]]:
    return [{"period": m, "value": v} for m, v in zip(months, values, strict=True)]


def _trust(org_id: str, metrics: dict[str, list[dict[str, Any]]], plan: Any = None) -> dict[str, Any]:
    facts = [] if plan is None else [{"name": "g_and_a_beds_plan_2023_24", "value": plan, "date": "2024-04-01"}]
    return {"id": org_id, "type": "acute_trust", "services": ["type1_ae"], "metrics": metrics, "facts": facts}


def _state(book: pe.Rulebook, orgs: list[dict[str, Any]]) -> pe.State:
    national = [{"scope": "national", "types": ["acute_trust"], "source": "test: every trust"}]
    return pe.state_from_dict({"as_of": "2025-04-20", "cohorts": national, "organisations": orgs}, book)


def _check(book: pe.Rulebook, orgs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    state = _state(book, orgs)
    got = pe.statuses(state, book)
    assert got == reference(state, book)
    return got


def test_every_fast_path_is_compiled_as_one(book: pe.Rulebook) -> None:
    """Each test rule's comparison is decided by the integer path, not the general one (so the
    tests below test it): the closure deciding it is the cross-multiplying one."""
    from policy_engine.evaluation.compiled import _Compiler

    for rid in CONDITIONS:
        rule = book.rule(rid)
        fn = _Compiler(book, rule).compile(rule.condition)
        assert fn.__name__ in ("compare", "against", "against_int"), (rid, fn.__name__)


def test_ties_of_one_year_with_the_other(book: pe.Rulebook) -> None:
    """Equal rates, shares and sums in both years (month for month, and only in total), and one
    unit either side: strict comparisons not met on the tie, others met."""
    same = [(300, 100)] * 12
    shifted = [(299, 100)] + [(300, 100)] * 10 + [(301, 100)]  # the same total, other months
    orgs = [
        _trust(
            "TIE",
            {
                "drd_delay_days": _counts(MONTHS, same + shifted),
                "ae_12h_type1": _counts(MONTHS, [(5, 100)] * 12 + [(6, 120)] * 12),  # 5% both years
                "ucr_referrals": _values(MONTHS, [100] * 24),
            },
        ),
        _trust(
            "LOWER",
            {
                "drd_delay_days": _counts(MONTHS, same + [(299, 100)] + [(300, 100)] * 11),
                "ae_12h_type1": _counts(MONTHS, [(5, 100)] * 12 + [(5, 101)] * 12),
                "ucr_referrals": _values(MONTHS, [100] * 12 + [99] + [100] * 11),
            },
        ),
        _trust(
            "HIGHER",
            {
                "drd_delay_days": _counts(MONTHS, same + [(301, 100)] + [(300, 100)] * 11),
                "ae_12h_type1": _counts(MONTHS, [(5, 100)] * 12 + [(5, 99)] * 12),
                "ucr_referrals": _values(MONTHS, [100] * 12 + [Decimal("100.5")] + [100] * 11),
            },
        ),
        _trust(  # not whole: 99.5 + 100.5 + 10 x 100 ties 2023/24's 1,200
            "HALVES",
            {"ucr_referrals": _values(MONTHS, [100] * 12 + [Decimal("99.5"), Decimal("100.5")] + [100] * 10)},
        ),
    ]
    got = _check(book, orgs)
    assert [got[k]["uec.t-rate-years"] for k in ("TIE", "LOWER", "HIGHER")] == ["not_met", "met", "not_met"]
    assert [got[k]["uec.t-negative-divisor"] for k in ("TIE", "LOWER", "HIGHER")] == ["not_met", "met", "not_met"]
    assert got["HALVES"]["uec.t-total-years"] == "not_met"
    assert [got[k]["uec.t-rate-years-le"] for k in ("TIE", "LOWER", "HIGHER")] == ["met", "met", "not_met"]
    assert [got[k]["uec.t-pct-years"] for k in ("TIE", "LOWER", "HIGHER")] == ["met", "not_met", "met"]
    assert [got[k]["uec.t-total-years"] for k in ("TIE", "LOWER", "HIGHER")] == ["not_met", "not_met", "met"]


def test_a_missing_month_or_a_zero_denominator_is_unknown(book: pe.Rulebook) -> None:
    """One month missing in one year, or a year whose denominators sum to 0, or (for every-month
    rules) one month with a zero denominator while another already fails: unknown, not decided."""
    share = [(450, 500)] * 24
    share[20] = (0, 0)  # a month with no capacity
    share[15] = (300, 500)  # and a month that fails (60%): still unknown, as the reference says
    missing = _counts(MONTHS, [(300, 100)] * 24)
    del missing[17]
    orgs = [
        _trust(
            "HOLES",
            {
                "drd_delay_days": missing,
                "ae_12h_type1": _counts(MONTHS, [(0, 0)] * 12 + [(5, 100)] * 12),
                "virtual_ward_occupancy": _counts(MONTHS, share),
                "ucr_referrals": _values(MONTHS[:5] + MONTHS[6:], [100] * 23),
                "g_and_a_beds": _values(MONTHS[:-1], [500] * 23),
            },
            plan=500,
        )
    ]
    undeclared = _trust("UNDECLARED", {"ae_4h_all": _counts(["2025-03"], [(9, 10)])})
    del undeclared["services"]  # has_service() unknown: so is 'has_service(a) or has_service(b) ...'
    orgs += [undeclared, {**_trust("NONE", {"ae_4h_all": _counts(["2025-03"], [(9, 10)])}), "services": []}]
    everything = _check(book, orgs)
    assert everything["UNDECLARED"]["uec.ae-4h-78"] == "unknown"
    assert everything["NONE"]["uec.ae-4h-78"] == "not_applicable"
    got = everything["HOLES"]
    for rid in (
        "uec.t-rate-years",
        "uec.t-pct-years",
        "uec.t-every-month",
        "uec.t-any-month",
        "uec.t-total-years",
        "uec.t-min-fact",
        "uec.t-rate-const",
    ):
        assert got[rid] == "unknown", rid


def test_every_month_exactly_on_the_constant(book: pe.Rulebook) -> None:
    """Every month of a share above a constant: one month exactly at 80% fails '> 80' and meets
    '>= 80' and '== 80'; 80.25% is 321/400, a constant that is not an integer."""
    at = [(450, 500)] * 24
    at[16] = (400, 500)  # exactly 80%
    just = [(450, 500)] * 24
    just[16] = (321, 400)  # exactly 80.25%
    below = [(450, 500)] * 24
    below[16] = (320, 400)  # 80%, under 80.25%
    orgs = [
        _trust("AT", {"virtual_ward_occupancy": _counts(MONTHS, at)}),
        _trust("JUST", {"virtual_ward_occupancy": _counts(MONTHS, just)}),
        _trust("BELOW", {"virtual_ward_occupancy": _counts(MONTHS, below)}),
    ]
    got = _check(book, orgs)
    assert [got[k]["uec.t-every-month"] for k in ("AT", "JUST", "BELOW")] == ["not_met", "met", "not_met"]
    assert [got[k]["uec.t-every-month-ge"] for k in ("AT", "JUST", "BELOW")] == ["not_met", "met", "not_met"]
    assert [got[k]["uec.t-min-month-eq"] for k in ("AT", "JUST", "BELOW")] == ["met", "not_met", "met"]


def test_a_percentage_exactly_on_a_constant_that_is_not_whole(book: pe.Rulebook) -> None:
    """78.5% exactly (157/200) meets '>= 78.5' and not '78.5 < ...'; one attendance less fails both."""

    def march(n: int, d: int) -> dict[str, list[dict[str, Any]]]:
        return {"ae_4h_all": _counts(["2024-03", "2025-03"], [(n, d), (n, d)])}

    orgs = [_trust("AT", march(157, 200)), _trust("UNDER", march(1569, 2000)), _trust("OVER", march(1571, 2000))]
    got = _check(book, orgs)
    assert [got[k]["uec.t-pct-const"] for k in ("AT", "UNDER", "OVER")] == ["met", "not_met", "met"]
    assert [got[k]["uec.t-const-pct"] for k in ("AT", "UNDER", "OVER")] == ["not_met", "not_met", "met"]
    assert {got[k]["uec.t-difference"] for k in ("AT", "UNDER", "OVER")} == {"not_met"}  # the same both years
    up = {"ae_4h_all": _counts(["2024-03", "2025-03"], [(100, 200), (105, 200)])}  # 50% -> 52.5%: exactly +2.5
    mixed = {"ae_4h_all": _counts(["2024-03", "2025-03"], [(50, 100), (104, 200)])}  # 50% -> 52%
    got = _check(book, [_trust("UP", up), _trust("MIXED", mixed)])
    assert [got["UP"]["uec.t-difference"], got["MIXED"]["uec.t-difference"]] == ["met", "not_met"]


def test_value_extremes_against_a_fact_and_a_mean(book: pe.Rulebook) -> None:
    """The lowest month exactly at the declared plan (met), one below (not met), a value that
    is not whole; the lowest month against a quarter's mean that is not whole."""
    fy24 = [505] * 12
    fy24[7] = 500
    orgs = [
        _trust("AT", {"g_and_a_beds": _values(MONTHS, [500, 501, 502] * 4 + fy24)}, plan=500),
        _trust("UNDER", {"g_and_a_beds": _values(MONTHS, [500] * 12 + fy24)}, plan=Decimal("500.5")),
        _trust("MEAN", {"g_and_a_beds": _values(MONTHS, [500] * 9 + [499, 500, 502] + [501] * 12)}, plan=499),
    ]
    got = _check(book, orgs)
    assert [got[k]["uec.t-min-fact"] for k in ("AT", "UNDER", "MEAN")] == ["met", "not_met", "met"]
    assert [got[k]["uec.t-max-fact"] for k in ("AT", "UNDER", "MEAN")] == ["not_met", "not_met", "met"]
    # q4 2023/24 mean: AT 501 (505 > 501 but 500 < 501), MEAN 1501/3 (501 >= 500.33)
    assert [got[k]["uec.t-min-mean"] for k in ("AT", "UNDER", "MEAN")] == ["not_met", "met", "met"]


def test_a_rank_range_is_settled_from_its_ends(book: pe.Rulebook) -> None:
    """With members of unknown value, a rank is a range: '<= 2' is decided where both ends agree
    (far down, not eligible; the two best are unknown), '== 2' by every rank of the range."""

    def trust(org_id: str, then: int, now: int | None) -> dict[str, Any]:
        months = ["2024-03", "2025-03"] if now is not None else ["2024-03"]
        pairs = [(then, 100), (now, 100)] if now is not None else [(then, 100)]
        return _trust(org_id, {"ae_4h_all": _counts(months, pairs)})

    orgs = [trust(f"R{k}", 50, 50 + k) for k in range(6)] + [trust("NONE", 50, None)]
    got = _check(book, orgs)
    top = [got[f"R{k}"]["uec.t-rank-top"] for k in range(6)]
    exact = [got[f"R{k}"]["uec.t-rank-exact"] for k in range(6)]
    # R5 ranks 1 or 2, R4 2 or 3, R3 3 or 4, ... R0 6 or 7 (the trust with no March 2025 may rank above)
    assert top == ["not_met", "not_met", "not_met", "not_met", "unknown", "met"]
    assert exact == ["not_met", "not_met", "not_met", "not_met", "unknown", "unknown"]


_share = st.tuples(st.integers(0, 5), st.integers(0, 5)).map(lambda p: (p[0], p[0] + p[1]))
_value = st.one_of(st.integers(0, 4), st.sampled_from([Decimal("1.5"), Decimal("2.5"), Decimal("0.25")]))


@st.composite
def _generated_trust(draw: st.DrawFn, k: int) -> dict[str, Any]:
    """A trust whose series have few distinct values (so ties are common), some months missing."""
    metrics: dict[str, list[dict[str, Any]]] = {}
    for name in ("drd_delay_days", "ae_12h_type1", "virtual_ward_occupancy", "ae_4h_all"):
        pairs = draw(st.lists(_share, min_size=24, max_size=24))
        metrics[name] = _counts(MONTHS, pairs)
    for name in ("ucr_referrals", "g_and_a_beds"):
        metrics[name] = _values(MONTHS, draw(st.lists(_value, min_size=24, max_size=24)))
    for name in draw(st.lists(st.sampled_from(sorted(metrics)), max_size=2)):
        drop = draw(st.sampled_from(MONTHS))
        metrics[name] = [o for o in metrics[name] if o["period"] != drop]
    plan = draw(st.one_of(st.none(), _value))
    return _trust(f"G{k}", metrics, plan)


@given(st.data())
def test_generated_near_ties_agree_with_the_reference(book: pe.Rulebook, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 4))
    _check(book, [data.draw(_generated_trust(k)) for k in range(n)])


@given(st.data())
def test_numbers_leaving_the_comparisons_are_the_reference_values(book: pe.Rulebook, data: st.DataObject) -> None:
    """Every numeric sub-expression of the test rules, compiled on its own (as a rank() argument
    is: a ``Fraction``, or unknown), has the value the reference interpreter gives it."""
    from policy_engine.data.state import view_at
    from policy_engine.evaluation.compiled import _Compiler, program
    from policy_engine.evaluation.expressions import Env, evaluate
    from policy_engine.language.ast import ARITHMETIC, Binary, Call, walk

    state = _state(book, [data.draw(_generated_trust(0))])
    org, as_of = state.organisations[0], state.as_of
    assert as_of is not None
    ctx = program(book).contexts([org], as_of)[0]
    for rid in CONDITIONS:
        rule = book.rule(rid)
        for node in walk(rule.condition):
            if (isinstance(node, Binary) and node.op in ARITHMETIC) or (
                isinstance(node, Call) and node.func not in ("fact", "rank")
            ):
                env = Env(rule, view_at(org, as_of), as_of, book.metrics, book.periods, {})
                assert _Compiler(book, rule).compile(node)(ctx) == evaluate(node, env), (rid, node)

"""The table mapping and the columnar evaluator (issue 6): statuses equal the reference evaluator's
cell for cell, bad tables are refused naming the row, column and value, and files stream."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from pathlib import Path
from typing import Any

import attrs
import polars as pl
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import cli, tabular
from policy_engine.data.state import State, state_from_dict
from policy_engine.engine import reference_evaluate
from policy_engine.evaluation import columnar as columnar_backend
from policy_engine.testing import thresholds
from policy_engine.testing.strategies import boundary_cases, merge_states, states

ROOT = Path(__file__).resolve().parent.parent
BOOK = pe.load_rulebook("nhs-2024-25")
EXAMPLE = pe.load_state(ROOT / "examples" / "state.json")


def reference(states_by_id: dict[str, State], book: pe.Rulebook = BOOK) -> dict[tuple[str, str, str], str]:
    out = {}
    for sid, state in states_by_id.items():
        for o in reference_evaluate(state, book).outcomes:  # the reference interpreter
            out[(sid, o.org_id, o.rule_id)] = o.status
    return out


def columnar(frame: pl.DataFrame, book: pe.Rulebook = BOOK) -> dict[tuple[str, str, str], str]:
    result = tabular.evaluate_frame(frame, book)
    out = {}
    for row in result.frame.iter_rows(named=True):
        for rule in book.rules:
            if row[rule.id] is not None:
                out[(row["state_id"], row["org_id"], rule.id)] = row[rule.id]
    return out


def assert_same(states_by_id: dict[str, State], book: pe.Rulebook = BOOK) -> None:
    want = reference(states_by_id, book)
    got = columnar(tabular.states_to_frame(states_by_id, book), book)
    wrong = sorted((k, want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k))
    assert not wrong, wrong[:10]


def test_the_example_evaluates_cell_for_cell_as_the_reference() -> None:
    assert_same({"example": EXAMPLE})


def test_rows_convert_back_to_the_same_states() -> None:
    frame = tabular.states_to_frame({"a": EXAMPLE}, BOOK)
    [(sid, back)] = tabular.frame_to_states(frame, BOOK)
    assert sid == "a"

    def comparable(state: State) -> list[pe.Outcome]:
        # a table keeps which cohorts are complete, not where the declaration came from
        return [
            attrs.evolve(o, evidence=tuple(e for e in o.evidence if e.kind != "cohort"))
            for o in pe.evaluate(state, BOOK, backend="native").outcomes
        ]

    assert comparable(back) == comparable(EXAMPLE)
    assert [(c.scope, c.types) for c in back.cohorts] == [(c.scope, c.types) for c in EXAMPLE.cohorts]
    assert back.cohorts[0].source == "declared in the table's cohorts column"


def test_several_states_and_dates_in_one_table() -> None:
    doc = EXAMPLE.to_dict()  # the same data at other dates: deadlines pass, months complete
    doc["as_of"] = "2025-09-30"
    later = state_from_dict(doc, BOOK)
    doc["as_of"] = "2024-06-15"
    earlier = state_from_dict(doc, BOOK)
    assert_same({"2024-06": earlier, "2025-04": EXAMPLE, "2025-09": later})


@pytest.mark.slow
@given(states(BOOK, max_size=5))
def test_generated_states_agree_with_the_reference(doc: dict[str, Any]) -> None:
    assert_same({"s": state_from_dict(doc, BOOK)})


GREATEST = "uec.type1-ae-greatest-improvement"
NATIONAL = [{"scope": "national", "types": ["acute_trust", "community_provider"], "source": "test: the whole cohort"}]
"""The rank() tests' states hold their whole national cohort (docs/decisions/007)."""
_THRESHOLD_RULES = sorted({t.rule_id for t in thresholds(BOOK)})


@pytest.mark.slow
# More than the profile's examples under ci: each example draws one of the 38 threshold rules (with
# three boundary cases), and the run should reach most of them.
@settings(max_examples=max(settings().max_examples, len(_THRESHOLD_RULES)))
@given(st.data())
def test_values_exactly_on_thresholds_agree_with_the_reference(data: st.DataObject) -> None:
    rule_id = data.draw(st.sampled_from(_THRESHOLD_RULES))
    cases = [data.draw(boundary_cases(rule_id, BOOK)) for _ in range(3)]
    doc = merge_states(*[c.state for c in cases])
    note(f"{rule_id}: offsets {[c.offset for c in cases]}")
    state = state_from_dict(doc, BOOK)
    assert_same({"b": state})
    got = columnar(tabular.states_to_frame({"b": state}, BOOK))
    for case in cases:  # merge_states renames clashing ids; the first case keeps its own
        if case is cases[0]:
            assert got[("b", case.org_id, rule_id)] == case.expected


def _ae_trust(org_id: str, mar_2024: tuple[int, int], mar_2025: tuple[int, int]) -> dict[str, Any]:
    months = {"2024-03": mar_2024, "2025-03": mar_2025}
    return {
        "id": org_id,
        "type": "acute_trust",
        "services": ["type1_ae"],
        "metrics": {"ae_4h_type1": [{"period": m, "numerator": n, "denominator": d} for m, (n, d) in months.items()]},
    }


def test_rank_ties_and_near_ties_are_decided_exactly() -> None:
    # Improvements 70.1% - 60% = 10.1 (three ways, with different denominators), and one just below.
    orgs = [
        _ae_trust("RA1", (600, 1000), (701, 1000)),
        _ae_trust("RA2", (1200, 2000), (1402, 2000)),
        _ae_trust("RA3", (3, 5), (7010, 10000)),
        _ae_trust("RA4", (600, 1000), (7009, 10000)),
    ]
    state = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, BOOK)
    assert_same({"r": state})
    result = tabular.evaluate_frame(tabular.states_to_frame({"r": state}, BOOK), BOOK)
    assert result.exact_cells == 0  # ties in floats, settled by the exact ratios of the improvements
    statuses = dict(zip(result.frame["org_id"], result.frame["uec.type1-ae-greatest-improvement"], strict=True))
    assert statuses == {"RA1": "eligible", "RA2": "eligible", "RA3": "eligible", "RA4": "not_eligible"}


def _tied_cohorts(book: pe.Rulebook) -> dict[str, State]:
    """Three states of 30 trusts whose improvements tie exactly (the same fractions written
    with different denominators) or nearly."""
    rng = random.Random(11)
    states_by_id = {}
    for s in range(3):
        orgs = []
        for k in range(30):
            scale = rng.choice([1, 3, 7, 10])
            before = rng.choice([(600, 1000), (1, 3), (2, 7)])
            after = rng.choice([(701, 1000), (7009, 10000), (2, 3), (5, 7)])
            orgs.append(
                _ae_trust(
                    f"R{s}{k:02d}",
                    (before[0] * scale, before[1] * scale),
                    (after[0] * scale + rng.choice([0, 0, 1]), after[1] * scale),
                )
            )
        states_by_id[f"s{s}"] = state_from_dict(
            {"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, book
        )
    return states_by_id


def test_many_ties_in_many_cohorts_are_ranked_as_the_reference_ranks_them() -> None:
    states_by_id = _tied_cohorts(BOOK)
    assert_same(states_by_id)
    assert tabular.evaluate_frame(tabular.states_to_frame(states_by_id, BOOK), BOOK).exact_cells == 0


def test_ties_in_a_rank_argument_without_exact_ratios_are_re_decided(tmp_path: Path) -> None:
    # min_pct() has no exact ratio in the columnar backend: near ties go to the reference
    # evaluator, state by state, for the members within the bound only.
    old = "rank(pct(ae_4h_type1, mar_2025) - pct(ae_4h_type1, mar_2024))"
    book = _partial_book(
        tmp_path,
        "urgent-emergency-care.yaml",
        old,
        "rank(min_pct(ae_4h_type1, mar_2025) - min_pct(ae_4h_type1, mar_2024))",
    )
    states_by_id = _tied_cohorts(book)
    assert_same(states_by_id, book)
    result = tabular.evaluate_frame(tabular.states_to_frame(states_by_id, book), book)
    assert result.exact_cells > 0
    orgs = [
        _ae_trust("RX1", (0, 1), (199999987655, 400000000001)),
        _ae_trust("RX2", (0, 1), (333724818411, 667449678022)),
    ]
    near = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, book)
    assert_same({"n": near}, book)
    result = tabular.evaluate_frame(tabular.states_to_frame({"n": near}, book), book)
    assert dict(zip(result.frame["org_id"], result.frame[GREATEST], strict=True)) == {
        "RX1": "not_eligible",
        "RX2": "eligible",
    }


def test_a_near_tie_floats_cannot_separate_is_ranked_exactly() -> None:
    # 199999987655/400000000001 < 333724818411/667449678022 by 1/(b*d): the same float64, so
    # only the exact values tell the greatest improvement (from 0%) from the second.
    orgs = [
        _ae_trust("RX1", (0, 1), (199999987655, 400000000001)),
        _ae_trust("RX2", (0, 1), (333724818411, 667449678022)),
    ]
    state = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, BOOK)
    assert_same({"n": state})
    result = tabular.evaluate_frame(tabular.states_to_frame({"n": state}, BOOK), BOOK)
    assert result.exact_cells == 0  # settled by the exact ratios, in the columnar backend
    statuses = dict(zip(result.frame["org_id"], result.frame[GREATEST], strict=True))
    assert statuses == {"RX1": "not_eligible", "RX2": "eligible"}


def _partial_book(tmp_path: Path, name: str, old: str, new: str, also: tuple[str, ...] = ()) -> pe.Rulebook:
    """The rulebook cut to one area file (and those in ``also``), with a piece of text replaced."""
    src = ROOT / "policies" / "nhs-2024-25"
    for other in ("rulebook.yaml", *also):
        (tmp_path / other).write_bytes((src / other).read_bytes())
    (tmp_path / "sources").mkdir()
    for f in (src / "sources").iterdir():
        (tmp_path / "sources" / f.name).write_bytes(f.read_bytes())
    text = (src / name).read_text(encoding="utf-8")
    assert text.count(old) == 1
    (tmp_path / name).write_text(text.replace(old, new), encoding="utf-8")
    return pe.load_rulebook(tmp_path)


def _months(start: tuple[int, int], n: int) -> list[str]:
    y, m = start
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _practice(org_id: str, last_year: tuple[int, int], this_year: tuple[int, int]) -> dict[str, Any]:
    """A practice with the same counts in every month of 2023/24, and of 2024/25."""
    series = [
        {"period": month, "numerator": n, "denominator": d}
        for (y0, (n, d)) in (((2023, 4), last_year), ((2024, 4), this_year))
        for month in _months(y0, 12)
    ]
    return {"id": org_id, "type": "gp_practice", "metrics": {"prev_cyp_vaccination_uptake": series}}


def test_ties_between_quotients_and_between_decimals_need_no_re_decision() -> None:
    # pct() > pct(): equal quotients that floats cannot hold exactly (1/3 = 2/6), a near miss,
    # and counts whose cross-products overflow 64 bits, all decided in integers.
    big = 10**12 // 12
    orgs = [
        _practice("P1", (1, 3), (2, 6)),
        _practice("P2", (1, 3), (333333333, 1000000000)),
        _practice("P3", (333333333, 1000000000), (1, 3)),
        _practice("P4", (big - 1, big), (big - 2, big - 1)),
        _practice("P5", (big - 2, big - 1), (big - 1, big)),
        {  # one month's value against another's: two decimals that floats do not hold exactly
            "id": "Q1",
            "type": "icb",
            "metrics": {
                "lda_autistic_inpatients": [{"period": "2024-03", "value": 0.1}, {"period": "2025-03", "value": 0.1}]
            },
        },
    ]
    state = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, BOOK)
    assert_same({"t": state})
    result = tabular.evaluate_frame(tabular.states_to_frame({"t": state}, BOOK), BOOK)
    assert result.exact_cells == 0
    yoy = dict(zip(result.frame["org_id"], result.frame["prev.cyp-vaccination-uptake-yoy"], strict=True))
    assert yoy == {"P1": "not_met", "P2": "not_met", "P3": "met", "P4": "not_met", "P5": "met", "Q1": "unknown"}
    lower = result.frame.filter(pl.col("org_id") == "Q1")["lda.autistic-inpatients-lower"].to_list()
    assert lower == ["not_met"]


@pytest.mark.parametrize(
    ("condition", "small_in_doubt", "large_in_doubt"),
    [  # each is "this year above last year"; one arithmetic step on quotients stays exact
        ("{a} / -3 < {b} / -3", False, False),
        ("{a} * 3 > {b} * 3", False, False),
        ("{a} + 1 > {b} + 1", False, False),
        ("{a} - {b} > 0", False, True),  # counts near 10**12: parts beyond 2**63, so floats and doubt
        ("{a} * 3 / 3 > {b}", True, True),  # two steps: floats and doubt, whatever the counts
    ],
)
def test_arithmetic_on_quotients_is_exact_one_step_deep(
    tmp_path: Path, condition: str, small_in_doubt: bool, large_in_doubt: bool
) -> None:
    a, b = "pct(prev_cyp_vaccination_uptake, fy2024_25)", "pct(prev_cyp_vaccination_uptake, fy2023_24)"
    old = f"{a} > {b}"
    also = ("maternity-womens-health.yaml",)
    book = _partial_book(tmp_path, "prevention-inequalities.yaml", old, condition.format(a=a, b=b), also=also)
    rule = "prev.cyp-vaccination-uptake-yoy"
    big = 10**12 // 12
    small = [
        _practice("P1", (1, 3), (2, 6)),
        _practice("P2", (1, 3), (333333333, 1000000000)),
        _practice("P3", (333333333, 1000000000), (1, 3)),
    ]
    large = [_practice("P4", (big - 1, big), (big - 1, big)), _practice("P5", (big - 2, big - 1), (big - 1, big))]
    for orgs, want, doubt in (
        (small, ["not_met", "not_met", "met"], "*" in condition and "/" in condition),
        (large, ["not_met", "met"], large_in_doubt),
    ):
        state = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, book)
        assert_same({"s": state}, book)
        result = tabular.evaluate_frame(tabular.states_to_frame({"s": state}, book), book)
        assert result.frame[rule].to_list() == want
        assert (result.exact_cells > 0) == doubt, (orgs[0]["id"], result.exact_cells)


def test_a_rank_rule_over_two_types_ranks_them_in_one_cohort(tmp_path: Path) -> None:
    # Types are evaluated separately unless one rank() rule ranks them together.
    head = f'  - id: {GREATEST}\n    title: "Type 1 A&E incentive criterion: the greatest level of improvement"\n'
    book = _partial_book(
        tmp_path,
        "urgent-emergency-care.yaml",
        head + "    kind: eligibility\n    applies_to: [acute_trust]\n",
        head + "    kind: eligibility\n    applies_to: [acute_trust, community_provider]\n",
    )
    groups = {g.types for g in columnar_backend._groups(book)}
    assert frozenset({"acute_trust", "community_provider"}) in groups
    assert frozenset({"icb"}) in groups
    community = {**_ae_trust("RC1", (600, 1000), (800, 1000)), "type": "community_provider"}
    orgs = [_ae_trust("RA1", (600, 1000), (701, 1000)), community, _ae_trust("RA2", (600, 1000), (650, 1000))]
    state = state_from_dict({"as_of": "2025-04-30", "cohorts": NATIONAL, "organisations": orgs}, book)
    result = tabular.evaluate_frame(tabular.states_to_frame({"r": state}, book), book)
    want = {o.org_id: o.status for o in pe.evaluate(state, book, backend="native").outcomes if o.rule_id == GREATEST}
    got = dict(zip(result.frame["org_id"], result.frame[GREATEST], strict=True))
    assert got == want == {"RA1": "not_eligible", "RC1": "eligible", "RA2": "not_eligible"}


def test_missing_columns_are_missing_data_not_breaches() -> None:
    frame = pl.DataFrame({"state_id": ["s"], "org_id": ["RX1"], "org_type": ["acute_trust"], "as_of": ["2025-04-30"]})
    result = tabular.evaluate_frame(frame, BOOK).frame
    statuses = {c: result[c][0] for c in result.columns if c not in tabular.KEY_COLUMNS and result[c][0] is not None}
    assert statuses and set(statuses.values()) <= {"unknown", "overdue", "due", "not_applicable"}
    assert statuses["uec.ae-4h-78"] == "unknown"
    assert_same({"s": tabular.frame_to_states(frame, BOOK)[0][1]})


# --------------------------------------------------------------------------- bad tables


def _base(**extra: list[Any]) -> dict[str, list[Any]]:
    return {
        "state_id": ["s", "s"],
        "org_id": ["RX1", "RX2"],
        "org_type": ["acute_trust"] * 2,
        "as_of": ["2025-04-30"] * 2,
        **extra,
    }


@pytest.mark.parametrize(
    ("columns", "path", "message"),
    [
        (_base(**{"metric.nope.2025-03.value": ["1", "2"]}), "columns['metric.nope.2025-03.value']", "unknown metric"),
        (_base(colour=["red", "blue"]), "columns['colour']", "not a column of the table mapping"),
        (
            _base(**{"metric.ae_4h_all.2025-03.value": ["1", "2"]}),
            "columns['metric.ae_4h_all.2025-03.value']",
            "proportion metric",
        ),
        (
            _base(
                **{"metric.ae_4h_all.2025-03.numerator": ["5", "x"], "metric.ae_4h_all.2025-03.denominator": ["9", "9"]}
            ),
            "rows[1]['metric.ae_4h_all.2025-03.numerator']",
            "whole-number count",
        ),
        (
            _base(
                **{
                    "metric.ae_4h_all.2025-03.numerator": ["5", "10"],
                    "metric.ae_4h_all.2025-03.denominator": ["9", "9"],
                }
            ),
            "rows[1]['metric.ae_4h_all.2025-03.numerator']",
            "numerator <=",
        ),
        (
            _base(**{"metric.ae_4h_all.2025-03.numerator": ["5", "1"]}),
            "rows[0]['metric.ae_4h_all.2025-03.numerator']",
            "both counts or neither",
        ),
        (_base(**{"fact.pews_implemented": ["true", None]}), "rows[0]['fact.pews_implemented']", ".date too"),
        (
            _base(**{"fact.pews_implemented": ["yes", None], "fact.pews_implemented.date": ["2024-05-01", None]}),
            "rows[0]['fact.pews_implemented']",
            "expects a boolean",
        ),
        (_base(as_of=["2025-04-30", "2025-4-30"]), "rows[1]['as_of']", "YYYY-MM-DD"),
        (_base(org_type=["acute_trust", "hospital"]), "rows[1]['org_type']", "expected one of"),
        (_base(org_id=["RX1", "RX1"]), "rows[0]['org_id']", "appears twice"),
        (_base(as_of=["2025-04-30", "2025-05-31"]), "rows[0]['as_of']", "same as_of"),
        (_base(services=["type1_ae;nope", ""]), "rows[0]['services']", "not in the rulebook"),
        (
            {
                "state_id": ["a", "b", "a"],
                "org_id": ["R1", "R2", "R3"],
                "org_type": ["icb"] * 3,
                "as_of": ["2025-04-30"] * 3,
            },
            "rows[2]['state_id']",
            "contiguous",
        ),
        ({"org_id": ["R1"], "org_type": ["icb"], "as_of": ["2025-04-30"]}, "columns['state_id']", "required column"),
    ],
)
def test_bad_tables_name_the_row_column_and_value(columns: dict[str, list[Any]], path: str, message: str) -> None:
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_frame(pl.DataFrame(columns), BOOK)
    details = info.value.details
    assert any(d.path == path and message in d.message for d in details), details


def test_typed_columns_are_checked_too() -> None:
    frame = pl.DataFrame(
        _base(**{"metric.ae_4h_all.2025-03.numerator": [5.0, 2.5], "metric.ae_4h_all.2025-03.denominator": [9, 9]})
    )
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(frame, BOOK)
    assert info.value.details[0].path == "rows[1]['metric.ae_4h_all.2025-03.numerator']"
    assert info.value.details[0].value == "2.5"
    frame = pl.DataFrame(_base(**{"metric.ae_4h_type1.2025-03.numerator": [float("nan"), 1.0]}))
    with pytest.raises(pe.StateError):
        tabular.normalise_frame(frame, BOOK)


_NUM, _DEN = "metric.ae_4h_all.2025-03.numerator", "metric.ae_4h_all.2025-03.denominator"
_VAL = "metric.lda_autistic_inpatients.2025-03.value"
_FACT = "fact.elec_vwa_system_target_pct"
_INF = float("inf")


@pytest.mark.parametrize(
    ("columns", "path", "message"),
    [  # typed columns (as Parquet gives them) are first checked from whole-column statistics
        ({_NUM: [3, -1], _DEN: [9, 9]}, f"rows[1]['{_NUM}']", "whole-number count"),
        ({_NUM: pl.Series([3, -1], dtype=pl.Int32), _DEN: [9, 9]}, f"rows[1]['{_NUM}']", "whole-number count"),
        ({_NUM: [3, 3], _DEN: pl.Series([9, 2**63 + 5], dtype=pl.UInt64)}, f"rows[1]['{_DEN}']", "whole-number count"),
        ({_NUM: [3, 3], _DEN: [10**12 + 1, 9]}, f"rows[0]['{_DEN}']", "whole-number count"),
        ({_VAL: [1.5, float("nan")]}, f"rows[1]['{_VAL}']", "finite number"),
        ({_VAL: [_INF, 1.5]}, f"rows[0]['{_VAL}']", "finite number"),
        ({_VAL: [1.5, 1e12 + 1]}, f"rows[1]['{_VAL}']", "finite number from"),
        ({_VAL: [-1e12 - 1, 1.5]}, f"rows[0]['{_VAL}']", "finite number from"),
        ({_FACT: [2.0, -_INF], _FACT + ".date": [dt.date(2024, 5, 1)] * 2}, f"rows[1]['{_FACT}']", "finite"),
        ({_NUM: [3, 10], _DEN: [9, 9]}, f"rows[1]['{_NUM}']", "numerator <="),
        ({_NUM: [3, 4], _DEN: [9, None]}, f"rows[1]['{_NUM}']", "both counts or neither"),
        ({_NUM: [None, 4], _DEN: [9, 9]}, f"rows[0]['{_DEN}']", "both counts or neither"),
    ],
)
def test_bad_typed_cells_are_found(columns: dict[str, list[Any]], path: str, message: str) -> None:
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(pl.DataFrame(_base(**columns)), BOOK)
    details = info.value.details
    assert [d.path for d in details] == [path], details
    assert message in details[0].message


def test_bad_cells_show_their_values_as_json() -> None:
    frame = pl.DataFrame(_base(**{_FACT + ".date": [dt.date(2024, 5, 1), None]}))  # a date without its value
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(frame, BOOK)
    [detail] = info.value.details
    assert (detail.path, detail.value) == (f"rows[0]['{_FACT}.date']", '"2024-05-01"')


def test_typed_cells_on_every_limit_are_valid() -> None:
    columns = {
        _NUM: [0, None, 10**12],
        _DEN: [0, None, 10**12],
        _VAL: [-1e12, None, 1e12],
        _FACT: [None, -1e12, 0.5],
        _FACT + ".date": [None, dt.date(2024, 5, 1), dt.date(2024, 5, 2)],
    }
    frame = pl.DataFrame({**{k: [v[0]] * 3 for k, v in _base().items()}, "org_id": ["R1", "R2", "R3"], **columns})
    table = tabular.normalise_frame(frame, BOOK)
    assert table.get_column(_DEN).to_list() == [0, None, 10**12]


# --------------------------------------------------------------------------- files and the CLI


def _example_rows(n_states: int) -> pl.DataFrame:
    frames = []
    for k in range(n_states):
        doc = EXAMPLE.to_dict()
        doc["as_of"] = (dt.date(2025, 4, 1) + dt.timedelta(days=40 * k)).isoformat()
        frames.append(tabular.states_to_frame({f"S{k}": state_from_dict(doc, BOOK)}, BOOK))
    return pl.concat(frames, how="diagonal_relaxed")


@pytest.mark.slow
def test_files_stream_in_chunks_of_whole_states(tmp_path: Path) -> None:
    frame = _example_rows(4)
    whole = tabular.evaluate_frame(frame, BOOK).frame
    src = tmp_path / "in.parquet"
    frame.write_parquet(src)
    out = tmp_path / "out.parquet"
    summary = tabular.evaluate_table(src, out, BOOK, chunk_rows=7)  # states are 10 rows: never split
    assert summary.rows == 40 and summary.states == 4 and summary.chunks == 4
    back = pl.read_parquet(out)
    assert back.columns == whole.columns
    assert back.cast({c: pl.String for c in back.columns if c != "as_of"}).equals(
        whole.cast({c: pl.String for c in whole.columns if c != "as_of"})
    )
    csv = tmp_path / "in.csv"
    frame.with_columns(pl.col(pl.List(pl.String)).list.join(";")).write_csv(csv)
    jsonl = tmp_path / "out.jsonl"
    tabular.evaluate_table(csv, jsonl, BOOK, chunk_rows=15)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 40
    first = whole.row(0, named=True)
    assert lines[0]["org_id"] == first["org_id"]
    assert {k: v for k, v in lines[0]["statuses"].items() if v} == {
        k: first[k] for k in first if k not in tabular.KEY_COLUMNS and first[k] is not None
    }


@pytest.mark.slow
def test_the_default_chunk_depends_on_the_input_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tabular.DEFAULT_CHUNK_ROWS, "parquet", 10**6)  # scaled: 4 states of 10 rows
    monkeypatch.setitem(tabular.DEFAULT_CHUNK_ROWS, "csv", 10)
    frame = _example_rows(4)
    parquet, csv = tmp_path / "in.parquet", tmp_path / "in.csv"
    frame.write_parquet(parquet)
    frame.with_columns(pl.col(pl.List(pl.String)).list.join(";")).write_csv(csv)

    def chunks(src: Path, **kw: int) -> int:
        return tabular.evaluate_table(src, tmp_path / "out.parquet", BOOK, **kw).chunks

    assert chunks(parquet) == 1
    assert chunks(csv) == 2  # one CSV block of 40 rows: cut at its last state, which is held back
    assert chunks(csv, chunk_rows=10**6) == 1


def test_a_bad_row_late_in_a_file_leaves_no_output(tmp_path: Path) -> None:
    frame = _example_rows(3).with_columns(
        pl.when(pl.int_range(pl.len()) == 25).then(pl.lit("hospital")).otherwise(pl.col("org_type")).alias("org_type")
    )
    src = tmp_path / "in.parquet"
    frame.write_parquet(src)
    out = tmp_path / "out.parquet"
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, out, BOOK, chunk_rows=10)
    assert info.value.details[0].path == "data row 26, column 'org_type'"  # Parquet has no lines: rows from 1
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_cli_evaluates_a_table(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    _example_rows(2).with_columns(pl.col(pl.List(pl.String)).list.join(";")).write_csv(src)
    out = tmp_path / "out.parquet"
    summary = io.StringIO()
    assert cli.run(["evaluate", str(src), "--batch", "-o", str(out)], stderr=summary) == 0
    assert pl.read_parquet(out).height == 20
    assert "20 rows (2 states)" in summary.getvalue()  # on the caller's stderr stream
    # A table always runs on the columnar evaluator, which may be named; another evaluator may not.
    again = tmp_path / "again.parquet"
    assert cli.run(["evaluate", str(src), "--batch", "--backend", "columnar", "-o", str(again)], stderr=summary) == 0
    assert pl.read_parquet(again).equals(pl.read_parquet(out))
    refused = io.StringIO()
    assert cli.run(["evaluate", str(src), "--batch", "--backend", "durable", "-o", str(again)], stderr=refused) == 3
    assert "use the columnar evaluator" in refused.getvalue()
    bad = tmp_path / "bad.csv"
    bad.write_text("state_id,org_id,org_type,as_of\ns,RX1,acute_trust,2025-13-01\n")
    err = io.StringIO()
    assert cli.run(["evaluate", str(bad), "--batch", "-o", str(tmp_path / "x.parquet")], stderr=err) == 3
    assert "line 2, column 'as_of'" in err.getvalue() and '"2025-13-01"' in err.getvalue()  # values as JSON
    assert not (tmp_path / "x.parquet").exists()


def test_an_empty_table_still_has_its_columns_checked(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("state_id,org_id,org_type,as_of\n")
    bad.write_text("state_id,org_id,org_type,as_of,colour\n")
    out = tmp_path / "out.parquet"
    assert tabular.evaluate_table(good, out, BOOK).rows == 0
    assert pl.read_parquet(out).columns == ["state_id", "org_id", "org_type", "as_of", *[r.id for r in BOOK.rules]]
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(bad, tmp_path / "x.parquet", BOOK)
    assert info.value.details[0].path == "columns['colour']"
    assert not (tmp_path / "x.parquet").exists()


def _csv_with_problems(tmp_path: Path) -> Path:
    """Three states in a CSV, with a problem in each (chunks of one state each)."""
    head = (
        "state_id,org_id,org_type,as_of,fact.pews_implemented,fact.pews_implemented.date,fact.pews_implemented.evidence"
    )
    lines = [
        head,  # line 1
        's1,RX1,acute_trust,2025-04-30,true,2024-05-01,"board paper,\npage 2"',  # lines 2-3 (a quoted line break)
        "s1,RX2,acute_trust,15/05/2025,true,2024-05-01,",  # line 4: a bad date, reported once
        "",  # line 5: blank, not a row
        "s2,RX1,hospital,2025-04-30,,,",  # line 6
        "s2,RX2,acute_trust,2025-04-30,yes,2024-05-01,",  # line 7
        "s3,RX1,acute_trust,2025-04-30,true,2024-05-01,",  # line 8
        "s3,RX1,acute_trust,2025-04-30,true,,",  # line 9: RX1 again, and a fact without its date
    ]
    src = tmp_path / "rows.csv"
    src.write_text("\n".join(lines) + "\n")
    return src


def test_a_csv_table_names_file_lines_and_lists_every_problem_in_one_run(tmp_path: Path) -> None:
    src = _csv_with_problems(tmp_path)
    out = tmp_path / "out.parquet"
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, out, BOOK, chunk_rows=1)
    got = [(d.path, d.message, d.value) for d in info.value.details]
    assert got == [  # in file order
        ("line 4, column 'as_of'", "expected a date as YYYY-MM-DD, e.g. 2025-03-31", '"15/05/2025"'),
        ("line 6, column 'org_type'", f"expected one of {', '.join(pe.ORGANISATION_TYPES)}", '"hospital"'),
        ("line 7, column 'fact.pews_implemented'", "fact.pews_implemented expects a boolean: true or false", '"yes"'),
        ("line 8, column 'org_id'", "an organisation appears twice in one state", '"RX1"'),
        (
            "line 9, column 'fact.pews_implemented'",
            "expected fact.pews_implemented.date too (a fact is declared on a date)",
            "true",
        ),
        ("line 9, column 'org_id'", "an organisation appears twice in one state", '"RX1"'),
    ], got
    assert str(info.value).startswith(f"{src}: the table is invalid (6 problems)")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_lines_are_counted_past_a_cell_longer_than_pythons_csv_limit(tmp_path: Path) -> None:
    src = tmp_path / "rows.csv"
    evidence = "x" * 200_000  # over csv.field_size_limit(); itself a problem (at most 2000 characters)
    src.write_text(
        "state_id,org_id,org_type,as_of,fact.pews_implemented,fact.pews_implemented.date,fact.pews_implemented.evidence\n"
        f's1,RX1,acute_trust,2025-04-30,true,2024-05-01,"{evidence}"\ns1,RX2,hospital,2025-04-30,,,\n'
    )
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, tmp_path / "out.parquet", BOOK)
    assert [d.path for d in info.value.details] == [
        "line 2, column 'fact.pews_implemented.evidence'",
        "line 3, column 'org_type'",
    ]


def test_a_parquet_table_names_data_rows_from_1_and_lists_every_chunk(tmp_path: Path) -> None:
    bad = {5: "hospital", 25: "clinic"}
    frame = _example_rows(3).with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit(bad[5]))
        .when(pl.int_range(pl.len()) == 25)
        .then(pl.lit(bad[25]))
        .otherwise(pl.col("org_type"))
        .alias("org_type")
    )
    src = tmp_path / "in.parquet"
    frame.write_parquet(src)
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, tmp_path / "out.parquet", BOOK, chunk_rows=10)
    assert [(d.path, d.value) for d in info.value.details] == [
        ("data row 6, column 'org_type'", '"hospital"'),
        ("data row 26, column 'org_type'", '"clinic"'),
    ]


def test_a_state_split_across_chunks_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    src = tmp_path / "rows.csv"
    src.write_text("state_id,org_id,org_type,as_of\na,R1,icb,2025-04-30\nb,R2,nope,2025-04-30\na,R3,icb,2025-04-30\n")
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, tmp_path / "out.parquet", BOOK, chunk_rows=1)
    assert [d.path for d in info.value.details] == ["line 3, column 'org_type'", "line 4, column 'state_id'"]
    assert "appeared earlier, apart" in info.value.details[1].message


def test_one_message_per_problem_and_the_rest_of_the_row_is_still_checked() -> None:
    frame = pl.DataFrame(
        {
            "state_id": ["s", "s", "s"],
            "org_id": ["RX1", "RX1", "R X"],
            "org_type": ["acute_trust"] * 3,
            "as_of": ["2025-04-30", "2025-04-31", "2025-04-30"],
            _NUM: ["5", "x", "1"],
            _DEN: ["9", "9", None],
        }
    )
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(frame, BOOK)
    got = [(d.path, d.message.split(" (")[0]) for d in info.value.details]
    assert got == [
        ("rows[1]['as_of']", "expected a date as YYYY-MM-DD, e.g. 2025-03-31"),  # not "missing", "not the same as_of"
        (f"rows[1]['{_NUM}']", "expected a whole-number count from 0 to 1000000000000"),  # not also "both counts"
        ("rows[2]['org_id']", "expected an id like RXX or QE1-2"),
        (f"rows[2]['{_NUM}']", f"expected {_DEN} too"),
    ], got
    assert info.value.summary == "the table is invalid (4 problems)"


def test_at_most_50_problems_are_listed_and_the_summary_says_so(tmp_path: Path) -> None:
    src = tmp_path / "rows.csv"
    src.write_text("state_id,org_id,org_type,as_of\n" + "".join(f"s{i},R{i},nope,2025-04-30\n" for i in range(80)))
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(src, tmp_path / "out.jsonl", BOOK, chunk_rows=7)
    assert len(info.value.details) == tabular.MAX_ERRORS
    assert info.value.details[-1].path == "line 51, column 'org_type'"
    assert "the first 50 problems (there may be more)" in info.value.summary


def test_an_unknown_column_suggests_the_closest_name() -> None:
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(pl.DataFrame(_base(**{"metric.ae_4h_al.2025-03.numerator": ["1", "2"]})), BOOK)
    [detail] = info.value.details
    assert detail.path == "columns['metric.ae_4h_al.2025-03.numerator']"
    assert detail.message.startswith("unknown metric 'ae_4h_al'; did you mean ae_4h_all?")


def test_cli_lists_the_problems_of_a_csv_table_by_line(tmp_path: Path) -> None:
    src = _csv_with_problems(tmp_path)
    err = io.StringIO()
    assert (
        cli.run(["evaluate", str(src), "--batch", "-o", str(tmp_path / "x.jsonl"), "--chunk-rows", "1"], stderr=err)
        == 3
    )
    text = err.getvalue()
    assert f"policy-engine: invalid input: {src}: the table is invalid (6 problems)" in text
    assert """  - line 4, column 'as_of': expected a date as YYYY-MM-DD, e.g. 2025-03-31 (got "15/05/2025")""" in text
    assert text.count("15/05/2025") == 1 and not (tmp_path / "x.jsonl").exists()


def test_a_rulebook_without_rank_rules_re_decides_its_doubtful_cells(tmp_path: Path) -> None:
    # The learning disability and autism file alone: no rank() rule, so no ranking columns. Its
    # comparisons are all decided exactly in the columnar backend (pct and rate against a
    # parameter, one month's value against another's), so one condition is rewritten with
    # arithmetic, whose float result carries an error bound: a tie is then in doubt.
    book = _partial_book(
        tmp_path,
        "learning-disability-autism.yaml",
        "condition: total(lda_autistic_inpatients, mar_2025) < total(lda_autistic_inpatients, mar_2024)",
        "condition: total(lda_autistic_inpatients, mar_2025) * 3 < total(lda_autistic_inpatients, mar_2024) * 3",
    )
    assert not any(r.uses_rank for r in book.rules)
    rule = book.rule("lda.autistic-inpatients-lower")
    frame = pl.DataFrame(
        {
            "state_id": ["s"],
            "org_id": ["Q1"],
            "org_type": [rule.applies_to[0]],
            "as_of": ["2025-04-30"],
            "metric.lda_autistic_inpatients.2025-03.value": [0.1],  # 0.1 * 3 against 0.1 * 3: in doubt
            "metric.lda_autistic_inpatients.2024-03.value": [0.1],
        }
    )
    result = tabular.evaluate_frame(frame, book)
    assert result.exact_cells >= 1
    [(_, state)] = tabular.frame_to_states(frame, book)
    want = {o.rule_id: o.status for o in pe.evaluate(state, book, backend="native").outcomes}
    row = result.frame.row(0, named=True)
    assert {k: row[k] for k in want} == want
    assert want[rule.id] == "not_met"

"""Hostile numbers, texts and months (issue 20): in states, importer cells, batch lines and rules.

A number beyond the limits (``language/numbers.py``: 20 digits before the point, 30 after), a
lone surrogate or a month of year 0000 is refused where it is read, by a PolicyError naming its
place, before any arithmetic on it: ``validate`` and ``evaluate`` agree, a batch line gets its
error record, and nothing takes long (``docs/decisions/018-numbers-texts-months.md``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.cli import EXIT_INVALID, run
from policy_engine.importers import import_files
from policy_engine.importers.table import parse_number
from policy_engine.io.canonical import canonical_json
from policy_engine.language.numbers import MAX_DECIMAL_PLACES, MAX_INTEGER_DIGITS, bounded_decimal
from policy_engine.rulebook.overlay import apply_overlay, load_overlay

BOOK = pe.load_rulebook()
T = TypeVar("T")

HANG = 10.0
"""Seconds a single call may take before the test calls it a hang (each takes well under one)."""


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result (or its exception), failing the test if it runs longer than ``seconds``.

    A hang detector only: the call runs in a daemon thread, abandoned if it overruns."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append((True, call()))
        except BaseException as exc:  # handed back to the caller below
            box.append((False, exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, f"the call took more than {seconds} s: a hang"
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- the state template

PLACES = ("value", "numerator", "fact", "name", "description", "evidence", "note", "period", "fact_date")


def state_text(**raw: str) -> str:
    """A small state as JSON text, with raw JSON text (a number literal, a string) at each place."""
    at = {
        "value": "4",
        "numerator": "780",
        "fact": "103",
        "name": '"Example Trust"',
        "description": '"made up"',
        "evidence": '"board paper"',
        "note": '"as published"',
        "period": '"2025-03"',
        "fact_date": '"2024-06-01"',
        **raw,
    }
    text = (
        '{"as_of": "2025-04-20", "description": @description, "organisations": ['
        '{"id": "QXX", "type": "icb", "facts": [{"name": "elec_vwa_system_target_pct", "value": @fact,'
        ' "date": @fact_date, "evidence": @evidence}]},'
        '{"id": "RA1", "type": "acute_trust", "parent": "QXX", "name": @name, "services": ["type1_ae"],'
        ' "metrics": {"ae_4h_all": [{"period": @period, "numerator": @numerator, "denominator": 1000,'
        ' "note": @note}], "elec_rtt_over_65wk_excl_exempt": [{"period": "2025-03", "value": @value}]}}]}'
    )
    parts = text.split("@")
    out = [parts[0]]
    for part in parts[1:]:  # each part starts with a place's name (the longest that matches)
        name = max((p for p in PLACES if part.startswith(p)), key=len)
        out += [at[name], part[len(name) :]]
    return "".join(out)


def only_detail(err: pe.PolicyError) -> pe.ErrorDetail:
    assert len(err.details) == 1, err.details
    return err.details[0]


# --------------------------------------------------------------------------- numbers in a state


@pytest.mark.parametrize(
    ("place", "literal", "path"),
    [
        ("value", "1e999999999", "organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value"),
        ("value", "1e-999999999", "organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value"),
        ("value", "1e99999999999999999999", "organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value"),
        ("value", "0." + "0" * 30 + "1", "organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value"),
        ("numerator", "9" * 5000, "organisations[1].metrics.ae_4h_all[0].numerator"),
        ("fact", "1e100000", "organisations[0].facts[0].value"),  # a fact's number has no schema bound
        ("fact", "1e-999999999", "organisations[0].facts[0].value"),
    ],
)
def test_a_number_beyond_the_limits_is_refused_at_its_path(place: str, literal: str, path: str) -> None:
    text = state_text(**{place: literal})
    with pytest.raises(pe.StateError) as err:
        within(HANG, lambda: pe.state_from_json(text))
    detail = only_detail(err.value)
    assert detail.code == pe.ErrorCode.STATE_VALUE
    assert detail.path == f"state.{path}"
    assert detail.org == ("QXX" if "organisations[0]" in path else "RA1")
    assert "at most 20 digits before the decimal point and 30 after it" in detail.message
    assert detail.value is not None and len(detail.value) <= 80 and detail.value[:5] == literal[:5]


def test_a_number_beyond_the_limits_from_python_is_refused_too() -> None:
    doc = json.loads(state_text())
    doc["organisations"][0]["facts"][0]["value"] = Decimal("1e-999999999")
    doc["organisations"][1]["metrics"]["ae_4h_all"][0]["numerator"] = 10**5000  # 5001 digits: no str()
    doc["organisations"][1]["metrics"]["elec_rtt_over_65wk_excl_exempt"][0]["value"] = 5e-324
    problems = within(HANG, lambda: pe.validate_state(doc, BOOK))
    assert {p.path: (p.code, p.value) for p in problems} == {
        "state.organisations[0].facts[0].value": (pe.ErrorCode.STATE_VALUE, "1E-999999999"),
        "state.organisations[1].metrics.ae_4h_all[0].numerator": (
            pe.ErrorCode.STATE_VALUE,
            "an integer of about 5000 digits",
        ),
        "state.organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value": (pe.ErrorCode.STATE_VALUE, "5e-324"),
    }


def test_numbers_at_the_limits_are_accepted_and_exact() -> None:
    places = "0." + "0" * 29 + "1"  # 30 places
    fact = "9" * MAX_INTEGER_DIGITS  # a fact's number is bounded only by the digit limit
    text = state_text(value=places, fact=fact, numerator="1" + "0" * 3 + ".000" + "0" * 5000)
    assert pe.validate_state(json.loads(text, parse_float=Decimal), BOOK) != []  # 1000.000... is no count
    state = pe.state_from_json(state_text(value=places, fact=fact))
    facts = state.organisations[0].facts
    assert facts[0].value == int(fact)
    assert state.organisations[1].metrics["elec_rtt_over_65wk_excl_exempt"][2025 * 12 + 2].value == Decimal(places)
    assert json.loads(state.canonical, parse_float=Decimal)["organisations"][1]["metrics"][
        "elec_rtt_over_65wk_excl_exempt"
    ][0]["value"] == Decimal(places)


def test_a_long_zero_padded_number_is_the_number_it_pads() -> None:
    state = pe.state_from_json(state_text(value="4." + "0" * 100_000))
    assert state.organisations[1].metrics["elec_rtt_over_65wk_excl_exempt"][2025 * 12 + 2].value == 4
    assert '"value":4}' in state.canonical


def test_canonical_json_keeps_every_digit_of_a_long_decimal() -> None:
    # the default decimal context has 28 digits: normalize() there rounded this number
    long = "123456789012.123456789012345678901234567891"
    assert canonical_json(Decimal(long)) == long
    assert canonical_json(Decimal("1E+5000")) == "1" + "0" * 5000  # not int(): Python's 4300-digit limit
    assert canonical_json([Decimal("-0.0"), Decimal("2.50"), Decimal("1E+2")]) == "[0,2.5,100]"


@given(st.decimals(allow_nan=False, allow_infinity=False))
@settings(deadline=None)
def test_bounded_decimal_is_the_same_number_or_none(d: Decimal) -> None:
    got = within(HANG, lambda: bounded_decimal(d))
    if d.is_zero():
        expected = True
    elif abs(d.adjusted()) > 1000:  # far beyond either limit (and too long to write out here)
        expected = False
    else:
        whole, _, fraction = format(d.copy_abs(), "f").partition(".")  # abs() would round to 28 digits
        expected = len(whole.lstrip("0")) <= MAX_INTEGER_DIGITS and len(fraction.rstrip("0")) <= MAX_DECIMAL_PLACES
    assert (got is not None) == expected, d
    if got is not None:
        assert got == d and str(bounded_decimal(str(d))) == str(got)


# --------------------------------------------------------------------------- texts and months


@pytest.mark.parametrize(
    ("place", "literal", "path"),
    [
        ("name", '"\\udfff"', "organisations[1].name"),
        ("description", '"ab\\ud800cd"', "description"),
        ("evidence", '"x\\udbff"', "organisations[0].facts[0].evidence"),
        ("note", '"\\ude00 alone"', "organisations[1].metrics.ae_4h_all[0].note"),
    ],
)
def test_a_lone_surrogate_is_refused_at_its_path(place: str, literal: str, path: str) -> None:
    with pytest.raises(pe.StateError) as info:
        pe.state_from_json(state_text(**{place: literal}))
    detail = only_detail(info.value)
    assert (detail.code, detail.path) == (pe.ErrorCode.STATE_VALUE, f"state.{path}")
    assert "lone surrogate" in detail.message
    str(info.value).encode("utf-8")  # the message can be printed: the surrogate is shown escaped
    assert detail.value is not None and "\\ud" in detail.value


def test_a_lone_surrogate_in_a_key_is_refused() -> None:
    doc = json.loads(state_text())
    doc["organisations"][1]["metrics"]["x\udfff"] = []
    problems = pe.validate_state(doc)
    # located at the object holding the key (a path through the key could not be printed)
    assert [(p.code, p.location, p.value) for p in problems] == [
        (pe.ErrorCode.STATE_VALUE, ("organisations", 1, "metrics"), '"x\\udfff"')
    ]
    str(problems[0]).encode("utf-8")


def test_a_surrogate_pair_is_a_character() -> None:
    state = pe.state_from_json(state_text(name='"\\ud83d\\ude00 Trust"'))
    assert state.organisations[1].name == "\U0001f600 Trust"


def test_a_month_of_year_0000_is_refused_by_validate_and_evaluate(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(state_text(period='"0000-01"'))
    for argv in (["validate", str(path)], ["evaluate", str(path), "--backend", "native"]):
        out, err = io.StringIO(), io.StringIO()
        assert run(argv, stdout=out, stderr=err) == EXIT_INVALID
        assert "internal error" not in err.getvalue()
        assert "state.organisations[1] (RA1).metrics.ae_4h_all[0].period" in err.getvalue()
        assert "expected a month from 0001-01 to 9999-12" in err.getvalue()


def test_the_last_month_datetime_holds_is_evaluated() -> None:
    text = state_text(period='"9999-12"', fact_date='"9999-12-31"').replace("2025-04-20", "9999-12-31")
    evaluation = pe.evaluate(pe.state_from_json(text), BOOK, backend="native")
    assert evaluation.outcomes


def test_a_table_column_of_year_0000_is_refused_as_in_a_state() -> None:
    pl = pytest.importorskip("polars")
    from policy_engine import tabular

    stem = "metric.ae_4h_all.0000-01"
    frame = pl.DataFrame(
        {"state_id": ["s"], "org_id": ["RA1"], "org_type": ["acute_trust"], "as_of": [dt.date(2025, 4, 20)]}
        | {f"{stem}.numerator": [5], f"{stem}.denominator": [10]}
    )
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_frame(frame, BOOK)
    assert [(d.code, d.message) for d in info.value.details] == [
        (pe.ErrorCode.TABLE_COLUMN, "expected a month from 0001-01 to 9999-12 (a month whose days are dates)")
    ] * 2


# --------------------------------------------------------------------------- batch lines


def test_a_batch_line_with_a_lone_surrogate_or_year_0000_gets_its_error_record(tmp_path: Path) -> None:
    src = tmp_path / "states.jsonl"
    lines = [
        state_text(),
        state_text(name='"\\udfff"'),
        state_text(period='"0000-01"'),
        state_text(value="1e-999999999"),
    ]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    out, err = io.StringIO(), io.StringIO()
    argv = ["evaluate", str(src), "--batch", "--backend", "native", "-o", str(target)]
    assert within(4 * HANG, lambda: run(argv, stdout=out, stderr=err)) == EXIT_INVALID  # not 4: not aborted
    assert "internal error" not in err.getvalue()
    assert "3 line(s) of the batch were not valid states" in err.getvalue()
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], "error" in r) for r in records] == [(1, False), (2, True), (3, True), (4, True)]
    paths = [r["details"][0]["path"] for r in records[1:]]
    assert paths == [
        "state.organisations[1].name",
        "state.organisations[1].metrics.ae_4h_all[0].period",
        "state.organisations[1].metrics.elec_rtt_over_65wk_excl_exempt[0].value",
    ]
    assert records[1]["details"][0]["value"] == '"\\udfff"'


# --------------------------------------------------------------------------- importer cells


@pytest.mark.parametrize(
    "cell", ["1e-30000000", "1e30000000", "1e99999999999999999999", "9" * 5000, "1." + "1" * 100_000, "1,234" * 2000]
)
def test_a_hostile_count_cell_is_not_a_number_at_once(cell: str) -> None:
    start = time.perf_counter()
    number = within(HANG, lambda: parse_number(cell))
    assert time.perf_counter() - start < 1.0
    assert number.status == "invalid" and number.value is None
    assert len(number.text) <= 70  # an issue shows the cell cut, not a megabyte of it


@pytest.mark.parametrize(("cell", "value"), [("1.5E+03", 1500), ("0e-999999999", 0), ("1e12", 10**12), ("12.50", 12.5)])
def test_count_cells_within_the_limits_still_parse(cell: str, value: float) -> None:
    number = parse_number(cell)
    assert number.status == "ok" and number.value == value


def test_an_ae_file_with_a_hostile_cell_imports_fast(tmp_path: Path) -> None:
    header = (
        "Period,Org Code,Parent Org,Org name,A&E attendances Type 1,A&E attendances Type 2,"
        "A&E attendances Other A&E Department,A&E attendances Booked Appointments Type 1,"
        "A&E attendances Booked Appointments Type 2,A&E attendances Booked Appointments Other Department,"
        "Attendances over 4hrs Type 1,Attendances over 4hrs Type 2,Attendances over 4hrs Other Department,"
        "Attendances over 4hrs Booked Appointments Type 1,Attendances over 4hrs Booked Appointments Type 2,"
        "Attendances over 4hrs Booked Appointments Other Department,"
        "Patients who have waited 4-12 hs from DTA to admission,"
        "Patients who have waited 12+ hrs from DTA to admission,Emergency admissions via A&E - Type 1,"
        "Emergency admissions via A&E - Type 2,Emergency admissions via A&E - Other A&E department,"
        "Other emergency admissions"
    )
    row = "MSitAE-MARCH-2025,RZZ,R,X,1e-30000000,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0"
    path = tmp_path / "ae.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    start = time.perf_counter()
    _, summary = within(HANG, lambda: import_files("ae", [path]))
    assert time.perf_counter() - start < 5.0  # 37 s before the cell was bounded
    assert summary.count("missing", "not a number (or negative, or above 10^12)") >= 1
    assert "'1e-30000000'" in str(summary.issues)


# --------------------------------------------------------------------------- rules and overlays


def _copy_rulebook(tmp_path: Path) -> Path:
    import shutil

    from policy_engine._resources import policies_root

    folder = tmp_path / "book"
    shutil.copytree(str(policies_root() / "nhs-2024-25"), folder)
    return folder


def test_a_400_digit_literal_in_a_rule_is_refused_at_load(tmp_path: Path) -> None:
    folder = _copy_rulebook(tmp_path)
    cancer = folder / "cancer.yaml"
    condition = "pct(cancer_fds_28day, mar_2025) >= param.threshold"
    text = cancer.read_text(encoding="utf-8")
    cancer.write_text(text.replace(condition, f"{condition} - {'1' * 400} + {'1' * 400}", 1), encoding="utf-8")
    with pytest.raises(pe.ExpressionError) as info:
        pe.load_rulebook(folder)
    detail = only_detail(info.value)
    assert (detail.code, detail.subject, detail.label) == (
        pe.ErrorCode.EXPRESSION_PARSE,
        "cancer.yaml",
        "canc.fds-77-mar-2025",
    )
    assert "at most 20 digits before the decimal point" in detail.message


def test_a_rule_parameter_beyond_the_limits_is_refused_at_load(tmp_path: Path) -> None:
    folder = _copy_rulebook(tmp_path)
    cancer = folder / "cancer.yaml"
    text = cancer.read_text(encoding="utf-8")
    cancer.write_text(text.replace("threshold: {value: 77,", f"threshold: {{value: {'7' * 400},", 1), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(folder)
    detail = only_detail(info.value)
    assert (detail.code, detail.subject, detail.label) == (
        pe.ErrorCode.RULEBOOK_SCHEMA,
        "cancer.yaml",
        "canc.fds-77-mar-2025",
    )
    assert detail.location[-3:] == ("parameters", "threshold", "value")
    assert detail.value == "an integer of about 400 digits"


def test_a_rulebook_period_of_year_0000_is_refused_at_load(tmp_path: Path) -> None:
    folder = _copy_rulebook(tmp_path)
    manifest = folder / "rulebook.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("fy2022_23: {start: 2022-04,", "fy2022_23: {start: 0000-04,", 1), encoding="utf-8")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(folder)
    detail = only_detail(info.value)
    assert (detail.code, detail.subject, detail.location) == (
        pe.ErrorCode.RULEBOOK_INCONSISTENT,
        "rulebook.yaml",
        ("periods", "fy2022_23"),
    )
    assert "expected a month from 0001-01 to 9999-12" in detail.message


def test_a_4000_digit_overlay_value_is_refused(tmp_path: Path) -> None:
    overlay = tmp_path / "ov.yaml"
    overlay.write_text(
        "overlay: {id: x, title: t, rulebook: nhs-2024-25}\nparameters:\n  uec.ae-4h-78:\n"
        f"    threshold: {{value: {'9' * 4000}, unit: percent, reason: why not}}\n",
        encoding="utf-8",
    )
    with pytest.raises(pe.RulebookError) as info:
        load_overlay(overlay)
    detail = only_detail(info.value)
    assert (detail.code, detail.subject) == (pe.ErrorCode.OVERLAY_SCHEMA, "ov.yaml")
    assert detail.location == ("parameters", "uec.ae-4h-78", "threshold", "value")


@pytest.mark.slow
def test_literals_at_the_limits_give_every_evaluator_the_same_statuses(tmp_path: Path) -> None:
    folder = _copy_rulebook(tmp_path)
    cancer = folder / "cancer.yaml"
    condition = "pct(cancer_fds_28day, mar_2025) >= param.threshold"
    big, small = "9" * MAX_INTEGER_DIGITS, "0." + "0" * (MAX_DECIMAL_PLACES - 1) + "1"
    text = cancer.read_text(encoding="utf-8").replace(condition, f"{condition} - {big} + {big} + {small}", 1)
    cancer.write_text(text, encoding="utf-8")
    book = pe.load_rulebook(folder)
    overlay = tmp_path / "ov.yaml"
    overlay.write_text(
        "overlay: {id: x, title: t, rulebook: nhs-2024-25}\nparameters:\n  uec.ae-4h-78:\n"
        f"    threshold: {{value: {big}, unit: percent, reason: why not}}\n",
        encoding="utf-8",
    )
    book = apply_overlay(book, load_overlay(overlay))
    state = pe.load_state(Path(__file__).parents[1] / "examples" / "state.json")
    native = pe.statuses(state, book, backend="native")
    assert pe.statuses(state, book, backend="compiled") == native
    assert pe.statuses(state, book, backend="columnar") == native


# --------------------------------------------------------------------------- the property

_NUMBERS = st.one_of(
    st.sampled_from(
        [
            "1e999999999",
            "1e-999999999",
            "-1e400",
            "1e99999999999999999999",
            "1e12",
            "1E+12",
            "1000000000001",
            "-0.0",
            "0e-999999999",
            "1e-30",
            "1e-31",
            "123456789012.123456789012345678901234567891",
        ]
    ),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.integers(0, 200).map(lambda n: "0." + "0" * n + "1"),
    st.integers(0, 200).map(lambda n: "1" + "0" * n),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: str(d)),
)
_TEXTS = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=20),  # surrogates and control characters
    st.sampled_from(["\udfff", "\ud800x", "\x00", "\x1b[2J", "\u202e", "\x7f", "\u0085"]),
).map(lambda s: json.dumps(s))
_MONTHS = st.sampled_from(["0000-01", "0001-01", "9999-12", "0000-12", "2025-13", "2025-03"]).map(json.dumps)
_DATES = st.sampled_from(["0000-01-01", "0001-01-01", "9999-12-31", "2024-02-30", "2024-06-01"]).map(json.dumps)
_PLACED = st.fixed_dictionaries(
    {},
    optional={
        "value": _NUMBERS,
        "numerator": _NUMBERS,
        "fact": _NUMBERS,
        "name": _TEXTS,
        "description": _TEXTS,
        "evidence": _TEXTS,
        "note": _TEXTS,
        "period": _MONTHS,
        "fact_date": _DATES,
    },
)


@given(_PLACED)
@settings(deadline=None)
def test_hostile_states_only_raise_policy_errors_and_validate_agrees_with_evaluate(placed: dict[str, str]) -> None:
    text = state_text(**placed)

    def outcome(call: Callable[[], object]) -> str:
        try:
            within(HANG, call)
        except pe.StateError:
            return "refused"
        return "accepted"  # any other exception fails the test

    def validate() -> None:  # as the CLI's validate does
        problems = pe.validate_state(pe.state_from_json(text).to_dict(), BOOK)
        if problems:
            raise pe.StateError("does not fit", problems)

    validated = outcome(validate)
    assert outcome(lambda: pe.evaluate(pe.state_from_json(text), BOOK, backend="native")) == validated, text
    doc = _python_json(text)
    if doc is not None:  # the same document from Python, numbers as Decimals
        assert outcome(lambda: pe.evaluate(doc, BOOK, backend="native")) == validated, text
    if validated == "accepted":
        state = pe.state_from_json(text)
        assert outcome(lambda: pe.statuses(state, BOOK, backend="compiled")) == "accepted"
        state.canonical.encode("utf-8")


def _python_json(text: str) -> Any:
    """``text`` read by Python's own json (numbers as Decimals), or None where it cannot (an
    integer of more than 4300 digits, an exponent beyond decimal's)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, ArithmeticError):  # decimal's InvalidOperation for 1e99999999999999999999
        return None

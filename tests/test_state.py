"""State loading and validation: every error is a StateError whose details name the JSON path and
show the offending value; the frozen State is immutable and exact; as_of hides what was not yet known.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy_engine as pe
import policy_engine.data.state as state_module
from policy_engine.data.state import view_at
from policy_engine.errors import ErrorDetail
from policy_engine.language.months import parse_month
from policy_engine.language.rules import FactDef
from policy_engine.testing import strategies

AS_OF = "2025-04-20"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def book() -> pe.Rulebook:
    return pe.load_rulebook()


def org(org_id: str = "RAA", org_type: str = "acute_trust", **fields: Any) -> dict[str, Any]:
    return {"id": org_id, "type": org_type, **fields}


def doc(*orgs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"as_of": AS_OF, "organisations": list(orgs), **fields}


def raises_state_error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> pe.StateError:
    """Call ``fn`` and return the StateError it raises (anything else fails the test)."""
    with pytest.raises(pe.StateError) as info:
        fn(*args, **kwargs)
    err = info.value
    assert isinstance(err, pe.PolicyError)
    assert err.details, "a StateError must carry at least one detail"
    return err


def only_detail(err: pe.PolicyError) -> ErrorDetail:
    assert len(err.details) == 1, [str(d) for d in err.details]
    return err.details[0]


def assert_detail(err: pe.PolicyError, path: str, message: str, value: str | None = None) -> ErrorDetail:
    """Exactly one detail, at ``path``, whose message contains ``message`` and whose value is ``value``."""
    d = only_detail(err)
    assert d.path == path, str(d)
    assert message in d.message, str(d)
    if value is not None:
        assert d.value == value, str(d)
    shown = path
    if d.org is not None:  # a problem inside an organisation also names it by id, after its index
        shown = re.sub(r"^(state\.organisations\[\d+\])", lambda m: f"{m.group(1)} ({d.org})", path)
    assert str(d).startswith(f"{shown}: "), str(d)
    return d


# --------------------------------------------------------------------------- JSON text


def test_invalid_json_reports_line_and_column() -> None:
    text = '{\n  "organisations": [\n    {"id": "RAA",}\n  ]\n}'
    err = raises_state_error(pe.state_from_json, text)
    assert "not valid JSON" in err.summary
    d = only_detail(err)
    # Python 3.13 reports the trailing comma itself (column 17); 3.11/3.12 the missing name after it.
    assert (d.path, d.message) in (
        ("line 3 column 18", "Expecting property name enclosed in double quotes"),
        ("line 3 column 17", "Illegal trailing comma before end of object"),
    ), str(d)


def test_truncated_json_reports_line_and_column() -> None:
    err = raises_state_error(pe.state_from_json, '{"organisations": [')
    assert_detail(err, "line 1 column 20", "Expecting value")


def test_invalid_json_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"organisations": [}', encoding="utf-8")
    err = raises_state_error(pe.load_state, path)
    assert str(path) in err.summary
    assert_detail(err, "line 1 column 20", "Expecting value")


def test_missing_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    err = raises_state_error(pe.load_state, path)
    assert_detail(err, str(path), "No such file")


@pytest.mark.parametrize(
    ("data", "byte"),
    [
        (b'{"organisations": [], "description": "caf\xe9"}', 41),
        (b"\xff\xfe{}", 0),
    ],
)
def test_non_utf8_bytes(data: bytes, byte: int) -> None:
    err = raises_state_error(pe.state_from_json, data)
    assert "not UTF-8" in err.summary
    d = assert_detail(err, "$", f"invalid UTF-8 at byte {byte}")
    assert d.value is not None and repr(data[byte : byte + 1])[2:-1] in d.value


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"organisations": [], "description": "Sant\u00e9"}'.encode("latin-1"))
    err = raises_state_error(pe.load_state, path)
    assert "not UTF-8" in err.summary
    assert_detail(err, "$", "invalid UTF-8 at byte 42", "b'\\xe9\"}'")


def test_utf8_bom_is_accepted() -> None:
    state = pe.state_from_json(b'\xef\xbb\xbf{"organisations": []}')
    assert state.organisations == ()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_text_are_refused(constant: str) -> None:
    text = '{"organisations": [{"id": "A", "type": "icb", "metrics": {"m": [{"period": "2025-01", "value": %s}]}}]}'
    err = raises_state_error(pe.state_from_json, text % constant)
    d = only_detail(err)
    assert constant.lstrip("-") in str(d)
    assert d.message == "expected a finite number"
    assert d.path == "state.organisations[0].metrics.m[0].value"


def test_nan_in_json_text_names_its_json_path() -> None:
    text = '{"organisations": [{"id": "A", "type": "icb", "metrics": {"m": [{"period": "2025-01", "value": NaN}]}}]}'
    err = raises_state_error(pe.state_from_json, text)
    assert only_detail(err).path == "state.organisations[0].metrics.m[0].value"


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (Decimal("NaN"), "NaN"),
        (Decimal("-Infinity"), "-Infinity"),
    ],
)
def test_nan_and_infinity_from_python_are_refused(number: Any, shown: str) -> None:
    state = doc(org(metrics={"g_and_a_beds": [{"period": "2025-03", "value": number}]}))
    err = raises_state_error(pe.state_from_dict, state)
    assert_detail(err, "state.organisations[0].metrics.g_and_a_beds[0].value", "expected a finite number", shown)


def test_nan_fact_value_from_python_is_refused() -> None:
    state = doc(org(facts=[{"name": "sdec_hours_per_day", "value": math.nan, "date": "2024-04-01"}]))
    err = raises_state_error(pe.state_from_dict, state)
    assert_detail(err, "state.organisations[0].facts[0].value", "expected a finite number", "nan")


def test_duplicate_keys_in_one_object_are_refused() -> None:
    text = (
        '{"organisations": [{"id": "RAA", "type": "acute_trust", "metrics": '
        '{"ae_4h_all": [{"period": "2025-03", "numerator": 780, "numerator": 790, "denominator": 1000}]}}]}'
    )
    err = raises_state_error(pe.state_from_json, text)
    # A decision: the parser cannot tell where the object is, but it names the key.
    assert_detail(err, "$", "duplicate key 'numerator' in one object")


def test_duplicate_top_level_key_is_refused() -> None:
    err = raises_state_error(pe.state_from_json, '{"organisations": [], "organisations": []}')
    assert_detail(err, "$", "duplicate key 'organisations'")


def test_integer_too_long_for_python_is_a_state_error() -> None:
    # read as a marker, not by int() (Python refuses 4300 digits): the error names its JSON path
    err = raises_state_error(pe.state_from_json, '{"organisations": [], "x": ' + "9" * 5000 + "}")
    detail = only_detail(err)
    assert (detail.path, detail.code) == ("state.x", pe.ErrorCode.STATE_VALUE)
    assert detail.value is not None and "(5000 characters)" in detail.value


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("document", "path", "message", "value"),
    [
        ({"organisations": "RAA"}, "state.organisations", "expected array", '"RAA"'),
        (doc(org(org_id=5)), "state.organisations[0].id", "expected string", "5"),  # type: ignore[arg-type]
        (doc(org(services="type1_ae")), "state.organisations[0].services", "expected array", '"type1_ae"'),
        ({"as_of": 20250420, "organisations": []}, "state.as_of", "expected string", "20250420"),
        (
            doc(org(facts=[{"name": "sdec_hours_per_day", "value": [12], "date": "2024-04-01"}])),
            "state.organisations[0].facts[0].value",
            "expected ['boolean', 'number', 'string']",
            "[12]",
        ),
        (
            doc(org(metrics={"ae_4h_all": {"period": "2025-03"}})),
            "state.organisations[0].metrics.ae_4h_all",
            "expected array",
            '{"period": "2025-03"}',
        ),
        (
            doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": True, "denominator": 5}]})),
            "state.organisations[0].metrics.ae_4h_all[0].numerator",
            "expected integer",
            "true",
        ),
    ],
    ids=["organisations-string", "id-number", "services-string", "as_of-number", "fact-list", "series-object", "bool"],
)
def test_wrong_types(document: Any, path: str, message: str, value: str) -> None:
    err = raises_state_error(pe.state_from_dict, document)
    assert_detail(err, path, message, value)


def test_python_datetime_is_not_a_date() -> None:
    err = raises_state_error(pe.state_from_dict, {"as_of": dt.datetime(2025, 4, 20, 9, 0), "organisations": []})
    assert_detail(err, "state.as_of", "expected a JSON value", "datetime")


def test_python_date_is_accepted_as_a_date() -> None:
    state = pe.state_from_dict({"as_of": dt.date(2025, 4, 20), "organisations": []})
    assert state.as_of == dt.date(2025, 4, 20)


@pytest.mark.parametrize(
    ("document", "path", "field"),
    [
        ({}, "state", "organisations"),
        (doc({"type": "icb"}), "state.organisations[0]", "id"),
        (doc({"id": "QAA"}), "state.organisations[0]", "type"),
        (doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12}])), "state.organisations[0].facts[0]", "date"),
        (
            doc(org(metrics={"ae_4h_all": [{"numerator": 1, "denominator": 2}]})),
            "state.organisations[0].metrics.ae_4h_all[0]",
            "period",
        ),
    ],
    ids=["organisations", "id", "type", "fact-date", "period"],
)
def test_missing_required_field(document: Any, path: str, field: str) -> None:
    err = raises_state_error(pe.state_from_dict, document)
    d = assert_detail(err, path, f"'{field}' is required")
    assert d.value is not None and d.value.startswith("{")


@pytest.mark.parametrize(
    ("document", "path", "field"),
    [
        (doc(colour="red"), "state", "colour"),
        (doc(org(colour="red")), "state.organisations[0]", "colour"),
        (
            doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 1, "denominator": 2, "source": "x"}]})),
            "state.organisations[0].metrics.ae_4h_all[0]",
            "source",
        ),
        (
            doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12, "date": "2024-04-01", "source": "x"}])),
            "state.organisations[0].facts[0]",
            "source",
        ),
    ],
    ids=["top", "organisation", "observation", "fact"],
)
def test_unknown_fields_are_rejected(document: Any, path: str, field: str) -> None:
    # A decision: an unknown field is an error (a misspelt "parnet" must not be silently ignored).
    err = raises_state_error(pe.state_from_dict, document)
    d = assert_detail(err, path, "unknown field")
    assert f"'{field}'" in d.message
    assert d.value is not None and f'"{field}"' in d.value


def test_unknown_organisation_type() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org(org_type="hospital")))
    d = assert_detail(err, "state.organisations[0].type", "expected one of acute_trust", '"hospital"')
    for t in pe.ORGANISATION_TYPES:
        assert t in d.message


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "25-03", "2025-3", "2025-03-01"])
def test_invalid_month(month: str) -> None:
    state = doc(org(metrics={"ae_4h_all": [{"period": month, "numerator": 1, "denominator": 2}]}))
    err = raises_state_error(pe.state_from_dict, state)
    where = "state.organisations[0].metrics.ae_4h_all[0].period"
    d = assert_detail(err, where, "expected a month as YYYY-MM", f'"{month}"')
    assert str(d).endswith(f': expected a month as YYYY-MM, e.g. 2025-03 (got "{month}")')


@pytest.mark.parametrize("date", ["2025-02-30", "2023-02-29", "2025-04-31", "2025-13-01"])
def test_impossible_fact_date(date: str) -> None:
    state = doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12, "date": date}]))
    err = raises_state_error(pe.state_from_dict, state)
    assert_detail(err, "state.organisations[0].facts[0].date", "expected a valid date", f'"{date}"')


def test_leap_day_is_a_valid_fact_date() -> None:
    state = pe.state_from_dict(doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12, "date": "2024-02-29"}])))
    assert state.organisations[0].facts[0].date == dt.date(2024, 2, 29)


def test_impossible_as_of() -> None:
    err = raises_state_error(pe.state_from_dict, {"as_of": "2025-02-30", "organisations": []})
    assert_detail(err, "state.as_of", "expected a valid date", '"2025-02-30"')


def test_impossible_as_of_given_to_evaluate(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.evaluate, doc(), book, as_of="2025-02-30")
    assert_detail(err, "as_of", "day is out of range for month", '"2025-02-30"')


@pytest.mark.parametrize("field", ["numerator", "denominator"])
def test_negative_counts(field: str) -> None:
    obs = {"period": "2025-03", "numerator": 5, "denominator": 10, field: -1}
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": [obs]})))
    assert_detail(err, f"state.organisations[0].metrics.ae_4h_all[0].{field}", "expected a value >= 0", "-1")


@pytest.mark.parametrize("count", [1.5, 1.0, Decimal("2.5")])
def test_counts_as_floats_from_python(count: Any) -> None:
    obs = {"period": "2025-03", "numerator": count, "denominator": 10}
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": [obs]})))
    d = assert_detail(err, "state.organisations[0].metrics.ae_4h_all[0].numerator", "expected integer")
    assert d.value is not None and str(count) in d.value


@pytest.mark.parametrize("count", ["1.5", "1.0", "1e2"])
def test_counts_as_floats_in_json_text(count: str) -> None:
    text = (
        '{"organisations": [{"id": "RAA", "type": "acute_trust", "metrics": '
        '{"ae_4h_all": [{"period": "2025-03", "numerator": 1, "denominator": %s}]}}]}'
    )
    err = raises_state_error(pe.state_from_json, text % count)
    assert_detail(err, "state.organisations[0].metrics.ae_4h_all[0].denominator", "expected integer")


def test_float_count_is_shown_as_a_number() -> None:
    obs = {"period": "2025-03", "numerator": 1.5, "denominator": 10}
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": [obs]})))
    assert only_detail(err).value == "1.5"


def test_both_value_and_counts_in_one_observation() -> None:
    obs = {"period": "2025-03", "numerator": 780, "denominator": 1000, "value": 78}
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": [obs]})))
    d = assert_detail(
        err, "state.organisations[0].metrics.ae_4h_all[0]", "either numerator and denominator (counts) or value"
    )
    assert d.value is not None and '"value": 78' in d.value and '"numerator": 780' in d.value


def test_neither_value_nor_counts() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": [{"period": "2025-03"}]})))
    assert_detail(err, "state.organisations[0].metrics.ae_4h_all[0]", "not both or neither", '{"period": "2025-03"}')


def test_numerator_without_denominator() -> None:
    err = raises_state_error(
        pe.state_from_dict, doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 5}]}))
    )
    assert_detail(err, "state.organisations[0].metrics.ae_4h_all[0]", "either numerator and denominator")


# --------------------------------------------------------------------------- consistency


def test_second_observation_for_the_same_month() -> None:
    series = [
        {"period": "2025-02", "numerator": 1, "denominator": 2},
        {"period": "2025-03", "numerator": 1, "denominator": 2},
        {"period": "2025-03", "numerator": 2, "denominator": 2},
    ]
    err = raises_state_error(pe.state_from_dict, doc(org(metrics={"ae_4h_all": series})))
    assert_detail(
        err, "state.organisations[0].metrics.ae_4h_all[2].period", "a second observation for this month", "2025-03"
    )
    assert "first at [1]" in err.details[0].message


def test_duplicate_organisation_ids() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org("RAA"), org("RBB"), org("RAA", "icb")))
    d = assert_detail(err, "state.organisations[2].id", "duplicate organisation id", '"RAA"')
    assert "organisations[0]" in d.message


def test_parent_that_refers_to_no_organisation() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org(parent="QXX")))
    assert_detail(err, "state.organisations[0].parent", "refers to no organisation in the state", '"QXX"')


def test_parent_that_is_not_an_icb() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org("RAA", parent="RBB"), org("RBB", "acute_trust")))
    assert_detail(
        err, "state.organisations[0].parent", "must refer to an organisation of type icb", "RBB is acute_trust"
    )


def test_parent_that_is_an_icb_is_accepted() -> None:
    state = pe.state_from_dict(doc(org("RAA", parent="QAA"), org("QAA", "icb")))
    assert state.organisation("RAA").parent == "QAA"


def test_an_icb_cannot_be_its_own_parent() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org("QAA", "icb", parent="QAA")))
    assert_detail(err, "state.organisations[0].parent", "cannot be its own parent", "QAA")


def test_pcn_that_is_not_a_pcn() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org("QAA", "icb"), org("P1", "gp_practice", pcn="QAA")))
    assert_detail(err, "state.organisations[1].pcn", "must refer to an organisation of type pcn", "QAA is icb")


def test_fact_declared_twice_on_one_date() -> None:
    facts = [
        {"name": "sdec_hours_per_day", "value": 12, "date": "2024-04-01"},
        {"name": "sdec_hours_per_day", "value": 10, "date": "2024-04-01"},
    ]
    err = raises_state_error(pe.state_from_dict, doc(org(facts=facts)))
    d = assert_detail(err, "state.organisations[0].facts[1]", "declared twice for 2024-04-01", "10")
    assert "facts[0]" in d.message


def test_unknown_organisation_lookup() -> None:
    state = pe.state_from_dict(doc(org()))
    err = raises_state_error(state.organisation, "NOPE")
    assert_detail(err, "organisations", "no organisation with this id", "NOPE")


# --------------------------------------------------------------------------- rulebook-aware checks


def _too_many() -> dict[str, Any]:
    return doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 1203, "denominator": 1100}]}))


def test_numerator_above_denominator_via_evaluate(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.evaluate, _too_many(), book, backend="native")
    assert_detail(
        err, "state.organisations[0].metrics.ae_4h_all[0]", "expected numerator <= denominator", "1203 > 1100"
    )
    assert str(err.details[0]) == (
        "state.organisations[0] (RAA).metrics.ae_4h_all[0]: expected numerator <= denominator (got 1203 > 1100)"
    )


def test_numerator_above_denominator_via_validate_state(book: pe.Rulebook) -> None:
    details = pe.validate_state(_too_many(), book)
    assert [str(d) for d in details] == [
        "state.organisations[0] (RAA).metrics.ae_4h_all[0]: expected numerator <= denominator (got 1203 > 1100)"
    ]
    # Without a rulebook the metric's kind is unknown, so the check cannot be made.
    assert pe.validate_state(_too_many()) == []


def test_numerator_above_denominator_via_state_from_dict_with_rulebook(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.state_from_dict, _too_many(), book)
    assert only_detail(err).value == "1203 > 1100"


def test_numerator_above_denominator_in_a_frozen_state_is_caught_by_evaluate(book: pe.Rulebook) -> None:
    state = pe.state_from_dict(_too_many())  # no rulebook: accepted
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert "does not fit the rulebook" in err.summary
    assert_detail(err, "state.organisations[0].metrics.ae_4h_all[0]", "numerator <= denominator", "1203 > 1100")


def test_numerator_above_denominator_is_fine_for_a_rate(book: pe.Rulebook) -> None:
    amb = org(
        "RX1",
        "ambulance_trust",
        metrics={"cat2_response": [{"period": "2025-03", "numerator": 1800, "denominator": 1}]},
    )
    assert pe.validate_state(doc(amb), book) == []


def test_unknown_metric_name(book: pe.Rulebook) -> None:
    state = doc(org(metrics={"ae_4h_al": [{"period": "2025-03", "numerator": 1, "denominator": 2}]}))
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert_detail(err, "state.organisations[0].metrics.ae_4h_al", "unknown metric")


def test_metric_kind_mismatch(book: pe.Rulebook) -> None:
    state = doc(
        org(
            metrics={
                "ae_4h_all": [{"period": "2025-03", "value": 78}],
                "g_and_a_beds": [{"period": "2025-03", "numerator": 5, "denominator": 6}],
            }
        )
    )
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    by_path = {d.path: d for d in err.details}
    assert set(by_path) == {
        "state.organisations[0].metrics.ae_4h_all[0]",
        "state.organisations[0].metrics.g_and_a_beds[0]",
    }
    assert (
        "proportion metric: expected numerator and denominator"
        in by_path["state.organisations[0].metrics.ae_4h_all[0]"].message
    )
    assert "value metric: expected value" in by_path["state.organisations[0].metrics.g_and_a_beds[0]"].message


def test_unknown_fact_name(book: pe.Rulebook) -> None:
    state = doc(org(facts=[{"name": "sdec_hours", "value": 12, "date": "2024-04-01"}]))
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert_detail(err, "state.organisations[0].facts[0].name", "unknown fact", '"sdec_hours"')


@pytest.mark.parametrize(
    ("name", "value", "expected", "shown"),
    [
        ("sdec_hours_per_day", "twelve", "number", '"twelve"'),
        ("sdec_hours_per_day", True, "number", "true"),
        ("pews_implemented", 1, "boolean", "1"),
        ("pews_implemented", "yes", "boolean", '"yes"'),
    ],
)
def test_fact_value_of_the_wrong_type(book: pe.Rulebook, name: str, value: Any, expected: str, shown: str) -> None:
    state = doc(org(facts=[{"name": name, "value": value, "date": "2024-04-01"}]))
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert_detail(err, "state.organisations[0].facts[0].value", f"{name} expects a {expected}", shown)


def test_unknown_service(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.evaluate, doc(org(services=["type1_ae", "helipad"])), book, backend="native")
    assert_detail(err, "state.organisations[0].services", "unknown service", '"helipad"')


# --------------------------------------------------------------------------- hostile input


def test_deeply_nested_json_text_is_a_state_error() -> None:
    text = '{"organisations": [], "description": ' + "[" * 10_000 + "]" * 10_000 + "}"
    err = raises_state_error(pe.state_from_json, text)
    assert "nested too deeply" in err.summary
    assert_detail(err, "$", "nesting too deep")


def _nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def _nested_dicts(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("make", [_nested_lists, _nested_dicts], ids=["lists", "dicts"])
def test_deeply_nested_python_input_is_a_state_error(make: Callable[[int], Any], book: pe.Rulebook) -> None:
    state = {"organisations": [], "description": make(10_000)}
    err = raises_state_error(pe.state_from_dict, state)
    assert_detail(err, "state", "nested more than 64 levels deep")
    assert [str(d) for d in pe.validate_state(state)] == ["state: nested more than 64 levels deep"]
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert_detail(err, "state", "nested more than 64 levels deep")


def test_too_large_input_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module, "MAX_STATE_BYTES", 64)
    text = json.dumps(doc(org(), org("RBB")))
    assert len(text.encode()) > 64
    for data in (text, text.encode()):
        err = raises_state_error(pe.state_from_json, data)
        assert "too large" in err.summary
        assert_detail(err, "$", "at most 64 bytes", f"{len(text.encode())} bytes")
    assert pe.state_from_json('{"organisations": []}').organisations == ()


def test_too_large_input_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(state_module, "MAX_STATE_BYTES", 64)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc(org(), org("RBB"))), encoding="utf-8")
    err = raises_state_error(pe.load_state, path)
    assert_detail(err, str(path), "at most 64 bytes", f"{path.stat().st_size} bytes")


def test_non_string_keys_from_python() -> None:
    err = raises_state_error(pe.state_from_dict, {"organisations": [], 7: "x"})
    assert_detail(err, "state", "object keys must be strings", "7")


def test_non_json_python_value() -> None:
    err = raises_state_error(pe.state_from_dict, doc(org(services={"type1_ae"})))
    assert_detail(err, "state.organisations[0].services", "expected a JSON value", "set")


# --------------------------------------------------------------------------- every problem at once


def test_three_schema_errors_are_reported_together() -> None:
    state = doc(
        org("RAA", "hospital"),
        org("RBB", metrics={"ae_4h_all": [{"period": "2025-13", "numerator": 1, "denominator": 2}]}),
        org("RCC", metrics={"ae_4h_all": [{"period": "2025-03", "numerator": -1, "denominator": 2}]}),
    )
    err = raises_state_error(pe.state_from_dict, state)
    assert err.summary == "the state is invalid (3 problems)"
    assert sorted(d.path for d in err.details) == [
        "state.organisations[0].type",
        "state.organisations[1].metrics.ae_4h_all[0].period",
        "state.organisations[2].metrics.ae_4h_all[0].numerator",
    ]
    assert len(str(err).splitlines()) == 4  # the summary and one line per problem


def test_three_consistency_errors_are_reported_together() -> None:
    state = doc(
        org("RAA", parent="QXX"),
        org("RAA"),
        org("RCC", metrics={"g_and_a_beds": [{"period": "2025-03", "value": 1}, {"period": "2025-03", "value": 2}]}),
    )
    err = raises_state_error(pe.state_from_dict, state)
    assert sorted(d.path for d in err.details) == [
        "state.organisations[0].parent",
        "state.organisations[1].id",
        "state.organisations[2].metrics.g_and_a_beds[1].period",
    ]


def test_three_catalogue_errors_are_reported_together(book: pe.Rulebook) -> None:
    state = doc(
        org(
            services=["helipad"],
            metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 1203, "denominator": 1100}]},
            facts=[{"name": "sdec_hours", "value": 12, "date": "2024-04-01"}],
        )
    )
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    assert sorted(d.path for d in err.details) == [
        "state.organisations[0].facts[0].name",
        "state.organisations[0].metrics.ae_4h_all[0]",
        "state.organisations[0].services",
    ]


def test_consistency_and_catalogue_errors_are_reported_together(book: pe.Rulebook) -> None:
    state = doc(
        org("RAA", metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 1203, "denominator": 1100}]}),
        org("RAA"),
        org("RCC", metrics={"ae_4h_al": [{"period": "2025-03", "numerator": 1, "denominator": 2}]}),
    )
    assert len(pe.validate_state(state, book)) == 3


# --------------------------------------------------------------------------- the frozen State


def _frozen() -> pe.State:
    return pe.state_from_dict(
        doc(
            org(
                services=["type1_ae"],
                metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]},
                facts=[{"name": "sdec_hours_per_day", "value": 12, "date": "2024-04-01"}],
            )
        )
    )


def test_state_is_immutable() -> None:
    state = _frozen()
    o = state.organisations[0]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        state.as_of = None  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        o.id = "X"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        o.facts[0].value = Fraction(1)  # type: ignore[misc]
    series = o.metrics["ae_4h_all"]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        next(iter(series.values())).numerator = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        o.metrics["x"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        series[0] = None  # type: ignore[index]
    # ``document`` is a fresh copy: changing it changes nothing in the state.
    copy = state.document
    copy["as_of"] = "2030-01-01"
    assert state.document.get("as_of") != "2030-01-01"
    assert isinstance(state.organisations, tuple)
    assert isinstance(o.facts, tuple)
    assert isinstance(o.services, frozenset)


def test_state_does_not_alias_the_callers_data() -> None:
    data = doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]}))
    state = pe.state_from_dict(data)
    digest = state.digest
    data["organisations"][0]["id"] = "ZZZ"
    data["organisations"][0]["metrics"]["ae_4h_all"][0]["numerator"] = 1
    assert state.organisations[0].id == "RAA"
    assert state.document["organisations"][0]["id"] == "RAA"
    assert state.digest == digest


def test_state_document_is_deeply_immutable() -> None:
    state = _frozen()
    digest = state.digest
    state.document["organisations"][0]["id"] = "HACK"
    state.document["organisations"].append({})
    assert state.document["organisations"][0]["id"] != "HACK"
    assert len(state.document["organisations"]) == len(state.organisations)
    assert state.digest == digest


def test_mutating_the_document_cannot_bypass_the_rulebook_checks(book: pe.Rulebook) -> None:
    state = pe.state_from_dict(
        doc(
            org(
                services=["type1_ae"],
                metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 1203, "denominator": 1100}]},
            )
        )
    )
    try:
        state.document["organisations"][0]["metrics"]["ae_4h_all"][0]["numerator"] = 1
    except TypeError:
        pass  # a deeply frozen document is one fix
    with pytest.raises(pe.StateError):
        pe.evaluate(state, book, backend="native")


def test_a_state_is_one_representation_its_digest_is_of_its_own_content(book: pe.Rulebook) -> None:
    import hashlib

    state = _frozen()
    assert state.digest == hashlib.sha256(state.canonical.encode("utf-8")).hexdigest()
    # Nothing but the canonical text can be given: the organisations, dates and digest follow from it.
    for field, value in (("organisations", ()), ("as_of", None), ("cohorts", ()), ("digest", "0" * 64)):
        with pytest.raises(TypeError, match=field):
            attrs.evolve(state, **{field: value})
    # A new text is validated and everything is derived from it again.
    changed = state.document
    changed["organisations"][0]["metrics"]["ae_4h_all"][0]["numerator"] = 700
    again = attrs.evolve(state, canonical=json.dumps(changed, default=str))
    assert again.digest == pe.state_from_dict(changed).digest != state.digest
    assert again.organisations[0].metrics["ae_4h_all"][parse_month("2025-03")].numerator == 700
    # The record names the digest of what was evaluated.
    for made in (state, again):
        ev = pe.evaluate(made, book, backend="native")
        assert ev.record.state_digest == hashlib.sha256(state_module.canonical_json(made.document).encode()).hexdigest()
    assert pe.evaluate(again, book).find(rule_id="uec.ae-4h-78")[0].status == "not_met"
    assert pe.evaluate(state, book).find(rule_id="uec.ae-4h-78")[0].status == "met"


def test_a_state_made_from_text_is_validated_and_canonical() -> None:
    state = _frozen()
    pretty = json.dumps(json.loads(state.canonical), indent=2)
    assert pretty != state.canonical
    again = pe.State(pretty)
    assert again == state and again.canonical == state.canonical and again.digest == state.digest
    assert again.organisations == state.organisations and again.as_of == state.as_of
    bad = {"organisations": [{"id": "RAA", "type": "acute_trust", "parent": "NOPE"}]}
    with pytest.raises(pe.StateError, match="refers to no organisation"):
        pe.State(json.dumps(bad))
    with pytest.raises(pe.StateError, match="refers to no organisation"):
        attrs.evolve(state, canonical=json.dumps(bad))
    with pytest.raises(pe.StateError, match="not valid JSON"):
        pe.State("{")


def test_equal_states_are_equal_by_digest_and_hash_alike() -> None:
    a, b = _frozen(), _frozen()
    assert a == b and hash(a) == hash(b)
    other = pe.state_from_dict(doc(org()))
    assert a != other


def test_floats_from_python_become_exact() -> None:
    state = pe.state_from_dict(
        doc(
            org(
                metrics={"g_and_a_beds": [{"period": "2025-03", "value": 0.1}, {"period": "2025-02", "value": 0.2}]},
                facts=[{"name": "sdec_hours_per_day", "value": 0.1, "date": "2024-04-01"}],
            )
        )
    )
    o = state.organisations[0]
    values = [obs.value for obs in o.metrics["g_and_a_beds"].values()]
    assert Fraction(1, 10) in values and Fraction(1, 5) in values
    assert sum(v for v in values if v is not None) == Fraction(3, 10)
    assert o.facts[0].value == Fraction(1, 10)
    assert state.to_dict()["organisations"][0]["facts"][0]["value"] == Decimal("0.1")
    # The same state given as JSON text is the same state: same digest.
    text = (
        '{"as_of": "2025-04-20", "organisations": [{"id": "RAA", "type": "acute_trust", "metrics": '
        '{"g_and_a_beds": [{"period": "2025-03", "value": 0.1}, {"period": "2025-02", "value": 0.2}]}, '
        '"facts": [{"name": "sdec_hours_per_day", "value": 0.10, "date": "2024-04-01"}]}]}'
    )
    assert pe.state_from_json(text).digest == state.digest


def test_numbers_in_json_text_are_exact() -> None:
    state = pe.state_from_json(
        '{"organisations": [{"id": "RAA", "type": "acute_trust", "metrics": '
        '{"g_and_a_beds": [{"period": "2025-03", "value": 0.30000000000000000000000001}]}}]}'
    )
    (obs,) = state.organisations[0].metrics["g_and_a_beds"].values()
    assert obs.value == Fraction(3, 10) + Fraction(1, 10**26)


# --------------------------------------------------------------------------- as_of


def _sdec_state(*facts: tuple[str, int, str]) -> dict[str, Any]:
    return doc(
        org(
            services=["type1_ae"],
            facts=[{"name": n, "value": v, "date": d, "evidence": "board paper"} for n, v, d in facts],
        )
    )


SDEC = "uec.sdec-12h-7d"


@pytest.mark.parametrize("backend", pe.available_backends())
def test_facts_dated_after_as_of_are_ignored(book: pe.Rulebook, backend: str) -> None:
    state = _sdec_state(
        ("sdec_hours_per_day", 8, "2024-04-01"),
        ("sdec_days_per_week", 7, "2024-04-01"),
        ("sdec_hours_per_day", 12, "2025-01-01"),
    )
    before = pe.evaluate(state, book, as_of="2024-12-31", backend=backend)
    assert before.outcome(SDEC, "RAA").status == "not_met"
    on_the_day = pe.evaluate(state, book, as_of="2025-01-01", backend=backend)
    assert on_the_day.outcome(SDEC, "RAA").status == "met"


@pytest.mark.parametrize("backend", pe.available_backends())
def test_a_fact_known_only_later_is_unknown(book: pe.Rulebook, backend: str) -> None:
    state = _sdec_state(("sdec_hours_per_day", 12, "2025-01-01"), ("sdec_days_per_week", 7, "2025-01-01"))
    assert pe.evaluate(state, book, as_of="2024-12-31", backend=backend).outcome(SDEC, "RAA").status == "unknown"
    assert pe.evaluate(state, book, as_of="2025-01-02", backend=backend).outcome(SDEC, "RAA").status == "met"


def test_as_of_defaults_to_the_states_own(book: pe.Rulebook) -> None:
    state = _sdec_state(("sdec_hours_per_day", 12, "2025-01-01"), ("sdec_days_per_week", 7, "2025-01-01"))
    state["as_of"] = "2024-12-31"
    result = pe.evaluate(state, book, backend="native")
    assert result.record.as_of == dt.date(2024, 12, 31)
    assert result.outcome(SDEC, "RAA").status == "unknown"


def test_no_as_of_anywhere_is_a_state_error(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.evaluate, {"organisations": []}, book, backend="native")
    assert_detail(err, "state.as_of", "give as_of")


def test_a_month_counts_only_after_it_ends() -> None:
    state = pe.state_from_dict(
        doc(org(metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]}))
    )
    o = state.organisations[0]
    assert dict(view_at(o, dt.date(2025, 3, 31)).series["ae_4h_all"]) == {}
    assert len(view_at(o, dt.date(2025, 4, 1)).series["ae_4h_all"]) == 1


@pytest.fixture(scope="module")
def ae_book_without_deadline(book: pe.Rulebook) -> pe.Rulebook:
    """The bundled A&E 4-hour rule alone, judged at every as_of (no deadline), to see month completion."""
    rule = attrs.evolve(book.rule("uec.ae-4h-78"), deadline=None)
    # A new digest: backends may cache compiled rulebooks by digest.
    return attrs.evolve(book, rules=(rule,), digest=f"{book.digest}-ae-4h-78-without-deadline")


@pytest.mark.parametrize("backend", pe.available_backends())
def test_a_month_counts_only_after_it_ends_via_evaluate(ae_book_without_deadline: pe.Rulebook, backend: str) -> None:
    state = doc(
        org(
            services=["type1_ae"],
            metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]},
        )
    )
    on_last_day = pe.evaluate(state, ae_book_without_deadline, as_of="2025-03-31", backend=backend)
    outcome = on_last_day.outcome("uec.ae-4h-78", "RAA")
    assert outcome.status == "unknown"
    assert "no data for 2025-03" in outcome.explanation
    next_day = pe.evaluate(state, ae_book_without_deadline, as_of="2025-04-01", backend=backend)
    assert next_day.outcome("uec.ae-4h-78", "RAA").status == "met"


def test_bundled_ae_rule_is_due_until_its_deadline(book: pe.Rulebook) -> None:
    state = doc(
        org(
            services=["type1_ae"], metrics={"ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}]}
        )
    )
    assert pe.evaluate(state, book, as_of="2025-03-31", backend="native").outcome("uec.ae-4h-78", "RAA").status == "due"
    assert pe.evaluate(state, book, as_of="2025-04-01", backend="native").outcome("uec.ae-4h-78", "RAA").status == "met"


def test_view_at_keeps_the_latest_fact_on_or_before_as_of() -> None:
    state = pe.state_from_dict(
        _sdec_state(
            ("sdec_hours_per_day", 8, "2024-04-01"),
            ("sdec_hours_per_day", 10, "2024-10-01"),
            ("sdec_hours_per_day", 12, "2025-01-01"),
        )
    )
    o = state.organisations[0]
    seen: Mapping[str, pe.Fact] = view_at(o, dt.date(2024, 12, 31)).facts
    assert seen["sdec_hours_per_day"].value == 10
    assert view_at(o, dt.date(2024, 3, 31)).facts == {}


# --------------------------------------------------------------------------- errors an analyst can act on


def test_a_problem_inside_an_organisation_names_it_by_id(book: pe.Rulebook) -> None:
    state = doc(
        org("QAA", "icb"), org("EXA", metrics={"ae_4h_al": [{"period": "2025-03", "numerator": 1, "denominator": 2}]})
    )
    err = raises_state_error(pe.evaluate, state, book, backend="native")
    d = only_detail(err)
    assert (d.path, d.org) == ("state.organisations[1].metrics.ae_4h_al", "EXA")
    assert str(d).startswith("state.organisations[1] (EXA).metrics.ae_4h_al: unknown metric; did you mean ae_4h_all?")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (org(facts=[{"name": "sdec_hours", "value": 12, "date": "2024-04-01"}]), "did you mean sdec_hours_per_day?"),
        (org(services=["type1_a"]), "unknown service; did you mean type1_ae?"),
    ],
)
def test_unknown_names_suggest_the_closest_known_one(book: pe.Rulebook, broken: dict[str, Any], message: str) -> None:
    d = only_detail(raises_state_error(pe.state_from_dict, doc(broken), book))
    assert message in d.message and d.org == "RAA", str(d)


def test_no_suggestion_when_nothing_is_close(book: pe.Rulebook) -> None:
    state = doc(org(metrics={"zzqx": [{"period": "2025-03", "value": 1}]}, services=["helipad"]))
    details = raises_state_error(pe.state_from_dict, state, book).details
    assert len(details) == 2 and not any("did you mean" in d.message for d in details), details


def test_an_organisation_without_a_text_id_is_named_by_index_only() -> None:
    d = only_detail(raises_state_error(pe.state_from_dict, doc(org(org_id=5))))  # type: ignore[arg-type]
    assert d.org is None and str(d).startswith("state.organisations[0].id: ")
    d = only_detail(raises_state_error(pe.state_from_dict, doc(org(org_id="RA 1"))))
    assert str(d).startswith('state.organisations[0] ("RA 1").id: '), str(d)  # not a plain id: quoted


@pytest.mark.parametrize(
    ("state", "path", "message"),
    [
        ({"as_of": "15/05/2025", "organisations": []}, "state.as_of", "expected a date as YYYY-MM-DD, e.g. 2025-03-31"),
        (
            doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12, "date": "1/4/2024"}])),
            "state.organisations[0].facts[0].date",
            "expected a date as YYYY-MM-DD, e.g. 2025-03-31",
        ),
        (
            doc(org(facts=[{"name": "sdec_hours_per_day", "value": 12, "date": "2024-02-30"}])),
            "state.organisations[0].facts[0].date",
            "expected a valid date as YYYY-MM-DD, e.g. 2025-03-31: day is out of range for month",
        ),
        (
            doc(org(metrics={"ae_4h_all": [{"period": "03/2025", "numerator": 1, "denominator": 2}]})),
            "state.organisations[0].metrics.ae_4h_all[0].period",
            "expected a month as YYYY-MM, e.g. 2025-03",
        ),
    ],
)
def test_a_bad_date_is_reported_once_with_the_format_expected(state: dict[str, Any], path: str, message: str) -> None:
    d = assert_detail(raises_state_error(pe.state_from_dict, state), path, message)  # exactly one detail
    assert d.message == message
    assert str(d).count(d.value or "?") == 1  # the value is shown once


def test_a_fact_of_type_date_says_the_format(book: pe.Rulebook) -> None:
    date_fact = "go_live_date"  # the bundled rulebook has no date facts: one is added
    fdef = FactDef(date_fact, "date", "when a service went live", "demo")
    with_date = attrs.evolve(book, facts={**book.facts, date_fact: fdef}, digest=f"{book.digest}-with-a-date-fact")
    state = doc(org(facts=[{"name": date_fact, "value": "31/03/2025", "date": "2024-04-01"}]))
    d = only_detail(raises_state_error(pe.state_from_dict, state, with_date))
    assert d.message == f"{date_fact} expects a date as YYYY-MM-DD, e.g. 2025-03-31", str(d)


def test_as_of_given_to_evaluate_shows_its_value_once(book: pe.Rulebook) -> None:
    err = raises_state_error(pe.evaluate, doc(), book, as_of="15/05/2025")
    assert str(only_detail(err)) == 'as_of: expected a date as YYYY-MM-DD, e.g. 2025-03-31 (got "15/05/2025")'


_BREAKS = ("misspelt metric", "bad period", "bad fact date", "unknown fact", "num > den", "bad type", "bad service")


@st.composite
def _states_broken_in_one_organisation(draw: st.DrawFn, book: pe.Rulebook) -> tuple[dict[str, Any], int]:
    state = draw(strategies.states(book, min_size=1, max_size=4))
    ids = draw(
        st.lists(
            st.from_regex(r"[A-Z][A-Z0-9-]{1,8}", fullmatch=True),
            min_size=len(state["organisations"]),
            max_size=len(state["organisations"]),
            unique=True,
        )
    )
    for o, new_id in zip(state["organisations"], ids, strict=True):
        o["id"] = new_id
        o.pop("parent", None)
        o.pop("pcn", None)
    k = draw(st.integers(0, len(state["organisations"]) - 1))
    target = state["organisations"][k]
    how = draw(st.sampled_from(_BREAKS))
    obs = {"period": "2025-03", "numerator": 3, "denominator": 2}
    if how == "misspelt metric":
        target["metrics"]["ae_4h_al"] = [obs]
    elif how == "bad period":
        target["metrics"]["ae_4h_all"] = [{**obs, "period": draw(st.sampled_from(["03/2025", "2025-13", "2025-3"]))}]
    elif how == "bad fact date":
        target["facts"].append({"name": "pews_implemented", "value": True, "date": "31/03/2025"})
    elif how == "unknown fact":
        target["facts"].append({"name": "pews_implemented_x", "value": True, "date": "2025-03-31"})
    elif how == "num > den":
        target["metrics"]["ae_4h_all"] = [obs]
    elif how == "bad type":
        target["metrics"]["ae_4h_all"] = [{**obs, "numerator": "3"}]
    else:
        target["services"] = [*target.get("services", []), "type1_a"]
    return state, k


@given(data=st.data())
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_problem_inside_an_organisation_names_its_id(book: pe.Rulebook, data: st.DataObject) -> None:
    state, k = data.draw(_states_broken_in_one_organisation(book))
    details = pe.validate_state(state, book)
    assert details
    inside = 0
    for d in details:
        m = re.match(r"state\.organisations\[(\d+)\]", d.path)
        if m is None:
            continue
        inside += 1
        org_id = state["organisations"][int(m.group(1))]["id"]
        assert d.org == org_id, str(d)
        assert str(d).startswith(f"{m.group(0)} ({org_id})"), str(d)
    assert inside and any(d.path.startswith(f"state.organisations[{k}]") for d in details), details


@pytest.mark.parametrize(
    "org",
    [
        {"id": "X1", "type": "acute_trust", "metrics": {"nope": [{"period": "2025-03", "value": 1}]}},
        {"id": "X1", "type": "acute_trust", "metrics": {"ae_4h_all": [{"period": "2025-03", "value": 1}]}},
        {"id": "X1", "type": "acute_trust", "facts": [{"name": "nope", "value": True, "date": "2024-05-01"}]},
        {"id": "X1", "type": "acute_trust", "services": ["nope"]},
        {"id": "X1", "type": "acute_trust"},
    ],
    ids=["unknown-metric", "wrong-kind", "unknown-fact", "unknown-service", "fits"],
)
def test_a_state_is_checked_against_a_rulebook_as_validate_state_checks_it(org: dict[str, Any]) -> None:
    """Evaluating a State checks only the rulebook's catalogues (its schema was checked when it was
    made): the same problems, worded the same, as validating its document against the rulebook."""
    book = pe.load_rulebook()
    doc = {"as_of": "2025-04-30", "organisations": [org]}
    state = pe.state_from_dict(doc)  # no rulebook: schema and consistency only
    expected = pe.validate_state(doc, book)
    assert bool(expected) == (set(org) != {"id", "type"})
    assert state_module.rulebook_errors(state, book) == expected
    if expected:
        with pytest.raises(pe.StateError) as err:
            pe.evaluate(state, book)
        assert list(err.value.details) == expected
    else:
        assert pe.evaluate(state, book).outcomes

"""Rulebook loading: safe YAML, schema validation, expression checking, citations and dependency order.

Every failing load raises a RulebookError (ExpressionError for conditions) whose details name the
file, the rule id and, for expressions, the column, and show the offending text.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine._resources import bundled_rulebooks, policies_root
from policy_engine.errors import ErrorDetail
from policy_engine.language.rules import ServiceDef
from policy_engine.rulebook.loader import _order, default_rulebook

BUNDLED = policies_root() / "nhs-2024-25"
DOC = "news-hhe-designated-lead.txt"
QUOTE = "reducing Category 2 ambulance response times to an average of 30 minutes across 2024/25"
TABLE = "national-objectives-2024-25.md"
TABLE_QUOTE = "Implement the Patient Safety Incident Response Framework (PSIRF)"  # row 1, RECON


# --------------------------------------------------------------------------- building rulebooks


def rule(rid: str = "demo.r1", condition: str = "true", **fields: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "id": rid,
        "title": "A demo rule",
        "kind": "target",
        "applies_to": ["acute_trust"],
        "condition": condition,
        "source": {"document": DOC, "section": "Improving care", "quote": QUOTE},
    }
    r.update(fields)
    return r


def area(rules: list[dict[str, Any]], name: str = "demo", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "area": name,
        "title": "Demo area",
        "metrics": {
            "m_prop": {"kind": "proportion", "unit": "percent", "label": "a proportion", "description": "a proportion"},
            "m_rate": {"kind": "rate", "unit": "seconds", "label": "a rate", "description": "a rate"},
            "m_beds": {"kind": "value", "unit": "beds", "label": "a value in beds", "description": "a value in beds"},
        },
        "facts": {
            "f_bool": {"type": "boolean", "label": "a boolean", "description": "a boolean"},
            "f_hours": {
                "type": "number",
                "unit": "hours",
                "label": "a number of hours",
                "description": "a number of hours",
            },
            "f_date": {"type": "date", "label": "a date", "description": "a date"},
            "f_text": {"type": "string", "label": "a string", "description": "a string"},
        },
        "services": {"svc_a": {"label": "a service", "description": "A service"}},
        "rules": rules,
    }
    doc.update(fields)
    return doc


def make_book(root: Path, files: dict[str, Any]) -> Path:
    """A rulebook folder: the bundled rulebook.yaml and sources/, plus ``files`` (dicts are dumped as YAML)."""
    book = root / "book"
    (book / "sources").mkdir(parents=True, exist_ok=True)
    manifest = (BUNDLED / "rulebook.yaml").read_text(encoding="utf-8")
    (book / "rulebook.yaml").write_text(manifest.replace("  vocabulary: bundled\n", ""), encoding="utf-8")
    for entry in (BUNDLED / "sources").iterdir():
        (book / "sources" / entry.name).write_bytes(entry.read_bytes())
    for name, content in files.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
        (book / name).write_text(text, encoding="utf-8")
    return book


def load_error(path: Path | str, exc: type[pe.RulebookError] = pe.RulebookError) -> pe.RulebookError:
    with pytest.raises(exc) as info:
        pe.load_rulebook(path)
    err = info.value
    assert isinstance(err, pe.PolicyError)
    assert err.details
    return err


def only_detail(err: pe.PolicyError) -> ErrorDetail:
    assert len(err.details) == 1, [str(d) for d in err.details]
    return err.details[0]


def expression_error(tmp_path: Path, condition: str, **fields: Any) -> ErrorDetail:
    """The single detail of the ExpressionError raised by a rule with this condition."""
    book = make_book(tmp_path, {"demo.yaml": area([rule(condition=condition, **fields)])})
    err = load_error(book, pe.ExpressionError)
    assert err.summary == "rule expressions do not parse or type-check"
    return only_detail(err)


def at(field: str, column: int, rid: str = "demo.r1", index: int = 0) -> str:
    return f"demo.yaml: rules[{index}] ({rid}).{field} at column {column}"


def test_the_demo_rulebook_loads(tmp_path: Path) -> None:
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area([rule()])}))
    assert [r.id for r in book.rules] == ["demo.r1"]
    assert set(book.metrics) == {"m_prop", "m_rate", "m_beds"}


# --------------------------------------------------------------------------- YAML


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": "area: demo\ntitle: Demo\n  bad: indent\nrules: []\n"})
    err = load_error(book)
    assert type(err) is pe.RulebookError
    assert err.summary == "a rule file is not valid YAML"
    d = only_detail(err)
    assert d.path == "demo.yaml:3:6"
    assert "mapping values are not allowed here" in d.message


def test_yaml_syntax_error_in_the_manifest(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": area([rule()])})
    (book / "rulebook.yaml").write_text("rulebook:\n  id: x\n\tbad\n", encoding="utf-8")
    d = only_detail(load_error(book))
    assert d.path == "rulebook.yaml:3:1"
    assert "'\\t'" in d.message


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "executed"
    book = make_book(tmp_path, {"demo.yaml": f'area: demo\ntitle: {tag} ["touch {marker}"]\nrules: []\n'})
    err = load_error(book)
    d = only_detail(err)
    assert d.path == "demo.yaml:2:8"
    assert "could not determine a constructor" in d.message
    assert tag.lstrip("!").split(":")[0] in d.message
    assert not marker.exists()


def test_anchors_are_refused(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": "area: demo\ntitle: &t Demo\nsubtitle: *t\nrules: []\n"})
    d = only_detail(load_error(book))
    assert d.path == "demo.yaml:2:8"
    assert d.message == "anchors (&name) are not allowed in rule files"


def test_aliases_are_refused(tmp_path: Path) -> None:
    # An alias with no anchor: still refused as an alias, at its position.
    book = make_book(tmp_path, {"demo.yaml": "area: demo\ntitle: Demo\nrules: *r\n"})
    d = only_detail(load_error(book))
    assert d.path == "demo.yaml:3:8"
    assert d.message == "aliases (*name) are not allowed in rule files"


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    book = make_book(tmp_path, {"demo.yaml": "\n".join(lines) + "\n"})
    started = time.perf_counter()
    d = only_detail(load_error(book))
    assert time.perf_counter() - started < 1.0
    assert d.path == "demo.yaml:1:4"
    assert "anchors" in d.message


def test_deeply_nested_yaml_is_a_rulebook_error(tmp_path: Path) -> None:
    text = "area: demo\ntitle: Demo\nrules: " + "[" * 10_000 + "]" * 10_000 + "\n"
    book = make_book(tmp_path, {"demo.yaml": text})
    load_error(book)


def test_rule_file_that_is_not_utf8(tmp_path: Path) -> None:
    book = make_book(tmp_path, {})
    (book / "demo.yaml").write_bytes(b"area: demo\ntitle: D\xe9mo\nrules: []\n")
    d = only_detail(load_error(book))
    assert d.path == "demo.yaml"
    assert d.message == "invalid UTF-8 at byte 19"


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    text = (
        "area: demo\n"
        "title: Demo\n"
        "metrics:\n"
        "  m_prop: {kind: proportion, unit: percent, label: first, description: first}\n"
        "  m_prop: {kind: value, unit: beds, label: second, description: second}\n"
        "rules:\n"
        "  - id: demo.r1\n"
        "    title: A demo rule\n"
        "    kind: target\n"
        "    applies_to: [acute_trust]\n"
        '    condition: "false"\n'
        '    condition: "true"\n'
        "    source:\n"
        f"      document: {DOC}\n"
        "      section: S\n"
        f"      quote: {QUOTE}\n"
    )
    load_error(make_book(tmp_path, {"demo.yaml": text}))


def test_impossible_unquoted_date_is_a_rulebook_error(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": area([rule(deadline="DEADLINE")])})
    path = book / "demo.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("DEADLINE", "2025-02-30"), encoding="utf-8")
    load_error(book)


def test_impossible_quoted_date_is_a_rulebook_error(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": area([rule(deadline="2025-02-30")])})
    err = load_error(book)
    d = only_detail(err)
    assert d.path == "demo.yaml: rules[0] (demo.r1).deadline"
    assert d.value == "2025-02-30"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_non_finite_parameter_is_a_rulebook_error(tmp_path: Path, value: str) -> None:
    params = {"threshold": {"value": "VALUE", "unit": "percent"}}
    book = make_book(tmp_path, {"demo.yaml": area([rule(condition="param.threshold > 1", parameters=params)])})
    path = book / "demo.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("VALUE", value), encoding="utf-8")
    load_error(book)


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"source": None}, "demo.yaml.rules[0]", "'source' is a required property"),
        ({"kind": "law"}, "demo.yaml.rules[0].kind", "'law' is not one of"),
        ({"id": "Demo.R1"}, "demo.yaml.rules[0].id", "'Demo.R1' does not match"),
        ({"id": "nodot"}, "demo.yaml.rules[0].id", "'nodot' does not match"),
        ({"id": "demo.bad slug"}, "demo.yaml.rules[0].id", "does not match"),
        ({"applies_to": ["hospital"]}, "demo.yaml.rules[0].applies_to[0]", "'hospital' is not one of"),
        ({"applies_to": []}, "demo.yaml.rules[0].applies_to", "should be non-empty"),
        ({"conditon": "true"}, "demo.yaml.rules[0]", "'conditon' was unexpected"),
        ({"objective": 33}, "demo.yaml.rules[0].objective", "33 is greater than the maximum of 32"),
        (
            {"source": {"document": DOC, "section": "S", "quote": "too short"}},
            "demo.yaml.rules[0].source.quote",
            "is too short",
        ),
    ],
    ids=[
        "missing-source",
        "bad-kind",
        "bad-id-case",
        "bad-id-nodot",
        "bad-id-space",
        "bad-type",
        "no-types",
        "unknown-field",
        "objective",
        "short-quote",
    ],
)
def test_schema_violations(tmp_path: Path, change: dict[str, Any], path: str, message: str) -> None:
    r = rule()
    for key, value in change.items():
        if value is None:
            del r[key]
        else:
            r[key] = value
    err = load_error(make_book(tmp_path, {"demo.yaml": area([r])}))
    assert type(err) is pe.RulebookError
    assert err.summary == "rule files do not match the rulebook schema"
    matching = [d for d in err.details if d.path == path and message in d.message]
    assert matching, [str(d) for d in err.details]
    assert matching[0].value is not None


def test_catalogue_entries_carry_their_labels(tmp_path: Path) -> None:
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area([rule()])}))
    assert book.metrics["m_beds"].label == "a value in beds"
    assert book.facts["f_hours"].label == "a number of hours" and book.facts["f_hours"].unit == "hours"
    assert book.services["svc_a"] == ServiceDef("svc_a", "A service", "demo", "a service")


def test_every_bundled_catalogue_entry_has_a_label() -> None:
    book = pe.load_rulebook()
    entries = [*book.metrics.values(), *book.facts.values(), *book.services.values()]
    assert len(entries) > 200 and all(e.label and e.label == e.label.strip() for e in entries)


@pytest.mark.parametrize(
    ("section", "name", "entry", "message"),
    [
        (
            "metrics",
            "m_beds",
            {"kind": "value", "unit": "beds", "description": "beds"},
            "'label' is a required property",
        ),
        ("facts", "f_bool", {"type": "boolean", "label": "", "description": "x"}, "does not match"),
        ("facts", "f_bool", {"type": "boolean", "label": "two\nlines", "description": "x"}, "does not match"),
        ("services", "svc_a", "A service", "is not of type 'object'"),
    ],
)
def test_a_catalogue_entry_needs_a_one_line_label(
    tmp_path: Path, section: str, name: str, entry: Any, message: str
) -> None:
    doc = area([rule()])
    doc[section][name] = entry
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": doc})))
    assert d.path.startswith(f"demo.yaml.{section}.{name}") and message in d.message, str(d)


def test_schema_violation_in_a_catalogue(tmp_path: Path) -> None:
    doc = area([rule()])
    doc["metrics"]["m_bad"] = {"kind": "ratio", "unit": "percent", "label": "x", "description": "x"}
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": doc})))
    assert d.path == "demo.yaml.metrics.m_bad.kind"
    assert d.value == "'ratio'"


def test_area_must_match_the_file_name(tmp_path: Path) -> None:
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area([rule()], name="other")})))
    assert d.path == "demo.yaml.area"
    assert d.value == "other"


def test_every_schema_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    bad1, bad2 = rule(kind="law"), rule("demo2.r1", id="Demo2.R1")
    files = {"demo.yaml": area([bad1]), "demo2.yaml": area([bad2], name="demo2", metrics={}, facts={}, services={})}
    err = load_error(make_book(tmp_path, files))
    assert sorted(d.path for d in err.details) == ["demo.yaml.rules[0].kind", "demo2.yaml.rules[0].id"]


# --------------------------------------------------------------------------- expressions: names


@pytest.mark.parametrize(
    ("condition", "token", "message"),
    [
        ("pct(m_nope, mar_2025) >= 78", "m_nope", "unknown metric 'm_nope'"),
        ('fact("f_nope")', '"f_nope"', "unknown fact 'f_nope'"),
        ("pct(m_prop, q9_2099) >= 78", "q9_2099", "unknown period 'q9_2099' (known: apr_jul_2024"),
        ("pct(m_prop, mar_2025) >= param.nope", "param.nope", "unknown parameter 'nope' (the rule declares: none)"),
        ("median(m_beds, mar_2025) > 1", "median", "unknown function 'median'"),
        ('outcome("demo.nope") == "met"', '"demo.nope"', "unknown rule 'demo.nope'"),
        ('has_service("svc_nope")', '"svc_nope"', "unknown service 'svc_nope'"),
        ("nope > 1", "nope", "unknown name 'nope'"),
        ("total(m_prop, mar_2025) > 1", "m_prop", "total() needs a value metric; 'm_prop' is a proportion"),
        ("as_of > deadline", "deadline", "'deadline' is used but the rule has no deadline"),
    ],
    ids=["metric", "fact", "period", "parameter", "function", "rule", "service", "name", "metric-kind", "deadline"],
)
def test_unknown_names_in_an_expression(tmp_path: Path, condition: str, token: str, message: str) -> None:
    d = expression_error(tmp_path, condition)
    column = condition.index(token) + 1
    assert d.path == at("condition", column)
    assert message in d.message
    assert d.value is not None and d.value.endswith(f">>> {condition[column - 1 :][:30]}")


def test_unknown_parameter_lists_the_declared_ones(tmp_path: Path) -> None:
    params = {"threshold": {"value": 78, "unit": "percent"}, "floor": {"value": 50, "unit": "percent"}}
    d = expression_error(tmp_path, "pct(m_prop, mar_2025) >= param.treshold", parameters=params)
    assert "(the rule declares: floor, threshold)" in d.message


def test_errors_in_applicable_if_and_completed_on(tmp_path: Path) -> None:
    rules = [
        rule("demo.a", applicable_if='has_service("svc_b")'),
        rule("demo.b", kind="obligation", timing="dated", deadline="2025-03-31", completed_on='fact_date("f_nope")'),
    ]
    err = load_error(make_book(tmp_path, {"demo.yaml": area(rules)}), pe.ExpressionError)
    assert [d.path for d in err.details] == [
        at("applicable_if", 13, "demo.a", 0),
        at("completed_on", 11, "demo.b", 1),
    ]


def test_every_expression_error_is_reported(tmp_path: Path) -> None:
    rules = [rule("demo.a", "pct(m_nope, mar_2025) > 1"), rule("demo.b", "true and"), rule("demo.c", "1 + 1")]
    err = load_error(make_book(tmp_path, {"demo.yaml": area(rules)}), pe.ExpressionError)
    assert [d.path for d in err.details] == [
        at("condition", 5, "demo.a", 0),
        at("condition", 9, "demo.b", 1),
        "demo.yaml: rules[2] (demo.c).condition",
    ]
    assert err.details[2].message == "must be a bool expression, but it is number"


# --------------------------------------------------------------------------- expressions: types


@pytest.mark.parametrize(
    ("condition", "column", "message"),
    [
        ("pct(m_prop, mar_2025) and true", 23, "'and' needs booleans, the left side is number (percent)"),
        ("true or 1", 6, "'or' needs booleans, the right side is number"),
        ('fact("f_date") > 3', 16, "cannot compare date with number"),
        ('fact_date("f_bool") == "2024-01-01"', 21, "cannot compare date with string"),
        ('"a" < "b"', 5, "string values can only be compared with == or !="),
        ("true < false", 6, "bool values can only be compared with == or !="),
        ('fact("f_hours") > total(m_beds, mar_2025)', 17, "cannot compare number (hours) with number (beds)"),
        ('fact("f_hours") + total(m_beds, mar_2025) > 1', 17, "'+' mixes units hours and beds"),
        ("pct(m_prop, mar_2025) - rate(m_rate, mar_2025) > 0", 23, "'-' mixes units percent and seconds"),
        ('min(fact("f_hours"), total(m_beds, mar_2025)) > 1', 1, "min() needs two numbers of the same unit"),
        ("not 1", 1, "'not' needs a boolean, got number"),
        ("-true == false", 1, "'-' needs a number, got bool"),
        ('outcome("demo.r0") < "met"', 20, "an outcome can only be compared with == or !="),
        ('outcome("demo.r0") == "done"', 23, "'done' is not a status"),
        ('date("2025-02-30") > as_of', 6, "day is out of range for month"),
        ("date(as_of) > as_of", 6, 'date() takes a literal "YYYY-MM-DD"'),
        ("pct(m_prop) > 1", 1, "pct() takes 2 argument(s), got 1"),
        ("rank(1) <= 1 and rank(2) <= 1", 18, "rank() cannot be used here"),
    ],
)
def test_type_errors(tmp_path: Path, condition: str, column: int, message: str) -> None:
    other = rule("demo.r0")
    book = make_book(tmp_path, {"demo.yaml": area([other, rule(condition=condition)])})
    err = load_error(book, pe.ExpressionError)
    d = only_detail(err)
    assert d.path == at("condition", column, index=1)
    assert message in d.message


def test_rank_is_not_allowed_in_applicable_if(tmp_path: Path) -> None:
    d = expression_error(tmp_path, "true", applicable_if="rank(1) <= 1")
    assert d.path == at("applicable_if", 1)
    assert "rank() cannot be used here" in d.message


# --------------------------------------------------------------------------- expressions: no escape hatches


@pytest.mark.parametrize(
    ("condition", "column", "message"),
    [
        ("param.__class__", 7, "names may not start with '_': '__class__'"),
        ("param.threshold.__class__ > 1", 17, "names may not start with '_'"),
        ("__builtins__", 1, "names may not start with '_'"),
        ('__import__("os")', 1, "unknown function '__import__'"),
        ("().__class__", 2, "expected a value, name or '(', found ')'"),
        ("(1).__class__ > 1", 4, "unexpected '.' after a complete expression"),
        ('fact("f_text").upper() == "X"', 15, "unexpected '.' after a complete expression"),
        ("(pct)(m_prop, mar_2025) > 1", 6, "unexpected '(' after a complete expression"),
        ('"os"(1)', 5, "unexpected '(' after a complete expression"),
        ("param.threshold(1) > 1", 16, "unexpected '(' after a complete expression"),
        ("fact[0]", 5, "unexpected character '['"),
        ("2 ** 3 > 1", 4, "expected a value, name or '(', found '*'"),
        ("2 ^ 3 > 1", 3, "unexpected character '^'"),
        ("lambda: 1", 7, "unexpected character ':'"),
        ("true; 1", 5, "unexpected character ';'"),
    ],
)
def test_no_attribute_access_calls_on_values_or_power(
    tmp_path: Path, condition: str, column: int, message: str
) -> None:
    params = {"threshold": {"value": 78, "unit": "percent"}}
    d = expression_error(tmp_path, condition, parameters=params)
    assert d.path == at("condition", column)
    assert message in d.message


def test_expression_too_long(tmp_path: Path) -> None:
    condition = "1" + " + 1" * 1200 + " > 0"
    assert len(condition) > 4000
    d = expression_error(tmp_path, condition)
    assert d.path == at("condition", 4001)
    assert d.message == "expression longer than 4000 characters"


@pytest.mark.parametrize(
    "condition",
    [
        "(" * 101 + "true" + ")" * 101,
        "not " * 101 + "true",
        "-" * 101 + "1 > 0",
        "max(" * 101 + "1, 1" + ")" * 101 + " > 0",
    ],
    ids=["parens", "not", "minus", "calls"],
)
def test_expression_too_deeply_nested(tmp_path: Path, condition: str) -> None:
    d = expression_error(tmp_path, condition)
    assert d.path.startswith("demo.yaml: rules[0] (demo.r1).condition at column ")
    assert d.message == "expression nested deeper than 100 levels"


def test_expression_at_the_nesting_limit_loads(tmp_path: Path) -> None:
    condition = "(" * 39 + "true" + ")" * 39
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area([rule(condition=condition)])}))
    assert book.rules[0].condition_text == condition


# --------------------------------------------------------------------------- consistency across rules


def test_duplicate_rule_ids_across_files(tmp_path: Path) -> None:
    files = {
        "demo.yaml": area([rule("demo.r1")]),
        "demo2.yaml": area([rule("demo2.r1"), rule("demo.r1")], name="demo2", metrics={}, facts={}, services={}),
    }
    err = load_error(make_book(tmp_path, files))
    assert err.summary == "the rulebook is inconsistent"
    d = only_detail(err)
    assert (d.path, d.message, d.value) == ("demo2.yaml.rules[1].id", "duplicate rule id", "demo.r1")


def test_duplicate_rule_ids_in_one_file(tmp_path: Path) -> None:
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area([rule(), rule()])})))
    assert (d.path, d.value) == ("demo.yaml.rules[1].id", "demo.r1")


def test_metric_declared_twice(tmp_path: Path) -> None:
    demo2 = area([rule("demo2.r1")], name="demo2", facts={}, services={})
    demo2["metrics"] = {"m_beds": {"kind": "value", "unit": "beds", "label": "again", "description": "again"}}
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area([rule()]), "demo2.yaml": demo2})))
    assert d.path == "demo2.yaml.metrics.m_beds"
    assert d.message == "already declared in demo.yaml"


def test_fact_and_service_declared_twice(tmp_path: Path) -> None:
    demo2 = area([rule("demo2.r1")], name="demo2", metrics={})
    demo2["facts"] = {"f_bool": {"type": "boolean", "label": "again", "description": "again"}}
    err = load_error(make_book(tmp_path, {"demo.yaml": area([rule()]), "demo2.yaml": demo2}))
    assert sorted(d.path for d in err.details) == ["demo2.yaml.facts.f_bool", "demo2.yaml.services.svc_a"]


def test_cycle_of_outcome_dependencies_is_named(tmp_path: Path) -> None:
    rules = [
        rule("demo.a", 'outcome("demo.b") == "met"'),
        rule("demo.b", 'outcome("demo.c") == "met"'),
        rule("demo.c", 'outcome("demo.a") == "met"'),
        rule("demo.d", 'outcome("demo.a") == "met"'),
        rule("demo.e", "true"),
    ]
    err = load_error(make_book(tmp_path, {"demo.yaml": area(rules)}))
    assert type(err) is pe.RulebookError
    assert "cycle" in err.summary
    d = only_detail(err)
    assert d.path == "demo.yaml"
    assert d.message == "cycle: demo.a -> demo.b -> demo.c -> demo.a"


def test_cycle_through_applicable_if(tmp_path: Path) -> None:
    rules = [
        rule("demo.a", "true", applicable_if='outcome("demo.b") == "met"'),
        rule("demo.b", 'outcome("demo.a") != "not_applicable"'),
    ]
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area(rules)})))
    assert d.message == "cycle: demo.a -> demo.b -> demo.a"


def test_a_rule_cannot_read_its_own_outcome(tmp_path: Path) -> None:
    err = load_error(make_book(tmp_path, {"demo.yaml": area([rule("demo.a", 'outcome("demo.a") == "met"')])}))
    d = only_detail(err)
    assert (d.path, d.value) == ("demo.yaml: rules[0] (demo.a).condition", "demo.a")
    assert d.message == "a rule cannot read its own outcome"


def test_outcome_of_a_rule_that_does_not_cover_this_rules_types(tmp_path: Path) -> None:
    rules = [
        rule("demo.a", 'outcome("demo.b") == "met"', applies_to=["acute_trust", "icb"]),
        rule("demo.b", "true", applies_to=["acute_trust"]),
    ]
    err = load_error(make_book(tmp_path, {"demo.yaml": area(rules)}), pe.ExpressionError)
    d = only_detail(err)
    assert d.path == at("condition", 9, "demo.a")
    assert d.message == "rule 'demo.b' does not apply to icb, which this rule applies to"


def test_outcome_of_a_rule_that_covers_more_types_is_fine(tmp_path: Path) -> None:
    rules = [
        rule("demo.a", 'outcome("demo.b") == "met"', applies_to=["icb"]),
        rule("demo.b", "true", applies_to=["acute_trust", "icb"]),
    ]
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area(rules)}))
    assert [r.id for r in book.rules] == ["demo.b", "demo.a"]
    assert book.rule("demo.a").depends_on == ("demo.b",)


# --------------------------------------------------------------------------- citations


def test_quote_not_found_in_its_source(tmp_path: Path) -> None:
    quote = "reducing Category 2 ambulance response times to an average of 20 minutes across 2024/25"
    r = rule(source={"document": DOC, "section": "S", "quote": quote})
    err = load_error(make_book(tmp_path, {"demo.yaml": area([r])}))
    assert type(err) is pe.RulebookError
    d = only_detail(err)
    assert d.path == "demo.yaml: rules[0] (demo.r1).source.quote"
    assert d.message == f"not found verbatim in {DOC}"
    assert d.value == quote[:80]


def test_quote_found_after_whitespace_normalisation(tmp_path: Path) -> None:
    quote = "reducing  Category 2\nambulance response\u00a0times   to an average of 30 minutes across 2024/25"
    r = rule(source={"document": DOC, "section": "S", "quote": quote})
    assert pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area([r])})).rules[0].source.quote == quote


def test_quote_with_a_straight_apostrophe_is_not_the_curly_one(tmp_path: Path) -> None:
    # The source has "NHS England\u2019s" (curly apostrophe); a quote must copy it exactly.
    curly = "according to NHS England\u2019s newly published"
    assert curly in (BUNDLED / "sources" / DOC).read_text(encoding="utf-8")
    ok = rule(source={"document": DOC, "section": "S", "quote": curly})
    assert pe.load_rulebook(make_book(tmp_path / "ok", {"demo.yaml": area([ok])})).rules[0].source.quote == curly
    straight = rule(source={"document": DOC, "section": "S", "quote": curly.replace("\u2019", "'")})
    d = only_detail(load_error(make_book(tmp_path / "bad", {"demo.yaml": area([straight])})))
    assert d.path == "demo.yaml: rules[0] (demo.r1).source.quote"
    assert d.value == "according to NHS England's newly published"


def test_document_that_is_not_a_source(tmp_path: Path) -> None:
    r = rule(source={"document": "wikipedia.txt", "section": "S", "quote": QUOTE})
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area([r])})))
    assert (d.path, d.value) == ("demo.yaml: rules[0] (demo.r1).source.document", "wikipedia.txt")
    assert d.message == "not one of the rulebook's sources"


@pytest.mark.parametrize("confidence", ["reconstructed", "published"])
def test_unquoted_confidence_must_cite_the_objectives_table(tmp_path: Path, confidence: str) -> None:
    d = only_detail(load_error(make_book(tmp_path, {"demo.yaml": area([rule(confidence=confidence)])})))
    assert d.path == "demo.yaml: rules[0] (demo.r1).confidence"
    assert d.message == f"{confidence} rules cite the national objectives table"
    assert d.value == DOC


def test_reconstructed_rule_citing_the_objectives_table_loads(tmp_path: Path) -> None:
    r = rule(source={"document": TABLE, "section": "row 1", "quote": TABLE_QUOTE}, confidence="reconstructed")
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area([r])}))
    assert book.rules[0].confidence == "reconstructed"


def test_source_listed_in_the_manifest_but_missing(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"demo.yaml": area([rule()])})
    (book / "sources" / "summary-for-general-practice.txt").unlink()
    d = only_detail(load_error(book))
    assert d.path == "rulebook.yaml.rulebook.sources"
    assert d.value == "summary-for-general-practice.txt"


# --------------------------------------------------------------------------- finding rulebooks


def test_unknown_bundled_rulebook_name() -> None:
    err = load_error("nhs-2099-00")
    assert err.summary == "unknown rulebook"
    d = only_detail(err)
    assert d.path == "nhs-2099-00"
    assert "bundled: nhs-2024-25" in d.message


def test_folder_without_rulebook_yaml(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(area([rule()])), encoding="utf-8")
    err = load_error(tmp_path)
    assert err.summary == "not a rulebook folder"
    d = only_detail(err)
    assert d.path == str(tmp_path)
    assert d.message == "rulebook.yaml is missing"


def test_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    d = only_detail(load_error(missing))
    assert d.path == str(missing)
    assert "expected a folder holding rulebook.yaml" in d.message


# --------------------------------------------------------------------------- the bundled rulebook


@pytest.fixture(scope="module")
def book() -> pe.Rulebook:
    return pe.load_rulebook()


def test_bundled_rulebook_loads(book: pe.Rulebook) -> None:
    assert book.id == "nhs-2024-25"
    assert len(book.rules) > 100
    assert pe.load_rulebook("nhs-2024-25") == book


def test_bundled_rule_ids_are_unique(book: pe.Rulebook) -> None:
    ids = [r.id for r in book.rules]
    assert len(ids) == len(set(ids))


def test_bundled_rules_are_in_dependency_order(book: pe.Rulebook) -> None:
    position = {r.id: i for i, r in enumerate(book.rules)}
    assert any(r.depends_on for r in book.rules), "the rulebook chains no rules: the check would be vacuous"
    for r in book.rules:
        for dep in r.depends_on:
            assert position[dep] < position[r.id], f"{r.id} reads {dep}, which comes after it"
            assert book.rule(dep).stratum <= r.stratum


def test_bundled_rule_lookup(book: pe.Rulebook) -> None:
    assert book.rule("uec.ae-4h-78").kind == "target"
    with pytest.raises(pe.RulebookError) as info:
        book.rule("uec.nope")
    assert only_detail(info.value).value == "uec.nope"


def test_digest_is_stable_across_loads(book: pe.Rulebook) -> None:
    again = pe.load_rulebook()
    assert again.digest == book.digest
    assert again == book and hash(again) == hash(book)
    assert len(book.digest) == 64


def _copy_bundled(tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    dest.mkdir()
    for entry in BUNDLED.iterdir():
        if entry.is_file():
            (dest / entry.name).write_bytes(entry.read_bytes())
    (dest / "sources").mkdir()
    for entry in (BUNDLED / "sources").iterdir():
        (dest / "sources" / entry.name).write_bytes(entry.read_bytes())
    return dest


def test_digest_depends_on_content_not_location(tmp_path: Path, book: pe.Rulebook) -> None:
    copy = pe.load_rulebook(_copy_bundled(tmp_path))
    assert copy.digest == book.digest
    assert copy.location != book.location


def test_digest_changes_when_a_rule_file_changes(tmp_path: Path, book: pe.Rulebook) -> None:
    dest = _copy_bundled(tmp_path)
    path = dest / "urgent-emergency-care.yaml"
    text = path.read_text(encoding="utf-8")
    assert "threshold: {value: 78, unit: percent" in text
    path.write_text(text.replace("threshold: {value: 78, unit: percent", "threshold: {value: 77, unit: percent", 1))
    changed = pe.load_rulebook(dest)
    assert changed.digest != book.digest
    assert changed != book
    assert changed.rule("uec.ae-4h-78").parameters["threshold"].value == 77


def test_digest_changes_when_a_source_changes(tmp_path: Path, book: pe.Rulebook) -> None:
    dest = _copy_bundled(tmp_path)
    with (dest / "sources" / "summary-for-general-practice.txt").open("a", encoding="utf-8") as f:
        f.write("\nAn added line.\n")
    assert pe.load_rulebook(dest).digest != book.digest


# --------------------------------------------------------------------------- obligation timings


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"kind": "obligation"}, "demo.yaml.rules[0]", "'timing' is a required property"),
        (
            {"kind": "obligation", "timing": "dated"},
            "(demo.r1).timing",
            "a dated obligation needs the deadline the text gives",
        ),
        (
            {"kind": "obligation", "timing": "standing", "deadline": "2024-06-30"},
            "(demo.r1).deadline",
            "a standing obligation has no deadline of its own",
        ),
        (
            {"kind": "obligation", "timing": "within_year", "deadline": "2024-06-30"},
            "(demo.r1).deadline",
            "a within_year obligation has no deadline of its own",
        ),
        ({"timing": "standing"}, "(demo.r1).timing", "only obligations have a timing"),
        (
            {"kind": "obligation", "timing": "dated", "deadline": "2025-04-01"},
            "(demo.r1).deadline",
            "outside the planning year 2024-04-01..2025-03-31",
        ),
        ({"deadline": "2024-03-31"}, "(demo.r1).deadline", "outside the planning year"),
        ({"kind": "obligation", "timing": "sometimes"}, "demo.yaml.rules[0].timing", "is not one of"),
    ],
)
def test_obligation_timings_are_checked(tmp_path: Path, fields: dict[str, Any], path: str, message: str) -> None:
    book = make_book(tmp_path, {"demo.yaml": area([rule(**fields)])})
    detail = only_detail(load_error(book))
    assert path in detail.path and message in detail.message, str(detail)


def test_timings_set_the_dates_they_judge_by(tmp_path: Path) -> None:
    rules = [
        rule("demo.standing", kind="obligation", timing="standing"),
        rule("demo.within", kind="obligation", timing="within_year"),
        rule("demo.dated", kind="obligation", timing="dated", deadline="2024-06-30"),
    ]
    book = pe.load_rulebook(make_book(tmp_path, {"demo.yaml": area(rules)}))
    standing, within, dated = (book.rule(r) for r in ("demo.standing", "demo.within", "demo.dated"))
    assert (standing.in_force, standing.deadline) == (book.start, None)
    assert (within.deadline, within.in_force) == (book.end, None)
    assert dated.deadline is not None and dated.deadline.isoformat() == "2024-06-30"
    assert "Standing requirement: must hold on every date from 1 April 2024" in standing.timing_text()
    assert "by 31 March 2025 (the text gives no date)" in within.timing_text()
    assert within.timing_label() == "by 31 March 2025 (within the year)" and dated.timing_label() == "by 30 June 2024"
    assert standing.negative_status == "not_met" and within.negative_status == "overdue"


@st.composite
def _rule_graphs(draw: st.DrawFn) -> dict[str, tuple[tuple[str, ...], bool]]:
    """Rule ids -> (the ids they read, whether they rank), acyclic: a rule reads only rules drawn before it."""
    ids = draw(st.lists(st.sampled_from([f"r{i:02d}" for i in range(40)]), min_size=1, max_size=15, unique=True))
    return {
        rid: (tuple(sorted(draw(st.sets(st.sampled_from(ids[:k]), max_size=3)))) if k else (), draw(st.booleans()))
        for k, rid in enumerate(ids)
    }


@given(_rule_graphs())
def test_rules_are_ordered_smallest_ready_id_first(graph: dict[str, tuple[tuple[str, ...], bool]]) -> None:
    """The order of ``book.rules`` (seen in outcomes, traces and the docs): after its dependencies,
    the smallest id of the rules that are ready; a rule that ranks is one stratum above what it reads."""
    template = default_rulebook().rules[0]  # loaded once for every example
    rules = {
        rid: attrs.evolve(template, id=rid, depends_on=deps, uses_rank=ranks) for rid, (deps, ranks) in graph.items()
    }
    done: dict[str, int] = {}
    for r in _order(rules):
        ready = [rid for rid, (deps, _) in graph.items() if rid not in done and all(d in done for d in deps)]
        assert r.id == min(ready)
        assert r.stratum == max((done[d] for d in r.depends_on), default=0) + r.uses_rank
        done[r.id] = r.stratum
    assert sorted(done) == sorted(graph)


def _read_both(text: str) -> tuple[object, object]:

    from policy_engine.rulebook import loader

    def outcome(read: Callable[[], object]) -> object:
        try:
            return read()
        except RecursionError:  # read_yaml words it itself ("nesting too deep")
            return RecursionError
        except Exception as exc:
            return (type(exc), str(exc))

    return (
        outcome(lambda: loader._load(text)),
        outcome(lambda: yaml.load(text, Loader=loader._SafeNoAliasLoader)),
    )


def test_libyaml_reads_every_rule_file_as_the_pure_python_reader_does() -> None:
    """The fast path (libyaml) gives the same document as ``_SafeNoAliasLoader``, or the same
    error worded the same way, for every file it reads (rule files, the coverage ledger, overlays;
    scenario files have their own reader), and for hostile inputs."""
    repo = Path(__file__).resolve().parent.parent
    files = sorted(p for d in (policies_root(), repo / "examples") for p in Path(d).rglob("*.y*ml"))
    assert len(files) > 15
    for path in files:
        fast, slow = _read_both(path.read_text(encoding="utf-8"))
        assert fast == slow, path
    for hostile in ("a: &x 1\nb: *x\n", "a: &x [1]\n", "a: 1\na: 2\n", "a: [1\n", "a: 2025-02-30\n", "[" * 2000):
        fast, slow = _read_both(hostile)
        assert slow is RecursionError or isinstance(slow, tuple)
        assert fast == slow, hostile[:20]


def test_a_rulebook_is_read_again_only_when_a_file_it_was_read_from_changes(tmp_path: Path) -> None:
    """``load_rulebook`` returns the rulebook it last loaded from a folder while the digest over
    every file (rule files, the ledger, the source texts) is unchanged; any edit reloads it."""
    import shutil

    folder = tmp_path / "book"
    shutil.copytree(BUNDLED, folder)
    first = pe.load_rulebook(folder)
    assert pe.load_rulebook(folder) is first
    source = next((folder / "sources").iterdir())
    source.write_bytes(source.read_bytes() + b"\n")
    second = pe.load_rulebook(folder)
    assert second is not first and second.digest != first.digest
    rule_file = folder / "cancer.yaml"
    rule_file.write_text(rule_file.read_text(encoding="utf-8").replace("title:", "title:", 1) + "\n", encoding="utf-8")
    third = pe.load_rulebook(folder)
    assert third is not second and third.digest != second.digest
    rule_file.write_text("rules: [", encoding="utf-8")
    with pytest.raises(pe.RulebookError):
        pe.load_rulebook(folder)


# --------------------------------------------------------------------------- bundled names and folders (issue 20)


def _modified_copy(folder: Path) -> Path:
    """A copy of the bundled rulebook in ``folder/nhs-2024-25``, its 78% A&E threshold made 70%."""
    import shutil

    copy = folder / "nhs-2024-25"
    shutil.copytree(Path(str(policies_root() / "nhs-2024-25")), copy)
    rules = copy / "urgent-emergency-care.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "threshold: {value: 78, unit: percent" in text
    rules.write_text(
        text.replace("threshold: {value: 78, unit: percent", "threshold: {value: 70, unit: percent"), "utf-8"
    )
    return copy


def test_a_folder_named_like_a_bundled_rulebook_does_not_replace_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _modified_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    bundled = pe.load_rulebook("nhs-2024-25")
    assert bundled.source == "bundled"
    assert bundled.rule("uec.ae-4h-78").parameters["threshold"].value == 78
    folder = pe.load_rulebook("./nhs-2024-25")
    assert folder.source == str(copy)  # absolute, whatever the directory is later
    assert folder.rule("uec.ae-4h-78").parameters["threshold"].value == 70
    assert folder.digest != bundled.digest
    assert pe.load_rulebook(Path("nhs-2024-25")).source == str(copy)  # a Path is a path


@given(name=st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=20))
def test_a_name_is_read_as_a_folder_only_if_it_looks_like_a_path(name: str) -> None:
    from policy_engine.rulebook.loader import looks_like_path

    expected = any(sep in name for sep in {"/", os.sep, os.altsep or "/"}) or os.path.isabs(name) or name in (".", "..")
    assert looks_like_path(name) == bool(expected)
    assert looks_like_path(Path("x")) is True
    if not expected and name not in bundled_rulebooks():
        err = load_error(name)
        assert err.summary == "unknown rulebook"
        assert only_detail(err).code == "rulebook.not_found"


def test_an_unknown_name_beside_a_folder_of_that_name_says_how_to_read_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_book(tmp_path, {"demo.yaml": area([rule()])})
    monkeypatch.chdir(tmp_path)
    d = only_detail(load_error("book"))
    assert d.path == "book"
    assert d.message.endswith("; to read the folder book here, write ./book")
    assert pe.load_rulebook("./book").source == str(tmp_path / "book")


def test_a_rule_file_over_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    from policy_engine.rulebook.loader import MAX_RULE_FILE_BYTES

    src = policies_root() / "nhs-2024-25"
    (tmp_path / "rulebook.yaml").write_bytes((src / "rulebook.yaml").read_bytes())
    shutil.copytree(str(src / "sources"), tmp_path / "sources")
    with (tmp_path / "urgent-emergency-care.yaml").open("wb") as fh:
        fh.truncate(50 * MAX_RULE_FILE_BYTES)  # a sparse 100 MiB file
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(tmp_path)
    [detail] = info.value.details
    assert detail.code == "rulebook.too_large" and detail.value == f"more than {MAX_RULE_FILE_BYTES} bytes"

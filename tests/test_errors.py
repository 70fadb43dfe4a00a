"""Error details: every problem the package reports has a code from the documented vocabulary and a
structured location that renders to the path text shown today; no decision reads error text."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.audit.coverage import load_coverage
from policy_engine.audit.records import verify_record
from policy_engine.errors import UNCODED, ErrorCode, ErrorDetail
from policy_engine.importers import read_reference
from policy_engine.rulebook.overlay import apply_overlay, load_overlay
from policy_engine.testing import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "policy_engine"
BUNDLED = policies_root() / "nhs-2024-25"
BOOK = pe.load_rulebook()
DOC = "news-hhe-designated-lead.txt"
QUOTE = "reducing Category 2 ambulance response times to an average of 30 minutes across 2024/25"

UNCODED_FILES: set[str] = set()
"""Files whose details are not coded yet: none."""


# --------------------------------------------------------------------------- bad inputs


def _rule(rid: str = "demo.r1", condition: str = "true", **fields: Any) -> dict[str, Any]:
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


def _area(*rules: dict[str, Any], name: str = "demo") -> dict[str, Any]:
    return {
        "area": name,
        "title": "Demo area",
        "metrics": {
            "m_prop": {"kind": "proportion", "unit": "percent", "label": "a proportion", "description": "a proportion"}
        },
        "facts": {"f_date": {"type": "date", "label": "a date", "description": "a date"}},
        "rules": list(rules),
    }


def _book(tmp: Path, files: dict[str, Any], manifest: bool = True) -> Path:
    book = tmp / "book"
    (book / "sources").mkdir(parents=True, exist_ok=True)
    if manifest:
        (book / "rulebook.yaml").write_bytes((BUNDLED / "rulebook.yaml").read_bytes())
    for entry in (BUNDLED / "sources").iterdir():
        (book / "sources" / entry.name).write_bytes(entry.read_bytes())
    for name, content in files.items():
        if isinstance(content, bytes):
            (book / name).write_bytes(content)
        else:
            text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
            (book / name).write_text(text, encoding="utf-8")
    return book


def _org(**fields: Any) -> dict[str, Any]:
    return {"id": "EXA", "type": "acute_trust", **fields}


def _state(*orgs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"as_of": "2025-04-30", "organisations": list(orgs), **fields}


def _validate(doc: Any) -> Callable[[Path], list[ErrorDetail]]:
    return lambda tmp: pe.validate_state(doc, BOOK)


def _raises(call: Callable[[Path], object]) -> Callable[[Path], list[ErrorDetail]]:
    def run(tmp: Path) -> list[ErrorDetail]:
        with pytest.raises(pe.PolicyError) as info:
            call(tmp)
        return list(info.value.details)

    return run


def _load(files: dict[str, Any], manifest: bool = True) -> Callable[[Path], list[ErrorDetail]]:
    return _raises(lambda tmp: pe.load_rulebook(_book(tmp, files, manifest)))


def _write(name: str, text: str | bytes, then: Callable[[Path], object]) -> Callable[[Path], list[ErrorDetail]]:
    def call(tmp: Path) -> object:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return then(path)

    return _raises(call)


OVERLAY = "overlay: {id: x, title: t, rulebook: nhs-2024-25}\nparameters:\n"
PROP = "cancer_fds_28day"  # a proportion of the bundled catalogue
VALUE = "cancer_62day_backlog"  # a value metric
FACT = "cancer_teledermatology_adoption_accelerated"  # a boolean fact

CASES: dict[str, tuple[Callable[[Path], list[ErrorDetail]], list[tuple[ErrorCode, str]]]] = {
    "state schema": (
        _validate(_state(_org(type="nope"))),
        [(ErrorCode.STATE_SCHEMA, "state.organisations[0].type")],
    ),
    "state value": (
        _validate(_state(_org(), extra=float("nan"))),
        [(ErrorCode.STATE_VALUE, "state.extra")],
    ),
    "state duplicate and reference": (
        _validate(_state(_org(), _org(), _org(id="EXB", parent="EXA"))),
        [
            (ErrorCode.STATE_DUPLICATE, "state.organisations[1].id"),
            (ErrorCode.STATE_REFERENCE, "state.organisations[2].parent"),
        ],
    ),
    "state catalogue": (
        _validate(
            _state(
                _org(
                    services=["nope"],
                    metrics={
                        "nope": [],
                        PROP: [{"period": "2025-03", "numerator": 5, "denominator": 4}],
                        VALUE: [{"period": "2025-03", "numerator": 1, "denominator": 2}],
                    },
                    facts=[
                        {"name": "nope", "date": "2025-03-01", "value": True},
                        {"name": FACT, "date": "2025-03-01", "value": 3},
                    ],
                )
            )
        ),
        [
            (ErrorCode.STATE_UNKNOWN_SERVICE, "state.organisations[0].services"),
            (ErrorCode.STATE_METRIC_KIND, f"state.organisations[0].metrics.{VALUE}[0]"),
            (ErrorCode.STATE_PROPORTION, f"state.organisations[0].metrics.{PROP}[0]"),
            (ErrorCode.STATE_UNKNOWN_METRIC, "state.organisations[0].metrics.nope"),
            (ErrorCode.STATE_UNKNOWN_FACT, "state.organisations[0].facts[0].name"),
            (ErrorCode.STATE_FACT_TYPE, "state.organisations[0].facts[1].value"),
        ],
    ),
    "state syntax": (_raises(lambda tmp: pe.state_from_json("{\n  [")), [(ErrorCode.STATE_PARSE, "line 2 column 3")]),
    "state duplicate key": (
        _raises(lambda tmp: pe.state_from_json('{"a": 1, "a": 2}')),
        [(ErrorCode.STATE_PARSE, "$")],
    ),
    "state encoding": (_raises(lambda tmp: pe.state_from_json(b"\xff")), [(ErrorCode.STATE_ENCODING, "$")]),
    "state file": (
        _raises(lambda tmp: pe.load_state(tmp / "none.json")),
        [(ErrorCode.STATE_READ, "{tmp}/none.json")],
    ),
    "no as_of": (
        _raises(lambda tmp: pe.evaluate({"organisations": [_org()]}, BOOK)),
        [(ErrorCode.STATE_AS_OF, "state.as_of")],
    ),
    "no organisation": (
        _raises(lambda tmp: pe.state_from_dict(_state(_org())).organisation("NOPE")),
        [(ErrorCode.STATE_UNKNOWN_ORGANISATION, "organisations")],
    ),
    "unknown rulebook": (
        _raises(lambda tmp: pe.load_rulebook("no-such-book")),
        [(ErrorCode.RULEBOOK_NOT_FOUND, "no-such-book")],
    ),
    "no manifest": (
        _load({"demo.yaml": _area(_rule())}, manifest=False),
        [(ErrorCode.RULEBOOK_NOT_FOUND, "{tmp}/book")],
    ),
    "yaml": (
        _load({"demo.yaml": "area: demo\ntitle: Demo\n  bad: indent\n"}),
        [(ErrorCode.RULEBOOK_PARSE, "demo.yaml:3:6")],
    ),
    "rule file encoding": (_load({"demo.yaml": b"area: \xff"}), [(ErrorCode.RULEBOOK_ENCODING, "demo.yaml")]),
    "rulebook schema": (
        _load({"demo.yaml": _area({k: v for k, v in _rule().items() if k != "title"})}),
        [(ErrorCode.RULEBOOK_SCHEMA, "demo.yaml.rules[0]")],
    ),
    "rulebook inconsistent": (
        _load({"demo.yaml": _area(_rule(), _rule(), name="other")}),
        [
            (ErrorCode.RULEBOOK_INCONSISTENT, "demo.yaml.area"),
            (ErrorCode.RULEBOOK_DUPLICATE, "demo.yaml.rules[1].id"),
        ],
    ),
    "rules": (
        _load(
            {
                "demo.yaml": _area(
                    _rule("demo.a", deadline="2030-01-31"),
                    _rule("demo.b", timing="standing"),
                    _rule("demo.c", period="nope"),
                    _rule("demo.d", source={"document": DOC, "section": "s", "quote": "not in the text"}),
                    _rule("demo.e", cohort="national"),
                    _rule("demo.f", "1 +"),
                    _rule("demo.g", "param.nope > 1"),
                )
            }
        ),
        [
            (ErrorCode.RULE_DEADLINE, "demo.yaml: rules[0] (demo.a).deadline"),
            (ErrorCode.RULE_TIMING, "demo.yaml: rules[1] (demo.b).timing"),
            (ErrorCode.RULE_PERIOD, "demo.yaml: rules[2] (demo.c).period"),
            (ErrorCode.RULE_SOURCE, "demo.yaml: rules[3] (demo.d).source.quote"),
            (ErrorCode.RULE_COHORT, "demo.yaml: rules[4] (demo.e).cohort"),
            (ErrorCode.EXPRESSION_PARSE, "demo.yaml: rules[5] (demo.f).condition at column 4"),
            (ErrorCode.EXPRESSION_UNKNOWN_NAME, "demo.yaml: rules[6] (demo.g).condition at column 1"),
        ],
    ),
    "expressions": (
        _load(
            {
                "demo.yaml": _area(
                    _rule("demo.a", "1"),
                    _rule("demo.b", "1 and true"),
                    _rule("demo.c", 'outcome("demo.c") == "met"'),
                    _rule("demo.d", completed_on="fact_date(f_date)"),
                )
            }
        ),
        [
            (ErrorCode.EXPRESSION_TYPE, "demo.yaml: rules[0] (demo.a).condition"),
            (ErrorCode.EXPRESSION_TYPE, "demo.yaml: rules[1] (demo.b).condition at column 3"),
            (ErrorCode.EXPRESSION_SELF_REFERENCE, "demo.yaml: rules[2] (demo.c).condition"),
            (ErrorCode.RULE_COMPLETED_ON, "demo.yaml: rules[3] (demo.d).completed_on"),
        ],
    ),
    "cycle": (
        _load(
            {
                "demo.yaml": _area(
                    _rule("demo.a", 'outcome("demo.b") == "met"'), _rule("demo.b", 'outcome("demo.a") == "met"')
                )
            }
        ),
        [(ErrorCode.RULE_CYCLE, "demo.yaml")],
    ),
    "unknown rule": (_raises(lambda tmp: BOOK.rule("nope")), [(ErrorCode.RULEBOOK_UNKNOWN_RULE, "nhs-2024-25")]),
    "no ledger": (
        _raises(lambda tmp: load_coverage(pe.load_rulebook(_book(tmp, {"demo.yaml": _area(_rule())})))),
        [(ErrorCode.COVERAGE_MISSING, "{tmp}/book")],
    ),
    "ledger": (
        _raises(
            lambda tmp: load_coverage(
                pe.load_rulebook(
                    _book(
                        tmp,
                        {
                            "demo.yaml": _area(_rule()),
                            "coverage.yaml": {
                                "ledger": [
                                    {
                                        "id": "demo.l1",
                                        "area": "demo",
                                        "document": "nope.md",
                                        "section": "s",
                                        "quote": "a quote from nowhere",
                                        "rules": ["demo.nope"],
                                    }
                                ]
                            },
                        },
                    )
                )
            )
        ),
        [
            (ErrorCode.COVERAGE_SOURCE, "coverage.yaml.ledger[0] (demo.l1).document"),
            (ErrorCode.COVERAGE_UNKNOWN_RULE, "coverage.yaml.ledger[0] (demo.l1).rules"),
            (ErrorCode.COVERAGE_UNLISTED_RULE, "coverage.yaml"),
        ],
    ),
    "overlay yaml": (_write("o.yaml", "overlay: [", load_overlay), [(ErrorCode.OVERLAY_PARSE, "o.yaml:1:11")]),
    "overlay encoding": (_write("o.yaml", b"\xff", load_overlay), [(ErrorCode.OVERLAY_ENCODING, "{tmp}/o.yaml")]),
    "overlay schema": (
        _write("o.yaml", OVERLAY + "  uec.ae-4h-78:\n    threshold: {value: 80}\n", load_overlay),
        [(ErrorCode.OVERLAY_SCHEMA, "o.yaml.parameters.uec.ae-4h-78.threshold")],
    ),
    "overlay parameters": (
        _write(
            "o.yaml",
            OVERLAY
            + "  demo.nope:\n    x: {value: 1, reason: why}\n  uec.ae-4h-78:\n    nope: {value: 1, reason: why}\n"
            + "    threshold: {value: 1, unit: days, reason: why}\n",
            lambda p: apply_overlay(BOOK, load_overlay(p)),
        ),
        [
            (ErrorCode.OVERLAY_UNKNOWN_RULE, "overlay x.parameters.demo.nope"),
            (ErrorCode.OVERLAY_UNKNOWN_PARAMETER, "overlay x.parameters.uec.ae-4h-78.nope"),
            (ErrorCode.OVERLAY_UNIT, "overlay x.parameters.uec.ae-4h-78.threshold.unit"),
        ],
    ),
    "record": (
        _raises(lambda tmp: verify_record([], pe.state_from_dict(_state(_org())), BOOK)),
        [(ErrorCode.RECORD_SCHEMA, "record")],
    ),
    "reference table": (
        _write("orgs.csv", "ods_code,name,type,icb\nR Z,B,acute_trust,\nRZY,C,hospital,\n", read_reference),
        [(ErrorCode.IMPORT_REFERENCE, "{tmp}/orgs.csv:2"), (ErrorCode.IMPORT_REFERENCE, "{tmp}/orgs.csv:3")],
    ),
    "scenario file": (
        _write("s.yaml", "scenarios:\n  - name: x\n", load_scenarios),
        [(ErrorCode.SCENARIO_FORMAT, "{tmp}/s.yaml: scenarios[0]")],
    ),
    "selector": (
        _raises(lambda tmp: pe.evaluate(_state(_org()), BOOK).find(org_id="EXZ")),
        [(ErrorCode.SELECTOR_UNKNOWN, "org_id")],
    ),
    "backend": (
        _raises(lambda tmp: pe.evaluate(_state(_org()), BOOK, backend="nope")),  # type: ignore[arg-type]
        [(ErrorCode.ARGUMENT_VALUE, "backend")],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_has_its_code_and_path(tmp_path: Path, case: str) -> None:
    call, expected = CASES[case]
    details = call(tmp_path)
    got = [(d.code, d.path.replace(str(tmp_path), "{tmp}")) for d in details]
    assert got == expected
    for d in details:
        assert d.code in set(ErrorCode)
        assert str(d).startswith(d.where + ": ")


def _walk(document: Any, location: tuple[str | int, ...]) -> None:
    """Every step of a location but the last exists in the document (the last may be missing)."""
    node = document
    for step in location[:-1]:
        node = node[step]
        assert isinstance(node, (dict, list))


def test_a_location_is_the_json_path_of_what_it_names() -> None:
    doc = _state(_org(metrics={"nope": [], PROP: [{"period": "2025-03", "numerator": 5, "denominator": 4}]}))
    details = pe.validate_state(doc, BOOK)
    assert details
    for d in details:
        assert d.subject == "state"
        _walk(doc, d.location)
        assert d.org == "EXA" and d.where.startswith("state.organisations[0] (EXA).")
    assert sorted(d.location for d in details) == [
        ("organisations", 0, "metrics", PROP, 0),
        ("organisations", 0, "metrics", "nope"),
    ]


def test_the_json_form_holds_the_code_and_the_location() -> None:
    (detail,) = pe.validate_state(_state(_org(type="nope")))
    form = detail.to_dict()
    assert form["code"] == "state.schema" and form["location"] == ["organisations", 0, "type"]
    assert form["path"] == "state.organisations[0].type" and form["org"] == "EXA"
    assert json.loads(json.dumps(form)) == form
    assert set(form) == {"code", "path", "subject", "location", "label", "line", "column", "org", "message", "value"}


def test_an_uncoded_detail_keeps_its_text_as_the_path() -> None:
    detail = ErrorDetail("columns['x']", "unknown column", "x")
    assert detail.code == UNCODED and UNCODED not in set(ErrorCode)
    assert str(detail) == "columns['x']: unknown column (got x)"


def test_every_detail_outside_the_uncoded_files_is_made_with_a_code() -> None:
    uncoded: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if isinstance(node, ast.Call) and name == "ErrorDetail" and "code" not in {k.arg for k in node.keywords}:
                uncoded.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.lineno)
    assert set(uncoded) <= UNCODED_FILES, uncoded


def test_the_documented_codes_are_the_codes() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    table = text.split("## The codes", 1)[1]
    documented = re.findall(r"^\| `([a-z_.]+)` \|", table, flags=re.MULTILINE)
    assert documented == [c.value for c in ErrorCode]  # the same codes, in the same order


def test_no_decision_reads_error_text() -> None:
    """Code that decides by an error's text (its summary, path or message) is the bug this vocabulary removes."""
    pattern = re.compile(
        r"\.summary ==|\.summary in |in str\(exc\)|\.path\.(startswith|endswith)|in e\.path|in d\.path"
    )
    found = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []

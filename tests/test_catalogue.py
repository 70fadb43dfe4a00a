"""The data dictionary (issue 16, item 3; decision 028): ``audit.catalogue`` lists what each
organisation type's rules read, ``policy-engine catalogue`` prints it, and the templates that
``policy-engine template`` writes are read back by ``evaluate`` (a blank template is unknown
throughout; filled cells give the outcomes the same data gives as a JSON state)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import cli, tabular
from policy_engine.audit.catalogue import CATEGORIES, catalogue, month_range, reads
from policy_engine.audit.template import (
    default_as_of,
    render_template,
    template_columns,
    template_state,
    write_template,
)
from policy_engine.data.state import state_from_dict
from policy_engine.language.ast import Call, Name, walk
from policy_engine.language.rules import ORGANISATION_TYPES

BOOK = pe.load_rulebook("nhs-2024-25")
TYPES_WITH_RULES = [t for t in ORGANISATION_TYPES if any(r.applies_to_type(t) for r in BOOK.rules)]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- the catalogue


def test_the_whole_catalogue_lists_every_metric_fact_and_service() -> None:
    entries = catalogue(BOOK)
    assert [e.name for e in entries if e.category == "metric"] == sorted(BOOK.metrics)
    assert [e.name for e in entries if e.category == "fact"] == sorted(BOOK.facts)
    assert [e.name for e in entries if e.category == "service"] == sorted(BOOK.services)
    m = next(e for e in entries if e.name == "ae_4h_all")
    assert (m.kind, m.unit, m.rules, m.months, m.org_types) == (
        "proportion",
        "percent",
        ("uec.ae-4h-78",),
        ("2025-03",),
        ("acute_trust",),
    )
    assert m.description == BOOK.metrics["ae_4h_all"].description


def _names_in_text(rule: pe.Rule) -> set[str]:
    """Every identifier in a rule's expression texts: an independent over-approximation of what it reads."""
    texts = [rule.condition_text, rule.applicable_if_text or "", rule.completed_on_text or ""]
    return {w for t in texts for w in re.findall(r"[a-z][a-z0-9_]*", t)}


@pytest.mark.parametrize("org_type", ORGANISATION_TYPES)
def test_a_type_lists_exactly_what_its_rules_read(org_type: str) -> None:
    entries = catalogue(BOOK, org_type)
    mine = [r for r in BOOK.rules if r.applies_to_type(org_type)]
    for e in entries:
        assert e.rules, e
        assert e.org_types == (org_type,)
        for rid in e.rules:
            rule = BOOK.rule(rid)
            assert rule.applies_to_type(org_type)
            assert e.name in _names_in_text(rule)  # it does name the item
    listed = {(e.category, e.name) for e in entries}
    for rule in mine:
        for node in (n for x in (rule.condition, rule.applicable_if, rule.completed_on) if x for n in walk(x)):
            if isinstance(node, Call) and isinstance(node.args[0] if node.args else None, Name):
                name = node.args[0].dotted  # type: ignore[union-attr]
                category = {"has_service": "service", "fact": "fact", "fact_date": "fact", "has_fact": "fact"}.get(
                    node.func, "metric" if name in BOOK.metrics else None
                )
                if category is not None and node.func != "outcome":
                    assert (category, name) in listed, (rule.id, name)


def test_a_metrics_months_are_the_periods_its_rules_read() -> None:
    for e in catalogue(BOOK, "icb"):
        if e.category != "metric":
            continue
        months = set()
        for rid in e.rules:
            months |= reads(BOOK.rule(rid), BOOK).metrics[e.name]
        assert [pe_month(m) for m in e.months] == sorted(months)


def pe_month(text: str) -> int:
    from policy_engine.language.months import parse_month

    return parse_month(text)


def test_month_ranges_in_words() -> None:
    assert month_range(("2024-03", "2025-03")) == "2024-03, 2025-03"
    assert month_range(("2024-11", "2024-12", "2025-01")) == "2024-11 to 2025-01"
    assert month_range(("2024-01", "2024-02", "2024-05")) == "2024-01 to 2024-02, 2024-05"
    assert month_range(()) == ""


def test_an_unknown_type_is_named_with_its_close_match() -> None:
    with pytest.raises(pe.SelectorError) as info:
        catalogue(BOOK, "acute")
    (detail,) = info.value.details
    assert detail.code == pe.ErrorCode.SELECTOR_UNKNOWN
    assert "acute_trust" in detail.message
    code, out, err = _run(["catalogue", "--type", "acute"])
    assert (code, out) == (2, "")
    assert "--type: no organisation type 'acute'; did you mean acute_trust?" in err
    with pytest.raises(pe.PolicyError):
        catalogue("nhs-2024-25")  # type: ignore[arg-type]


def test_the_command_in_each_format() -> None:
    code, text, _ = _run(["catalogue", "--type", "acute_trust", "--format", "json"])
    assert code == 0
    as_json = json.loads(text)
    assert as_json == [e.to_dict() for e in catalogue(BOOK, "acute_trust")]
    code, text, _ = _run(["catalogue", "--type", "acute_trust", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == [e["name"] for e in as_json]
    assert {r["category"] for r in rows} <= set(CATEGORIES)
    row = next(r for r in rows if r["name"] == "ae_4h_type1")
    assert row["rules"] == "uec.type1-ae-greatest-improvement;uec.type1-ae-over-80"
    assert row["months"] == "2024-03;2025-03"
    code, text, _ = _run(["catalogue", "--type", "acute_trust"])
    assert "metric ae_4h_all  [proportion, percent; urgent-emergency-care]" in text
    assert "    read by: uec.ae-4h-78" in text
    assert text.endswith("19 metrics, 59 facts and 5 services read by the rules for acute_trust in nhs-2024-25 0.1.0\n")
    code, text, _ = _run(["catalogue"])
    counts = f"{len(BOOK.metrics)} metrics, {len(BOOK.facts)} facts and {len(BOOK.services)} services"
    assert text.endswith(f"{counts} in the catalogue of nhs-2024-25 {BOOK.version}\n")  # the shared vocabulary


def test_the_generated_page_lists_every_entry() -> None:
    from policy_engine.render.pages import render_pages

    page = render_pages(BOOK, with_scenarios=False)["data-dictionary.md"]
    for e in catalogue(BOOK):
        assert f"| `{e.name}` |" in page, e.name
    assert "| acute trusts (`acute_trust`) | 19 | 59 | 5 | 76 |" in page
    assert "[`uec.ae-4h-78`](urgent-emergency-care.md#uec.ae-4h-78)" in page


# --------------------------------------------------------------------------- templates


def test_the_table_template_has_the_columns_the_types_rules_read() -> None:
    cols = template_columns(BOOK, "acute_trust", "wide")
    assert cols[:5] == ("state_id", "org_id", "org_type", "as_of", "services")
    assert "metric.ae_4h_all.2025-03.numerator" in cols and "metric.ae_4h_all.2025-03.denominator" in cols
    assert "metric.ae_4h_all.2025-02.numerator" not in cols  # no rule reads February
    assert len(cols) == len(set(cols))
    for col in cols[5:]:
        part = col.split(".")[1]
        assert part in BOOK.metrics or part in BOOK.facts
    practice = template_columns(BOOK, "gp_practice", "wide")
    assert "services" not in practice  # no practice rule reads a service
    long = template_columns(BOOK, "acute_trust")  # the default: a row per month, a period column
    assert long[:6] == ("state_id", "org_id", "org_type", "as_of", "period", "services")
    assert "metric.ae_4h_all.numerator" in long and "metric.ae_4h_all.2025-03.numerator" not in long
    assert {c for c in long if c.startswith("fact.")} == {c for c in cols if c.startswith("fact.")}
    assert {c.rsplit(".", 1)[0].split(".")[1] for c in long if c.startswith("metric.")} == {
        c.split(".")[1] for c in cols if c.startswith("metric.")
    }


def _statuses_jsonl(path: Path) -> dict[str, str | None]:
    (line,) = path.read_text().splitlines()
    statuses: dict[str, str | None] = json.loads(line)["statuses"]
    return statuses


def _state_statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {o.rule_id: o.status for o in pe.evaluate(state_from_dict(doc), BOOK, backend="native").outcomes}


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [("csv", []), ("csv", ["--layout", "wide"]), ("xlsx", []), ("xlsx", ["--layout", "wide"]), ("json", [])],
)
def test_a_blank_template_reads_back_as_unknown(fmt: str, layout: list[str], tmp_path: Path) -> None:
    path = tmp_path / f"input.{fmt}"
    code, out, err = _run(["template", "--type", "acute_trust", "-o", str(path), *layout])
    assert (code, out, err) == (0, "", "")
    applies = {r.id for r in BOOK.rules if r.applies_to_type("acute_trust")}
    if fmt == "json":
        doc = json.loads(path.read_text())
        assert doc["as_of"] == default_as_of(BOOK).isoformat() == "2025-04-01"
        got: dict[str, Any] = _state_statuses(doc)
    else:
        code, _, _ = _run(["evaluate", str(path), "--batch", "-o", str(tmp_path / "s.jsonl")])
        assert code == 0
        got = {k: v for k, v in _statuses_jsonl(tmp_path / "s.jsonl").items() if v is not None}
    assert set(got) == applies
    assert set(got.values()) == {"unknown"}


def _fill_csv(text: str, cells: dict[str, str]) -> str:
    header, row = list(csv.reader(io.StringIO(text)))
    row = [cells.get(c, v) for c, v in zip(header, row, strict=True)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, row])
    return buf.getvalue()


def test_filled_cells_give_outcomes(tmp_path: Path) -> None:
    text = render_template(BOOK, "acute_trust", "csv", layout="wide").decode()
    filled = _fill_csv(
        text,
        {
            "services": "type1_ae",  # the rule applies to a trust with an A&E department
            "metric.ae_4h_all.2025-03.numerator": "16326",
            "metric.ae_4h_all.2025-03.denominator": "22012",
        },
    )
    (tmp_path / "in.csv").write_text(filled)
    tabular.evaluate_table(tmp_path / "in.csv", tmp_path / "s.jsonl", BOOK)
    statuses = _statuses_jsonl(tmp_path / "s.jsonl")
    assert statuses["uec.ae-4h-78"] == "not_met"  # 74.2% < 78%
    assert statuses["canc.fds-77-mar-2025"] == "unknown"


def _xlsx_with(path: Path, cells: dict[str, Any]) -> None:
    """Rewrite a template workbook's table sheet with ``cells`` typed in (numbers as numbers)."""
    import python_calamine
    import xlsxwriter

    rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("table").to_python()
    header, row = rows[0], rows[1]
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("table")
    for j, name in enumerate(header):
        sheet.write(0, j, name)
        value = cells.get(name, row[j] if j < len(row) else "")
        if value != "":
            sheet.write(1, j, value)
    book.close()


def test_a_filled_workbook_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    write_template(BOOK, "acute_trust", path, org_id="RXX", layout="wide")
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["table", "dictionary"]
    dictionary = wb.get_sheet_by_name("dictionary").to_python()
    assert dictionary[0][:3] == ["column", "category", "name"]
    assert [r[0] for r in dictionary[1:]] == list(template_columns(BOOK, "acute_trust", "wide"))
    _xlsx_with(
        path,
        {
            "services": "type1_ae;type3_ae",
            "metric.ae_4h_all.2025-03.numerator": 17200,
            "metric.ae_4h_all.2025-03.denominator": 22012.0,
        },
    )
    tabular.evaluate_table(path, tmp_path / "s.jsonl", BOOK)
    assert _statuses_jsonl(tmp_path / "s.jsonl")["uec.ae-4h-78"] == "met"  # 78.1%


def test_a_bad_workbook_cell_is_named_by_its_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "in.xlsx"
    write_template(BOOK, "acute_trust", path, layout="wide")
    _xlsx_with(path, {"metric.ae_4h_all.2025-03.numerator": 1.5, "metric.ae_4h_all.2025-03.denominator": 10})
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(path, tmp_path / "s.jsonl", BOOK)
    text = str(info.value)
    assert "row 2, column 'metric.ae_4h_all.2025-03.numerator'" in text and "1.5" in text
    assert not (tmp_path / "s.jsonl").exists()


def test_template_errors_name_the_option(tmp_path: Path) -> None:
    code, _, err = _run(["template", "--type", "trust", "-o", str(tmp_path / "x.csv")])
    assert code == 2 and "--type: no organisation type 'trust'" in err
    code, _, err = _run(["template", "--type", "icb", "-o", str(tmp_path / "x.txt")])
    assert code == 3 and "expected a .csv, .xlsx or .json file name" in err and ".txt" in err
    code, _, err = _run(["template", "--type", "icb", "--org-id", "a b", "-o", str(tmp_path / "x.csv")])
    assert code == 3 and "--org-id" in err and "'a b'" in err
    code, _, err = _run(["template", "--type", "icb", "--layout", "wide", "-o", str(tmp_path / "x.json")])
    assert code == 3 and "--layout" in err and "give --layout only with a .csv or .xlsx file" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("org_type", ORGANISATION_TYPES)
def test_every_types_json_template_is_a_valid_state(org_type: str) -> None:
    doc = template_state(BOOK, org_type, as_of=dt.date(2025, 1, 31))
    assert pe.validate_state(doc, BOOK) == []
    metrics = [e.name for e in catalogue(BOOK, org_type) if e.category == "metric"]
    assert sorted(doc["organisations"][0]["metrics"]) == metrics
    assert len(doc["description"]) <= 10_000


# --------------------------------------------------------------------------- the two forms agree


@st.composite
def _fillings(draw: st.DrawFn) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An organisation type, some cells of its table template, and the same data as a state."""
    org_type = draw(st.sampled_from(TYPES_WITH_RULES))
    entries = catalogue(BOOK, org_type)
    cells: dict[str, str] = {}
    doc = template_state(BOOK, org_type)
    org = doc["organisations"][0]
    for e in entries:
        if e.category == "metric" and e.months and draw(st.booleans()):
            for month in draw(st.lists(st.sampled_from(e.months), unique=True, max_size=3)):
                if e.kind == "value":
                    v = draw(st.integers(-(10**6), 10**6))
                    cells[f"metric.{e.name}.{month}.value"] = str(v)
                    org["metrics"][e.name].append({"period": month, "value": v})
                else:
                    d = draw(st.integers(0, 10**5))
                    n = draw(st.integers(0, d)) if e.kind == "proportion" else draw(st.integers(0, 10**5))
                    cells[f"metric.{e.name}.{month}.numerator"] = str(n)
                    cells[f"metric.{e.name}.{month}.denominator"] = str(d)
                    org["metrics"][e.name].append({"period": month, "numerator": n, "denominator": d})
        elif e.category == "fact" and e.kind == "boolean" and draw(st.booleans()):
            value = draw(st.booleans())
            cells[f"fact.{e.name}"] = "true" if value else "false"
            cells[f"fact.{e.name}.date"] = "2024-06-30"
            org["facts"].append({"name": e.name, "value": value, "date": "2024-06-30"})
    return org_type, cells, doc


@given(_fillings())
@settings(deadline=None)
def test_a_filled_table_template_evaluates_as_the_same_data_in_a_state(
    tmp_path_factory: pytest.TempPathFactory, filling: tuple[str, dict[str, str], dict[str, Any]]
) -> None:
    org_type, cells, doc = filling
    folder = tmp_path_factory.mktemp("t")
    (folder / "in.csv").write_text(_fill_csv(render_template(BOOK, org_type, "csv", layout="wide").decode(), cells))
    tabular.evaluate_table(folder / "in.csv", folder / "s.jsonl", BOOK)
    from_table = {k: v for k, v in _statuses_jsonl(folder / "s.jsonl").items() if v is not None}
    assert from_table == _state_statuses(doc)

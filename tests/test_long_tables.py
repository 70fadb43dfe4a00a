"""The long table layout (issue 16; decision 030): a row per organisation and month, told by a
``period`` column, that ``policy-engine template`` writes by default and the table reader pivots
to the wide layout before its checks. A blank long template is unknown throughout; filled, it is
judged as the same data in the wide layout and as a state; its problems name its own rows and
columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import cli, tabular
from policy_engine.audit.catalogue import catalogue
from policy_engine.audit.template import render_template, template_months, template_rows, template_state
from policy_engine.data.state import state_from_dict
from policy_engine.language.rules import ORGANISATION_TYPES

pytest.importorskip("polars")
import polars as pl

BOOK = pe.load_rulebook("nhs-2024-25")
TYPES_WITH_RULES = [t for t in ORGANISATION_TYPES if any(r.applies_to_type(t) for r in BOOK.rules)]
AE = {"metric.ae_4h_all.numerator": "16326", "metric.ae_4h_all.denominator": "22012"}  # 74.2% in March 2025


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _long(
    org_type: str = "acute_trust", fill: dict[str, dict[str, str]] | None = None, org_id: str = "ORG1"
) -> list[list[str]]:
    """The long template's rows (header first) with ``fill[month][column]`` written in."""
    rows = template_rows(BOOK, org_type, org_id=org_id)
    header = rows[0]
    out = [header]
    for row in rows[1:]:
        cells = (fill or {}).get(row[header.index("period")], {})
        out.append([cells.get(c, v) for c, v in zip(header, row, strict=True)])
    return out


def _statuses(path: Path, **options: Any) -> list[dict[str, Any]]:
    out = path.with_suffix(".jsonl")
    tabular.evaluate_table(path, out, BOOK, **options)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _decided(record: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in record["statuses"].items() if v is not None}


def _state_statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {o.rule_id: o.status for o in pe.evaluate(state_from_dict(doc), BOOK, backend="native").outcomes}


def _error(path: Path, **options: Any) -> str:
    with pytest.raises(pe.StateError) as info:
        _statuses(path, **options)
    assert not path.with_suffix(".jsonl").exists()
    return str(info.value)


# --------------------------------------------------------------------------- the template


def test_the_long_template_has_a_row_per_month_of_the_year_and_of_every_baseline_read() -> None:
    months = template_months(BOOK, "acute_trust")
    year = [f"2024-{m:02d}" for m in range(4, 13)] + ["2025-01", "2025-02", "2025-03"]
    assert set(year) <= set(months) and list(months) == sorted(months)
    read = {m for e in catalogue(BOOK, "acute_trust") if e.category == "metric" for m in e.months}
    assert set(months) == read | set(year)
    assert "2023-04" in months  # a baseline month a rule reads
    rows = list(csv.reader(io.StringIO(render_template(BOOK, "acute_trust", "csv").decode())))
    header, body = rows[0], rows[1:]
    assert [r[header.index("period")] for r in body] == list(months)
    assert {(r[0], r[1], r[2], r[3]) for r in body} == {("template", "ORG1", "acute_trust", "2025-04-01")}
    assert all(not v for r in body for v in r[5:])  # every cell but the keys and period is empty


def test_a_blank_long_template_has_every_outcome_unknown(tmp_path: Path) -> None:
    for org_type in TYPES_WITH_RULES:
        path = tmp_path / f"{org_type}.csv"
        path.write_text(_csv(_long(org_type)))
        (record,) = _statuses(path)
        applies = {r.id for r in BOOK.rules if r.applies_to_type(org_type)}
        assert set(_decided(record)) == applies and set(_decided(record).values()) == {"unknown"}, org_type


def test_a_filled_long_template_is_judged_as_the_wide_table_and_the_state(tmp_path: Path) -> None:
    # services on one row only, the metric on March 2025's row
    fill = {"2024-04": {"services": "type1_ae"}, "2025-03": AE}
    (tmp_path / "long.csv").write_text(_csv(_long(fill=fill)))
    (long,) = _statuses(tmp_path / "long.csv")
    assert long["statuses"]["uec.ae-4h-78"] == "not_met"  # 74.2% < 78%
    assert long["statuses"]["canc.fds-77-mar-2025"] == "unknown"
    wide = template_rows(BOOK, "acute_trust", layout="wide")
    cells = {
        "services": "type1_ae",
        **{c.replace(".numer", ".2025-03.numer").replace(".denom", ".2025-03.denom"): v for c, v in AE.items()},
    }
    wide[1] = [cells.get(c, v) for c, v in zip(wide[0], wide[1], strict=True)]
    (tmp_path / "wide.csv").write_text(_csv(wide))
    (from_wide,) = _statuses(tmp_path / "wide.csv")
    assert from_wide == long
    doc = template_state(BOOK, "acute_trust")
    org = doc["organisations"][0]
    org["services"] = ["type1_ae"]
    org["metrics"]["ae_4h_all"] = [{"period": "2025-03", "numerator": 16326, "denominator": 22012}]
    assert _decided(long) == _state_statuses(doc)


def test_a_filled_long_workbook_reads_back(tmp_path: Path) -> None:
    import python_calamine
    import xlsxwriter

    path = tmp_path / "in.xlsx"
    code, _, err = _run(["template", "--type", "acute_trust", "--org-id", "RXX", "-o", str(path)])
    assert code == 0, err
    wb = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = wb.get_sheet_by_name("table").to_python()
    dictionary = wb.get_sheet_by_name("dictionary").to_python()
    assert [r[0] for r in dictionary[1:]] == rows[0]
    assert dictionary[0][3] == "months read" and ["period", "key"] == dictionary[5][:2]
    (ae,) = [r for r in dictionary if r[0] == "metric.ae_4h_all.numerator"]
    assert ae[3] == "2025-03"
    header = rows[0]
    march = [r[header.index("period")] for r in rows].index("2025-03")
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("table")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value != "":
                sheet.write(i, j, value)
    sheet.write(march, header.index("metric.ae_4h_all.numerator"), 17200)  # numbers typed as numbers
    sheet.write(march, header.index("metric.ae_4h_all.denominator"), 22012.0)
    for i in range(1, len(rows)):  # services repeated on every row: one value
        sheet.write(i, header.index("services"), "type1_ae;type3_ae")
    book.close()
    (record,) = _statuses(path)
    assert record["org_id"] == "RXX" and record["statuses"]["uec.ae-4h-78"] == "met"  # 78.1%


# --------------------------------------------------------------------------- long and wide agree

Rows = list[dict[str, str]]


def _table(rows: Rows) -> list[list[str]]:
    """Rows given as column -> cell (each type's template has its own columns) under one header."""
    keys = ("state_id", "org_id", "org_type", "as_of", "period")
    names = {c for r in rows for c in r}
    header = [k for k in keys if k in names] + sorted(names - set(keys))
    return [header] + [[r.get(c, "") for c in header] for r in rows]


@st.composite
def _organisations(draw: st.DrawFn) -> tuple[Rows, Rows, list[dict[str, Any]]]:
    """Organisations, each in its own state, of a type and with some of its template filled: as
    long rows, as wide rows, and as state documents."""
    long_rows: Rows = []
    wide_rows: Rows = []
    docs: list[dict[str, Any]] = []
    for k, org_type in enumerate(draw(st.lists(st.sampled_from(TYPES_WITH_RULES), min_size=1, max_size=3))):
        org_id = f"ORG{k}"
        long = [
            dict(zip(*(template_rows(BOOK, org_type, org_id=org_id)[i] for i in (0, j)), strict=True))
            for j in range(1, len(template_months(BOOK, org_type)) + 1)
        ]
        header, row = template_rows(BOOK, org_type, org_id=org_id, layout="wide")
        wide = dict(zip(header, row, strict=True))
        for r in [*long, wide]:
            r["state_id"] = f"s{k}"
        by_month = {r["period"]: r for r in long}
        doc = template_state(BOOK, org_type, org_id=org_id)
        org = doc["organisations"][0]
        for e in catalogue(BOOK, org_type):
            if e.category == "metric" and e.months and draw(st.booleans()):
                for month in draw(st.lists(st.sampled_from(e.months), unique=True, max_size=3)):
                    if e.kind == "value":
                        parts = {"value": draw(st.integers(-(10**6), 10**6))}
                    else:
                        d = draw(st.integers(0, 10**5))
                        n = draw(st.integers(0, d)) if e.kind == "proportion" else draw(st.integers(0, 10**5))
                        parts = {"numerator": n, "denominator": d}
                    for part, v in parts.items():
                        by_month[month][f"metric.{e.name}.{part}"] = str(v)
                        wide[f"metric.{e.name}.{month}.{part}"] = str(v)
                    org["metrics"][e.name].append({"period": month, **parts})
            elif e.category == "fact" and e.kind == "boolean" and draw(st.booleans()):
                value = draw(st.booleans())
                given = {f"fact.{e.name}": "true" if value else "false", f"fact.{e.name}.date": "2024-06-30"}
                on = long if draw(st.booleans()) else [draw(st.sampled_from(long))]  # one row, or every row
                for r in on:
                    r.update(given)
                wide.update(given)
                org["facts"].append({"name": e.name, "value": value, "date": "2024-06-30"})
        if "services" in wide and draw(st.booleans()):
            services = draw(st.sampled_from(["type1_ae", "type1_ae;type3_ae"]))  # an empty CSV cell is null
            draw(st.sampled_from(long))["services"] = services
            wide["services"] = services
            org["services"] = [s for s in services.split(";") if s]
        long_rows += draw(st.permutations(long))  # an organisation's rows in any order
        wide_rows.append(wide)
        docs.append(doc)
    return long_rows, wide_rows, docs


@given(_organisations())
# Half the profile's count: each example evaluates two tables of up to three templates and the states.
@settings(deadline=None, max_examples=max(5, settings().max_examples // 2))
def test_long_and_wide_tables_of_the_same_data_have_the_same_outcomes(
    tmp_path_factory: pytest.TempPathFactory, tables: tuple[Rows, Rows, list[dict[str, Any]]]
) -> None:
    long, wide, docs = tables
    folder = tmp_path_factory.mktemp("t")
    (folder / "long.csv").write_text(_csv(_table(long)))
    (folder / "wide.csv").write_text(_csv(_table(wide)))
    from_long, from_wide = _statuses(folder / "long.csv"), _statuses(folder / "wide.csv")
    assert from_long == from_wide
    assert [_decided(r) for r in from_long] == [_state_statuses(d) for d in docs]


def test_a_long_table_chunked_small_is_judged_as_read_whole(tmp_path: Path) -> None:
    rows: Rows = []
    for k in range(5):
        header, *body = _long(fill={"2025-03": AE}, org_id=f"R{k}")
        rows += [{**dict(zip(header, r, strict=True)), "state_id": f"s{k // 2}"} for r in body]
    (tmp_path / "in.csv").write_text(_csv(_table(rows)))
    whole = _statuses(tmp_path / "in.csv")
    assert [r["org_id"] for r in whole] == [f"R{k}" for k in range(5)]
    assert _statuses(tmp_path / "in.csv", chunk_rows=7) == whole  # a state (48 rows) is never split


def test_a_typed_long_parquet_table_is_read(tmp_path: Path) -> None:
    header, *body = _long(fill={"2025-03": {**AE, "services": "type1_ae"}})
    frame = (
        pl.DataFrame([dict(zip(header, r, strict=True)) for r in body])
        .with_columns(pl.all().replace("", None))  # empty text in Parquet is text, not missing
        .with_columns(
            pl.col("^metric\\..*$").cast(pl.Int64), pl.col("as_of").str.to_date(), pl.col("services").str.split(";")
        )
    )
    frame.write_parquet(tmp_path / "in.parquet")
    (record,) = _statuses(tmp_path / "in.parquet")
    assert record["statuses"]["uec.ae-4h-78"] == "not_met"


def test_a_month_no_rule_reads_is_accepted_as_in_the_wide_layout(tmp_path: Path) -> None:
    header, *body = _long(fill={"2025-03": AE})
    extra = dict(zip(header, body[0], strict=True)) | {"period": "2019-01", **AE}
    rows = [dict(zip(header, r, strict=True)) for r in body] + [extra]
    (tmp_path / "long.csv").write_text(_csv(_table(rows)))
    wide = dict(zip(*template_rows(BOOK, "acute_trust", layout="wide"), strict=True))
    wide |= {"metric.ae_4h_all.2025-03.numerator": "16326", "metric.ae_4h_all.2025-03.denominator": "22012"}
    wide |= {"metric.ae_4h_all.2019-01.numerator": "16326", "metric.ae_4h_all.2019-01.denominator": "22012"}
    (tmp_path / "wide.csv").write_text(_csv(_table([wide])))
    assert _statuses(tmp_path / "long.csv") == _statuses(tmp_path / "wide.csv")


# --------------------------------------------------------------------------- errors at the long rows


def _write(path: Path, fill: dict[str, dict[str, str]], extra: Rows | None = None) -> list[str]:
    """A long template with ``fill`` and ``extra`` rows; the periods of its data lines (line 2 on)."""
    header, *body = _long(fill=fill)
    rows = [dict(zip(header, r, strict=True)) for r in body] + [
        {**dict(zip(header, body[0], strict=True)), **e} for e in extra or []
    ]
    table = _table(rows)
    path.write_text(_csv(table))
    return [r[table[0].index("period")] for r in table[1:]]


def test_a_month_given_twice_is_named_at_its_second_line(tmp_path: Path) -> None:
    periods = _write(tmp_path / "in.csv", {"2025-03": AE}, [{"period": "2025-03"}])
    text = _error(tmp_path / "in.csv")
    line = len(periods) + 1  # the header is line 1
    assert "in.csv: the table is invalid (1 problem)" in text
    assert (
        f"line {line}, column 'period': organisation ORG1 (state template) has this month on an earlier row too" in text
    )
    assert '"2025-03"' in text


def test_two_values_for_one_organisation_name_both(tmp_path: Path) -> None:
    fact = "fact.dig_epr_deployed"
    periods = _write(
        tmp_path / "in.csv",
        {
            "2024-04": {fact: "true", f"{fact}.date": "2024-06-30"},
            "2024-05": {fact: "false", f"{fact}.date": "2024-06-30"},
        },
    )
    text = _error(tmp_path / "in.csv")
    line = periods.index("2024-05") + 2
    assert str(tmp_path / "in.csv") in text
    assert (
        f"line {line}, column '{fact}': organisation ORG1 (state template) has two values in this column: "
        "'true' on an earlier row and 'false' here" in text
    )
    assert text.count("two values") == 1  # the dates agree


@pytest.mark.parametrize(
    ("period", "why"),
    [
        ("2025-3", "expected a month as YYYY-MM, e.g. 2025-03"),
        ("March 2025", "expected a month as YYYY-MM, e.g. 2025-03"),
        ("2025-13", "expected a month as YYYY-MM, e.g. 2025-03"),
        ("0000-01", "expected a month from 0001-01 to 9999-12"),
        ("", "a required value is missing"),
    ],
)
def test_a_bad_period_is_named(period: str, why: str, tmp_path: Path) -> None:
    periods = _write(tmp_path / "in.csv", {}, [{"period": period}])
    text = _error(tmp_path / "in.csv")
    assert f"line {len(periods) + 1}, column 'period': {why}" in text


def test_a_bad_cell_of_a_long_row_is_named_by_its_line_and_long_column(tmp_path: Path) -> None:
    periods = _write(
        tmp_path / "in.csv",
        {
            "2025-03": {"metric.ae_4h_all.numerator": "30000", "metric.ae_4h_all.denominator": "22012"},
            "2024-06": {"metric.ae_4h_all.numerator": "1.5", "metric.ae_4h_all.denominator": "10"},
            "2024-07": {"as_of": "2025-02-30"},
        },
    )
    text = _error(tmp_path / "in.csv")
    march, june, july = (periods.index(m) + 2 for m in ("2025-03", "2024-06", "2024-07"))
    assert (
        f"line {march}, column 'metric.ae_4h_all.numerator': expected numerator <= metric.ae_4h_all.denominator" in text
    )
    assert f"line {june}, column 'metric.ae_4h_all.numerator': expected a whole-number count" in text
    # as_of is the organisation's: two values (the template's and this one), reported once
    assert f"line {july}, column 'as_of': organisation ORG1 (state template) has two values" in text
    assert "2025-03." not in text  # no wide column names


def test_a_bad_organisation_value_is_named_at_the_row_that_gave_it(tmp_path: Path) -> None:
    header, *body = _long()
    rows = [dict(zip(header, r, strict=True)) for r in body]
    for r in rows:
        r["org_type"] = ""
    rows[3]["org_type"] = "trust"
    (tmp_path / "in.csv").write_text(_csv(_table(rows)))
    text = _error(tmp_path / "in.csv")
    assert "line 5, column 'org_type': expected one of" in text and '"trust"' in text


def test_a_states_rows_apart_are_refused(tmp_path: Path) -> None:
    header, *body = _long()
    rows = [dict(zip(header, r, strict=True)) for r in body]
    rows[1]["state_id"] = "other"
    rows[1]["org_id"] = "R2"
    (tmp_path / "in.csv").write_text(_csv(_table(rows)))
    text = _error(tmp_path / "in.csv")
    assert "line 2, column 'state_id': the rows of a state must be contiguous" in text
    assert "line 4, column 'state_id': the rows of a state must be contiguous" in text


@pytest.mark.parametrize(
    ("column", "why"),
    [
        (
            "metric.ae_4h_all.2025-03.numerator",
            "a month's column in a long table (one with a period column): give "
            "metric.ae_4h_all.numerator on the row whose period is 2025-03",
        ),
        ("metric.ae_4h_al.numerator", "unknown metric 'ae_4h_al'; did you mean ae_4h_all?"),
        ("metric.ae_4h_all.value", "ae_4h_all is a proportion metric"),
        ("fact.nope", "unknown fact 'nope'"),
        ("notes", "not a column of the long table layout"),
    ],
)
def test_a_column_not_in_the_long_layout_is_refused(column: str, why: str, tmp_path: Path) -> None:
    header, *body = _long()
    rows = [dict(zip(header, r, strict=True)) | {column: ""} for r in body]
    (tmp_path / "in.csv").write_text(_csv(_table(rows)))
    text = _error(tmp_path / "in.csv")
    assert "the table does not fit the column mapping (1 problem)" in text
    assert f"columns['{column}']: {why}" in text


def test_a_missing_key_column_is_named(tmp_path: Path) -> None:
    header, *body = _long()
    rows = [{c: v for c, v in zip(header, r, strict=True) if c != "as_of"} for r in body]
    (tmp_path / "in.csv").write_text(_csv(_table(rows)))
    assert "columns['as_of']: a required column is missing" in _error(tmp_path / "in.csv")


def test_a_bad_long_workbook_cell_is_named_by_its_row(tmp_path: Path) -> None:
    import xlsxwriter

    header, *body = _long(fill={"2025-03": {"metric.ae_4h_all.numerator": "x", "metric.ae_4h_all.denominator": "3"}})
    book = xlsxwriter.Workbook(str(tmp_path / "in.xlsx"))
    sheet = book.add_worksheet("table")
    for i, row in enumerate([header, *body]):
        for j, value in enumerate(row):
            if value:
                sheet.write_string(i, j, value)
    book.close()
    march = [r[4] for r in body].index("2025-03") + 2
    assert f"row {march}, column 'metric.ae_4h_all.numerator': expected a whole-number count" in _error(
        tmp_path / "in.xlsx"
    )


def test_an_in_memory_long_frame_is_pivoted() -> None:
    header, *body = _long(fill={"2025-03": {**AE, "services": "type1_ae"}})
    frame = pl.DataFrame([dict(zip(header, r, strict=True)) for r in body]).with_columns(pl.all().replace("", None))
    table = tabular.normalise_frame(frame, BOOK)
    assert len(table) == 1 and table["metric.ae_4h_all.2025-03.numerator"].to_list() == [16326]
    assert tabular.evaluate_frame(frame, BOOK).frame["uec.ae-4h-78"].to_list() == ["not_met"]
    with pytest.raises(pe.StateError) as info:
        tabular.normalise_frame(pl.concat([frame, frame.tail(1)]), BOOK)
    assert f"rows[{len(body)}]['period']" in str(info.value)

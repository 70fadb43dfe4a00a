"""Outcomes as tables for analysts: ``Evaluation.to_frame()``, ``evaluate --format csv`` and
``-o results.xlsx``, the table path writing CSV, and ``states_to_frame(lists="text")`` for ``write_csv``."""

from __future__ import annotations

import datetime as dt
import io
import operator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import polars as pl
import pytest
from hypothesis import given, settings
from python_calamine import CalamineWorkbook

import policy_engine as pe
from policy_engine import tabular
from policy_engine.cli import EXIT_OK, EXIT_USAGE, run
from policy_engine.evaluation.frames import COLUMNS, outcomes_csv, write_workbook
from policy_engine.language.statuses import STATUS_INFO
from policy_engine.testing.strategies import states

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "state.json"
BOOK = pe.load_rulebook()
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
NUMBER_COLUMNS = ("value", "threshold", "numerator", "denominator")


@pytest.fixture(scope="module")
def example() -> pe.Evaluation:
    return pe.evaluate(pe.load_state(EXAMPLE), BOOK, backend="native")


def _check_rows(evaluation: pe.Evaluation, frame: pl.DataFrame) -> int:
    """Every row against its outcome: the deciding value and threshold are the evidence's exact
    numbers, and, for a rule that is one comparison, comparing them exactly gives the comparison's
    truth value in the evidence. Returns how many rows were checked that way."""
    assert frame.height == len(evaluation.outcomes)
    checked = 0
    for row, o in zip(frame.iter_rows(named=True), evaluation.outcomes, strict=True):
        assert (row["org_id"], row["rule_id"], row["status"], row["deadline"]) == (
            o.org_id,
            o.rule_id,
            o.status,
            o.deadline,
        )
        rule = BOOK.rule(o.rule_id)
        assert row["area"] == rule.area and row["kind"] == rule.kind
        assert row["citation_document"] == o.citation.document and row["explanation"] == o.explanation
        for name in ("value", "threshold"):
            exact = row[f"{name}_exact"]
            assert (exact is None) == (row[name] is None)
            if exact is not None:
                assert row[name] == float(Fraction(exact))
        if row["value_exact"] is not None:
            measured = [e for e in o.evidence if e.kind in ("metric", "fact", "rank")]
            assert Fraction(row["value_exact"]) in {getattr(e.quantity, "value", None) for e in measured}
        single = rule.shape.single
        if single is not None and row["value_exact"] is not None and row["threshold_exact"] is not None:
            truth = next(e.quantity for e in o.evidence if e.kind == "comparison")
            value, bound = Fraction(row["value_exact"]), Fraction(row["threshold_exact"])
            assert OPS[row["operator"]](value, bound) is getattr(truth, "value", None), row
            checked += 1
    return checked


def test_to_frame_has_one_typed_row_per_outcome(example: pe.Evaluation) -> None:
    frame = example.to_frame()
    assert frame.columns == list(COLUMNS)
    assert {name: str(t) for name, t in frame.schema.items() if name != "status"} == {
        name: kind for name, kind in COLUMNS.items() if name != "status"
    }
    assert frame.schema["status"] == pl.Enum(list(pe.STATUSES))
    assert frame.select("org_id", "rule_id").is_duplicated().sum() == 0
    assert _check_rows(example, frame) > 50
    row = frame.filter(pl.col("rule_id") == "canc.62day-70-mar-2025", pl.col("org_id") == "EXA").row(0, named=True)
    assert row | {"state": None, "title": None, "explanation": None, "citation_section": None} == {
        "state": None,
        "org_id": "EXA",
        "org_type": "acute_trust",
        "rule_id": "canc.62day-70-mar-2025",
        "area": "cancer",
        "kind": "target",
        "status": "not_met",
        "status_label": "Not met",
        "title": None,
        "deadline": dt.date(2025, 3, 31),
        "period": "mar_2025",
        "measure": "pct(cancer_62day_combined, mar_2025)",
        "operator": ">=",
        "value": float(Fraction(610, 9)),
        "value_exact": "610/9",
        "threshold": 70.0,
        "threshold_exact": "70",
        "unit": "percent",
        "numerator": 122,
        "denominator": 180,
        "citation_document": "national-objectives-2024-25.md",
        "citation_section": None,
        "explanation": None,
    }
    assert row["state"] == example.record.state_digest
    # a value metric with a constant bound, and a rank against a parameter
    rtt = frame.filter(pl.col("rule_id") == "elec.rtt-65wk-sep-2024", pl.col("status") == "not_met").row(0, named=True)
    assert (rtt["operator"], rtt["threshold"], rtt["unit"], rtt["numerator"]) == ("<=", 0.0, "pathways", None)
    rank = frame.filter(pl.col("rule_id") == "uec.type1-ae-greatest-improvement", pl.col("status") == "eligible")
    assert rank.select("value", "threshold", "unit").row(0) == (1.0, 1.0, "rank")
    # not applicable: nothing was compared
    na = frame.filter(pl.col("status") == "not_applicable")
    assert na.height > 0 and na.select(pl.col("value", "threshold", "measure").is_null().all()).row(0) == (True,) * 3
    # pandas, as documented
    pytest.importorskip("pandas")
    assert len(frame.to_pandas()) == frame.height


@settings(deadline=None)
@given(states(BOOK, max_size=4))
def test_to_frame_rows_agree_with_the_evidence_on_any_state(doc: dict[str, Any]) -> None:
    evaluation = pe.evaluate(doc, BOOK, backend="native")
    frame = evaluation.to_frame()
    _check_rows(evaluation, frame)
    assert frame["org_type"].to_list() == [
        next(o["type"] for o in doc["organisations"] if o["id"] == out.org_id) for out in evaluation.outcomes
    ]


def test_an_evaluation_without_its_rulebook_needs_one_given(example: pe.Evaluation) -> None:
    bare = attrs.evolve(example, rulebook=None)
    with pytest.raises(pe.PolicyError, match="no rulebook") as info:
        bare.to_frame()
    assert info.value.details[0].code == pe.ErrorCode.ARGUMENT_VALUE
    assert "to_frame(rulebook=...)" in str(info.value)
    assert bare.to_frame(BOOK).equals(example.to_frame())


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _read_csv(text: str | Path) -> pl.DataFrame:
    schema: dict[str, Any] = {
        name: {"Float64": pl.Float64, "Int64": pl.Int64, "Date": pl.Date}.get(kind, pl.String)
        for name, kind in COLUMNS.items()
    }
    source = text.encode() if isinstance(text, str) else text
    return pl.read_csv(source, schema=schema)


def test_csv_reads_back_to_the_frame(example: pe.Evaluation) -> None:
    frame = example.to_frame()
    back = _read_csv(outcomes_csv(example))
    assert back.equals(frame.with_columns(pl.col("status").cast(pl.String)))


def test_evaluate_format_csv_and_the_csv_suffix(tmp_path: Path) -> None:
    code, text, _ = _run("evaluate", str(EXAMPLE), "--format", "csv", "--status", "breached")
    assert code == EXIT_OK
    shown = _read_csv(text)
    assert shown.height == 4 and set(shown["status"]) == {"breached"}
    out = tmp_path / "results.csv"
    assert _run("evaluate", str(EXAMPLE), "-o", str(out))[0] == EXIT_OK
    assert _read_csv(out).height == 556


def test_workbook_has_a_summary_and_the_outcomes(example: pe.Evaluation, tmp_path: Path) -> None:
    path = tmp_path / "results.xlsx"
    assert _run("evaluate", str(EXAMPLE), "--backend", "native", "-o", str(path))[0] == EXIT_OK
    book = CalamineWorkbook.from_path(str(path))
    assert book.sheet_names == ["Summary", "Outcomes"]
    rows = book.get_sheet_by_name("Outcomes").to_python()
    assert rows[0] == list(COLUMNS)
    frame = example.to_frame()
    assert len(rows) - 1 == frame.height
    for got, want in zip(rows[1:], frame.iter_rows(), strict=True):
        # calamine reads an empty cell as "" and every number as a float; a workbook keeps 16
        # significant digits (Excel's precision): the exact columns are exact
        want_cells = ["" if v is None else float(v) if isinstance(v, int) else v for v in want]
        assert len(got) == len(want_cells)
        for g, w in zip(got, want_cells, strict=True):
            assert g == pytest.approx(w, rel=1e-15, abs=0) if isinstance(w, float) else g == w
    summary = book.get_sheet_by_name("Summary").to_python()
    statuses = summary[0][1:-1]
    labels = {info.label: s for s, info in STATUS_INFO.items()}
    counts = frame.group_by("area", "status").len()
    for line in summary[1:-1]:
        area = line[0]
        for label, n in zip(statuses, line[1:-1], strict=True):
            want = counts.filter(pl.col("area") == area, pl.col("status") == labels[label])["len"].sum()
            assert n == want
        assert line[-1] == frame.filter(pl.col("area") == area).height
    assert summary[-1][0] == "total" and summary[-1][-1] == frame.height
    assert sum(summary[-1][1:-1]) == frame.height


def test_a_workbook_needs_an_xlsx_file(tmp_path: Path) -> None:
    for argv in (["--format", "xlsx"], ["--format", "json", "-o", str(tmp_path / "r.xlsx")]):
        code, out, err = _run("evaluate", str(EXAMPLE), *argv)
        assert code == EXIT_USAGE and out == ""
        assert "--format xlsx writes a workbook to -o FILE.xlsx" in err and "internal error" not in err
    assert list(tmp_path.iterdir()) == []
    # refused before the state is read: a missing state file is not what it reports
    code, _, err = _run("evaluate", str(tmp_path / "absent.json"), "--format", "xlsx")
    assert code == EXIT_USAGE and "FILE.xlsx" in err


def test_write_workbook_replaces_a_file_only_when_done(example: pe.Evaluation, tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"old")
    write_workbook(example, path)
    assert path.read_bytes()[:2] == b"PK" and sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]


# --------------------------------------------------------------------------- tables


def test_the_table_path_writes_csv(tmp_path: Path) -> None:
    state = pe.load_state(EXAMPLE)
    src = tmp_path / "rows.parquet"
    tabular.states_to_frame({"s1": state, "s2": state}, BOOK).write_parquet(src)
    csv_out, parquet_out = tmp_path / "out.csv", tmp_path / "out.parquet"
    tabular.evaluate_table(src, csv_out, BOOK, chunk_rows=3)  # several chunks: one header
    tabular.evaluate_table(src, parquet_out, BOOK)
    want = pl.read_parquet(parquet_out)
    got = pl.read_csv(
        csv_out, schema={n: (pl.String if t == tabular.STATUS_DTYPE else t) for n, t in want.schema.items()}
    )
    assert got.equals(want.with_columns(pl.col(tabular.STATUS_DTYPE).cast(pl.String)))
    assert csv_out.read_text().count("state_id,") == 1


def test_an_empty_table_gives_a_csv_header(tmp_path: Path) -> None:
    src = tmp_path / "rows.csv"
    src.write_text("state_id,org_id,org_type,as_of\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    tabular.evaluate_table(src, out, BOOK)
    assert out.read_text().splitlines()[0].split(",")[:4] == ["state_id", "org_id", "org_type", "as_of"]


@settings(deadline=None)
@given(states(BOOK, max_size=4))
def test_states_to_frame_text_lists_write_csv_and_read_back(
    tmp_path_factory: pytest.TempPathFactory, doc: dict[str, Any]
) -> None:
    state = pe.state_from_dict(doc, BOOK)
    typed = tabular.states_to_frame({"s": state}, BOOK)
    text = tabular.states_to_frame({"s": state}, BOOK, lists="text")
    assert not any(isinstance(t, pl.List) for t in text.schema.values())
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    text.write_csv(path)
    back = tabular.normalise_frame(pl.read_csv(path, infer_schema=False), BOOK)
    assert back.equals(tabular.normalise_frame(typed, BOOK))
    ((_, again),) = tabular.frame_to_states(back, BOOK)
    assert pe.statuses(again, BOOK) == pe.statuses(state, BOOK)


def test_states_to_frame_lists_must_be_list_or_text() -> None:
    with pytest.raises(pe.StateError, match="invalid argument lists") as info:
        tabular.states_to_frame({}, BOOK, lists="csv")  # type: ignore[arg-type]
    assert 'expected "list" or "text"' in str(info.value)

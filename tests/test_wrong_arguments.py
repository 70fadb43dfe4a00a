"""Hostile input at the public API (issue 20; decision 019): wrong argument types, the table
path, rulebook loading, identifiers with a trailing line break and scenario files.

Every one of these used to escape as a builtin (``TypeError``, ``ValueError``, ``_csv.Error``,
``RecursionError``, ``UnicodeDecodeError``), be silently accepted, or, for an alias bomb, grow to
gigabytes. Each must now be a ``PolicyError`` naming the argument or file, the value and what was
expected.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine import tabular
from policy_engine._resources import policies_root
from policy_engine.data.scenarios import ScenarioFileError, load_scenarios
from policy_engine.errors import ErrorCode
from policy_engine.rulebook.loader import MAX_YAML_DEPTH
from policy_engine.rulebook.overlay import load_overlay

ROOT = Path(__file__).resolve().parent.parent
BOOK = pe.load_rulebook()
EXAMPLE = pe.load_state(ROOT / "examples" / "state.json")
BUNDLED = Path(str(policies_root() / "nhs-2024-25"))


def only(err: pe.PolicyError) -> pe.ErrorDetail:
    assert len(err.details) == 1, [str(d) for d in err.details]
    return err.details[0]


def argument_error(call: Callable[[], Any], name: str, cls: type[pe.PolicyError] = pe.StateError) -> pe.ErrorDetail:
    """The one detail of the error ``call`` raises: coded ``argument.value``, subject ``name``."""
    with pytest.raises(cls) as info:
        call()
    d = only(info.value)
    assert d.code == ErrorCode.ARGUMENT_VALUE
    assert d.subject == name
    assert d.message.startswith("expected ")
    assert d.value
    return d


# --------------------------------------------------------------------------- every public function

WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
    st.just(EXAMPLE),
    st.just(BOOK),
)
"""Values of the wrong type for most arguments (a State where a path goes, a Rulebook where a
state goes ...). Some are right for some arguments: then the call may succeed."""

GOOD: dict[str, Any] = {
    "state": EXAMPLE,
    "states": [EXAMPLE],
    "document": EXAMPLE.document,
    "rulebook": BOOK,
    "evaluation": None,  # filled below
    "rule_id": BOOK.rules[0].id,
    "org_id": EXAMPLE.organisations[0].id,
    "backend": "native",
    "text": "{}",
    "frame": tabular.states_to_frame({"s": EXAMPLE}, BOOK),
}
GOOD["evaluation"] = pe.evaluate(EXAMPLE, BOOK, backend="native")


def _functions() -> list[tuple[str, Callable[..., Any]]]:
    out = [(f"pe.{n}", getattr(pe, n)) for n in pe.__all__ if inspect.isfunction(getattr(pe, n))]
    out += [(f"tabular.{n}", getattr(tabular, n)) for n in tabular.__all__ if inspect.isfunction(getattr(tabular, n))]
    return out


FUNCTIONS = _functions()


def test_the_sweep_sees_every_public_function() -> None:
    names = {name for name, _ in FUNCTIONS}
    assert {"pe.load_state", "pe.state_from_json", "pe.evaluate_many", "pe.load_rulebook"} <= names
    assert {"tabular.evaluate_frame", "tabular.evaluate_table", "tabular.states_to_frame"} <= names


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    result = function(**kwargs)
    if inspect.isgenerator(result) or type(result).__name__ == "generator":
        list(result)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
@settings(deadline=None)
@given(data=st.data())
def test_wrong_typed_arguments_raise_only_policy_errors(
    name: str, function: Callable[..., Any], data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each argument in turn given a wrong-typed value (the others right): only a PolicyError escapes."""
    params = list(inspect.signature(function).parameters.values())
    if not params:
        return
    out = tmp_path_factory.mktemp("out")
    table = out / "in.parquet"
    GOOD["frame"].write_parquet(table)
    right: dict[str, Any] = {
        **GOOD,
        "source": table,
        "destination": out / "out.parquet",
        "path": ROOT / "examples" / "state.json",
    }
    kwargs = {p.name: right.get(p.name, "x") for p in params if p.default is inspect.Parameter.empty}
    target = data.draw(st.sampled_from(params), label="argument")
    kwargs[target.name] = data.draw(WRONG, label=target.name)
    try:
        _call(function, kwargs)
    except pe.PolicyError as exc:
        assert exc.details, f"{name}({target.name}=...) raised a PolicyError without details"
        assert all(d.code != "uncoded" for d in exc.details)


# --------------------------------------------------------------------------- the items, one by one


@pytest.mark.parametrize("value", [5, None, b"state.json", 1.5, ""])
def test_load_state_names_a_path_argument_that_is_not_one(value: Any) -> None:
    d = argument_error(lambda: pe.load_state(value), "path")
    assert d.message == "expected a file path (a non-empty str or os.PathLike)"
    assert type(value).__name__ in (d.value or "")


@pytest.mark.parametrize("value", [None, 5, ["{}"], {"organisations": []}])
def test_state_from_json_names_text_that_is_not_text(value: Any) -> None:
    argument_error(lambda: pe.state_from_json(value), "text")


def test_state_from_json_takes_bytearray_as_bytes() -> None:
    text = (ROOT / "examples" / "state.json").read_bytes()
    assert pe.state_from_json(bytearray(text)).digest == EXAMPLE.digest


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_load_state_refuses_a_device_without_reading_it() -> None:
    with pytest.raises(pe.StateError) as info:
        pe.load_state("/dev/zero")  # used to read until MemoryError
    d = only(info.value)
    assert (d.code, d.subject, d.message, d.value) == (
        ErrorCode.STATE_READ,
        "/dev/zero",
        "expected a regular file",
        "a character device",
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_load_state_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    with pytest.raises(pe.StateError) as info:
        pe.load_state(fifo)
    assert only(info.value).value == "a FIFO (named pipe)"


def test_load_state_reads_no_more_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that is larger than it claimed (or grows while read) is cut at the limit + 1 byte."""
    import policy_engine.data.state as state_module

    path = tmp_path / "state.json"
    path.write_bytes((ROOT / "examples" / "state.json").read_bytes())
    monkeypatch.setattr(state_module, "MAX_STATE_BYTES", 100)
    real_fstat = os.fstat

    def lying_fstat(fd: int) -> os.stat_result:  # the size a growing file had when it was opened
        st_ = real_fstat(fd)
        return os.stat_result((st_.st_mode, *tuple(st_)[1:6], 10, *tuple(st_)[7:]))

    monkeypatch.setattr(state_module.os, "fstat", lying_fstat)
    assert stat.S_ISREG(lying_fstat(os.open(path, os.O_RDONLY)).st_mode)
    with pytest.raises(pe.StateError) as info:
        pe.load_state(path)
    d = only(info.value)
    assert (d.code, d.value) == (ErrorCode.STATE_TOO_LARGE, "more than 100 bytes")


@pytest.mark.parametrize("value", [5, None, "abc", EXAMPLE, {"organisations": []}])
def test_evaluate_many_refuses_what_is_not_an_iterable_of_states_at_once(value: Any) -> None:
    argument_error(lambda: pe.evaluate_many(value), "states")  # not only when iterated


def test_evaluate_many_still_evaluates_lazily() -> None:
    pulled: list[int] = []

    def states() -> Any:
        for i, state in enumerate([EXAMPLE, EXAMPLE.document]):
            pulled.append(i)
            yield state

    results = pe.evaluate_many(states(), BOOK, backend="native")
    assert pulled == []  # checked at once, evaluated only when asked
    assert next(results).record.state_digest == EXAMPLE.digest
    assert pulled == [0]
    assert next(results).record.state_digest == EXAMPLE.digest


@pytest.mark.parametrize("value", [5, 1.5, ["nhs-2024-25"]])
def test_a_rulebook_argument_of_the_wrong_type(value: Any) -> None:
    argument_error(lambda: pe.load_rulebook(value), "name_or_path", pe.RulebookError)
    argument_error(lambda: pe.evaluate(EXAMPLE, value), "rulebook", pe.RulebookError)
    argument_error(lambda: pe.validate_state(EXAMPLE.document, value), "rulebook")
    argument_error(lambda: tabular.normalise_frame(GOOD["frame"], value), "rulebook")


@pytest.mark.parametrize("value", [{"a": 1}, None, "table.csv", [1, 2]])
def test_evaluate_frame_names_a_frame_that_is_not_one(value: Any) -> None:
    d = argument_error(lambda: tabular.evaluate_frame(value), "frame")
    assert d.message == "expected a polars DataFrame"
    argument_error(lambda: tabular.frame_to_states(value), "frame")
    argument_error(lambda: tabular.normalise_frame(value), "frame")


@pytest.mark.parametrize(
    ("value", "name"),
    [(5, "states"), (EXAMPLE, "states"), ("s", "states"), ([EXAMPLE], "states[0]"), ({"s": 5}, "states[0]")],
)
def test_states_to_frame_names_what_is_not_a_state_pair(value: Any, name: str) -> None:
    argument_error(lambda: tabular.states_to_frame(value, BOOK), name)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "in.parquet"
    tabular.states_to_frame({"s": EXAMPLE}, BOOK).write_parquet(path)
    return path


@pytest.mark.parametrize("rows", [0, -5, "5", 2.0, True])
def test_chunk_rows_must_be_a_positive_whole_number(table: Path, rows: Any) -> None:
    """0 used to escape as ``ValueError: range() arg 3``, ``"5"`` as TypeError, and -5 to give
    a 0-row summary and an empty file for a 10-row input."""
    out = table.with_name("out.parquet")
    d = argument_error(lambda: tabular.evaluate_table(table, out, BOOK, chunk_rows=rows), "chunk_rows")
    assert d.message == "expected a whole number of at least 1"
    assert not out.exists()


def test_chunk_rows_of_one_evaluates_every_row(table: Path) -> None:
    out = table.with_name("out.parquet")
    summary = tabular.evaluate_table(table, out, BOOK, chunk_rows=1)
    assert summary.rows == len(EXAMPLE.organisations) == len(pl.read_parquet(out))


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_destination_in_a_missing_folder(table: Path, fmt: str) -> None:
    out = table.parent / "missing" / f"out.{fmt}"
    with pytest.raises(pe.PolicyError) as info:
        tabular.evaluate_table(table, out, BOOK)
    d = only(info.value)
    assert (d.code, d.subject) == (ErrorCode.OUTPUT_WRITE, str(out))
    assert d.message == f"the folder {out.parent} does not exist"


@pytest.mark.parametrize("argument", ["source", "destination"])
@pytest.mark.parametrize("value", [5, None, b"t.csv"])
def test_evaluate_table_paths_of_the_wrong_type(table: Path, argument: str, value: Any) -> None:
    args = {"source": table, "destination": table.with_name("o.parquet"), argument: value}
    argument_error(lambda: tabular.evaluate_table(args["source"], args["destination"], BOOK), argument)


@settings(deadline=None)
@given(extra=st.integers(min_value=1, max_value=50_000), quoted=st.booleans())
def test_a_csv_header_cell_too_long_is_a_table_error(
    tmp_path_factory: pytest.TempPathFactory, extra: int, quoted: bool
) -> None:
    """Over Python's CSV field limit (131,072 characters): a ``_csv.Error`` before."""
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    cell = "x" * (131_072 + extra)
    header = f'"{cell}"' if quoted else cell
    path.write_text(f"state_id,{header}\ns1,1\n", encoding="utf-8")
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(path, path.with_name("o.parquet"), BOOK)
    d = only(info.value)
    assert (d.code, d.subject, d.line) == (ErrorCode.TABLE_READ, str(path), 1)
    assert d.message == "a header cell is longer than 131072 characters; expected column names of the mapping"


def test_a_csv_header_line_too_long_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import policy_engine.tabular.reading as reading

    monkeypatch.setattr(reading, "MAX_HEADER_CHARS", 1000)
    path = tmp_path / "t.csv"
    path.write_text(",".join(f"c{i}" for i in range(1000)) + "\n", encoding="utf-8")
    with pytest.raises(pe.StateError) as info:
        tabular.evaluate_table(path, tmp_path / "o.parquet", BOOK)
    assert only(info.value).message.startswith("the header line is longer than 1000 characters")


# --------------------------------------------------------------------------- rulebook loading


def copy_book(tmp_path: Path, old: str, new: str, file: str = "rulebook.yaml") -> Path:
    book = tmp_path / "book"
    shutil.copytree(BUNDLED, book)
    path = book / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return book


@pytest.mark.parametrize(
    ("new", "field", "message"),
    [
        (
            'start: "2025-02-30"',
            "start",
            "expected a valid date as YYYY-MM-DD, e.g. 2025-03-31: day is out of range for month",
        ),
        ('end: "2025-13-01"', "end", "expected a valid date as YYYY-MM-DD, e.g. 2025-03-31: month must be in 1..12"),
    ],
)
def test_a_manifest_date_that_does_not_exist(tmp_path: Path, new: str, field: str, message: str) -> None:
    old = "start: 2024-04-01" if field == "start" else "end: 2025-03-31"
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(copy_book(tmp_path, old, new))
    d = only(info.value)
    assert (d.code, d.subject, d.location) == (ErrorCode.RULEBOOK_SCHEMA, "rulebook.yaml", ("rulebook", field))
    assert d.message == message
    assert d.path == f"rulebook.yaml.rulebook.{field}"


def test_a_manifest_year_that_ends_before_it_starts(tmp_path: Path) -> None:
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(copy_book(tmp_path, "end: 2025-03-31", "end: 2024-03-31"))
    d = only(info.value)
    assert (d.code, d.location, d.value) == (
        ErrorCode.RULEBOOK_INCONSISTENT,
        ("rulebook", "end"),
        "2024-04-01..2024-03-31",
    )


def test_a_source_document_that_is_not_utf8(tmp_path: Path) -> None:
    book = copy_book(tmp_path, "id: nhs-2024-25", "id: nhs-2024-25")
    source = book / "sources" / "news-hhe-designated-lead.txt"
    raw = source.read_bytes()
    source.write_bytes(raw + b"\xff\xfe")
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(book)
    d = only(info.value)
    assert (d.code, d.subject, d.value) == (
        ErrorCode.RULEBOOK_ENCODING,
        "sources/news-hhe-designated-lead.txt",
        r"b'\xff\xfe'",
    )
    assert d.message == f"invalid UTF-8 at byte {len(raw)}; expected UTF-8 text"


IDENTIFIERS = [
    ("rulebook.yaml", "id: nhs-2024-25", "id: {}", "nhs-2024-25", ("rulebook", "id")),
    ("rulebook.yaml", "start: 2024-04-01", "start: {}", "2024-04-01", ("rulebook", "start")),
    (
        "rulebook.yaml",
        "fy2024_25: {start: 2024-04",
        "fy2024_25: {{start: {}",
        "2024-04",
        ("periods", "fy2024_25", "start"),
    ),
    ("cancer.yaml", "area: cancer", "area: {}", "cancer", ("area",)),
    ("cancer.yaml", "  - id: cancer.", "  - id: {}", "cancer.", ("rules", 0, "id")),
]


@pytest.mark.parametrize(("file", "old", "new", "value", "location"), IDENTIFIERS, ids=[i[4][-1] for i in IDENTIFIERS])
@settings(deadline=None)
@given(end=st.sampled_from(["\n", "\r\n", "\n\n"]))
def test_an_identifier_with_a_final_line_break_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
    file: str,
    old: str,
    new: str,
    value: str,
    location: tuple[Any, ...],
    end: str,
) -> None:
    """``a.x`` and ``"a.x\\n"`` loaded as two ids (Python's ``$`` matches before a final newline)."""
    tmp = tmp_path_factory.mktemp("book")
    text = (BUNDLED / file).read_text(encoding="utf-8")
    if value == "cancer.":  # the first rule's id, whole
        value = text.split("  - id: ", 1)[1].split("\n", 1)[0]
        old = f"  - id: {value}"
    book = copy_book(
        tmp, old, new.format(yaml.safe_dump(value + end, default_style='"').strip().removesuffix("...").strip()), file
    )
    with pytest.raises(pe.RulebookError) as info:
        pe.load_rulebook(book)
    codes = {(d.code, d.location) for d in info.value.details}
    assert (ErrorCode.RULEBOOK_SCHEMA, location) in codes, [str(d) for d in info.value.details]


@pytest.mark.parametrize("field", ["id", "rulebook"])
def test_an_overlay_id_with_a_final_line_break_is_refused(tmp_path: Path, field: str) -> None:
    doc = {
        "overlay": {"id": "local", "title": "t", "rulebook": "nhs-2024-25", "date": "2025-01-01"},
        "parameters": {"uec.ae-4h-78": {"threshold": {"value": 80, "unit": "percent", "reason": "a reason"}}},
    }
    doc["overlay"][field] += "\n"
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(pe.PolicyError) as info:
        load_overlay(path)
    assert any(d.location == ("overlay", field) for d in info.value.details), [str(d) for d in info.value.details]


# --------------------------------------------------------------------------- scenario files

SCENARIO = """\
scenarios:
  - name: one
    as_of: 2025-03-31
    organisations:
      - {id: RX1, type: acute_trust}
    expect:
      - {rule: RULE, org: RX1, status: not_applicable}
"""


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test_s.policy.yaml"
    path.write_text(text.replace("RULE", BOOK.rules[0].id), encoding="utf-8")
    return path


def scenario_error(path: Path) -> ScenarioFileError:
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios(path)
    assert all(d.subject == str(path) for d in info.value.details)
    return info.value


def test_the_scenario_fixture_loads(tmp_path: Path) -> None:
    assert len(load_scenarios(scenario_file(tmp_path, SCENARIO))) == 1


def test_a_key_twice_in_a_scenario_is_refused_not_the_last_kept(tmp_path: Path) -> None:
    """Two ``expect:`` keys kept only the last, so a false expectation passed."""
    text = SCENARIO + "    expect:\n      - {rule: RULE, org: RX1, status: met}\n"
    d = only(scenario_error(scenario_file(tmp_path, text)))
    assert (d.code, d.line, d.message) == (ErrorCode.SCENARIO_READ, 8, "duplicate key 'expect' in one mapping")


def test_an_alias_bomb_is_refused_before_it_grows(tmp_path: Path) -> None:
    """About 700 bytes that grew to 4-5 GB as the plugin collected them."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    text = "\n".join(lines) + "\n" + SCENARIO
    assert len(text.encode()) < 1000
    d = only(scenario_error(scenario_file(tmp_path, text)))
    assert (d.code, d.line, d.message) == (ErrorCode.SCENARIO_READ, 1, "anchors (&name) are not allowed in rule files")


@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 1, 10_000])
def test_a_deeply_nested_scenario_file(tmp_path: Path, depth: int) -> None:
    """10,000 levels were a RecursionError from PyYAML."""
    d = only(scenario_error(scenario_file(tmp_path, "scenarios: " + "[" * depth + "]" * depth + "\n")))
    assert d.code == ErrorCode.SCENARIO_READ
    assert d.message.startswith("nesting too deep")


@pytest.mark.parametrize(
    ("written", "shown"), [("NO", "false"), ("yes", "true"), ("1234", "1234"), ('"RX1\\n"', '"RX1\\n"')]
)
def test_an_organisation_id_yaml_does_not_read_as_text(tmp_path: Path, written: str, shown: str) -> None:
    """``id: NO`` (Norway, or an ODS code) is a boolean to YAML: a clear problem of the file now,
    not a ScenarioFailure when the scenario runs."""
    text = SCENARIO.replace("{id: RX1,", f"{{id: {written},")
    err = scenario_error(scenario_file(tmp_path, text))
    d = only(err)
    assert (d.code, d.location, d.value) == (
        ErrorCode.SCENARIO_FORMAT,
        ("scenarios", 0, "organisations", 0, "id"),
        shown,
    )
    assert d.path.endswith(": scenarios[0].organisations[0].id")


@pytest.mark.parametrize(
    ("old", "new", "location"),
    [
        (
            "    expect:\n      - {rule: RULE, org: RX1, status: not_applicable}\n",
            "    expect: []\n",
            ("scenarios", 0, "expect"),
        ),
        (SCENARIO, "scenarios: []\n", ("scenarios",)),
    ],
)
def test_a_scenario_file_that_cannot_fail_is_refused(
    tmp_path: Path, old: str, new: str, location: tuple[Any, ...]
) -> None:
    d = only(scenario_error(scenario_file(tmp_path, SCENARIO.replace(old, new))))
    assert (d.code, d.location) == (ErrorCode.SCENARIO_FORMAT, location)


def test_a_scenario_file_that_is_not_a_regular_file(tmp_path: Path) -> None:
    if sys.platform == "win32" or not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    with pytest.raises(ScenarioFileError) as info:
        load_scenarios("/dev/zero")
    assert only(info.value).message == "expected a regular file"


@pytest.mark.slow
def test_the_plugin_reports_a_duplicate_key_as_a_collection_error(tmp_path: Path) -> None:
    """pytest said "2 passed" for a file whose first ``expect:`` was false and hidden by the second."""
    text = SCENARIO + "    expect:\n      - {rule: RULE, org: RX1, status: not_applicable}\n"
    scenario_file(tmp_path, text.replace("status: not_applicable}\n    expect", "status: met}\n    expect", 1))
    env = dict(os.environ)
    package_parent = str(Path(pe.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--policy-backend", "native", str(tmp_path)]
    if not any(ep.value == "policy_engine.testing.plugin" for ep in entry_points(group="pytest11")):
        args[3:3] = ["-p", "policy_engine.testing.plugin"]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "duplicate key 'expect' in one mapping" in output
    assert re.search(r"\b1 error\b", output), output
    assert " passed" not in output, output

"""Decision records and the audit log: every field of a record sealed and checked; the log hash-chained,
appended under a lock by many processes, and every alteration named at its line
(docs/decisions/022-sealed-records-and-chained-logs.md)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.audit.records import append_log, decision_record, field_digests, verify_log, verify_record
from policy_engine.cli import run
from policy_engine.errors import ErrorCode, PolicyError
from policy_engine.io import chain
from policy_engine.io.canonical import canonical_json

ROOT = Path(__file__).resolve().parents[1]
STATE: dict[str, Any] = {
    "as_of": "2025-04-20",
    "cohorts": [{"scope": "national", "types": ["acute_trust"], "source": "test: the only Type 1 provider"}],
    "organisations": [
        {"id": "QA1", "type": "icb", "name": "Example ICB"},
        {
            "id": "RA1",
            "type": "acute_trust",
            "parent": "QA1",
            "services": ["type1_ae"],
            "metrics": {
                "ae_4h_all": [{"period": "2025-03", "numerator": 779, "denominator": 1000}],
                "ae_4h_type1": [{"period": "2025-03", "numerator": 801, "denominator": 1000}],
            },
        },
    ],
}
HEX = "0123456789abcdef"


@cache
def _made() -> tuple[pe.State, pe.Rulebook, str]:
    state = pe.state_from_dict(STATE)
    book = pe.load_rulebook()
    return state, book, json.dumps(decision_record(pe.evaluate(state, book, backend="native")))


def _record() -> dict[str, Any]:
    return json.loads(_made()[2])


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- the record's seal


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a record: each field, and everything nested in it."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key in value:
            found += _paths(value[key], (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    return found


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def _tampered(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Any, ...], str]:
    """A record with one thing changed (the path of what changed, and how)."""
    record = _record()
    path = draw(st.sampled_from(_paths(record)))
    parent, key = _get(record, path[:-1]), path[-1]
    value = parent[key]
    if isinstance(value, list):
        how = draw(st.sampled_from(["add", "remove", "duplicate", "swap"] if len(value) > 1 else ["add"]))
        if how == "add":
            value.append(copy.deepcopy(value[0]) if value else draw(st.text(min_size=1)))
        elif how == "remove":
            del value[draw(st.integers(0, len(value) - 1))]
        elif how == "duplicate":
            i = draw(st.integers(0, len(value) - 1))
            value.insert(draw(st.integers(0, len(value))), copy.deepcopy(value[i]))
        else:
            i = draw(st.integers(0, len(value) - 2))
            j = draw(st.integers(i + 1, len(value) - 1).filter(lambda j: value[j] != value[i]))
            value[i], value[j] = value[j], value[i]
        return record, path, how
    if isinstance(value, dict):  # field_digests: a field's digest dropped, or one added
        name = draw(st.sampled_from(sorted(value)))
        if draw(st.booleans()):
            del value[name]
            return record, (*path, name), "remove"
        value[name + "_x"] = value[name]
        return record, (*path, name + "_x"), "add"
    if len(value) == 64 and set(value) <= set(HEX):  # a digest: still a digest, another one
        i = draw(st.integers(0, 63))
        parent[key] = value[:i] + HEX[(HEX.index(value[i]) + 1) % 16] + value[i + 1 :]
    elif key == "as_of":
        days = draw(st.integers(-400, 400).filter(bool))
        parent[key] = (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    elif key == "backend":
        parent[key] = {"native": "durable", "durable": "native"}[value]
    else:
        parent[key] = draw(st.text(max_size=20).filter(lambda t: t != value))
    return record, path, "alter"


@settings(deadline=None)
@given(_tampered())
def test_any_change_to_a_record_is_named(case: tuple[dict[str, Any], tuple[Any, ...], str]) -> None:
    record, path, how = case
    state, book, _ = _made()
    field = path[1] if path[0] == "field_digests" else path[0]
    try:
        check = verify_record(record, state, book)
    except PolicyError as exc:  # the change made it no record at all: the schema says where
        assert exc.details and all(d.code is ErrorCode.RECORD_SCHEMA for d in exc.details), exc
        assert any(d.location[:1] == (field,) or d.location == () for d in exc.details), exc
        return
    assert not check.ok, (path, how)
    named = [d for d in check.differences if d.startswith(f"{field}:")]
    assert named, (path, how, check.differences)
    if path[0] == "outcomes" and how != "alter":
        assert any(d.startswith("outcomes:") or " / " in d for d in check.differences), check.differences


def test_the_untampered_record_is_confirmed_and_seals_every_field() -> None:
    state, book, _ = _made()
    record = _record()
    assert set(record["field_digests"]) == set(record) - {"field_digests"}
    assert record["field_digests"] == field_digests(record)
    check = verify_record(record, state, book)
    assert check.ok and check.sealed, check.differences
    assert str(check) == "the record is confirmed: same input, rulebook and outcomes"


def test_each_tampering_of_the_issue_is_named() -> None:
    state, book, _ = _made()
    for name, value in [
        ("overlays", ["local@" + "0" * 64]),
        ("backend", "durable"),
        ("engine_version", "native 9"),
        ("package_version", "0.0.1"),
        ("rulebook_version", "2099"),
        ("evaluated_at", "2020-01-01T00:00:00+00:00"),
    ]:
        record = _record()
        record[name] = value
        check = verify_record(record, state, book)
        assert not check.ok, name
        assert f"{name}: its value does not match field_digests.{name}" in "\n".join(check.differences), name
    record = _record()
    record["outcomes"].append(record["outcomes"][0])
    record["field_digests"] = field_digests(record)  # even resealed, an outcome listed twice is named
    rule, org, last = record["outcomes"][0]["rule"], record["outcomes"][0]["organisation"], len(record["outcomes"]) - 1
    (diff,) = verify_record(record, state, book).differences
    assert diff == f"outcomes: {rule} / {org} is listed 2 times (entries 0, {last})"
    record = _record()
    record["overlays"] = ["local@" + "0" * 64]
    record["rulebook_version"] = "2099"
    record["field_digests"] = field_digests(record)  # resealed: the rulebook itself disagrees
    diffs = verify_record(record, state, book).differences
    assert diffs == (
        f"rulebook_version: recorded '2099', the rulebook's is {book.version!r}",
        f"overlays: recorded ['local@{'0' * 64}'], the rulebook was loaded with []",
    )
    record = _record()
    record["outcomes"][0], record["outcomes"][1] = record["outcomes"][1], record["outcomes"][0]
    record["field_digests"] = field_digests(record)
    (diff,) = verify_record(record, state, book).differences
    assert diff.startswith("outcomes: not in the evaluation's order (entry 0 is ")


def test_an_unsealed_record_is_confirmed_only_when_allowed(tmp_path: Path) -> None:
    state, book, _ = _made()
    record = _record()
    del record["field_digests"]  # as written before records were sealed
    check = verify_record(record, state, book)
    assert not check.ok and check.differences[0].startswith("field_digests: missing: the record is not sealed")
    check = verify_record(record, state, book, allow_unsealed=True)
    assert check.ok and not check.sealed
    assert "it is not sealed (no field_digests), so its backend, versions and evaluated_at are not confirmed" in str(
        check
    )
    path, state_path = tmp_path / "record.json", tmp_path / "state.json"
    path.write_text(json.dumps(record))
    state_path.write_text(json.dumps(STATE))
    code, out, err = _run("verify-record", str(path), str(state_path))
    assert code == 5 and out == "" and "field_digests: missing" in err
    code, out, err = _run("verify-record", str(path), str(state_path), "--allow-unsealed")
    assert code == 0 and "not sealed" in out, err


# --------------------------------------------------------------------------- the chained log


def _entry(i: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"schema": "test", "n": str(i), "outcomes": [{"rule": "r", "status": str(i % 3)}]}
    entry["field_digests"] = field_digests(entry)
    return entry


def _log(tmp_path: Path, n: int) -> tuple[Path, list[bytes]]:
    path = tmp_path / "audit.jsonl"
    path.unlink(missing_ok=True)
    for i in range(n):
        append_log(path, _entry(i))
    return path, path.read_bytes().splitlines(keepends=True)


@st.composite
def _tampered_log(draw: st.DrawFn) -> tuple[int, str, Any]:
    """How many lines, and one alteration, removal, reordering or insertion (none at the end)."""
    n = draw(st.integers(2, 7))
    how = draw(st.sampled_from(["alter", "reformat", "add_key", "drop_key", "remove", "swap", "insert", "garble"]))
    if how == "swap":
        i = draw(st.integers(0, n - 2))
        return n, how, (i, draw(st.integers(i + 1, n - 1)))
    if how == "insert":
        return n, how, (draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)))
    if how == "remove":
        return n, how, draw(st.integers(0, n - 2))
    return n, how, (draw(st.integers(0, n - 1)), draw(st.integers(0, 10**6)))


def _apply(lines: list[bytes], how: str, where: Any) -> list[bytes]:
    lines = list(lines)
    if how == "remove":
        del lines[where]
    elif how == "swap":
        i, j = where
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "insert":
        at, copy_of = where
        lines.insert(at, lines[copy_of])
    else:
        k, seed = where
        doc = json.loads(lines[k])
        paths = [p for p in _paths(doc) if not isinstance(_get(doc, p), (dict, list))]
        path = paths[seed % len(paths)]
        if how == "alter":
            parent = _get(doc, path[:-1])
            parent[path[-1]] = parent[path[-1]] + "x"
        elif how == "add_key":
            doc[f"extra{seed}"] = "x"
        elif how == "drop_key":
            del doc[sorted(k for k in doc if k != "prev")[seed % (len(doc) - 1)]]
        text = canonical_json(doc)
        if how == "reformat":
            text = json.dumps(doc, sort_keys=True)  # the same JSON, spaced
        elif how == "garble":
            text = text[: seed % len(text)]
        lines[k] = text.encode() + b"\n"
    return lines


@settings(deadline=None)
@given(_tampered_log())
def test_verify_log_names_the_first_line_that_was_changed(tmp_path_factory: Any, case: tuple[int, str, Any]) -> None:
    n, how, where = case
    path, lines = _log(tmp_path_factory.mktemp("log"), n)
    assert verify_log(path).ok
    changed = _apply(lines, how, where)
    first = next(
        (i for i, (a, b) in enumerate(zip(changed, lines, strict=False)) if a != b), min(len(lines), len(changed))
    )
    path.write_bytes(b"".join(changed))
    check = verify_log(path)
    assert changed != lines
    assert not check.ok and check.bad_line == first + 1, (how, where, check.problem)
    assert str(check).startswith(f"the log {path} is not intact: line {first + 1}")


def test_every_chained_line_is_sealed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    append_log(path, {"schema": "test", "n": "1"})  # an unsealed entry is sealed as it is appended
    entry = json.loads(path.read_text())
    assert entry["field_digests"] == field_digests({"schema": "test", "n": "1"})
    del entry["field_digests"]
    path.write_text(canonical_json(entry) + "\n")
    check = verify_log(path)
    assert not check.ok and check.bad_line == 1 and "line 1: it has no field_digests" in check.problem


def test_lines_removed_from_the_end_are_caught_with_the_head(tmp_path: Path) -> None:
    path, lines = _log(tmp_path, 4)
    head = verify_log(path).head
    assert head == hashlib.sha256(lines[-1][:-1]).hexdigest()
    path.write_bytes(b"".join(lines[:-1]))
    assert verify_log(path).ok  # a shorter chain is a chain: only the kept head shows the loss
    check = verify_log(path, head=head)
    assert not check.ok and check.bad_line is None
    assert f"no line of the log has the expected head hash {head}: lines were removed from its end" in check.problem
    path.write_bytes(b"".join(lines))
    append_log(path, _entry(9))  # appending after the head was taken is not a loss
    assert verify_log(path, head=head).ok


def test_a_forged_line_with_the_right_prev_is_caught_at_the_next_line(tmp_path: Path) -> None:
    path, lines = _log(tmp_path, 4)
    forged = {**_entry(99), "prev": hashlib.sha256(lines[1][:-1]).hexdigest()}
    path.write_bytes(b"".join([*lines[:2], canonical_json(forged).encode() + b"\n", *lines[2:]]))
    check = verify_log(path)
    assert not check.ok and check.bad_line == 4
    assert "line 3 was altered, lines were removed or reordered there, or line 4 was inserted" in check.problem


def test_an_old_unchained_log_is_read_and_said_to_have_no_chain(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    old = [canonical_json(_entry(i)) + "\n" for i in range(3)]  # as append_log wrote before chaining
    path.write_text("".join(old))
    check = verify_log(path)
    assert not check.ok and (check.lines, check.unchained, check.bad_line) == (3, 3, None)
    assert "the log has no hash chain: its 3 lines were written before logs were chained" in str(check)
    append_log(path, _entry(3))  # the chain starts from the last old line
    assert json.loads(path.read_text().splitlines()[3])["prev"] == hashlib.sha256(old[2][:-1].encode()).hexdigest()
    check = verify_log(path)
    assert check.ok and (check.lines, check.unchained) == (4, 3)
    assert "lines 1-3 were written before logs were chained: only the last of them (line 3) is covered" in str(check)
    path.write_text("".join([*old, path.read_text().splitlines(keepends=True)[3], old[0]]))
    check = verify_log(path)  # an unchained line after the chain began was put there
    assert not check.ok and check.bad_line == 5 and "has no 'prev' although the chain began at line 4" in check.problem


def test_four_processes_appending_at_once_lose_no_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    code = (
        "import sys\n"
        "from policy_engine.audit.records import append_log, field_digests\n"
        "for i in range(200):\n"
        "    e = {'writer': sys.argv[1], 'i': str(i), 'pad': 'x' * (i * 37 % 5000)}\n"
        "    e['field_digests'] = field_digests(e)\n"
        "    append_log(sys.argv[2], e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w), str(path)], env=env) for w in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    check = verify_log(path)
    assert check.ok and check.lines == 800, check.problem
    written = {(d["writer"], d["i"]) for d in map(json.loads, path.read_text().splitlines())}
    assert written == {(str(w), str(i)) for w in range(4) for i in range(200)}


def test_a_log_that_cannot_be_appended_to_is_a_policy_error_naming_it(tmp_path: Path) -> None:
    path, lines = _log(tmp_path, 2)
    path.write_bytes(b"".join(lines) + lines[0][:10])  # a write cut short
    with pytest.raises(PolicyError) as info:
        append_log(path, _entry(5))
    (detail,) = info.value.details
    assert detail.code is ErrorCode.LOG_WRITE and detail.subject == str(path)
    assert "its last line is incomplete" in detail.message
    assert path.read_bytes() == b"".join(lines) + lines[0][:10]  # nothing appended after it
    check = verify_log(path)
    assert not check.ok and check.bad_line == 3 and "line 3 is incomplete" in check.problem
    for target in (tmp_path, tmp_path / "no-such-folder" / "log.jsonl"):
        with pytest.raises(PolicyError) as info:
            append_log(target, _entry(0))
        assert info.value.details[0].code is ErrorCode.LOG_WRITE and info.value.details[0].subject == str(target)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PolicyError, match="cannot append") as info:
        append_log(fifo, _entry(0))  # refused, not blocked on
    assert "not a regular file" in info.value.details[0].message
    with pytest.raises(PolicyError) as info:
        verify_log(tmp_path / "missing.jsonl")
    assert info.value.details[0].code is ErrorCode.LOG_READ
    with pytest.raises(ValueError, match="the log adds it"):
        append_log(tmp_path / "x.jsonl", {"prev": "0" * 64})


def test_a_write_that_fails_part_way_leaves_the_log_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, lines = _log(tmp_path, 2)

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chain, "_write_all", half_then_full)
    with pytest.raises(PolicyError) as info:
        append_log(path, _entry(2))
    assert info.value.details[0].message == "No space left on device"
    assert path.read_bytes() == b"".join(lines)
    monkeypatch.undo()
    append_log(path, _entry(2))
    assert verify_log(path).ok


def test_the_cli_logs_and_verifies_the_log(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(STATE))
    log = tmp_path / "audit.jsonl"
    for _ in range(3):
        code, _, err = _run("evaluate", str(state), "--backend", "native", "--log", str(log))
        assert code == 0, err
    code, out, err = _run("verify-log", str(log))
    assert code == 0 and out.startswith(f"the log {log} is intact: 3 lines, chained; head "), err
    head = out.split("head ")[1].strip()
    lines = log.read_text().splitlines(keepends=True)
    record = json.loads(lines[1])
    record.pop("prev")
    assert verify_record(record, pe.state_from_dict(STATE)).ok  # a line is its record, with its prev
    lines[1] = lines[1].replace('"backend":"native"', '"backend":"durable"')
    log.write_text("".join(lines))
    code, out, err = _run("verify-log", str(log))
    assert code == 5 and out == ""
    assert "line 2: backend: its value does not match field_digests.backend" in err
    log.write_text("".join(lines[:1]))
    code, out, err = _run("verify-log", str(log), "--head", head)
    assert code == 5 and "lines were removed from its end" in err
    code, out, err = _run("verify-log", str(tmp_path / "none.jsonl"))
    assert code == 3 and "cannot read the log" in err and "internal error" not in err

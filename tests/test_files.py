"""The one atomic-write helper (policy_engine.io.files): a destination appears whole or not at
all, no temporary file is left behind, and an unwritable destination is a PolicyError naming it."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from policy_engine.errors import PolicyError
from policy_engine.io.files import TEMP_PREFIX, atomic_write, write_text_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_writes_text_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with atomic_write(target) as fh:
        fh.write('{"a": "é"}\n')
        assert not target.exists()  # nothing appears before the block ends
        assert len(_leftovers(tmp_path)) == 1
    assert target.read_bytes() == '{"a": "é"}\n'.encode()
    assert _leftovers(tmp_path) == []


def test_writes_bytes(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_write(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_an_error_leaves_no_partial_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.txt"
    with pytest.raises(RuntimeError, match="half-way"), atomic_write(fresh) as fh:
        fh.write("half of it")
        raise RuntimeError("half-way")
    assert not fresh.exists()
    old = tmp_path / "old.txt"
    old.write_text("the old content", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), atomic_write(old) as fh:
        fh.write("the new content, half-written")
        raise KeyboardInterrupt
    assert old.read_text(encoding="utf-8") == "the old content"
    assert _leftovers(tmp_path) == []


def test_a_missing_folder_is_a_policy_error_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "out.json"
    with pytest.raises(PolicyError) as info, atomic_write(target) as fh:
        fh.write("never written")
    assert info.value.summary == "cannot write the file"
    (detail,) = info.value.details
    assert detail.path == str(target)
    assert detail.message == f"the folder {tmp_path / 'no-such-folder'} does not exist"
    assert not (tmp_path / "no-such-folder").exists()


def test_a_folder_as_destination_is_a_policy_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(PolicyError) as info:
        write_text_atomic(tmp_path / "sub", "text")
    assert info.value.details[0].message == "it is a folder"
    assert _leftovers(tmp_path) == []


def test_a_file_as_folder_is_a_policy_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        write_text_atomic(tmp_path / "plain" / "out.txt", "text")
    assert info.value.details[0].message == f"{tmp_path / 'plain'} is not a folder"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permissions_are_those_of_a_new_file(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "out.txt", "text")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o640  # not mkstemp's 0o600


def test_newline_is_kept_as_asked(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "a.md", "one\ntwo\n", newline="\n")
    assert (tmp_path / "a.md").read_bytes() == b"one\ntwo\n"


def test_only_write_modes() -> None:
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        atomic_write("x", "a")  # type: ignore[call-overload]


def test_the_cli_names_a_missing_output_folder(tmp_path: Path) -> None:
    from policy_engine import cli

    example = Path(__file__).resolve().parents[1] / "examples" / "state.json"
    target = tmp_path / "missing" / "out.json"
    err = io.StringIO()
    assert cli.run(["evaluate", str(example), "-o", str(target)], io.StringIO(), err) == cli.EXIT_INVALID
    assert err.getvalue() == (
        f"policy-engine: invalid input: cannot write the file\n"
        f"  - {target}: the folder {tmp_path / 'missing'} does not exist\n"
    )


def test_evaluate_table_names_a_missing_output_folder_and_leaves_nothing(tmp_path: Path) -> None:
    pytest.importorskip("polars")
    from policy_engine import tabular

    source = tmp_path / "rows.csv"
    source.write_text("state_id,org_id,org_type,as_of\ns,EXB,acute_trust,2025-04-30\n", encoding="utf-8")
    target = tmp_path / "missing" / "out.parquet"
    with pytest.raises(PolicyError) as info:
        tabular.evaluate_table(source, target)
    assert [str(d) for d in info.value.details] == [f"{target}: the folder {tmp_path / 'missing'} does not exist"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]
    tabular.evaluate_table(source, tmp_path / "out.jsonl")  # the same table, written where it can be
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "rows.csv"]

"""evaluate --format table fits the terminal, keeps the deciding numbers whole, colours only a
terminal (NO_COLOR, --no-color), and long runs show progress on stderr only on a terminal."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine as pe
from policy_engine.cli import EXIT_OK, layout, run
from policy_engine.io.terminal import TerminalStream

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "state.json")
BOOK = pe.load_rulebook()
EVALUATION = pe.evaluate(pe.load_state(EXAMPLE), BOOK, backend="native")
SGR = re.compile(r"\x1b\[[0-9;]*m")


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _words(text: str) -> list[str]:
    return text.split()


@settings(deadline=None)
@given(st.integers(40, 260))
def test_every_line_fits_and_nothing_is_lost(width: int) -> None:
    lines = layout.outcome_table(EVALUATION, width)
    fixed = sum(len(t) for t, _ in lines[0][:-1])
    text = layout.plain(lines)
    for line in text.splitlines():
        # A row's fixed columns are never cut; the explanation wraps within what is left.
        assert len(line) <= max(width, fixed), (width, line)
    for o in EVALUATION.outcomes[:40]:
        value = layout.deciding_value(o)
        row = next(line for line in text.splitlines() if f" {o.rule_id} " in f" {line} " and line.startswith(o.org_id))
        assert value in row  # the deciding numbers stay whole, in their own column
    # Every word of every explanation is there (long words may be split at the column's edge).
    assert "".join(_words(text)).count("Met:") >= sum(o.explanation.startswith("Met:") for o in EVALUATION.outcomes)


def test_deciding_value_is_in_units() -> None:
    cat2 = EVALUATION.outcome("uec.cat2-mean-30min", "EXR")
    assert layout.deciding_value(cat2) == "35:48 vs 30:00"
    ae = EVALUATION.outcome("uec.ae-4h-78", "EXA")
    assert layout.deciding_value(ae) == "74.2% vs 78.0%"


def _table(*extra: str, stdout: io.StringIO | None = None) -> str:
    out = stdout if stdout is not None else FakeTty()
    code = run(["evaluate", EXAMPLE, "--format", "table", "--org", "EXR", *extra], stdout=out, stderr=io.StringIO())
    assert code == EXIT_OK
    return out.getvalue()


def test_colour_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "150")
    coloured = _table()
    assert "\x1b[38;2;30;132;73mmet\x1b[0m" in coloured  # STATUS_INFO["met"].colour, #1e8449
    assert "\x1b[38;2;211;84;0mnot_met\x1b[0m" in coloured  # #d35400
    assert SGR.sub("", coloured) == _table("--no-color")
    assert "\x1b" not in _table("--no-color")
    assert "\x1b" not in _table(stdout=io.StringIO())  # not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in _table()
    monkeypatch.delenv("NO_COLOR")
    out = tmp_path / "t.txt"
    _table("-o", str(out))
    assert "\x1b" not in out.read_text(encoding="utf-8")


def test_the_terminal_width_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    for columns in (60, 100, 200):
        monkeypatch.setenv("COLUMNS", str(columns))
        lines = _table().splitlines()
        rows = [line for line in lines if line.startswith("EXR ")]
        fixed = max(len(line) for line in rows) if "EXPLANATION" not in lines[0] else columns
        assert all(len(line) <= max(columns, fixed) for line in lines)
        # Too narrow for an explanation beside the row: it goes below, indented, within the width.
        below = [line for line in lines if line.startswith("    ")]
        assert all(len(line) <= columns for line in below) and (columns > 100 or below)


def test_colour_never_lets_data_control_characters_through() -> None:
    out = FakeTty()
    stream = TerminalStream(out)
    layout.write_table([[("met", "#1e8449"), (" evil \x1b[2J \x9b31m", None)]], stream)
    text = out.getvalue()
    assert "\\u001b[2J" in text and "\\u009b" in text
    assert SGR.sub("", text) == "met evil \\u001b[2J \\u009b31m\n"


def _batch_file(tmp_path: Path, lines: int) -> Path:
    state = json.loads(Path(EXAMPLE).read_text(encoding="utf-8"))
    state["organisations"] = state["organisations"][:1]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(state) for _ in range(lines)) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("tty", "quiet", "shown"), [(True, False, True), (True, True, False), (False, False, False)])
def test_batch_progress_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tty: bool, quiet: bool, shown: bool
) -> None:
    monkeypatch.setattr(layout, "PROGRESS_DELAY", 0.0)
    err = FakeTty() if tty else io.StringIO()
    out = io.StringIO()
    argv = ["evaluate", str(_batch_file(tmp_path, 3)), "--batch", *(["--quiet"] if quiet else [])]
    assert run(argv, stdout=out, stderr=err) == EXIT_OK
    assert len(out.getvalue().splitlines()) == 3  # the output is the same either way
    assert ("states" in err.getvalue()) is shown
    if not shown:
        assert err.getvalue() == ""


def test_import_progress_counts_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "PROGRESS_DELAY", 0.0)
    calls: list[int] = []
    with layout.progress(FakeTty(), quiet=False, total=2, unit="file", desc="import") as bar:
        bar.update(1)
        calls.append(1)
    with layout.progress(io.StringIO(), quiet=False, total=2, unit="file", desc="import") as bar:
        bar.update(1)  # silent: not a terminal
    assert calls == [1]


@pytest.mark.parametrize("command", [["rules"], ["catalogue", "--type", "acute_trust"]])
def test_rules_and_catalogue_fit_a_terminal_and_keep_whole_lines_in_a_pipe(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    on_tty, piped = FakeTty(), io.StringIO()
    assert run([*command, "--format", "table"], stdout=on_tty, stderr=io.StringIO()) == EXIT_OK
    assert run([*command, "--format", "table"], stdout=piped, stderr=io.StringIO()) == EXIT_OK
    assert max(len(line) for line in on_tty.getvalue().splitlines()) <= 60
    assert max(len(line) for line in piped.getvalue().splitlines()) > 60  # the test can fail: lines are long
    # wrapped, nothing lost (a word longer than the line is split at its edge)
    assert "".join(_words(on_tty.getvalue())) == "".join(_words(piped.getvalue()))

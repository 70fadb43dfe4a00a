"""Text for a terminal (``io/terminal.py``) and every text output of the command line: the control
characters a state, a rulebook or a file holds never reach a terminal raw (issue 20)."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.cli import EXIT_OK, EXIT_USAGE, run
from policy_engine.io.terminal import CONTROL_CHARACTERS, TerminalStream, inline_text, terminal_text

_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""A control character a text output must not hold raw: C0 but line feed and tab (the layout),
DEL, C1, the bidirectional controls, the line and paragraph separators, lone surrogates."""

_NASTY = "\x1b\x9b\x07\x08\r\n\t\x00\x7f\x85\u202e\u2066\u200f\u2028\u061c|`<>[]()*_#\\&"
_HOSTILE = st.text(st.one_of(st.sampled_from(_NASTY), st.characters()), min_size=1, max_size=24)
"""Text as a hostile state may hold it: any character (lone surrogates aside, which JSON text
cannot carry into a state), control characters and Markdown and HTML specials often."""


def test_escapes_are_shown_as_json_writes_them() -> None:
    assert terminal_text("a\x1b[2Jb\tc\nd\re\u202ef\x9bg\x7f\ud800") == (
        "a\\u001b[2Jb\tc\nd\\u000de\\u202ef\\u009bg\\u007f\\ud800"
    )
    assert inline_text("a\tb\nc") == "a\\u0009b\\u000ac"
    assert terminal_text("Évaluation — 78% “quoted”") == "Évaluation — 78% “quoted”"


@settings(deadline=None)
@given(text=st.text(st.characters(codec=None)))
def test_no_control_character_survives_and_nothing_else_changes(text: str) -> None:
    shown, inline = terminal_text(text), inline_text(text)
    assert not _RAW.search(shown) and not CONTROL_CHARACTERS.search(inline)
    assert shown.count("\n") == text.count("\n") and "\n" not in inline
    if not CONTROL_CHARACTERS.search(text):
        assert shown == inline == text
    # The escape is JSON's: JSON text written through it is still JSON, with the same value.
    doc = {"name": text, "list": [text, 1]}
    assert json.loads(terminal_text(json.dumps(doc, ensure_ascii=False, indent=2))) == doc


def test_the_stream_escapes_what_it_is_given() -> None:
    raw = io.StringIO()
    stream = TerminalStream(raw)
    assert stream.write("\x1b]0;title\x07\n") == 11
    assert raw.getvalue() == "\\u001b]0;title\\u0007\n" and not stream.isatty()


# --------------------------------------------------------------------------- the command line


_STATE: dict[str, Any] = {
    "as_of": "2025-04-20",
    "organisations": [
        {"id": "QA1", "type": "icb", "name": "Example ICB"},
        {"id": "RA1", "type": "acute_trust", "parent": "QA1", "name": "RA1", "facts": []},
    ],
}


def _hostile_state(tmp_path: Path, text: str) -> str:
    doc = copy.deepcopy(_STATE)
    trust = doc["organisations"][1]
    trust["name"] = text
    trust["facts"] = [
        {"name": "dig_epr_outline_business_case_completed", "value": True, "date": "2024-01-10", "evidence": text},
        {"name": "dig_epr_deployed", "value": True, "date": "2024-06-01", "evidence": text},
    ]
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _clean(*texts: str) -> None:
    for text in texts:
        raw = _RAW.search(text)
        assert raw is None, f"a raw {raw.group()!r} in ...{text[max(0, raw.start() - 80) : raw.end() + 80]!r}..."


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_HOSTILE)
def test_no_raw_control_character_reaches_a_text_output(tmp_path: Path, text: str) -> None:
    """Regression (issue 20): a fact's evidence ``\\x1b[2J`` cleared the screen of ``explain``
    and ``evaluate --format table``. Names and evidence of any text, through every text output
    of a state: none holds a raw control character, each shows the text escaped, and the JSON
    outputs still parse to the same values."""
    state = _hostile_state(tmp_path, text)
    native = ("--backend", "native")
    code, out, err = _run("explain", state, "dig.epr-deployed-mar-2025", "RA1", *native)
    assert code == EXIT_OK, err
    _clean(out, err)
    assert f"evidence: {inline_text(text)}" in out  # on its line, whole, escaped
    for argv in (
        ("evaluate", state, "--format", "table", *native),
        ("report", state, "--format", "md", *native),
        ("report", state, "--format", "html", *native),
        ("validate", state),
    ):
        code, out, err = _run(*argv)
        assert code == EXIT_OK, err
        _clean(out, err)
    code, out, err = _run("evaluate", state, "--format", "json", *native)
    assert code == EXIT_OK, err
    _clean(out)
    outcome = next(o for o in json.loads(out)["outcomes"] if o["rule"] == "dig.epr-deployed-mar-2025")
    assert any(e.get("reference") == text for e in outcome["evidence"])  # the value itself, unchanged
    code, out, err = _run("explain", state, "dig.epr-deployed-mar-2025", "RA1", "--format", "json", *native)
    assert code == EXIT_OK and json.loads(out)["evidence"]
    _clean(out)
    # An error message that quotes the value the user gave.
    code, out, err = _run("evaluate", state, "--org", text.replace(",", "") or "x", *native)
    assert code == EXIT_USAGE and out == ""
    _clean(err)


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_HOSTILE)
def test_no_raw_control_character_reaches_the_rulebook_outputs(tmp_path: Path, text: str) -> None:
    """The same for a rulebook's text (a rule's title) through ``rules``."""
    import shutil

    from policy_engine._resources import policies_root

    book = tmp_path / "book"
    if not book.exists():
        shutil.copytree(str(policies_root() / "nhs-2024-25"), book)
    area = book / "urgent-emergency-care.yaml"
    original = area.read_text(encoding="utf-8")
    title = "    title: "
    assert title in original
    at = original.index(title)
    line_end = original.index("\n", at)
    scalar = yaml.safe_dump(text, default_style='"', width=10**9).strip()  # YAML's escapes
    area.write_text(original[:at] + title + scalar + original[line_end:], encoding="utf-8")
    try:
        code, out, err = _run("rules", "--rulebook", str(book))
        assert code == EXIT_OK, err
        _clean(out, err)
        assert f"\n    {inline_text(text)}\n" in out  # the title on its line, whole, escaped
    finally:
        area.write_text(original, encoding="utf-8")


def test_the_import_summary_and_its_errors_are_escaped(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "importers"
    source = fixtures / "ae-msitae-2025-03-made-up.csv"
    text = source.read_text(encoding="utf-8-sig").replace("MSitAE-MARCH-2025,RZY", "MSitAE-MARCH-2025,\x1b[2J", 1)
    path = tmp_path / "ae\x1b]0;x\x07.csv"
    path.write_text(text, encoding="utf-8")
    code, out, err = _run("import", "ae", str(path))
    _clean(out, err)
    assert "\\u001b" in err
    missing = tmp_path / "no\x1b[2Jsuch.json"
    code, out, err = _run("evaluate", str(missing))
    assert code != EXIT_OK and "no\\u001b[2Jsuch.json" in err
    _clean(out, err)


@pytest.mark.parametrize("output", [False, True])
def test_a_file_written_with_o_is_escaped_the_same(tmp_path: Path, output: bool) -> None:
    state = _hostile_state(tmp_path, "evil\x1b[2J\u202e")
    target = tmp_path / "out.txt"
    argv = ["evaluate", state, "--format", "json", "--backend", "native"] + (["-o", str(target)] if output else [])
    code, out, err = _run(*argv)
    assert code == EXIT_OK, err
    text = target.read_text(encoding="utf-8") if output else out
    _clean(text)
    assert "evil\\u001b[2J\\u202e" in text

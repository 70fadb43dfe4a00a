"""The command outputs shown in the README are what the commands really print."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from policy_engine.cli import run

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```console\n\$ policy-engine (.+?)\n(.*?)```", README, flags=re.S)


def test_the_readme_shows_command_output() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("command", "shown"), BLOCKS, ids=[b[0].split()[0] for b in BLOCKS])
def test_readme_output_is_real(command: str, shown: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    lines = shown.splitlines()
    argv_text = command
    while lines and argv_text.endswith("\\"):
        argv_text = argv_text[:-1] + " " + lines.pop(0).strip()
    argv = shlex.split(argv_text)
    if argv[0] in ("explain", "evaluate", "report"):
        argv += ["--backend", "native"]
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    real = out.getvalue()
    for line in lines:
        if line.strip().startswith("..."):
            continue
        assert line in real, f"README line not in the real output of `policy-engine {argv_text}`: {line!r}"

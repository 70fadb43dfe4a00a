"""examples/downstream — a downstream team's suite using only the public testing API — runs in CI:
pytest on it in a subprocess (same interpreter), with the plugin loaded the way a downstream
project gets it: from the pytest11 entry point of the installed package, or with
``-p policy_engine.testing.plugin`` when running from a source checkout without one."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import policy_engine as pe

ROOT = Path(__file__).resolve().parents[1]
DOWNSTREAM = ROOT / "examples" / "downstream"


def _entry_point_installed() -> bool:
    return any(ep.value == "policy_engine.testing.plugin" for ep in importlib.metadata.entry_points(group="pytest11"))


def test_the_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '[project.entry-points.pytest11]\npolicy_engine = "policy_engine.testing.plugin"' in text


@pytest.mark.slow
def test_downstream_example_suite_passes(tmp_path: Path) -> None:
    if not DOWNSTREAM.is_dir():  # pragma: no cover - examples ship in the sdist and the repository
        pytest.skip("examples/downstream is not present")
    assert not (DOWNSTREAM / "conftest.py").exists(), "the example must work without a conftest.py"
    env = dict(os.environ)
    # Import policy_engine from wherever this run imports it (the installed copy, or the source
    # tree in a developer run), whatever the subprocess's working directory.
    package_parent = str(Path(pe.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    args = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(DOWNSTREAM)]
    if not _entry_point_installed() or env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "policy_engine.testing.plugin"]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) > 0, output
    assert not re.search(r"\d+ (failed|error)", output), output
    # Both halves of the example ran: the Python tests and the collected .policy.yaml scenarios.
    assert re.search(r"test_our_trusts\.policy\.yaml::.*PASSED", output), output
    assert re.search(r"test_our_policy_checks\.py::.*PASSED", output), output

"""What importing the package needs and costs (``policy_engine/_extras.py``, ``policy_engine/_lazy.py``).

* The core works without the extras: with polars, pyarrow and hypothesis made unimportable, the
  library API and the CLI's commands on state files give their usual results, and each feature
  that needs an extra raises ``MissingExtraError`` naming the extra and the command that installs it.
* The pytest plugin is free: pytest imports it on every start wherever the package is installed,
  and importing it imports none of the engine, durable-rules, polars, PyYAML or jsonschema.
* The lazily imported public names are exactly ``__all__``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import policy_engine as pe
import policy_engine._api
import policy_engine.testing
import policy_engine.testing._api
from policy_engine._extras import EXTRAS, MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "state.json"
IMPORTERS = ROOT / "tests" / "fixtures" / "importers"

# Makes the extras' modules unimportable, as if they were not installed (a finder ahead of every
# other that says "no such module" for them and their submodules).
_BLOCK = """
import importlib.abc, sys

BLOCKED = {blocked!r}

class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _python(code: str, *, blocked: tuple[str, ...] = (), cwd: Path = ROOT) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (with ``blocked`` modules unimportable); it prints a JSON
    document as its last line, which is returned."""
    prelude = _BLOCK.format(blocked=set(blocked)) if blocked else ""
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    doc: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return doc


_WITHOUT_EXTRAS = """
import contextlib, io, json, sys
from pathlib import Path

import policy_engine as pe
from policy_engine.audit.whatif import what_if
from policy_engine.cli import main
from policy_engine.render.report import render_report
from policy_engine.testing import assert_outcome, load_scenarios, thresholds

EXAMPLE = {example!r}
IMPORTERS = Path({importers!r})
TMP = Path({tmp!r})
out = {{}}


def cli(*argv):
    stdout, stderr = io.StringIO(), io.StringIO()
    sys.argv = ["policy-engine", *argv]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
    return {{"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}}


book = pe.load_rulebook()
state = pe.load_state(EXAMPLE)
ev = pe.evaluate(state, book)
out["evaluate"] = ev.outcome("uec.ae-4h-78", "EXA").status
assert_outcome(ev, "uec.ae-4h-78", "EXA", "not_met")
out["statuses"] = pe.statuses(state, book)["EXA"]["uec.ae-4h-78"]
out["explain"] = pe.explain(ev, "uec.ae-4h-78", "EXA").splitlines()[0]
out["what_if"] = str(what_if(state, "uec.ae-4h-78", "EXA", book).status)
out["report"] = render_report(ev, state, book).startswith("<!DOCTYPE html>")
out["thresholds"] = len(thresholds(book)) > 0
out["backends"] = list(pe.available_backends())

# Every module but the three that need an extra imports (so every command's imports do), and
# the commands run.
extras = ("policy_engine.tabular", "policy_engine.evaluation.columnar", "policy_engine.testing.strategies")
skip = {{"policy_engine.__main__"}}
root = Path(pe.__file__).parent
modules = sorted(
    ".".join(("policy_engine", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
    for p in root.rglob("*.py")
)
for module in modules:
    if module not in skip and not module.startswith(extras):
        __import__(module)
        out["modules"] = out.get("modules", 0) + 1
commands = {{
    "evaluate": ["evaluate", EXAMPLE, "--format", "json", "--backend", "native"],
    "validate": ["validate", EXAMPLE],
    "explain": ["explain", EXAMPLE, "uec.ae-4h-78", "EXA"],
    "rules": ["rules", "--format", "json"],
    "lint": ["lint"],
    "report": ["report", EXAMPLE, "--format", "md"],
    "import": [
        "import", "ae", str(IMPORTERS / "ae-msitae-2025-03-made-up.csv"),
        "--reference", str(IMPORTERS / "organisations-made-up.csv"),
    ],
}}
ran = {{name: cli(*argv) for name, argv in commands.items()}}
out["cli"] = {{name: r["code"] for name, r in ran.items()}}
out["cli_evaluate"] = {{
    (o["rule"] + "/" + o["organisation"]): o["status"] for o in json.loads(ran["evaluate"]["stdout"])["outcomes"]
}}["uec.ae-4h-78/EXA"]

# The features that need an extra say which one.
errors = {{}}
for module in ("policy_engine.tabular", "policy_engine.evaluation.columnar", "policy_engine.testing.strategies"):
    try:
        __import__(module)
        errors[module] = None
    except pe.MissingExtraError as exc:
        errors[module] = {{"extra": exc.extra, "message": str(exc), "import_error": isinstance(exc, ImportError)}}
out["errors"] = errors
# Outcomes as a table: CSV needs nothing more; a frame needs polars, a workbook XlsxWriter.
out["csv"] = cli("evaluate", EXAMPLE, "--format", "csv")["stdout"].splitlines()[0].split(",")[:3]
try:
    ev.to_frame()
    out["to_frame"] = None
except pe.MissingExtraError as exc:
    out["to_frame"] = exc.extra
xlsx = cli("evaluate", EXAMPLE, "-o", str(TMP / "r.xlsx"))
out["xlsx"] = {{"code": xlsx["code"], "workbooks": 'pip install "policy-engine[workbooks]"' in xlsx["stderr"],
               "written": (TMP / "r.xlsx").exists()}}
rows = TMP / "rows.csv"
rows.write_text("state_id,org_id,org_type,as_of\\ns,EXA,acute_trust,2025-04-20\\n", encoding="utf-8")
out["cli_table"] = cli("evaluate", str(rows), "--batch", "-o", str(TMP / "out.jsonl"))
out["written"] = (TMP / "out.jsonl").exists()
out["loaded"] = sorted({{m.partition(".")[0] for m in sys.modules}} & {{"polars", "pyarrow", "hypothesis"}})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_core_api_and_cli_work_without_the_extras(tmp_path: Path) -> None:
    code = _WITHOUT_EXTRAS.format(example=str(EXAMPLE), importers=str(IMPORTERS), tmp=str(tmp_path))
    out = _python(code, blocked=("polars", "pyarrow", "hypothesis", "xlsxwriter"), cwd=tmp_path)
    assert out["evaluate"] == "not_met"
    assert out["csv"] == ["state", "org_id", "org_type"]
    assert out["to_frame"] == "tables"
    assert out["xlsx"] == {"code": 4, "workbooks": True, "written": False}
    assert out["statuses"] == "not_met"
    assert out["explain"] == "uec.ae-4h-78 [EXA]: NOT_MET"
    assert out["what_if"] == "not_met"
    assert out["report"] is True
    assert out["thresholds"] is True
    assert "native" in out["backends"]
    assert out["modules"] > 50
    assert out["cli"] == dict.fromkeys(out["cli"], 0), out["cli"]
    assert out["cli_evaluate"] == "not_met"
    assert out["errors"] == {
        "policy_engine.tabular": {
            "extra": "tables",
            "message": "the table API (policy_engine.tabular) needs the [tables] extra (polars, pyarrow): "
            'polars and pyarrow are not installed. Install it with: pip install "policy-engine[tables]"',
            "import_error": True,
        },
        "policy_engine.evaluation.columnar": {
            "extra": "tables",
            "message": "the columnar evaluator (policy_engine.evaluation.columnar) needs the [tables] extra "
            "(polars, pyarrow): polars and pyarrow are not installed. "
            'Install it with: pip install "policy-engine[tables]"',
            "import_error": True,
        },
        "policy_engine.testing.strategies": {
            "extra": "testing",
            "message": "the Hypothesis strategies (policy_engine.testing.strategies) needs the [testing] extra "
            '(hypothesis): hypothesis is not installed. Install it with: pip install "policy-engine[testing]"',
            "import_error": True,
        },
    }
    # The CLI's table path: exit 4 (as for an unavailable backend), the extra named, nothing written.
    assert out["cli_table"]["code"] == 4, out["cli_table"]
    assert out["cli_table"]["stdout"] == ""
    assert 'pip install "policy-engine[tables]"' in out["cli_table"]["stderr"]
    assert "internal error" not in out["cli_table"]["stderr"]
    assert out["written"] is False
    assert out["loaded"] == []


def test_only_the_missing_module_of_an_extra_is_named() -> None:
    out = _python(
        """
        import json
        try:
            import policy_engine.tabular
            print(json.dumps({"raised": None}))
        except ImportError as exc:
            print(json.dumps({"raised": type(exc).__name__, "missing": list(exc.missing), "message": str(exc)}))
        """,
        blocked=("pyarrow",),
    )
    assert out["raised"] == "MissingExtraError"
    assert out["missing"] == ["pyarrow"]
    assert "pyarrow is not installed" in out["message"]


def test_require_names_the_extra_and_passes_other_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    with require("testing", feature="x"):
        import hypothesis  # noqa: F401 - installed here: the block runs
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # as good as not installed
    with pytest.raises(MissingExtraError) as info, require("testing", feature="the strategies"):
        raise AssertionError("not reached: the check comes before the block")
    assert info.value.extra == "testing"
    assert info.value.missing == ("hypothesis",)
    assert info.value.command == 'pip install "policy-engine[testing]"'
    assert isinstance(info.value, pe.EngineError)
    assert isinstance(info.value, ImportError)
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"), require("tables", feature="t"):
        import no_such_module_here  # noqa: F401 - not part of the extra: its own error
    with pytest.raises(ValueError, match="unknown extra 'tabels'"), require("tabels", feature="t"):
        pass


def test_the_extras_are_those_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]

    def names(requirements: list[str]) -> set[str]:
        return {Requirement(r).name for r in requirements}

    for extra, modules in EXTRAS.items():
        # each module is its distribution's name (python_calamine for python-calamine)
        assert {canonicalize_name(n) for n in names(optional[extra])} == {canonicalize_name(m) for m in modules}, extra
    assert set(optional["all"]) == {"policy-engine[" + ",".join(sorted(EXTRAS)) + "]"}
    assert "policy-engine[all]" in optional["test"], "the test extra installs everything the tests need"
    core = names(project["dependencies"])
    assert core == {"attrs", "jsonschema", "jsonschema-rs", "PyYAML", "durable-rules", "tqdm"}  # decisions 029, 032
    assert not core & {m for modules in EXTRAS.values() for m in modules}


def test_importing_the_plugin_imports_nothing_of_the_engine() -> None:
    out = _python(
        """
        import json, sys
        import pytest
        before = set(sys.modules)
        import policy_engine.testing.plugin
        print(json.dumps(sorted(set(sys.modules) - before)))
        """
    )
    ours = {m for m in out if m.partition(".")[0] == "policy_engine"}
    assert ours == {
        "policy_engine",
        "policy_engine._lazy",
        "policy_engine._version",
        "policy_engine.testing",
        "policy_engine.testing.plugin",
    }
    heavy = {m.partition(".")[0] for m in out} & {"durable", "polars", "pyarrow", "hypothesis", "yaml", "jsonschema"}
    assert heavy == set()


def test_importing_the_package_imports_nothing_until_a_name_is_used() -> None:
    out = _python(
        """
        import json, sys
        import policy_engine as pe
        quiet = sorted(m for m in sys.modules if m.startswith("policy_engine"))
        pe.load_rulebook
        used = sorted(m for m in sys.modules if m.startswith("policy_engine."))
        print(json.dumps({"quiet": quiet, "used": used, "durable": "durable" in sys.modules}))
        """
    )
    assert out["quiet"] == ["policy_engine", "policy_engine._lazy", "policy_engine._version"]
    assert "policy_engine.rulebook.loader" in out["used"]
    assert "policy_engine.engine" in out["used"]  # the whole public API at the first use


@pytest.mark.parametrize(
    ("package", "api"), [(pe, policy_engine._api), (policy_engine.testing, policy_engine.testing._api)]
)
def test_the_lazy_names_are_exactly_all(package: Any, api: Any) -> None:
    assert sorted(set(package.__all__) - {"__version__"}) == sorted(api.__all__)
    for name in api.__all__:
        assert getattr(package, name) is getattr(api, name), name
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018 - the attribute lookup is the test

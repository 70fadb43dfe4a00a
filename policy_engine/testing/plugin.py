"""pytest plugin: policy fixtures and YAML scenario files as tests.

Installed with the package as the ``pytest11`` entry point ``policy_engine``, so pytest loads it by
itself; from a source checkout use ``pytest -p policy_engine.testing.plugin``.

* fixture ``policy_rulebook`` (session): the rulebook — the bundled one unless the ``policy_rulebook``
  ini option or ``--policy-rulebook`` names another (a bundled name or a folder path);
* fixture ``policy_evaluate`` (session): ``policy_evaluate(state, *, as_of=None, backend="auto")``
  evaluates a state dict (or ``State``) against that rulebook and returns the ``Evaluation``;
* files named ``test_*.policy.yaml`` (the scenario format of docs/rule-language.md) are collected:
  one test item per scenario and backend (every available backend, or those given with
  ``--policy-backend``), marked ``policy_scenario``. A failure lists every expectation that did not
  hold with the outcome's explanation, and points at the scenario's line in the file.

pytest imports this module on every start in any environment where policy-engine is installed, so
it imports nothing of the engine (nor PyYAML, nor durable-rules) until a fixture or a scenario file
needs it: a project that does not use the plugin pays nothing for it (``tests/test_imports.py``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:  # imported where they are used (see the module's docstring)
    from ..data.state import State
    from ..engine import Backend
    from ..evaluation.outcomes import Evaluation
    from ..rulebook.loader import Rulebook
    from .scenarios import Scenario

__all__ = ["Evaluator", "PolicyScenarioFile", "PolicyScenarioItem"]

_BOOK_KEY: pytest.StashKey[Rulebook] = pytest.StashKey()
_SUFFIXES = (".policy.yaml", ".policy.yml")


class Evaluator(Protocol):
    """The type of the ``policy_evaluate`` fixture."""

    def __call__(
        self, state: State | Mapping[str, Any], *, as_of: str | None = None, backend: Backend | str = "auto"
    ) -> Evaluation: ...


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("policy-engine", "policy-engine scenario files and fixtures")
    group.addoption(
        "--policy-rulebook",
        default=None,
        help="rulebook for policy fixtures and *.policy.yaml files: a bundled name or a folder path "
        "(default: the policy_rulebook ini option, else the bundled nhs-2024-25)",
    )
    group.addoption(
        "--policy-backend",
        action="append",
        default=None,
        choices=["native", "durable"],
        help="run *.policy.yaml scenarios on this backend only (repeatable; default: every available backend)",
    )
    parser.addini("policy_rulebook", "rulebook name or folder (relative to the rootdir)", default="nhs-2024-25")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "policy_scenario: a scenario from a test_*.policy.yaml file")


def _rulebook(config: pytest.Config) -> Rulebook:
    book = config.stash.get(_BOOK_KEY, None)
    if book is None:
        from ..rulebook.loader import load_rulebook

        name = config.getoption("policy_rulebook") or str(config.getini("policy_rulebook"))
        relative = config.rootpath / name
        if ("/" in name or os.sep in name) and not Path(name).is_absolute() and relative.is_dir():
            name = str(relative)
        book = load_rulebook(name)
        config.stash[_BOOK_KEY] = book
    return book


@pytest.fixture(scope="session")
def policy_rulebook(pytestconfig: pytest.Config) -> Rulebook:
    """The rulebook under test (bundled nhs-2024-25 unless configured otherwise)."""
    return _rulebook(pytestconfig)


@pytest.fixture(scope="session")
def policy_evaluate(policy_rulebook: Rulebook) -> Evaluator:
    """``policy_evaluate(state, *, as_of=None, backend="auto") -> Evaluation`` on ``policy_rulebook``.

    Session-scoped (it holds no state), so it can be used in Hypothesis ``@given`` tests."""
    from ..engine import evaluate

    def run(
        state: State | Mapping[str, Any], *, as_of: str | None = None, backend: Backend | str = "auto"
    ) -> Evaluation:
        return evaluate(state, policy_rulebook, as_of=as_of, backend=backend)

    return run


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.startswith("test_") and file_path.name.endswith(_SUFFIXES):
        return PolicyScenarioFile.from_parent(parent, path=file_path)
    return None


def _scenario_lines(path: Path) -> list[int]:
    """0-based line of each entry of the top-level ``scenarios`` list (best effort)."""
    import yaml

    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "scenarios" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line for item in value.value]
    return []


class PolicyScenarioFile(pytest.File):
    """A ``test_*.policy.yaml`` file: one item per scenario and backend."""

    def collect(self) -> Iterator[PolicyScenarioItem]:
        from ..engine import available_backends
        from ..errors import PolicyError
        from .scenarios import load_scenarios

        try:
            scenarios = load_scenarios(self.path)
        except PolicyError as exc:
            raise self.CollectError(f"{self.path}: {exc}") from None
        backends = self.config.getoption("policy_backend") or available_backends()
        lines = _scenario_lines(self.path)
        seen: dict[str, int] = {}
        for i, scenario in enumerate(scenarios):
            name = scenario.name.replace("::", ":") or f"scenario {i + 1}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} ({seen[name]})"
            for backend in backends:
                item = PolicyScenarioItem.from_parent(
                    self,
                    name=f"{name}[{backend}]",
                    scenario=scenario,
                    backend=backend,
                    line=lines[i] if i < len(lines) else 0,
                )
                item.add_marker("policy_scenario")
                yield item


class PolicyScenarioItem(pytest.Item):
    """One scenario of a ``test_*.policy.yaml`` file on one backend."""

    def __init__(self, *, scenario: Scenario, backend: str, line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.backend = backend
        self.line = line

    def runtest(self) -> None:
        from .scenarios import ScenarioFailure, run_scenario

        book = _rulebook(self.config)
        ids = {r.id for r in book.rules}
        unknown = []
        for e in self.scenario.expect:
            if e.rule not in ids:
                close = difflib.get_close_matches(e.rule, sorted(ids), n=1)
                unknown.append(
                    f"  {e.rule}: no such rule in {book.id}" + (f" (did you mean {close[0]}?)" if close else "")
                )
        orgs = {str(o.get("id")) for o in self.scenario.state.get("organisations", []) if isinstance(o, Mapping)}
        for e in self.scenario.expect:
            if e.org not in orgs:
                unknown.append(f"  {e.rule} / {e.org}: no organisation {e.org!r} in the scenario's state")
        try:
            run_scenario(self.scenario, book, backend=self.backend)
        except ScenarioFailure as exc:
            if not unknown:
                raise
            unknown.extend(exc.mismatches)
        if unknown:
            raise ScenarioFailure(
                f"scenario {self.scenario.name!r} ({self.scenario.file}, {self.backend}):\n" + "\n".join(unknown),
                unknown,
            )

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        from ..errors import PolicyError
        from .scenarios import ScenarioFailure

        where = f"{self.path}:{self.line + 1}"
        if isinstance(excinfo.value, ScenarioFailure):
            return f"{excinfo.value}\n  at {where}"
        if isinstance(excinfo.value, PolicyError):
            name = self.scenario.name
            return f"scenario {name!r} ({self.backend}) could not be evaluated:\n{excinfo.value}\n  at {where}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line, f"policy scenario: {self.scenario.name} [{self.backend}]"

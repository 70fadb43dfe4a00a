"""Scenario files: the one reader of the YAML files of ``tests/scenarios`` and ``test_*.policy.yaml``.

A scenario file holds a list of scenarios, each a small state (``as_of``, ``organisations``,
optional ``cohorts``), a name and the outcomes expected of it; ``schemas/scenario.schema.json`` is
its format. ``load_scenarios`` reads and checks one file; ``scenario_files`` and ``scenario_index``
read a folder of them (the rule reference lists the tests naming each rule, the coverage ledger
and the linter count them). Evaluating a scenario is ``policy_engine.testing.run_scenario``.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import attrs
import jsonschema

from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..io.arguments import check_path
from ..io.schemas import schema_validator
from ..rulebook.loader import MAX_RULE_FILE_BYTES, _read_yaml
from .state import validate_state

__all__ = [
    "MAX_SCENARIO_BYTES",
    "SCENARIO_FOLDERS",
    "SCENARIO_SUFFIXES",
    "Expectation",
    "Scenario",
    "ScenarioFileError",
    "default_scenario_folder",
    "load_scenarios",
    "scenario_files",
    "scenario_index",
]

SCENARIO_SUFFIXES = (".yaml", ".yml")
"""The file name endings of scenario files in a folder of them."""

MAX_SCENARIO_BYTES = MAX_RULE_FILE_BYTES
"""The largest scenario file read (as a rule file: ``MAX_RULE_FILE_BYTES``)."""
_MAX_ERRORS = 20


class ScenarioFileError(PolicyError, ValueError):
    """A scenario file that cannot be read or does not match ``schemas/scenario.schema.json``;
    each detail names the file and the path inside it (``…/62day.yaml: scenarios[3].expect[0].status``)."""


@attrs.frozen
class Expectation:
    """One expected outcome: a rule, an organisation, a status (or ``absent``)."""

    rule: str
    org: str
    status: str
    explanation_contains: str | None = None


@attrs.frozen
class Scenario:
    """A named state + as_of + expectations, from a scenario file."""

    name: str
    file: str
    as_of: str
    state: dict[str, Any]
    expect: tuple[Expectation, ...]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _at(file: Path, path: Any, message: str, value: str | None = None) -> ErrorDetail:
    """A problem at ``path`` inside the scenario file: ``…/62day.yaml: scenarios[3].expect[0].status``."""
    return ErrorDetail(str(file), message, value, code=ErrorCode.SCENARIO_FORMAT, location=tuple(path), in_file=True)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _detail(file: Path, err: jsonschema.ValidationError) -> ErrorDetail:
    """One schema error as a detail a scenario author can act on."""
    where = err.absolute_path
    expected: Any = err.validator_value
    schema: Any = err.schema
    instance: Any = err.instance
    if err.validator == "required" and isinstance(instance, dict):
        missing = [k for k in expected if k not in instance]
        return _at(file, where, "missing " + ", ".join(repr(k) for k in missing))
    if err.validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        unknown = sorted(str(k) for k in instance if k not in known)
        fields = ", ".join(repr(k) for k in unknown)
        return _at(file, where, f"unknown field {fields} (expected {', '.join(known)})")
    if err.validator == "enum":
        return _at(file, where, "expected one of " + ", ".join(map(str, expected)), _shown(instance))
    if err.validator == "type":
        words = {"array": "a list", "object": "a mapping", "string": "a string"}
        return _at(file, where, f"expected {words.get(str(expected), expected)}", _shown(instance))
    if err.validator == "pattern" and list(err.absolute_path)[-1:] == ["as_of"]:
        return _at(file, where, "expected a date YYYY-MM-DD", _shown(instance))
    if err.validator == "minLength":
        return _at(file, where, "must not be empty")
    return _at(file, where, err.message[:200])


def _read_text(p: Path) -> str:
    """The text of a scenario file: a regular file of at most ``MAX_SCENARIO_BYTES``, UTF-8."""
    try:
        with p.open("rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ScenarioFileError(
                    "cannot read scenario file",
                    [ErrorDetail(str(p), "expected a regular file", code=ErrorCode.SCENARIO_READ)],
                )
            raw = fh.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioFileError(
            "cannot read scenario file", [ErrorDetail(str(p), exc.strerror or str(exc), code=ErrorCode.SCENARIO_READ)]
        ) from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioFileError(
            "scenario file is too large",
            [
                ErrorDetail(
                    str(p),
                    f"at most {MAX_SCENARIO_BYTES} bytes",
                    f"more than {MAX_SCENARIO_BYTES} bytes",
                    code=ErrorCode.SCENARIO_READ,
                )
            ],
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(
            "scenario file is not UTF-8",
            [
                ErrorDetail(
                    str(p),
                    f"invalid UTF-8 at byte {exc.start}",
                    repr(raw[exc.start : exc.start + 4]),
                    code=ErrorCode.SCENARIO_READ,
                )
            ],
        ) from None


def _check_states(p: Path, scenarios: list[dict[str, Any]]) -> None:
    """Each scenario's state against ``state.schema.json`` and the state's own consistency checks,
    now, with the place in the file (``scenarios[2].organisations[0].id``): an organisation id
    YAML read as a boolean (``NO``) or a number, or an id given twice, is a problem of the file,
    not a failed expectation at run time."""
    details: list[ErrorDetail] = []
    for i, s in enumerate(scenarios):
        state: dict[str, Any] = {"as_of": s["as_of"], "organisations": s["organisations"]}
        if "cohorts" in s:
            state["cohorts"] = s["cohorts"]
        for d in validate_state(state):
            where = ("scenarios", i, *d.location) if d.subject == "state" else ("scenarios", i)
            details.append(_at(p, where, d.message, d.value))
    if details:
        if len(details) > _MAX_ERRORS:
            more = len(details) - _MAX_ERRORS
            details = [
                *details[:_MAX_ERRORS],
                ErrorDetail(str(p), f"and {more} more problems", code=ErrorCode.SCENARIO_FORMAT),
            ]
        raise ScenarioFileError("a scenario's state is invalid", details)


def load_scenarios(path: str | os.PathLike[str]) -> list[Scenario]:
    """Read a scenario file and check it against ``schemas/scenario.schema.json``.

    The file is read as rule files are (``rulebook.loader._read_yaml``: no anchors or aliases, no
    key twice in one mapping, at most ``MAX_YAML_DEPTH`` levels, at most ``MAX_SCENARIO_BYTES``),
    and each scenario's state is checked against ``state.schema.json`` here, not when it runs.
    Raises ScenarioFileError (a PolicyError) naming the file, with every problem found (up to 20)
    and where it is in the file.
    """
    p = Path(check_path(path, "path", ScenarioFileError))
    doc = _plain(
        _read_yaml(str(p), _read_text(p), ErrorCode.SCENARIO_READ, error=ScenarioFileError, what="a scenario file")
    )
    errors = sorted(
        schema_validator("scenario.schema.json").iter_errors(doc),
        key=lambda e: ([f"{x:09d}" if isinstance(x, int) else str(x) for x in e.absolute_path], str(e.validator)),
    )
    if errors:
        details = list(dict.fromkeys(_detail(p, e) for e in errors))  # a detail names every missing field
        if len(details) > _MAX_ERRORS:
            more = len(details) - _MAX_ERRORS
            details = [
                *details[:_MAX_ERRORS],
                ErrorDetail(str(p), f"and {more} more problems", code=ErrorCode.SCENARIO_FORMAT),
            ]
        summary = (
            "not a scenario file" if not isinstance(doc, dict) or "scenarios" not in doc else "malformed scenario file"
        )
        raise ScenarioFileError(summary, details)
    _check_states(p, doc["scenarios"])
    out = []
    for s in doc["scenarios"]:
        state: dict[str, Any] = {"as_of": s["as_of"], "organisations": s["organisations"]}
        if "cohorts" in s:  # complete cohorts the scenario's state declares (for rank() rules)
            state["cohorts"] = s["cohorts"]
        expect = tuple(
            Expectation(e["rule"], e["org"], e["status"], e.get("explanation_contains")) for e in s["expect"]
        )
        out.append(Scenario(s["name"], str(p), s["as_of"], state, expect))
    return out


def scenario_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The scenario files under ``folder`` (``*.yaml`` and ``*.yml``, recursively), sorted; none
    when the folder does not exist."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in SCENARIO_SUFFIXES and p.is_file())


SCENARIO_FOLDERS = {"nhs-2025-26": "scenarios-2025-26"}
"""Bundled rulebook -> the name of its scenario folder under ``tests/`` when it is not ``scenarios``
(``tests/scenarios`` holds nhs-2024-25's; a rulebook's ids may repeat the year before's, so each
year's scenarios are kept and counted apart)."""


def default_scenario_folder(rulebook_id: str | None = None) -> Path:
    """The scenario folder of a rulebook under the current directory: ``tests/scenarios-2025-26``
    for nhs-2025-26 (``SCENARIO_FOLDERS``), ``tests/scenarios`` for any other."""
    return Path.cwd() / "tests" / SCENARIO_FOLDERS.get(rulebook_id or "", "scenarios")


def scenario_index(folder: str | os.PathLike[str] | None = None) -> dict[str, list[tuple[str, str, str, str]]]:
    """Rule id -> (file, scenario name, organisation, expected status) for every expectation naming
    the rule, by file and then in the order of the file (a repeated expectation once).

    ``folder`` defaults to ``tests/scenarios`` under the current directory; an absent folder (an
    installed package has no tests) gives an empty index. Paths are shown as ``tests/NAME/…`` for
    a folder ``NAME`` inside a ``tests`` folder (``tests/scenarios``), otherwise as given. Every
    file is read with :func:`load_scenarios`, so a malformed one raises ScenarioFileError.
    """
    root = Path(folder) if folder is not None else default_scenario_folder()
    shown = f"tests/{root.name}" if root.parent.name == "tests" else root.as_posix()
    out: dict[str, dict[tuple[str, int, str, str], str]] = {}
    for path in scenario_files(root):
        rel = f"{shown}/{path.relative_to(root).as_posix()}"
        for i, sc in enumerate(load_scenarios(path)):
            for exp in sc.expect:
                out.setdefault(exp.rule, {})[(rel, i, exp.org, exp.status)] = sc.name
    return {
        rid: [(file, cases[(file, i, org, st)], org, st) for file, i, org, st in sorted(cases)]
        for rid, cases in sorted(out.items())
    }

"""YAML scenario files: a small state, an as_of date and the outcomes expected."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..errors import ErrorCode, ErrorDetail, PolicyError, SelectorError
from ..evaluation.engine import evaluate
from ..evaluation.outcomes import Evaluation
from ..rulebook.loader import Rulebook


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


class ScenarioFailure(AssertionError):
    """Raised when an evaluation does not give the expected outcomes; lists every mismatch.

    ``mismatches`` holds them one by one (each as its text in the message).
    """

    def __init__(self, message: str, mismatches: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.mismatches: tuple[str, ...] = tuple(mismatches)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def load_scenarios(path: str | os.PathLike[str]) -> list[Scenario]:
    """Read a scenario file. Raises PolicyError naming the file if it is malformed."""
    p = Path(path)
    try:
        doc = _plain(yaml.safe_load(p.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(
            "cannot read scenario file", [ErrorDetail(str(p), str(exc), code=ErrorCode.SCENARIO_READ)]
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list):
        raise PolicyError(
            "not a scenario file",
            [ErrorDetail(str(p), "expected a top-level 'scenarios' list", code=ErrorCode.SCENARIO_FORMAT)],
        )
    out = []
    for i, s in enumerate(doc["scenarios"]):
        try:
            state = {"as_of": s["as_of"], "organisations": s["organisations"]}
            if "cohorts" in s:  # complete cohorts the scenario's state declares (for rank() rules)
                state["cohorts"] = s["cohorts"]
            expect = tuple(
                Expectation(e["rule"], e["org"], e["status"], e.get("explanation_contains")) for e in s["expect"]
            )
            out.append(Scenario(str(s["name"]), str(p), str(s["as_of"]), state, expect))
        except (KeyError, TypeError) as exc:
            raise PolicyError(
                "malformed scenario",
                [
                    ErrorDetail(
                        str(p),
                        f"missing or wrong field: {exc}",
                        code=ErrorCode.SCENARIO_FORMAT,
                        location=("scenarios", i),
                        in_file=True,
                    )
                ],
            ) from None
    return out


def run_scenario(scenario: Scenario, rulebook: Rulebook | str | None = None, backend: str = "native") -> Evaluation:
    """Evaluate a scenario and check every expectation; ScenarioFailure lists all mismatches (a
    rule the rulebook lacks or an organisation the state lacks is one, with its close matches)."""
    evaluation = evaluate(
        scenario.state, rulebook, backend=backend, evaluated_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    problems = []
    for e in scenario.expect:
        try:
            found = evaluation.find(rule_id=e.rule, org_id=e.org)
        except SelectorError as exc:  # a misspelt rule or organisation is not "absent"
            why = "; ".join(d.message for d in exc.details)
            problems.append(f"  {e.rule} / {e.org}: expected {e.status}, but {why}")
            continue
        got = found[0].status if found else "absent"
        if got != e.status:
            detail = f"\n      {found[0].explanation}" if found else ""
            problems.append(f"  {e.rule} / {e.org}: expected {e.status}, got {got}{detail}")
        elif e.explanation_contains and found and e.explanation_contains not in found[0].explanation:
            problems.append(
                f"  {e.rule} / {e.org}: explanation lacks {e.explanation_contains!r}: {found[0].explanation}"
            )
    if problems:
        raise ScenarioFailure(
            f"scenario {scenario.name!r} ({scenario.file}, {backend}):\n" + "\n".join(problems), problems
        )
    return evaluation

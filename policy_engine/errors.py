"""The package's exception hierarchy: everything that escapes the public API is a `PolicyError`."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

__all__ = [
    "UNCODED",
    "EngineError",
    "ErrorCode",
    "ErrorDetail",
    "ExpressionError",
    "Location",
    "PolicyError",
    "RulebookError",
    "SelectorError",
    "StateError",
]


class ErrorCode(enum.StrEnum):
    """The kind of a problem, as ``ErrorDetail.code``: stable, so a program can act on it.

    Each value is ``input.kind``: the input the problem is in, then what is wrong with it. The
    table in ``docs/errors.md`` says what each means, where it is raised and what the location of
    its details holds. A code is never renamed or reused for another meaning; new ones are added.
    """

    # a state document (data/state.py, evaluation/engine.py)
    STATE_READ = "state.read"
    STATE_TOO_LARGE = "state.too_large"
    STATE_ENCODING = "state.encoding"
    STATE_PARSE = "state.parse"
    STATE_VALUE = "state.value"
    STATE_SCHEMA = "state.schema"
    STATE_DUPLICATE = "state.duplicate"
    STATE_REFERENCE = "state.reference"
    STATE_UNKNOWN_SERVICE = "state.unknown_service"
    STATE_UNKNOWN_METRIC = "state.unknown_metric"
    STATE_UNKNOWN_FACT = "state.unknown_fact"
    STATE_METRIC_KIND = "state.metric_kind"
    STATE_PROPORTION = "state.proportion"
    STATE_FACT_TYPE = "state.fact_type"
    STATE_AS_OF = "state.as_of"
    STATE_UNKNOWN_ORGANISATION = "state.unknown_organisation"
    # a rulebook folder and its files (rulebook/loader.py)
    RULEBOOK_NOT_FOUND = "rulebook.not_found"
    RULEBOOK_TOO_LARGE = "rulebook.too_large"
    RULEBOOK_ENCODING = "rulebook.encoding"
    RULEBOOK_PARSE = "rulebook.parse"
    RULEBOOK_SCHEMA = "rulebook.schema"
    RULEBOOK_DUPLICATE = "rulebook.duplicate"
    RULEBOOK_INCONSISTENT = "rulebook.inconsistent"
    RULEBOOK_SOURCE = "rulebook.source"
    RULEBOOK_UNKNOWN_RULE = "rulebook.unknown_rule"
    # one rule of a rulebook (rulebook/loader.py, testing/boundaries.py)
    RULE_DEADLINE = "rule.deadline"
    RULE_TIMING = "rule.timing"
    RULE_COMPLETED_ON = "rule.completed_on"
    RULE_PERIOD = "rule.period"
    RULE_SOURCE = "rule.source"
    RULE_COHORT = "rule.cohort"
    RULE_CYCLE = "rule.cycle"
    RULE_NO_THRESHOLD = "rule.no_threshold"
    # a rule's condition, applicable_if or completed_on (rulebook/loader.py)
    EXPRESSION_PARSE = "expression.parse"
    EXPRESSION_UNKNOWN_NAME = "expression.unknown_name"
    EXPRESSION_TYPE = "expression.type"
    EXPRESSION_SELF_REFERENCE = "expression.self_reference"
    # the coverage ledger (audit/coverage.py)
    COVERAGE_MISSING = "coverage.missing"
    COVERAGE_SCHEMA = "coverage.schema"
    COVERAGE_DUPLICATE = "coverage.duplicate"
    COVERAGE_SOURCE = "coverage.source"
    COVERAGE_UNKNOWN_RULE = "coverage.unknown_rule"
    COVERAGE_UNLISTED_RULE = "coverage.unlisted_rule"
    # a parameter overlay (rulebook/overlay.py)
    OVERLAY_READ = "overlay.read"
    OVERLAY_TOO_LARGE = "overlay.too_large"
    OVERLAY_ENCODING = "overlay.encoding"
    OVERLAY_PARSE = "overlay.parse"
    OVERLAY_SCHEMA = "overlay.schema"
    OVERLAY_RULEBOOK = "overlay.rulebook"
    OVERLAY_UNKNOWN_RULE = "overlay.unknown_rule"
    OVERLAY_UNKNOWN_PARAMETER = "overlay.unknown_parameter"
    OVERLAY_UNIT = "overlay.unit"
    # a decision record (audit/records.py, the CLI's verify-record)
    RECORD_READ = "record.read"
    RECORD_SCHEMA = "record.schema"
    # an audit log of decision records (io/chain.py, audit/records.py, the CLI's --log and verify-log)
    LOG_READ = "log.read"
    LOG_WRITE = "log.write"
    # a scenario file (testing/scenarios.py)
    SCENARIO_READ = "scenario.read"
    SCENARIO_FORMAT = "scenario.format"
    # a statistics file or the organisation reference table (importers/)
    IMPORT_REFERENCE = "import.reference"
    IMPORT_UNKNOWN_SERVICE = "import.unknown_service"
    # a table of states (policy_engine.tabular)
    TABLE_READ = "table.read"
    TABLE_FORMAT = "table.format"
    TABLE_COLUMN = "table.column"
    TABLE_CELL = "table.cell"
    # arguments of the API and the command line
    ARGUMENT_VALUE = "argument.value"
    ARGUMENT_CONFLICT = "argument.conflict"
    OUTPUT_WRITE = "output.write"
    SELECTOR_UNKNOWN = "selector.unknown"
    # running an evaluation and reading its results
    EVALUATION_NO_OUTCOME = "evaluation.no_outcome"
    EXPLAIN_FAILED = "explain.failed"
    BATCH_INVALID_STATE = "batch.invalid_state"
    LINT_ERROR = "lint.error"
    ENGINE_DURABLE = "engine.durable"
    ENGINE_INTERNAL = "engine.internal"
    ENGINE_MEMORY = "engine.memory"


UNCODED = "uncoded"
"""The code of a detail made without one: only for sites not yet given their code (in
``policy_engine.tabular``, until it is); never one of ``ErrorCode``."""

Location = tuple[str | int, ...]
"""A JSON path inside a document, as jsonschema's ``absolute_path``: keys and list indexes."""


def _location(steps: Iterable[str | int]) -> Location:
    return tuple(steps)


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,19}")


def _first_index(location: Location, key: str | None = None) -> int:
    """Where the first list index of ``location`` is (the first after ``key``, if given); -1 if none."""
    for i, step in enumerate(location):
        if isinstance(step, int) and (key is None or (i > 0 and location[i - 1] == key)):
            return i
    return -1


@attrs.frozen
class ErrorDetail:
    """One problem found in an input: what kind it is, where it is, what was there, what was expected.

    ``code`` says what kind of problem it is (an ``ErrorCode``; see ``docs/errors.md``). Where it
    is, is held in parts, as jsonschema's ``ValidationError`` holds ``absolute_path``:

    - ``subject``: what the problem is in: a document's name, the root of a JSON path (``state``,
      ``$`` for a whole JSON text, ``area.yaml``, ``record``, ``overlay ID``); a file; a
      command-line option or an argument (``--as-of``, ``backend``); a component (``durable``);
    - ``location``: the JSON path inside it (``("organisations", 1, "metrics", "x")``);
    - ``label``: the id of the item at the location's first list index (a rule's id after
      ``rules[0]``), shown in the path;
    - ``line`` and ``column``: a position in a text (``column`` alone: a position in an expression);
    - ``org``, for a problem inside ``organisations[i]``: that organisation's id, shown by ``where``
      after its index: ``state.organisations[1] (EXA).metrics.x: ...``.

    ``path`` renders these to text, which is what ``str()`` shows. A detail made with only a
    ``subject`` (and the ``UNCODED`` code) has that text as its path: kept only for the sites not
    yet coded.
    """

    subject: str
    message: str
    value: str | None = None
    org: str | None = None
    code: str = attrs.field(default=UNCODED, kw_only=True)
    location: Location = attrs.field(default=(), kw_only=True, converter=_location)
    label: str | None = attrs.field(default=None, kw_only=True)
    line: int | None = attrs.field(default=None, kw_only=True)
    column: int | None = attrs.field(default=None, kw_only=True)
    in_file: bool = attrs.field(default=False, kw_only=True)
    """True: the location is a place in the file ``subject``, shown ``file: rules[0] (id).condition``;
    False: ``subject`` is the root of a JSON path, shown ``area.yaml.rules[0].id``."""

    @property
    def path(self) -> str:
        """Where the problem is, as text: ``state.organisations[1].metrics.x``,
        ``area.yaml: rules[0] (id).condition at column 5``, ``area.yaml:3:5``, ``line 2 column 7``,
        ``--as-of``."""
        return self._render({})

    @property
    def where(self) -> str:
        """The path as shown: with the organisation's id after ``organisations[i]``, if known."""
        if self.org is None:
            return self.path
        shown = self.org if _PLAIN_ID.fullmatch(self.org) else json.dumps(self.org, ensure_ascii=False)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        at = _first_index(self.location, "organisations")
        if self.line is not None or at < 0:
            return f"{self.path} ({shown})"
        return self._render({at: shown})

    def _render(self, names: dict[int, str]) -> str:
        """The path, with ``names[i]`` shown in brackets after step ``i`` of the location."""
        if self.line is not None:
            if not self.subject:
                return f"line {self.line}" + ("" if self.column is None else f" column {self.column}")
            return f"{self.subject}:{self.line}" + ("" if self.column is None else f":{self.column}")
        if self.label is not None:
            names = {_first_index(self.location): self.label, **names}
        steps = []
        for i, step in enumerate(self.location):
            steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
            if i in names:
                steps.append(f" ({names[i]})")
        text = "".join(steps)
        if self.in_file and text:
            text = ": " + text.removeprefix(".")
        at = "" if self.column is None else f" at column {self.column}"
        return f"{self.subject}{text}{at}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the code, the path as text, its parts, what was there and what was expected."""
        return {
            "code": str(self.code),
            "path": self.path,
            "subject": self.subject,
            "location": list(self.location),
            "label": self.label,
            "line": self.line,
            "column": self.column,
            "org": self.org,
            "message": self.message,
            "value": self.value,
        }

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.where}: {self.message}"
        return f"{self.where}: {self.message} (got {self.value})"


class PolicyError(Exception):
    """Root of every error raised by policy_engine.

    ``details`` lists every problem found (an input is checked completely before
    anything is reported, so one run shows all of them).
    """

    def __init__(self, message: str, details: Sequence[ErrorDetail] = ()) -> None:
        self.details: tuple[ErrorDetail, ...] = tuple(details)
        self.summary = message
        text = message
        if self.details:
            text += "\n" + "\n".join(f"  - {d}" for d in self.details)
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its attributes, whatever its subclass's ``__init__`` takes (an error raised
        in a child process, such as the one ``tabular.evaluate_table`` runs under an address-space
        limit, reaches the parent whole: its summary, details and any attribute of its own)."""
        extra = {"name": self.name, "path": self.path} if isinstance(self, ImportError) else {}
        return (_rebuilt, (type(self), self.args, dict(self.__dict__), extra))


def _rebuilt(
    cls: type[PolicyError], args: tuple[Any, ...], state: dict[str, Any], extra: dict[str, Any]
) -> PolicyError:
    """A pickled ``PolicyError`` made again without calling its ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    for name, value in extra.items():  # ImportError's name and path are not in __dict__
        setattr(error, name, value)
    return error


class StateError(PolicyError, ValueError):
    """The system state is not valid JSON, breaks the state schema, or is inconsistent."""


class RulebookError(PolicyError, ValueError):
    """A rule file is malformed, fails the rulebook schema, or a rule is inconsistent."""


class ExpressionError(RulebookError):
    """A rule's condition cannot be parsed or does not type-check."""


class SelectorError(PolicyError, ValueError):
    """A filter or selector names an organisation, rule, status or area that does not exist.

    Raised by ``Evaluation.find``/``Evaluation.outcome``, ``explain``, ``what_if`` and
    ``render_report`` (and the CLI's ``--org``, ``--status``, ``--area`` and ``RULE``/``ORG``
    arguments, which exit with code 2) instead of matching nothing. Each detail names the
    argument, the value and the close matches (``exb`` -> ``EXB``) or the valid values.
    """


class EngineError(PolicyError, RuntimeError):
    """An evaluation could not be completed (for example a backend failed)."""

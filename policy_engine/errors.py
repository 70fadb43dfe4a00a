"""The package's exception hierarchy: everything that escapes the public API is a `PolicyError`."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import attrs

__all__ = [
    "EngineError",
    "ErrorDetail",
    "ExpressionError",
    "PolicyError",
    "RulebookError",
    "SelectorError",
    "StateError",
]


_ORG_INDEX = re.compile(r"organisations\[\d+\]")
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,19}")


@attrs.frozen
class ErrorDetail:
    """One problem found in an input: where it is, what was there, what was expected.

    ``path`` is machine-readable (a JSON path such as ``state.organisations[1].metrics.x``);
    ``org``, for a problem inside an organisation, is that organisation's id, which the text shows
    after its index: ``state.organisations[1] (EXA).metrics.x: ...`` (see ``where``).
    """

    path: str
    message: str
    value: str | None = None
    org: str | None = None

    @property
    def where(self) -> str:
        """The path as shown: with the organisation's id after ``organisations[i]``, if known."""
        if self.org is None:
            return self.path
        shown = self.org if _PLAIN_ID.fullmatch(self.org) else json.dumps(self.org, ensure_ascii=False)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        m = _ORG_INDEX.search(self.path)
        if m is None:
            return f"{self.path} ({shown})"
        return f"{self.path[: m.end()]} ({shown}){self.path[m.end() :]}"

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

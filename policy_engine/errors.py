"""The package's exception hierarchy: everything that escapes the public API is a `PolicyError`."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = [
    "EngineError",
    "ErrorDetail",
    "ExpressionError",
    "PolicyError",
    "RulebookError",
    "StateError",
]


@attrs.frozen
class ErrorDetail:
    """One problem found in an input: where it is, what was there, what was expected."""

    path: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}: {self.message} (got {self.value})"


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


class EngineError(PolicyError, RuntimeError):
    """An evaluation could not be completed (for example a backend failed)."""

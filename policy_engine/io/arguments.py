"""The arguments of the public API, checked where they come in: a wrong type or value is a
``PolicyError`` naming the argument, the value and what was expected (code ``argument.value``),
never a ``TypeError`` or ``AttributeError`` from deep inside (decision 019).

The error's class is the one of the function's own inputs (``StateError`` for a state loader or
a table, ``RulebookError`` for a rulebook loader), as ``as_of`` and ``backend`` already were.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from ..errors import ErrorCode, ErrorDetail, PolicyError

__all__ = ["check_count", "check_instance", "check_path", "shown", "wrong_argument"]

E = TypeVar("E", bound=PolicyError)
T = TypeVar("T")


def shown(value: Any) -> str:
    """A value as an error message shows it: its ``repr``, cut to 80 characters, and its type."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def wrong_argument(error: type[E], name: str, expected: str, value: Any) -> E:
    """``error`` naming the argument ``name``, what was given and what was ``expected``."""
    return error(
        f"invalid argument {name}",
        [ErrorDetail(name, f"expected {expected}", shown(value), code=ErrorCode.ARGUMENT_VALUE)],
    )


def check_path(value: Any, name: str, error: type[E]) -> str:
    """``value`` as a file path: a non-empty ``str`` or an ``os.PathLike`` giving one (not bytes,
    not a number: ``open(5)`` would read file descriptor 5)."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text or "\0" in text:
        raise wrong_argument(error, name, "a file path (a non-empty str or os.PathLike)", value)
    return text


def check_count(value: Any, name: str, error: type[E], *, minimum: int = 1) -> int:
    """``value`` as a whole number of at least ``minimum`` (an ``int``, not a bool or text)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise wrong_argument(error, name, f"a whole number of at least {minimum}", value)
    return value


def check_instance(value: Any, kind: type[T], name: str, expected: str, error: type[E]) -> T:
    """``value`` if it is a ``kind``; ``error`` saying ``expected`` otherwise."""
    if not isinstance(value, kind):
        raise wrong_argument(error, name, expected, value)
    return value

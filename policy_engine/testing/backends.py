"""Every evaluation path at once: for tests that assert an outcome holds whichever path is used."""

from __future__ import annotations

from typing import Any

from ..data.state import State, state_from_dict
from ..engine import available_backends, evaluate, statuses
from ..language.rules import Status
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = ["STATUS_PATHS", "statuses_by_path"]

STATUS_PATHS: tuple[str, ...] = ("native", "durable", "statuses-compiled", "statuses-durable", "columnar")
"""``native``/``durable``: ``evaluate`` (full outcomes); ``statuses-compiled``/``statuses-durable``:
``statuses``; ``columnar``: ``statuses(backend="columnar")``, the table evaluator (polars)."""


def _paths() -> list[str]:
    durable = "durable" in available_backends()
    return [p for p in STATUS_PATHS if durable or "durable" not in p]


def statuses_by_path(
    state: State | dict[str, Any], rulebook: Rulebook | None = None, paths: list[str] | None = None
) -> dict[str, dict[tuple[str, str], Status]]:
    """``path -> (organisation id, rule id) -> status`` for every evaluation path available here
    (durable ones only where durable-rules imports), or the ``paths`` given."""
    book = rulebook if rulebook is not None else load_rulebook()
    frozen = state if isinstance(state, State) else state_from_dict(state, book)
    out: dict[str, dict[tuple[str, str], Status]] = {}
    for path in paths if paths is not None else _paths():
        if path in ("native", "durable"):
            got = {(o.org_id, o.rule_id): o.status for o in evaluate(frozen, book, backend=path).outcomes}
        elif path.startswith("statuses-") or path == "columnar":
            nested = statuses(frozen, book, backend=path.removeprefix("statuses-"))
            got = {(org, rid): s for org, rules in nested.items() for rid, s in rules.items()}
        else:
            raise ValueError(f"unknown evaluation path {path!r} (expected one of {', '.join(STATUS_PATHS)})")
        out[path] = got
    return out

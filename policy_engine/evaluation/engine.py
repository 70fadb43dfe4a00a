"""evaluate(): validate, pick a backend, run to a fixpoint, assemble the Evaluation."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from .._version import __version__
from ..data.state import State, _short, state_from_dict, validate_state, view_at
from ..errors import EngineError, ErrorDetail, PolicyError, StateError
from ..language.months import parse_date
from ..rulebook.loader import Rulebook, load_rulebook
from . import compiled as _compiled
from . import durable as _durable
from . import native as _native
from .decide import firing
from .outcomes import DecisionRecord, Evaluation

__all__ = ["Backend", "available_backends", "evaluate", "evaluate_many", "resolve_backend", "statuses"]

Backend = Literal["auto", "native", "durable"]


def available_backends() -> list[str]:
    """Backends that work on this interpreter."""
    return ["durable", "native"] if _durable.available() else ["native"]


def resolve_backend(backend: str) -> str:
    """``auto`` -> durable where it imports, native otherwise. EngineError for unknown names."""
    if backend == "auto":
        return "durable" if _durable.available() else "native"
    if backend not in ("native", "durable"):
        raise EngineError("unknown backend", [ErrorDetail("backend", "expected auto, native or durable", backend)])
    return backend


_DEFAULT_BOOK: Rulebook | None = None
_FITS: dict[tuple[str, str], None] = {}
_FITS_MAX = 4096
_FITS_LOCK = threading.Lock()


def _remember(key: tuple[str, str]) -> None:
    """Remember that a state (by content digest) fits a rulebook, so evaluating the same State
    object again (e.g. at many as_of dates) skips re-validation. Bounded, oldest first out."""
    with _FITS_LOCK:
        if len(_FITS) >= _FITS_MAX:
            _FITS.pop(next(iter(_FITS)))
        _FITS[key] = None


def _default_rulebook() -> Rulebook:
    global _DEFAULT_BOOK
    if _DEFAULT_BOOK is None:
        _DEFAULT_BOOK = load_rulebook("nhs-2024-25")
    return _DEFAULT_BOOK


def evaluate(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = "auto",
    evaluated_at: dt.datetime | None = None,
) -> Evaluation:
    """Evaluate every rule of ``rulebook`` (default: the bundled 2024/25 rulebook) on ``state``.

    ``as_of`` defaults to the state's own ``as_of``. The state is checked against the rulebook's
    catalogues first (unknown metric or fact names, numerator > denominator, wrong fact types):
    any problem raises StateError before anything is evaluated, so there is never a partial
    result. Only PolicyError subclasses escape.
    """
    with _public_errors():
        return _evaluate(state, rulebook, as_of, backend, evaluated_at)


@contextlib.contextmanager
def _public_errors() -> Iterator[None]:
    """Only PolicyError escapes: deep nesting is a StateError, anything else an EngineError."""
    try:
        yield
    except PolicyError:
        raise
    except RecursionError:
        raise StateError("input nested too deeply", [ErrorDetail("state", "nesting too deep")]) from None
    except Exception as exc:
        raise EngineError(
            "internal error during evaluation", [ErrorDetail("engine", f"{type(exc).__name__}: {exc}")]
        ) from exc


def _evaluate(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None,
    as_of: dt.date | str | None,
    backend: str,
    evaluated_at: dt.datetime | None,
) -> Evaluation:
    book, frozen, when = _prepare(state, rulebook, as_of)
    chosen = resolve_backend(backend)
    views = [view_at(org, when, book.date_facts) for org in frozen.organisations]
    runner = _durable.run if chosen == "durable" else _native.run
    outcomes = runner(book, views, when, frozen.cohorts)
    order = {r.id: i for i, r in enumerate(book.rules)}
    rules = {r.id: r for r in book.rules}
    by_firing = sorted(outcomes, key=lambda o: (order[o.rule_id], o.org_id))
    trace = tuple(firing(i + 1, rules[o.rule_id], o) for i, o in enumerate(by_firing))
    stamp = (evaluated_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    record = DecisionRecord(
        state_digest=frozen.digest,
        rulebook_id=book.id,
        rulebook_version=book.version,
        rulebook_digest=book.digest,
        package_version=__version__,
        backend=chosen,
        engine_version=_durable.engine_version() if chosen == "durable" else f"native {_native.VERSION}",
        as_of=when,
        evaluated_at=stamp,
        overlays=book.overlays,
    )
    return Evaluation(
        tuple(sorted(outcomes, key=lambda o: (o.org_id, o.rule_id))),
        trace,
        record,
        org_ids=frozenset(org.id for org in frozen.organisations),
        rule_ids=frozenset(rules),
    )


def _book(rulebook: Rulebook | str | os.PathLike[str] | None) -> Rulebook:
    if isinstance(rulebook, Rulebook):
        return rulebook
    return _default_rulebook() if rulebook is None else load_rulebook(rulebook)


def _prepare(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None,
    as_of: dt.date | str | None,
) -> tuple[Rulebook, State, dt.date]:
    """The rulebook, the validated state and the evaluation date (StateError before anything runs)."""
    book = _book(rulebook)
    if isinstance(state, State):
        key = (state.digest, book.digest)
        if key not in _FITS:
            errors = validate_state(state.document, book)
            if errors:
                raise StateError("the state does not fit the rulebook", errors)
            _remember(key)
        frozen = state
    else:
        frozen = state_from_dict(state, book)
    return book, frozen, _as_of(as_of, frozen)


def statuses(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Literal["compiled", "durable"] | str = "compiled",
) -> dict[str, dict[str, str]]:
    """Only the statuses: ``{org id: {rule id: status}}`` (every organisation has an entry).

    The same statuses as ``evaluate`` (``tests/test_compiled.py`` checks it against the reference
    evaluator), without evidence, explanations, trace or decision record: the fast path for loops
    over many states or dates. ``backend="compiled"`` runs the rules as compiled closures;
    ``"durable"`` lets durable-rules match and chain them while the same closures decide.
    Validation and errors are exactly as for ``evaluate``.
    """
    if backend not in ("compiled", "durable"):
        raise EngineError("unknown backend", [ErrorDetail("backend", "expected compiled or durable", backend)])
    with _public_errors():
        book, frozen, when = _prepare(state, rulebook, as_of)
        program = _compiled.program(book)
        if backend == "durable":
            return _durable.run_statuses(book, program, frozen.organisations, when, frozen.cohorts)
        return program.run(frozen.organisations, when, frozen.cohorts)


def _as_of(value: dt.date | str | None, state: State) -> dt.date:
    if value is None:
        if state.as_of is None:
            raise StateError("no as_of date", [ErrorDetail("state.as_of", "give as_of in the state or to evaluate()")])
        return state.as_of
    try:
        return parse_date(value)
    except ValueError as exc:
        raise StateError("invalid as_of date", [ErrorDetail("as_of", str(exc), _short(value))]) from None


def evaluate_many(
    states: Iterable[State | Mapping[str, Any]],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = "auto",
    evaluated_at: dt.datetime | None = None,
) -> Iterator[Evaluation]:
    """Evaluate a stream of states lazily, one at a time (memory stays flat however many pass).

    The rulebook is loaded once. Each state is validated and evaluated exactly as by ``evaluate``;
    an invalid state raises its ``StateError`` when the iterator reaches it.
    """
    book = _book(rulebook)
    for state in states:
        yield evaluate(state, book, as_of=as_of, backend=backend, evaluated_at=evaluated_at)

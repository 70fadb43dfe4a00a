"""evaluate(): validate, pick a backend, run to a fixpoint, assemble the Evaluation."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from ._version import __version__
from .data.state import CompleteCohort, State, _short, rulebook_errors, state_from_dict, view_at
from .errors import EngineError, ErrorCode, ErrorDetail, PolicyError, RulebookError, StateError
from .evaluation import compiled as _compiled
from .evaluation import durable as _durable
from .evaluation import explained as _explained
from .evaluation import native as _native
from .evaluation.decide import firing
from .evaluation.outcomes import DecisionRecord, Evaluation, Outcome, Status
from .evaluation.stream import EvaluationStream
from .evaluation.unconfirmed import unconfirmed
from .io.arguments import wrong_argument
from .language.months import parse_date
from .rulebook.loader import Rulebook, default_rulebook, load_rulebook

__all__ = [
    "EVALUATE_BACKENDS",
    "STATUSES_BACKENDS",
    "Backend",
    "available_backends",
    "evaluate",
    "evaluate_many",
    "evaluate_stream",
    "resolve_backend",
    "statuses",
]


class Backend(enum.StrEnum):
    """The evaluators, each named once; every function that takes ``backend=`` takes these names
    (as the enumeration or as its text), and so does the command line's ``--backend``.

    Which function accepts which (any other name is an ``EngineError`` that lists the accepted ones):

    ============  ===================================================  =================  ==============
    name          what it is                                           ``evaluate``       ``statuses``
    ============  ===================================================  =================  ==============
    ``native``    plain Python: with ``evaluate`` the compiled         yes                yes
                  closures that capture evidence, with ``statuses``
                  the reference interpreter
    ``durable``   durable-rules' rete network matches and chains       yes                yes
    ``compiled``  rules compiled once into closures, statuses only     no (statuses only) yes (default)
    ``columnar``  polars expressions over a table, statuses only       no (statuses only) yes
    ``auto``      not an evaluator: the function chooses               durable, else      compiled
                                                                       native
    ============  ===================================================  =================  ==============

    ``durable`` is the same scheduler for both functions: with ``evaluate`` the reference
    ``decide`` builds each full outcome, with ``statuses`` the compiled closures give only the
    status (docs/decisions/012-one-vocabulary-typed-outcomes-one-state.md). ``native`` full
    outcomes come from rules compiled once into closures that record the evidence the reference
    interpreter records (``evaluation.explained``), equal to the interpreter's outcomes, which
    ``reference_evaluate`` gives for the tests (docs/decisions/034-full-outcomes-from-compiled-closures.md). Tables
    (``policy_engine.tabular``, ``evaluate --batch`` on a .csv or .parquet file) always run on
    ``columnar``.
    """

    NATIVE = "native"
    DURABLE = "durable"
    COMPILED = "compiled"
    COLUMNAR = "columnar"
    AUTO = "auto"


EVALUATE_BACKENDS: tuple[Backend, ...] = (Backend.AUTO, Backend.NATIVE, Backend.DURABLE)
"""The names ``evaluate`` and ``evaluate_many`` accept (full outcomes need the reference ``decide``)."""
STATUSES_BACKENDS: tuple[Backend, ...] = (
    Backend.COMPILED,
    Backend.DURABLE,
    Backend.NATIVE,
    Backend.COLUMNAR,
    Backend.AUTO,
)
"""The names ``statuses`` accepts."""
_STATUSES_ONLY = frozenset({Backend.COMPILED, Backend.COLUMNAR})


def _names(backends: Iterable[Backend]) -> str:
    """``auto, native or durable``."""
    names = [b.value for b in backends]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _backend(backend: Backend | str, accepted: tuple[Backend, ...], function: str) -> Backend:
    """``backend`` as a member of ``accepted``; EngineError naming the accepted ones otherwise."""
    try:
        chosen = Backend(backend)
    except ValueError:
        raise EngineError(
            "unknown backend",
            [ErrorDetail("backend", f"expected {_names(accepted)}", str(backend), code=ErrorCode.ARGUMENT_VALUE)],
        ) from None
    if chosen not in accepted:
        why = (
            f"{chosen.value} gives statuses only: use statuses(..., backend={chosen.value!r}); "
            if chosen in _STATUSES_ONLY
            else ""
        )
        raise EngineError(
            f"backend not accepted by {function}",
            [
                ErrorDetail(
                    "backend",
                    f"{why}{function} accepts {_names(accepted)}",
                    chosen.value,
                    code=ErrorCode.ARGUMENT_VALUE,
                )
            ],
        )
    return chosen


def available_backends() -> list[str]:
    """The ``evaluate`` backends that work on this interpreter (``durable`` where durable-rules
    imports). ``compiled`` and ``columnar`` (``statuses``) need no durable-rules and work everywhere."""
    return [Backend.DURABLE.value, Backend.NATIVE.value] if _durable.available() else [Backend.NATIVE.value]


def resolve_backend(backend: Backend | str, function: Literal["evaluate", "statuses"] = "evaluate") -> Backend:
    """The evaluator ``function`` runs for ``backend``: for ``evaluate``, ``auto`` is durable where it
    imports and native otherwise; for ``statuses``, ``auto`` is compiled. EngineError for a name
    ``function`` does not accept (the message names the accepted ones)."""
    if function == "statuses":
        chosen = _backend(backend, STATUSES_BACKENDS, "statuses")
        return Backend.COMPILED if chosen is Backend.AUTO else chosen
    chosen = _backend(backend, EVALUATE_BACKENDS, "evaluate")
    if chosen is Backend.AUTO:
        return Backend.DURABLE if _durable.available() else Backend.NATIVE
    return chosen


def evaluate(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = Backend.AUTO,
    evaluated_at: dt.datetime | None = None,
) -> Evaluation:
    """Evaluate every rule of ``rulebook`` (default: the bundled 2024/25 rulebook) on ``state``.

    ``as_of`` defaults to the state's own ``as_of``. ``backend`` is ``"auto"`` (durable where it
    imports, native otherwise), ``"native"`` or ``"durable"`` (see ``Backend``; ``compiled`` and
    ``columnar`` give statuses only: ``statuses``). The state is checked against the rulebook's
    catalogues first (unknown metric or fact names, numerator > denominator, wrong fact types):
    any problem raises StateError before anything is evaluated, so there is never a partial
    result. Only PolicyError subclasses escape.
    """
    with _public_errors():
        return _evaluate(state, rulebook, as_of, backend, evaluated_at)


def reference_evaluate(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    evaluated_at: dt.datetime | None = None,
) -> Evaluation:
    """``evaluate(..., backend="native")`` by the reference interpreter (``evaluation.native``,
    ``decide``, ``expressions``) instead of the compiled closures that ``native`` runs: the oracle
    the tests compare every other path with (docs/decisions/034-full-outcomes-from-compiled-closures.md).
    The same validation, errors and decision record as ``evaluate``; slower. Not part of the
    public API (not exported by ``policy_engine``)."""
    with _public_errors():
        return _evaluate(state, rulebook, as_of, Backend.NATIVE, evaluated_at, reference=True)


@contextlib.contextmanager
def _public_errors() -> Iterator[None]:
    """Only PolicyError escapes: deep nesting is a StateError, anything else an EngineError."""
    try:
        yield
    except PolicyError:
        raise
    except RecursionError:
        raise StateError(
            "input nested too deeply", [ErrorDetail("state", "nesting too deep", code=ErrorCode.STATE_PARSE)]
        ) from None
    except Exception as exc:
        raise EngineError(
            "internal error during evaluation",
            [ErrorDetail("engine", f"{type(exc).__name__}: {exc}", code=ErrorCode.ENGINE_INTERNAL)],
        ) from exc


def _evaluate(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None,
    as_of: dt.date | str | None,
    backend: Backend | str,
    evaluated_at: dt.datetime | None,
    reference: bool = False,
) -> Evaluation:
    book, frozen, when = _prepare(state, rulebook, as_of)
    chosen = resolve_backend(backend)
    assumed = unconfirmed(frozen.organisations, frozen.cohorts)
    rules = {r.id: r for r in book.rules}
    record = _record(book, frozen, when, chosen, evaluated_at)
    if chosen is Backend.NATIVE and not reference and not assumed:
        # the compiled closures give the outcomes in their order and the trace (as sorted below)
        ordered, firings = _explained.evaluation(book, frozen.organisations, when, assumed.cohorts)
        outcomes, trace = tuple(ordered), tuple(firings)
    else:
        if chosen is Backend.NATIVE and not reference:
            found = _explained.run(book, frozen.organisations, when, assumed.cohorts)
        else:
            views = [view_at(org, when, book.date_facts) for org in frozen.organisations]
            runner = _durable.run if chosen is Backend.DURABLE else _native.run
            found = runner(book, views, when, assumed.cohorts)
        if assumed:
            found = assumed.outcomes(found, rules)
        order = {r.id: i for i, r in enumerate(book.rules)}
        by_firing = sorted(found, key=lambda o: (order[o.rule_id], o.org_id))
        trace = tuple(firing(i + 1, rules[o.rule_id], o) for i, o in enumerate(by_firing))
        outcomes = tuple(sorted(found, key=lambda o: (o.org_id, o.rule_id)))
    return Evaluation(
        outcomes,
        trace,
        record,
        org_ids=frozenset(org.id for org in frozen.organisations),
        rule_ids=frozenset(rules),
        rulebook=book,
        org_types={org.id: org.type for org in frozen.organisations},
    )


def _record(
    book: Rulebook, frozen: State, when: dt.date, chosen: Backend, evaluated_at: dt.datetime | None
) -> DecisionRecord:
    stamp = (evaluated_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    return DecisionRecord(
        state_digest=frozen.digest,
        rulebook_id=book.id,
        rulebook_version=book.version,
        rulebook_digest=book.digest,
        package_version=__version__,
        backend=chosen.value,
        engine_version=_durable.engine_version() if chosen is Backend.DURABLE else f"native {_native.VERSION}",
        as_of=when,
        evaluated_at=stamp,
        overlays=book.overlays,
        rulebook_source=book.source,
    )


def evaluate_stream(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = Backend.AUTO,
    evaluated_at: dt.datetime | None = None,
) -> EvaluationStream:
    """``evaluate``, one organisation at a time: the outcomes of each organisation in turn, never
    all of them at once (docs/decisions/024-streamed-evaluation.md).

    The state is validated and the backend chosen here, as by ``evaluate`` (StateError or
    EngineError before anything runs). Iterating the returned ``EvaluationStream`` gives each
    organisation's outcomes, in the order of ``Evaluation.outcomes``; ``write_json`` writes the
    text of ``Evaluation.to_json()`` as it goes, and its ``record`` is the decision record.
    Errors while it runs are PolicyError too."""
    with _public_errors():
        book, frozen, when = _prepare(state, rulebook, as_of)
        chosen = resolve_backend(backend)
        if chosen is Backend.DURABLE:
            _durable.require()
        assumed = unconfirmed(frozen.organisations, frozen.cohorts)
        return _PublicStream(
            book,
            frozen.organisations,
            when,
            assumed,
            _record(book, frozen, when, chosen, evaluated_at),
            _durable.run if chosen is Backend.DURABLE else None,
        )


class _PublicStream(EvaluationStream):
    """An EvaluationStream whose run lets only PolicyError escape (as ``evaluate``)."""

    def _run(self) -> Iterator[tuple[Outcome, ...]]:
        with _public_errors():
            yield from super()._run()


def _book(rulebook: Rulebook | str | os.PathLike[str] | None) -> Rulebook:
    if isinstance(rulebook, Rulebook):
        return rulebook
    if rulebook is not None and not isinstance(rulebook, (str, os.PathLike)):
        raise wrong_argument(
            RulebookError, "rulebook", "a Rulebook, a bundled rulebook's name, a folder or None", rulebook
        )
    return default_rulebook() if rulebook is None else load_rulebook(rulebook)


def _prepare(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None,
    as_of: dt.date | str | None,
) -> tuple[Rulebook, State, dt.date]:
    """The rulebook, the validated state and the evaluation date (StateError before anything runs)."""
    book = _book(rulebook)
    if isinstance(state, State):
        # the schema was checked when the State was made; its catalogues once per rulebook
        errors = rulebook_errors(state, book)
        if errors:
            raise StateError("the state does not fit the rulebook", errors)
        frozen = state
    else:
        frozen = state_from_dict(state, book)
    return book, frozen, _as_of(as_of, frozen)


def statuses(
    state: State | Mapping[str, Any],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = Backend.COMPILED,
) -> dict[str, dict[str, Status]]:
    """Only the statuses: ``{org id: {rule id: status}}`` (every organisation has an entry).

    The same statuses as ``evaluate`` (``tests/test_compiled.py`` checks it against the reference
    evaluator), without evidence, explanations, trace or decision record: the fast path for loops
    over many states or dates. ``backend`` (see ``Backend``): ``"compiled"`` (the default, and
    what ``"auto"`` picks) runs the rules as compiled closures; ``"durable"`` lets durable-rules
    match and chain them while the same closures decide; ``"native"`` is the reference interpreter;
    ``"columnar"`` is the table evaluator (polars) on this one state. Validation and errors are
    exactly as for ``evaluate``.
    """
    chosen = resolve_backend(backend, "statuses")
    with _public_errors():
        book, frozen, when = _prepare(state, rulebook, as_of)
        assumed = unconfirmed(frozen.organisations, frozen.cohorts)
        return assumed.statuses(_statuses(chosen, book, frozen, when, assumed.cohorts))


def _statuses(
    chosen: Backend, book: Rulebook, frozen: State, when: dt.date, cohorts: tuple[CompleteCohort, ...]
) -> dict[str, dict[str, Status]]:
    if chosen is Backend.NATIVE:
        views = [view_at(org, when, book.date_facts) for org in frozen.organisations]
        out: dict[str, dict[str, Status]] = {org.id: {} for org in frozen.organisations}
        for outcome in _native.run(book, views, when, cohorts):
            out[outcome.org_id][outcome.rule_id] = outcome.status
        return out
    if chosen is Backend.COLUMNAR:
        return _columnar_statuses(book, frozen, when, cohorts)
    program = _compiled.program(book)
    if chosen is Backend.DURABLE:
        return _durable.run_statuses(book, program, frozen.organisations, when, cohorts)
    return program.run(frozen.organisations, when, cohorts)


def _columnar_statuses(
    book: Rulebook, state: State, when: dt.date, cohorts: tuple[CompleteCohort, ...]
) -> dict[str, dict[str, Status]]:
    """The columnar evaluator on one state: the state as table rows at ``when``, evaluated."""
    from . import tabular  # polars is imported only when the columnar evaluator is asked for

    if state.as_of != when or cohorts != state.cohorts:
        # a row holds the facts in force at its as_of: re-date the state (and keep only the
        # cohorts treated as complete)
        document = {**state.document, "as_of": when.isoformat()}
        kept = {(c.scope, c.types) for c in cohorts}
        document["cohorts"] = [c for c in document.get("cohorts", []) if (c["scope"], tuple(c["types"])) in kept]
        if not document["cohorts"]:
            del document["cohorts"]
        state = state_from_dict(document, book)
    frame = tabular.evaluate_frame(tabular.states_to_frame({"state": state}, book), book).frame
    out: dict[str, dict[str, Status]] = {org.id: {} for org in state.organisations}
    for row in frame.iter_rows(named=True):
        org_statuses = out[row["org_id"]]
        for rule in book.rules:
            if row[rule.id] is not None:
                org_statuses[rule.id] = row[rule.id]
    return out


def _as_of(value: dt.date | str | None, state: State) -> dt.date:
    if value is None:
        if state.as_of is None:
            raise StateError(
                "no as_of date",
                [
                    ErrorDetail(
                        "state",
                        "give as_of in the state or to evaluate()",
                        code=ErrorCode.STATE_AS_OF,
                        location=("as_of",),
                    )
                ],
            )
        return state.as_of
    try:
        return parse_date(value)
    except ValueError as exc:
        raise StateError(
            "invalid as_of date", [ErrorDetail("as_of", str(exc), _short(value), code=ErrorCode.ARGUMENT_VALUE)]
        ) from None


def evaluate_many(
    states: Iterable[State | Mapping[str, Any]],
    rulebook: Rulebook | str | os.PathLike[str] | None = None,
    *,
    as_of: dt.date | str | None = None,
    backend: Backend | str = Backend.AUTO,
    evaluated_at: dt.datetime | None = None,
) -> Iterator[Evaluation]:
    """Evaluate a stream of states lazily, one at a time (memory stays flat however many pass).

    The rulebook is loaded once. Each state is validated and evaluated exactly as by ``evaluate``;
    an invalid state raises its ``StateError`` when the iterator reaches it. ``states`` that is not
    an iterable of states (a number, ``None``, text, or one state alone) is refused at once.
    """
    if isinstance(states, (str, bytes, bytearray, Mapping, State)) or not isinstance(states, Iterable):
        raise wrong_argument(StateError, "states", "an iterable of states (each a State or a mapping)", states)
    book = _book(rulebook)
    return _evaluate_each(iter(states), book, as_of, backend, evaluated_at)


def _evaluate_each(
    states: Iterator[State | Mapping[str, Any]],
    book: Rulebook,
    as_of: dt.date | str | None,
    backend: Backend | str,
    evaluated_at: dt.datetime | None,
) -> Iterator[Evaluation]:
    for state in states:
        yield evaluate(state, book, as_of=as_of, backend=backend, evaluated_at=evaluated_at)

"""The durable-rules backend: the rete network matches organisations to rules and chains outcomes.

This is the only module that touches ``durable``. The hazards it avoids (see docs/decisions):

* one private ``durable.engine.Host``, created once under a lock (the library's lazily created
  global host is not thread-safe); every call into durable holds the same lock;
* one ruleset per rulebook content hash, compiled once (rulesets cannot be redefined);
* a fresh session id per organisation per evaluation, deleted afterwards (facts otherwise pile
  up, memory grows and the 32-bit duplicate-message hash starts to collide); one session per
  organisation also keeps each session to a few hundred facts;
* facts carry no ``id`` field (durable's message identity);
* facts are asserted one at a time (``assert_facts`` rejects a whole batch when one fact matches
  no rule), and an organisation no rule applies to gets no session at all: asserting a fact that
  matches nothing leaves a half-made state whose ``delete_state`` frees an invalid pointer (an
  abort or segmentation fault later in the process, found with gdb);
* exceptions raised inside actions are caught by the action wrapper and re-raised after the run
  as EngineError (durable would otherwise swallow them);
* at most 500 rules per ruleset (durable fails at 513).

What durable decides: which rule fires for which organisation (the organisation-type pattern),
and when (a rule fires only once the outcome facts of every rule it reads are present, joined on
the organisation: forward chaining in the rete network). What a rule *means* — its condition
over exact numbers with three-valued logic — is evaluated by the shared ``decide`` function, since
durable compares numbers as doubles and has no notion of unknown. Cross-organisation ranking is
an aggregate over the whole cohort, so it runs as a stratum barrier: when the network is quiet,
the adapter posts a ``cohort`` fact that the rank rule is waiting for.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .._decide import cohort_ranks, decide
from .._expr.evaluate import UNKNOWN, Value
from ..errors import EngineError, ErrorDetail
from ..loader import Rulebook
from ..outcomes import Outcome
from ..rules import Rule
from ..state import OrgView

NAME = "durable"
MAX_RULES_PER_RULESET = 500

_LOCK = threading.RLock()
_HOST: Any = None
_COMPILED: dict[str, _Compiled] = {}
_SESSIONS: dict[str, _Session] = {}
_SIDS = itertools.count(1)
_IMPORT_ERROR: str | None = None

try:  # pragma: no branch - depends on the interpreter
    from durable import engine as _engine
    from durable import lang as _lang
except Exception as exc:  # noqa: BLE001 - durable fails in several ways on unsupported Pythons
    _IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
    _engine = None
    _lang = None


def available() -> bool:
    """Whether durable-rules imports on this interpreter."""
    return _IMPORT_ERROR is None


def engine_version() -> str:
    try:
        from importlib.metadata import version

        return "durable-rules " + version("durable_rules")
    except Exception:  # noqa: BLE001
        return "durable-rules (version unknown)"


@attrs.define
class _Session:
    book: Rulebook
    as_of: dt.date
    views: dict[str, OrgView]
    statuses: dict[str, dict[str, str]]
    outcomes: list[Outcome] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    ranks: dict[str, dict[str, Value]] = attrs.field(factory=dict)


@attrs.frozen
class _Compiled:
    name: str
    book: Rulebook


def _host() -> Any:
    global _HOST
    with _LOCK:
        if _HOST is None:

            class _SynchronousHost(_engine.Host):  # type: ignore[misc]
                """durable's Host starts daemon timer threads that call into the C engine
                (``dispatch_ruleset``/``dispatch_timers``) concurrently with the caller — measured
                here as a segmentation fault mid-evaluation. Every action is flushed synchronously
                by ``assert_fact`` and no rule uses timers, so the threads are never started."""

                def _run(self) -> None:
                    return None

            _HOST = _SynchronousHost()
        return _HOST


def _action(rule: Rule) -> Callable[[Any], None]:
    def run(c: Any) -> None:
        try:
            ses = _SESSIONS[c.o.ses]
            org_id = c.o.org
            view = ses.views[org_id]
            rank: Value = UNKNOWN
            if rule.uses_rank:
                rank = ses.ranks[rule.id].get(org_id, UNKNOWN)
            outcome = decide(rule, view, ses.as_of, ses.book, ses.statuses[org_id], rank)
            ses.statuses[org_id][rule.id] = outcome.status
            ses.outcomes.append(outcome)
            try:
                c.assert_fact(
                    {"t": "outcome", "ses": c.o.ses, "org": org_id, "rule": rule.id, "status": outcome.status}
                )
            except _engine.MessageNotHandledException:
                pass  # no rule reads this outcome
        except Exception as exc:  # noqa: BLE001 - surfaced after the run, never swallowed
            try:
                _SESSIONS[c.o.ses].errors.append(f"{rule.id}: {type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001, S110 - the session is already gone; nothing to record into
                pass

    run.__name__ = "rule_" + rule.id.replace(".", "_").replace("-", "_")
    return run


def _compile(book: Rulebook) -> _Compiled:
    with _LOCK:
        done = _COMPILED.get(book.digest)
        if done is not None:
            return done
        if len(book.rules) > MAX_RULES_PER_RULESET:
            raise EngineError(
                "the durable backend cannot run this rulebook",
                [
                    ErrorDetail(
                        book.id,
                        f"durable-rules supports at most {MAX_RULES_PER_RULESET} rules in one "
                        "ruleset; use backend='native'",
                        str(len(book.rules)),
                    )
                ],
            )
        m, c = _lang.m, _lang.c
        name = f"policy_engine_{book.digest[:20]}_{len(_COMPILED)}"
        rs = _lang.ruleset(name)
        _lang._rulesets.pop(name, None)  # keep it out of the library's global host
        with rs:
            for rule in book.rules:
                types = [m.otype == t for t in rule.applies_to]
                type_match = types[0]
                for t in types[1:]:
                    type_match = type_match | t
                conditions = [c.o << ((m.t == "org") & type_match)]
                for i, dep in enumerate(rule.depends_on):
                    conditions.append(
                        getattr(c, f"d{i}")
                        << ((m.t == "outcome") & (m.rule == dep) & (m.org == c.o.org) & (m.ses == c.o.ses))
                    )
                if rule.uses_rank:
                    conditions.append(c.k << ((m.t == "cohort") & (m.rule == rule.id) & (m.ses == c.o.ses)))
                _lang.when_all(*conditions)(_action(rule))
        full_name, definition = rs.define()
        _host().register_rulesets({full_name: definition})
        compiled = _Compiled(full_name, book)
        _COMPILED[book.digest] = compiled
        return compiled


def _assert(ruleset: str, fact: dict[str, Any]) -> bool:
    """Assert one fact; False when no rule matched it (durable raises MessageNotHandledException)."""
    try:
        _host().assert_fact(ruleset, fact)
    except _engine.MessageNotHandledException:
        return False
    except _engine.MessageObservedException as exc:
        raise EngineError(
            "durable-rules rejected a fact as a duplicate", [ErrorDetail(str(fact.get("org")), str(exc))]
        ) from None
    return True


def run(book: Rulebook, views: Sequence[OrgView], as_of: dt.date) -> list[Outcome]:
    """Evaluate on durable-rules; the same outcomes as the native backend, in any order."""
    if not available():
        raise EngineError(
            "the durable backend is not available on this Python",
            [
                ErrorDetail(
                    "backend", "durable-rules does not import here; use backend='native' or 'auto'", _IMPORT_ERROR
                )
            ],
        )
    with _LOCK:
        compiled = _compile(book)
        ses = _Session(book, as_of, {v.org.id: v for v in views}, {v.org.id: {} for v in views})
        # Only organisations that some rule applies to get a session: asserting a fact that no rule
        # matches leaves durable with a half-made state whose delete_state frees an invalid pointer
        # (an abort or segmentation fault later in the process, seen here under gdb).
        active = [v for v in views if any(r.applies_to_type(v.org.type) for r in book.rules)]
        sids = {v.org.id: f"pe-{next(_SIDS)}" for v in active}
        started: set[str] = set()
        for sid in sids.values():
            _SESSIONS[sid] = ses
        try:
            for view in active:
                sid = sids[view.org.id]
                fact = {"sid": sid, "t": "org", "ses": sid, "org": view.org.id, "otype": view.org.type}
                if _assert(compiled.name, fact):
                    started.add(sid)
            for rule in sorted((r for r in book.rules if r.uses_rank), key=lambda r: (r.stratum, r.id)):
                cohort = [v for v in active if rule.applies_to_type(v.org.type)]
                ses.ranks[rule.id] = cohort_ranks(rule, cohort, as_of, book, ses.statuses)
                for view in cohort:
                    sid = sids[view.org.id]
                    _assert(compiled.name, {"sid": sid, "t": "cohort", "ses": sid, "rule": rule.id})
        finally:
            for sid in sids.values():
                _SESSIONS.pop(sid, None)
                if sid in started:
                    _host().delete_state(compiled.name, sid)
        if ses.errors:
            raise EngineError(
                "a rule failed inside the durable backend", [ErrorDetail("durable", e) for e in ses.errors]
            )
        expected = sum(1 for r in book.rules for v in views if r.applies_to_type(v.org.type))
        if len(ses.outcomes) != expected:
            raise EngineError(
                "the durable backend did not reach a complete fixpoint",
                [ErrorDetail("durable", f"expected {expected} outcomes, the network produced {len(ses.outcomes)}")],
            )
        return ses.outcomes

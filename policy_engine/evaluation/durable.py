"""The durable-rules backend: the rete network matches organisations to rules and chains outcomes.

This is the only module that touches ``durable``. The hazards it avoids (see docs/decisions):

* one private ``durable.engine.Host``, created once under a lock (the library's lazily created
  global host is not thread-safe); every call into durable holds the same lock;
* one ruleset per rulebook content hash, compiled once (rulesets cannot be redefined);
* fresh session ids per evaluation, deleted afterwards (facts otherwise pile up, memory grows
  and the 32-bit duplicate-message hash starts to collide); consecutive organisations share a
  session while it stays within ``FACTS_PER_SESSION`` facts, far below the ~50k collision region;
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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..data.state import CompleteCohort, Organisation, OrgView
from ..errors import EngineError, ErrorCode, ErrorDetail
from ..language.rules import Rule, Status
from ..rulebook.loader import Rulebook
from .cohort import Ranking
from .compiled import Ctx, Program, ranked_status
from .compiled import cohort_ranks as program_ranks
from .decide import cohort_ranks, decide
from .outcomes import Outcome

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
    statuses: dict[str, dict[str, Status]]
    outcomes: list[Outcome] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    ranks: dict[str, Ranking[str]] = attrs.field(factory=dict)
    fast: Program | None = None
    """Statuses only: the compiled program whose closures decide (``run_statuses``)."""
    ctxs: dict[str, Ctx] = attrs.field(factory=dict)
    decided: int = 0


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


def _action(rule: Rule, read: bool) -> Callable[[Any], None]:
    """The action of a rule; ``read``: some rule reads its outcome, so it becomes a fact (an
    outcome no rule reads is not asserted: durable would only reject it as unhandled)."""

    def run(c: Any) -> None:
        try:
            ses = _SESSIONS[c.o.ses]
            org_id = c.o.org
            ranking = ses.ranks[rule.id] if rule.uses_rank else None
            if ses.fast is not None:
                ctx = ses.ctxs[org_id]
                fn = ses.fast.status[rule.id]
                status = fn(ctx) if ranking is None else ranked_status(fn, ctx, ranking.rank(org_id))
            else:
                outcome = decide(rule, ses.views[org_id], ses.as_of, ses.book, ses.statuses[org_id], ranking=ranking)
                status = outcome.status
                ses.outcomes.append(outcome)
            ses.statuses[org_id][rule.id] = status
            ses.decided += 1
            if read:
                c.assert_fact({"t": "outcome", "ses": c.o.ses, "org": org_id, "rule": rule.id, "status": status})
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
                        code=ErrorCode.ENGINE_DURABLE,
                    )
                ],
            )
        m, c = _lang.m, _lang.c
        name = f"policy_engine_{book.digest[:20]}_{len(_COMPILED)}"
        rs = _lang.ruleset(name)
        _lang._rulesets.pop(name, None)  # keep it out of the library's global host
        read = {dep for r in book.rules for dep in r.depends_on}
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
                _lang.when_all(*conditions)(_action(rule, rule.id in read))
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
            "durable-rules rejected a fact as a duplicate",
            [ErrorDetail(str(fact.get("org")), str(exc), code=ErrorCode.ENGINE_DURABLE)],
        ) from None
    return True


def _require() -> None:
    if not available():
        raise EngineError(
            "the durable backend is not available on this Python",
            [
                ErrorDetail(
                    "backend",
                    "durable-rules does not import here; use backend='native' or 'auto'",
                    _IMPORT_ERROR,
                    code=ErrorCode.ENGINE_DURABLE,
                )
            ],
        )


def require() -> None:
    """EngineError (naming why) unless durable-rules imports on this interpreter."""
    _require()


def run(
    book: Rulebook,
    views: Sequence[OrgView],
    as_of: dt.date,
    cohorts: Sequence[CompleteCohort] = (),
    rankings: Mapping[str, Ranking[str]] | None = None,
) -> list[Outcome]:
    """Evaluate on durable-rules; the same outcomes as the native backend, in any order.

    ``rankings`` (by rank() rule id) are the cohort rankings when ``views`` are only some of the
    state's organisations (a chunk of a streamed evaluation, ``evaluation.stream``); without them
    each rank() rule ranks the organisations of ``views``."""
    _require()
    ses = _Session(book, as_of, {v.org.id: v for v in views}, {v.org.id: {} for v in views})

    def ranks(rule: Rule, cohort: Sequence[str]) -> Ranking[str]:
        if rankings is not None:
            return rankings[rule.id]
        return cohort_ranks(rule, [ses.views[o] for o in cohort], as_of, book, ses.statuses, cohorts)

    _drive(book, ses, [(v.org.id, v.org.type) for v in views], ranks)
    return ses.outcomes


def run_statuses(
    book: Rulebook,
    program: Program,
    orgs: Sequence[Organisation],
    as_of: dt.date,
    cohorts: Sequence[CompleteCohort] = (),
) -> dict[str, dict[str, Status]]:
    """Statuses only: durable matches and chains, the compiled closures (``program``) decide."""
    _require()
    ctxs = dict(zip((o.id for o in orgs), program.contexts(orgs, as_of), strict=True))
    ses = _Session(book, as_of, {}, {o: c.outcomes for o, c in ctxs.items()}, fast=program, ctxs=ctxs)

    def ranks(rule: Rule, cohort: Sequence[str]) -> Ranking[str]:
        arg, guard = program.rank_inputs[rule.id]
        return program_ranks(rule, cohort, [ctxs[o] for o in cohort], arg, guard, cohorts)

    _drive(book, ses, [(o.id, o.type) for o in orgs], ranks)
    return ses.statuses


def _rules_per_type(book: Rulebook) -> dict[str, int]:
    """How many rules apply to each organisation type (types no rule applies to are absent)."""
    counts: dict[str, int] = {}
    for rule in book.rules:
        for t in rule.applies_to:
            counts[t] = counts.get(t, 0) + 1
    return counts


FACTS_PER_SESSION = 2000
"""Organisations share a session up to this many facts (durable's 32-bit duplicate-message hash
gives false MessageObservedException near 50,000 facts in one session: stay far below)."""


def _sessions_for(book: Rulebook, active: Sequence[tuple[str, str]]) -> dict[str, str]:
    """A session id per organisation: consecutive organisations share one while the facts it
    will hold (one per organisation, one per outcome, one per rank() rule) stay within budget."""
    per_type = {t: 1 + n for t, n in _rules_per_type(book).items()}
    ranked = sum(1 for r in book.rules if r.uses_rank)
    sids: dict[str, str] = {}
    sid, used = "", FACTS_PER_SESSION
    for org_id, t in active:
        if used + per_type[t] > FACTS_PER_SESSION - ranked:
            sid, used = f"pe-{next(_SIDS)}", 0
        sids[org_id] = sid
        used += per_type[t]
    return sids


def _drive(
    book: Rulebook,
    ses: _Session,
    orgs: Sequence[tuple[str, str]],
    ranks: Callable[[Rule, Sequence[str]], Ranking[str]],
) -> None:
    """Sessions of a few organisations each (``_sessions_for``): assert the organisation facts,
    then each rank() stratum's cohort fact once the network is quiet; delete every session;
    check the fixpoint."""
    with _LOCK:
        compiled = _compile(book)
        # Only organisations that some rule applies to get a session: asserting a fact that no rule
        # matches leaves durable with a half-made state whose delete_state frees an invalid pointer
        # (an abort or segmentation fault later in the process, seen here under gdb).
        per_type = _rules_per_type(book)
        active = [(o, t) for o, t in orgs if t in per_type]
        sids = _sessions_for(book, active)
        started: set[str] = set()
        for sid in set(sids.values()):
            _SESSIONS[sid] = ses
        try:
            for org_id, org_type in active:
                sid = sids[org_id]
                fact = {"sid": sid, "t": "org", "ses": sid, "org": org_id, "otype": org_type}
                if _assert(compiled.name, fact):
                    started.add(sid)
            for rule in sorted((r for r in book.rules if r.uses_rank), key=lambda r: (r.stratum, r.id)):
                cohort = [o for o, t in active if t in rule.applies_to]
                ses.ranks[rule.id] = ranks(rule, cohort)
                for sid in dict.fromkeys(sids[o] for o in cohort):  # one cohort fact per session
                    _assert(compiled.name, {"sid": sid, "t": "cohort", "ses": sid, "rule": rule.id})
        finally:
            for sid in set(sids.values()):
                _SESSIONS.pop(sid, None)
                if sid in started:
                    _host().delete_state(compiled.name, sid)
    if ses.errors:
        raise EngineError(
            "a rule failed inside the durable backend",
            [ErrorDetail("durable", e, code=ErrorCode.ENGINE_DURABLE) for e in ses.errors],
        )
    expected = sum(per_type.get(t, 0) for _, t in orgs)
    if ses.decided != expected:
        raise EngineError(
            "the durable backend did not reach a complete fixpoint",
            [
                ErrorDetail(
                    "durable",
                    f"expected {expected} outcomes, the network produced {ses.decided}",
                    code=ErrorCode.ENGINE_DURABLE,
                )
            ],
        )

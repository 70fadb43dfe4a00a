"""The durable-rules backend: the rete network matches organisations to rules and chains outcomes.

This is the only module that touches ``durable``. The hazards it avoids (see docs/decisions):

* one private ``durable.engine.Host``, created once under a lock (the library's lazily created
  global host is not thread-safe); every call into durable holds the same lock;
* rulesets per rulebook content hash, compiled once, never a name reused (rulesets cannot be
  redefined);
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
* a ruleset's limits, measured in subprocesses (decision 020): 255 rules per organisation type
  (256 segfault, 257 fail with error 108), 64 rules reading one outcome (65 fire none of them,
  silently), 511 distinct values per tested field (512 and 513 loop for ever), 16 conditions per
  rule (17: error 304/307), 64 rules with an ``or`` of types matching one fact (65: error 303).
  So each rule is one durable rule per organisation type, never an ``or``; the rulebook is split
  first-fit into as many rulesets as budgets a little below those limits need (``_chunks``; one
  for the bundled rulebook); an outcome another ruleset reads is queued by the action and asserted
  there by the driver once durable has returned (durable is not re-entrant); a rule reading more
  outcomes than one durable rule can join is a chain of ``part`` facts;
* any other error of durable's C engine becomes an EngineError naming what the adapter was doing.

What durable decides: which rule fires for which organisation (the organisation-type pattern),
and when (a rule fires only once the outcome facts of every rule it reads are present, joined on
the organisation: forward chaining in the rete network). What a rule *means* — its condition
over exact numbers with three-valued logic — is evaluated by the shared ``decide`` function, since
durable compares numbers as doubles and has no notion of unknown. Cross-organisation ranking is
an aggregate over the whole cohort, so it runs as a stratum barrier: when the network is quiet,
the adapter posts a ``cohort`` fact that the rank rule is waiting for.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
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

_LOCK = threading.RLock()
_HOST: Any = None
_COMPILED: dict[str, _Compiled] = {}
_SESSIONS: dict[str, _Session] = {}
_SIDS = itertools.count(1)
_RULESETS = itertools.count(1)
"""Ruleset names are never reused (durable cannot redefine a ruleset), whatever ``_COMPILED`` holds."""
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
    pending: collections.deque[tuple[int, dict[str, Any]]] = attrs.field(factory=collections.deque)
    """Outcome facts for another ruleset than the one whose action produced them: (ruleset, fact)."""


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


def _action(rule: Rule, home: int, targets: tuple[int, ...]) -> Callable[[Any], None]:
    """The action of one unit of ``rule``, in ruleset ``home``. ``targets``: the rulesets with a
    rule that reads its outcome for this organisation type. The outcome becomes a fact there: in
    ``home`` through the action's own ``assert_fact``; in another ruleset queued for the driver
    (``_Session.pending``), which asserts it once this assert has returned (durable is not
    re-entrant). An outcome no rule reads is not asserted: durable would only reject it as unhandled."""

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
            for k in targets:
                fact = {"t": "outcome", "ses": c.o.ses, "org": org_id, "rule": rule.id, "status": status}
                if k == home:
                    c.assert_fact(fact)
                else:
                    ses.pending.append((k, {"sid": c.o.ses, **fact}))
        except Exception as exc:  # noqa: BLE001 - surfaced after the run, never swallowed
            _record(c, f"{rule.id}: {type(exc).__name__}: {exc}")

    run.__name__ = "rule_" + rule.id.replace(".", "_").replace("-", "_")
    return run


def _part(key: str) -> Callable[[Any], None]:
    """A link of a long join chain: its conditions hold, so it asserts the part fact the next link joins."""

    def run(c: Any) -> None:
        try:
            c.assert_fact({"t": "part", "key": key, "ses": c.o.ses, "org": c.o.org})
        except Exception as exc:  # noqa: BLE001 - surfaced after the run, never swallowed
            _record(c, f"{key}: {type(exc).__name__}: {exc}")

    run.__name__ = "part_" + key.replace(".", "_").replace("-", "_").replace("|", "_")
    return run


def _record(c: Any, error: str) -> None:
    """Record an action's failure in its session, to raise after the run (durable swallows it)."""
    try:
        _SESSIONS[c.o.ses].errors.append(error)
    except Exception:  # noqa: BLE001, S110 - the session is already gone; nothing to record into
        pass


# The limits of one durable-rules 2.0.28 ruleset, measured in subprocesses (decision 020; tests/test_durable_limits.py
# re-measures them), and the budgets the adapter keeps each ruleset within:
MAX_RULES_PER_TYPE = 250
"""Durable rules matching one organisation type in one ruleset (durable: 255; its beta list has 256
zero-terminated slots, so 256 rules read past its end — a segmentation fault — and 257 fail with
error 108, ERR_RULE_BETA_LIMIT_EXCEEDED)."""
MAX_READERS_PER_OUTCOME = 60
"""Durable rules reading one rule's outcome in one ruleset (durable: 64; with 65 the outcome fact
joins none of them — silently: no action fires and no error is raised)."""
MAX_KEYS_PER_FIELD = 500
"""Distinct values one field is tested against in one ruleset: organisation types, outcomes read,
rank() rules, partial joins (durable: 511; a hash set of 512 slots with linear probing, so 512
values make an assert loop forever and 513 make creating the ruleset loop forever)."""
MAX_CONDITIONS = 16
"""Conditions (joined facts) of one durable rule (durable: 16, a frame's message slots; 17
conditions fail every assert with error 307). A rule reading more outcomes is a chain of partial
joins, each asserting a ``part`` fact that the next one joins."""


@attrs.frozen
class _Unit:
    """One durable rule: ``rule`` for organisations of type ``otype`` (no ``|`` of types: durable
    pushes every alternative of an or onto a 64-entry stack, and 65 rules with an or of types
    matching one fact fail every assert with error 303)."""

    rule: Rule
    otype: str

    def links(self) -> list[tuple[tuple[str, ...], bool]]:
        """The links of the unit's join chain: the outcomes each reads, and whether it joins the
        cohort fact (the last link of a rank() rule). One link unless the rule reads more outcomes
        than one durable rule can join; the first link also joins the organisation fact, each later
        one the part fact of the link before it."""
        items: list[str | None] = [*self.rule.depends_on, *([None] if self.rule.uses_rank else [])]
        room = MAX_CONDITIONS - 1
        groups = [items[i : i + room] for i in range(0, len(items), room)] or [[]]
        return [(tuple(d for d in g if d is not None), None in g) for g in groups]


@attrs.define
class _Chunk:
    """The units of one ruleset, and what they add up to against the budgets."""

    units: list[_Unit] = attrs.field(factory=list)
    per_type: dict[str, int] = attrs.field(factory=dict)
    readers: dict[str, int] = attrs.field(factory=dict)
    ranked: set[str] = attrs.field(factory=set)
    parts: int = 0

    def fits(self, unit: _Unit) -> bool:
        deps = unit.rule.depends_on
        new_deps = {d for d in deps if d not in self.readers}
        return (
            self.per_type.get(unit.otype, 0) < MAX_RULES_PER_TYPE
            and (unit.otype in self.per_type or len(self.per_type) < MAX_KEYS_PER_FIELD)
            and all(self.readers.get(d, 0) < MAX_READERS_PER_OUTCOME for d in deps)
            and len(self.readers) + len(new_deps) <= MAX_KEYS_PER_FIELD
            and len(self.ranked | ({unit.rule.id} if unit.rule.uses_rank else set())) <= MAX_KEYS_PER_FIELD
            and self.parts + len(unit.links()) - 1 <= MAX_KEYS_PER_FIELD
        )

    def add(self, unit: _Unit) -> None:
        self.units.append(unit)
        self.per_type[unit.otype] = self.per_type.get(unit.otype, 0) + 1
        for d in unit.rule.depends_on:
            self.readers[d] = self.readers.get(d, 0) + 1
        if unit.rule.uses_rank:
            self.ranked.add(unit.rule.id)
        self.parts += len(unit.links()) - 1


def _chunks(book: Rulebook) -> list[_Chunk]:
    """The rulebook's units (one per rule and organisation type, in rulebook order) split first-fit
    into rulesets that each stay within every budget; one ruleset for most rulebooks."""
    chunks: list[_Chunk] = []
    for rule in book.rules:
        for otype in rule.applies_to:
            unit = _Unit(rule, otype)
            home = next((ch for ch in chunks if ch.fits(unit)), None)
            if home is None:
                home = _Chunk()
                chunks.append(home)
            home.add(unit)
    return chunks


@attrs.frozen
class _Compiled:
    names: tuple[str, ...]
    """The full names of the rulebook's rulesets (a chunk's index is its position)."""
    book: Rulebook
    org_chunks: dict[str, tuple[int, ...]]
    """Per organisation type: the rulesets with a rule for it (its organisation facts go there)."""
    rank_chunks: dict[str, tuple[int, ...]]
    """Per rank() rule: the rulesets its cohort fact goes to."""
    parts_per_type: dict[str, int]
    """Per organisation type: the partial-join facts one organisation adds to a session."""


def _compile(book: Rulebook) -> _Compiled:
    with _LOCK:
        done = _COMPILED.get(book.digest)
        if done is not None:
            return done
        m, c = _lang.m, _lang.c
        chunks = _chunks(book)
        home = {(u.rule.id, u.otype): k for k, ch in enumerate(chunks) for u in ch.units}
        readers: dict[tuple[str, str], set[int]] = {}
        for (rid, otype), k in home.items():
            for dep in book.rule(rid).depends_on:
                readers.setdefault((dep, otype), set()).add(k)
        names: list[str] = []
        definitions: dict[str, Any] = {}
        for k, chunk in enumerate(chunks):
            name = f"policy_engine_{book.digest[:20]}_{next(_RULESETS)}"
            rs = _lang.ruleset(name)
            _lang._rulesets.pop(name, None)  # keep it out of the library's global host
            with rs:
                for unit in chunk.units:
                    rule, otype = unit.rule, unit.otype
                    links = unit.links()
                    for i, (deps, cohort) in enumerate(links):
                        key = f"{rule.id}|{otype}|{i}"
                        if i == 0:
                            conditions = [c.o << ((m.t == "org") & (m.otype == otype))]
                        else:
                            conditions = [c.o << ((m.t == "part") & (m.key == f"{rule.id}|{otype}|{i - 1}"))]
                        for j, dep in enumerate(deps):
                            conditions.append(
                                getattr(c, f"d{j}")
                                << ((m.t == "outcome") & (m.rule == dep) & (m.org == c.o.org) & (m.ses == c.o.ses))
                            )
                        if i < len(links) - 1:
                            _lang.when_all(*conditions)(_part(key))
                            continue
                        if cohort:
                            conditions.append(c.k << ((m.t == "cohort") & (m.rule == rule.id) & (m.ses == c.o.ses)))
                        targets = tuple(sorted(readers.get((rule.id, otype), ())))
                        _lang.when_all(*conditions)(_action(rule, k, targets))
            full_name, definition = rs.define()
            names.append(full_name)
            definitions[full_name] = definition
        _durable_call("creating the rulesets", book.id, lambda: _host().register_rulesets(definitions))
        org_chunks: dict[str, list[int]] = {}
        rank_chunks: dict[str, list[int]] = {}
        parts: dict[str, int] = {}
        for k, chunk in enumerate(chunks):
            for unit in chunk.units:
                if k not in org_chunks.setdefault(unit.otype, []):
                    org_chunks[unit.otype].append(k)
                if unit.rule.uses_rank and k not in rank_chunks.setdefault(unit.rule.id, []):
                    rank_chunks[unit.rule.id].append(k)
                parts[unit.otype] = parts.get(unit.otype, 0) + len(unit.links()) - 1
        compiled = _Compiled(
            tuple(names),
            book,
            {t: tuple(ks) for t, ks in org_chunks.items()},
            {r: tuple(ks) for r, ks in rank_chunks.items()},
            parts,
        )
        _COMPILED[book.digest] = compiled
        return compiled


def _durable_call(doing: str, where: str, call: Callable[[], Any]) -> Any:
    """A call into durable whose failure (``durable_rules_engine.error`` and the like) becomes an
    EngineError naming what the adapter was doing, never an internal error."""
    try:
        return call()
    except (_engine.MessageNotHandledException, _engine.MessageObservedException):
        raise
    except Exception as exc:  # noqa: BLE001 - durable's C errors have no public class
        raise EngineError(
            "durable-rules failed",
            [ErrorDetail(where, f"{doing}: {type(exc).__name__}: {exc}", code=ErrorCode.ENGINE_DURABLE)],
        ) from None


def _assert(ruleset: str, fact: dict[str, Any]) -> bool:
    """Assert one fact; False when no rule matched it (durable raises MessageNotHandledException)."""
    try:
        _durable_call(
            f"asserting a {fact.get('t')} fact",
            str(fact.get("org", ruleset)),
            lambda: _host().assert_fact(ruleset, fact),
        )
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


def _sessions_for(book: Rulebook, compiled: _Compiled, active: Sequence[tuple[str, str]]) -> dict[str, str]:
    """A session id per organisation: consecutive organisations share one while the facts it
    will hold (one per organisation, one per outcome and partial join, one per rank() rule) stay
    within budget. The count is over all the rulebook's rulesets, so each one's share is within it too."""
    per_type = {t: 1 + n + compiled.parts_per_type.get(t, 0) for t, n in _rules_per_type(book).items()}
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
    """Sessions of a few organisations each (``_sessions_for``): assert the organisation facts
    into every ruleset with a rule for their type, then each rank() stratum's cohort fact once the
    network is quiet; after each assert, carry the outcomes queued for other rulesets across until
    none is left (forward chaining between rulesets); delete every session; check the fixpoint."""
    with _LOCK:
        compiled = _compile(book)
        # Only organisations that some rule applies to get a session, and a ruleset gets only facts
        # some rule of it reads: asserting a fact that no rule matches as a session's first leaves
        # durable with a half-made state whose delete_state frees an invalid pointer (an abort or
        # segmentation fault later in the process, seen here under gdb).
        per_type = _rules_per_type(book)
        active = [(o, t) for o, t in orgs if t in per_type]
        sids = _sessions_for(book, compiled, active)
        started: set[tuple[int, str]] = set()
        for sid in set(sids.values()):
            _SESSIONS[sid] = ses

        def post(k: int, fact: dict[str, Any]) -> None:
            if _assert(compiled.names[k], fact):
                started.add((k, fact["sid"]))
            while ses.pending:
                k2, fact2 = ses.pending.popleft()
                if _assert(compiled.names[k2], fact2):
                    started.add((k2, fact2["sid"]))

        try:
            for org_id, org_type in active:
                sid = sids[org_id]
                for k in compiled.org_chunks[org_type]:
                    post(k, {"sid": sid, "t": "org", "ses": sid, "org": org_id, "otype": org_type})
            for rule in sorted((r for r in book.rules if r.uses_rank), key=lambda r: (r.stratum, r.id)):
                cohort = [o for o, t in active if t in rule.applies_to]
                ses.ranks[rule.id] = ranks(rule, cohort)
                for sid in dict.fromkeys(sids[o] for o in cohort):  # one cohort fact per session
                    for k in compiled.rank_chunks[rule.id]:
                        post(k, {"sid": sid, "t": "cohort", "ses": sid, "rule": rule.id})
        finally:
            for sid in set(sids.values()):
                _SESSIONS.pop(sid, None)
            for k, sid in sorted(started):
                _durable_call(
                    "deleting a session", sid, functools.partial(_host().delete_state, compiled.names[k], sid)
                )
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

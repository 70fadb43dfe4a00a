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
  as EngineError (durable would otherwise swallow them); the sessions of such a run are not
  deleted: a session left with a join that never completed makes ``delete_state`` abort or
  segfault (measured), so durable keeps its memory, once per failed evaluation;
* a ruleset's limits, measured in subprocesses (decision 020): 255 rules matching one pattern
  (256 segfault, 257 fail with error 108), 64 rules reading one fact (65 fire none of them,
  silently), 511 distinct values per tested field (512 and 513 loop for ever), 16 conditions per
  rule (17: error 304/307), 64 rules with an ``or`` of types matching one fact (65: error 303).
  So each group (below) is one durable rule of one organisation type, never an ``or``; the groups
  are split first-fit into as many rulesets as budgets a little below those limits need
  (``_chunks``; one for the bundled rulebook); an outcome fact another ruleset reads is queued by
  the action and asserted there by the driver once durable has returned (durable is not
  re-entrant); a group reading more outcome facts than one durable rule can join is a chain of
  ``part`` facts;
* any other error of durable's C engine becomes an EngineError naming what the adapter was doing.

What durable decides: when each group of rules fires for which organisation (decision 036). A
group is the rules of one organisation type at one dependency level and stratum, rank() rules
apart: one durable rule, whose one action decides every rule of the group (as a direct
durable-rules program lets one action decide several statuses). The group of rules that read
nothing matches the organisation fact; a group that reads outcomes fires once the outcome facts
of every group it reads are present, joined on the organisation: forward chaining in the rete
network. A group's outcome fact is asserted only where a later group joins it. What a rule
*means* — its condition over exact numbers with three-valued logic — is decided in Python (the
compiled closures for statuses, the shared ``decide`` function for full outcomes), since durable
compares numbers as doubles and has no notion of unknown. Cross-organisation ranking is an
aggregate over the whole cohort, so it runs as a stratum barrier: when the network is quiet, the
adapter ranks each cohort of the next stratum and posts a ``cohort`` fact per session, and each
ranking group's rule fires on it, once per session, deciding the group for the session's
organisations of its type.
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
from .decide import cohort_ranks, decide, dependency_levels
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
    fast: dict[str, tuple[tuple[str, Callable[[Ctx], Status], bool], ...]] | None = None
    """Statuses only (``run_statuses``): per group, its rules' compiled closures, and whether each ranks."""
    ctxs: dict[str, Ctx] = attrs.field(factory=dict)
    members: dict[str, dict[str, list[str]]] = attrs.field(factory=dict)
    """Per session id, per organisation type: its organisations (what a ranking group decides)."""
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


def _action(group: _Group, home: int, targets: tuple[int, ...]) -> Callable[[Any], None]:
    """The action of ``group``'s durable rule, in ruleset ``home``: it decides every rule of the
    group (the compiled closures, or ``decide`` for full outcomes) for the organisation the rule
    matched, or, for a ranking group, for each organisation of the group's type in the session
    whose cohort fact it matched; then it asserts the group's outcome fact for each where a later
    group reads it. ``targets``: the rulesets with a group that joins it. In ``home`` the action's
    own ``assert_fact`` asserts it; for another ruleset it is queued for the driver
    (``_Session.pending``), which asserts it once this assert has returned (durable is not
    re-entrant). A group no later group joins asserts nothing: durable would only reject the fact
    as unhandled."""
    key, rules, otype, ranked = group.key, group.rules, group.otype, group.ranked
    here = home in targets
    others = tuple(k for k in targets if k != home)

    def run(c: Any) -> None:
        try:
            o = c.o
            sid = o.ses
            ses = _SESSIONS[sid]
            for org_id in ses.members[sid].get(otype, ()) if ranked else (o.org,):
                if ses.fast is not None:
                    ctx = ses.ctxs[org_id]
                    out = ctx.outcomes
                    for rid, fn, ranks in ses.fast[key]:
                        out[rid] = ranked_status(fn, ctx, ses.ranks[rid].rank(org_id)) if ranks else fn(ctx)
                else:
                    view, statuses = ses.views[org_id], ses.statuses[org_id]
                    for rule in rules:
                        ranking = ses.ranks[rule.id] if rule.uses_rank else None
                        outcome = decide(rule, view, ses.as_of, ses.book, statuses, ranking=ranking)
                        statuses[rule.id] = outcome.status
                        ses.outcomes.append(outcome)
                ses.decided += len(rules)
                if targets:
                    fact = {"sid": sid, "t": "outcome", "ses": sid, "org": org_id, "g": key}
                    for k in others:
                        ses.pending.append((k, dict(fact)))
                    if here:
                        c.assert_fact(fact)
        except Exception as exc:  # noqa: BLE001 - surfaced after the run, never swallowed
            _record(c, f"{key}: {type(exc).__name__}: {exc}")

    run.__name__ = "group_" + key.replace(".", "_").replace("-", "_").replace("|", "_")
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
"""Durable rules matching the organisation facts of one type in one ruleset (durable: 255 rules on
one pattern; its beta list has 256 zero-terminated slots, so 256 rules read past its end — a
segmentation fault — and 257 fail with error 108, ERR_RULE_BETA_LIMIT_EXCEEDED). Since decision
036 only a type's level-0 group matches them, so a rulebook's size no longer comes near it; a
rule matching an outcome fact counts against ``MAX_READERS_PER_OUTCOME``, which is lower."""
MAX_READERS_PER_OUTCOME = 60
"""Durable rules reading one group's outcome fact (or one stratum's cohort fact) in one ruleset
(durable: 64; with 65 the fact joins none of them — silently: no action fires and no error is raised)."""
MAX_KEYS_PER_FIELD = 500
"""Distinct values one field is tested against in one ruleset: organisation types, group outcomes
read, strata of cohort facts, partial joins (durable: 511; a hash set of 512 slots with linear
probing, so 512 values make an assert loop forever and 513 make creating the ruleset loop forever)."""
MAX_CONDITIONS = 16
"""Conditions (joined facts) of one durable rule (durable: 16, a frame's message slots; 17
conditions fail every assert with error 307). A group reading more outcome facts is a chain of
partial joins, each asserting a ``part`` fact that the next one joins."""


@attrs.frozen
class _Group:
    """The rules of one organisation type with the same dependency level and stratum, rank() rules
    apart from the others: one durable rule, whose one action decides them all.

    No rule of a group reads another of it (they are at one level), so the action decides them in
    any order. A group whose rules read nothing matches the organisation facts of its type; one
    whose rules read outcomes matches the outcome fact of the first group it reads and joins, on
    the organisation, those of the others: it fires once every group it reads has fired for that
    organisation (forward chaining, per organisation, in durable's network). A ranking group's
    rule matches its stratum's cohort fact, once per session, and decides the group for each
    organisation of its type in the session: what its rules read is of earlier strata, all
    decided when the cohort fact is posted (the network is quiet then: it is the stratum
    barrier), so a join per organisation would add nothing. The stratum in the group keeps a
    group whose rules rank later from holding back a rule that an earlier ranking reads. One
    organisation type per group, never an ``or`` of types: durable pushes every alternative of an
    or onto a 64-entry stack, and 65 rules with an or of types matching one fact fail every
    assert with error 303."""

    otype: str
    level: int
    stratum: int
    ranked: bool
    rules: tuple[Rule, ...]
    reads: tuple[str, ...]
    """The keys of the groups holding a rule that one of this group's rules reads (in first-read order)."""

    @property
    def key(self) -> str:
        """The group's name in the facts: ``type|level|stratum|r`` (``r`` for a ranking group, else ``-``)."""
        return f"{self.otype}|{self.level}|{self.stratum}|{'r' if self.ranked else '-'}"

    @property
    def joins(self) -> tuple[str, ...]:
        """The outcome facts the group's rule joins: those of ``reads``, but none for a ranking group."""
        return () if self.ranked else self.reads

    @property
    def on_orgs(self) -> bool:
        """Whether the group's rule matches organisation facts: it ranks not and reads nothing (one
        that reads matches the outcome fact of the first group it reads, and joins the others)."""
        return not self.ranked and not self.reads

    def links(self) -> list[tuple[tuple[str, ...], bool]]:
        """The links of the group's join chain: the outcome facts each joins, and whether it is the
        cohort fact's rule (a ranking group: one link, the cohort fact alone). One link unless the
        group joins more outcome facts than one durable rule can: the first link joins up to
        ``MAX_CONDITIONS`` of them (or matches the organisation fact, when it reads none), each
        later one the part fact of the link before it and up to ``MAX_CONDITIONS - 1`` more."""
        if self.ranked:
            return [((), True)]
        reads, first = self.reads, MAX_CONDITIONS
        room = MAX_CONDITIONS - 1
        return [(reads[:first], False)] + [(reads[i : i + room], False) for i in range(first, len(reads), room)]


def _groups(book: Rulebook) -> list[_Group]:
    """The rulebook's groups, in the order of their first rule in the rulebook (a dependency order)."""
    levels = dependency_levels(book)
    where: dict[tuple[str, str], tuple[str, int, int, bool]] = {}
    members: dict[tuple[str, int, int, bool], list[Rule]] = {}
    reads: dict[tuple[str, int, int, bool], dict[str, None]] = {}
    for rule in book.rules:
        for otype in rule.applies_to:
            g = (otype, levels[rule.id], rule.stratum, rule.uses_rank)
            where[rule.id, otype] = g
            members.setdefault(g, []).append(rule)
            seen = reads.setdefault(g, {})
            for dep in rule.depends_on:
                d = where[dep, otype]  # the loader asks that a rule read only rules of all its types
                seen[f"{d[0]}|{d[1]}|{d[2]}|{'r' if d[3] else '-'}"] = None
    return [_Group(*g, tuple(rules), tuple(reads[g])) for g, rules in members.items()]


def _cohort_key(stratum: int) -> str:
    """The ``readers`` key of a stratum's cohort fact (counted with the outcome facts' keys)."""
    return f"cohort|{stratum}"


@attrs.define
class _Chunk:
    """The groups of one ruleset, and what they add up to against the budgets."""

    groups: list[_Group] = attrs.field(factory=list)
    per_type: dict[str, int] = attrs.field(factory=dict)
    """Durable rules matching organisation facts, per type (``_Group.on_orgs``)."""
    readers: dict[str, int] = attrs.field(factory=dict)
    """Durable rules joining each group's outcome fact, or (``_cohort_key``) a stratum's cohort fact."""
    strata: set[int] = attrs.field(factory=set)
    parts: int = 0

    @staticmethod
    def _read(group: _Group) -> tuple[str, ...]:
        return (_cohort_key(group.stratum),) if group.ranked else group.joins

    def fits(self, group: _Group) -> bool:
        outcome_keys = sum(1 for r in self.readers if not r.startswith("cohort|"))
        new = sum(1 for r in group.joins if r not in self.readers)
        return (
            (
                not group.on_orgs
                or (
                    self.per_type.get(group.otype, 0) < MAX_RULES_PER_TYPE
                    and (group.otype in self.per_type or len(self.per_type) < MAX_KEYS_PER_FIELD)
                )
            )
            and all(self.readers.get(r, 0) < MAX_READERS_PER_OUTCOME for r in self._read(group))
            and outcome_keys + new <= MAX_KEYS_PER_FIELD
            and len(self.strata | ({group.stratum} if group.ranked else set())) <= MAX_KEYS_PER_FIELD
            and self.parts + len(group.links()) - 1 <= MAX_KEYS_PER_FIELD
        )

    def add(self, group: _Group) -> None:
        self.groups.append(group)
        if group.ranked:
            self.strata.add(group.stratum)
        if group.on_orgs:
            self.per_type[group.otype] = self.per_type.get(group.otype, 0) + 1
        for r in self._read(group):
            self.readers[r] = self.readers.get(r, 0) + 1
        self.parts += len(group.links()) - 1


def _chunks(book: Rulebook) -> list[_Chunk]:
    """The rulebook's groups split first-fit into rulesets that each stay within every budget; one
    ruleset for most rulebooks."""
    chunks: list[_Chunk] = []
    for group in _groups(book):
        home = next((ch for ch in chunks if ch.fits(group)), None)
        if home is None:
            home = _Chunk()
            chunks.append(home)
        home.add(group)
    return chunks


@attrs.frozen
class _Compiled:
    names: tuple[str, ...]
    """The full names of the rulebook's rulesets (a chunk's index is its position)."""
    book: Rulebook
    groups: tuple[_Group, ...]
    org_chunks: dict[str, tuple[int, ...]]
    """Per organisation type: the rulesets with a group on its organisation facts (they go there)."""
    cohort_chunks: dict[int, tuple[tuple[int, frozenset[str]], ...]]
    """Per stratum with a ranking group: the rulesets holding one, each with the types of those
    groups (a session's cohort fact goes to a ruleset only if the session has one of them)."""
    facts_per_type: dict[str, int]
    """Per organisation type: the facts one organisation adds to a session, over every ruleset
    (organisation, outcome and partial-join facts)."""


def _compile(book: Rulebook) -> _Compiled:
    with _LOCK:
        done = _COMPILED.get(book.digest)
        if done is not None:
            return done
        m, c = _lang.m, _lang.c
        chunks = _chunks(book)
        readers: dict[str, set[int]] = {}
        for k, chunk in enumerate(chunks):
            for group in chunk.groups:
                for r in group.joins:
                    readers.setdefault(r, set()).add(k)
        names: list[str] = []
        definitions: dict[str, Any] = {}
        for k, chunk in enumerate(chunks):
            name = f"policy_engine_{book.digest[:20]}_{next(_RULESETS)}"
            rs = _lang.ruleset(name)
            _lang._rulesets.pop(name, None)  # keep it out of the library's global host
            with rs:
                for group in chunk.groups:
                    targets = tuple(sorted(readers.get(group.key, ())))
                    if group.ranked:
                        cohort = c.o << ((m.t == "cohort") & (m.stratum == group.stratum))
                        _lang.when_all(cohort)(_action(group, k, targets))
                        continue
                    links = group.links()
                    for i, (joins, _) in enumerate(links):
                        key = f"{group.key}|{i}"
                        if i > 0:
                            conditions = [c.o << ((m.t == "part") & (m.key == f"{group.key}|{i - 1}"))]
                        elif joins:
                            conditions = [c.o << ((m.t == "outcome") & (m.g == joins[0]))]
                            joins = joins[1:]
                        else:
                            conditions = [c.o << ((m.t == "org") & (m.otype == group.otype))]
                        # Joined on the organisation, not the session: facts of two sessions never meet.
                        for j, read in enumerate(joins):
                            conditions.append(
                                getattr(c, f"d{j}") << ((m.t == "outcome") & (m.g == read) & (m.org == c.o.org))
                            )
                        if i < len(links) - 1:
                            _lang.when_all(*conditions)(_part(key))
                        else:
                            _lang.when_all(*conditions)(_action(group, k, targets))
            full_name, definition = rs.define()
            names.append(full_name)
            definitions[full_name] = definition
        _durable_call("creating the rulesets", book.id, lambda: _host().register_rulesets(definitions))
        org_chunks: dict[str, list[int]] = {}
        cohort_chunks: dict[int, dict[int, set[str]]] = {}
        facts: dict[str, int] = {}
        for k, chunk in enumerate(chunks):
            for group in chunk.groups:
                t = group.otype
                if group.ranked:
                    cohort_chunks.setdefault(group.stratum, {}).setdefault(k, set()).add(t)
                elif group.on_orgs and k not in org_chunks.setdefault(t, []):
                    org_chunks[t].append(k)
                    facts[t] = facts.get(t, 0) + 1  # its organisation fact there
                facts[t] = facts.get(t, 0) + len(readers.get(group.key, ())) + len(group.links()) - 1
        compiled = _Compiled(
            tuple(names),
            book,
            tuple(g for chunk in chunks for g in chunk.groups),
            {t: tuple(ks) for t, ks in org_chunks.items()},
            {s: tuple((k, frozenset(ts)) for k, ts in sorted(by.items())) for s, by in sorted(cohort_chunks.items())},
            facts,
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
    with _LOCK:
        groups = _compile(book).groups
    fast = {g.key: tuple((r.id, program.status[r.id], r.uses_rank) for r in g.rules) for g in groups}
    ses = _Session(book, as_of, {}, {o: c.outcomes for o, c in ctxs.items()}, fast=fast, ctxs=ctxs)

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


FACTS_PER_SESSION = 500
"""Organisations share a session up to this many facts (durable's 32-bit duplicate-message hash
gives false MessageObservedException near 50,000 facts in one session: stay far below). The
count is exact since decision 036 (only facts some rule joins are asserted); it was 2,000 when the
count included every outcome, of which a session held about a quarter: 500 keeps the sessions as
full as they were, and the chance of a false duplicate, which grows with the square of a
session's facts, where it was."""


def _sessions_for(compiled: _Compiled, active: Sequence[tuple[str, str]]) -> dict[str, str]:
    """A session id per organisation: consecutive organisations share one while the facts it
    will hold (``_Compiled.facts_per_type`` per organisation, a cohort fact per stratum and
    ruleset) stay within budget. The count is over all the rulebook's rulesets, so each one's
    share is within it too."""
    cohort = sum(len(by) for by in compiled.cohort_chunks.values())
    per_type = compiled.facts_per_type
    sids: dict[str, str] = {}
    sid, used = "", FACTS_PER_SESSION
    for org_id, t in active:
        if used + per_type[t] > FACTS_PER_SESSION - cohort:
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
    into every ruleset with a group for their type, then, stratum by stratum once the network is
    quiet, rank each of the stratum's cohorts and post its cohort fact; after each assert, carry
    the outcomes queued for other rulesets across until none is left (forward chaining between
    rulesets); delete every session; check the fixpoint."""
    with _LOCK:
        compiled = _compile(book)
        # Only organisations that some rule applies to get a session, and a ruleset gets only facts
        # some rule of it reads: asserting a fact that no rule matches as a session's first leaves
        # durable with a half-made state whose delete_state frees an invalid pointer (an abort or
        # segmentation fault later in the process, seen here under gdb).
        per_type = _rules_per_type(book)
        active = [(o, t) for o, t in orgs if t in per_type]
        sids = _sessions_for(compiled, active)
        for org_id, t in active:
            ses.members.setdefault(sids[org_id], {}).setdefault(t, []).append(org_id)
        started: set[tuple[int, str]] = set()
        finished = False
        for sid in ses.members:
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
                for k in compiled.org_chunks.get(org_type, ()):
                    post(k, {"sid": sid, "t": "org", "ses": sid, "org": org_id, "otype": org_type})
            for stratum, where in compiled.cohort_chunks.items():
                for rule in sorted((r for r in book.rules if r.uses_rank and r.stratum == stratum), key=lambda r: r.id):
                    ses.ranks[rule.id] = ranks(rule, [o for o, t in active if t in rule.applies_to])
                for sid, types in ses.members.items():  # one cohort fact per session and ruleset
                    for k, ranked_types in where:
                        if not ranked_types.isdisjoint(types):
                            post(k, {"sid": sid, "t": "cohort", "ses": sid, "stratum": stratum})
            finished = not ses.errors and ses.decided == sum(per_type[t] for _, t in active)
        finally:
            for sid in ses.members:
                _SESSIONS.pop(sid, None)
            # A session left with joins that never completed (an action failed, or an assert did)
            # is not deleted: durable's delete_state then often aborts or segfaults (measured with
            # an action failing under tiny budgets: 12 runs in 12 crashed). Its memory is left to
            # durable, once per failed evaluation; its id is never used again.
            for k, sid in sorted(started) if finished else ():
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

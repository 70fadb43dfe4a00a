"""Plain durable-rules programs for the UEC slice's 15 acute-trust decisions (benchmarks only).

What a developer would write by hand with durable-rules for the same answers, the arithmetic in
plain Python with exact helpers (durable compares numbers as doubles and has no "unknown", so it
stays in Python, as in the adapter). Two programs, both checked against the reference before
they are timed:

* ``Program`` (one rule per decision): one session per state, one fact per trust, one durable
  rule per decision, outcome facts for the decisions that read other decisions (joined on the
  trust), and a cohort fact posted once every trust is in, for rank();
* ``GroupedProgram`` (one action decides several statuses, issue 19): a durable rule per
  dependency level whose action decides every status of that level for one trust at once: the
  twelve decisions that read nothing on the trust fact, the one that reads ``ae-4h-78`` on the
  level-0 fact, the rank() decision per session on a cohort fact (the ranking of the whole state
  made once in plain Python), and the incentive joining the trust's level-0 and rank facts.
  Sessions of ``TRUSTS_PER_SESSION`` trusts keep clear of durable's 32-bit duplicate-fact hash.

The private Host with no background threads is the only safe way to drive durable here
(see docs/decisions/003-durable-adapter.md), so both use one.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

# The floor's helpers, the same exact three-valued arithmetic (benchmarks/ is on sys.path where
# these programs run: bench_uec_slice.py and bench_durable.py).
from bench_uec_slice import (
    DEADLINE,
    M_FY23,
    M_FY24,
    M_MAR24,
    M_MAR25,
    _and,
    _counts,
    _ge,
    _judge,
    _lower,
    _undated,
    _values,
)
from durable import engine, lang

import policy_engine as pe

_IDS = itertools.count()


class _Host(engine.Host):  # type: ignore[misc]
    def _run(self) -> None:  # no timer threads (they crash the process; see the adapter)
        return None


class _Trust:
    """What the actions read about one trust in one state."""

    def __init__(self, org: pe.Organisation, as_of: dt.date) -> None:
        self.m = org.metrics
        self.f: dict[str, Any] = {}
        for fact in org.facts:
            if fact.date <= as_of and (fact.name not in self.f or fact.date > self.f[fact.name].date):
                self.f[fact.name] = fact
        svc = org.services
        self.has1 = None if svc is None else "type1_ae" in svc
        self.any_ae = None if svc is None else bool(svc & {"type1_ae", "type2_ae", "type3_ae"})
        self.judged = as_of > DEADLINE
        self.ok23, self.ok24 = as_of > dt.date(2024, 3, 31), as_of > DEADLINE


def _reduce(t: _Trust, metric: str) -> str:
    return _judge(t.has1, t.judged, _lower(t.m.get(metric), t.ok24), "met", "not_met")


def _ae_4h(t: _Trust) -> str:
    c = _counts(t.m.get("ae_4h_all"), M_MAR25) if t.ok24 else None
    return _judge(t.any_ae, t.judged, None if c is None else 100 * c[0] >= 78 * c[1], "met", "not_met")


def _beds(t: _Trust) -> str:
    beds, plan = (_values(t.m.get("g_and_a_beds"), M_FY24) if t.ok24 else None), t.f.get("g_and_a_beds_plan_2023_24")
    return _judge(True, t.judged, None if beds is None or plan is None else min(beds) >= plan.value, "met", "not_met")


def _beyond(t: _Trust) -> str:
    now = _values(t.m.get("patients_beyond_drd"), M_FY24) if t.ok24 else None
    then = _values(t.m.get("patients_beyond_drd"), M_FY23) if t.ok23 else None
    return _judge(True, t.judged, None if now is None or then is None else sum(now) < sum(then), "met", "not_met")


def _over_80(t: _Trust) -> str:
    c = _counts(t.m.get("ae_4h_type1"), M_MAR25) if t.ok24 else None
    return _judge(t.has1, t.judged, None if c is None else 100 * c[0] > 80 * c[1], "eligible", "not_eligible")


def _declared(name: str, short: str) -> Callable[[_Trust], str]:
    """A declared fact (the state is after 31 March 2025): met, ``short`` if declared false, unknown if absent."""
    return lambda t: "unknown" if (x := t.f.get(name)) is None else ("met" if x.value is True else short)


DIRECT: dict[str, Callable[[_Trust], str]] = {
    "uec.acute-frailty-10h-7d": lambda t: _undated(
        t.has1, _and(_ge(t.f.get("acute_frailty_hours_per_day"), 10), _ge(t.f.get("acute_frailty_days_per_week"), 7))
    ),
    "uec.sdec-12h-7d": lambda t: _undated(
        t.has1, _and(_ge(t.f.get("sdec_hours_per_day"), 12), _ge(t.f.get("sdec_days_per_week"), 7))
    ),
    "uec.ae-12h-reduce": lambda t: _reduce(t, "ae_12h_type1"),
    "uec.ae-4h-78": _ae_4h,
    "uec.ae-time-in-department-reduce": lambda t: _reduce(t, "ae_time_in_dept_type1"),
    "uec.ambulance-handover-reduce": lambda t: _reduce(t, "ambulance_handover_time"),
    "uec.discharge-delay-length-reduce": lambda t: _judge(
        True, t.judged, _lower(t.m.get("drd_delay_days"), t.ok24), "met", "not_met"
    ),
    "uec.g-and-a-beds-maintained": _beds,
    "uec.patients-beyond-drd-reduce": _beyond,
    "uec.key-metrics-recorded": _declared("uec_key_metrics_recorded", "not_met"),  # standing
    "uec.pews-implemented": _declared("pews_implemented", "overdue"),  # within 2024/25, judged after
    "uec.type1-ae-over-80": _over_80,
}


class Program:
    """The ruleset, defined once; ``statuses(state)`` runs one session per state."""

    def __init__(self) -> None:
        self.host = _Host()
        self.sessions: dict[str, dict[str, Any]] = {}
        m, c = lang.m, lang.c
        name = f"raw_uec_{next(_IDS)}"
        rs = lang.ruleset(name)
        lang._rulesets.pop(name, None)
        with rs:
            for rid, fn in DIRECT.items():
                lang.when_all(m.t == "org")(self._direct(rid, fn))
            lang.when_all((m.t == "out") & (m.rule == "uec.ae-4h-78"))(self._missed)
            lang.when_all(m.t == "cohort")(self._rank)
            lang.when_all(
                c.a << ((m.t == "out") & (m.rule == "uec.type1-ae-over-80")),
                c.b << ((m.t == "out") & (m.rule == "uec.type1-ae-greatest-improvement") & (m.org == c.a.org)),
            )(self._incentive)
        full, definition = rs.define()
        self.host.register_rulesets({full: definition})
        self.ruleset = full

    def _emit(self, c: Any, ses: str, org: str, rid: str, status: str) -> None:
        self.sessions[ses]["out"][org][rid] = status
        if rid in ("uec.ae-4h-78", "uec.type1-ae-over-80", "uec.type1-ae-greatest-improvement"):
            c.assert_fact({"t": "out", "ses": ses, "org": org, "rule": rid, "status": status})

    def _direct(self, rid: str, fn: Callable[[_Trust], str]) -> Callable[[Any], None]:
        def action(c: Any) -> None:
            ses, org = c.m.ses, c.m.org
            self._emit(c, ses, org, rid, fn(self.sessions[ses]["trusts"][org]))

        action.__name__ = "r_" + rid.replace(".", "_").replace("-", "_")
        return action

    def _missed(self, c: Any) -> None:
        a = c.m.status
        status = "breached" if a == "not_met" else ("unknown" if a == "unknown" else "not_breached")
        self.sessions[c.m.ses]["out"][c.m.org]["uec.ae-4h-78-missed"] = status

    def _rank(self, c: Any) -> None:
        ses = self.sessions[c.m.ses]
        improvements: dict[str, Fraction] = {}
        for org, t in ses["trusts"].items():
            if t.has1 and t.ok23 and t.ok24:
                now, then = _counts(t.m.get("ae_4h_type1"), M_MAR25), _counts(t.m.get("ae_4h_type1"), M_MAR24)
                if now is not None and then is not None:
                    improvements[org] = Fraction(100 * now[0], now[1]) - Fraction(100 * then[0], then[1])
        best = max(improvements.values(), default=None)
        for org, t in ses["trusts"].items():
            top = None if org not in improvements else improvements[org] == best
            status = _judge(t.has1, t.judged, top, "eligible", "not_eligible")
            self._emit(c, c.m.ses, org, "uec.type1-ae-greatest-improvement", status)

    def _incentive(self, c: Any) -> None:
        ses, org = c.a.ses, c.a.org
        t = self.sessions[ses]["trusts"][org]
        a, g = c.a.status, c.b.status
        either = True if "eligible" in (a, g) else (None if "unknown" in (a, g) else False)
        self.sessions[ses]["out"][org]["uec.type1-ae-incentive"] = _judge(
            t.has1, t.judged, either, "eligible", "not_eligible"
        )

    def statuses(self, state: pe.State) -> dict[str, dict[str, str]]:
        as_of = state.as_of
        assert as_of is not None
        ses = f"s{next(_IDS)}"
        trusts = {o.id: _Trust(o, as_of) for o in state.organisations if o.type == "acute_trust"}
        out: dict[str, dict[str, str]] = {o.id: {} for o in state.organisations}
        self.sessions[ses] = {"trusts": trusts, "out": out}
        try:
            for org in trusts:
                self.host.assert_fact(self.ruleset, {"t": "org", "ses": ses, "org": org, "sid": ses})
            self.host.assert_fact(self.ruleset, {"t": "cohort", "ses": ses, "sid": ses})
        finally:
            self.host.delete_state(self.ruleset, ses)
            del self.sessions[ses]
        return out


TRUSTS_PER_SESSION = 500
"""Trusts per session of ``GroupedProgram`` (three facts each, and a cohort fact): durable's 32-bit
duplicate-fact hash gives false duplicates near 50,000 facts in one session."""


def _improvement(t: _Trust) -> Fraction | None:
    """The rank() argument of ``uec.type1-ae-greatest-improvement`` (None: not ranked)."""
    if not (t.has1 and t.ok23 and t.ok24):
        return None
    now, then = _counts(t.m.get("ae_4h_type1"), M_MAR25), _counts(t.m.get("ae_4h_type1"), M_MAR24)
    if now is None or then is None:
        return None
    return Fraction(100 * now[0], now[1]) - Fraction(100 * then[0], then[1])


class GroupedProgram:
    """One durable rule per dependency level, whose action decides every status of that level for
    one trust (the cohort's per session); ``statuses(state)`` runs sessions of
    ``TRUSTS_PER_SESSION`` trusts."""

    def __init__(self) -> None:
        self.host = _Host()
        self.sessions: dict[str, dict[str, Any]] = {}
        m, c = lang.m, lang.c
        name = f"raw_uec_grouped_{next(_IDS)}"
        rs = lang.ruleset(name)
        lang._rulesets.pop(name, None)
        with rs:
            lang.when_all(m.t == "org")(self._level0)
            lang.when_all(m.t == "l0")(self._level1)
            lang.when_all(m.t == "cohort")(self._rank)
            lang.when_all(
                c.a << (m.t == "l0"),
                c.b << ((m.t == "rank") & (m.org == c.a.org)),
            )(self._incentive)
        full, definition = rs.define()
        self.host.register_rulesets({full: definition})
        self.ruleset = full

    def _level0(self, c: Any) -> None:
        """The twelve decisions that read no other decision, for one trust; the level-0 fact
        carries the two statuses later levels read."""
        ses, org = c.m.ses, c.m.org
        session = self.sessions[ses]
        t = session["trusts"][org]
        out = session["out"][org]
        for rid, fn in DIRECT.items():
            out[rid] = fn(t)
        c.assert_fact(
            {"t": "l0", "ses": ses, "org": org, "a4h": out["uec.ae-4h-78"], "o80": out["uec.type1-ae-over-80"]}
        )

    def _level1(self, c: Any) -> None:
        a = c.m.a4h
        status = "breached" if a == "not_met" else ("unknown" if a == "unknown" else "not_breached")
        self.sessions[c.m.ses]["out"][c.m.org]["uec.ae-4h-78-missed"] = status

    def _rank(self, c: Any) -> None:
        """The rank() decision for every trust of the session, against the state's best improvement."""
        ses = c.m.ses
        session = self.sessions[ses]
        improvements, best = session["improvements"], session["best"]
        for org, t in session["trusts"].items():
            top = None if org not in improvements else improvements[org] == best
            status = _judge(t.has1, t.judged, top, "eligible", "not_eligible")
            session["out"][org]["uec.type1-ae-greatest-improvement"] = status
            c.assert_fact({"t": "rank", "ses": ses, "org": org, "status": status})

    def _incentive(self, c: Any) -> None:
        ses, org = c.a.ses, c.a.org
        session = self.sessions[ses]
        t = session["trusts"][org]
        a, g = c.a.o80, c.b.status
        either = True if "eligible" in (a, g) else (None if "unknown" in (a, g) else False)
        session["out"][org]["uec.type1-ae-incentive"] = _judge(t.has1, t.judged, either, "eligible", "not_eligible")

    def statuses(self, state: pe.State) -> dict[str, dict[str, str]]:
        as_of = state.as_of
        assert as_of is not None
        trusts = {o.id: _Trust(o, as_of) for o in state.organisations if o.type == "acute_trust"}
        out: dict[str, dict[str, str]] = {o.id: {} for o in state.organisations}
        improvements = {org: x for org, t in trusts.items() if (x := _improvement(t)) is not None}
        best = max(improvements.values(), default=None)
        ids = list(trusts)
        for i in range(0, len(ids), TRUSTS_PER_SESSION):
            ses = f"g{next(_IDS)}"
            chunk = {org: trusts[org] for org in ids[i : i + TRUSTS_PER_SESSION]}
            self.sessions[ses] = {"trusts": chunk, "out": out, "improvements": improvements, "best": best}
            try:
                for org in chunk:
                    self.host.assert_fact(self.ruleset, {"t": "org", "ses": ses, "org": org, "sid": ses})
                self.host.assert_fact(self.ruleset, {"t": "cohort", "ses": ses, "sid": ses})
            finally:
                self.host.delete_state(self.ruleset, ses)
                del self.sessions[ses]
        return out

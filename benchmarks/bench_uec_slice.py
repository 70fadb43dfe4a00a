"""The UEC slice against its floor (run on demand): ``python benchmarks/bench_uec_slice.py [TRUSTS]``.

The slice is the rulebook cut down to its urgent and emergency care file (29 rules, 15 of them
for acute trusts). The state is TRUSTS acute trusts (default 50) with every UEC metric and fact.
Measured in the same run, per state (all trusts), p50 over repeated evaluations:

* **floor**: ``floor_statuses`` below, a hand-written plain-Python function making the same 15
  decisions per trust (exact integer arithmetic, three-valued, deadlines, the rank() cohort): the
  fastest honest code for the same answers. Its answers are checked against the reference first.
* **compiled**: ``policy_engine.statuses`` (the compiled backend; statuses only).
* **native** and **durable**: ``policy_engine.evaluate`` (full outcomes: evidence, explanations).
* **raw durable**: ``raw_durable_statuses``, a plain durable-rules program for the same 15
  decisions, one session per state (see ``benchmarks/raw_durable.py``).
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import policy_engine as pe

ROOT = Path(__file__).resolve().parent.parent
FY23 = [f"2023-{m:02d}" for m in range(4, 13)] + [f"2024-{m:02d}" for m in range(1, 4)]
FY24 = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]


def uec_book(tmp: Path) -> pe.Rulebook:
    src = ROOT / "policies" / "nhs-2024-25"
    for name in ("rulebook.yaml", "urgent-emergency-care.yaml"):
        shutil.copy(src / name, tmp / name)
    shutil.copytree(src / "sources", tmp / "sources")
    return pe.load_rulebook(tmp)


def trust(i: int) -> dict[str, Any]:
    """An acute trust with every UEC metric and fact; values vary with i (ties included)."""
    a = 7000 + (i * 37) % 1500

    def counts(months: list[str], num: int, den: int) -> list[dict[str, Any]]:
        return [{"period": m, "numerator": num + k % 3, "denominator": den} for k, m in enumerate(months)]

    def values(months: list[str], v: int) -> list[dict[str, Any]]:
        return [{"period": m, "value": v + k % 4} for k, m in enumerate(months)]

    return {
        "id": f"R{i:04d}",
        "type": "acute_trust",
        "services": ["type1_ae"] if i % 7 else ["type3_ae"],
        "metrics": {
            "ae_4h_all": counts(["2025-03"], a, 10000),
            "ae_4h_type1": counts(["2024-03", "2025-03"], a - 500 + (i % 5) * 40, 9000),
            "ae_12h_type1": counts(FY23, 300 + i % 40, 9000) + counts(FY24, 290 + i % 50, 9000),
            "ae_time_in_dept_type1": counts(FY23, 2_000_000 + i, 9000) + counts(FY24, 1_990_000 + 3 * i, 9000),
            "ambulance_handover_time": counts(FY23, 5_000_000, 2000) + counts(FY24, 4_900_000 + 1000 * i, 2000),
            "drd_delay_days": counts(FY23, 9000, 3000) + counts(FY24, 8800 + i, 3000),
            "patients_beyond_drd": values(FY23, 80) + values(FY24, 78 + i % 5),
            "g_and_a_beds": values(FY24, 600 + i % 11),
        },
        "facts": [
            {"name": "acute_frailty_hours_per_day", "value": 10 + i % 3 - 1, "date": "2024-04-01"},
            {"name": "acute_frailty_days_per_week", "value": 7, "date": "2024-04-01"},
            {"name": "sdec_hours_per_day", "value": 12, "date": "2024-04-01"},
            {"name": "sdec_days_per_week", "value": 7 - i % 2, "date": "2024-04-01"},
            {"name": "pews_implemented", "value": i % 4 != 0, "date": "2024-09-01"},
            {"name": "uec_key_metrics_recorded", "value": True, "date": "2024-05-01"},
            {"name": "g_and_a_beds_plan_2023_24", "value": 605, "date": "2023-04-01"},
        ],
    }


# --------------------------------------------------------------------------- the floor

DEADLINE = dt.date(2025, 3, 31)
M_FY23 = tuple(int(x[:4]) * 12 + int(x[5:]) - 1 for x in FY23)
M_FY24 = tuple(int(x[:4]) * 12 + int(x[5:]) - 1 for x in FY24)
M_MAR24, M_MAR25 = (2024 * 12 + 2,), (2025 * 12 + 2,)


def _counts(series: Any, months: tuple[int, ...]) -> tuple[int, int] | None:
    if series is None:
        return None
    num = den = 0
    for k in months:
        o = series.get(k)
        if o is None:
            return None
        num += o.numerator
        den += o.denominator
    return (num, den) if den else None


def _values(series: Any, months: tuple[int, ...]) -> list[Fraction] | None:
    if series is None:
        return None
    out = []
    for k in months:
        o = series.get(k)
        if o is None:
            return None
        out.append(o.value)
    return out


def _lower(series: Any, ok: bool) -> bool | None:
    """This year's rate < last year's, exactly (None: unknown)."""
    if not ok:
        return None
    a, b = _counts(series, M_FY24), _counts(series, M_FY23)
    return None if a is None or b is None else a[0] * b[1] < b[0] * a[1]


def _judge(guard: bool | None, judged: bool, v: bool | None, pos: str, neg: str) -> str:
    if guard is None:
        return "unknown"
    if not guard:
        return "not_applicable"
    if not judged:
        return "due"
    return "unknown" if v is None else (pos if v else neg)


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _ge(fact: Any, n: int) -> bool | None:
    return None if fact is None else fact.value >= n


def _undated(guard: bool | None, v: bool | None) -> str:
    if guard is None:
        return "unknown"
    if not guard:
        return "not_applicable"
    return "unknown" if v is None else ("met" if v else "not_met")


def floor_statuses(state: pe.State) -> dict[str, dict[str, str]]:
    """The 15 acute-trust UEC decisions written by hand: exact integer arithmetic, three-valued,
    deadlines and month completeness, the rank() cohort. The fastest honest code we could write."""
    as_of = state.as_of
    assert as_of is not None
    judged = as_of > DEADLINE
    # A month counts once it has ended before as_of; a period once its last month has.
    ok23, ok24 = as_of > dt.date(2024, 3, 31), as_of > dt.date(2025, 3, 31)
    ok_mar24, ok_mar25 = ok23, ok24
    out: dict[str, dict[str, str]] = {}
    improvements: dict[str, Fraction] = {}
    type1: dict[str, bool | None] = {}
    for org in state.organisations:
        if org.type != "acute_trust":
            out[org.id] = {}
            continue
        m = org.metrics
        f: dict[str, Any] = {}
        for fact in org.facts:
            if fact.date <= as_of:
                seen = f.get(fact.name)
                if seen is None or fact.date > seen.date:
                    f[fact.name] = fact
        svc = org.services
        has1 = None if svc is None else "type1_ae" in svc
        any_ae = None if svc is None else bool(svc & {"type1_ae", "type2_ae", "type3_ae"})
        type1[org.id] = has1
        s: dict[str, str] = {}
        s["uec.acute-frailty-10h-7d"] = _undated(
            has1, _and(_ge(f.get("acute_frailty_hours_per_day"), 10), _ge(f.get("acute_frailty_days_per_week"), 7))
        )
        s["uec.sdec-12h-7d"] = _undated(
            has1, _and(_ge(f.get("sdec_hours_per_day"), 12), _ge(f.get("sdec_days_per_week"), 7))
        )
        s["uec.ae-12h-reduce"] = _judge(has1, judged, _lower(m.get("ae_12h_type1"), ok24), "met", "not_met")
        c = _counts(m.get("ae_4h_all"), M_MAR25) if ok_mar25 else None
        s["uec.ae-4h-78"] = _judge(any_ae, judged, None if c is None else 100 * c[0] >= 78 * c[1], "met", "not_met")
        a = s["uec.ae-4h-78"]
        s["uec.ae-4h-78-missed"] = "breached" if a == "not_met" else ("unknown" if a == "unknown" else "not_breached")
        s["uec.ae-time-in-department-reduce"] = _judge(
            has1, judged, _lower(m.get("ae_time_in_dept_type1"), ok24), "met", "not_met"
        )
        s["uec.ambulance-handover-reduce"] = _judge(
            has1, judged, _lower(m.get("ambulance_handover_time"), ok24), "met", "not_met"
        )
        s["uec.discharge-delay-length-reduce"] = _judge(
            True, judged, _lower(m.get("drd_delay_days"), ok24), "met", "not_met"
        )
        beds = _values(m.get("g_and_a_beds"), M_FY24) if ok24 else None
        plan = f.get("g_and_a_beds_plan_2023_24")
        s["uec.g-and-a-beds-maintained"] = _judge(
            True, judged, None if beds is None or plan is None else min(beds) >= plan.value, "met", "not_met"
        )
        now = _values(m.get("patients_beyond_drd"), M_FY24) if ok24 else None
        then = _values(m.get("patients_beyond_drd"), M_FY23) if ok23 else None
        fewer = None if now is None or then is None else sum(now) < sum(then)  # 12 months each: means compare as sums
        s["uec.patients-beyond-drd-reduce"] = _judge(True, judged, fewer, "met", "not_met")
        # key metrics: a standing requirement (judged on every date); PEWS: to be done within 2024/25
        # (as_of is after 31 March 2025, so judged): both declared facts
        for rid, name, short in (
            ("uec.key-metrics-recorded", "uec_key_metrics_recorded", "not_met"),
            ("uec.pews-implemented", "pews_implemented", "overdue"),
        ):
            x = f.get(name)
            s[rid] = "unknown" if x is None else ("met" if x.value is True else short)
        t1 = _counts(m.get("ae_4h_type1"), M_MAR25) if ok_mar25 else None
        s["uec.type1-ae-over-80"] = _judge(
            has1, judged, None if t1 is None else 100 * t1[0] > 80 * t1[1], "eligible", "not_eligible"
        )
        if has1:
            t0 = _counts(m.get("ae_4h_type1"), M_MAR24) if ok_mar24 else None
            if t1 is not None and t0 is not None:
                improvements[org.id] = Fraction(100 * t1[0], t1[1]) - Fraction(100 * t0[0], t0[1])
        out[org.id] = s
    best = max(improvements.values(), default=None)
    for org_id, s in out.items():
        if not s:
            continue
        has1 = type1[org_id]
        top = None if org_id not in improvements else improvements[org_id] == best
        g = _judge(has1, judged, top, "eligible", "not_eligible")
        s["uec.type1-ae-greatest-improvement"] = g
        a = s["uec.type1-ae-over-80"]
        either = True if "eligible" in (a, g) else (None if "unknown" in (a, g) else False)
        s["uec.type1-ae-incentive"] = _judge(has1, judged, either, "eligible", "not_eligible")
    return out


# --------------------------------------------------------------------------- measuring


def p50(fn: Callable[[], Any], seconds: float = 2.0) -> float:
    times: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as tmp:
        book = uec_book(Path(tmp))
    national = [{"scope": "national", "types": ["acute_trust"], "source": "generated: every trust of the benchmark"}]
    doc = {"as_of": "2025-04-20", "cohorts": national, "organisations": [trust(i) for i in range(n)]}
    state = pe.state_from_dict(doc, book)
    reference: dict[str, dict[str, str]] = {org.id: {} for org in state.organisations}
    for o in pe.evaluate(state, book, backend="native").outcomes:
        reference[o.org_id][o.rule_id] = o.status
    assert floor_statuses(state) == reference, "the floor must make the reference's decisions"
    assert pe.statuses(state, book) == reference
    print(
        f"UEC slice: {len(book.rules)} rules, {n} acute trusts per state; policy-engine {pe.__version__}; "
        f"Python {platform.python_version()}; {dt.date.today()}"
    )
    floor = p50(lambda: floor_statuses(state))
    rows = [("floor (hand-written)", floor), ("compiled (pe.statuses)", p50(lambda: pe.statuses(state, book)))]
    for backend in pe.available_backends():
        rows.append(
            (f"{backend} (pe.evaluate, full outcomes)", p50(lambda b=backend: pe.evaluate(state, book, backend=b)))
        )
    if "durable" in pe.available_backends():
        assert pe.statuses(state, book, backend="durable") == reference
        rows.append(("durable (pe.statuses, statuses only)", p50(lambda: pe.statuses(state, book, backend="durable"))))
    if "durable" in pe.available_backends() and (Path(__file__).parent / "raw_durable.py").exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import raw_durable

        raw = raw_durable.Program()
        assert raw.statuses(state) == reference, "the raw durable program must make the reference's decisions"
        rows.append(("raw durable-rules program", p50(lambda: raw.statuses(state))))
    per_org = {name: t / n for name, t in rows}
    for name, t in rows:
        per = per_org[name] * 1e6
        print(f"  {name:40s} p50 {t * 1e3:8.2f} ms per state  {per:8.1f} us per trust  x{t / floor:6.2f} of the floor")
    if "raw durable-rules program" in dict(rows):
        raw_t = dict(rows)["raw durable-rules program"]
        for name in ("durable (pe.evaluate, full outcomes)", "durable (pe.statuses, statuses only)"):
            print(f"  {name} / raw durable program: x{dict(rows)[name] / raw_t:.2f}")


if __name__ == "__main__":
    main()

"""The UEC slice against its floor (run on demand):
``python benchmarks/bench_uec_slice.py [ORGANISATIONS] [--durable-trusts N]``.

The slice is the rulebook cut down to its urgent and emergency care file: 29 rules, 15 for acute
trusts, 5 for ambulance trusts, 10 for ICBs and 1 for community providers. Two states:

* **the floor state**: ORGANISATIONS organisations (default 5,000: 80% acute trusts, 8% ICBs, 8%
  ambulance trusts, 4% community providers), each with the full monthly series of every metric
  its rules read (every month of 2023/24 and 2024/25, as a state built from the monthly files
  would have), every fact, and a national cohort of acute trusts. Some organisations have missing
  months (unknown), undeclared services, missing or superseded facts, a zero denominator in one
  month, non-integral values, and values exactly on the thresholds and ties (equal years, equal
  greatest improvements). Measured on it, p50 over repeated evaluations of the whole state:

  * **floor**: ``floor_statuses`` below, plain Python for exactly these 31 decisions (integers and
    cross-multiplication, no ``Fraction`` unless a value is not integral, per-organisation dict
    lookups, three-valued, the rank() cohort with uncertain members): what a competent engineer
    would write for these answers. Checked equal to the reference evaluator on the whole state
    before anything is timed.
  * **compiled**: ``policy_engine.statuses`` (the compiled backend; statuses only), checked equal too.
  * **native**: ``policy_engine.evaluate`` (the reference: full outcomes, evidence, explanations).

* **the durable state**: N acute trusts (default 50) with short series (the benchmark's first
  state), for the durable rows: ``policy_engine.evaluate``/``statuses`` on the durable backend
  against ``raw_durable_statuses``, a plain durable-rules program for the 15 acute decisions, one
  session per state (see ``benchmarks/raw_durable.py``), with the floor and compiled beside them.
"""

from __future__ import annotations

import datetime as dt
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import policy_engine as pe

ROOT = Path(__file__).resolve().parent.parent
FY23 = [f"2023-{m:02d}" for m in range(4, 13)] + [f"2024-{m:02d}" for m in range(1, 4)]
FY24 = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
MONTHS = FY23 + FY24
AS_OF = "2025-04-20"


def uec_book(tmp: Path) -> pe.Rulebook:
    src = ROOT / "policies" / "nhs-2024-25"
    for name in ("rulebook.yaml", "urgent-emergency-care.yaml"):
        shutil.copy(src / name, tmp / name)
    shutil.copytree(src / "sources", tmp / "sources")
    return pe.load_rulebook(tmp)


# --------------------------------------------------------------------------- the durable state


def trust(i: int) -> dict[str, Any]:
    """An acute trust with every UEC metric and fact, short series; values vary with i (ties included)."""
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


# --------------------------------------------------------------------------- the floor state


def _count_series(
    rnd: random.Random, den: tuple[int, int], share: tuple[float, float], tie: bool = False
) -> list[dict[str, Any]]:
    """Monthly counts over both years; ``tie``: 2024/25 repeats 2023/24 month for month (equal years)."""
    first = []
    for m in FY23:
        d = rnd.randint(*den)
        first.append({"period": m, "numerator": round(d * rnd.uniform(*share)), "denominator": d})
    if tie:
        return first + [{**o, "period": m} for o, m in zip(first, FY24, strict=True)]
    second = []
    for m in FY24:
        d = rnd.randint(*den)
        second.append({"period": m, "numerator": round(d * rnd.uniform(*share)), "denominator": d})
    return first + second


def _value_series(rnd: random.Random, low: int, high: int, tie: bool = False, halves: bool = False) -> list[Any]:
    """Monthly values over both years (``halves``: some are not integers)."""

    def value() -> int | Decimal:
        v = rnd.randint(low, high)
        return Decimal(v) + Decimal("0.5") if halves and rnd.random() < 0.5 else v

    first = [{"period": m, "value": value()} for m in FY23]
    if tie:
        return first + [{**o, "period": m} for o, m in zip(first, FY24, strict=True)]
    return first + [{"period": m, "value": value()} for m in FY24]


def _set(series: list[dict[str, Any]], period: str, **fields: Any) -> None:
    for o in series:
        if o["period"] == period:
            o.update(fields)


def _drop(series: list[dict[str, Any]], period: str) -> None:
    series[:] = [o for o in series if o["period"] != period]


def _fact(name: str, value: Any, date: str = "2024-06-01") -> dict[str, Any]:
    return {"name": name, "value": value, "date": date}


def _acute(i: int, rnd: random.Random) -> dict[str, Any]:
    m: dict[str, list[dict[str, Any]]] = {
        "ae_4h_all": _count_series(rnd, (6000, 14000), (0.70, 0.86)),
        "ae_4h_type1": _count_series(rnd, (4000, 9000), (0.55, 0.85)),
        "ae_12h_type1": _count_series(rnd, (4000, 9000), (0.01, 0.06), tie=i % 11 == 0),
        "ae_time_in_dept_type1": _count_series(rnd, (4000, 9000), (180, 400), tie=i % 11 == 1),
        "ambulance_handover_time": _count_series(rnd, (1000, 3000), (900, 2400), tie=i % 11 == 2),
        "drd_delay_days": _count_series(rnd, (200, 800), (2, 9), tie=i % 11 == 3),
        "patients_beyond_drd": _value_series(rnd, 20, 200, tie=i % 11 == 4, halves=i % 31 == 0),
    }
    plan = rnd.randint(300, 1200)
    m["g_and_a_beds"] = [{"period": p, "value": plan + rnd.randint(-1, 30)} for p in MONTHS]
    if i % 9 == 0:  # exactly on the thresholds: 78% in March 2025, beds at the plan
        _set(m["ae_4h_all"], "2025-03", numerator=7800, denominator=10000)
        _set(m["g_and_a_beds"], "2024-10", value=plan)
    if i % 10 == 0:  # exactly 80% (not over 80%)
        _set(m["ae_4h_type1"], "2025-03", numerator=4000, denominator=5000)
    if i % 1000 == 7:  # the greatest improvement, shared (50% -> 90%)
        _set(m["ae_4h_type1"], "2024-03", numerator=3000, denominator=6000)
        _set(m["ae_4h_type1"], "2025-03", numerator=5400, denominator=6000)
    if i % 13 == 5:  # a missing month
        _drop(m["ae_12h_type1"], FY24[i // 13 % 12])
        _drop(m["patients_beyond_drd"], FY23[i // 13 % 12])
    if i % 17 == 4:
        _drop(m["g_and_a_beds"], "2025-03")
    if i % 83 == 6:  # no March 2024: the improvement is unknown (an uncertain cohort member)
        _drop(m["ae_4h_type1"], "2024-03")
    if i % 19 == 8:
        del m["ambulance_handover_time"]
    services: list[str] | None = ["type1_ae"]
    if i % 7 == 0:
        services = ["type3_ae"]
    elif i % 97 == 3:
        services = None  # undeclared: every has_service() is unknown
    elif i % 101 == 5:
        services = []
    facts = [
        _fact("acute_frailty_hours_per_day", 8, "2023-06-01"),  # superseded
        _fact("acute_frailty_hours_per_day", 9 + i % 3),
        _fact("acute_frailty_days_per_week", 7 - (i % 6 == 0)),
        _fact("sdec_hours_per_day", 12 - (i % 5 == 0)),
        _fact("sdec_days_per_week", 7),
        _fact("pews_implemented", i % 4 != 0, "2024-09-01"),
        _fact("g_and_a_beds_plan_2023_24", plan, "2023-04-01"),
        _fact("uec_key_metrics_recorded", i % 8 != 1),
        _fact("sdec_days_per_week", 5, "2025-06-01"),  # after as_of: not yet known
    ]
    if i % 23 == 2:
        facts = [f for f in facts if f["name"] not in ("uec_key_metrics_recorded", "sdec_hours_per_day")]
    if i % 29 == 3:
        facts = [f for f in facts if f["name"] != "g_and_a_beds_plan_2023_24"]
    doc: dict[str, Any] = {"id": f"RA{i:05d}", "type": "acute_trust", "metrics": m, "facts": facts}
    if services is not None:
        doc["services"] = services
    return doc


def _ambulance(i: int, rnd: random.Random) -> dict[str, Any]:
    cat2 = []
    for p in FY24:
        d = rnd.randint(20000, 40000)
        mean = 1800 if i % 9 == 0 else rnd.randint(1500, 2200)  # exactly 30 minutes: met
        cat2.append({"period": p, "numerator": mean * d + (rnd.randint(-3, 3) if i % 9 else 0), "denominator": d})
    hours = [{"period": p, "value": rnd.randint(40000, 46000)} for p in MONTHS]
    if i % 3 == 0:  # every 2024/25 month exactly at the Q4 2023/24 mean (met), or just below it
        q4 = [40000, 41000, 42000] if i % 2 else [40000, 40000, 40001]
        for o, v in zip(hours[9:12], q4, strict=True):
            o["value"] = v
        for o in hours[12:]:
            o["value"] = 41000 if i % 2 else 40000
    if i % 13 == 5:
        _drop(cat2, "2024-11")
    facts = [_fact("uec_key_metrics_recorded", i % 5 != 0), _fact("ambulance_culture_review_implemented", i % 3 != 1)]
    if i % 7 == 2:
        facts = facts[:1]
    return {
        "id": f"RB{i:05d}",
        "type": "ambulance_trust",
        "metrics": {"cat2_response": cat2, "ambulance_vehicle_hours": hours},
        "facts": facts,
    }


def _icb(i: int, rnd: random.Random) -> dict[str, Any]:
    vw = []
    for p in MONTHS:
        d = rnd.randint(200, 600)
        vw.append({"period": p, "numerator": round(d * rnd.uniform(0.805, 0.97)), "denominator": d})
    if i % 9 == 0:  # one month exactly 80%: not "above 80%"
        _set(vw, "2024-08", numerator=400, denominator=500)
    if i % 29 == 1:  # a month with no capacity: unknown
        _set(vw, "2024-12", numerator=0, denominator=0)
    if i % 7 == 3:  # one month below 80%
        _set(vw, "2025-01", numerator=390, denominator=500)
    plan = rnd.randint(2000, 6000)
    beds = [{"period": p, "value": plan + rnd.randint(-20, 60)} for p in MONTHS]
    ucr = _value_series(rnd, 800, 2500, tie=i % 11 == 0)
    care = _value_series(rnd, 300, 900, tie=i % 11 == 1, halves=i % 2 == 0)
    if i % 13 == 5:
        _drop(ucr, "2023-07")
        _drop(beds, "2024-05")
    names = [
        "system_coordination_centre_in_place",
        "d2a_model_implemented",
        "discharge_fund_reviewed",
        "uec_high_impact_initiatives_progressed",
        "hiu_services_expanded",
        "care_transfer_hubs_improved",
    ]
    facts = [_fact(n, (i + k) % 4 != 0) for k, n in enumerate(names) if (i + k) % 9 != 0]
    facts.append(_fact("g_and_a_beds_plan_2023_24", plan, "2023-04-01"))
    return {
        "id": f"QA{i:05d}",
        "type": "icb",
        "metrics": {
            "virtual_ward_occupancy": vw,
            "g_and_a_beds": beds,
            "ucr_referrals": ucr,
            "intermediate_care_capacity": care,
        },
        "facts": facts,
    }


def _community(i: int, rnd: random.Random) -> dict[str, Any]:
    los = _count_series(rnd, (100, 400), (15, 40), tie=i % 11 == 0)
    if i % 13 == 5:
        _drop(los, "2024-02")
    return {"id": f"RC{i:05d}", "type": "community_provider", "metrics": {"community_bed_los": los}}


def organisation(i: int) -> dict[str, Any]:
    """Organisation i of the floor state: of every fiftieth, 40 acute trusts, 4 ICBs, 4 ambulance
    trusts and 2 community providers."""
    rnd = random.Random(i)
    kind = i % 50
    if kind < 4:
        return _icb(i, rnd)
    if kind < 8:
        return _ambulance(i, rnd)
    if kind < 10:
        return _community(i, rnd)
    return _acute(i, rnd)


def floor_state_document(n: int) -> dict[str, Any]:
    """The floor state: n organisations and the national cohort of acute trusts, at 20 April 2025."""
    national = [{"scope": "national", "types": ["acute_trust"], "source": "generated: every trust of the benchmark"}]
    return {"as_of": AS_OF, "cohorts": national, "organisations": [organisation(i) for i in range(n)]}


# --------------------------------------------------------------------------- the floor

DEADLINE = dt.date(2025, 3, 31)
IN_FORCE = dt.date(2024, 4, 1)
RANGE_LIMIT = 256  # a rank range wider than this is not enumerated (unknown), as the rulebook's engine says


def _index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


M_FY23 = tuple(_index(x) for x in FY23)
M_FY24 = tuple(_index(x) for x in FY24)
M_MAR24, M_MAR25 = (_index("2024-03"),), (_index("2025-03"),)
M_Q4_23 = tuple(_index(x) for x in ("2024-01", "2024-02", "2024-03"))


def _counts(series: Any, months: tuple[int, ...]) -> tuple[int, int] | None:
    """Summed (numerator, denominator) over the months; None if one is missing or the sum is 0."""
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


def _vsum(series: Any, months: tuple[int, ...]) -> int | Fraction | None:
    """The sum of the monthly values (None if a month is missing): an int while they are integers."""
    if series is None:
        return None
    total: int | Fraction = 0
    for k in months:
        o = series.get(k)
        if o is None:
            return None
        v = o.value
        total += v.numerator if v.denominator == 1 else v
    return total


def _vmin(series: Any, months: tuple[int, ...]) -> int | Fraction | None:
    """The lowest monthly value (None if a month is missing): an int while they are integers."""
    if series is None:
        return None
    low: int | Fraction | None = None
    for k in months:
        o = series.get(k)
        if o is None:
            return None
        v = o.value
        x = v.numerator if v.denominator == 1 else v
        if low is None or x < low:
            low = x
    return low


def _every_month_over(series: Any, months: tuple[int, ...], pct: int) -> bool | None:
    """Every month's share strictly over pct% (None if a month is missing or has a zero denominator)."""
    if series is None:
        return None
    ok = True
    for k in months:
        o = series.get(k)
        if o is None or not o.denominator:
            return None
        if 100 * o.numerator <= pct * o.denominator:
            ok = False
    return ok


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


def _standing(fact: Any, judged: bool) -> str:
    """A standing obligation on a declared fact: met on a true declaration, due before it is in force."""
    if fact is not None and fact.value is True:
        return "met"
    if not judged:
        return "due"
    return "unknown" if fact is None else "not_met"


def _within_year(fact: Any, judged: bool) -> str:
    """An obligation to be done within the year: met on a true declaration, due until the deadline."""
    if fact is not None and fact.value is True:
        return "met"
    if not judged:
        return "due"
    return "unknown" if fact is None else "overdue"


def _missed(target: str) -> str:
    return "breached" if target == "not_met" else ("unknown" if target == "unknown" else "not_breached")


def floor_statuses(state: pe.State) -> dict[str, dict[str, str]]:
    """The slice's 31 decisions written by hand: integers and cross-multiplication, three-valued,
    deadlines and month completeness, the rank() cohort with uncertain members."""
    as_of = state.as_of
    assert as_of is not None
    judged = as_of > DEADLINE  # targets and within-year obligations: judged after 31 March 2025
    in_force = as_of >= IN_FORCE  # standing obligations
    # A month counts once it has ended before as_of; a period once its last month has.
    ok23, ok24 = as_of > dt.date(2024, 3, 31), as_of > DEADLINE
    out: dict[str, dict[str, str]] = {}
    improvements: dict[str, Fraction] = {}
    uncertain = 0
    ranked: list[tuple[str, bool | None, dict[str, str]]] = []
    for org in state.organisations:
        m = org.metrics
        f: dict[str, Any] = {}
        for fact in org.facts:
            if fact.date <= as_of:
                seen = f.get(fact.name)
                if seen is None or fact.date > seen.date:
                    f[fact.name] = fact
        s: dict[str, str] = {}
        out[org.id] = s
        kind = org.type
        if kind == "acute_trust":
            svc = org.services
            has1 = None if svc is None else "type1_ae" in svc
            any_ae = None if svc is None else bool(svc & {"type1_ae", "type2_ae", "type3_ae"})
            s["uec.acute-frailty-10h-7d"] = _undated(
                has1,
                _and(_ge(f.get("acute_frailty_hours_per_day"), 10), _ge(f.get("acute_frailty_days_per_week"), 7)),
            )
            s["uec.sdec-12h-7d"] = _undated(
                has1, _and(_ge(f.get("sdec_hours_per_day"), 12), _ge(f.get("sdec_days_per_week"), 7))
            )
            s["uec.ae-12h-reduce"] = _judge(has1, judged, _lower(m.get("ae_12h_type1"), ok24), "met", "not_met")
            c = _counts(m.get("ae_4h_all"), M_MAR25) if ok24 else None
            a = _judge(any_ae, judged, None if c is None else 100 * c[0] >= 78 * c[1], "met", "not_met")
            s["uec.ae-4h-78"] = a
            s["uec.ae-4h-78-missed"] = _missed(a)
            s["uec.ae-time-in-department-reduce"] = _judge(
                has1, judged, _lower(m.get("ae_time_in_dept_type1"), ok24), "met", "not_met"
            )
            s["uec.ambulance-handover-reduce"] = _judge(
                has1, judged, _lower(m.get("ambulance_handover_time"), ok24), "met", "not_met"
            )
            s["uec.discharge-delay-length-reduce"] = _judge(
                True, judged, _lower(m.get("drd_delay_days"), ok24), "met", "not_met"
            )
            low = _vmin(m.get("g_and_a_beds"), M_FY24) if ok24 else None
            plan = f.get("g_and_a_beds_plan_2023_24")
            s["uec.g-and-a-beds-maintained"] = _judge(
                True, judged, None if low is None or plan is None else low >= plan.value, "met", "not_met"
            )
            now = _vsum(m.get("patients_beyond_drd"), M_FY24) if ok24 else None
            then = _vsum(m.get("patients_beyond_drd"), M_FY23) if ok23 else None
            fewer = None if now is None or then is None else now < then  # 12 months each: means compare as sums
            s["uec.patients-beyond-drd-reduce"] = _judge(True, judged, fewer, "met", "not_met")
            s["uec.key-metrics-recorded"] = _standing(f.get("uec_key_metrics_recorded"), in_force)
            s["uec.pews-implemented"] = _within_year(f.get("pews_implemented"), judged)
            t1 = _counts(m.get("ae_4h_type1"), M_MAR25) if ok24 else None
            s["uec.type1-ae-over-80"] = _judge(
                has1, judged, None if t1 is None else 100 * t1[0] > 80 * t1[1], "eligible", "not_eligible"
            )
            if has1 is None:
                uncertain += 1  # membership unknown
            elif has1:
                t0 = _counts(m.get("ae_4h_type1"), M_MAR24) if ok23 else None
                if t1 is None or t0 is None:
                    uncertain += 1  # value unknown
                else:
                    improvements[org.id] = Fraction(100 * t1[0], t1[1]) - Fraction(100 * t0[0], t0[1])
            ranked.append((org.id, has1, s))
        elif kind == "icb":
            ok = _every_month_over(m.get("virtual_ward_occupancy"), M_FY24, 80) if ok24 else None
            s["uec.virtual-ward-utilisation-80"] = _judge(True, judged, ok, "met", "not_met")
            low = _vmin(m.get("g_and_a_beds"), M_FY24) if ok24 else None
            plan = f.get("g_and_a_beds_plan_2023_24")
            s["uec.g-and-a-beds-maintained"] = _judge(
                True, judged, None if low is None or plan is None else low >= plan.value, "met", "not_met"
            )
            now = _vsum(m.get("ucr_referrals"), M_FY24) if ok24 else None
            then = _vsum(m.get("ucr_referrals"), M_FY23) if ok23 else None
            s["uec.ucr-referrals-increase"] = _judge(
                True, judged, None if now is None or then is None else now > then, "met", "not_met"
            )
            now = _vsum(m.get("intermediate_care_capacity"), M_FY24) if ok24 else None
            then = _vsum(m.get("intermediate_care_capacity"), M_FY23) if ok23 else None
            s["uec.intermediate-care-capacity-expand"] = _judge(  # 12 months each: means compare as sums
                True, judged, None if now is None or then is None else now > then, "met", "not_met"
            )
            s["uec.system-coordination-centre"] = _standing(f.get("system_coordination_centre_in_place"), in_force)
            s["uec.high-impact-initiatives"] = _standing(f.get("uec_high_impact_initiatives_progressed"), in_force)
            s["uec.discharge-to-assess"] = _within_year(f.get("d2a_model_implemented"), judged)
            s["uec.discharge-fund-joint-review"] = _within_year(f.get("discharge_fund_reviewed"), judged)
            s["uec.high-intensity-use-services"] = _within_year(f.get("hiu_services_expanded"), judged)
            s["uec.care-transfer-hubs"] = _within_year(f.get("care_transfer_hubs_improved"), judged)
        elif kind == "ambulance_trust":
            c = _counts(m.get("cat2_response"), M_FY24) if ok24 else None
            a = _judge(True, judged, None if c is None else c[0] <= 1800 * c[1], "met", "not_met")
            s["uec.cat2-mean-30min"] = a
            s["uec.cat2-mean-30min-missed"] = _missed(a)
            s["uec.key-metrics-recorded"] = _standing(f.get("uec_key_metrics_recorded"), in_force)
            low = _vmin(m.get("ambulance_vehicle_hours"), M_FY24) if ok24 else None
            q4 = _vsum(m.get("ambulance_vehicle_hours"), M_Q4_23) if ok23 else None
            s["uec.ambulance-capacity-maintained"] = _judge(  # min >= mean of 3 months: 3 * min >= sum
                True, judged, None if low is None or q4 is None else 3 * low >= q4, "met", "not_met"
            )
            s["uec.ambulance-culture-review"] = _standing(f.get("ambulance_culture_review_implemented"), in_force)
        elif kind == "community_provider":
            s["uec.community-bed-los-reduce"] = _judge(
                True, judged, _lower(m.get("community_bed_los"), ok24), "met", "not_met"
            )
    # rank 1 = the greatest improvement (ties share it); each uncertain member may rank above anyone
    best = max(improvements.values(), default=None)
    for org_id, has1, s in ranked:
        v = improvements.get(org_id)
        if v is None:
            g = _judge(has1, judged, None, "eligible", "not_eligible")
        elif uncertain > RANGE_LIMIT:
            g = "unknown"
        elif not judged:
            g = "due"
        elif v != best:
            g = "not_eligible"  # at least one member ranks above it, whatever the uncertain ones are
        else:
            g = "eligible" if not uncertain else "unknown"  # rank 1, or 1 + up to `uncertain`
        s["uec.type1-ae-greatest-improvement"] = g
        a = s["uec.type1-ae-over-80"]
        either = True if "eligible" in (a, g) else (None if "unknown" in (a, g) else False)
        s["uec.type1-ae-incentive"] = _judge(has1, judged, either, "eligible", "not_eligible")
    return out


# --------------------------------------------------------------------------- measuring


def p50(fn: Callable[[], Any], seconds: float = 2.0, runs: int = 5) -> float:
    """The median time of ``fn``, over at least ``runs`` runs and ``seconds``."""
    times: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(times) < runs:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def reference_statuses(state: pe.State, book: pe.Rulebook) -> dict[str, dict[str, str]]:
    """The reference evaluator's statuses (``pe.evaluate``, native backend)."""
    out: dict[str, dict[str, str]] = {org.id: {} for org in state.organisations}
    for o in pe.evaluate(state, book, backend="native").outcomes:
        out[o.org_id][o.rule_id] = o.status
    return out


def _show(rows: list[tuple[str, float]], floor: float, n: int, what: str) -> None:
    for name, t in rows:
        per = t / n * 1e6
        print(f"  {name:40s} p50 {t * 1e3:9.2f} ms per state {per:8.1f} us per {what}  x{t / floor:6.2f} of the floor")


def _floor_rows(book: pe.Rulebook, n: int) -> None:
    t0 = time.perf_counter()
    state = pe.state_from_dict(floor_state_document(n), book)
    built = time.perf_counter() - t0
    reference = reference_statuses(state, book)
    assert floor_statuses(state) == reference, "the floor must make the reference's decisions"
    assert pe.statuses(state, book) == reference, "the compiled backend must make the reference's decisions"
    types: dict[str, int] = {}
    for org in state.organisations:
        types[org.type] = types.get(org.type, 0) + 1
    series = sum(len(s) for org in state.organisations for s in org.metrics.values())
    decided = sum(len(s) for s in reference.values())
    tally: dict[str, int] = {}
    for s in reference.values():
        for status in s.values():
            tally[status] = tally.get(status, 0) + 1
    print(
        f"UEC slice, floor state: {len(book.rules)} rules, {n:,} organisations "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(types.items()))}), {series:,} monthly observations, "
        f"{decided:,} statuses ({', '.join(f'{k} {v:,}' for k, v in sorted(tally.items()))}); "
        f"state built in {built:.1f} s; policy-engine {pe.__version__}; Python {platform.python_version()}; "
        f"{dt.date.today()}"
    )
    floor = p50(lambda: floor_statuses(state))
    rows = [("floor (hand-written)", floor), ("compiled (pe.statuses)", p50(lambda: pe.statuses(state, book)))]
    rows.append(
        ("native (pe.evaluate, full outcomes)", p50(lambda: pe.evaluate(state, book, backend="native"), runs=3))
    )
    if "durable" in pe.available_backends():
        rows.append(
            ("durable (pe.evaluate, full outcomes)", p50(lambda: pe.evaluate(state, book, backend="durable"), runs=3))
        )
    _show(rows, floor, n, "org")


def _durable_rows(book: pe.Rulebook, n: int) -> None:
    national = [{"scope": "national", "types": ["acute_trust"], "source": "generated: every trust of the benchmark"}]
    doc = {"as_of": AS_OF, "cohorts": national, "organisations": [trust(i) for i in range(n)]}
    state = pe.state_from_dict(doc, book)
    reference = reference_statuses(state, book)
    assert floor_statuses(state) == reference, "the floor must make the reference's decisions"
    assert pe.statuses(state, book) == reference
    print(f"UEC slice, durable state: {n} acute trusts, short series (the first state of this benchmark)")
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
    _show(rows, floor, n, "trust")
    if "raw durable-rules program" in dict(rows):
        raw_t = dict(rows)["raw durable-rules program"]
        for name in ("durable (pe.evaluate, full outcomes)", "durable (pe.statuses, statuses only)"):
            print(f"  {name} / raw durable program: x{dict(rows)[name] / raw_t:.2f}")


def main() -> None:
    args = sys.argv[1:]
    trusts = 50
    if "--durable-trusts" in args:
        k = args.index("--durable-trusts")
        trusts = int(args[k + 1])
        del args[k : k + 2]
    n = int(args[0]) if args else 5000
    with tempfile.TemporaryDirectory() as tmp:
        book = uec_book(Path(tmp))
    _floor_rows(book, n)
    if trusts:
        _durable_rows(book, trusts)


if __name__ == "__main__":
    main()

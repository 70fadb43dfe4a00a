"""On-demand benchmark (not part of the test suite): ``python benchmarks/bench_evaluate.py [N]``.

Prints, from one run on this machine:
* single evaluations of one acute trust (UEC data) on the full rulebook: p50/p99, native and durable;
* the same decision (A&E 4-hour >= 78% in March 2025) by a hand-written Python function — the
  floor — and the native backend's ratio to it;
* RSS and per-evaluation time over N consecutive durable evaluations (flat = no leak).
"""

from __future__ import annotations

import datetime as dt
import gc
import platform
import resource
import statistics
import sys
import time
from fractions import Fraction
from typing import Any

import policy_engine as pe

STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def trust(i: int) -> dict[str, Any]:
    months = [f"2024-{m:02d}" for m in range(4, 13)] + [f"2025-{m:02d}" for m in range(1, 4)]
    num = 7000 + (i * 37) % 1500
    return {
        "id": f"R{i:04d}",
        "type": "acute_trust",
        "services": ["type1_ae"],
        "metrics": {
            "ae_4h_all": [{"period": m, "numerator": num, "denominator": 10000} for m in months],
            "ae_4h_type1": [{"period": m, "numerator": num - 500, "denominator": 9000} for m in ["2024-03", *months]],
        },
        "facts": [{"name": "sdec_hours_per_day", "value": 12, "date": "2024-04-01"}],
    }


def floor_decision(state: dict[str, Any]) -> str:
    """The fastest honest code for one decision: exact >= 78% on March 2025, unknown if missing."""
    org = state["organisations"][0]
    for obs in org["metrics"].get("ae_4h_all", []):
        if obs["period"] == "2025-03":
            if obs["denominator"] == 0:
                return "unknown"
            return "met" if Fraction(obs["numerator"], obs["denominator"]) * 100 >= 78 else "not_met"
    return "unknown"


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    book = pe.load_rulebook()
    state = {"as_of": "2025-04-20", "organisations": [trust(1)]}
    frozen = pe.state_from_dict(state, book)
    print(
        f"policy-engine {pe.__version__}; Python {platform.python_version()}; {platform.machine()}; "
        f"{len(book.rules)} rules; {dt.date.today()}"
    )

    floor = timed(lambda: floor_decision(state), 20000)
    print(f"floor (hand-written A&E 78% decision): p50 {pct(floor, 0.5) * 1e6:8.1f} us")
    for backend in pe.available_backends():
        times = timed(lambda b=backend: pe.evaluate(frozen, book, backend=b, evaluated_at=STAMP), 300)
        p50, p99 = pct(times, 0.5), pct(times, 0.99)
        print(
            f"{backend:7s} full rulebook, 1 trust: p50 {p50 * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms  "
            f"ratio to floor (p50) {p50 / pct(floor, 0.5):9.0f}x"
        )

    if "durable" in pe.available_backends():
        gc.collect()
        start_rss = rss_mb()
        chunk = max(1, n // 5)
        for k in range(5):
            times = timed(lambda: pe.evaluate(frozen, book, backend="durable", evaluated_at=STAMP), chunk)
            print(
                f"durable consecutive evaluations {chunk * (k + 1):7d}: mean {statistics.mean(times) * 1e3:6.2f} ms"
                f"  max RSS {rss_mb():7.1f} MB (start {start_rss:.1f} MB)"
            )


if __name__ == "__main__":
    main()

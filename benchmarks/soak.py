"""Soak: N consecutive evaluations in one process (default 1,000,000, durable backend), printing RSS
and the mean time per evaluation for every tenth, so growth in memory or time shows.

    python benchmarks/soak.py [N] [native|durable]
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time

import policy_engine as pe

STAMP = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
STATE = {
    "as_of": "2025-04-20",
    "organisations": [
        {
            "id": "RA1",
            "type": "acute_trust",
            "services": ["type1_ae"],
            "metrics": {
                "ae_4h_all": [{"period": "2025-03", "numerator": 780, "denominator": 1000}],
                "ae_4h_type1": [
                    {"period": "2024-03", "numerator": 700, "denominator": 1000},
                    {"period": "2025-03", "numerator": 801, "denominator": 1000},
                ],
            },
        }
    ],
}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    backend = sys.argv[2] if len(sys.argv) > 2 else "durable"
    book = pe.load_rulebook()
    state = pe.state_from_dict(STATE, book)
    first = pe.evaluate(state, book, backend=backend, evaluated_at=STAMP).to_json()
    step = max(1, n // 10)
    print(f"soak: {n} evaluations, backend {backend}, {len(book.rules)} rules, {dt.date.today()}", flush=True)
    done = 0
    while done < n:
        t0 = time.perf_counter()
        for _ in range(min(step, n - done)):
            ev = pe.evaluate(state, book, backend=backend, evaluated_at=STAMP)
        elapsed = time.perf_counter() - t0
        done += min(step, n - done)
        same = ev.to_json() == first
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{done:9d}: mean {elapsed / step * 1e3:6.3f} ms  max RSS {rss:7.1f} MB  same output {same}", flush=True)


if __name__ == "__main__":
    main()

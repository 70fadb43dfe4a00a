"""Soak: N consecutive evaluations in one process (default 1,000,000, durable backend), printing RSS
and the mean time per evaluation for every tenth, so growth in memory or time shows.

    python benchmarks/soak.py [N] [native|durable] [--example] [--statuses]

``--example`` evaluates the bundled example state (10 organisations, so durable sessions hold
several organisations) instead of one trust; ``--statuses`` calls ``pe.statuses`` (statuses only;
with durable, durable matches and chains while the compiled closures decide).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

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
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    backend = args[1] if len(args) > 1 else "durable"
    book = pe.load_rulebook()
    if "--example" in sys.argv:
        state = pe.load_state(Path(__file__).resolve().parent.parent / "examples" / "state.json")
    else:
        state = pe.state_from_dict(STATE, book)

    def once() -> str:
        if "--statuses" in sys.argv:
            return json.dumps(pe.statuses(state, book, backend=backend), sort_keys=True)
        return pe.evaluate(state, book, backend=backend, evaluated_at=STAMP).to_json()

    first = once()
    step = max(1, n // 10)
    what = "pe.statuses" if "--statuses" in sys.argv else "pe.evaluate"
    print(
        f"soak: {n} evaluations ({what}) of {len(state.organisations)} organisation(s), backend {backend}, "
        f"{len(book.rules)} rules, {dt.date.today()}",
        flush=True,
    )
    done = 0
    while done < n:
        t0 = time.perf_counter()
        for _ in range(min(step, n - done)):
            out = once()
        elapsed = time.perf_counter() - t0
        done += min(step, n - done)
        same = out == first
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{done:9d}: mean {elapsed / step * 1e3:6.3f} ms  max RSS {rss:7.1f} MB  same output {same}", flush=True)


if __name__ == "__main__":
    main()

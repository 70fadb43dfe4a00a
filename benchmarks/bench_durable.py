"""The durable adapter against direct durable-rules programs (run on demand):
``python benchmarks/bench_durable.py [TRUSTS]``.

The UEC slice (``bench_uec_slice.uec_book``: 29 rules, 15 for acute trusts) on one state of
TRUSTS acute trusts (default 1,000; ``bench_uec_slice.trust``: every UEC metric with its monthly
series and every fact). Measured in the same run, per state, p50 over repeated runs:

* **direct, grouped**: ``raw_durable.GroupedProgram``, a durable-rules program written by hand
  whose actions each decide every status of one dependency level for one trust (issue 19's
  comparison);
* **direct, per decision**: ``raw_durable.Program``, one durable rule and action per decision;
* **adapter, statuses**: ``policy_engine.statuses(backend="durable")``;
* **adapter, full outcomes**: ``policy_engine.evaluate(backend="durable")`` (evidence,
  explanations, trace), beside **native, full outcomes** (``backend="native"``).

Both direct programs' answers, and the adapter's, are checked against the reference (the native
backend) before anything is timed. Ratios are of figures from the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import raw_durable
from bench_uec_slice import trust, uec_book

import policy_engine as pe
from policy_engine.evaluation.durable import engine_version as durable_version


def p50(fn: Callable[[], Any], seconds: float) -> float:
    """The median of repeated runs of ``fn`` (at least five, for about ``seconds``)."""
    times: list[float] = []
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(os.environ.get("BENCH_SECONDS", "6"))
    with tempfile.TemporaryDirectory() as tmp:
        book = uec_book(Path(tmp))
    national = [{"scope": "national", "types": ["acute_trust"], "source": "generated: every trust of the benchmark"}]
    doc = {"as_of": "2025-04-20", "cohorts": national, "organisations": [trust(i) for i in range(n)]}
    state = pe.state_from_dict(doc, book)
    native = pe.evaluate(state, book, backend="native")
    reference: dict[str, dict[str, str]] = {org.id: {} for org in state.organisations}
    for o in native.outcomes:
        reference[o.org_id][o.rule_id] = o.status
    grouped, per_decision = raw_durable.GroupedProgram(), raw_durable.Program()
    assert grouped.statuses(state) == reference, "the grouped direct program must make the reference's decisions"
    assert per_decision.statuses(state) == reference, "the per-decision program must make the reference's decisions"
    assert pe.statuses(state, book, backend="durable") == reference
    assert pe.evaluate(state, book, backend="durable").outcomes == native.outcomes
    decisions = sum(len(s) for s in reference.values())
    print(
        f"durable adapter vs direct durable-rules: UEC slice, {len(book.rules)} rules, {n} acute trusts, "
        f"{decisions} decisions per state; policy-engine {pe.__version__}; {durable_version()}; "
        f"Python {platform.python_version()}; {dt.date.today()}"
    )
    rows = [
        ("direct, grouped (GroupedProgram)", p50(lambda: grouped.statuses(state), seconds)),
        ("direct, per decision (Program)", p50(lambda: per_decision.statuses(state), seconds)),
        ("adapter, statuses (pe.statuses)", p50(lambda: pe.statuses(state, book, backend="durable"), seconds)),
        ("adapter, full outcomes (pe.evaluate)", p50(lambda: pe.evaluate(state, book, backend="durable"), seconds)),
        ("native, full outcomes (pe.evaluate)", p50(lambda: pe.evaluate(state, book, backend="native"), seconds)),
    ]
    base = rows[0][1]
    for name, t in rows:
        print(f"  {name:38s} p50 {t * 1e3:9.2f} ms per state {t / n * 1e6:8.1f} us per trust  x{t / base:5.2f}")
    t = dict(rows)
    print(f"  adapter statuses / direct grouped:      x{t[rows[2][0]] / base:.2f}")
    print(f"  adapter full outcomes / direct grouped: x{t[rows[3][0]] / base:.2f}")
    print(f"  adapter full outcomes / native:         x{t[rows[3][0]] / t[rows[4][0]]:.2f}")


if __name__ == "__main__":
    main()

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
backend) before anything is timed. The five are run in turn, round after round, for about
BENCH_SECONDS (default 30) in all; ratios are of figures from the same run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import raw_durable
from bench_uec_slice import trust, uec_book

import policy_engine as pe
from policy_engine.evaluation.durable import engine_version as durable_version


def p50s(fns: Sequence[Callable[[], Any]], seconds: float) -> list[float]:
    """The median time of each of ``fns``, run in turn (round after round, at least five, for
    about ``seconds`` in all), so that a machine shared with other work slows each alike."""
    times: list[list[float]] = [[] for _ in fns]
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop or len(times[0]) < 5:
        for fn, ts in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [sorted(ts)[len(ts) // 2] for ts in times]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    seconds = float(os.environ.get("BENCH_SECONDS", "30"))
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
    runs: list[tuple[str, Callable[[], Any]]] = [
        ("direct, grouped (GroupedProgram)", lambda: grouped.statuses(state)),
        ("direct, per decision (Program)", lambda: per_decision.statuses(state)),
        ("adapter, statuses (pe.statuses)", lambda: pe.statuses(state, book, backend="durable")),
        ("adapter, full outcomes (pe.evaluate)", lambda: pe.evaluate(state, book, backend="durable")),
        ("native, full outcomes (pe.evaluate)", lambda: pe.evaluate(state, book, backend="native")),
    ]
    rows = list(zip([name for name, _ in runs], p50s([fn for _, fn in runs], seconds), strict=True))
    base = rows[0][1]
    for name, t in rows:
        print(f"  {name:38s} p50 {t * 1e3:9.2f} ms per state {t / n * 1e6:8.1f} us per trust  x{t / base:5.2f}")
    t = dict(rows)
    print(f"  adapter statuses / direct grouped:      x{t[rows[2][0]] / base:.2f}")
    print(f"  adapter full outcomes / direct grouped: x{t[rows[3][0]] / base:.2f}")
    print(f"  adapter full outcomes / native:         x{t[rows[3][0]] / t[rows[4][0]]:.2f}")


if __name__ == "__main__":
    main()

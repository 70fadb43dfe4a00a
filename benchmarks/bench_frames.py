"""Time ``Evaluation.to_frame()`` (and the CSV text) on 100,000 outcomes (run on demand).

    python benchmarks/bench_frames.py [OUTCOMES]

The outcomes are the example state's (``examples/state.json``, every status and kind), copied
under new organisation ids until there are OUTCOMES of them (default 100,000); the evaluation is
built untimed, then ``to_frame()`` and ``outcomes_csv`` are each timed (best of 3).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent


def build(n: int):  # type: ignore[no-untyped-def]
    import policy_engine as pe

    base = pe.evaluate(json.loads((HERE.parent / "examples" / "state.json").read_text()))
    outcomes, types = [], {}
    copy = 0
    while len(outcomes) < n:
        for o in base.outcomes:
            org = f"{o.org_id}{copy}"
            types[org] = base.org_types[o.org_id]
            outcomes.append(attrs.evolve(o, org_id=org))
            if len(outcomes) == n:
                break
        copy += 1
    return attrs.evolve(base, outcomes=tuple(outcomes), org_types=types, org_ids=frozenset(types))


def best(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The least wall-clock and the least CPU time of ``repeat`` runs (CPU time: on a shared
    machine wall-clock time includes waiting for a core)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    from policy_engine.evaluation.frames import outcomes_csv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    evaluation = build(n)
    frame = evaluation.to_frame()
    assert frame.height == n, frame.height
    print(f"{n} outcomes, {frame.width} columns")
    for label, fn in (("to_frame()", evaluation.to_frame), ("outcomes_csv()", lambda: outcomes_csv(evaluation))):
        wall, cpu = best(fn)
        print(f"{label}: {wall:.3f} s wall-clock, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()

"""Throughput of table evaluation, Parquet to Parquet, at growing sizes (run on demand).

    python benchmarks/bench_tables.py [ROWS ...] [--mix national|acute_trust|...] [--chunk-rows N] [--per-state]
    python benchmarks/bench_tables.py --backends
    python benchmarks/bench_tables.py --batch [--mix ...]

Each size runs in a fresh process, so its peak RSS is its own. Prints rows/s for the whole job
(read, validate, evaluate, exact re-decisions, write), the cost per row relative to the smallest
size (linear cost means a ratio near 1), and with ``--per-state`` the compiled, native and
durable backends on 2,000 of the same rows as states of 250 organisations, evaluated state by
state (validated once beforehand, untimed), measured in the same run. ``--backends`` runs each
backend for 10k, 100k and 1M organisation-evaluations (those states, cycled), each in a fresh
process with its peak RSS.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def generate(path: str, rows: int, mix: str) -> None:
    sys.path.insert(0, str(HERE))
    import tables

    tables.write_parquet(path, rows, chunk_rows=min(rows, 20_000), mix=mix)  # row groups of 20,000


def one(path: str, rows: int, chunk_rows: int) -> dict[str, float]:
    """Evaluate a generated file in this (fresh) process: its peak RSS is the evaluation's."""
    from policy_engine import load_rulebook
    from policy_engine.tabular import evaluate_table

    book = load_rulebook("nhs-2024-25")
    dst = Path(path).with_suffix(".out.parquet")
    start = time.perf_counter()
    summary = evaluate_table(path, dst, book, chunk_rows=chunk_rows)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "seconds": seconds,
        "exact": summary.exact_cells,
        "rss_mb": rss,
        "mb": Path(path).stat().st_size / 2**20,
    }


def per_state(rows: int, backend: str = "all", total: int | None = None) -> dict[str, float]:
    """Organisation-evaluations per second, state by state: ``rows`` generated rows make states of
    250 organisations, validated once beforehand (untimed), then evaluated in turn until
    ``total`` organisation-evaluations (default: each once). RSS is this process's peak."""
    sys.path.insert(0, str(HERE))
    import tables

    from policy_engine import evaluate, load_rulebook, statuses
    from policy_engine.engine import available_backends
    from policy_engine.tabular import frame_to_states

    book = load_rulebook("nhs-2024-25")
    frame = next(tables.iter_frames(rows, rows, orgs_per_state=250))
    states = [s for _, s in frame_to_states(frame, book)]
    for s in states:
        statuses(s, book)
    sizes = [len(s.organisations) for s in states]
    out: dict[str, float] = {"rows": rows}
    names = ["compiled", *available_backends()] if backend == "all" else [backend]
    for name in names:
        goal, done, k = total or rows, 0, 0
        start = time.perf_counter()
        while done < goal:
            s = states[k % len(states)]
            if name == "compiled":
                statuses(s, book)
            else:
                evaluate(s, book, backend=name)
            done += sizes[k % len(states)]
            k += 1
        out[name] = done / (time.perf_counter() - start)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


BATCH_CHUNK = 100_000


def batch(rows: int, mix: str) -> dict[str, float]:
    """The columnar backend in batch, in this (fresh) process: chunks of generated rows, each
    validated then evaluated in memory; generation is not timed."""
    sys.path.insert(0, str(HERE))
    import tables

    from policy_engine import load_rulebook
    from policy_engine.tabular import evaluate_frame, normalise_frame

    book = load_rulebook("nhs-2024-25")
    evaluate_frame(next(tables.iter_frames(1_000, 1_000, mix=mix)), book)  # compile once, untimed
    validate = evaluate = 0.0
    exact = 0
    for frame in tables.iter_frames(rows, min(rows, BATCH_CHUNK), mix=mix):
        start = time.perf_counter()
        table = normalise_frame(frame, book)
        middle = time.perf_counter()
        exact += evaluate_frame(table, book, normalised=True).exact_cells
        validate += middle - start
        evaluate += time.perf_counter() - middle
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "validate": validate, "evaluate": evaluate, "exact": exact, "rss_mb": rss}


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--gen":
        generate(argv[1], int(argv[2]), argv[3])
        return
    if argv and argv[0] == "--child":
        result = per_state(int(argv[2])) if argv[1] == "per-state" else one(argv[1], int(argv[2]), int(argv[3]))
        print(json.dumps(result))
        return
    if argv and argv[0] == "--batch-child":  # --batch-child ROWS MIX
        print(json.dumps(batch(int(argv[1]), argv[2])))
        return
    if argv and argv[0] == "--backend-child":  # --backend-child NAME TOTAL
        print(json.dumps(per_state(2000, argv[1], int(argv[2]))))
        return
    if "--backends" in argv:  # compiled, native, durable at 10k, 100k and 1M organisation-evaluations
        from policy_engine.engine import available_backends

        today = time.strftime("%Y-%m-%d")
        print(f"bench_tables --backends: states of 250 organisations (2,000 generated rows, cycled), {today}")
        for name in ["compiled", *available_backends()]:
            for total in (10_000, 100_000, 1_000_000):
                res = json.loads(
                    subprocess.check_output([sys.executable, __file__, "--backend-child", name, str(total)])
                )
                rate, rss = res[name], res["rss_mb"]
                print(
                    f"  {name:8} {total:>9,} org-evaluations: {rate:>9,.0f} per s  peak RSS {rss:6.0f} MB", flush=True
                )
        return
    mix = "national"
    if "--mix" in argv:
        mix = argv[argv.index("--mix") + 1]
        argv = [a for a in argv if a not in ("--mix", mix)]
    if "--batch" in argv:
        today = time.strftime("%Y-%m-%d")
        print(f"bench_tables --batch: columnar backend, mix {mix}, chunks of {BATCH_CHUNK:,} rows in memory, {today}")
        for rows in (10_000, 100_000, 1_000_000):
            res = json.loads(subprocess.check_output([sys.executable, __file__, "--batch-child", str(rows), mix]))
            both = res["validate"] + res["evaluate"]
            print(
                f"  {rows:>9,} rows: evaluate {rows / res['evaluate']:>9,.0f} org-evaluations/s; "
                f"validate + evaluate {rows / both:>9,.0f}/s  peak RSS {res['rss_mb']:6.0f} MB  "
                f"exact re-decisions {res['exact']}",
                flush=True,
            )
        return
    chunk_rows = 100_000
    if "--chunk-rows" in argv:
        at = argv.index("--chunk-rows")
        chunk_rows = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    sizes = [int(a) for a in argv if a.isdigit()] or ([] if "--per-state" in argv else [10_000, 100_000, 1_000_000])
    print(f"bench_tables: mix {mix}, Parquet -> Parquet, chunks of {chunk_rows:,} rows, {time.strftime('%Y-%m-%d')}")
    base = None
    for rows in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            src = str(Path(tmp) / "in.parquet")
            subprocess.check_call([sys.executable, __file__, "--gen", src, str(rows), mix])
            res = json.loads(
                subprocess.check_output([sys.executable, __file__, "--child", src, str(rows), str(chunk_rows)])
            )
        per_row = res["seconds"] / rows
        base = base or per_row
        print(
            f"  {rows:>9,} rows: {res['seconds']:7.1f} s  {rows / res['seconds']:>9,.0f} rows/s  "
            f"cost/row x{per_row / base:4.2f} of the smallest  peak RSS {res['rss_mb']:6.0f} MB  "
            f"input {res['mb']:.0f} MB  exact re-decisions {res['exact']}"
        )
    if "--per-state" in argv:
        res = json.loads(subprocess.check_output([sys.executable, __file__, "--child", "per-state", "2000"]))
        for backend in ("compiled", "native", "durable"):
            if backend in res:
                what = "statuses only" if backend == "compiled" else "full outcomes"
                print(f"  per-state {backend:8}: {res[backend]:>9,.0f} org-evaluations/s (2,000 rows, {what})")


if __name__ == "__main__":
    main(sys.argv[1:])

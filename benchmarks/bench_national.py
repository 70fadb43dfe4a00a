"""A national JSON state (run on demand): generated at England's counts, then parsed, validated,
loaded, and evaluated through the public API, each step timed, with the process's peak RSS.

    python benchmarks/bench_national.py [--scale S] [--keep DIR]
    python benchmarks/bench_national.py make OUT.json [--scale S] [--bad N]

``make`` writes the national state: the organisations of ``examples/state.json`` replicated to
England's counts (``COUNTS``: 42 ICBs, 120 acute, 11 ambulance, 50 mental health and 40 community
trusts, 1,250 PCNs, 6,300 practices; 7,813 organisations, about 76 MiB), each copy with a unique id
(the example's id suffixed ``-k``) and consistent parents: the organisations are spread over the
ICBs in turn, each PCN belongs to an ICB, and each practice to a PCN and to that PCN's ICB. The
example's national cohort declaration is kept, so the rank() rules rank all 120 acute trusts.
``--scale`` multiplies every count (at least one of each), for quick runs; ``--bad N`` spoils N
cells (a count made negative in N practices spread through the file) for the error path.

The default run writes the state and its one-bad-cell twin in a temporary folder and measures
them in a fresh process (so its peak RSS is the measurement's own, not the generator's):

* **baseline**: ``json.loads`` of the file's bytes with no hooks: the least any reader pays (the
  faster of two runs, after the evaluations);
* **parse**: the package's parser (exact numbers, duplicate keys and NaN refused);
* **validate**: ``validate_state`` on the parsed document (schema and consistency checks);
* **load_state**: the whole of ``load_state(path)`` (read, parse, validate, freeze), timed first
  with the evaluations, so that the peak RSS beside it and after them is theirs;
* **statuses**: ``statuses(state, book)`` on that State (the compiled backend);
* **evaluate**: ``evaluate(state, book, backend="native")``, full outcomes (the compiled closures
  that capture evidence, decision 034), and the same by the reference interpreter
  (``engine.reference_evaluate``, what ``native`` ran before);
* **bad cell**: ``load_state`` of the twin with one bad cell, refused (StateError): its time, and
  the number of problems listed;
* **orjson** (when it is installed): ``orjson.loads`` of the same bytes, for comparison only (it
  reads decimals as floats and keeps the last of duplicate keys: not the package's semantics);

each as seconds and as a ratio to the baseline of the same run; the peak RSS after load_state,
and after it and the full outcomes; then full outcomes against statuses: the CPU seconds of each
(``time.process_time``, the best of three, so that other processes on the machine count less)
and their ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

COUNTS = {
    "icb": 42,
    "acute_trust": 120,
    "ambulance_trust": 11,
    "mental_health_trust": 50,
    "community_provider": 40,
    "pcn": 1250,
    "gp_practice": 6300,
}
"""England's organisations by type (2024/25), the counts the national state is built to."""


def national_state(scale: float = 1.0, bad: int = 0) -> dict[str, Any]:
    """The national state (see the module docstring): ``scale`` times England's counts, with
    ``bad`` practices' first count made negative (one bad cell each)."""
    doc = json.loads((ROOT / "examples" / "state.json").read_text(encoding="utf-8"))
    templates: dict[str, list[dict[str, Any]]] = {}
    for org in doc["organisations"]:
        templates.setdefault(org["type"], []).append(org)
    counts = {kind: max(1, round(n * scale)) for kind, n in COUNTS.items()}
    orgs: list[dict[str, Any]] = []
    icbs: list[str] = []
    pcn_icb: list[tuple[str, str]] = []
    for kind in ("icb", "acute_trust", "ambulance_trust", "mental_health_trust", "community_provider", "pcn"):
        for k in range(counts[kind]):
            copy = dict(templates[kind][k % len(templates[kind])])
            copy["id"] = f"{copy['id']}-{k}"
            if kind == "icb":
                icbs.append(copy["id"])
            else:
                copy["parent"] = icbs[k % len(icbs)]
            if kind == "pcn":
                pcn_icb.append((copy["id"], copy["parent"]))
            orgs.append(copy)
    n_practices = counts["gp_practice"]
    spoil = {round(i * n_practices / bad) for i in range(bad)} if bad else set()
    for k in range(n_practices):
        copy = dict(templates["gp_practice"][k % len(templates["gp_practice"])])
        copy["id"] = f"{copy['id']}-{k}"
        copy["pcn"], copy["parent"] = pcn_icb[k % len(pcn_icb)]
        if k in spoil:
            name, series = next(iter(copy["metrics"].items()))
            first = dict(series[0])
            first["numerator"] = -1
            copy["metrics"] = {**copy["metrics"], name: [first, *series[1:]]}
        orgs.append(copy)
    out: dict[str, Any] = {"as_of": doc["as_of"], "organisations": orgs}
    if "cohorts" in doc:
        out["cohorts"] = doc["cohorts"]
    return out


def write_state(path: Path, scale: float = 1.0, bad: int = 0) -> tuple[int, int]:
    """Write the national state to ``path``: (organisations, bytes)."""
    doc = national_state(scale, bad)
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return len(doc["organisations"]), len(text.encode("utf-8"))


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(fn: Any, runs: int = 3) -> float:
    """The least CPU time of ``runs`` calls of ``fn`` (this process only)."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def measure(good: Path, bad: Path) -> None:
    """Time each step on ``good`` (and the refusal of ``bad``) in this process, and print them.

    ``load_state`` and the evaluations run first, so the peak RSS printed beside them is theirs:
    the steps timed after them hold a parsed document (and ``validate_state`` a copy of it; the
    memory even ``json.loads`` let go is not all given back, so it cannot run before them)."""
    import policy_engine as pe
    from policy_engine.data.state import _parse_json
    from policy_engine.engine import reference_evaluate

    raw = good.read_bytes()
    book = pe.load_rulebook()
    load, state = _timed(lambda: pe.load_state(good))
    load_rss = _rss()
    t_status, statuses = _timed(lambda: pe.statuses(state, book))
    n_status = sum(len(v) for v in statuses.values())
    t_eval, ev = _timed(lambda: pe.evaluate(state, book, backend="native"))
    n_outcomes, eval_rss = len(ev.outcomes), _rss()
    del ev
    base = min(_timed(lambda: json.loads(raw))[0] for _ in range(2))  # the least of two: steadier
    rows: list[tuple[str, float, str]] = [("baseline: json.loads, no hooks", base, "")]
    try:
        import orjson
    except ImportError:
        pass
    else:  # for comparison only: floats, no duplicate keys, no exact numbers (decision 032)
        t, _ = _timed(lambda: orjson.loads(raw))
        rows.append(("orjson.loads (not exact: comparison)", t, ""))
    t, doc = _timed(lambda: _parse_json(raw, "state"))
    rows.append(("parse (exact numbers)", t, ""))
    t, problems = _timed(lambda d=doc: pe.validate_state(d))
    assert problems == [], problems[:3]
    rows.append(("validate_state", t, ""))
    del doc
    rows.append(("load_state (read+parse+validate+freeze)", load, f"peak RSS {load_rss:7.0f} MB"))
    rows.append(("statuses (compiled)", t_status, f"{n_status:,} statuses"))
    rows.append(("evaluate native (full outcomes)", t_eval, f"{n_outcomes:,} outcomes"))
    t, ev = _timed(lambda: reference_evaluate(state, book))
    rows.append(("evaluate, reference interpreter", t, f"{len(ev.outcomes):,} outcomes"))
    del ev
    t0 = time.perf_counter()
    try:
        pe.load_state(bad)
    except pe.StateError as exc:
        listed = len(exc.details)
    else:
        raise AssertionError("the state with a bad cell was accepted")
    rows.append(("load_state of a state with bad cell(s)", time.perf_counter() - t0, f"{listed} problem(s) listed"))
    print(
        f"bench_national: {len(state.organisations):,} organisations, {len(raw) / 2**20:.1f} MiB; "
        f"policy-engine {pe.__version__}; Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')}"
    )
    for name, seconds, note in rows:
        print(f"  {name:42s} {seconds:8.2f} s  x {seconds / base:7.1f} of the baseline  {note}")
    refused = rows[-1][1]
    print(f"  refusing the bad state / accepting the good one: x {refused / load:.2f}")
    print(f"  load_state + evaluate native: {load + t_eval:.2f} s; peak RSS {eval_rss:.0f} MB")
    cpu = {
        "statuses (compiled)": _cpu(lambda: pe.statuses(state, book)),
        "evaluate native": _cpu(lambda: pe.evaluate(state, book, backend="native")),
        "evaluate, reference interpreter": _cpu(lambda: reference_evaluate(state, book)),
    }
    statuses_cpu = cpu["statuses (compiled)"]
    print("  full outcomes against statuses, CPU seconds (best of 3):")
    for name, seconds in cpu.items():
        print(f"    {name:40s} {seconds:6.2f} s  x {seconds / statuses_cpu:5.2f} of statuses")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    make = sub.add_parser("make")
    make.add_argument("out", type=Path)
    make.add_argument("--scale", type=float, default=1.0)
    make.add_argument("--bad", type=int, default=0)
    child = sub.add_parser("measure")
    child.add_argument("good", type=Path)
    child.add_argument("bad", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.cmd == "make":
        n, size = write_state(args.out, args.scale, args.bad)
        print(f"wrote {args.out}: {n:,} organisations, {size / 2**20:.1f} MiB")
        return
    if args.cmd == "measure":
        measure(args.good, args.bad)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        good, bad = folder / "national.json", folder / "national-bad.json"
        write_state(good, args.scale)
        write_state(bad, args.scale, bad=1)
        subprocess.run([sys.executable, __file__, "measure", str(good), str(bad)], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])

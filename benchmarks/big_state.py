"""Big states (run on demand): the example state's organisations replicated with new ids, and the
time and peak memory of evaluating one end to end on the command line.

    python benchmarks/big_state.py make N OUT.json [--slim]
    python benchmarks/big_state.py run N [--backend native|durable] [--slim] [--keep DIR]
    python benchmarks/big_state.py soak N REPEATS [--backend native|durable] [--slim]

``make`` writes a state of N organisations: copies of the ten organisations of
``examples/state.json`` (an ICB, three acute trusts, an ambulance, a mental health and a community
trust, a PCN and two practices), the k-th copy's ids suffixed ``-k`` and its ``parent`` and ``pcn``
pointing into the same copy, the example's national cohort declaration kept (so the rank() rules
rank every copied acute trust). ``--slim`` keeps only each metric's last month (and, for the ranked
A&E metric, the month a year before it) and no facts or names, so 100,000 organisations fit within
``MAX_STATE_BYTES`` (100 MiB); the full copies are about 18 KB an organisation.

``run`` makes such a state in a temporary folder and runs ``policy-engine evaluate STATE -o
OUT.json`` (and ``validate``) in a child process, printing the wall time and the child's peak RSS.

``soak`` streams the evaluation of one N-organisation state REPEATS times in one process
(``engine.evaluate_stream(...).write_json`` to a sink that keeps nothing), printing the time and the
process's peak RSS after each: a flat RSS is what bounded memory looks like.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


RANKED = "ae_4h_type1"
"""The metric the rank() rule (the Type 1 A&E greatest improvement) compares year on year."""


def _slim(org: dict[str, Any]) -> dict[str, Any]:
    """The organisation with each metric's last month only (and a year before it for ``RANKED``),
    and no facts or name: about 1 KB an organisation instead of 18 KB."""
    org = dict(org)
    metrics = {}
    for name, series in org.get("metrics", {}).items():
        ordered = sorted(series, key=lambda o: o["period"])
        keep = ordered[-13:] if name == RANKED else ordered[-1:]
        metrics[name] = [keep[0], keep[-1]] if len(keep) > 1 else keep
    if "metrics" in org:
        org["metrics"] = metrics
    org.pop("facts", None)
    org.pop("name", None)
    return org


def big_state(n: int, slim: bool = False) -> dict[str, Any]:
    """A state of ``n`` organisations copied from the example state (see the module docstring)."""
    doc = json.loads((ROOT / "examples" / "state.json").read_text(encoding="utf-8"))
    base = [_slim(o) for o in doc["organisations"]] if slim else doc["organisations"]
    orgs: list[dict[str, Any]] = []
    k = 0
    while len(orgs) < n:
        for org in base:
            if len(orgs) == n:
                break
            copy = dict(org)
            copy["id"] = f"{org['id']}-{k}"
            for ref in ("parent", "pcn"):
                if ref in copy:  # the example lists an organisation after its parent and its PCN
                    copy[ref] = f"{copy[ref]}-{k}"
            orgs.append(copy)
        k += 1
    out: dict[str, Any] = {"as_of": doc["as_of"], "organisations": orgs}
    if "cohorts" in doc:
        out["cohorts"] = doc["cohorts"]
    return out


def write_state(n: int, path: Path, slim: bool = False) -> int:
    text = json.dumps(big_state(n, slim), separators=(",", ":"))
    path.write_text(text, encoding="utf-8")
    return len(text)


def _child(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of ``policy-engine ARGV`` in a fresh process."""
    code = "import sys; from policy_engine.cli import run; sys.exit(run(sys.argv[1:]))"
    script = (
        "import resource, subprocess, sys, time\n"
        "t0 = time.perf_counter()\n"
        f"rc = subprocess.call([sys.executable, '-c', {code!r}, *sys.argv[1:]])\n"
        "t = time.perf_counter() - t0\n"
        "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True)
    t, rss, rc = out.stdout.split()[-3:]
    return float(t), float(rss), int(rc)


def _soak(n: int, repeats: int, backend: str, slim: bool) -> None:
    import io
    import resource

    import policy_engine as pe
    from policy_engine.engine import evaluate_stream

    class Null(io.TextIOBase):
        def write(self, text: str) -> int:
            return len(text)

    book = pe.load_rulebook()
    t0 = time.perf_counter()
    state = pe.state_from_dict(big_state(n, slim), book)
    print(f"soak: {n:,} organisations, backend {backend}, loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    for i in range(1, repeats + 1):
        t0 = time.perf_counter()
        evaluate_stream(state, book, backend=backend).write_json(Null())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  {i:4d}: {time.perf_counter() - t0:7.1f} s  peak RSS {rss:8.1f} MB", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    make = sub.add_parser("make")
    make.add_argument("n", type=int)
    make.add_argument("out", type=Path)
    make.add_argument("--slim", action="store_true")
    run = sub.add_parser("run")
    run.add_argument("n", type=int)
    run.add_argument("--backend", default="native")
    run.add_argument("--slim", action="store_true")
    run.add_argument("--keep", type=Path, default=None)
    run.add_argument("--no-validate", action="store_true")
    soak = sub.add_parser("soak")
    soak.add_argument("n", type=int)
    soak.add_argument("repeats", type=int)
    soak.add_argument("--backend", default="native")
    soak.add_argument("--slim", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "soak":
        _soak(args.n, args.repeats, args.backend, args.slim)
        return
    if args.cmd == "make":
        size = write_state(args.n, args.out, args.slim)
        print(f"wrote {args.out}: {args.n:,} organisations, {size / 2**20:.1f} MiB")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        state = folder / f"state-{args.n}.json"
        size = write_state(args.n, state, args.slim)
        print(
            f"big_state: {args.n:,} organisations ({size / 2**20:.1f} MiB{', slim' if args.slim else ''}), "
            f"backend {args.backend}, {time.strftime('%Y-%m-%d')}",
            flush=True,
        )
        if not args.no_validate:
            t, rss, rc = _child(["validate", str(state)])
            print(f"  validate            : {t:8.1f} s  peak RSS {rss:8.1f} MB  exit {rc}", flush=True)
        out = folder / f"out-{args.n}.json"
        t, rss, rc = _child(["evaluate", str(state), "--backend", args.backend, "-o", str(out)])
        written = out.stat().st_size / 2**20 if out.exists() else 0.0
        print(
            f"  evaluate -o out.json: {t:8.1f} s  peak RSS {rss:8.1f} MB  exit {rc}  output {written:.1f} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])

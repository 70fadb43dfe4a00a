"""Is the cost linear? (run on demand): ``python benchmarks/bench_scaling.py [--svg PATH]``.

Two curves, both with the compiled backend (``policy_engine.statuses``), measured in one run:

* **organisations**: one state of N organisations (copies of the example's ten, renamed), for
  growing N; time per state, and per organisation relative to the smallest N;
* **rules**: the example state against rulebooks cut down to the first k area files, for growing
  k; time per evaluation against the number of rules.

With ``--svg`` it also draws both curves (docs/performance-scaling.svg).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import policy_engine as pe

ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = ROOT / "policies" / "nhs-2024-25"


def best_of(fn: Callable[[], Any], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def organisations_curve(sizes: list[int]) -> list[tuple[int, float]]:
    book = pe.load_rulebook("nhs-2024-25")
    doc = json.loads((ROOT / "examples" / "state.json").read_text())
    base = doc["organisations"]
    out = []
    for n in sizes:
        orgs = []
        for k in range(n):
            org = dict(base[k % len(base)])
            org["id"] = f"X{k:06d}"
            org.pop("parent", None)
            org.pop("pcn", None)
            orgs.append(org)
        state = pe.state_from_dict({"as_of": doc["as_of"], "organisations": orgs}, book)
        pe.statuses(state, book)
        out.append((n, best_of(lambda s=state: pe.statuses(s, book), 5)))
    return out


def rules_curve() -> list[tuple[int, float]]:
    areas = sorted(p.name for p in BOOK_DIR.glob("*.yaml") if p.name not in ("rulebook.yaml", "coverage.yaml"))
    doc = json.loads((ROOT / "examples" / "state.json").read_text())
    out = []
    for k in range(1, len(areas) + 1):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(BOOK_DIR / "rulebook.yaml", tmp)
            shutil.copytree(BOOK_DIR / "sources", Path(tmp) / "sources")
            for name in areas[:k]:
                shutil.copy(BOOK_DIR / name, tmp)
            try:
                book = pe.load_rulebook(tmp)
            except pe.RulebookError:
                continue  # an area that reads another area's outcomes needs that area too
        # The state may only name what the cut-down catalogue has: drop the rest.
        cut = {"as_of": doc["as_of"], "organisations": []}
        for org in doc["organisations"]:
            org = dict(org)
            org["metrics"] = {k2: v for k2, v in org.get("metrics", {}).items() if k2 in book.metrics}
            org["facts"] = [f for f in org.get("facts", []) if f["name"] in book.facts]
            if "services" in org:
                org["services"] = [s for s in org["services"] if s in book.services]
            cut["organisations"].append(org)
        state = pe.state_from_dict(cut, book)
        pe.statuses(state, book)
        out.append((len(book.rules), best_of(lambda s=state, b=book: pe.statuses(s, b), 50)))
    return out


def svg(orgs: list[tuple[int, float]], rules: list[tuple[int, float]]) -> str:
    def panel(x0: int, points: list[tuple[int, float]], title: str, xlabel: str, yunit: float, ylabel: str) -> str:
        w, h, pad = 300, 200, 40
        xmax = max(p[0] for p in points)
        ymax = max(p[1] for p in points) * yunit

        def sx(v: float) -> float:
            return x0 + pad + (w - pad - 10) * v / xmax

        def sy(v: float) -> float:
            return 20 + (h - pad) * (1 - v * yunit / ymax)

        line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
        ideal = f"{sx(0):.1f},{sy(0):.1f} {sx(points[-1][0]):.1f},{sy(points[-1][1]):.1f}"
        dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3"/>' for x, y in points)
        return (
            f'<text x="{x0 + pad}" y="14" font-size="12">{title}</text>'
            f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(xmax)}" y2="{sy(0)}" stroke="#888"/>'
            f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="20" stroke="#888"/>'
            f'<polyline points="{ideal}" fill="none" stroke="#bbb" stroke-dasharray="4 3"/>'
            f'<polyline points="{line}" fill="none" stroke="#005eb8" stroke-width="2"/>'
            f'<g fill="#005eb8">{dots}</g>'
            f'<text x="{sx(xmax / 2)}" y="{h + 15}" font-size="11" text-anchor="middle">{xlabel} (0 to {xmax:,})</text>'
            f'<text x="{x0 + 4}" y="{sy(ymax / yunit / 2)}" font-size="11">{ylabel}</text>'
            f'<text x="{x0 + 4}" y="24" font-size="10">{ymax:.3g}</text>'
        )

    body = panel(0, orgs, "time per state vs organisations", "organisations", 1e3, "ms") + panel(
        330, rules, "time per state vs rules (example state)", "rules", 1e3, "ms"
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="660" height="230" font-family="sans-serif" '
        'role="img" aria-label="evaluation time grows linearly with organisations and rules">'
        f"{body}<text x='330' y='228' font-size='10' text-anchor='middle'>dashed: the straight line through "
        "the origin and the last point</text></svg>\n"
    )


def main(argv: list[str]) -> None:
    sizes = [250, 1000, 2500, 5000, 10000]
    orgs = organisations_curve(sizes)
    rules = rules_curve()
    print(f"bench_scaling: compiled backend (pe.statuses), {time.strftime('%Y-%m-%d')}")
    base = orgs[0][1] / orgs[0][0]
    for n, t in orgs:
        print(f"  {n:>6,} organisations: {t * 1e3:8.2f} ms per state  cost per organisation x{t / n / base:5.2f}")
    base_r = rules[-1][1] / rules[-1][0]
    for k, t in rules:
        ratio = t / k / base_r
        print(f"  {k:>6} rules        : {t * 1e3:8.3f} ms per state  cost per rule x{ratio:5.2f} of the full book")
    if "--svg" in argv:
        path = Path(argv[argv.index("--svg") + 1])
        path.write_text(svg(orgs, rules), encoding="utf-8")
        print(f"  wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])

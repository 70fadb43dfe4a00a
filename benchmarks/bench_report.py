"""Time and size of the HTML report: the example state, and the example's acute trust copied to N organisations.

python benchmarks/bench_report.py [N]     (default 200)
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

from policy_engine import evaluate, load_rulebook
from policy_engine.data.state import state_from_json
from policy_engine.render.report import render_report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"


def _many(n: int) -> dict[str, object]:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    orgs = doc["organisations"]
    trust = next(o for o in orgs if o["id"] == "EXA")
    for i in range(n - len(orgs)):
        clone = copy.deepcopy(trust)
        clone["id"], clone["name"] = f"T{i:04d}", f"Trust {i}"
        orgs.append(clone)
    doc.pop("cohorts", None)
    return doc


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    book = load_rulebook()
    for label, doc in (("example", json.loads(EXAMPLE.read_text(encoding="utf-8"))), (f"{n} organisations", _many(n))):
        state = state_from_json(json.dumps(doc))
        evaluation = evaluate(state, book, backend="native")
        start = time.perf_counter()
        page = render_report(evaluation, state, book)
        took = time.perf_counter() - start
        print(
            f"{label}: {len(evaluation.outcomes)} outcomes, {len(page.encode()) / 1e6:.2f} MB, rendered in {took:.2f} s"
        )


if __name__ == "__main__":
    main()

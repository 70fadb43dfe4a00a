"""Mutation check: does the scenario suite notice a wrong rule?

Copies the bundled rulebook (``policies_root() / "nhs-2024-25"``) to a temporary folder, applies
one mutant at a time — a comparison flipped (``>=`` -> ``>``, ``>`` -> ``>=``, ``<=`` -> ``<``,
``<`` -> ``<=``) in a rule's condition, a parameter value moved by +1 or -1, or an ``and``
swapped for ``or`` (and back) — loads the copy
with ``load_rulebook(path)`` and runs the scenarios of ``tests/scenarios`` that mention the
mutated rule (native backend). A mutant is *killed* when one of them fails; it *survives* when
they all still pass. Prints one line per mutant and the score.

    python benchmarks/mutation_check.py                 # every mutant (about 170; ~1 minute)
    python benchmarks/mutation_check.py --sample 40     # a random sample (--seed to vary it)
    python benchmarks/mutation_check.py --rule uec.     # only rules whose id starts with uec.
    python benchmarks/mutation_check.py --rulebook nhs-2025-26   # the 2025/26 rulebook, its own scenarios

Exit status 0 when every mutant run was killed, 1 otherwise (so ``--rule X`` can gate a change).
Surviving mutants are explained in docs/testing-kit.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import yaml

import policy_engine as pe
from policy_engine._resources import policies_root
from policy_engine.data.scenarios import SCENARIO_FOLDERS, scenario_files
from policy_engine.language.ast import Binary, Call, Node, Unary, render
from policy_engine.language.parser import parse
from policy_engine.testing import Scenario, ScenarioFailure, load_scenarios, run_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = ROOT / "tests" / "scenarios"
BOOK_NAME = "nhs-2024-25"
FLIPS = {">=": ">", ">": ">=", "<=": "<", "<": "<="}
LOGIC = {"and": "or", "or": "and"}


@attrs.frozen
class Mutant:
    """One small wrong change to one rule."""

    rule_id: str
    file: str
    kind: str  # "flip" | "param" | "logic"
    description: str
    index: int = 0  # flip/logic: which comparison (and/or) of the condition, in reading order
    parameter: str | None = None
    delta: int = 0


@attrs.frozen
class Result:
    mutant: Mutant
    status: str  # killed | survived | not-loaded | no-scenario
    scenarios: int
    detail: str = ""

    @property
    def killed(self) -> bool:
        return self.status in ("killed", "not-loaded")


def _comparisons(node: Node, ops: dict[str, str] = FLIPS) -> list[Binary]:
    """Binary nodes whose operator is in ``ops``, in reading (left-to-right) order."""
    out: list[Binary] = []

    def walk(n: Node) -> None:
        if isinstance(n, Binary):
            walk(n.left)
            if n.op in ops:
                out.append(n)
            walk(n.right)
        elif isinstance(n, Unary):
            walk(n.operand)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(node)
    return out


def _flip(node: Node, target: int, ops: dict[str, str] = FLIPS) -> Node:
    counter = [0]

    def walk(n: Node) -> Node:
        if isinstance(n, Binary):
            left = walk(n.left)
            op = n.op
            if n.op in ops:
                if counter[0] == target:
                    op = ops[n.op]
                counter[0] += 1
            right = walk(n.right)
            return attrs.evolve(n, left=left, op=op, right=right)
        if isinstance(n, Unary):
            return attrs.evolve(n, operand=walk(n.operand))
        if isinstance(n, Call):
            return attrs.evolve(n, args=tuple(walk(a) for a in n.args))
        return n

    return walk(node)


def mutants(book: pe.Rulebook) -> list[Mutant]:
    """Every mutant of the rulebook, in rule order."""
    out: list[Mutant] = []
    for rule in sorted(book.rules, key=lambda r: (r.file, r.id)):
        for i, cmp in enumerate(_comparisons(rule.condition)):
            text = f"{render(cmp.left)} {cmp.op} {render(cmp.right)}"
            out.append(Mutant(rule.id, rule.file, "flip", f"{cmp.op} -> {FLIPS[cmp.op]} in `{text}`", index=i))
        for i, junction in enumerate(_comparisons(rule.condition, LOGIC)):
            text = render(junction)
            out.append(
                Mutant(rule.id, rule.file, "logic", f"{junction.op} -> {LOGIC[junction.op]} in `{text}`", index=i)
            )
        for name, p in rule.parameters.items():
            for delta in (+1, -1):
                shown = _decimal(p.value)
                out.append(
                    Mutant(
                        rule.id,
                        rule.file,
                        "param",
                        f"param.{name} {shown} -> {_decimal(p.value + delta)}",
                        parameter=name,
                        delta=delta,
                    )
                )
    return out


def _decimal(value: Fraction) -> str:
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


def _shift(value: Any, delta: int) -> int | float:
    new = Decimal(str(value)) + delta
    return int(new) if new == new.to_integral_value() else float(str(new))


def apply(mutant: Mutant | None, source: Path, target: Path) -> None:
    """Write the rulebook at ``source`` to ``target`` with ``mutant`` applied. None gives the
    control: every area file rewritten the way a mutant's file is (YAML re-dumped, every condition
    re-rendered from its AST) but unchanged in meaning, so a kill is never an artefact of the rewrite."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    if mutant is None:
        for path in sorted(target.glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or "rules" not in doc:
                continue
            for rule in doc["rules"]:
                rule["condition"] = render(parse(rule["condition"]))
            path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6), encoding="utf-8")
        return
    path = target / mutant.file
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule = next(r for r in doc["rules"] if r["id"] == mutant.rule_id)
    if mutant.kind in ("flip", "logic"):
        ops = FLIPS if mutant.kind == "flip" else LOGIC
        rule["condition"] = render(_flip(parse(rule["condition"]), mutant.index, ops))
    else:
        assert mutant.parameter is not None
        param = rule["parameters"][mutant.parameter]
        param["value"] = _shift(param["value"], mutant.delta)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6), encoding="utf-8")


def load_suite(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario of the files under ``directory``."""
    return [s for f in scenario_files(directory) for s in load_scenarios(f)]


def check(mutant: Mutant | None, source: Path, work: Path, suite: Sequence[Scenario]) -> Result:
    """Apply one mutant and run the scenarios that mention its rule."""
    folder = work / "book"
    apply(mutant, source, folder)
    chosen = [s for s in suite if mutant is None or any(e.rule == mutant.rule_id for e in s.expect)]
    dummy = Mutant("-", "-", "control", "no change")
    m = mutant or dummy
    try:
        book = pe.load_rulebook(folder)
    except pe.PolicyError as exc:
        return Result(m, "not-loaded", len(chosen), str(exc).splitlines()[0])
    if not chosen:
        return Result(m, "no-scenario", 0)
    for scenario in chosen:
        try:
            run_scenario(scenario, book, backend="native")
        except ScenarioFailure as exc:
            return Result(m, "killed", len(chosen), f"{scenario.name}: {str(exc).splitlines()[1].strip()}")
        except pe.PolicyError as exc:
            return Result(m, "killed", len(chosen), f"{scenario.name}: error {str(exc).splitlines()[0]}")
    return Result(m, "survived", len(chosen))


def run(
    selected: Iterable[Mutant],
    suite: Sequence[Scenario] | None = None,
    verbose: bool = False,
    control: bool = True,
    book_name: str = BOOK_NAME,
) -> list[Result]:
    """Check each mutant; with ``control``, the rewritten but unmutated copy must pass every scenario first."""
    scenarios = list(suite) if suite is not None else load_suite()
    source = Path(str(policies_root() / book_name))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="policy-mutants-") as tmp:
        work = Path(tmp)
        if control:
            baseline = check(None, source, work, scenarios)
            if baseline.status != "survived":
                raise SystemExit(f"the unmutated rulebook does not pass its own scenarios: {baseline.detail}")
        for mutant in selected:
            result = check(mutant, source, work, scenarios)
            results.append(result)
            if verbose:
                line = f"{result.status.upper():11} {mutant.rule_id:55} {mutant.description}"
                print(line + (f"\n            {result.detail}" if result.detail and result.status != "killed" else ""))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=None, help="check a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=2024, help="seed for --sample (default 2024)")
    parser.add_argument("--rule", default=None, help="only rules whose id starts with this")
    parser.add_argument("--kind", choices=["flip", "param", "logic"], default=None, help="only this kind of mutant")
    parser.add_argument("--rulebook", default=BOOK_NAME, help=f"bundled rulebook (default {BOOK_NAME})")
    args = parser.parse_args(argv)
    book = pe.load_rulebook(args.rulebook)
    suite = load_suite(ROOT / "tests" / SCENARIO_FOLDERS.get(args.rulebook, "scenarios"))
    pool = [
        m
        for m in mutants(book)
        if (args.rule is None or m.rule_id.startswith(args.rule)) and (args.kind is None or m.kind == args.kind)
    ]
    if args.sample is not None and args.sample < len(pool):
        pool = sorted(random.Random(args.seed).sample(pool, args.sample), key=pool.index)
    started = time.perf_counter()
    results = run(pool, suite, verbose=True, book_name=args.rulebook)
    killed = sum(r.killed for r in results)
    survivors = [r for r in results if not r.killed]
    print()
    for kind in ("flip", "param", "logic"):
        of_kind = [r for r in results if r.mutant.kind == kind]
        if of_kind:
            print(f"  {kind:5}: {sum(r.killed for r in of_kind)}/{len(of_kind)} killed")
    score = 100 * killed / len(results) if results else 100.0
    print(
        f"mutation score: {killed}/{len(results)} killed ({score:.1f}%), {len(survivors)} survived "
        f"[{time.perf_counter() - started:.1f}s]"
    )
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())

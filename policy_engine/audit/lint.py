"""Static checks of a rulebook before anything runs (``policy-engine lint``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import attrs

from ..data.scenarios import ScenarioFileError, default_scenario_folder, scenario_index
from ..errors import RulebookError
from ..language.ast import Node
from ..language.checker import metric_calls, metric_key
from ..language.rules import Rule
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = ["Finding", "lint"]

SEVERITIES = ("error", "warning", "info")


@attrs.frozen
class Finding:
    """One lint finding: a stable code, a severity, the rule (or file) and a message."""

    code: str
    severity: str
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper():7s} {self.code} {self.rule_id}: {self.message}"


def lint(
    rulebook: Rulebook | str | os.PathLike[str] = "nhs-2024-25",
    scenarios: str | os.PathLike[str] | None = None,
) -> list[Finding]:
    """Every finding for a rulebook, sorted by severity then rule.

    A rulebook that does not load gives one ``E000`` error per load problem (paths, names and types
    are checked against the schemas and catalogues at load). ``scenarios`` is a folder of scenario
    files (default: the rulebook's, ``tests/scenarios`` under the current directory, if present;
    see ``data.scenarios.default_scenario_folder``) for ``W500``.
    """
    if not isinstance(rulebook, Rulebook):
        try:
            rulebook = load_rulebook(rulebook)
        except RulebookError as exc:
            return [
                Finding("E000", "error", d.path, d.message + (f" (got {d.value})" if d.value else ""))
                for d in exc.details
            ] or [Finding("E000", "error", str(rulebook), exc.summary)]
    book = rulebook
    findings: list[Finding] = []
    for rule in book.rules:
        findings.extend(_parameters(rule))
        findings.extend(_intervals(rule))
        findings.extend(_deadline(book, rule))
        if rule.assumptions:
            findings.append(
                Finding(
                    "I600",
                    "info",
                    rule.id,
                    f"rests on {len(rule.assumptions)} assumption(s): "
                    + rule.assumptions[0][:100]
                    + ("..." if len(rule.assumptions[0]) > 100 else ""),
                )
            )
        if rule.confidence != "quoted":
            findings.append(
                Finding(
                    "I610",
                    "info",
                    rule.id,
                    f"cites a {rule.confidence} row of the objectives table, not text in the guidance folder",
                )
            )
    findings.extend(_overlaps(book))
    findings.extend(_untested(book, scenarios))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (order[f.severity], f.code, f.rule_id))


def _parameters(rule: Rule) -> Iterator[Finding]:
    for p in rule.parameters.values():
        if f"param.{p.name}" not in " ".join(
            t or "" for t in (rule.condition_text, rule.applicable_if_text, rule.completed_on_text)
        ):
            yield Finding("W110", "warning", rule.id, f"parameter {p.name} is declared but never used")
        if p.wording is None:
            yield Finding("W120", "warning", rule.id, f"parameter {p.name} has no wording from the guidance")


def _bounds(rule: Rule) -> Iterator[tuple[str, str, Fraction]]:
    """(expression text, operator, constant) for each comparison with a constant in the condition's
    conjunction (its threshold shape)."""
    for c in rule.shape.comparisons:
        if c is not None and c.constant is not None:
            yield c.text, c.op, c.constant


_NATURAL = {
    "pct": (Fraction(0), Fraction(100)),
    "min_pct": (Fraction(0), Fraction(100)),
    "max_pct": (Fraction(0), Fraction(100)),
}


def _natural_range(text: str) -> tuple[Fraction, Fraction] | None:
    func = text.split("(", 1)[0]
    return _NATURAL.get(func) if "(" in text and text.endswith(")") and text.count("(") == 1 else None


def _intervals(rule: Rule) -> Iterator[Finding]:
    """Contradictory conjunctions (can never fire) and comparisons that always hold."""
    by_expr: dict[str, list[tuple[str, Fraction]]] = {}
    for expr, op, value in _bounds(rule):
        by_expr.setdefault(expr, []).append((op, value))
    for expr, cons in by_expr.items():
        lo, lo_strict, hi, hi_strict = None, False, None, False
        for op, v in cons:
            if op in (">", ">=") and (lo is None or v > lo or (v == lo and op == ">")):
                lo, lo_strict = v, op == ">"
            if op in ("<", "<=") and (hi is None or v < hi or (v == hi and op == "<")):
                hi, hi_strict = v, op == "<"
            if op == "==":
                lo = hi = v
        if lo is not None and hi is not None and (lo > hi or (lo == hi and (lo_strict or hi_strict))):
            yield Finding("E200", "error", rule.id, f"can never be true: {expr} cannot satisfy {cons}")
        natural = _natural_range(expr)
        if natural is not None and len(cons) == 1:
            op, v = cons[0]
            never = (
                (op == ">" and v >= natural[1])
                or (op == ">=" and v > natural[1])
                or (op == "<" and v <= natural[0])
                or (op == "<=" and v < natural[0])
            )
            always = (op == ">=" and v <= natural[0]) or (op == "<=" and v >= natural[1])
            if never:
                yield Finding("E201", "error", rule.id, f"can never be true: {expr} {op} {v} (range 0..100)")
            if always:
                yield Finding("W202", "warning", rule.id, f"always true when known: {expr} {op} {v} (range 0..100)")


def _deadline(book: Rulebook, rule: Rule) -> Iterator[Finding]:
    if rule.period is not None and rule.deadline is None and rule.kind != "obligation":
        yield Finding(
            "W410",
            "warning",
            rule.id,
            f"judges period {rule.period.name} but has no deadline, so it is judged before the period is complete",
        )


def _metric_keys(node: Node) -> set[tuple[str, str]]:
    return {metric_key(c) for c in metric_calls(node)}


def _overlaps(book: Rulebook) -> Iterator[Finding]:
    """Pairs of rules that judge the same metric over the same period for a shared organisation type."""
    seen: dict[tuple[str, str], list[Rule]] = {}
    for rule in book.rules:
        for key in _metric_keys(rule.condition):
            seen.setdefault(key, []).append(rule)
    reported: set[tuple[str, str]] = set()
    for (metric, period), rules in sorted(seen.items()):
        for i, a in enumerate(rules):
            for b in rules[i + 1 :]:
                shared = sorted(set(a.applies_to) & set(b.applies_to))
                pair = (a.id, b.id)
                if not shared or pair in reported or a.id in b.depends_on or b.id in a.depends_on:
                    continue
                reported.add(pair)
                yield Finding(
                    "I300",
                    "info",
                    a.id,
                    f"overlaps {b.id}: both judge {metric} over {period} for "
                    f"{', '.join(shared)} (check they do not conflict)",
                )


def _untested(book: Rulebook, scenarios: str | os.PathLike[str] | None) -> Iterator[Finding]:
    folder = Path(scenarios) if scenarios is not None else default_scenario_folder(book.id)
    if not folder.is_dir():
        return
    try:
        named = scenario_index(folder)
    except ScenarioFileError as exc:  # the tests cannot be counted: say why instead
        for d in exc.details:
            yield Finding("E510", "error", d.path, d.message + (f" (got {d.value})" if d.value else ""))
        return
    for rule in book.rules:
        if rule.id not in named:
            yield Finding("W500", "warning", rule.id, f"no scenario test under {folder} names this rule")

"""Explanations: the derivation of one outcome as a tree a person can read."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation.outcomes import Evaluation, Outcome
from ..io.terminal import inline_text
from ..rulebook.loader import Rulebook

__all__ = ["explain", "explain_tree"]


def explain_tree(evaluation: Evaluation, rule_id: str, org_id: str, rulebook: Rulebook | None = None) -> dict[str, Any]:
    """The derivation of one outcome as nested data: its evidence, and the outcomes it read, recursively."""
    outcome = evaluation.outcome(rule_id, org_id)
    return _tree(evaluation, outcome, rulebook, seen=set())


def _tree(evaluation: Evaluation, outcome: Outcome, book: Rulebook | None, seen: set[str]) -> dict[str, Any]:
    seen = seen | {outcome.rule_id}
    node: dict[str, Any] = {
        "rule": outcome.rule_id,
        "organisation": outcome.org_id,
        "status": outcome.status,
        "title": outcome.title,
        "explanation": outcome.explanation,
        "evidence": [e for e in outcome.to_dict()["evidence"] if e["kind"] != "outcome"],
        "citation": outcome.to_dict()["citation"],
        "assumptions": list(outcome.assumptions),
        "derived_from": [],
    }
    if book is not None:
        rule = book.rule(outcome.rule_id)
        node["condition"] = rule.condition_text
        node["timing"] = rule.timing_text()
        if rule.applicable_if_text:
            node["applicable_if"] = rule.applicable_if_text
    for e in outcome.evidence:
        if e.kind == "outcome" and e.name not in seen:
            dep = evaluation.outcome(e.name, outcome.org_id)
            node["derived_from"].append(_tree(evaluation, dep, book, seen))
    return node


def explain(evaluation: Evaluation, rule_id: str, org_id: str, rulebook: Rulebook | None = None) -> str:
    """The derivation of one outcome as indented text: facts and numbers used, the comparisons that
    decided it, every forward-chained outcome it rests on, and the quoted guidance."""
    try:
        tree = explain_tree(evaluation, rule_id, org_id, rulebook)
    except PolicyError:
        raise
    except Exception as exc:
        raise PolicyError(
            "cannot explain this outcome",
            [ErrorDetail(f"{rule_id} / {org_id}", str(exc), code=ErrorCode.EXPLAIN_FAILED)],
        ) from exc
    lines: list[str] = []
    _render(tree, lines, 0)
    return "\n".join(lines)


def _render(node: dict[str, Any], lines: list[str], depth: int) -> None:
    """The tree as lines of text; every value from the data or the rulebook is put on its line with
    ``inline_text`` (its line breaks and control characters shown escaped), so that the layout is
    the renderer's."""
    pad, t = "  " * depth, _one
    lines.append(f"{pad}{t(node['rule'])} [{t(node['organisation'])}]: {node['status'].upper()}")
    lines.append(f"{pad}  {t(node['explanation'])}")
    if "condition" in node:
        lines.append(f"{pad}  condition: {t(_spaced(node['condition']))}")
    if "applicable_if" in node:
        lines.append(f"{pad}  applies if: {t(_spaced(node['applicable_if']))}")
    if "timing" in node:
        lines.append(f"{pad}  timing: {t(node['timing'])}")
    for e in node["evidence"]:
        if e["kind"] == "comparison":
            lines.append(f"{pad}  compared: {t(e.get('reference', e['name']))}")
            continue
        extra = []
        if "period" in e:
            extra.append(t(e["period"]))
        if "numerator" in e:
            extra.append(f"{t(e['numerator'])}/{t(e['denominator'])}")
        if "date" in e:
            extra.append(f"dated {t(e['date'])}")
        if "reference" in e:
            extra.append(f"evidence: {t(e['reference'])}")
        suffix = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"{pad}  {t(e['kind'])} {t(e['name'])} = {t(e['value'])}{suffix}")
    c = node["citation"]
    lines.append(f"{pad}  source: {t(c['document'])}, \u00a7 {t(c['section'])} [{t(c['confidence'])}]")
    lines.append(f"{pad}    \u201c{t(c['quote'])}\u201d")
    for a in node["assumptions"]:
        lines.append(f"{pad}  assumption: {t(a)}")
    for child in node["derived_from"]:
        lines.append(f"{pad}  derived from:")
        _render(child, lines, depth + 2)


def _one(value: Any) -> str:
    return inline_text(f"{value}")


def _spaced(expression: str) -> str:
    """An expression on one line: its line breaks and indents (insignificant) as single spaces."""
    return re.sub(r"[ \t\r\n]+", " ", expression).strip()

"""The coverage ledger: guidance requirement -> rules, or the reason it is not a rule."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import attrs

from ..data.scenarios import default_scenario_folder, scenario_index
from ..errors import ErrorCode, ErrorDetail, RulebookError
from ..io.schemas import schema_validator
from ..rulebook.loader import Rulebook, _read_yaml

__all__ = ["Coverage", "LedgerEntry", "load_coverage", "scenario_counts"]


@attrs.frozen
class LedgerEntry:
    """One guidance item: a bullet, a requirement sentence or an objectives-table row."""

    id: str
    area: str
    document: str
    section: str
    quote: str
    rules: tuple[str, ...] = ()
    not_a_rule: str | None = None


@attrs.frozen
class Coverage:
    """The checked ledger of a rulebook."""

    rulebook: Rulebook
    entries: tuple[LedgerEntry, ...]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per area: items, items implemented by rules, items judged not to be rules, rules."""
        out: dict[str, dict[str, int]] = {}
        rules_per_area = Counter(r.area for r in self.rulebook.rules)
        for e in self.entries:
            row = out.setdefault(e.area, {"items": 0, "implemented": 0, "not_a_rule": 0, "rules": 0})
            row["items"] += 1
            row["implemented" if e.rules else "not_a_rule"] += 1
        for area, n in rules_per_area.items():
            out.setdefault(area, {"items": 0, "implemented": 0, "not_a_rule": 0, "rules": 0})["rules"] = n
        return dict(sorted(out.items()))

    def to_markdown(self, scenarios: Mapping[str, int] | None = None) -> str:
        """The traceability summary and the list of items judged not to be rules, with reasons.

        Given ``scenarios`` (rule id -> number of scenario tests), also the full matrix: guidance
        item -> rules -> scenario tests.
        """
        counts = self.counts()
        lines = [
            f"# Coverage of {self.rulebook.id} {self.rulebook.version}",
            "",
            "| area | guidance items | implemented by rules | not a rule | rules |",
            "|---|---|---|---|---|",
        ]
        for area, c in counts.items():
            lines.append(f"| {area} | {c['items']} | {c['implemented']} | {c['not_a_rule']} | {c['rules']} |")
        total = {k: sum(c[k] for c in counts.values()) for k in ("items", "implemented", "not_a_rule", "rules")}
        lines.append(
            f"| **total** | {total['items']} | {total['implemented']} | {total['not_a_rule']} | {total['rules']} |"
        )
        lines += ["", "## Items judged not to be rules", ""]
        for e in self.entries:
            if e.not_a_rule:
                lines.append(f"- `{e.id}` ({e.area}) \u201c{e.quote}\u201d \u2014 {e.not_a_rule}")
        if scenarios is not None:
            lines += [
                "",
                "## Guidance item \u2192 rules \u2192 scenario tests",
                "",
                "| item | area | rules (scenario tests) |",
                "|---|---|---|",
            ]
            for e in self.entries:
                cell = ", ".join(f"`{r}` ({scenarios.get(r, 0)})" for r in e.rules) or "not a rule"
                lines.append(f"| `{e.id}` | {e.area} | {cell} |")
        lines += ["", "## How each rule is judged over time", "", "| rule | kind | timing |", "|---|---|---|"]
        for rule in self.rulebook.rules:
            lines.append(f"| `{rule.id}` | {rule.kind} | {rule.timing_text()} |")
        return "\n".join(lines) + "\n"

    def to_html(self, scenarios: Mapping[str, int] | None = None) -> str:
        """The traceability matrix as a self-contained HTML page: counts per area, then every guidance
        item with its quote and the rules that implement it (or the reason it is not a rule)."""
        import html

        counts = self.counts()
        rows = "".join(
            f"<tr><td>{html.escape(a)}</td><td>{c['items']}</td><td>{c['implemented']}</td>"
            f"<td>{c['not_a_rule']}</td><td>{c['rules']}</td></tr>"
            for a, c in counts.items()
        )
        timings = {r.id: r.timing_text() for r in self.rulebook.rules}
        items = "".join(
            f'<tr id="{html.escape(e.id)}"><td><code>{html.escape(e.id)}</code></td><td>{html.escape(e.area)}</td>'
            f"<td>{html.escape(e.section)}</td><td>\u201c{html.escape(e.quote)}\u201d</td><td>"
            + (
                "<br>".join(
                    f"<code>{html.escape(r)}</code>"
                    + (f" ({scenarios.get(r, 0)} scenario tests)" if scenarios is not None else "")
                    + f" — {html.escape(timings[r])}"
                    for r in e.rules
                )
                if e.rules
                else f"<em>not a rule:</em> {html.escape(e.not_a_rule or '')}"
            )
            + "</td></tr>"
            for e in self.entries
        )
        title = f"Coverage of {html.escape(self.rulebook.id)} {html.escape(self.rulebook.version)}"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px;"
            "vertical-align:top;font-size:13px}th{background:#eee}</style></head><body>"
            f"<h1>{title}</h1><table><thead><tr><th>area</th><th>guidance items</th><th>implemented by rules</th>"
            f"<th>not a rule</th><th>rules</th></tr></thead><tbody>{rows}</tbody></table>"
            "<h2>Guidance item \u2192 rules</h2><table><thead><tr><th>item</th><th>area</th><th>section</th>"
            f"<th>quote</th><th>rules</th></tr></thead><tbody>{items}</tbody></table></body></html>\n"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "counts": self.counts(),
                "entries": [attrs.asdict(e) for e in self.entries],
                "timings": {
                    r.id: {
                        "timing": r.timing,
                        "deadline": r.deadline.isoformat() if r.deadline else None,
                        "in_force": r.in_force.isoformat() if r.in_force else None,
                        "words": r.timing_text(),
                    }
                    for r in self.rulebook.rules
                },
            },
            indent=2,
            ensure_ascii=False,
        )


def _ledger_problem(
    index: int, item: str, code: ErrorCode, field: tuple[str, ...], message: str, value: str | None = None
) -> ErrorDetail:
    """A problem with ``field`` of the ledger's item ``index``: ``coverage.yaml.ledger[0] (id).field``."""
    return ErrorDetail("coverage.yaml", message, value, code=code, location=("ledger", index, *field), label=item)


def load_coverage(rulebook: Rulebook) -> Coverage:
    """Read and check ``coverage.yaml`` beside a rulebook: schema, quotes found verbatim in their
    document (when it is shipped; ``verify_sources`` checks the others), every listed rule defined,
    every rule listed. RulebookError lists every problem."""
    entry = rulebook.folder / "coverage.yaml"
    if not entry.is_file():
        raise RulebookError(
            "no coverage ledger",
            [ErrorDetail(rulebook.location, "coverage.yaml is missing", code=ErrorCode.COVERAGE_MISSING)],
        )
    doc = _read_yaml("coverage.yaml", entry.read_text(encoding="utf-8"))
    errors: list[ErrorDetail] = []
    validator = schema_validator("coverage.schema.json")
    for err in validator.iter_errors(doc):
        errors.append(
            ErrorDetail(
                "coverage.yaml", err.message[:200], code=ErrorCode.COVERAGE_SCHEMA, location=tuple(err.absolute_path)
            )
        )
    if errors:
        raise RulebookError("the coverage ledger does not match its schema", errors)
    known = {r.id for r in rulebook.rules}
    listed: set[str] = set()
    seen: set[str] = set()
    entries = []
    for i, e in enumerate(doc["ledger"]):
        if e["id"] in seen:
            errors.append(_ledger_problem(i, e["id"], ErrorCode.COVERAGE_DUPLICATE, (), "duplicate ledger id"))
        seen.add(e["id"])
        checked = rulebook.quote_checked(e["document"], e["quote"])  # None: an external text
        if e["document"] not in rulebook.source_specs:
            errors.append(
                _ledger_problem(
                    i,
                    e["id"],
                    ErrorCode.COVERAGE_SOURCE,
                    ("document",),
                    "not one of the rulebook's sources",
                    e["document"],
                )
            )
        elif checked is False:
            errors.append(
                _ledger_problem(
                    i,
                    e["id"],
                    ErrorCode.COVERAGE_SOURCE,
                    ("quote",),
                    f"not found verbatim in {e['document']}",
                    e["quote"][:80],
                )
            )
        for rid in e.get("rules", []):
            if rid not in known:
                errors.append(
                    _ledger_problem(i, e["id"], ErrorCode.COVERAGE_UNKNOWN_RULE, ("rules",), "no such rule", rid)
                )
            listed.add(rid)
        entries.append(
            LedgerEntry(
                e["id"],
                e["area"],
                e["document"],
                e["section"],
                e["quote"],
                tuple(e.get("rules", ())),
                e.get("not_a_rule"),
            )
        )
    for rid in sorted(known - listed):
        errors.append(
            ErrorDetail("coverage.yaml", "rule implements no ledger item", rid, code=ErrorCode.COVERAGE_UNLISTED_RULE)
        )
    if errors:
        raise RulebookError("the coverage ledger is inconsistent", errors)
    return Coverage(rulebook, tuple(entries))


def scenario_counts(
    folder: str | os.PathLike[str] | None = None, rulebook_id: str | None = None
) -> dict[str, int] | None:
    """Rule id -> number of scenario tests naming it, from a folder of scenario files (default: the
    scenario folder of ``rulebook_id`` under the current directory, ``tests/scenarios`` or
    ``tests/scenarios-2025-26``: ``data.scenarios.default_scenario_folder``); None when there is no
    such folder. A malformed scenario file raises ScenarioFileError (see ``policy_engine.data.scenarios``)."""
    root = Path(folder) if folder is not None else default_scenario_folder(rulebook_id)
    if not root.is_dir():
        return None
    return {rule: len({(f, name) for f, name, _, _ in rows}) for rule, rows in scenario_index(root).items()}

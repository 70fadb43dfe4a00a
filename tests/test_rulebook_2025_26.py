"""The nhs-2025-26 rulebook against the 2025/26 guidance text, which the project does not ship.

The text is read in place from ``../shared/guidance/2025-26/`` (never copied into the project); these
tests skip, saying why, where that folder is absent. They check:

(a) the copies there are the ones the rulebook records (sha256), and every rule and ledger quote is
    found in them once normalised as the rulebook declares (``policy_engine.rulebook.sources``);
(b) each of the 18 success measures of the table has a ledger entry ``measure.<row>`` quoting the
    row's wording exactly, and row 6 is two rules;
(c) every bullet of the guidance's body, and every other sentence of it that places a requirement
    ("must", "should", "we ask", "expected to", "comply or explain", "need to", "are asked to",
    "required to"), is covered by a ledger entry whose quote lies within it (or holds it);
(d) every rule is listed by the ledger (checked when the ledger loads) and has a ``measure``.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

import pytest

import policy_engine as pe
from policy_engine.audit.coverage import load_coverage
from policy_engine.audit.sources import verify_sources
from policy_engine.rulebook.sources import normalise_source, table_cells

SHARED = Path(__file__).resolve().parents[2] / "shared" / "guidance" / "2025-26"
GUIDANCE = "nhse-2025-26-priorities-and-operational-planning-guidance.md"
TABLE = "national-priorities-2025-26.md"
needs_text = pytest.mark.skipif(
    not (SHARED / GUIDANCE).is_file(),
    reason=f"the 2025/26 guidance text is not beside the project ({SHARED}); it is not shipped with it",
)

REQUIREMENT = re.compile(
    r"\b(must|should|we ask|we are asking|expected to|comply or explain|need to|are asked to|required to)\b",
    re.IGNORECASE,
)
BODY_START = "Our national priorities for 2025/26"
BODY_END = "National priorities and success measures for 2025/26"


@cache
def book() -> pe.Rulebook:
    return pe.load_rulebook("nhs-2025-26")


_BULLET = "\u2063"  # an invisible separator put where each bullet starts, before normalisation


@cache
def body_items() -> tuple[str, ...]:
    """The items of the guidance's body (from its priorities to the success-measures table) a ledger
    must cover, normalised as the rulebook declares: every bullet and sub-bullet (``\u2022``, and
    ``o`` at a line's start or after a bullet's text), and every other sentence that places a requirement."""
    spec = book().source_specs[GUIDANCE]
    raw = (SHARED / GUIDANCE).read_text(encoding="utf-8")
    raw = re.sub(r"\u2022|(?:(?<=\n)|(?<=\s))o\s(?=[a-z])", _BULLET, raw)
    text = normalise_source(raw, spec)
    start, end = text.index(BODY_START), text.index(BODY_END)
    items: list[str] = []
    for n, chunk in enumerate(text[start:end].split(_BULLET)):
        chunk = chunk.strip()
        if n and chunk:  # a bullet: its first sentence (what the bullet asks), and any requirement after
            first, *rest = re.split(r"(?<=[.;])\s+(?=[A-Z])", chunk)
            items.append(first.strip())
            items.extend(p.strip() for p in rest if REQUIREMENT.search(p))
        else:
            items.extend(p.strip() for p in re.split(r"(?<=[.;:])\s+(?=[A-Z])", chunk) if REQUIREMENT.search(p))
    return tuple(i for i in items if len(i) > 12)


@needs_text
def test_every_quote_is_found_in_the_copy_the_rulebook_was_verified_against() -> None:
    report = verify_sources(book(), SHARED)
    assert [s.status for s in report.sources] == ["verified", "verified"], report.to_text()
    bad = [f"{q.kind} {q.id}: {q.reason}: {q.quote[:90]}" for q in report.quotes if q.status != "found"]
    assert not bad, "\n".join(bad)
    assert report.ok


@needs_text
def test_each_success_measure_has_a_ledger_entry_quoting_its_row() -> None:
    rows = table_cells((SHARED / TABLE).read_text(encoding="utf-8"), 2)
    assert len(rows) == 18
    entries = {e.id: e for e in load_coverage(book()).entries}
    for n, row in enumerate(rows, start=1):
        entry = entries.get(f"measure.{n}")
        assert entry is not None, f"no ledger entry measure.{n} for: {row}"
        assert entry.document == TABLE and entry.quote == row, (n, entry.quote)
    assert len(entries["measure.6"].rules) == 2, "row 6 is two requirements (4-hour in March; 12-hour over the year)"


@needs_text
def test_every_bullet_and_requirement_sentence_of_the_body_is_in_the_ledger() -> None:
    spec = book().source_specs[GUIDANCE]
    quotes = [normalise_source(e.quote, spec) for e in load_coverage(book()).entries if e.document == GUIDANCE]
    sentences = body_items()
    assert len(sentences) > 60, "the body's bullets and requirement sentences went missing"
    uncovered = [s for s in sentences if not any(q in s or s in q for q in quotes)]
    assert not uncovered, "bullets and requirement sentences with no ledger entry:\n" + "\n".join(
        f"- {s}" for s in uncovered
    )


def test_every_rule_names_its_measure_and_is_in_the_ledger() -> None:
    b = book()
    assert len(b.rules) >= 18
    assert not [r.id for r in b.rules if r.measure is None]
    load_coverage(b)  # every rule listed, every listed rule defined


def test_the_guidance_is_not_copied_into_the_project() -> None:
    root = Path(__file__).resolve().parents[1]
    assert not list((root / "policies" / "nhs-2025-26").glob("sources/*"))
    digests = {spec.sha256 for spec in book().source_specs.values()}
    for path in root.rglob("*"):
        if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts and path.stat().st_size < 10**6:
            assert hashlib.sha256(path.read_bytes()).hexdigest() not in digests, path


def test_lint_and_coverage_read_the_2025_26_scenarios_not_the_year_befores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both years have a rule ``uec.ae-4h-78``: lint and coverage count each rulebook's own scenario
    folder (tests/scenarios-2025-26 for nhs-2025-26), so 2024/25's tests are not credited to 2025/26."""
    from policy_engine.audit.coverage import scenario_counts
    from policy_engine.audit.lint import lint
    from policy_engine.data.scenarios import scenario_index

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    findings = lint("nhs-2025-26")
    assert [f for f in findings if f.severity != "info"] == []  # lint clean, W500 included
    own = scenario_index(root / "tests" / "scenarios-2025-26")
    counts = scenario_counts(None, "nhs-2025-26")
    assert counts is not None
    assert counts["uec.ae-4h-78"] == len({(f, n) for f, n, _, _ in own["uec.ae-4h-78"]})
    assert counts != scenario_counts(None, "nhs-2024-25")
    assert all(f.startswith("tests/scenarios-2025-26/") for f, _, _, _ in own["uec.ae-4h-78"])

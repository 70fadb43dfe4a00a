"""Checks the coverage ledger (policies/nhs-2024-25/coverage.yaml) against the guidance and the rule files.

The guidance is the copy shipped with the rulebook (policies/nhs-2024-25/sources; test_sources.py checks
it is byte-for-byte ../shared/guidance when that is beside the project), so this needs nothing outside
the repository.

Deliberately independent of the engine: it reads the YAML files and the guidance text directly
(standard library + PyYAML only), so the ledger can be checked even when the engine does not load.

(a) every "- " bullet of the annex has a ledger entry whose quote is contained in it;
(b) every ledger quote occurs verbatim (whitespace-normalised) and exactly once in its document;
(c) every entry has exactly one of `rules` / `not_a_rule`;
(d) every rule id the ledger lists is defined in a rule file;
(e) every rule defined in the rule files is listed by some ledger entry;
(f) all 32 rows of the national objectives table have an entry.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

POLICY_DIR = Path(__file__).resolve().parents[1] / "policies" / "nhs-2024-25"
GUIDANCE_DIR = POLICY_DIR / "sources"
LEDGER_FILE = POLICY_DIR / "coverage.yaml"
NON_RULE_FILES = {"rulebook.yaml", "coverage.yaml"}

GUIDANCE = "nhse-2024-25-priorities-and-operational-planning-guidance.txt"
OBJECTIVES = "national-objectives-2024-25.md"
N_OBJECTIVES = 32

AREAS = {
    "urgent-emergency-care",
    "elective",
    "cancer",
    "diagnostics",
    "maternity-womens-health",
    "mental-health",
    "learning-disability-autism",
    "prevention-inequalities",
    "quality-safety",
    "primary-community",
    "primary-secondary-interface",
    "workforce",
    "digital",
    "use-of-resources",
    "system-working",
}

_WS = re.compile(r"\s+")


def norm(text: str) -> str:
    """Whitespace-normalise: every run of whitespace (incl. non-breaking spaces) becomes one space."""
    return _WS.sub(" ", text.replace("\u00a0", " ")).strip()


@cache
def document_text(name: str) -> str:
    return norm((GUIDANCE_DIR / name).read_text(encoding="utf-8"))


@cache
def ledger() -> tuple:
    data = yaml.safe_load(LEDGER_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("ledger"), list), "coverage.yaml needs a `ledger:` list"
    return tuple(data["ledger"])


def annex_bullets() -> list[str]:
    lines = (GUIDANCE_DIR / GUIDANCE).read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Annex"]
    assert starts, 'no "Annex" line in the guidance text'
    return [norm(line[2:]) for line in lines[starts[0] :] if line.startswith("- ")]


def objective_rows() -> dict[int, str]:
    rows = {}
    for line in (GUIDANCE_DIR / OBJECTIVES).read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(\d+)\s*\|([^|]*)\|([^|]*)\|", line)
        if m:
            rows[int(m.group(1))] = norm(m.group(3))
    return rows


@cache
def defined_rules() -> dict:
    """rule id -> file name, over every area file of the rulebook."""
    rules = {}
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        if path.name in NON_RULE_FILES:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule in data.get("rules") or []:
            if isinstance(rule, dict) and "id" in rule:
                rules[rule["id"]] = path.name
    return rules


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} {what}:\n  " + "\n  ".join(problems)


def test_entries_are_well_formed():
    problems = []
    seen = set()
    for n, entry in enumerate(ledger()):
        eid = entry.get("id", f"<entry #{n}>")
        for key in ("id", "area", "document", "section", "quote"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{eid}: missing or empty `{key}`")
        if eid in seen:
            problems.append(f"{eid}: duplicate id")
        seen.add(eid)
        if entry.get("area") not in AREAS:
            problems.append(f"{eid}: unknown area {entry.get('area')!r}")
        if isinstance(entry.get("document"), str) and not (GUIDANCE_DIR / entry["document"]).is_file():
            problems.append(f"{eid}: document {entry['document']!r} not in {GUIDANCE_DIR}")
    _fail_if(problems, "malformed ledger entries")


def test_a_every_annex_bullet_has_an_entry():
    bullets = annex_bullets()
    assert bullets, "no bullets found in the annex"
    quotes = [norm(e["quote"]) for e in ledger() if e.get("document") == GUIDANCE and isinstance(e.get("quote"), str)]
    missing = [b[:120] for b in bullets if not any(q and q in b for q in quotes)]
    _fail_if(missing, f"of {len(bullets)} annex bullets have no ledger entry whose quote is contained in them")


def test_b_quotes_are_verbatim_and_unique():
    problems = []
    for entry in ledger():
        doc, quote = entry.get("document"), entry.get("quote")
        if not isinstance(doc, str) or not isinstance(quote, str) or not (GUIDANCE_DIR / doc).is_file():
            continue  # reported by test_entries_are_well_formed
        count = document_text(doc).count(norm(quote))
        if count != 1:
            problems.append(f"{entry['id']}: quote found {count} times in {doc}: {quote[:80]!r}")
    _fail_if(problems, "quotes not found exactly once in their document")


def test_c_exactly_one_of_rules_or_not_a_rule():
    problems = []
    for entry in ledger():
        has_rules, has_reason = "rules" in entry, "not_a_rule" in entry
        if has_rules == has_reason:
            problems.append(f"{entry.get('id')}: has {'both' if has_rules else 'neither'} of rules / not_a_rule")
        elif has_rules:
            rules = entry["rules"]
            if not isinstance(rules, list) or not rules or not all(isinstance(r, str) and r for r in rules):
                problems.append(f"{entry.get('id')}: `rules` must be a non-empty list of rule ids")
        elif not isinstance(entry["not_a_rule"], str) or not entry["not_a_rule"].strip():
            problems.append(f"{entry.get('id')}: `not_a_rule` must be a non-empty reason")
    _fail_if(problems, "entries without exactly one of rules / not_a_rule")


def test_d_listed_rules_exist():
    defined = defined_rules()
    problems = [
        f"{entry.get('id')}: rule {rid!r} is not defined in any rule file"
        for entry in ledger()
        for rid in (entry.get("rules") or [])
        if rid not in defined
    ]
    _fail_if(problems, "ledger rule ids not defined")


def test_e_every_rule_is_listed():
    listed = {rid for entry in ledger() for rid in (entry.get("rules") or [])}
    problems = [f"{rid} ({path})" for rid, path in sorted(defined_rules().items()) if rid not in listed]
    _fail_if(problems, "rules listed by no ledger entry")


def test_f_all_objective_rows_present():
    rows = objective_rows()
    assert sorted(rows) == list(range(1, N_OBJECTIVES + 1)), f"objectives table rows: {sorted(rows)}"
    by_id = {e.get("id"): e for e in ledger()}
    problems = []
    for n, wording in rows.items():
        entry = by_id.get(f"objective.{n}")
        if entry is None:
            problems.append(f"objective.{n}: no entry")
        elif entry.get("document") != OBJECTIVES:
            problems.append(f"objective.{n}: document should be {OBJECTIVES}")
        elif norm(entry.get("quote") or "") != wording:
            problems.append(f"objective.{n}: quote is not the row's objective wording")
    _fail_if(problems, "objective rows missing or wrong")

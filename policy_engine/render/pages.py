"""The rule reference's pages (Markdown for MkDocs): one per guidance area, an index and the coverage ledger.

Layout only: conditions are worded by ``render.english``, numbers, dates and periods by
``render.words``; the scenario tests naming each rule come from ``data.scenarios``. The output is
deterministic (sorted, no timestamps). Writing the pages and the command line are ``render.docs``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .._resources import bundled_rulebooks
from ..audit.catalogue import catalogue, month_range, reads
from ..audit.coverage import load_coverage
from ..audit.diff import CHANGE_CLASSES, diff_years
from ..data.scenarios import default_scenario_folder, scenario_index
from ..errors import ErrorCode, RulebookError
from ..language.rules import ORGANISATION_TYPES, Rule
from ..language.statuses import when_label
from ..rulebook.loader import Rulebook, load_rulebook
from .english import Words
from .words import code, date_words, escape, one_line, period_label, period_range, quantity

__all__ = ["REGENERATE", "YEAR_ON_YEAR_PAGE", "render_pages", "year_on_year_page"]

REGENERATE = "python -m policy_engine.render.docs"
"""The command that writes the reference pages (named on the index page)."""

_KINDS = ("target", "obligation", "breach", "eligibility")
_PLURALS = {"target": "targets", "obligation": "obligations", "breach": "breaches", "eligibility": "eligibility rules"}
_ORG_TYPES = {
    "acute_trust": "acute trusts",
    "ambulance_trust": "ambulance trusts",
    "mental_health_trust": "mental health trusts",
    "community_provider": "community providers",
    "icb": "ICBs",
    "gp_practice": "GP practices",
    "pcn": "primary care networks (PCNs)",
}


def _types(rule: Rule) -> str:
    return ", ".join(_ORG_TYPES.get(t, t) for t in rule.applies_to)


def _rule_link(book: Rulebook, current_area: str) -> Callable[[str], str]:
    areas = {r.id: r.area for r in book.rules}

    def link(rid: str) -> str:
        area = areas.get(rid)
        if area is None:
            return code(rid)
        target = f"#{rid}" if area == current_area else f"{area}.md#{rid}"
        return f"[{code(rid)}]({target})"

    return link


def _reads(book: Rulebook, rule: Rule) -> tuple[list[str], list[str], list[str]]:
    """The metrics, facts and services a rule's expressions read, each sorted (``audit.catalogue.reads``)."""
    r = reads(rule, book)
    return sorted(r.metrics), sorted(r.facts), sorted(r.services)


_WARNINGS = {
    "reconstructed": (
        "Reconstructed wording",
        "This rule rests on a **reconstructed** row of the national objectives table (a RECON row): its "
        "wording was reconstructed from the published table and is not confirmed by any source text held "
        "with the rulebook. Check it against the published objectives before relying on the outcome.",
    ),
    "published": (
        "Published wording, not in the guidance folder",
        "This rule rests on a row of the national objectives table whose wording is confirmed by an "
        "independent **published** source (a PUB row), but the guidance text held with the rulebook has that "
        "table cell empty: the quote is from the objectives table, not from the guidance document.",
    ),
}


def _entry(
    book: Rulebook,
    rule: Rule,
    readers: Mapping[str, list[str]],
    scenarios: Mapping[str, list[tuple[str, str, str, str]]] | None,
) -> list[str]:
    link = _rule_link(book, rule.area)
    words = Words(book, rule, link)
    out = [f"## {escape(rule.title)} {{#{rule.id}}}", ""]
    out.append(f"{code(rule.id)} · **{rule.kind}** · applies to {_types(rule)}")
    out.append("")
    if rule.confidence in _WARNINGS:
        title, text = _WARNINGS[rule.confidence]
        out += [f'!!! warning "{title}"', "", f"    {text}", ""]
    if rule.applicable_if is not None and rule.applicable_if_text is not None:
        out.append(f"**Applies when** {words.guard(rule.applicable_if)}; otherwise the outcome is `not_applicable`.")
        out += ["", "```text", one_line(rule.applicable_if_text), "```", ""]
    lead, items = words.condition(rule.condition)
    when = when_label(rule.kind)
    if items:
        out += [f"**{when}** {lead}:", ""] + [f"- {item}" for item in items] + [""]
    else:
        out += [f"**{when}** {lead}.", ""]
    out += ["```text", one_line(rule.condition_text), "```", ""]
    if rule.completed_on is not None and rule.completed_on_text is not None:
        late = "; done after the deadline is `met_late`" if rule.deadline is not None else ""
        out.append(f"**Completed on** {words.expr(rule.completed_on)} (`{one_line(rule.completed_on_text)}`){late}.")
        out.append("")
    if rule.parameters:
        out += ["| parameter | value | unit | the guidance's wording |", "|---|---|---|---|"]
        for name, p in sorted(rule.parameters.items()):
            wording = escape(p.wording) if p.wording else "—"
            out.append(f"| {code(name)} | {escape(quantity(p.value, p.unit))} | {escape(p.unit)} | {wording} |")
        out.append("")
    facts_line = [f"**Timing** {escape(rule.timing_text())}"]
    if rule.period is not None:
        facts_line.append(f"**Period** {period_label(rule.period)} ({period_range(rule.period)})")
    if rule.objective is not None:
        facts_line.append(f"**National objective** row {rule.objective}")
    out += [" · ".join(facts_line), ""]
    src = rule.source
    out.append(f"**Source** {code(src.document)}, section “{escape(src.section)}”:")
    out += ["", f"> {escape(one_line(src.quote))}", ""]
    out.append(f"**Confidence** `{rule.confidence}`")
    out.append("")
    if rule.assumptions:
        out += ["**Assumptions**", ""] + [f"- {escape(one_line(a))}" for a in rule.assumptions] + [""]
    metrics, facts, services = _reads(book, rule)
    if metrics or facts or services:
        out += ["**Data it reads**", ""]
        for m in metrics:
            md = book.metrics[m]
            out.append(f"- metric {code(m)} ({md.kind}, {escape(md.unit)}): {escape(one_line(md.description))}")
        for f in facts:
            fd = book.facts[f]
            unit = f", {escape(fd.unit)}" if fd.unit else ""
            out.append(f"- fact {code(f)} ({fd.type}{unit}): {escape(one_line(fd.description))}")
        for s in services:
            out.append(f"- service {code(s)}: {escape(one_line(book.services[s].description))}")
        out.append("")
    if rule.depends_on:
        out += ["**Reads the outcome of** " + ", ".join(link(d) for d in rule.depends_on), ""]
    if readers.get(rule.id):
        out += ["**Read by** " + ", ".join(link(d) for d in readers[rule.id]), ""]
    if scenarios is not None:
        tests = scenarios.get(rule.id, [])
        if not tests:
            out += ["**Scenario tests** none name this rule.", ""]
        else:
            out += ["**Scenario tests**", ""]
            by_file: dict[str, dict[str, list[str]]] = {}
            for file, name, org, status in tests:
                by_file.setdefault(file, {}).setdefault(one_line(name), []).append(f"{escape(org)} `{status}`")
            for file, cases in by_file.items():
                out.append(f"- {code(file)}")
                out += [f"    - {escape(name)}: {', '.join(expects)}" for name, expects in cases.items()]
            out.append("")
    return out


def _area_page(
    book: Rulebook,
    area: str,
    readers: Mapping[str, list[str]],
    scenarios: Mapping[str, list[tuple[str, str, str, str]]] | None,
) -> str:
    rules = sorted((r for r in book.rules if r.area == area), key=lambda r: r.id)
    kinds: Counter[str] = Counter(r.kind for r in rules)
    summary = ", ".join(f"{kinds[k]} {_PLURALS[k] if kinds[k] != 1 else k}" for k in _KINDS if kinds[k])
    out = [
        f"# {escape(book.areas[area])}",
        "",
        f"Area `{area}` of rulebook `{book.id}` {book.version}: {len(rules)} rules ({summary}). "
        "Generated from the rule files — do not edit by hand.",
        "",
        "| rule | kind | title |",
        "|---|---|---|",
    ]
    out += [f"| [{code(r.id)}](#{r.id}) | {r.kind} | {escape(r.title)} |" for r in rules]
    out.append("")
    for rule in rules:
        out += _entry(book, rule, readers, scenarios)
    return "\n".join(out).rstrip("\n") + "\n"


def _index_page(book: Rulebook, has_coverage: bool, tested: bool, before: Rulebook | None = None) -> str:
    out = [
        f"# Rule reference: {escape(book.title)}",
        "",
        f"Rulebook `{book.id}` version {book.version}, judging {date_words(book.start)} to {date_words(book.end)}; "
        f"{len(book.rules)} rules in {len(book.areas)} areas. These pages are generated from the rule files "
        f"by `{REGENERATE}` — do not edit them by hand.",
        "",
        "## Rules per area and kind",
        "",
        "| area | " + " | ".join(_KINDS) + " | rules |",
        "|---|" + "---|" * (len(_KINDS) + 1),
    ]
    total: Counter[str] = Counter()
    for area, title in sorted(book.areas.items()):
        kinds: Counter[str] = Counter(r.kind for r in book.rules if r.area == area)
        total.update(kinds)
        cells = " | ".join(str(kinds[k]) for k in _KINDS)
        out.append(f"| [{escape(title)}]({area}.md) | {cells} | {sum(kinds.values())} |")
    out.append("| **total** | " + " | ".join(str(total[k]) for k in _KINDS) + f" | {sum(total.values())} |")
    conf: Counter[str] = Counter(r.confidence for r in book.rules)
    out += [
        "",
        "## Confidence",
        "",
        "| confidence | rules | meaning |",
        "|---|---|---|",
        f"| `quoted` | {conf['quoted']} | the quote is found verbatim in a guidance document held with the rulebook |",
        f"| `published` | {conf['published']} | a national objectives table row confirmed by a published source |",
        f"| `reconstructed` | {conf['reconstructed']} | a reconstructed national objectives table row (check it) |",
        "",
        "## How to read an entry",
        "",
        "Each entry gives the rule's id (its link anchor), kind and the organisation types it applies to; "
        "the condition in plain English, generated from the rule's expression (shown below it as written); "
        "its parameters with the guidance's own wording; its deadline and the period of data it judges; the "
        "verbatim quote it rests on, with its document and section; every assumption made in reading the "
        "guidance; the rules it reads and is read by; and the scenario tests that name it.",
        "",
        "Comparisons are exact and as worded: “at least” is `>=`, “more than” is `>`, “at most” is `<=`, "
        "“less than” is `<`. A share is the pooled numerator over the pooled denominator of every month in "
        "the period. Missing data (a missing month, a zero denominator, an undeclared fact) makes the outcome "
        "`unknown`, never a failure.",
        "",
    ]
    out += [f"The [data dictionary]({DICTIONARY_PAGE}) lists every metric, fact and service the rules read.", ""]
    if has_coverage:
        out += ["The [coverage ledger](coverage.md) maps every guidance item to the rules that implement it.", ""]
    if before is not None:
        out += [f"[From {before.id} to {book.id}]({YEAR_ON_YEAR_PAGE}): what changed from the year before.", ""]
    external = [book.source_specs[n] for n in book.external_sources]
    if external:
        out += [
            "Guidance texts not shipped with the package (verify the quotes against your own copy with "
            f"`policy-engine verify-sources --rulebook {book.id} --sources DIR`):",
            "",
        ]
        out += [f"- `{escape(s.document)}` ({escape(s.title or s.document)}), sha256 `{s.sha256}`" for s in external]
        out.append("")
    if not tested:
        out += ["Scenario tests were not available when these pages were generated.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _coverage_page(book: Rulebook) -> str | None:
    try:
        coverage = load_coverage(book)
    except RulebookError as exc:
        if [d.code for d in exc.details] == [ErrorCode.COVERAGE_MISSING]:
            return None
        raise
    areas = {r.id: r.area for r in book.rules}
    out = [coverage.to_markdown().rstrip("\n"), "", "## Traceability matrix", ""]
    out.append("Every guidance item of the ledger, with the rules that implement it or the reason it is not a rule.")
    by_area: dict[str, list[Any]] = {}
    for e in coverage.entries:
        by_area.setdefault(e.area, []).append(e)
    for area in sorted(by_area):
        out += ["", f"### {escape(book.areas.get(area, area))}", "", "| item | guidance | rules |", "|---|---|---|"]
        for e in sorted(by_area[area], key=lambda e: e.id):
            rules = ", ".join(f"[{code(r)}]({areas[r]}.md#{r})" if r in areas else code(r) for r in e.rules) or (
                "not a rule: " + escape(one_line(e.not_a_rule or ""))
            )
            guidance = f"“{escape(one_line(e.quote))}” ({escape(e.section)})"
            out.append(f"| {code(e.id)} | {guidance} | {rules} |")
    return "\n".join(out) + "\n"


DICTIONARY_PAGE = "data-dictionary.md"


def _dictionary_page(book: Rulebook) -> str:
    """Every metric, fact and service of the catalogue: its kind, unit, description, the months
    and rules that read it (``audit.catalogue``), and what each organisation type must supply."""
    areas = {r.id: r.area for r in book.rules}

    def rules(ids: tuple[str, ...]) -> str:
        return ", ".join(f"[{code(r)}]({areas[r]}.md#{r})" for r in ids) or "—"

    entries = catalogue(book)
    out = [
        "# Data dictionary",
        "",
        f"Every metric, fact and service of rulebook `{book.id}` {book.version}, with its kind, unit and "
        "description, the months its rules read and the rules that read it. Generated from the rule files "
        f"by `{REGENERATE}` — do not edit by hand. `policy-engine catalogue [--type TYPE]` prints it "
        "(as a table, JSON or CSV), and `policy-engine template --type TYPE -o input.csv` (or `.xlsx`, "
        "`.json`) writes an empty input with exactly the columns that type's rules read: one row per "
        "month (a `period` column, a `metric.<name>.<part>` column per metric; `--layout wide` for one "
        "row with a column per metric and month), which `evaluate input.csv --batch` reads back.",
        "",
        "## What each organisation type supplies",
        "",
        "| organisation type | metrics | facts | services | rules |",
        "|---|---|---|---|---|",
    ]
    for t in ORGANISATION_TYPES:
        mine = catalogue(book, t)
        n = {c: sum(1 for e in mine if e.category == c) for c in ("metric", "fact", "service")}
        count = sum(1 for r in book.rules if r.applies_to_type(t))
        out.append(f"| {_ORG_TYPES.get(t, t)} (`{t}`) | {n['metric']} | {n['fact']} | {n['service']} | {count} |")
    sections = (
        (
            "metric",
            "Metrics",
            "| metric | kind | unit | description | months read | read by |",
            "|---|---|---|---|---|---|",
        ),
        ("fact", "Facts", "| fact | type | unit | description | read by |", "|---|---|---|---|---|"),
        ("service", "Services", "| service | description | read by |", "|---|---|---|"),
    )
    for category, title, head, rule_line in sections:
        out += ["", f"## {title}", "", head, rule_line]
        for e in entries:
            if e.category != category:
                continue
            text = escape(one_line(e.description))
            if category == "service":
                out.append(f"| {code(e.name)} | {text} | {rules(e.rules)} |")
                continue
            unit = escape(e.unit) if e.unit else "—"
            cells = [code(e.name), e.kind, unit, text]
            if category == "metric":
                cells.append(month_range(e.months) or "—")
            out.append("| " + " | ".join([*cells, rules(e.rules)]) + " |")
    return "\n".join(out) + "\n"


def render_pages(
    rulebook: Rulebook, scenarios: str | os.PathLike[str] | None = None, *, with_scenarios: bool = True
) -> dict[str, str]:
    """File name -> Markdown text of every reference page (``index.md``, ``coverage.md``,
    ``data-dictionary.md``, one per area).

    ``scenarios`` is the folder of scenario files (default: the rulebook's under the current
    directory, when present: ``tests/scenarios``, or ``tests/scenarios-2025-26`` for nhs-2025-26);
    ``with_scenarios=False`` leaves scenario links out.
    """
    folder = scenarios if scenarios is not None else default_scenario_folder(rulebook.id)
    index = scenario_index(folder) if with_scenarios else {}
    tested = with_scenarios and bool(index)
    readers: dict[str, list[str]] = {}
    for r in rulebook.rules:
        for dep in r.depends_on:
            readers.setdefault(dep, []).append(r.id)
    readers = {k: sorted(v) for k, v in readers.items()}
    pages: dict[str, str] = {}
    for area in sorted(rulebook.areas):
        pages[f"{area}.md"] = _area_page(rulebook, area, readers, index if tested else None)
    coverage = _coverage_page(rulebook)
    if coverage is not None:
        pages["coverage.md"] = coverage
    pages[DICTIONARY_PAGE] = _dictionary_page(rulebook)
    before = _previous_year(rulebook)
    if before is not None:
        pages[YEAR_ON_YEAR_PAGE] = year_on_year_page(before, rulebook)
    pages["index.md"] = _index_page(rulebook, coverage is not None, tested, before)
    return dict(sorted(pages.items()))


YEAR_ON_YEAR_PAGE = "year-on-year.md"


def _previous_year(book: Rulebook) -> Rulebook | None:
    """The bundled rulebook of the planning year just before ``book``'s (None if there is none)."""
    for name in bundled_rulebooks():
        other = load_rulebook(name)
        if other.end + dt.timedelta(days=1) == book.start:
            return other
    return None


def year_on_year_page(old: Rulebook, new: Rulebook) -> str:
    """The diff of two planning years as a reference page: every measure with its class, what moved
    and both quotes (``audit.diff.diff_years``)."""
    diff = diff_years(old, new)
    counts = diff.counts()
    out = [
        f"# From {escape(old.id)} to {escape(new.id)}",
        "",
        f"The rules of the planning year {date_words(old.start)} to {date_words(old.end)} and of "
        f"{date_words(new.start)} to {date_words(new.end)}, paired by what they measure (each rule's "
        "`measure`, not its id), and how each changed: "
        + "; ".join(f"{counts[k]} {k}" for k in CHANGE_CLASSES)
        + f". Generated by `{REGENERATE}`; `policy-engine diff {old.id} {new.id}` prints the same, and with "
        "`--state` the outcomes that change.",
        "",
    ]
    for kind in CHANGE_CLASSES:
        changes = [c for c in diff.changes if c.change == kind]
        if not changes:
            continue
        out += [
            f"## {kind.capitalize()} ({len(changes)})",
            "",
            f"| measure | {old.id} | {new.id} | what moved |",
            "|---|---|---|---|",
        ]
        for c in changes:
            sides = []
            for rule in (c.old, c.new):
                sides.append(
                    "—"
                    if rule is None
                    else f"`{escape(rule.id)}` {escape(rule.title)}: \u201c{escape(rule.source.quote)}\u201d"
                )
            moved = "; ".join(escape(d) for d in c.details) or "—"
            out.append(f"| `{escape(c.measure)}` | {sides[0]} | {sides[1]} | {moved} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"

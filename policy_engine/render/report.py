"""Evaluation reports: per organisation, outcomes grouped by status, with small static charts."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

from ..data.state import Organisation, State
from ..evaluation.outcomes import Evaluation, Outcome
from ..evaluation.select import Selectors
from ..io.terminal import inline_text
from ..language.months import date_words, month_complete
from ..language.rules import Rule
from ..language.statuses import STATUS_INFO, STATUS_ORDER
from ..rulebook.loader import Rulebook
from .charts import JudgedSeries, judged_series, spc_chart
from .sentences import missing_data, natural, outcome_sentence

__all__ = ["STATUS_ORDER", "markdown_text", "render_report"]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|!])")
"""What starts Markdown inside a line: emphasis, code, links and images, headings, table cells (the
backslash too, so that an escape in the data is shown as written). Each is one Python-Markdown
(mkdocs) and CommonMark both take backslash-escaped; ``~`` is not, as Python-Markdown shows ``\\~``."""
_LAYOUT = re.compile(r"[\r\n\t\u2028\u2029]+")


def markdown_text(text: str) -> str:
    """A value from the data as Markdown that shows it as written, on one line: its line breaks and
    tabs as one space, its other control characters as ``\\uXXXX`` (``io.terminal``), HTML's
    ``&``, ``<`` and ``>`` as entities, and each Markdown special character backslash-escaped."""
    text = inline_text(_LAYOUT.sub(" ", text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    """An inline code span of an identifier (a rule id cannot hold a backtick, a bar or a line
    break: the schema's pattern), or the text escaped where it does."""
    return f"`{text}`" if re.fullmatch(r"[A-Za-z0-9._:/-]+", text) else markdown_text(text)


def _grouped(outcomes: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    return [(s, [o for o in outcomes if o.status == s]) for s in STATUS_ORDER if any(o.status == s for o in outcomes)]


def render_report(
    evaluation: Evaluation, state: State, rulebook: Rulebook, fmt: str = "html", orgs: Sequence[str] | None = None
) -> str:
    """The evaluation report as a self-contained HTML page (inline SVG charts, no network) or Markdown.

    ``orgs`` limits it to those organisations; an id the state does not have is a SelectorError.
    """
    check = Selectors()
    check.check("orgs", "organisation", orgs, (o.id for o in state.organisations), "in the state")
    check.raise_if_unknown()
    rules = {r.id: r for r in rulebook.rules}
    rec = evaluation.record
    chosen = [o for o in state.organisations if orgs is None or o.id in orgs]
    if fmt == "md":
        md = markdown_text
        lines = [
            f"# Evaluation report — {md(rulebook.title)}",
            "",
            f"As of {rec.as_of}; rulebook {md(rec.rulebook_id)} {md(rec.rulebook_version)}; backend {md(rec.backend)}.",
            "",
        ]
        for org in chosen:
            mine = evaluation.find(org_id=org.id)
            lines += [
                f"## {md(org.id)} — {md(org.name or org.type)}",
                "",
                f"Type: {md(org.type)}. {len(mine)} outcomes.",
                "",
            ]
            for status, items in _grouped(mine):
                lines += [f"### {status} ({len(items)})", "", "| rule | when | explanation |", "|---|---|---|"]
                for o in items:
                    when, text = md(rules[o.rule_id].timing_label()), md(o.explanation)
                    lines.append(f"| {_code(o.rule_id)} | {when} | {text} |")
                lines.append("")
        return "\n".join(lines)
    return _html_report(evaluation, chosen, rulebook, rules)


# --------------------------------------------------------------------------- the HTML report

_BAD = tuple(s for s, i in STATUS_INFO.items() if i.polarity == "bad")
_SHOWN_ORGS = 8
"""How many organisations a summary line names before it says "and N more"."""
_DUE_ROWS = 10

_CSS = (
    "*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0 auto;padding:0 12px 2em;"
    "max-width:1200px;color:#222;line-height:1.4}h1{font-size:1.4em;margin:.6em 0 .2em}"
    "h2{font-size:1.15em;margin:.8em 0 .3em}h3{font-size:1em;margin:.8em 0 .3em}"
    ".meta{color:#555;margin:0;font-size:12px}"
    "table{border-collapse:collapse;width:100%;margin-bottom:.6em}"
    "th,td{border:1px solid #ddd;padding:3px 5px;vertical-align:top;font-size:13px;text-align:left}"
    "th{background:#f0f0f0}.num{text-align:right}"
    ".chip{display:inline-block;padding:0 6px;border-radius:8px;color:#fff;font-size:12px;white-space:nowrap}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:8px 16px}"
    ".card{min-width:0;overflow-wrap:anywhere}.card h3{margin-top:.3em}"
    ".card ul{margin:0;padding-left:1.1em;font-size:13px}"
    ".scroll{overflow-x:auto}#filters{position:sticky;top:0;background:#fff;padding:4px 0;border-bottom:1px solid #ddd;"
    "font-size:13px;z-index:1}#filters label{margin-right:8px;white-space:nowrap;display:inline-block}"
    "#filters label{max-width:100%}#filters select{max-width:62vw}"
    "details.organisation{border:1px solid #ccc;border-radius:4px;margin:8px 0;"
    "padding:0 8px}details.organisation>summary{cursor:pointer;padding:6px 0;font-weight:600}"
    "nav#contents ul{padding-left:1.1em;margin:0;font-size:13px}nav#contents li{margin:2px 0}"
    "td.chart{width:370px}svg.chart{max-width:100%;height:auto}"
    "@media (max-width:700px){td.chart{width:auto}table.outcomes th.when,table.outcomes td.when{display:none}}"
)

_STATUS_CSS = "".join(f".c-{s}{{background:{i.colour}}}" for s, i in STATUS_INFO.items())
"""Each status's chip colour (``STATUS_INFO``), one class a status."""

_JS = """
(function(){
function apply(){
  var on={};
  document.querySelectorAll('#filters input[data-status]').forEach(function(b){on[b.dataset.status]=b.checked;});
  var area=document.getElementById('f-area').value,org=document.getElementById('f-org').value;
  document.querySelectorAll('tr.outcome').forEach(function(r){
    r.hidden=!(on[r.dataset.status]&&(!area||r.dataset.area===area)&&(!org||r.dataset.org===org));});
  document.querySelectorAll('.area-block').forEach(function(b){
    b.hidden=!b.querySelector('tr.outcome:not([hidden])');});
  document.querySelectorAll('details.organisation').forEach(function(d){
    d.hidden=(org&&d.dataset.org!==org)||!d.querySelector('tr.outcome:not([hidden])');});
}
document.querySelectorAll('#filters input,#filters select').forEach(function(e){e.addEventListener('change',apply);});
function reveal(){var t=location.hash&&document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if(t){var d=t.closest('details');if(d){d.open=true;}t.scrollIntoView();}}
window.addEventListener('hashchange',reveal);reveal();
})();
"""


def _chart(
    points: list[tuple[str, Fraction]],
    *,
    title: str,
    desc: str,
    target: Fraction | None,
    improvement: Literal["increase", "decrease"] | None,
    deadline: dt.date | None,
    unit: str,
) -> str:
    """The report's one chart: a Making Data Count (XmR) chart of the judged quantity
    (``render.charts.spc_chart``), with the rule's threshold as its target."""
    return spc_chart(
        [(label, float(v)) for label, v in points],
        title=title,
        desc=desc,
        target=float(target) if target is not None else None,
        improvement=improvement,
        deadline=_deadline_label(deadline, [label for label, _ in points]),
        unit=lambda v: natural(Fraction(v).limit_denominator(10**6), unit),
    )


def _deadline_label(deadline: dt.date | None, labels: list[str]) -> str | None:
    """The deadline's month when the chart shows it (it is in the description either way)."""
    if deadline is None:
        return None
    month = f"{deadline.year:04d}-{deadline.month:02d}"
    return month if month in labels else None


def _area_title(book: Rulebook, area: str) -> str:
    """The area's title without its parenthesised section reference (``Cancer``, ``Mental health``)."""
    title = book.areas.get(area) or area.replace("-", " ").capitalize()
    return re.sub(r"\s*\([^()]*\)$", "", title)


def _chip(status: str) -> str:
    info = STATUS_INFO[status]
    return f'<span class="chip c-{status}">{html.escape(info.label)}</span>'


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(html.escape(i) for i in ids[:_SHOWN_ORGS])
    return shown + (f" and {len(ids) - _SHOWN_ORGS} more" if len(ids) > _SHOWN_ORGS else "")


def _when(deadline: dt.date | None) -> str:
    return date_words(deadline) if deadline else "no deadline (standing)"


def _summary(
    outcomes: Sequence[Outcome], rules: dict[str, Rule], book: Rulebook, as_of: dt.date, shown_statuses: list[str]
) -> str:
    esc = html.escape
    areas = sorted({rules[o.rule_id].area for o in outcomes})
    counts: dict[tuple[str, str], int] = {}
    for o in outcomes:
        key = (rules[o.rule_id].area, o.status)
        counts[key] = counts.get(key, 0) + 1
    head = "".join(f"<th>{_chip(s)}</th>" for s in shown_statuses)
    rows = "".join(
        f'<tr><th scope="row">{esc(_area_title(book, a))}</th>'
        + "".join(f'<td class="num">{counts.get((a, s), "") or ""}</td>' for s in shown_statuses)
        + "</tr>"
        for a in areas
    )
    totals = "".join(f'<td class="num">{sum(counts.get((a, s), 0) for a in areas)}</td>' for s in shown_statuses)
    table = (
        '<div class="scroll"><table class="counts"><thead><tr><th>area</th>'
        f"{head}</tr></thead><tbody>{rows}<tr><th>all areas</th>{totals}</tr></tbody></table></div>"
    )

    by_rule: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_rule.setdefault(o.rule_id, []).append(o)
    missed = []
    for rid, items in by_rule.items():
        bad = [o for o in items if o.status in _BAD]
        if bad:
            judged = [o for o in items if o.status != "not_applicable"]
            missed.append((rules[rid].deadline or dt.date.max, -len(bad), rid, bad, len(judged)))
    missed.sort()
    more = len(missed) - _DUE_ROWS
    missed = missed[:_DUE_ROWS]
    breaches = "".join(
        f"<li>{_chip(bad[0].status)} <a href='#{esc(bad[0].org_id)}--{esc(rules[rid].area)}'>"
        f"{esc(rules[rid].title)}</a> — deadline {esc(_when(rules[rid].deadline))}; "
        f"<strong>{len(bad)} of {judged}</strong> missed: {_names([o.org_id for o in bad])}</li>"
        for _, _, rid, bad, judged in missed
    ) + (f"<li>and {more} more rules (see the organisations below)</li>" if more > 0 else "")
    eligible: list[str] = []
    for o in outcomes:
        if o.status != "eligible":
            continue
        criteria = [
            next((r.title for r in book.rules if r.id == e.name), e.name)
            for e in o.evidence
            if e.kind == "outcome" and getattr(e.quantity, "value", None) == "eligible"
        ]
        on = f" — on the criterion: {esc('; '.join(criteria))}" if criteria else ""
        eligible.append(f"<li><strong>{esc(o.org_id)}</strong>: {esc(o.title)}{on}</li>")
    if len(eligible) > _DUE_ROWS:
        eligible[_DUE_ROWS:] = [f"<li>and {len(eligible) - _DUE_ROWS} more</li>"]
    due: list[tuple[dt.date, str, list[str]]] = []
    for rid, items in by_rule.items():
        deadline = rules[rid].deadline
        pending = [o.org_id for o in items if o.status == "due"]
        upcoming = deadline is not None and deadline >= as_of and any(o.status != "not_applicable" for o in items)
        if pending or upcoming:
            due.append((deadline or dt.date.max, rid, pending))
    due.sort()
    due_rows = "".join(
        f"<li>{esc(_when(d if d != dt.date.max else None))}: {esc(rules[rid].title)}"
        + (f" — due for {_names(orgs)}" if orgs else "")
        + "</li>"
        for d, rid, orgs in due[:_DUE_ROWS]
    )
    if len(due) > _DUE_ROWS:
        due_rows += f"<li>and {len(due) - _DUE_ROWS} more</li>"
    unknown: dict[str, tuple[list[str], list[str]]] = {}
    for o in outcomes:
        if o.status == "unknown":
            orgs, data = unknown.setdefault(o.rule_id, ([], []))
            orgs.append(o.org_id)
            data.extend(d for d in missing_data(o, book) if d not in data)
    unknown_items = sorted(unknown.items(), key=lambda kv: (-len(kv[1][0]), kv[0]))
    unknown_rows = "".join(
        f"<li><strong>{len(orgs)}</strong> outcomes of {esc(rules[rid].title)} ({_names(orgs)}) — needs: "
        f"{esc('; '.join(data[:3]) + (' …' if len(data) > 3 else '') or 'the data its condition reads')}</li>"
        for rid, (orgs, data) in unknown_items[:_DUE_ROWS]
    ) + (f"<li>and {len(unknown_items) - _DUE_ROWS} more rules</li>" if len(unknown_items) > _DUE_ROWS else "")

    def card(cid: str, title: str, items: str, empty: str) -> str:
        return (
            f'<div class="card" id="{cid}"><h3>{title}</h3>'
            + (f"<ul>{items}</ul>" if items else f"<p>{empty}</p>")
            + "</div>"
        )

    return (
        '<section id="summary"><h2>Summary across organisations</h2><p id="headline">'
        + ", ".join(f"{_chip(s)} {sum(o.status == s for o in outcomes)}" for s in shown_statuses)
        + "</p>"
        + '<div class="cards">'
        + card("breaches", "Breaches and misses", breaches, "Nothing is breached, overdue or not met.")
        + card(
            "eligibility", "Incentive eligibility", "".join(eligible), "No organisation is eligible for an incentive."
        )
        + card(
            "due", f"Falls due next (after {esc(date_words(as_of))})", due_rows, "Nothing falls due after this date."
        )
        + card("unknowns", "Unknown for want of data", unknown_rows, "Every outcome is decided by the data.")
        + "</div><h3>Outcomes by area</h3>"
        + table
        + "</section>"
    )


def _org_order(outcomes: Sequence[Outcome]) -> tuple[int, int, int]:
    """Worst first: the worst status, then how many are bad, then how many are unknown."""
    worst = min((STATUS_INFO[o.status].order for o in outcomes), default=len(STATUS_INFO))
    return worst, -sum(o.status in _BAD for o in outcomes), -sum(o.status == "unknown" for o in outcomes)


def _html_report(evaluation: Evaluation, chosen: Sequence[Organisation], book: Rulebook, rules: dict[str, Rule]) -> str:
    esc = html.escape
    rec = evaluation.record
    mine = {org.id: list(evaluation.find(org_id=[org.id])) for org in chosen}
    orgs = sorted(chosen, key=lambda org: (*_org_order(mine[org.id]), org.id))
    everything = [o for org in orgs for o in mine[org.id]]
    present = [s for s in STATUS_ORDER if any(o.status == s for o in everything)]
    contents: list[str] = []
    body: list[str] = []
    for org in orgs:
        items = sorted(mine[org.id], key=lambda o: (STATUS_INFO[o.status].order, o.rule_id))
        by_area: dict[str, list[Outcome]] = {}
        for o in items:
            by_area.setdefault(rules[o.rule_id].area, []).append(o)
        areas = sorted(by_area, key=lambda a: (*_org_order(by_area[a]), a))
        chips = " ".join(
            f"{_chip(s)} {sum(o.status == s for o in items)}" for s in STATUS_ORDER if any(o.status == s for o in items)
        )
        oid = esc(org.id)
        contents.append(
            f'<li><a href="#{oid}">{oid} — {esc(org.name or org.type)}</a> {chips}<br>'
            + " · ".join(f'<a href="#{oid}--{esc(a)}">{esc(_area_title(book, a))}</a>' for a in areas)
            + "</li>"
        )
        section = [
            f'<details class="organisation" id="{oid}" data-org="{oid}"><summary>{oid} — '
            f"{esc(org.name or org.type)} <small>({esc(org.type)})</small> {chips}</summary>"
        ]
        for area in areas:
            section.append(
                f'<div class="area-block" id="{oid}--{esc(area)}"><h3>{esc(_area_title(book, area))}</h3>'
                '<div class="scroll"><table class="outcomes"><thead><tr><th>status</th><th>rule</th>'
                '<th class="when">when</th><th>what it means</th><th>chart</th></tr></thead><tbody>'
            )
            for o in by_area[area]:
                rule = rules[o.rule_id]
                section.append(
                    f'<tr class="outcome {o.status}" data-status="{o.status}" data-area="{esc(area)}" data-org="{oid}">'
                    f"<td>{_chip(o.status)}</td><td>{esc(o.title)}<br><code>{esc(o.rule_id)}</code></td>"
                    f'<td class="when" title="{esc(rule.timing_text())}">{esc(rule.timing_label())}</td>'
                    f"<td>{esc(outcome_sentence(o, rule, book))}</td>"
                    f'<td class="chart">{_outcome_chart(org, o, rule, book, rec.as_of)}</td></tr>'
                )
            section.append("</tbody></table></div></div>")
        section.append("</details>")
        body.append("".join(section))
    status_boxes = "".join(
        f'<label><input type="checkbox" data-status="{s}" checked> {esc(STATUS_INFO[s].label)}</label>' for s in present
    )
    area_opts = "".join(
        f'<option value="{esc(a)}">{esc(_area_title(book, a))}</option>'
        for a in sorted({rules[o.rule_id].area for o in everything})
    )
    org_opts = "".join(
        f'<option value="{esc(org.id)}">{esc(org.id)} — {esc(org.name or org.type)}</option>' for org in orgs
    )
    filters = (
        f'<form id="filters" onsubmit="return false"><strong>Show:</strong> {status_boxes}'
        f'<label>area <select id="f-area"><option value="">all areas</option>{area_opts}</select></label>'
        '<label>organisation <select id="f-org"><option value="">all organisations</option>'
        f"{org_opts}</select></label></form>"
    )
    title = f"Evaluation report — {esc(book.title)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}{_STATUS_CSS}</style></head><body>"
        f'<h1>{title}</h1><p class="meta">As of {esc(date_words(rec.as_of))}; {len(orgs)} organisations, '
        f"{len(everything)} outcomes; rulebook {esc(rec.rulebook_id)} {esc(rec.rulebook_version)} "
        f"({rec.rulebook_digest[:12]}); backend {esc(rec.backend)}; state {rec.state_digest[:12]}.</p>"
        + _summary(everything, rules, book, rec.as_of, present)
        + filters
        + f'<nav id="contents"><h2>Organisations, worst first</h2><ul>{"".join(contents)}</ul></nav>'
        + "".join(body)
        + f"<script>{_JS}</script></body></html>\n"
    )


_CHARTED = frozenset(s for s, i in STATUS_INFO.items() if i.polarity in ("bad", "unknown", "pending"))
"""The statuses whose outcomes get a chart: those a manager acts on (decision 025: the page's size)."""


def _chart_unit(judged: JudgedSeries, rule: Rule, book: Rulebook) -> str:
    """The unit of the charted quantity: percent for a ``pct()``, the metric's unit for another
    single call, else the unit of the bound it is compared with (``100 * total(a) / total(b)``)."""
    c = judged.comparison
    if c.function in ("pct", "min_pct", "max_pct"):
        return "percent"
    if c.function is not None and c.subject is not None and c.subject in book.metrics:
        return book.metrics[c.subject].unit
    if c.parameter is not None and c.parameter in rule.parameters:
        return rule.parameters[c.parameter].unit
    return ""


def _outcome_chart(org: Organisation, outcome: Outcome, rule: Rule, book: Rulebook, as_of: dt.date) -> str:
    if outcome.status not in _CHARTED:
        return ""
    judged = judged_series(rule)
    if judged is None:
        return ""
    complete = {
        m: {k: o for k, o in org.metrics.get(m, {}).items() if month_complete(k, as_of)} for m in judged.metrics
    }
    points = judged.values(complete)
    if len(points) < 2:
        return ""
    unit = _chart_unit(judged, rule, book)
    improvement: Literal["increase", "decrease"] = "increase" if judged.comparison.op in (">", ">=") else "decrease"
    first = book.metrics[judged.metrics[0]]
    label = first.label or first.name
    target = judged.threshold
    desc = (
        f"Monthly {label}, {points[0][0]} to {points[-1][0]}"
        + (f"; the standard is {natural(target, unit)}" if target is not None else "")
        + (f"; deadline {rule.deadline.isoformat()}" if rule.deadline else "")
        + "."
    )
    return _chart(
        points,
        title=f"{outcome.title} — {org.id}",
        desc=desc,
        target=target,
        improvement=improvement,
        deadline=rule.deadline,
        unit=unit,
    )

"""Evaluation reports: per organisation, outcomes grouped by status, with small static charts."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from fractions import Fraction

from ..data.state import Organisation, State
from ..evaluation.outcomes import Evaluation, Outcome
from ..evaluation.select import Selectors
from ..io.terminal import inline_text
from ..language.ast import Call, Node
from ..language.checker import metric_calls, name_arg
from ..language.months import format_month, month_complete, parse_month
from ..language.numbers import format_number
from ..language.rules import Rule
from ..language.statuses import STATUS_INFO, STATUS_ORDER
from ..rulebook.loader import Rulebook

__all__ = ["STATUS_ORDER", "markdown_text", "render_report"]

_PCT_FUNCS = {"pct", "min_pct", "max_pct"}


def _metric_call(node: Node) -> Call | None:
    calls = metric_calls(node)
    return calls[0] if calls else None


def _threshold(rule: Rule) -> Fraction | None:
    """The parameter a one-comparison metric rule compares with (the chart's threshold line)."""
    c = rule.shape.single
    if c is not None and c.op in ("<", "<=", ">", ">=") and c.reads_metric() and c.parameter is not None:
        return rule.parameters[c.parameter].value
    return None


def _series(org: Organisation, rule: Rule, book: Rulebook, as_of: dt.date) -> tuple[str, list[tuple[int, Fraction]]]:
    call = _metric_call(rule.condition)
    if call is None:
        return "", []
    mname = name_arg(call.args[0], "metric")
    metric = book.metrics[mname]
    points: list[tuple[int, Fraction]] = []
    for month, obs in sorted(org.metrics.get(mname, {}).items()):
        if not month_complete(month, as_of):
            continue
        if obs.value is not None:
            points.append((month, obs.value))
        elif obs.numerator is not None and obs.denominator:
            scale = 100 if metric.kind == "proportion" else 1
            points.append((month, Fraction(scale * obs.numerator, obs.denominator)))
    return mname, points


def _svg(points: list[tuple[int, Fraction]], threshold: Fraction | None, deadline: dt.date | None, unit: str) -> str:
    """A small static line chart: the monthly series, the threshold line and the deadline."""
    width, height, pad = 360, 130, 30
    months = [m for m, _ in points]
    lo_m, hi_m = min(months), max(months)
    if deadline is not None:
        hi_m = max(hi_m, parse_month(deadline.isoformat()[:7]))
    values = [float(v) for _, v in points] + ([float(threshold)] if threshold is not None else [])
    lo_v, hi_v = min(values), max(values)
    if hi_v == lo_v:
        lo_v, hi_v = lo_v - 1, hi_v + 1
    span_m = max(1, hi_m - lo_m)

    def x(m: int) -> float:
        return pad + (width - 2 * pad) * (m - lo_m) / span_m

    def y(v: float) -> float:
        return height - pad + (2 * pad - height) * (v - lo_v) / (hi_v - lo_v)

    line = " ".join(f"{x(m):.1f},{y(float(v)):.1f}" for m, v in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfbfb" stroke="#dddddd"/>',
        f'<polyline class="series" fill="none" stroke="#1f4e79" stroke-width="2" points="{line}"/>',
    ]
    parts += [f'<circle cx="{x(m):.1f}" cy="{y(float(v)):.1f}" r="2" fill="#1f4e79"/>' for m, v in points]
    if threshold is not None:
        ty = y(float(threshold))
        parts.append(
            f'<line class="threshold" x1="{pad}" x2="{width - pad}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#c0392b" stroke-dasharray="4 3"/>'
        )
        label = html.escape(format_number(threshold, unit))
        parts.append(
            f'<text x="{width - pad}" y="{ty - 3:.1f}" font-size="9" fill="#c0392b" text-anchor="end">'
            f"threshold {label}</text>"
        )
    if deadline is not None:
        dx = x(parse_month(deadline.isoformat()[:7]))
        parts.append(
            f'<line class="deadline" x1="{dx:.1f}" x2="{dx:.1f}" y1="{pad / 2}" y2="{height - pad}" '
            'stroke="#7d3c98" stroke-dasharray="2 2"/>'
        )
        parts.append(
            f'<text x="{dx - 3:.1f}" y="{pad / 2 + 6}" font-size="9" fill="#7d3c98" text-anchor="end">'
            f"deadline {deadline.isoformat()}</text>"
        )
    parts.append(f'<text x="{pad}" y="{height - 8}" font-size="9">{format_month(lo_m)}</text>')
    parts.append(f'<text x="{width - pad - 30}" y="{height - 8}" font-size="9">{format_month(hi_m)}</text>')
    for v in (hi_v, lo_v):
        label = html.escape(format_number(Fraction(v).limit_denominator(100), unit))
        parts.append(f'<text x="2" y="{y(v) + 3:.1f}" font-size="9">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
    body: list[str] = []
    for org in chosen:
        mine = evaluation.find(org_id=org.id)
        counts = ", ".join(f"{s}: {len([o for o in mine if o.status == s])}" for s, _ in _grouped(mine))
        body.append(
            f'<section class="organisation" id="{html.escape(org.id)}"><h2>{html.escape(org.id)} — '
            f"{html.escape(org.name or org.type)}</h2><p>{html.escape(org.type)}; {counts}</p>"
        )
        for status, items in _grouped(mine):
            body.append(f'<h3 style="color:{STATUS_INFO[status].colour}">{status} ({len(items)})</h3>')
            body.append(
                '<table class="outcomes"><thead><tr><th>rule</th><th>when</th><th>explanation</th>'
                "<th>chart</th></tr></thead><tbody>"
            )
            for o in items:
                rule = rules[o.rule_id]
                mname, points = _series(org, rule, rulebook, rec.as_of)
                chart = ""
                if len(points) >= 2:
                    unit = "percent" if rulebook.metrics[mname].kind == "proportion" else rulebook.metrics[mname].unit
                    chart = _svg(points, _threshold(rule), rule.deadline, unit)
                body.append(
                    f'<tr class="{status}"><td><code>{html.escape(o.rule_id)}</code><br>{html.escape(o.title)}</td>'
                    f'<td title="{html.escape(rule.timing_text())}">{html.escape(rule.timing_label())}</td>'
                    f"<td>{html.escape(o.explanation)}</td><td>{chart}</td></tr>"
                )
            body.append("</tbody></table>")
        body.append("</section>")
    title = f"Evaluation report — {html.escape(rulebook.title)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%;margin-bottom:1em}"
        "th,td{border:1px solid #ddd;padding:4px;vertical-align:top;font-size:13px}th{background:#f0f0f0}"
        "</style></head><body>"
        f"<h1>{title}</h1><p>As of {rec.as_of}; rulebook {html.escape(rec.rulebook_id)} "
        f"{html.escape(rec.rulebook_version)} ({rec.rulebook_digest[:12]}); backend {rec.backend}; "
        f"state {rec.state_digest[:12]}.</p>" + "".join(body) + "</body></html>\n"
    )

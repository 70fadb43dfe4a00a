"""One organisation across planning years, side by side: the report of ``report --compare-with``.

A state spanning several planning years (say April 2024 to March 2026) is evaluated under each
year's rulebook on the same date; each organisation then gets one table whose rows are the measures
(rules paired by ``measure`` across years, as ``diff`` pairs them) and whose columns are the years,
each cell the outcome in words. A rule with no counterpart in another year is a row of its own.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
from collections.abc import Sequence

from ..audit.diff import diff_years
from ..data.state import State
from ..engine import evaluate
from ..evaluation.outcomes import Evaluation, Outcome
from ..evaluation.select import Selectors
from ..language.months import date_words
from ..language.rules import Rule
from ..rulebook.loader import Rulebook
from .report import _CSS, _STATUS_CSS, _chip, markdown_text
from .sentences import outcome_sentence

__all__ = ["render_years"]


def _rows(books: Sequence[Rulebook]) -> list[tuple[str, str, tuple[Rule | None, ...]]]:
    """(what the row is, class of change, the measure's rule in each book) for every measure of the
    books; the class is that of the last two years the measure appears in (``diff_years``). A rule
    without a ``measure`` is a row of its own, named by its id and the year it belongs to, and is
    ``new`` (not in the first year) or ``dropped`` (not in the last), as ``diff_years`` classes it."""
    by_measure: dict[str, list[Rule | None]] = {}
    for i, book in enumerate(books):
        for rule in book.rules:
            key = rule.measure or f"{rule.id} ({book.id} only)"
            by_measure.setdefault(key, [None] * len(books))[i] = rule
    change: dict[str, str] = {}
    for old, new in itertools.pairwise(books):
        for c in diff_years(old, new).changes:
            change[c.measure] = c.change
    rows = []
    for key, rules in sorted(by_measure.items()):
        how = change.get(key)
        if how is None:  # in one year only
            how = "new" if rules[0] is None else "dropped" if rules[-1] is None else ""
        rows.append((key, how, tuple(rules)))
    return rows


def render_years(
    state: State,
    books: Sequence[Rulebook],
    fmt: str = "html",
    orgs: Sequence[str] | None = None,
    as_of: dt.date | str | None = None,
    backend: str = "auto",
) -> str:
    """Each organisation's outcomes under each of ``books`` (in order of their planning years),
    side by side by measure, as a self-contained HTML page or Markdown. ``as_of`` (default: the
    state's) is the date every year is judged on."""
    check = Selectors()
    check.check("orgs", "organisation", orgs, (o.id for o in state.organisations), "in the state")
    check.raise_if_unknown()
    books = sorted(books, key=lambda b: b.start)
    evaluations: list[Evaluation] = [evaluate(state, b, as_of=as_of, backend=backend) for b in books]
    rows = _rows(books)
    chosen = [o for o in state.organisations if orgs is None or o.id in orgs]
    when = evaluations[0].record.as_of
    found: list[dict[tuple[str, str], Outcome]] = [
        {(o.org_id, o.rule_id): o for o in ev.outcomes} for ev in evaluations
    ]
    if fmt == "md":
        md = markdown_text
        lines = [f"# One organisation across planning years — as of {when}", ""]
        for org in chosen:
            lines += [f"## {md(org.id)} — {md(org.name or org.type)}", ""]
            lines.append("| measure | change | " + " | ".join(md(b.id) for b in books) + " |")
            lines.append("|---|---|" + "---|" * len(books))
            for measure, change, rules in rows:
                texts: list[str] = []
                for i, rule in enumerate(rules):
                    o = found[i].get((org.id, rule.id)) if rule else None
                    texts.append(md(outcome_sentence(o, rule, books[i])) if o and rule else "—")
                if any(c != "—" for c in texts):
                    lines.append(f"| {md(measure)} | {md(change)} | " + " | ".join(texts) + " |")
            lines.append("")
        return "\n".join(lines)
    esc = html.escape
    body: list[str] = []
    for org in chosen:
        head = "".join(f"<th>{esc(b.id)}<br><small>{b.start} to {b.end}</small></th>" for b in books)
        trs: list[str] = []
        for measure, change, rules in rows:
            cells: list[str] = []
            for i, rule in enumerate(rules):
                o = found[i].get((org.id, rule.id)) if rule else None
                if o is None or rule is None:
                    cells.append("<td>—</td>")
                    continue
                cells.append(
                    f'<td class="{o.status}">{_chip(o.status)} {esc(rule.title)}<br><code>{esc(rule.id)}</code>'
                    f"<br>{esc(outcome_sentence(o, rule, books[i]))}</td>"
                )
            if any(c != "<td>—</td>" for c in cells):
                trs.append(
                    f"<tr><td><code>{esc(measure)}</code><br><small>{esc(change)}</small></td>{''.join(cells)}</tr>"
                )
        body.append(
            f'<details class="organisation" open id="{esc(org.id)}"><summary>{esc(org.id)} — '
            f"{esc(org.name or org.type)} <small>({esc(org.type)})</small></summary>"
            f'<div class="scroll"><table><thead><tr><th>measure</th>{head}</tr></thead><tbody>{"".join(trs)}'
            "</tbody></table></div></details>"
        )
    title = "One organisation across planning years"
    meta = "; ".join(
        f"{esc(ev.record.rulebook_id)} {esc(ev.record.rulebook_version)} ({ev.record.rulebook_digest[:12]})"
        for ev in evaluations
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}{_STATUS_CSS}</style></head><body>"
        f'<h1>{title}</h1><p class="meta">As of {esc(date_words(when))}; rulebooks {meta}; '
        f"state {evaluations[0].record.state_digest[:12]}. Rows pair the years' rules by what they measure.</p>"
        + "".join(body)
        + "</body></html>\n"
    )

"""Tables for a terminal: fitted to its width, the deciding numbers in their own column, statuses in
their report colours when (and only when) the output is a terminal; and progress on stderr.

A table is a list of lines, each a list of segments ``(text, colour)``: ``plain`` joins the texts
(for a file, a pipe or ``NO_COLOR``), ``write_table`` writes each colour as an SGR sequence around
its text. The texts still go through ``io.terminal`` (control characters from data are shown
escaped); only the colour sequences, which come from ``STATUS_INFO`` and never from data, reach the
terminal as they are (docs/decisions/029-terminal-and-what-if-units.md).
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..evaluation.evidence import Number, Ratio
from ..evaluation.outcomes import Evaluation, Outcome
from ..io.terminal import Sink, TerminalStream, inline_text, terminal_text
from ..language.numbers import format_in_unit
from ..language.statuses import STATUS_INFO

__all__ = [
    "Line",
    "colour_wanted",
    "deciding_value",
    "outcome_table",
    "plain",
    "progress",
    "table_width",
    "write_table",
]

Line = list[tuple[str, "str | None"]]
"""One line of a table: its segments, each a text and the CSS colour (``#rrggbb``) to show it in."""

PROGRESS_DELAY = 2.0
"""Seconds before a progress bar appears: a run quicker than that shows none."""

_MIN_EXPLANATION = 30
"""The narrowest explanation column; below it the explanation goes on its own lines."""


def table_width(stream: Sink) -> int:
    """The terminal's width (``COLUMNS`` if set: ``shutil.get_terminal_size``), at least 40; 120 when
    the output is not a terminal (a file, a pipe)."""
    columns = shutil.get_terminal_size((120, 24)).columns if stream.isatty() else 120
    return max(40, columns)


def fit_lines(text: str, stream: Sink) -> str:
    """``text`` with each line too long for the terminal wrapped at spaces, its continuation lines
    indented four more than the line; unchanged when ``stream`` is not a terminal (a file or pipe
    keeps the lines whole, as scripts read them)."""
    if not stream.isatty():
        return text
    width = table_width(stream)
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out.extend(
            textwrap.wrap(
                line.strip(" "),
                width,
                initial_indent=indent,
                subsequent_indent=indent + "    ",
                break_long_words=True,
                break_on_hyphens=False,
            )
            or [line]
        )
    return "\n".join(out)


def colour_wanted(stream: Sink, no_color: bool = False) -> bool:
    """Colour only on a terminal, and not with ``--no-color`` or ``NO_COLOR`` set (https://no-color.org)."""
    return stream.isatty() and not no_color and not os.environ.get("NO_COLOR")


def _shown(e: Any) -> str | None:
    q = e.quantity
    if isinstance(q, Ratio):
        return format_in_unit(q.value, "percent" if q.scale == 100 else q.unit)
    if isinstance(q, Number):
        return format_in_unit(q.value, q.unit)
    return None


def deciding_value(outcome: Outcome) -> str:
    """The numbers that decided an outcome, in their units: the measured values, then (after ``vs``)
    the threshold it was compared with (``74.2% vs 78.0%``, ``35:48 vs 30:00``); empty when none."""
    measured = [t for e in outcome.evidence if e.kind in ("metric", "fact") and (t := _shown(e)) is not None]
    bounds = [t for e in outcome.evidence if e.kind == "parameter" and (t := _shown(e)) is not None]
    if not measured:
        return ""
    text = ", ".join(measured[:2]) + (" ..." if len(measured) > 2 else "")
    return f"{text} vs {bounds[0]}" if bounds else text


def outcome_table(evaluation: Evaluation, width: int, filters: str = "", total: int = 0) -> list[Line]:
    """The outcomes as a table ``width`` characters wide at most (but for a word longer than the
    explanation column): organisation, rule, status, deadline and the deciding value in full, the
    explanation wrapped in what is left (or below the row, indented, when too little is left)."""
    head = ("ORGANISATION", "RULE", "STATUS", "DEADLINE", "VALUE")
    rows = [
        (inline_text(o.org_id), o.rule_id, o.status, str(o.deadline or ""), inline_text(deciding_value(o)))
        for o in evaluation.outcomes
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    left = sum(widths) + 2 * len(widths)
    room = width - left
    lines: list[Line] = []

    def row(cells: Sequence[str], colour: str | None) -> Line:
        line: Line = []
        for i, cell in enumerate(cells):
            line.append((cell.ljust(widths[i]) + "  ", colour if i == 2 else None))
        return line

    lines.append([*row(head, None), ("EXPLANATION" if room >= _MIN_EXPLANATION else "", None)])
    for o, cells in zip(evaluation.outcomes, rows, strict=True):
        colour = STATUS_INFO[o.status].colour if o.status in STATUS_INFO else None
        expl = inline_text(o.explanation)  # a cell of one line: the data's line breaks shown escaped
        line = row(cells, colour)
        if room >= _MIN_EXPLANATION:
            parts = textwrap.wrap(expl, room, break_on_hyphens=False) or [""]
            lines.append([*line, (parts[0], None)])
            lines.extend([[(" " * left + p, None)] for p in parts[1:]])
        else:
            lines.append(line)
            lines.extend(
                [[("    " + p, None)] for p in textwrap.wrap(expl, max(20, width - 4), break_on_hyphens=False)]
            )
    if filters and not evaluation.outcomes:
        lines = [[(f"No outcome matched {filters}.", None)]]
    rec = evaluation.record
    summary = ", ".join(f"{k}: {v}" for k, v in evaluation.counts().items())
    n = len(evaluation.outcomes)
    shown = f"{n} of {total} outcomes matched {filters}" if filters else f"{n} outcomes"
    lines.append([("", None)])
    tail = (
        f"{shown}{f' ({summary})' if summary else ''}; as of {rec.as_of}; rulebook "
        f"{rec.rulebook_id} {rec.rulebook_version}; backend {rec.backend}"
    )
    lines.extend([[(part, None)] for part in textwrap.wrap(tail, width)])
    return lines


def plain(lines: Sequence[Line]) -> str:
    """The table as text, without colour."""
    return "".join("".join(t for t, _ in line).rstrip() + "\n" for line in lines)


def _sgr(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"\x1b[38;2;{r};{g};{b}m"


def write_table(lines: Sequence[Line], stream: Sink) -> None:
    """Write the table to a terminal with each coloured segment in its colour. The texts are shown
    with control characters escaped (``terminal_text``); only the SGR sequences made here are raw."""
    raw = stream.raw if isinstance(stream, TerminalStream) else stream
    for line in lines:
        segments = list(line)
        while segments and segments[-1][1] is None and not segments[-1][0].strip():
            segments.pop()
        text = ""
        for t, colour in segments:
            body = terminal_text(t)
            if colour is not None and colour.startswith("#") and len(colour) == 7:
                stripped = body.rstrip()
                body = _sgr(colour) + stripped + "\x1b[0m" + body[len(stripped) :]
            text += body
        raw.write(text.rstrip() + "\n")
    raw.flush()


@contextmanager
def progress(stream: Sink, *, quiet: bool, total: int | None, unit: str, desc: str) -> Iterator[Any]:
    """A progress bar on ``stream`` (stderr) for a run over a few seconds: shown after two seconds,
    only on a terminal and without ``--quiet``; yields an object with ``update(n)``."""
    if quiet or not stream.isatty():
        yield _Silent()
        return
    from tqdm import tqdm  # type: ignore[import-untyped]

    raw = stream.raw if isinstance(stream, TerminalStream) else stream
    bar = tqdm(
        total=total,
        unit=unit,
        desc=desc,
        file=raw,
        delay=PROGRESS_DELAY,
        leave=False,
        unit_scale=True,
        dynamic_ncols=True,
    )
    try:
        yield bar
    finally:
        bar.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        """Nothing: progress is not shown."""
        del n

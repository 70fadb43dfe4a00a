"""Charts people read: a Making Data Count (XmR) chart of a monthly series as one accessible SVG.

``spc_chart`` draws the series with its mean and process limits (``render.spc``), each point in the
Making Data Count colours (orange concern, blue improvement, purple neither, grey common cause), the
target line, the deadline marker and the last value, with labelled axes and regular ticks. The
chart is self-contained (no script, no font, no network), has a ``<title>`` and a ``<desc>``, and
says in text what its variation and assurance icons mean.

Labels never overlap: every text is placed by a fixed rule in its own band (the title and the
deadline above the plot, the y ticks left of it, the x ticks below it, the lines' labels in a column
right of it, pushed apart where their lines are close, the meanings below), and ``text_box``
estimates the box a text takes (from a per-character width table of a sans-serif face) so that
the tests can check that no two boxes intersect.

``judged_series`` (the judged quantity) says what a rule's chart plots: the measured side of its
comparison, month by month (the ratio ``pct()`` judges, ``100 * total(a) / total(b)`` per month,
the value for ``total`` or ``mean``), with the comparison's threshold.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Final, Literal

import attrs

from ..data.state import Observation
from ..errors import PolicyError
from ..io.arguments import wrong_argument
from ..io.terminal import inline_text
from ..language.ast import Binary, Call, Name, Node, Num, Unary
from ..language.months import format_month, parse_month
from ..language.rules import Rule
from ..language.shape import Comparison, catalogue_name
from .spc import Spc, Variation, spc

__all__ = [
    "COLOURS",
    "FONT_SIZE",
    "Box",
    "JudgedSeries",
    "judged_series",
    "spc_chart",
    "text_box",
    "text_width",
]

FONT_SIZE: Final = 11
"""The chart's text size in px (the title's is ``FONT_SIZE + 1``)."""
_LINE: Final = 15
"""The height of one line of text, in px."""
_PLOT_W: Final = 420
_PLOT_H: Final = 180

COLOURS: Final[Mapping[str, str]] = {
    # NHSRplotthedots' ptd_spc_colours() (the Making Data Count colours)
    Variation.COMMON_CAUSE.value: "#a6a6a6",
    Variation.IMPROVEMENT.value: "#00b0f0",
    Variation.CONCERN.value: "#e46c0a",
    Variation.NEITHER_HIGH.value: "#490092",
    Variation.NEITHER_LOW.value: "#490092",
    "mean": "#000000",
    "limit": "#7f7f7f",
    "target": "#de1b1b",
    "deadline": "#490092",
    "line": "#a6a6a6",
}
"""Each point kind's colour and each line's (the limits a shade darker than the package's grey, for contrast)."""

_NARROW: Final = frozenset("il.,:;'|!()[]{}I ftjr/-")
_WIDE: Final = frozenset("mwMW@%&")
_UPPER_EXTRA: Final = 0.1


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """An upper estimate of ``text``'s width in px in a sans-serif face at ``size`` px."""
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 0.36
        elif ch in _WIDE:
            width += 0.95
        elif ch.isupper():
            width += 0.72 + _UPPER_EXTRA
        elif ord(ch) > 0x2E80:  # CJK and other wide scripts
            width += 1.0
        else:
            width += 0.62
    return width * size


@attrs.frozen
class Box:
    """An axis-aligned box: left, top, right, bottom (SVG coordinates: y grows down)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def intersects(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


def text_box(x: float, y: float, text: str, size: float = FONT_SIZE, anchor: str = "start") -> Box:
    """The box a text takes drawn at (``x``, baseline ``y``) with ``text-anchor`` ``anchor``."""
    w = text_width(text, size)
    left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return Box(left, y - 0.8 * size, left + w, y + 0.25 * size)


_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _safe(text: str) -> str:
    """Text from data as one line of XML text: control characters, lone surrogates and the two
    non-characters XML refuses shown as ``\\uXXXX``."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", inline_text(text))


@attrs.frozen
class _Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: float = FONT_SIZE
    fill: str = "#212b32"
    cls: str = ""
    bold: bool = False

    def box(self) -> Box:
        return text_box(self.x, self.y, self.text, self.size, self.anchor)

    def svg(self) -> str:
        weight = ' font-weight="bold"' if self.bold else ""
        cls = f' class="{self.cls}"' if self.cls else ""
        return (
            f'<text{cls} x="{self.x:.1f}" y="{self.y:.1f}" font-size="{self.size:g}" text-anchor="{self.anchor}" '
            f'fill="{self.fill}"{weight}>{html.escape(self.text)}</text>'
        )


def _nice_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Regular tick values covering [lo, hi]: a step of 1, 2 or 5 times a power of ten, at most ``most`` ticks."""
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9:  # one value (or values a rounding error apart)
        pad = max(abs(lo), abs(hi)) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    while True:
        first, last = math.floor(lo / step), math.ceil(hi / step)
        if last - first + 1 <= most:
            break
        step *= 2
    digits = max(0, -math.floor(math.log10(step)) + (1 if step / 10 ** math.floor(math.log10(step)) < 1 else 0))
    return sorted({round(k * step, digits + 1) for k in range(first, last + 1)})


def _wrap(text: str, width: float, size: float = FONT_SIZE) -> list[str]:
    """``text`` in lines no wider than ``width`` (estimated), broken at spaces (a word wider than
    the width is cut)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while text_width(word, size) > width and len(word) > 1:
            cut = len(word)
            while cut > 1 and text_width(word[:cut], size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _spread(wanted: list[float], height: float, top: float, bottom: float) -> list[float]:
    """Baselines as near ``wanted`` as can be, at least ``height`` apart, inside [top, bottom]
    (in ``wanted``'s order; ties keep their order). Assumes len(wanted) * height <= bottom - top."""
    order = sorted(range(len(wanted)), key=lambda i: (wanted[i], i))
    placed = [min(max(wanted[i], top), bottom) for i in order]
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + height)
    if placed and placed[-1] > bottom:
        placed[-1] = bottom
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - height)
    out = [0.0] * len(wanted)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def _check_points(points: object) -> list[tuple[str, float]]:
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence) or not points:
        raise wrong_argument(PolicyError, "points", "a non-empty sequence of (label, number) pairs", points)
    out = []
    for i, p in enumerate(points):
        ok = isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
        v = p[1] if ok else None
        if not ok or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise wrong_argument(PolicyError, f"points[{i}]", "a (label, finite number) pair", p)
        out.append((p[0], float(v)))
    return out


def _deadline_slot(labels: list[str], deadline: str) -> int:
    """Where the deadline falls on the x axis: the index of its label, or (months as ``YYYY-MM``)
    its month counted from the first point's."""
    if deadline in labels:
        return labels.index(deadline)
    try:
        first = parse_month(labels[0])
        months = [parse_month(label) for label in labels]
        when = parse_month(deadline[:7])
    except ValueError:
        when = None
        months = []
    if when is None or months != list(range(first, first + len(labels))):
        raise wrong_argument(
            PolicyError,
            "deadline",
            "one of the points' labels, or a month (YYYY-MM or a date) when the labels are consecutive months",
            deadline,
        )
    return when - first


def spc_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    desc: str,
    target: float | None = None,
    improvement: Literal["increase", "decrease"] | None = None,
    deadline: str | None = None,
    unit: Callable[[float], str] = str,
) -> str:
    """A Making Data Count chart of ``points`` ((label, value) in time order) as one SVG element.

    ``title`` names the quantity (the chart's ``<title>`` and its visible heading, which labels
    the y axis); ``desc`` says what it shows (its ``<desc>``, followed by the readings in words).
    ``target`` draws the target line and gives the assurance; ``improvement`` says which way is
    better; ``deadline`` marks a point's label or, for consecutive ``YYYY-MM`` labels, a month (or a
    date) on or after them; ``unit`` formats a value for the axis and the labels. With one point
    there are no limits (an XmR chart needs a moving range), and the chart says so.

    Raises ``PolicyError`` (``argument.value``) naming the argument that is not of its kind.
    """
    series = _check_points(points)
    for name, given in (("title", title), ("desc", desc)):
        if not isinstance(given, str):
            raise wrong_argument(PolicyError, name, "a str", given)
    if deadline is not None and not isinstance(deadline, str):
        raise wrong_argument(PolicyError, "deadline", "a str or None", deadline)
    if not callable(unit):
        raise wrong_argument(PolicyError, "unit", "a function of a number giving its text", unit)
    values = [v for _, v in series]
    reading = spc(values, improvement=improvement, target=target) if len(values) >= 2 else None
    if reading is None:
        # the checks spc() makes, for the one-point chart
        spc([values[0], values[0]], improvement=improvement, target=target)
    labels = [_safe(label) for label, _ in series]

    def fmt(v: float) -> str:
        text = unit(v)
        if not isinstance(text, str):
            raise wrong_argument(PolicyError, "unit", "a function giving a str", text)
        return _safe(text)

    # the x slots: the points, and the deadline where it falls outside them
    n = len(series)
    dl_slot = _deadline_slot([label for label, _ in series], deadline) if deadline is not None else None
    lo_slot = min(0, dl_slot) if dl_slot is not None else 0
    hi_slot = max(n - 1, dl_slot) if dl_slot is not None else n - 1

    # the y domain: the values, the limits, the target
    domain = list(values)
    if reading is not None:
        domain += [reading.lower_limit, reading.upper_limit]
    if target is not None:
        domain.append(float(target))
    ticks = _nice_ticks(min(domain), max(domain), most=max(2, _PLOT_H // (2 * _LINE)))
    y_lo, y_hi = ticks[0], ticks[-1]
    tick_texts = [fmt(t) for t in ticks]

    # the right-hand column: each line's label at its line's height
    line_labels: list[tuple[str, float, str]] = []  # text, value, colour
    if reading is not None:
        line_labels += [
            (f"upper limit {fmt(reading.upper_limit)}", reading.upper_limit, COLOURS["limit"]),
            (f"mean {fmt(reading.mean)}", reading.mean, COLOURS["mean"]),
            (f"lower limit {fmt(reading.lower_limit)}", reading.lower_limit, COLOURS["limit"]),
        ]
    if target is not None:
        line_labels.append((f"target {fmt(float(target))}", float(target), COLOURS["target"]))
    line_labels.append((f"latest {fmt(values[-1])} ({labels[-1]})", values[-1], "#212b32"))

    left = max(text_width(t) for t in tick_texts) + 14
    right = max(text_width(t) for t, _, _ in line_labels) + 22
    width = left + _PLOT_W + right

    # the top band: the title (wrapped), then the deadline's label
    title_lines = _wrap(_safe(title), width - 8, FONT_SIZE + 1) or [""]
    y = 4.0
    texts: list[_Text] = []
    for line in title_lines:
        y += _LINE
        texts.append(_Text(4, y, line, size=FONT_SIZE + 1, bold=True, cls="title"))
    deadline_y = y + _LINE if deadline is not None else y
    plot_top = deadline_y + 12
    plot_bottom = plot_top + _PLOT_H

    def px(slot: float) -> float:
        span = hi_slot - lo_slot
        return left + (_PLOT_W * (slot - lo_slot) / span if span else _PLOT_W / 2)

    def py(v: float) -> float:
        return plot_bottom - _PLOT_H * (v - y_lo) / (y_hi - y_lo)

    shapes: list[str] = []
    # axes and y ticks
    shapes.append(
        f'<line class="axis" x1="{left:.1f}" y1="{plot_top:.1f}" x2="{left:.1f}" y2="{plot_bottom:.1f}" '
        'stroke="#4c6272"/>'
    )
    shapes.append(
        f'<line class="axis" x1="{left:.1f}" y1="{plot_bottom:.1f}" x2="{left + _PLOT_W:.1f}" y2="{plot_bottom:.1f}" '
        'stroke="#4c6272"/>'
    )
    for t, text in zip(ticks, tick_texts, strict=True):
        ty = py(t)
        shapes.append(
            f'<line class="grid" x1="{left:.1f}" y1="{ty:.1f}" x2="{left + _PLOT_W:.1f}" y2="{ty:.1f}" '
            'stroke="#e8edee"/>'
        )
        texts.append(_Text(left - 6, ty + 4, text, anchor="end", cls="ytick"))

    # x ticks: every k-th slot, so that the labels keep apart
    slot_w = _PLOT_W / max(1, hi_slot - lo_slot)
    widest = max(text_width(label) for label in labels)
    every = max(1, math.ceil((widest + 8) / slot_w)) if hi_slot > lo_slot else 1
    x_base = plot_bottom + 18
    for i in range(0, n, every):
        x = px(i)
        shapes.append(
            f'<line x1="{x:.1f}" y1="{plot_bottom:.1f}" x2="{x:.1f}" y2="{plot_bottom + 4:.1f}" stroke="#4c6272"/>'
        )
        texts.append(_Text(x, x_base, labels[i], anchor="middle", cls="xtick"))
    texts.append(_Text(left + _PLOT_W / 2, x_base + _LINE, "month", anchor="middle", cls="xlabel"))

    # the lines
    x0, x1 = px(lo_slot), px(hi_slot)
    if reading is not None:
        for value, cls, dash in (
            (reading.upper_limit, "upper-limit", ' stroke-dasharray="5 3"'),
            (reading.mean, "mean", ""),
            (reading.lower_limit, "lower-limit", ' stroke-dasharray="5 3"'),
        ):
            colour = COLOURS["mean" if cls == "mean" else "limit"]
            shapes.append(
                f'<line class="{cls}" x1="{x0:.1f}" y1="{py(value):.1f}" x2="{x1:.1f}" y2="{py(value):.1f}" '
                f'stroke="{colour}"{dash}/>'
            )
    if target is not None:
        ty = py(float(target))
        shapes.append(
            f'<line class="target" x1="{x0:.1f}" y1="{ty:.1f}" x2="{x1:.1f}" y2="{ty:.1f}" '
            f'stroke="{COLOURS["target"]}" stroke-width="1.5" stroke-dasharray="8 3"/>'
        )
    if dl_slot is not None and deadline is not None:
        dx = px(dl_slot)
        shapes.append(
            f'<line class="deadline" x1="{dx:.1f}" y1="{plot_top - 6:.1f}" x2="{dx:.1f}" y2="{plot_bottom:.1f}" '
            f'stroke="{COLOURS["deadline"]}" stroke-dasharray="3 3"/>'
        )
        text = f"deadline {_safe(deadline)}"
        w = text_width(text)
        lx = min(max(dx - w / 2, 2), width - 2 - w)
        texts.append(_Text(lx, deadline_y, text, fill=COLOURS["deadline"], cls="deadline-label"))

    # the series and its points
    path = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values))
    shapes.append(
        f'<polyline class="series" fill="none" stroke="{COLOURS["line"]}" stroke-width="1.5" points="{path}"/>'
    )
    for i, v in enumerate(values):
        kind = reading.points[i].variation.value if reading is not None else Variation.COMMON_CAUSE.value
        shapes.append(
            f'<circle class="point {kind}" cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.5" fill="{COLOURS[kind]}">'
            f"<title>{html.escape(labels[i])}: {html.escape(fmt(v))}</title></circle>"
        )
    shapes.append(
        f'<circle class="latest" cx="{px(n - 1):.1f}" cy="{py(values[-1]):.1f}" r="6" fill="none" stroke="#212b32"/>'
    )

    # the right-hand column, pushed apart where lines are close, with a leader to each line
    wanted = [py(v) + 4 for _, v, _ in line_labels]
    placed = _spread(wanted, _LINE, plot_top + 4, max(plot_bottom + 4, plot_top + 4 + _LINE * len(wanted)))
    lx = left + _PLOT_W + 18
    for (text, value, colour), ly in zip(line_labels, placed, strict=True):
        shapes.append(
            f'<line class="leader" x1="{left + _PLOT_W + 2:.1f}" y1="{py(value):.1f}" x2="{lx - 2:.1f}" '
            f'y2="{ly - 4:.1f}" stroke="{colour}" stroke-width="0.75"/>'
        )
        texts.append(_Text(lx, ly, text, fill=colour, cls="line-label"))

    # the meanings: the icons and the colours in words
    y = max(x_base + 2 * _LINE, placed[-1] + _LINE if placed else 0)
    meanings = _meanings(reading, target, improvement)
    for letter, colour, sentence in meanings:
        icon_x = 4.0
        text_x = icon_x + 20 if letter else icon_x
        lines = _wrap(sentence, width - text_x - 4)
        if letter:
            shapes.append(
                f'<circle class="icon" cx="{icon_x + 8:.1f}" cy="{y + _LINE - 4:.1f}" r="8" fill="#ffffff" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
            texts.append(
                _Text(
                    icon_x + 8, y + _LINE, letter, anchor="middle", size=FONT_SIZE - 1, fill=colour, cls="icon-letter"
                )
            )
        for line in lines:
            y += _LINE
            texts.append(_Text(text_x, y, line, cls="meaning"))
        y += 6
    height = y + 8

    words = " ".join(sentence for _, _, sentence in meanings)
    full_desc = f"{_safe(desc)} {words}".strip()
    ident = (
        "spc-"
        + hashlib.sha256(
            repr((title, desc, series, target, improvement, deadline)).encode("utf-8", "surrogatepass")
        ).hexdigest()[:10]
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spc-chart" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        'font-family="Arial, Helvetica, sans-serif">'
        f'<title id="{ident}-title">{html.escape(_safe(title))}</title>'
        f'<desc id="{ident}-desc">{html.escape(full_desc)}</desc>'
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
    )
    return head + "".join(shapes) + "".join(t.svg() for t in texts) + "</svg>"


def _meanings(reading: Spc | None, target: float | None, improvement: str | None) -> list[tuple[str, str, str]]:
    """(icon letter, colour, sentence) for the variation, the assurance and the colours' key."""
    out: list[tuple[str, str, str]] = []
    if reading is None:
        out.append(("", "#212b32", "One point: no process limits (an XmR chart needs two or more)."))
        return out
    v = reading.variation
    out.append((v.letter, COLOURS[v.value], f"Variation: {v.words} (the latest point)."))
    if reading.assurance is not None:
        a = reading.assurance
        out.append((a.letter, "#212b32", f"Assurance: {a.words}."))
    elif target is not None:
        out.append(
            ("", "#212b32", "No assurance: without an improvement direction a target is neither met nor missed.")
        )
    better = {"increase": "higher is better", "decrease": "lower is better"}.get(
        improvement or "", "no direction is better"
    )
    key = (
        f"Points: orange special cause concern, blue special cause improvement, purple special cause neither, "
        f"grey common cause ({better}). Process limits at the mean plus or minus 2.66 times the mean moving range"
    )
    if reading.trial:
        key += f"; trial limits ({len(reading.points)} points, fewer than 13)"
    out.append(("", "#212b32", key + "."))
    return out


@attrs.frozen
class JudgedSeries:
    """What a rule's chart plots: the measured side of one comparison, month by month."""

    comparison: Comparison
    metrics: tuple[str, ...]
    """The metrics the measured side reads."""
    threshold: Fraction | None
    """The bound's value, when it is a number or a parameter."""
    parameters: Mapping[str, Fraction] = attrs.field(factory=dict)
    """The rule's parameters' values (the measured side may read one)."""

    def values(self, series: Mapping[str, Mapping[int, Observation]]) -> list[tuple[str, Fraction]]:
        """(``YYYY-MM``, value) for every month each metric has an observation for and the
        measured side has a value (a month with a zero denominator is left out)."""
        months = sorted(set.intersection(*(set(series.get(m, {})) for m in self.metrics))) if self.metrics else []
        out = []
        for month in months:
            value = _at_month(self.comparison.measured, {m: series[m][month] for m in self.metrics}, self.parameters)
            if value is not None:
                out.append((format_month(month), value))
        return out


def judged_series(rule: Rule) -> JudgedSeries | None:
    """The quantity a rule's condition judges, to chart month by month: the first comparison of its
    condition whose measured side is arithmetic over metric calls and constants (so ``pct(m, p)``
    is charted as each month's percentage, ``100 * total(a, p) / total(b, p)`` as each month's
    ratio, ``total`` or ``mean`` as each month's value). None when no comparison is of that kind."""
    for c in rule.shape.comparisons:
        if c is None or c.op not in ("<", "<=", ">", ">="):
            continue
        metrics = _metrics_of(c.measured)
        if metrics:
            threshold = c.constant
            if threshold is None and c.parameter is not None and c.parameter in rule.parameters:
                threshold = rule.parameters[c.parameter].value
            return JudgedSeries(c, tuple(sorted(metrics)), threshold, {n: p.value for n, p in rule.parameters.items()})
    return None


def _metrics_of(node: Node) -> set[str] | None:
    """The metrics an arithmetic expression of metric calls and constants reads (None if it is not one)."""
    if isinstance(node, Num) or (isinstance(node, Name) and node.parts[0] == "param"):
        return set()
    if isinstance(node, Unary) and node.op == "-":
        return _metrics_of(node.operand)
    if isinstance(node, Binary) and node.op in ("+", "-", "*", "/"):
        left, right = _metrics_of(node.left), _metrics_of(node.right)
        return None if left is None or right is None else left | right
    if isinstance(node, Call) and node.func in _MONTHLY and len(node.args) == 2:
        name = catalogue_name(node.args[0])
        return None if name is None else {name}
    return None


_MONTHLY: Final = frozenset({"pct", "min_pct", "max_pct", "rate", "total", "mean", "min_value", "max_value"})
"""The metric functions whose value over one month is that month's value (or ratio)."""


def _at_month(node: Node, month: Mapping[str, Observation], parameters: Mapping[str, Fraction]) -> Fraction | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return parameters.get(node.parts[-1]) if len(node.parts) == 2 and node.parts[0] == "param" else None
    if isinstance(node, Unary):
        inner = _at_month(node.operand, month, parameters)
        return None if inner is None else -inner
    if isinstance(node, Binary):
        a, b = _at_month(node.left, month, parameters), _at_month(node.right, month, parameters)
        if a is None or b is None or (node.op == "/" and b == 0):
            return None
        return {"+": a + b, "-": a - b, "*": a * b}[node.op] if node.op != "/" else a / b
    if isinstance(node, Call):
        name = catalogue_name(node.args[0])
        obs = month.get(name or "")
        if obs is None:
            return None
        if obs.value is not None:
            return obs.value
        if obs.numerator is None or not obs.denominator:
            return None
        scale = 100 if node.func in ("pct", "min_pct", "max_pct") else 1
        return Fraction(scale * obs.numerator, obs.denominator)
    return None

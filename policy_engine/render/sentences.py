"""Outcomes in plain English, for the report a manager reads: ``outcome_sentence(outcome, rule, book)``.

The sentence is made from the rule's checked AST (``rule.condition``) and the outcome's typed
evidence (``evaluation.evidence``: ``Ratio``, ``Number``, ``Unknown`` ...), never from the formula
text of its explanation: "Not met: the share of … was 74.2% in March 2025; the standard is at least
78% (16,326 of 22,012; 844 more needed)." Status labels are ``STATUS_INFO``'s. Numbers are shown in
their natural form (:func:`natural`): minutes:seconds for times in seconds, £ with thousands
separators, percentages to one decimal unless one decimal would make the comparison read wrongly
(77.96% against 78% is not "78.0%"). The text is plain (not Markdown, not HTML); the caller escapes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from fractions import Fraction

from ..evaluation.evidence import (
    Boolean,
    CohortStanding,
    Date,
    Evidence,
    Listing,
    Number,
    OutcomeStatus,
    Quantity,
    Ratio,
    Text,
    Unknown,
)
from ..evaluation.outcomes import Outcome
from ..language.ast import COMPARISONS, Binary, Bool, Call, Name, Node, Num, Str, Unary, render
from ..language.checker import METRIC_FUNCTIONS
from ..language.months import date_words, format_month, month_words, parse_month
from ..language.rules import Rule
from ..language.statuses import DEADLINE_WORDING, STATUS_INFO
from ..rulebook.loader import Rulebook
from .english import COMPARE_WORDS, Words
from .words import period_label

__all__ = ["missing_data", "natural", "outcome_sentence"]

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_MAX_DECIMALS = 6
_MD_ESCAPED = re.compile(r"\\([\\`*_\[\]#|])")


# --------------------------------------------------------------------------- numbers


def _compare(a: Fraction, op: str, b: Fraction) -> bool:
    return {
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
        "==": a == b,
        "!=": a != b,
    }[op]


def _rounded(value: Fraction, decimals: int) -> Fraction:
    """``value`` rounded half away from zero to ``decimals`` places."""
    scale = 10**decimals
    sign = -1 if value < 0 else 1
    return sign * Fraction(math.floor(abs(value) * scale + Fraction(1, 2)), scale)


def _decimal_text(value: Fraction, decimals: int) -> str:
    """``value`` to ``decimals`` places with thousands separators (``16,326``, ``74.2``)."""
    r = _rounded(value, decimals)
    sign = "-" if r < 0 else ""
    scaled = abs(r) * 10**decimals
    whole, frac = divmod(int(scaled), 10**decimals)
    text = f"{whole:,}"
    if decimals:
        text += "." + str(frac).rjust(decimals, "0")
    return sign + text


def _decimals(value: Fraction, least: int, against: Fraction | None, op: str | None) -> int:
    """The fewest decimals (at least ``least``) at which ``value`` compares with ``against`` as it
    does exactly, and shows as different from it when it is different."""
    if value.denominator == 1:
        return 0
    if against is None or op is None:
        return least
    for d in range(least, _MAX_DECIMALS + 1):
        r = _rounded(value, d)
        if _compare(r, op, against) == _compare(value, op, against) and (r == against) == (value == against):
            return d
    return _MAX_DECIMALS


def _clock(seconds: Fraction) -> str:
    total = int(_rounded(seconds, 0))
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d} (h:min:s)"
    return f"{sign}{minutes}:{secs:02d} (min:s)"


def natural(value: Fraction, unit: str | None, against: Fraction | None = None, op: str | None = None) -> str:
    """``value`` in its natural form: ``74.2%``, ``35:48 (min:s)``, ``£665,303,600``, ``1,053 beds``.

    ``against`` and ``op`` are the comparison it is judged by: a percentage (or other fraction) gets
    more than one decimal only where one decimal would make it compare differently, or look equal."""
    if unit == "seconds":
        if against is None or _compare(_rounded(value, 0), op or "==", against) == _compare(value, op or "==", against):
            return _clock(value)
        return f"{_decimal_text(value, _decimals(value, 1, against, op))} seconds"
    least = 2 if unit is not None and unit.lower() == "gbp" else 1
    digits = _decimals(value, least, against, op)
    text = _decimal_text(value, digits)
    if unit is None or unit == "rank":
        return text
    if unit == "percent":
        return text + "%"
    if unit.lower() == "gbp":
        return "£" + text
    if unit == "GBP thousands":
        return f"£{text} thousand"
    if value == 1 and unit == "people":
        return f"{text} person"
    if value == 1 and " " not in unit and unit.endswith("s") and unit != "people":
        unit = unit[:-3] + "y" if unit.endswith("ies") else unit[:-1]
    return f"{text} {unit}"


def _difference(value: Fraction, unit: str | None) -> str:
    """A difference of two values: percentage points for percentages."""
    if unit == "percent":
        d = _decimals(value, 1, None, None)
        return f"{_decimal_text(value, d)} percentage point{'' if value == 1 else 's'}"
    if unit == "seconds":
        minutes, secs = divmod(int(_rounded(abs(value), 0)), 60)
        sign = "-" if value < 0 else ""
        return f"{sign}{minutes} min {secs} s" if minutes else f"{sign}{secs} s"
    return natural(value, unit)


# --------------------------------------------------------------------------- months and missing data


def _month_runs(months: Iterable[str]) -> str:
    """``April 2024 to March 2025``, ``May 2024, July 2024`` — consecutive months as ranges."""
    idx = sorted({parse_month(m) for m in months})
    runs: list[tuple[int, int]] = []
    for m in idx:
        if runs and runs[-1][1] == m - 1:
            runs[-1] = (runs[-1][0], m)
        else:
            runs.append((m, m))
    return ", ".join(month_words(a) if a == b else f"{month_words(a)} to {month_words(b)}" for a, b in runs)


def _subject(book: Rulebook, item: Evidence) -> str:
    """The catalogue name of an evidence item (``ae_4h_all`` of ``pct(ae_4h_all)``)."""
    m = re.fullmatch(r"[a-z_]+\(([^()]*)\)", item.name)
    return m.group(1) if m else item.name


def _label(book: Rulebook, kind: str, name: str) -> str:
    entry = {"metric": book.metrics, "fact": book.facts, "service": book.services}.get(kind, {}).get(name)
    return (getattr(entry, "label", None) or name) if entry is not None else name


def missing_data(outcome: Outcome, book: Rulebook) -> list[str]:
    """What data would decide an unknown outcome, one phrase per missing datum:
    ``ae_4h_all (share of …): no data for April 2024 to March 2025``."""
    found: list[str] = []
    for item in outcome.evidence:
        q = item.quantity
        if not isinstance(q, Unknown) or item.kind == "comparison":
            continue
        name = _subject(book, item)
        what = f"{name} ({_label(book, item.kind, name)})" if item.kind in ("metric", "fact") else name
        if q.reason == "no_data":
            text = f"{what}: no data for {_month_runs(q.months)}" if q.months else f"{what}: no data"
        elif q.reason == "not_declared":
            text = f"{what}: not declared"
        elif q.reason == "services_not_declared":
            text = "the organisation's services: not declared"
        elif q.reason in ("zero_denominator", "zero_denominator_month"):
            text = f"{what}: the denominator is 0"
        else:
            text = f"{what}: not known"
        if text not in found:
            found.append(text)
    return found


# --------------------------------------------------------------------------- sentences


class _Plain(Words):
    """``Words`` with metric labels as plain text (no Markdown emphasis)."""

    def _base(self, node: Call) -> str:
        metric = self.book.metrics[node.args[0].value if isinstance(node.args[0], Str) else _arg(node.args[0])]
        return metric.label or metric.name


def _arg(node: Node) -> str:
    if isinstance(node, Name):
        return node.dotted
    if isinstance(node, Str):
        return node.value
    return render(node)


def _plain(text: str) -> str:
    """Markdown from ``Words`` as plain text: its escapes and emphasis removed."""
    text = _MD_ESCAPED.sub(r"\1", text.replace("&lt;", "<"))
    return text.replace("*", "").replace("`", "")


class _Sentence:
    def __init__(self, outcome: Outcome, rule: Rule, book: Rulebook) -> None:
        self.outcome = outcome
        self.rule = rule
        self.book = book
        self.words = _Plain(book, rule, lambda rid: rid)
        self.by_key: dict[tuple[str, str | None], Evidence] = {}
        for item in outcome.evidence:
            self.by_key.setdefault((item.kind + ":" + item.name, item.period), item)

    # -- values of expressions ----------------------------------------------------------------
    def _period_range(self, name: str) -> str:
        p = self.book.periods[name]
        return f"{format_month(p.start)}..{format_month(p.end)}"

    def value(self, node: Node) -> Quantity | None:
        """The typed value of an expression, from the evidence (None where it does not hold it)."""
        if isinstance(node, Num):
            return Number(node.value)
        if isinstance(node, Name) and node.parts[0] == "param" and len(node.parts) == 2:
            p = self.rule.parameters[node.parts[1]]
            return Number(p.value, p.unit)
        if isinstance(node, Call):
            if node.func in METRIC_FUNCTIONS:
                key = (f"metric:{node.func}({_arg(node.args[0])})", self._period_range(_arg(node.args[1])))
                item = self.by_key.get(key)
                return item.quantity if item else None
            if node.func in ("fact", "fact_date"):
                item = self.by_key.get((f"fact:{_arg(node.args[0])}", None))
                if item is None:
                    return None
                q = item.quantity
                if isinstance(q, Number) and q.unit is None:
                    return Number(q.value, self.book.facts[_arg(node.args[0])].unit)
                return q
            if node.func == "outcome":
                item = self.by_key.get((f"outcome:{_arg(node.args[0])}", None))
                return item.quantity if item else None
            if node.func == "rank":
                item = self.by_key.get((f"rank:{render(node.args[0])}", None))
                return item.quantity if item else None
        if isinstance(node, Unary) and node.op == "-":
            inner = self.value(node.operand)
            return Number(-inner.value, inner.unit) if isinstance(inner, (Number, Ratio)) else inner
        if isinstance(node, Binary) and node.op in ("+", "-", "*", "/"):
            a, b = self.value(node.left), self.value(node.right)
            if isinstance(a, Unknown):
                return a
            if isinstance(b, Unknown):
                return b
            if isinstance(a, (Number, Ratio)) and isinstance(b, (Number, Ratio)):
                x, y = a.value, b.value
                if node.op == "/" and y == 0:
                    return Unknown("zero_denominator")
                v = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else x}[node.op]
                unit = a.unit or b.unit if node.op in ("+", "-") else None
                return Number(v, unit)
        return None

    def unit(self, node: Node) -> str | None:
        unit = self.words.unit(node)
        if unit is None:
            q = self.value(node)
            unit = q.unit if isinstance(q, (Number, Ratio)) else None
        return unit

    # -- phrases --------------------------------------------------------------------------------
    def phrase(self, node: Node) -> str:
        """The measured side in words: ``the share of … in March 2025``."""
        if isinstance(node, Call) and node.func in METRIC_FUNCTIONS:
            period = self.book.periods[_arg(node.args[1])]
            word = "in" if period.start == period.end else "over"
            return f"{self.words._aggregate(node.func, self.words._base(node), None)} {word} {period_label(period)}"
        if isinstance(node, Call) and node.func == "fact":
            fact = self.book.facts[_arg(node.args[0])]
            label = fact.label or fact.name
            return f"{label} (declared)" if label.startswith("the ") else f"the declared {label}"
        return _plain(self.words.expr(node))

    def shown(
        self, q: Quantity | None, unit: str | None, against: Fraction | None, op: str | None, points: bool = False
    ) -> str:
        if isinstance(q, (Number, Ratio)) and points:
            return _difference(q.value, "percent")
        if isinstance(q, (Number, Ratio)):
            return natural(q.value, q.unit or unit, against, op)
        if isinstance(q, Date):
            return date_words(q.value)
        if isinstance(q, Boolean):
            return "yes" if q.value else "no"
        if isinstance(q, Text):
            return f"“{q.value}”"
        if isinstance(q, OutcomeStatus):
            return STATUS_INFO[q.value].label
        if isinstance(q, Listing):
            return "listed" if q.listed else "not listed"
        if isinstance(q, Unknown):
            return "not known"
        return "not known"

    def unknown_why(self, q: Unknown) -> str:
        if q.reason == "no_data":
            return f"no data for {_month_runs(q.months)}" if q.months else "no data"
        if q.reason in ("zero_denominator", "zero_denominator_month"):
            return "the denominator is 0"
        if q.reason == "not_declared":
            return "not declared"
        if q.reason == "services_not_declared":
            return "the organisation's services are not declared"
        return "not known"

    # -- clauses --------------------------------------------------------------------------------
    def clause(self, node: Node) -> str:
        if isinstance(node, Binary) and node.op in ("and", "or"):
            return f"({self.clause(node.left)} {node.op} {self.clause(node.right)})"
        if isinstance(node, Unary) and node.op == "not":
            return f"it is not the case that {self.clause(node.operand)}"
        if isinstance(node, Binary) and node.op in COMPARISONS:
            return self.comparison(node)
        if isinstance(node, Call) and node.func == "has_fact":
            fact = self.book.facts[_arg(node.args[0])]
            item = self.by_key.get((f"fact:{fact.name}", None))
            declared = item is not None and not isinstance(item.quantity, Unknown)
            return f"“{fact.label or fact.name}” is {'declared' if declared else 'not declared'}"
        if isinstance(node, Call) and node.func == "has_service":
            service = self.book.services[_arg(node.args[0])]
            item = self.by_key.get((f"service:{service.name}", None))
            listed = "not known" if item is None else self.shown(item.quantity, None, None, None)
            return f"the service “{service.label or service.name}” is {listed}"
        return _plain(self.words.expr(node))

    def comparison(self, node: Binary) -> str:
        left, right, op = node.left, node.right, node.op
        for a, b in ((left, right), (right, left)):
            if isinstance(a, Call) and a.func == "outcome" and isinstance(b, Str):
                return self.outcome_clause(a, b.value, op)
        if isinstance(left, Call) and left.func == "rank":
            return self.rank_clause(node)
        if isinstance(right, Bool) and isinstance(left, Call) and left.func == "fact":
            return self.fact_truth(left, right.value if op == "==" else not right.value)
        measured, bound = left, right
        if self._constant(left) and not self._constant(right):
            measured, bound, op = right, left, _FLIP[op]
        unit = self.unit(measured) or self.unit(bound)
        mv, bv = self.value(measured), self.value(bound)
        b_exact = bv.value if isinstance(bv, (Number, Ratio)) else None
        m_exact = mv.value if isinstance(mv, (Number, Ratio)) else None
        word = COMPARE_WORDS[op]
        standard = f"{word} " if word else ""
        points = self.words._additive_percent(measured)
        if isinstance(mv, Unknown):
            head = f"{self.phrase(measured)} is not known ({self.unknown_why(mv)})"
        else:
            head = f"{self.phrase(measured)} was {self.shown(mv, unit, b_exact, op, points)}"
        if self._constant(bound):
            tail = f"the standard is {standard}{self.shown(bv, unit, None, None, points)}"
        elif isinstance(bv, Unknown):
            tail = f"it must be {standard}{self.phrase(bound)}, which is not known ({self.unknown_why(bv)})"
        else:
            shown = self.shown(bv, unit, m_exact, _FLIP[op])
            tail = f"it must be {standard}{self.phrase(bound)}, which was {shown}"
        detail = self.detail(mv, op, b_exact, "points" if points else unit)
        return f"{head}; {tail}{f' ({detail})' if detail else ''}"

    def _constant(self, node: Node) -> bool:
        if isinstance(node, Num):
            return True
        if isinstance(node, Name) and node.parts[0] == "param":
            return True
        return isinstance(node, Unary) and self._constant(node.operand)

    def detail(self, mv: Quantity | None, op: str, bound: Fraction | None, unit: str | None) -> str:
        """The counts behind a ratio and how far the value is from its bound."""
        if not isinstance(mv, (Number, Ratio)) or bound is None or op in ("==", "!="):
            return ""
        met = _compare(mv.value, op, bound)
        parts: list[str] = []
        if isinstance(mv, Ratio) and mv.scale == 100:
            parts.append(f"{mv.numerator:,} of {mv.denominator:,}")
            if not met:
                target = bound * mv.denominator / mv.scale
                if op in (">=", ">"):
                    k = math.ceil(target - mv.numerator) if op == ">=" else math.floor(target - mv.numerator) + 1
                    parts.append(f"{k:,} more needed")
                else:
                    k = math.ceil(mv.numerator - target) if op == "<=" else math.floor(mv.numerator - target) + 1
                    parts.append(f"{k:,} fewer needed")
        elif not met:
            gap = abs(mv.value - bound)
            gap_unit = "percent" if unit == "points" else mv.unit or unit
            parts.append(f"{_difference(gap, gap_unit)} {'short' if op in ('>=', '>') else 'over'}")
        return "; ".join(parts)

    def fact_truth(self, node: Call, wanted: bool) -> str:
        fact = self.book.facts[_arg(node.args[0])]
        label = fact.label or fact.name
        q = self.value(node)
        if isinstance(q, Unknown) or q is None:
            return f"“{label}” is not declared (the requirement is “{'yes' if wanted else 'no'}”)"
        said = self.shown(q, None, None, None)
        required = "" if q == Boolean(wanted) else f" ({'yes' if wanted else 'no'} is required)"
        return f"declared {said}: {label}{required}"

    def outcome_clause(self, call: Call, status: str, op: str) -> str:
        rid = _arg(call.args[0])
        other = next((r for r in self.book.rules if r.id == rid), None)
        title = f"“{other.title}” ({rid})" if other else rid
        q = self.value(call)
        actual = self.shown(q, None, None, None)
        wanted = STATUS_INFO[status].label if status in STATUS_INFO else status
        relation = "must be" if op == "==" else "must not be"
        return f"{title} is {actual} (it {relation} {wanted})"

    def rank_clause(self, node: Binary) -> str:
        cohort = next((e.quantity for e in self.outcome.evidence if isinstance(e.quantity, CohortStanding)), None)
        by = self.phrase(node.left.args[0]) if isinstance(node.left, Call) else ""
        limit = self.value(node.right)
        top = f"the top {natural(limit.value, None)}" if isinstance(limit, Number) else "the cut-off"
        if cohort is None:
            return f"its rank by {by} is not known; {top} qualify"
        f = cohort.figures
        types = " or ".join(t.replace("_", " ") for t in f.types)
        scope = f"the {f.scope} cohort (organisations of type {types})"
        if not f.complete:
            return f"{scope} is not declared complete, so its rank by {by} is not known; {top} qualify"
        if f.rank is not None:
            where = f"ranks {f.rank} of {f.size}"
        elif f.rank_low is not None:
            where = f"ranks between {f.rank_low} and {f.rank_high} of {f.size}"
        else:
            where = f"is not ranked among the {f.size}"
        return f"it {where} in {scope} by {by}; {top} qualify"

    # -- the sentence ---------------------------------------------------------------------------
    def sentence(self) -> str:
        status = self.outcome.status
        info = STATUS_INFO[status]
        if status == "not_applicable":
            return f"{info.label}: {info.wording}."
        node = self.rule.condition
        for op, lead in (("and", ""), ("or", "any of: ")):
            parts = _chain(node, op)
            if len(parts) > 1:
                text = lead + "; ".join(self.clause(p) for p in parts)
                break
        else:
            text = self.clause(node)
        timing = self.timing()
        return f"{info.label}: {text}{timing}."

    def timing(self) -> str:
        status, deadline = self.outcome.status, self.outcome.deadline
        if deadline is None:
            return ""
        wording = DEADLINE_WORDING.get(status)
        return "" if wording is None else "; " + wording.format(when=date_words(deadline))


def _chain(node: Node, op: str) -> list[Node]:
    if isinstance(node, Binary) and node.op == op:
        return [*_chain(node.left, op), *_chain(node.right, op)]
    return [node]


def outcome_sentence(outcome: Outcome, rule: Rule, book: Rulebook) -> str:
    """The outcome in plain English: its status label, then what was measured or declared against
    what the rule requires, from the rule's AST and the typed evidence (plain text, not escaped)."""
    if outcome.rule_id != rule.id:
        raise ValueError(f"the outcome is of rule {outcome.rule_id!r}, not {rule.id!r}")
    return _Sentence(outcome, rule, book).sentence()

"""Generate the human-readable rule reference (Markdown pages for MkDocs) from a rulebook.

One page per guidance area with one entry per rule — its condition in plain English (rendered from
the checked AST, never hand-written), parameters, deadline, period, the verbatim quote and its
source, confidence, assumptions, the rules it reads and is read by, and the scenario tests that
name it — plus an index page and the coverage ledger. The output is deterministic (sorted, no
timestamps), so ``--check`` can fail when committed pages are stale::

    python -m policy_engine.render.docs [--rulebook NAME|PATH] [--out docs/reference] [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from ..errors import ErrorCode, PolicyError, RulebookError
from ..language.ast import ARITHMETIC, COMPARISONS, Binary, Bool, Call, Name, Node, Num, Str, Unary
from ..language.checker import METRIC_FUNCTIONS
from ..language.months import format_month
from ..language.rules import MetricDef, Parameter, Period, Rule
from ..rulebook.loader import Rulebook, load_rulebook

__all__ = ["check", "condition_in_words", "generate", "main", "render_pages", "scenario_index"]

DEFAULT_OUT = Path("docs") / "reference"
REGENERATE = "python -m policy_engine.render.docs"

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
_COMPARE_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "", "!=": "not"}
_WHEN = {"target": "Met when", "obligation": "Met when", "breach": "Breached when", "eligibility": "Eligible when"}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # scenario files only: plain data
_QUANTITY_WORDS = ("number ", "count ", "value ", "average ", "total ", "units ", "mean ")

# --------------------------------------------------------------------------- Markdown text


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|])")


def _esc(text: str) -> str:
    """Escape text for inline Markdown (and table cells): it renders as written."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def _code(text: str) -> str:
    """An inline code span (table-safe)."""
    return "`" + text.replace("|", "\\|") + "`"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------- numbers, dates, periods


def _number(value: Fraction) -> str:
    """Exact decimal text of a parameter value (``66.7``, ``1800``); a fraction if it does not terminate."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(value.numerator), value.denominator)
    digits = []
    while rest:
        rest *= 10
        d, rest = divmod(rest, value.denominator)
        digits.append(str(d))
    return f"{sign}{whole}." + "".join(digits)


def _quantity(value: Fraction, unit: str | None, *, points: bool = False) -> str:
    """A number with its unit as a reader writes it: ``78%``, ``5 percentage points``, ``1800 seconds``."""
    text = _number(value)
    if unit is None or unit == "rank":
        return text
    if unit == "percent":
        return f"{text} percentage point{'' if value == 1 else 's'}" if points else f"{text}%"
    if unit.lower() == "gbp":
        return f"£{text}"
    if unit == "GBP thousands":
        return f"£{text} thousand"
    if value == 1 and " " not in unit and unit.endswith("s") and unit != "people":
        unit = unit[:-3] + "y" if unit.endswith("ies") else unit[:-1]
    return f"{text} {unit}"


def _date(value: dt.date) -> str:
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _month_name(index: int) -> str:
    return f"{_MONTHS[index % 12]} {index // 12}"


def _period_label(period: Period) -> str:
    """``March 2025``, ``2024/25`` (an April-March year), ``April to July 2024``, ``January 2024 to March 2025``."""
    start, end = period.start, period.end
    if start == end:
        return _month_name(start)
    if start % 12 == 3 and end == start + 11:
        year = start // 12
        return f"{year}/{(year + 1) % 100:02d}"
    if start // 12 == end // 12:
        return f"{_MONTHS[start % 12]} to {_MONTHS[end % 12]} {end // 12}"
    return f"{_month_name(start)} to {_month_name(end)}"


def _period_range(period: Period) -> str:
    if period.start == period.end:
        return format_month(period.start)
    return f"{format_month(period.start)} to {format_month(period.end)}"


def _period_phrase(period: Period) -> str:
    """``in March 2025 (2025-03)`` or ``over 2024/25 (2024-04 to 2025-03)``."""
    word = "in" if period.start == period.end else "over"
    return f"{word} {_period_label(period)} ({_period_range(period)})"


# --------------------------------------------------------------------------- catalogue descriptions -> short phrases


def _drop_parens(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"\s*\([^()]*\)", "", text)
    return text


def _first_sentence(text: str) -> str:
    return re.split(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z])", text.strip(), maxsplit=1)[0].rstrip(". ")


def _lower_first(text: str) -> str:
    """Lower-case the first word unless it is an acronym or a name (``NHS``, ``GP``, ``A&E``)."""
    word = text.split(" ", 1)[0]
    if word[:1].isupper() and (word == "A" or (word[1:].isalpha() and word[1:].islower())):
        return text[0].lower() + text[1:]
    return text


def _tidy(text: str) -> str:
    """Drop bracketed asides and 'in the month'-style qualifiers (the period says which months)."""
    text = _drop_parens(text)
    text = re.sub(r"\s+(?:in|for) the month\b(?! the\b)", "", text)
    text = re.sub(r"\s+at (?:the |that )?month[- ]end(?: snapshot)?\b", "", text)
    text = re.sub(r"\s+at that month's end\b", "", text)
    text = re.sub(r"\s+,", ",", text)
    return _lower_first(_one_line(text).strip(" .,;:"))


def _fraction_parts(description: str) -> tuple[str | None, str, str]:
    """(name sentence, numerator, denominator) of a numerator/denominator metric description."""
    text = _one_line(description)
    m = re.search(r"Numerator:\s*(.*?)\.\s+Denominator:\s*(.*?)(?:\.\s+[A-Z]|\.?$)", text)
    if m:
        prefix = text[: text.index("Numerator:")].strip().rstrip(".") or None
        return prefix, m.group(1), m.group(2)
    num, _, den = text.partition(" / ")
    return None, num, _first_sentence(den)


def _metric_base(metric: MetricDef) -> str:
    """A noun phrase naming the measured quantity, without its article: ``share of …``, ``number of …``."""
    if metric.kind == "value":
        base = _tidy(_drop_parens(_first_sentence(metric.description)).split(":", 1)[0].split(";", 1)[0])
        base = re.sub(r",? by month of \w+$", "", base)
        base = re.sub(r"^(?:[Mm]onth-end snapshot )?[Cc]ount of ", "number of ", base)
        base = re.sub(r"^[Tt]he ", "", base)
        if not base.lower().startswith(_QUANTITY_WORDS) and "'s " not in base.split(" ", 1)[0] + " ":
            base = "number of " + base
        return base
    name, num, den = _fraction_parts(metric.description)
    if metric.kind == "proportion":
        numerator = _tidy(num)
        denominator = _tidy(_drop_parens(den).split(";", 1)[0].split(", ", 1)[0])
        same_head = numerator.lower().split(" ")[:4] == denominator.lower().split(" ")[:4]
        if denominator.lower().startswith("all ") or same_head:
            return f"share of {numerator}"
        return f"ratio of {numerator} to {denominator}"
    # rate
    ratio = re.search(r"the ratio is the ([^;.]+)", metric.description)
    if ratio:
        context = metric.description.split(":", 1)[0] if ":" in metric.description.split("/", 1)[0] else ""
        base = ratio.group(1).strip()
        return f"{base} of {_tidy(context)}" if context else base
    if name:
        return _tidy(name)
    return f"rate of {_tidy(num).split(', ', 1)[0]}, in {metric.unit}"


def _the(modifier: str, base: str) -> str:
    """``the lowest monthly number of …``; ``the total of the ICB's …`` for a possessive phrase."""
    first = base.split(" ", 1)[0]
    if first.endswith(("'s", "\u2019s")):
        return f"the {modifier} of the {base}" if modifier else f"the {base}"
    return f"the {modifier} {base}" if modifier else f"the {base}"


def _fact_label(description: str) -> str:
    """A declared fact's description as a short clause (``the ICB has published its plan``)."""
    text = _first_sentence(description).split("; ", 1)[0].split(": ", 1)[0]
    text = re.sub(r",? (?:dated (?:on|when)|as declared)\b.*$", "", text)
    text = re.sub(r"^Self-declared ", "", text)
    m = re.match(r"(?:Self-)?[Dd]eclaration (?:by (.+?) )?that,?\s*(.*)$", text)
    if m:
        subject, rest = m.group(1), m.group(2)
        if subject and rest.startswith("it "):
            rest = f"{subject} {rest[3:]}"
        elif subject and rest.startswith("its "):
            rest = f"{subject}'s {rest[4:]}"
        text = rest
    return _lower_first(_one_line(_drop_parens(text)).strip(" .,;:"))


def _service_label(description: str) -> str:
    return _lower_first(_one_line(_drop_parens(description.split(":", 1)[0])).strip(" .,;:"))


# --------------------------------------------------------------------------- the plain-English renderer


def _name(node: Node) -> str:
    if isinstance(node, Name) and len(node.parts) == 1:
        return node.parts[0]
    if isinstance(node, Str):
        return node.value
    raise ValueError(f"expected a catalogue name, got {node!r}")


def _chain(node: Node, op: str) -> list[Node]:
    if isinstance(node, Binary) and node.op == op:
        return [*_chain(node.left, op), *_chain(node.right, op)]
    return [node]


class _Words:
    """Renders one rule's expressions as Markdown sentences. ``link`` turns a rule id into a link."""

    def __init__(self, book: Rulebook, rule: Rule, link: Callable[[str], str]) -> None:
        self.book = book
        self.rule = rule
        self.link = link

    # -- units -------------------------------------------------------------------------------
    def unit(self, node: Node) -> str | None:
        if isinstance(node, Name) and node.parts[0] == "param" and len(node.parts) == 2:
            return self.rule.parameters[node.parts[1]].unit
        if isinstance(node, Call):
            if node.func in ("pct", "min_pct", "max_pct"):
                return "percent"
            if node.func in METRIC_FUNCTIONS:
                return self.book.metrics[_name(node.args[0])].unit
            if node.func == "fact":
                return self.book.facts[_name(node.args[0])].unit
            if node.func in ("min", "max"):
                return self.unit(node.args[0]) or self.unit(node.args[1])
            if node.func == "rank":
                return "rank"
            return None
        if isinstance(node, Unary) and node.op == "-":
            return self.unit(node.operand)
        if isinstance(node, Binary) and node.op in ("+", "-"):
            return self.unit(node.left) or self.unit(node.right)
        return None

    def _additive_percent(self, node: Node) -> bool:
        return isinstance(node, Binary) and node.op in ("+", "-") and self.unit(node) == "percent"

    # -- entry points ------------------------------------------------------------------------
    def condition(self, node: Node) -> tuple[str, list[str]]:
        """(lead, items): a single sentence, or a lead ("all of the following") and bullet items."""
        for op, lead in (("and", "all of the following hold"), ("or", "at least one of the following holds")):
            parts = _chain(node, op)
            if len(parts) > 1:
                return lead, [self.expr(p) for p in parts]
        return self.expr(node), []

    def expr(self, node: Node, *, points: bool = False, unit: str | None = None) -> str:
        if isinstance(node, Binary):
            return self._binary(node, points=points)
        if isinstance(node, Unary):
            inner = self._nested(node.operand)
            return f"it is not the case that {inner}" if node.op == "not" else f"minus {inner}"
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Name):
            return self._name_words(node, points=points)
        if isinstance(node, Num):
            return _quantity(node.value, unit, points=points) if unit else _number(node.value)
        if isinstance(node, Str):
            return f"“{_esc(node.value)}”"
        return "true" if node.value else "false"

    def _nested(self, node: Node) -> str:
        text = self.expr(node)
        if isinstance(node, Binary) or (isinstance(node, Call) and node.func in ("min", "max")):
            return f"({text})"
        return text

    def _name_words(self, node: Name, *, points: bool) -> str:
        if node.dotted == "as_of":
            return "the evaluation date (as_of)"
        if node.dotted == "deadline":
            return f"the deadline ({_date(self.rule.deadline)})" if self.rule.deadline else "the deadline"
        param: Parameter = self.rule.parameters[node.parts[1]]
        text = _quantity(param.value, param.unit, points=points and param.unit == "percent")
        return f"{text} (“{_esc(param.wording)}”)" if param.wording else text

    # -- operators ---------------------------------------------------------------------------
    def _binary(self, node: Binary, *, points: bool) -> str:
        if node.op in ("and", "or"):
            parts = _chain(node, node.op)
            return f" {node.op} ".join(
                f"({self.expr(p)})" if isinstance(p, Binary) and p.op in ("and", "or") else self.expr(p) for p in parts
            )
        if node.op in COMPARISONS:
            return self._comparison(node)
        assert node.op in ARITHMETIC
        percent_of = self._percent_of(node)
        if percent_of:
            return percent_of
        if node.op == "-":
            change = self._change(node.left, node.right)
            if change:
                return change
        words = {"+": "plus", "-": "minus", "*": "multiplied by", "/": "divided by"}[node.op]
        additive = node.op in ("+", "-")
        left = self._operand(node.left, points=additive or points)
        right = self._operand(node.right, points=additive or points)
        return f"{left} {words} {right}"

    def _operand(self, node: Node, *, points: bool) -> str:
        text = self.expr(node, points=points)
        return f"({text})" if isinstance(node, Binary) else text

    def _percent_of(self, node: Binary) -> str | None:
        """``100 * a / b`` -> "a as a percentage of b"."""
        a: Node | None = None
        b: Node | None = None
        if node.op == "/" and isinstance(node.left, Binary) and node.left.op == "*":
            if isinstance(node.left.left, Num) and node.left.left.value == 100:
                a, b = node.left.right, node.right
        elif node.op == "*" and isinstance(node.left, Num) and node.left.value == 100:
            if isinstance(node.right, Binary) and node.right.op == "/":
                a, b = node.right.left, node.right.right
        if a is None or b is None:
            return None
        if (
            isinstance(a, Call)
            and isinstance(b, Call)
            and a.func == b.func == "total"
            and _name(a.args[1]) == _name(b.args[1])
        ):
            period = self.book.periods[_name(a.args[1])]
            left = _the("", self._base(a))
            right = _the("", self._base(b))
            return f"{left} as a percentage of {right}, both in total {_period_phrase(period)}"
        return f"{self._nested(a)} as a percentage of {self._nested(b)}"

    def _change(self, left: Node, right: Node) -> str | None:
        """``f(m, p1) - f(m, p2)`` -> "the change in … from p2 to p1"; ``max(m,p) - min(m,p)`` -> the spread."""
        if not (isinstance(left, Call) and isinstance(right, Call)):
            return None
        if left.func not in METRIC_FUNCTIONS or right.func not in METRIC_FUNCTIONS:
            return None
        if _name(left.args[0]) != _name(right.args[0]):
            return None
        p_left, p_right = self.book.periods[_name(left.args[1])], self.book.periods[_name(right.args[1])]
        base = self._base(left)
        if left.func == right.func and p_left != p_right:
            what = self._aggregate(left.func, base, None)
            return (
                f"the change in {what} from {_period_label(p_right)} ({_period_range(p_right)}) "
                f"to {_period_label(p_left)} ({_period_range(p_left)})"
            )
        pairs = {("max_pct", "min_pct"), ("max_value", "min_value")}
        if (left.func, right.func) in pairs and p_left == p_right:
            return f"the gap between the highest and the lowest monthly {base} {_period_phrase(p_left)}"
        return None

    def _comparison(self, node: Binary) -> str:
        left, right, op = node.left, node.right, node.op
        # outcome("x") == "status"
        for a, b in ((left, right), (right, left)):
            if isinstance(a, Call) and a.func == "outcome" and isinstance(b, Str):
                rid = _name(a.args[0])
                status = b.value.replace("_", " ")
                if op == "==":
                    return f"rule {self.link(rid)} is {status}"
                return f"the outcome of rule {self.link(rid)} is other than “{status}”"
        # rank(e) <= N
        if isinstance(left, Call) and left.func == "rank" and op in ("<=", "<", "=="):
            limit = self._limit(right)
            if limit is not None:
                n, wording = limit
                top = n - 1 if op == "<" else n
                if op == "==":
                    place = "first" if n == 1 else f"number {n}"
                else:
                    place = "first" if top == 1 else f"in the top {top}"
                by = self.expr(left.args[0])
                return (
                    f"among the organisations this rule applies to, it ranks {place} "
                    f"(the greatest value ranks first; ties share a rank) by {by}{wording}"
                )
        # x == true
        if isinstance(right, Bool):
            truth = "true" if right.value else "false"
            return f"{self.expr(left)} is {'not ' if op == '!=' else ''}{truth}"
        word = _COMPARE_WORDS[op]
        is_word = f"is {word}" if word else "is"
        # the same measure over two periods: "… over p1 is less than what it was over p2"
        swap = self._other_period(left, right)
        if swap is not None:
            return f"{self.expr(left)} {is_word} what it was {_period_phrase(swap)}"
        points = self._additive_percent(left) or self._additive_percent(right)
        unit = self.unit(left) or self.unit(right)
        return f"{self.expr(left, points=points, unit=unit)} {is_word} {self.expr(right, points=points, unit=unit)}"

    def _other_period(self, a: Node, b: Node) -> Period | None:
        """When ``b`` is ``a`` with every period argument replaced by one other period, that period."""
        pairs: set[tuple[str, str]] = set()

        def same(x: Node, y: Node) -> bool:
            if isinstance(x, Call) and isinstance(y, Call):
                if x.func != y.func or len(x.args) != len(y.args):
                    return False
                if x.func in METRIC_FUNCTIONS:
                    pairs.add((_name(x.args[1]), _name(y.args[1])))
                    return _name(x.args[0]) == _name(y.args[0])
                return all(same(i, j) for i, j in zip(x.args, y.args, strict=True))
            if isinstance(x, Binary) and isinstance(y, Binary):
                return x.op == y.op and same(x.left, y.left) and same(x.right, y.right)
            if isinstance(x, Unary) and isinstance(y, Unary):
                return x.op == y.op and same(x.operand, y.operand)
            return x == y

        if not same(a, b) or len(pairs) != 1:
            return None
        (mine, other) = pairs.pop()
        return self.book.periods[other] if mine != other else None

    def _limit(self, node: Node) -> tuple[int, str] | None:
        if isinstance(node, Num) and node.value.denominator == 1:
            return int(node.value), ""
        if isinstance(node, Name) and node.parts[0] == "param" and len(node.parts) == 2:
            param = self.rule.parameters[node.parts[1]]
            if param.value.denominator == 1:
                return int(param.value), f" (“{_esc(param.wording)}”)" if param.wording else ""
        return None

    # -- functions ---------------------------------------------------------------------------
    def _base(self, node: Call) -> str:
        """The metric's noun phrase, in italics so that it stands apart from the period and comparison."""
        return "*" + _esc(_metric_base(self.book.metrics[_name(node.args[0])])) + "*"

    def _aggregate(self, func: str, base: str, period: Period | None) -> str:
        """The phrase for a metric aggregate; ``period`` None leaves the period out (the caller adds it)."""
        single = period is not None and period.start == period.end
        phrase = f" {_period_phrase(period)}" if period is not None else ""
        if single or func in ("pct", "rate"):
            return _the("", base) + phrase
        if func == "mean":
            return f"the mean of the monthly {base}{phrase}"
        modifier = {
            "total": "total",
            "min_pct": "lowest monthly",
            "min_value": "lowest monthly",
            "max_pct": "highest monthly",
            "max_value": "highest monthly",
        }[func]
        return _the(modifier, base) + phrase

    def _call(self, node: Call) -> str:
        func = node.func
        if func in METRIC_FUNCTIONS:
            return self._aggregate(func, self._base(node), self.book.periods[_name(node.args[1])])
        if func in ("fact", "fact_date", "has_fact"):
            label = _esc(_fact_label(self.book.facts[_name(node.args[0])].description))
            return {
                "fact": f"the declared fact “{label}”",
                "fact_date": f"the date of the declared fact “{label}”",
                "has_fact": f"a declaration of the fact “{label}” exists",
            }[func]
        if func == "has_service":
            return f"the organisation declares the service “{_esc(self._service(node))}”"
        if func == "outcome":
            return f"the outcome of rule {self.link(_name(node.args[0]))}"
        if func == "rank":
            return f"its rank by {self.expr(node.args[0])} (1 = the greatest)"
        if func in ("min", "max"):
            which = "smaller" if func == "min" else "larger"
            return f"the {which} of {self._nested(node.args[0])} and {self._nested(node.args[1])}"
        assert func == "date"
        return _date(dt.date.fromisoformat(_name(node.args[0])))

    def _service(self, node: Call) -> str:
        return _service_label(self.book.services[_name(node.args[0])])

    def guard(self, node: Node) -> str:
        """The applicability guard; an ``or`` of services reads as "declares any of the services …"."""
        parts = _chain(node, "or")
        if len(parts) > 1 and all(isinstance(p, Call) and p.func == "has_service" for p in parts):
            labels = [f"“{_esc(self._service(p))}”" for p in parts if isinstance(p, Call)]
            return "the organisation declares any of the services " + ", ".join(labels[:-1]) + " or " + labels[-1]
        return self.expr(node)


def condition_in_words(rule: Rule, rulebook: Rulebook, link: Callable[[str], str] | None = None) -> str:
    """The rule's condition in plain English (Markdown), as one paragraph or a lead and bullet list.

    ``link`` turns a rule id into Markdown (default: the id as inline code).
    """
    words = _Words(rulebook, rule, link or _code)
    lead, items = words.condition(rule.condition)
    if not items:
        return lead
    return lead + ":\n\n" + "\n".join(f"- {item}" for item in items)


# --------------------------------------------------------------------------- scenario tests


def scenario_index(folder: str | os.PathLike[str] | None = None) -> dict[str, list[tuple[str, str, str, str]]]:
    """Rule id -> (file, scenario name, organisation, expected status) for every expectation naming
    the rule, by file and then in the order of the file.

    ``folder`` defaults to ``tests/scenarios`` under the current directory; an absent folder (an
    installed package has no tests) gives an empty index. Paths are shown as ``tests/scenarios/…``.
    """
    root = Path(folder) if folder is not None else Path.cwd() / "tests" / "scenarios"
    if not root.is_dir():
        return {}
    shown = "tests/scenarios" if root.parts[-2:] == ("tests", "scenarios") else root.as_posix()
    out: dict[str, dict[tuple[str, int, str, str], str]] = {}
    for path in sorted(root.rglob("*.y*ml")):
        try:
            doc: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        scenarios = doc.get("scenarios") if isinstance(doc, dict) else None
        rel = f"{shown}/{path.relative_to(root).as_posix()}"
        for i, sc in enumerate(scenarios if isinstance(scenarios, list) else []):
            if not isinstance(sc, dict) or not isinstance(sc.get("expect"), list):
                continue
            for exp in sc["expect"]:
                if isinstance(exp, dict) and isinstance(exp.get("rule"), str):
                    key = (rel, i, str(exp.get("org", "")), str(exp.get("status", "")))
                    out.setdefault(exp["rule"], {})[key] = _one_line(str(sc.get("name", f"scenario {i + 1}")))
    return {
        rid: [(file, cases[(file, i, org, st)], org, st) for file, i, org, st in sorted(cases)]
        for rid, cases in sorted(out.items())
    }


# --------------------------------------------------------------------------- pages


def _types(rule: Rule) -> str:
    return ", ".join(_ORG_TYPES.get(t, t) for t in rule.applies_to)


def _rule_link(book: Rulebook, current_area: str) -> Callable[[str], str]:
    areas = {r.id: r.area for r in book.rules}

    def link(rid: str) -> str:
        area = areas.get(rid)
        if area is None:
            return _code(rid)
        target = f"#{rid}" if area == current_area else f"{area}.md#{rid}"
        return f"[{_code(rid)}]({target})"

    return link


def _reads(book: Rulebook, rule: Rule) -> tuple[list[str], list[str], list[str]]:
    metrics: set[str] = set()
    facts: set[str] = set()
    services: set[str] = set()

    def walk(node: Node | None) -> None:
        if isinstance(node, Call):
            if node.func in METRIC_FUNCTIONS:
                metrics.add(_name(node.args[0]))
            elif node.func in ("fact", "fact_date", "has_fact"):
                facts.add(_name(node.args[0]))
            elif node.func == "has_service":
                services.add(_name(node.args[0]))
            else:
                for a in node.args:
                    walk(a)
        elif isinstance(node, Binary):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Unary):
            walk(node.operand)

    for n in (rule.condition, rule.applicable_if, rule.completed_on):
        walk(n)
    return sorted(metrics), sorted(facts), sorted(services)


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
    words = _Words(book, rule, link)
    out = [f"## {_esc(rule.title)} {{#{rule.id}}}", ""]
    out.append(f"{_code(rule.id)} · **{rule.kind}** · applies to {_types(rule)}")
    out.append("")
    if rule.confidence in _WARNINGS:
        title, text = _WARNINGS[rule.confidence]
        out += [f'!!! warning "{title}"', "", f"    {text}", ""]
    if rule.applicable_if is not None and rule.applicable_if_text is not None:
        out.append(f"**Applies when** {words.guard(rule.applicable_if)}; otherwise the outcome is `not_applicable`.")
        out += ["", "```text", _one_line(rule.applicable_if_text), "```", ""]
    lead, items = words.condition(rule.condition)
    when = _WHEN[rule.kind]
    if items:
        out += [f"**{when}** {lead}:", ""] + [f"- {item}" for item in items] + [""]
    else:
        out += [f"**{when}** {lead}.", ""]
    out += ["```text", _one_line(rule.condition_text), "```", ""]
    if rule.completed_on is not None and rule.completed_on_text is not None:
        late = "; done after the deadline is `met_late`" if rule.deadline is not None else ""
        out.append(f"**Completed on** {words.expr(rule.completed_on)} (`{_one_line(rule.completed_on_text)}`){late}.")
        out.append("")
    if rule.parameters:
        out += ["| parameter | value | unit | the guidance's wording |", "|---|---|---|---|"]
        for name, p in sorted(rule.parameters.items()):
            wording = _esc(p.wording) if p.wording else "—"
            out.append(f"| {_code(name)} | {_esc(_quantity(p.value, p.unit))} | {_esc(p.unit)} | {wording} |")
        out.append("")
    facts_line = [f"**Timing** {_esc(rule.timing_text())}"]
    if rule.period is not None:
        facts_line.append(f"**Period** {_period_label(rule.period)} ({_period_range(rule.period)})")
    if rule.objective is not None:
        facts_line.append(f"**National objective** row {rule.objective}")
    out += [" · ".join(facts_line), ""]
    src = rule.source
    out.append(f"**Source** {_code(src.document)}, section “{_esc(src.section)}”:")
    out += ["", f"> {_esc(_one_line(src.quote))}", ""]
    out.append(f"**Confidence** `{rule.confidence}`")
    out.append("")
    if rule.assumptions:
        out += ["**Assumptions**", ""] + [f"- {_esc(_one_line(a))}" for a in rule.assumptions] + [""]
    metrics, facts, services = _reads(book, rule)
    if metrics or facts or services:
        out += ["**Data it reads**", ""]
        for m in metrics:
            md = book.metrics[m]
            out.append(f"- metric {_code(m)} ({md.kind}, {_esc(md.unit)}): {_esc(_one_line(md.description))}")
        for f in facts:
            fd = book.facts[f]
            unit = f", {_esc(fd.unit)}" if fd.unit else ""
            out.append(f"- fact {_code(f)} ({fd.type}{unit}): {_esc(_one_line(fd.description))}")
        for s in services:
            out.append(f"- service {_code(s)}: {_esc(_one_line(book.services[s]))}")
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
                by_file.setdefault(file, {}).setdefault(name, []).append(f"{_esc(org)} `{status}`")
            for file, cases in by_file.items():
                out.append(f"- {_code(file)}")
                out += [f"    - {_esc(name)}: {', '.join(expects)}" for name, expects in cases.items()]
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
        f"# {_esc(book.areas[area])}",
        "",
        f"Area `{area}` of rulebook `{book.id}` {book.version}: {len(rules)} rules ({summary}). "
        "Generated from the rule files — do not edit by hand.",
        "",
        "| rule | kind | title |",
        "|---|---|---|",
    ]
    out += [f"| [{_code(r.id)}](#{r.id}) | {r.kind} | {_esc(r.title)} |" for r in rules]
    out.append("")
    for rule in rules:
        out += _entry(book, rule, readers, scenarios)
    return "\n".join(out).rstrip("\n") + "\n"


def _index_page(book: Rulebook, has_coverage: bool, tested: bool) -> str:
    out = [
        f"# Rule reference: {_esc(book.title)}",
        "",
        f"Rulebook `{book.id}` version {book.version}, judging {_date(book.start)} to {_date(book.end)}; "
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
        out.append(f"| [{_esc(title)}]({area}.md) | {cells} | {sum(kinds.values())} |")
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
    if has_coverage:
        out += ["The [coverage ledger](coverage.md) maps every guidance item to the rules that implement it.", ""]
    if not tested:
        out += ["Scenario tests were not available when these pages were generated.", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _coverage_page(book: Rulebook) -> str | None:
    from ..audit.coverage import load_coverage

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
        out += ["", f"### {_esc(book.areas.get(area, area))}", "", "| item | guidance | rules |", "|---|---|---|"]
        for e in sorted(by_area[area], key=lambda e: e.id):
            rules = ", ".join(f"[{_code(r)}]({areas[r]}.md#{r})" if r in areas else _code(r) for r in e.rules) or (
                "not a rule: " + _esc(_one_line(e.not_a_rule or ""))
            )
            guidance = f"“{_esc(_one_line(e.quote))}” ({_esc(e.section)})"
            out.append(f"| {_code(e.id)} | {guidance} | {rules} |")
    return "\n".join(out) + "\n"


def render_pages(
    rulebook: Rulebook, scenarios: str | os.PathLike[str] | None = None, *, with_scenarios: bool = True
) -> dict[str, str]:
    """File name -> Markdown text of every reference page (``index.md``, ``coverage.md``, one per area).

    ``scenarios`` is the folder of scenario files (default ``tests/scenarios`` under the current
    directory, when present); ``with_scenarios=False`` leaves scenario links out.
    """
    index = scenario_index(scenarios) if with_scenarios else {}
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
    pages["index.md"] = _index_page(rulebook, coverage is not None, tested)
    return dict(sorted(pages.items()))


def generate(
    rulebook: Rulebook, out_dir: str | os.PathLike[str], scenarios: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Write the reference pages into ``out_dir`` (created if needed) and return their paths, sorted.

    Markdown files in ``out_dir`` that are no longer generated are removed, so the folder holds
    exactly the current reference. ``scenarios`` as for :func:`render_pages`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = render_pages(rulebook, scenarios)
    for stale in sorted(out.glob("*.md")):
        if stale.name not in pages:
            stale.unlink()
    written = []
    for name, text in pages.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def check(
    rulebook: Rulebook, out_dir: str | os.PathLike[str], scenarios: str | os.PathLike[str] | None = None
) -> list[str]:
    """Names of the pages in ``out_dir`` that differ from what :func:`generate` would write
    (missing, changed or no longer generated); empty when the committed reference is current."""
    out = Path(out_dir)
    pages = render_pages(rulebook, scenarios)
    stale = []
    for name, text in pages.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if out.is_dir():
        stale += [p.name for p in out.glob("*.md") if p.name not in pages]
    return sorted(stale)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the pages, or with ``--check`` exit 1 if the committed pages are stale."""
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description="Generate the Markdown rule reference from a rulebook."
    )
    parser.add_argument("--rulebook", default="nhs-2024-25", help="bundled rulebook name or folder path")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: docs/reference)")
    parser.add_argument("--scenarios", default=None, help="scenario folder (default: tests/scenarios if present)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the pages in --out are not up to date")
    args = parser.parse_args(argv)
    try:
        book = load_rulebook(args.rulebook)
        if args.check:
            stale = check(book, args.out, args.scenarios)
            if stale:
                print(f"stale rule reference in {args.out}: {', '.join(stale)}", file=sys.stderr)
                again = "" if args.rulebook == "nhs-2024-25" else f" --rulebook {args.rulebook}"
                print(f"regenerate it with: {REGENERATE}{again} --out {args.out}", file=sys.stderr)
                return 1
            print(f"{args.out} is up to date")
            return 0
        paths = generate(book, args.out, args.scenarios)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"wrote {len(paths)} pages to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one renderer of rule expressions into plain English (Markdown), from the checked AST.

``condition_in_words(rule, rulebook)`` gives a rule's condition as a sentence or as a lead and
bullet items; ``Words`` renders any expression of one rule (its condition, ``applicable_if`` guard,
``completed_on``). Metrics, facts and services are named by their catalogue ``label``; numbers,
units, dates and periods are worded by ``render.words``. The canonical *formula* text of an
expression (explanations, evidence, lint) is ``language.ast.render``; this module is its English
counterpart and the only one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ..language.ast import ARITHMETIC, COMPARISONS, Binary, Bool, Call, Name, Node, Num, Str, Unary
from ..language.checker import METRIC_FUNCTIONS, name_arg
from ..language.rules import Parameter, Period, Rule
from ..rulebook.loader import Rulebook
from .words import code, date_words, escape, number, period_label, period_phrase, period_range, quantity

__all__ = ["COMPARE_WORDS", "Words", "condition_in_words"]

COMPARE_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "", "!=": "not"}
"""How each comparison reads ("is at least ..."); equality reads as plain "is"."""


def _name(node: Node) -> str:
    return name_arg(node, "catalogue entry")


def _the(modifier: str, base: str) -> str:
    """``the lowest monthly number of …``; ``the total of the ICB's …`` for a possessive phrase."""
    first = base.split(" ", 1)[0]
    if first.endswith(("'s", "\u2019s")):
        return f"the {modifier} of the {base}" if modifier else f"the {base}"
    return f"the {modifier} {base}" if modifier else f"the {base}"


def _chain(node: Node, op: str) -> list[Node]:
    if isinstance(node, Binary) and node.op == op:
        return [*_chain(node.left, op), *_chain(node.right, op)]
    return [node]


class Words:
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
            return quantity(node.value, unit, points=points) if unit else number(node.value)
        if isinstance(node, Str):
            return f"“{escape(node.value)}”"
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
            return f"the deadline ({date_words(self.rule.deadline)})" if self.rule.deadline else "the deadline"
        param: Parameter = self.rule.parameters[node.parts[1]]
        text = quantity(param.value, param.unit, points=points and param.unit == "percent")
        return f"{text} (“{escape(param.wording)}”)" if param.wording else text

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
            return f"{left} as a percentage of {right}, both in total {period_phrase(period)}"
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
                f"the change in {what} from {period_label(p_right)} ({period_range(p_right)}) "
                f"to {period_label(p_left)} ({period_range(p_left)})"
            )
        pairs = {("max_pct", "min_pct"), ("max_value", "min_value")}
        if (left.func, right.func) in pairs and p_left == p_right:
            return f"the gap between the highest and the lowest monthly {base} {period_phrase(p_left)}"
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
        word = COMPARE_WORDS[op]
        is_word = f"is {word}" if word else "is"
        # the same measure over two periods: "… over p1 is less than what it was over p2"
        swap = self._other_period(left, right)
        if swap is not None:
            return f"{self.expr(left)} {is_word} what it was {period_phrase(swap)}"
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
                return int(param.value), f" (“{escape(param.wording)}”)" if param.wording else ""
        return None

    # -- functions ---------------------------------------------------------------------------
    def _base(self, node: Call) -> str:
        """The metric's noun phrase, in italics so that it stands apart from the period and comparison."""
        metric = self.book.metrics[_name(node.args[0])]
        return "*" + escape(metric.label or metric.name) + "*"

    def _aggregate(self, func: str, base: str, period: Period | None) -> str:
        """The phrase for a metric aggregate; ``period`` None leaves the period out (the caller adds it)."""
        single = period is not None and period.start == period.end
        phrase = f" {period_phrase(period)}" if period is not None else ""
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
            fact = self.book.facts[_name(node.args[0])]
            label = escape(fact.label or fact.name)
            return {
                "fact": f"the declared fact “{label}”",
                "fact_date": f"the date of the declared fact “{label}”",
                "has_fact": f"a declaration of the fact “{label}” exists",
            }[func]
        if func == "has_service":
            return f"the organisation declares the service “{escape(self._service(node))}”"
        if func == "outcome":
            return f"the outcome of rule {self.link(_name(node.args[0]))}"
        if func == "rank":
            return f"its rank by {self.expr(node.args[0])} (1 = the greatest)"
        if func in ("min", "max"):
            which = "smaller" if func == "min" else "larger"
            return f"the {which} of {self._nested(node.args[0])} and {self._nested(node.args[1])}"
        assert func == "date"
        return date_words(dt.date.fromisoformat(_name(node.args[0])))

    def _service(self, node: Call) -> str:
        service = self.book.services[_name(node.args[0])]
        return service.label or service.name

    def guard(self, node: Node) -> str:
        """The applicability guard; an ``or`` of services reads as "declares any of the services …"."""
        parts = _chain(node, "or")
        if len(parts) > 1 and all(isinstance(p, Call) and p.func == "has_service" for p in parts):
            labels = [f"“{escape(self._service(p))}”" for p in parts if isinstance(p, Call)]
            return "the organisation declares any of the services " + ", ".join(labels[:-1]) + " or " + labels[-1]
        return self.expr(node)


def condition_in_words(rule: Rule, rulebook: Rulebook, link: Callable[[str], str] | None = None) -> str:
    """The rule's condition in plain English (Markdown), as one paragraph or a lead and bullet list.

    ``link`` turns a rule id into Markdown (default: the id as inline code).
    """
    words = Words(rulebook, rule, link or code)
    lead, items = words.condition(rule.condition)
    if not items:
        return lead
    return lead + ":\n\n" + "\n".join(f"- {item}" for item in items)

"""The threshold shape of a rule's condition, computed once when the rule is built.

A condition is a conjunction (``a and b and ...``, possibly a single term). Each term that is a
comparison is described by a ``Comparison``: the side that is measured (read from the state) on the
left, the operator as read that way, the bound it is compared with, and, where the measured side is
one metric over one period (or one fact), which. The report (the threshold line of a chart), what-if
(the smallest change), the boundary kit of ``policy_engine.testing`` and lint (contradictory and
overlapping bounds) all read this one description instead of each walking the AST their own way.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import attrs

from .ast import Binary, Call, Name, Node, Num, Str, Unary, render, walk
from .checker import METRIC_FUNCTIONS

__all__ = ["COMPARISONS", "MIRROR", "Comparison", "Shape", "catalogue_name", "shape_of"]

COMPARISONS: Final = frozenset({"<", "<=", ">", ">=", "==", "!="})
MIRROR: Final = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
"""The operator with its sides swapped."""


@attrs.frozen
class Comparison:
    """One comparison of a condition, read with its measured side on the left.

    The measured side is the one that is not a constant (a number, a parameter, or minus one of
    those); when neither or both are, it is the side that is one metric call the other side does
    not read, else the left side."""

    measured: Node
    op: str
    bound: Node
    text: str
    """The measured side as canonical text (``render``)."""
    function: str | None = None
    """The metric function (``pct``, ``total``, ...), or ``fact``, when the measured side is one call of it."""
    subject: str | None = None
    """The metric or fact the measured side reads, when ``function`` is set."""
    period: str | None = None
    """The period a metric function reads."""
    parameter: str | None = None
    """The parameter the bound is, when the bound is exactly ``param.NAME``."""
    constant: Fraction | None = None
    """The bound's exact value, when exactly one side is a constant."""
    bound_reads: bool = False
    """Whether the bound reads the metric over the period the measured side reads (then no change
    to that metric alone moves the measured side without moving the bound)."""

    def reads_metric(self, functions: frozenset[str] = METRIC_FUNCTIONS) -> bool:
        """Whether the measured side is one call of one of ``functions`` over a metric and a period."""
        return self.function in functions and self.period is not None


@attrs.frozen
class Shape:
    """A condition's top-level conjuncts, and the comparison each is (None where it is not one)."""

    conjuncts: tuple[Node, ...]
    comparisons: tuple[Comparison | None, ...]

    @property
    def single(self) -> Comparison | None:
        """The comparison, when the whole condition is one comparison."""
        return self.comparisons[0] if len(self.comparisons) == 1 else None

    @property
    def all_comparisons(self) -> tuple[Comparison, ...] | None:
        """Every conjunct's comparison, or None when some conjunct is not a comparison."""
        found = tuple(c for c in self.comparisons if c is not None)
        return found if len(found) == len(self.comparisons) else None


def shape_of(condition: Node, parameters: dict[str, Fraction] | None = None) -> Shape:
    """The shape of ``condition``; ``parameters`` (name -> value) gives a parameter bound its value."""
    conjuncts = tuple(_conjuncts(condition))
    return Shape(conjuncts, tuple(_comparison(n, parameters or {}) for n in conjuncts))


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, Binary) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _param(node: Node) -> str | None:
    if isinstance(node, Name) and len(node.parts) == 2 and node.parts[0] == "param":
        return node.parts[1]
    return None


def _constant(node: Node, parameters: dict[str, Fraction]) -> Fraction | None:
    if isinstance(node, Num):
        return node.value
    name = _param(node)
    if name is not None:
        return parameters.get(name)
    if isinstance(node, Unary) and node.op == "-":
        inner = _constant(node.operand, parameters)
        return None if inner is None else -inner
    return None


def _is_constant(node: Node) -> bool:
    if isinstance(node, Num) or _param(node) is not None:
        return True
    return isinstance(node, Unary) and node.op == "-" and _is_constant(node.operand)


def catalogue_name(node: Node) -> str | None:
    """A catalogue name given as a bare name or a string literal, else None."""
    if isinstance(node, Name) and len(node.parts) == 1:
        return node.parts[0]
    if isinstance(node, Str):
        return node.value
    return None


def _metric_call(node: Node) -> tuple[str, str, str] | None:
    """(function, metric, period) when ``node`` is one metric function call."""
    if isinstance(node, Call) and node.func in METRIC_FUNCTIONS and len(node.args) == 2:
        metric, period = catalogue_name(node.args[0]), catalogue_name(node.args[1])
        if metric is not None and period is not None:
            return node.func, metric, period
    return None


def _reads(node: Node, key: tuple[str, str]) -> bool:
    return any((m := _metric_call(n)) is not None and (m[1], m[2]) == key for n in walk(node))


def _comparison(node: Node, parameters: dict[str, Fraction]) -> Comparison | None:
    if not isinstance(node, Binary) or node.op not in COMPARISONS:
        return None
    left, op, right = node.left, node.op, node.right
    lc, rc = _is_constant(left), _is_constant(right)
    if lc != rc:
        if lc:
            left, op, right = right, MIRROR[op], left
    else:
        lm, rm = _metric_call(left), _metric_call(right)
        if not (lm is not None and not _reads(right, (lm[1], lm[2]))) and (
            rm is not None and not _reads(left, (rm[1], rm[2]))
        ):
            left, op, right = right, MIRROR[op], left
    function = subject = period = None
    metric = _metric_call(left)
    if metric is not None:
        function, subject, period = metric
    elif isinstance(left, Call) and left.func == "fact" and len(left.args) == 1:
        function, subject = "fact", catalogue_name(left.args[0])
    return Comparison(
        measured=left,
        op=op,
        bound=right,
        text=render(left),
        function=function if subject is not None else None,
        subject=subject,
        period=period,
        parameter=_param(right),
        constant=_constant(right, parameters) if lc != rc else None,
        bound_reads=metric is not None and _reads(right, (metric[1], metric[2])),
    )

"""AST of the condition language. Nodes are frozen; ``pos`` is the 0-based offset in the text."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import attrs

from .numbers import exact_decimal


@attrs.frozen
class Num:
    value: Fraction
    pos: int


@attrs.frozen
class Str:
    value: str
    pos: int


@attrs.frozen
class Bool:
    value: bool
    pos: int


@attrs.frozen
class Name:
    """A bare or dotted name: ``as_of``, ``deadline``, ``param.threshold``, or a metric/period argument."""

    parts: tuple[str, ...]
    pos: int

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@attrs.frozen
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


@attrs.frozen
class Unary:
    op: str  # "not" | "-"
    operand: Node
    pos: int


@attrs.frozen
class Binary:
    op: str  # and or < <= > >= == != + - * /
    left: Node
    right: Node
    pos: int


Node = Num | Str | Bool | Name | Call | Unary | Binary

COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})


def walk(node: Node) -> Iterator[Node]:
    """Every node of an expression, pre-order, left to right (iterative: conditions may nest deeply)."""
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Call):
            stack.extend(reversed(n.args))
        elif isinstance(n, Binary):
            stack.extend((n.right, n.left))
        elif isinstance(n, Unary):
            stack.append(n.operand)


ARITHMETIC = frozenset({"+", "-", "*", "/"})


def render(node: Node) -> str:
    """Canonical text of an expression (used in explanations and round trips)."""
    if isinstance(node, Num):
        v = node.value
        return str(v.numerator) if v.denominator == 1 else exact_decimal(v, MAX_DIGITS)
    if isinstance(node, Str):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Name):
        return node.dotted
    if isinstance(node, Call):
        return f"{node.func}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, Unary):
        inner = render(node.operand)
        if not isinstance(node.operand, (Num, Str, Bool, Name, Call)):
            inner = f"({inner})"
        return f"not {inner}" if node.op == "not" else f"-{inner}"
    left, right = render(node.left), render(node.right)
    if isinstance(node.left, Binary) or (isinstance(node.left, Unary) and node.left.op == "not"):
        left = f"({left})"
    if isinstance(node.right, Binary) or (isinstance(node.right, Unary) and node.right.op == "not"):
        right = f"({right})"
    return f"{left} {node.op} {right}"


MAX_DIGITS = 5000  # literals come from finite decimals in at most 4000 characters, so this is exact

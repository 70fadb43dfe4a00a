"""Tokeniser and recursive-descent parser for the condition language. No eval, no exec."""

from __future__ import annotations

import re
from fractions import Fraction

from .ast import Binary, Bool, Call, Name, Node, Num, Str, Unary
from .numbers import NUMBER_LIMITS, bounded_decimal

MAX_LENGTH = 4000
MAX_DEPTH = 100

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[0-9]+(?:\.[0-9]+)?)
  | (?P<str>"(?:[^"\\\n]|\\["\\])*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|,|\.)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "true", "false"}


class ParseError(Exception):
    """A syntax error at a position in the expression text."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


Token = tuple[str, str, int]  # kind, text, pos


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise ParseError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "ident" and value in _KEYWORDS:
            kind = value
        if kind != "ws":
            tokens.append((kind, value, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok[1] != text or tok[0] in ("str",):
            shown = tok[1] or "end of expression"
            raise ParseError(f"expected {text!r}, found {shown!r}", tok[2])
        return tok

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", pos)

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok[0] != "end":
            raise ParseError(f"unexpected {tok[1]!r} after a complete expression", tok[2])
        return node

    def or_(self) -> Node:
        left = self.and_()
        while self.peek()[0] == "or":
            pos = self.take()[2]
            left = Binary("or", left, self.and_(), pos)
        return left

    def and_(self) -> Node:
        left = self.not_()
        while self.peek()[0] == "and":
            pos = self.take()[2]
            left = Binary("and", left, self.not_(), pos)
        return left

    def not_(self) -> Node:
        if self.peek()[0] == "not":
            pos = self.take()[2]
            self._enter(pos)
            node = Unary("not", self.not_(), pos)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum_()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("<", "<=", ">", ">=", "==", "!="):
            self.take()
            right = self.sum_()
            nxt = self.peek()
            if nxt[0] == "op" and nxt[1] in ("<", "<=", ">", ">=", "==", "!="):
                raise ParseError("comparisons cannot be chained; join them with 'and'", nxt[2])
            return Binary(tok[1], left, right, tok[2])
        return left

    def sum_(self) -> Node:
        left = self.term()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            op, pos = self.take()[1:]
            left = Binary(op, left, self.term(), pos)
        return left

    def term(self) -> Node:
        left = self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/"):
            op, pos = self.take()[1:]
            left = Binary(op, left, self.unary(), pos)
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok[0] == "op" and tok[1] == "-":
            self.take()
            self._enter(tok[2])
            node = Unary("-", self.unary(), tok[2])
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            exact = bounded_decimal(text)
            if exact is None:  # every evaluator must hold it: the columnar one as a float, too
                raise ParseError(NUMBER_LIMITS, pos)
            return Num(Fraction(exact), pos)
        if kind == "str":
            return Str(text[1:-1].replace('\\"', '"').replace("\\\\", "\\"), pos)
        if kind in ("true", "false"):
            return Bool(kind == "true", pos)
        if kind == "op" and text == "(":
            self._enter(pos)
            node = self.or_()
            self.depth -= 1
            self.expect(")")
            return node
        if kind == "ident":
            if self.peek()[1] == "(" and self.peek()[0] == "op":
                self.take()
                self._enter(pos)
                args: list[Node] = []
                if self.peek()[1] != ")":
                    args.append(self.or_())
                    while self.peek()[1] == "," and self.peek()[0] == "op":
                        self.take()
                        args.append(self.or_())
                self.depth -= 1
                self.expect(")")
                return Call(text, tuple(args), pos)
            parts = [text]
            while self.peek()[0] == "op" and self.peek()[1] == ".":
                self.take()
                nk, nt, np_ = self.take()
                if nk != "ident":
                    raise ParseError(f"expected a name after '.', found {nt or 'end of expression'!r}", np_)
                if nt.startswith("_"):
                    raise ParseError(f"names may not start with '_': {nt!r}", np_)
                parts.append(nt)
            if text.startswith("_"):
                raise ParseError(f"names may not start with '_': {text!r}", pos)
            return Name(tuple(parts), pos)
        shown = text or "end of expression"
        raise ParseError(f"expected a value, name or '(', found {shown!r}", pos)


def parse(text: str) -> Node:
    """Parse expression text into an AST. Raises ParseError with the offending position."""
    if not isinstance(text, str):
        raise ParseError(f"expected expression text, got {type(text).__name__}", 0)
    node = _Parser(text).parse()
    depth, pos = _depth(node)
    if depth > MAX_DEPTH:
        raise ParseError(f"expression nested deeper than {MAX_DEPTH} levels", pos)
    return node


def _depth(root: Node) -> tuple[int, int]:
    """Depth of the tree, computed without recursion (long operator chains nest deeply)."""
    deepest, at = 0, 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest, at = d, node.pos
        if isinstance(node, Binary):
            stack.append((node.left, d + 1))
            stack.append((node.right, d + 1))
        elif isinstance(node, Unary):
            stack.append((node.operand, d + 1))
        elif isinstance(node, Call):
            stack.extend((a, d + 1) for a in node.args)
    return deepest, at

"""Text for a terminal: the control characters a state, rulebook or file may hold, shown escaped.

A name, a fact's evidence or a cell of an imported file can hold any character, and a terminal
acts on some of them instead of showing them: ESC and the C1 CSI start escape sequences (``\\x1b[2J``
clears the screen, others set the title or write to the clipboard), a carriage return or
backspace overwrites what was written, the bidirectional overrides show text in another order than
it is (docs/decisions/023-terminal-and-markdown-text.md). Every text the command line writes, to
stdout, stderr or ``-o``, goes through ``terminal_text`` (``TerminalStream`` is the stream that
applies it); a renderer puts a value from data into one line of a layout with ``inline_text``.

The characters escaped (``CONTROL_CHARACTERS``) are C0 (line feed and tab too, in ``inline_text``),
DEL, C1, the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
U+202A-U+202E, U+2066-U+2069), the line and paragraph separators (U+2028, U+2029) and lone
surrogates (which no terminal encoding can write). Each becomes ``\\uXXXX``: the escape JSON itself
uses, so that JSON text stays valid and means the same (json.dumps never writes a C0 character
inside a string, and the others are allowed there raw or escaped), and so that every output reads
the same whether it goes to a terminal or to a file.
"""

from __future__ import annotations

import re
from typing import Protocol

__all__ = ["CONTROL_CHARACTERS", "Sink", "TerminalStream", "inline_text", "terminal_text"]

_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
CONTROL_CHARACTERS = re.compile(f"[\x00-\x1f{_OTHERS}]")
"""Every character shown escaped by ``inline_text`` (``terminal_text`` keeps line feed and tab)."""

_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_text(text: str) -> str:
    """``text`` with every control character but line feed and tab (the layout of a text) shown as
    ``\\uXXXX``; text without one is returned as it is."""
    return _IN_TEXT.sub(_escape, text)


def inline_text(text: str) -> str:
    """A value from data for one line (a cell, a field of an explanation): every control character,
    line feed and tab too, shown as ``\\uXXXX``."""
    return CONTROL_CHARACTERS.sub(_escape, text)


class Sink(Protocol):
    """What the command line writes to: a text stream (``sys.stdout``, a file, ``TerminalStream``)."""

    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...
    def isatty(self) -> bool: ...


class TerminalStream:
    """A text stream that writes ``terminal_text`` of what it is given to ``raw``."""

    def __init__(self, raw: Sink) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        """Write ``terminal_text(text)``; returns the length of ``text``, as a text stream does."""
        self.raw.write(terminal_text(text))
        return len(text)

    def flush(self) -> None:
        """Flush ``raw``."""
        self.raw.flush()

    def isatty(self) -> bool:
        """Whether ``raw`` is a terminal."""
        return self.raw.isatty()

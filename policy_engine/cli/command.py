"""What a command is (its declaration) and what every command shares: where it writes, the
checks of ``--as-of`` and of ``--org``/``--status``/``--area``/``RULE``/``ORG`` values, the errors
that choose an exit code."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ..data.state import State
from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation.outcomes import STATUSES
from ..evaluation.select import Selectors
from ..io.files import atomic_write, check_writable
from ..io.terminal import Sink, TerminalStream
from ..rulebook.loader import Rulebook

__all__ = [
    "RULEBOOK_ARGS",
    "Arg",
    "BatchHadErrors",
    "Command",
    "Context",
    "OptionConflict",
    "RecordMismatch",
    "arg",
    "check_as_of",
    "check_selectors",
    "check_writable",
    "filters",
    "output",
    "write",
]


@attrs.frozen
class Arg:
    """One argument of a command, as given to ``argparse``'s ``add_argument``."""

    flags: tuple[str, ...]
    options: Mapping[str, Any] = attrs.field(factory=dict)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Declare the argument on ``parser``."""
        parser.add_argument(*self.flags, **self.options)


def arg(*flags: str, **options: Any) -> Arg:
    """``arg("--as-of", help=...)``: an argument, spelt as ``add_argument`` takes it."""
    return Arg(flags, options)


RULEBOOK_ARGS: tuple[Arg, ...] = (
    arg(
        "--rulebook",
        default="nhs-2024-25",
        help="bundled rulebook name (nhs-2024-25, nhs-2025-26), auto (the one whose planning year holds the "
        "evaluation date), or a folder given as a path (./NAME, absolute, or holding a /)",
    ),
    arg(
        "--overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="parameter overlay (YAML) applied to the rulebook; repeatable",
    ),
)
"""The options of every command that works on one rulebook (``Command.rulebook``)."""


@attrs.frozen
class Context:
    """What a handler is given besides its arguments."""

    out: Sink
    err: Sink
    load: Callable[[str, Sequence[str]], Rulebook]
    """A rulebook (bundled name or folder) with overlays applied in order."""
    book: Rulebook | None = None
    """The rulebook of ``--rulebook``/``--overlay``, for a command that declares ``rulebook=True``."""

    @property
    def rulebook(self) -> Rulebook:
        """``book``, which a command declared with ``rulebook=True`` always has."""
        assert self.book is not None, "the command was not declared with rulebook=True"
        return self.book


Handler = Callable[[argparse.Namespace, Context], "str | None"]
"""Runs a command; returns the text for stdout (or ``-o``), or None when it wrote its own output."""


@attrs.frozen
class Command:
    """One command of ``policy-engine``, declared once: its name, help, arguments and handler.

    ``rulebook=True``: the command also takes ``--rulebook`` and ``--overlay`` (after its own
    arguments), and that rulebook is loaded, before the handler runs, into ``Context.book``."""

    name: str
    help: str
    arguments: tuple[Arg, ...]
    handler: Handler
    rulebook: bool = True

    def add_to(self, sub: Any) -> None:
        """Declare the command (a sub-parser of ``sub``) with its arguments."""
        parser = sub.add_parser(self.name, help=self.help)
        for argument in (*self.arguments, *(RULEBOOK_ARGS if self.rulebook else ())):
            argument.add_to(parser)


class RecordMismatch(PolicyError):
    """verify-record found a difference (exit code 5)."""


class SourcesNotVerified(RecordMismatch):
    """verify-sources found a quote not in its text, or a text it could not read (exit code 5)."""


class OptionConflict(PolicyError):
    """Options that cannot be used together (exit code 2)."""


class BatchHadErrors(PolicyError):
    """Some lines of a batch were not valid states (their error records are in the output)."""


@contextlib.contextmanager
def output(path: str | None, stdout: Sink) -> Iterator[Sink]:
    """Where a command writes: stdout, or a file that appears (with the usual permissions) only if
    everything written to it was written without an error (``io.files.atomic_write``). Either way
    through ``TerminalStream``: control characters from the data are shown escaped (``io.terminal``)."""
    if path is None:
        yield stdout if isinstance(stdout, TerminalStream) else TerminalStream(stdout)
        return
    with atomic_write(path) as fh:
        yield TerminalStream(fh)


def write(text: str, path: str | None, stdout: Sink) -> None:
    """``text`` to stdout or, atomically, to ``path``."""
    with output(path, stdout) as sink:
        sink.write(text)


def filters(**options: Sequence[str] | None) -> str:
    """The filter options given, as a user would type them (``--status breached,overdue``)."""
    return " ".join(f"--{name} {','.join(values)}" for name, values in options.items() if values is not None)


def check_selectors(
    book: Rulebook,
    state: State | None,
    *,
    rule: str | None = None,
    org: str | None = None,
    statuses: Sequence[str] | None = None,
    orgs: Sequence[str] | None = None,
    areas: Sequence[str] | None = None,
) -> None:
    """Every ``RULE``/``ORG``/``--status``/``--org``/``--area`` value given exists (SelectorError,
    exit 2, naming the close matches otherwise), checked before anything is evaluated or written."""
    check = Selectors()
    known_orgs = [o.id for o in state.organisations] if state is not None else []
    if rule is not None:
        check.check("RULE", "rule", (rule,), (r.id for r in book.rules), "in the rulebook")
    if org is not None:
        check.check("ORG", "organisation", (org,), known_orgs, "in the state")
    check.check("--status", "status", statuses, STATUSES)
    check.check("--org", "organisation", orgs, known_orgs, "in the state")
    check.check("--area", "area", areas, book.areas, "in the rulebook")
    check.raise_if_unknown()


def check_as_of(text: str) -> None:
    """``--as-of`` must be a date: say so (and how it is written) before anything is read."""
    from ..data.state import _short
    from ..errors import StateError
    from ..language.months import parse_date

    try:
        parse_date(text)
    except ValueError as exc:
        raise StateError(
            "invalid --as-of date", [ErrorDetail("--as-of", str(exc), _short(text), code=ErrorCode.ARGUMENT_VALUE)]
        ) from None

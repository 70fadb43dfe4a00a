"""The ``policy-engine`` command: a thin layer over the library.

Exit codes: 0 success; 2 bad usage (unknown command or option, or a ``--org``, ``--status``,
``--area``, ``RULE`` or ``ORG`` value that does not exist); 3 invalid input (state,
rulebook, dates — the error list goes to stderr); 4 the evaluation could not be completed;
5 ``verify-record`` or ``verify-log`` found a difference.
Nothing is written to stdout (or to ``--output``) unless the whole command succeeded, except that
``evaluate --batch`` streams one line per state (bad lines become error records; exit code 3).

Each command is declared once, as a ``Command`` (name, help, arguments, handler) in the module of
its group: ``states`` (evaluate, validate, explain, what-if, report, verify-record,
verify-log), ``rulebooks`` (rules, coverage, lint, verify-sources, diff, catalogue,
template) and ``imports``
(import). ``COMMANDS`` lists them in the order ``--help`` shows; ``run`` builds the parser
from it and dispatches to the handler.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from .._version import __version__
from ..errors import EngineError, ErrorCode, ErrorDetail, PolicyError, SelectorError
from ..io.terminal import Sink, TerminalStream
from ..rulebook.loader import Rulebook, load_rulebook
from ..rulebook.years import AUTO
from . import imports, rulebooks, states
from .command import (
    BatchHadErrors,
    Command,
    Context,
    OptionConflict,
    RecordMismatch,
    check_as_of,
    check_writable,
    write,
)

__all__ = [
    "COMMANDS",
    "EXIT_ENGINE",
    "EXIT_INVALID",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "EXIT_USAGE",
    "BatchHadErrors",
    "OptionConflict",
    "RecordMismatch",
    "main",
    "run",
]

EXIT_OK, EXIT_USAGE, EXIT_INVALID, EXIT_ENGINE, EXIT_MISMATCH = 0, 2, 3, 4, 5

COMMANDS: tuple[Command, ...] = (
    states.EVALUATE,
    states.VERIFY_RECORD,
    states.VERIFY_LOG,
    states.VALIDATE,
    states.EXPLAIN,
    rulebooks.COVERAGE,
    rulebooks.LINT,
    rulebooks.VERIFY_SOURCES,
    states.WHAT_IF,
    rulebooks.DIFF,
    states.REPORT,
    rulebooks.RULES,
    rulebooks.CATALOGUE,
    rulebooks.TEMPLATE,
    imports.IMPORT,
)
"""Every command, in the order ``policy-engine --help`` lists them."""

_BY_NAME = {c.name: c for c in COMMANDS}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="policy-engine",
        description="Evaluate NHS England planning guidance rules (2024/25 and 2025/26) against a system state.",
        epilog="Exit codes: 0 ok, 2 usage (also an unknown --org/--status/--area/RULE/ORG value), "
        "3 invalid input (errors on stderr), 4 evaluation failed, "
        "5 verify-record or verify-log found a difference.",
    )
    p.add_argument("--version", action="version", version=f"policy-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(sub)
    return p


def _load(name: str, overlays: Sequence[str]) -> Rulebook:
    """A rulebook with its overlays applied in order (``load_rulebook`` is looked up here, at call
    time, so that tests can stand a cached loader in for it)."""
    from ..rulebook.overlay import apply_overlay

    book = load_rulebook(name)
    for path in overlays:
        book = apply_overlay(book, path)
    return book


def run(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    # Everything written, error messages too, is shown with the data's control characters escaped.
    out = TerminalStream(stdout or sys.stdout)
    err = TerminalStream(stderr or sys.stderr)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        text = _dispatch(args, out, err)
        if text is not None:
            write(text, getattr(args, "output", None), out)
    except (SelectorError, OptionConflict) as exc:
        err.write(f"policy-engine: usage error: {exc}\n")
        return EXIT_USAGE
    except EngineError as exc:
        err.write(f"policy-engine: error: {exc}\n")
        return EXIT_ENGINE
    except RecordMismatch as exc:
        err.write(f"policy-engine: {exc}\n")
        return EXIT_MISMATCH
    except PolicyError as exc:
        err.write(f"policy-engine: invalid input: {exc}\n")
        return EXIT_INVALID
    except OSError as exc:
        err.write(f"policy-engine: error: {exc}\n")
        return EXIT_INVALID
    except MemoryError:
        err.write(
            "policy-engine: error: out of memory (no partial file is left; for a table, give fewer rows a chunk "
            "with --chunk-rows)\n"
        )
        return EXIT_ENGINE
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        err.write(f"policy-engine: internal error: {type(exc).__name__}: {exc}\n")
        return EXIT_ENGINE
    return EXIT_OK


def _dispatch(args: argparse.Namespace, out: Sink, err: Sink) -> str | None:
    """``--as-of`` checked, the command's rulebook loaded (if it declares one), then its handler."""
    if getattr(args, "as_of", None) is not None:
        check_as_of(args.as_of)
    command = _BY_NAME[args.command]
    check_writable([getattr(args, "output", None)])  # before any work: a folder missing is said at once
    if command.rulebook and args.rulebook == AUTO:
        args.rulebook = _auto_rulebook(args, err)
    book = _load(args.rulebook, args.overlay) if command.rulebook else None
    return command.handler(args, Context(out, err, _load, book))


def _auto_rulebook(args: argparse.Namespace, err: Sink) -> str:
    """``--rulebook auto``: the bundled rulebook whose planning year holds ``--as-of`` (or, without
    it, the as_of of the JSON state the command reads), said on stderr."""
    from ..data.state import load_state
    from ..rulebook.years import rulebook_for

    as_of, basis = getattr(args, "as_of", None), "--as-of"
    state = getattr(args, "state", None)
    if as_of is None and isinstance(state, str) and state.lower().endswith(".json"):
        as_of, basis = load_state(state).as_of, f"the as_of of {state}"
    if as_of is None:
        raise OptionConflict(
            "--rulebook auto needs a date",
            [
                ErrorDetail(
                    "--rulebook",
                    "auto picks the rulebook whose planning year holds the evaluation date: give --as-of "
                    "(or a JSON state, whose as_of is used)",
                    "auto",
                    code=ErrorCode.ARGUMENT_CONFLICT,
                )
            ],
        )
    book = rulebook_for(as_of)
    err.write(
        f"policy-engine: --rulebook auto: {book.id} (its planning year {book.start} to {book.end} holds {as_of}, "
        f"{basis})\n"
    )
    return book.id


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())

"""The commands on a state: evaluate (one state, a JSON Lines batch or a table), validate,
explain, what-if, report, verify-record and verify-log."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..audit.explain import explain, explain_tree
from ..data.state import State, load_state
from ..engine import EVALUATE_BACKENDS, Backend, evaluate, evaluate_stream
from ..errors import ErrorCode, ErrorDetail, PolicyError
from ..evaluation.outcomes import Evaluation, Outcome
from ..evaluation.select import split_values
from ..io.canonical import canonical_json
from ..io.terminal import Sink
from ..rulebook.loader import Rulebook, looks_like_path
from .command import (
    BatchHadErrors,
    Command,
    Context,
    OptionConflict,
    RecordMismatch,
    arg,
    check_selectors,
    check_writable,
    filters,
    output,
    write,
)

__all__ = ["EVALUATE", "EXPLAIN", "REPORT", "VALIDATE", "VERIFY_LOG", "VERIFY_RECORD", "WHAT_IF"]

_BACKENDS = [b.value for b in EVALUATE_BACKENDS]
"""``--backend`` of a command that evaluates a state: the names ``evaluate()`` accepts."""
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".xlsx")


# --------------------------------------------------------------------------- evaluate


def _evaluate(args: argparse.Namespace, ctx: Context) -> str | None:
    book = ctx.rulebook
    if args.backend == Backend.COLUMNAR and not (args.batch and _is_table(args.state)):
        raise OptionConflict(
            "--backend columnar evaluates tables only",
            [
                ErrorDetail(
                    "--backend",
                    f"give a .csv or .parquet table with --batch; a state evaluates on {', '.join(_BACKENDS)}",
                    code=ErrorCode.ARGUMENT_CONFLICT,
                )
            ],
        )
    if args.batch:
        if args.record or args.log:
            raise OptionConflict(
                "--record and --log are not accepted with --batch",
                [
                    ErrorDetail(
                        "--record/--log",
                        "a decision record is made for one state; evaluate each state on its own to record it",
                        code=ErrorCode.ARGUMENT_CONFLICT,
                    )
                ],
            )
        if args.status or args.org:
            raise OptionConflict(
                "--status and --org are not accepted with --batch",
                [
                    ErrorDetail(
                        "--status/--org",
                        "--batch writes every outcome of every state; filter its output",
                        code=ErrorCode.ARGUMENT_CONFLICT,
                    )
                ],
            )
        _batch(args, book, ctx.out, ctx.err)
        return None
    args.org = split_values(args.org)
    args.status = split_values(args.status)
    # Every destination is checked before anything is evaluated, and the outputs are written before
    # the decision record and the audit log: a record or log line only for outputs that exist.
    check_writable([args.output, args.record, args.log])
    fmt = _output_format(args.format, args.output, ctx.out.isatty())
    state = load_state(args.state)
    check_selectors(book, state, statuses=args.status, orgs=args.org)
    if fmt == "json":
        _evaluate_streamed(args, state, book, ctx)
        return None
    evaluation = evaluate(state, book, as_of=args.as_of, backend=args.backend)
    shown = _filtered(evaluation, args.status, args.org)
    if fmt == "xlsx":
        from ..evaluation.frames import write_workbook

        write_workbook(shown, args.output)
    elif fmt == "table":
        from .layout import colour_wanted, outcome_table, plain, table_width, write_table

        sink = ctx.out if args.output is None else _NOT_A_TERMINAL
        lines = outcome_table(
            shown, table_width(sink), filters(org=args.org, status=args.status), len(evaluation.outcomes)
        )
        if colour_wanted(sink, args.no_color):
            write_table(lines, ctx.out)
        else:
            write(plain(lines), args.output, ctx.out)
    elif fmt == "csv":
        from ..evaluation.frames import outcomes_csv

        write(outcomes_csv(shown), args.output, ctx.out)
    else:
        write(shown.to_json() + "\n", args.output, ctx.out)
    if args.record or args.log:
        from ..audit.records import append_log, decision_record

        record = decision_record(evaluation)
        if args.record:
            write(json.dumps(record, indent=2, sort_keys=True) + "\n", args.record, ctx.out)
        if args.log:
            append_log(args.log, record)
    return None


def _evaluate_streamed(args: argparse.Namespace, state: State, book: Rulebook, ctx: Context) -> None:
    """The JSON of ``evaluate`` written organisation by organisation (``engine.evaluate_stream``):
    the text of ``Evaluation.to_json()`` without ever holding every outcome; the decision record's
    outcomes digest is taken on the way (docs/decisions/024-streamed-evaluation.md)."""
    from ..audit.records import OutcomesDigest, append_log, record_of

    stream = evaluate_stream(state, book, as_of=args.as_of, backend=args.backend)
    orgs = None if args.org is None else frozenset(args.org)
    statuses = None if args.status is None else frozenset(args.status)

    def select(o: Outcome) -> bool:
        return (orgs is None or o.org_id in orgs) and (statuses is None or o.status in statuses)

    recorded = args.record or args.log
    digest = OutcomesDigest()
    triples: list[tuple[str, str, str]] = []

    def each(o: Outcome) -> None:
        digest.add(o)
        triples.append((o.rule_id, o.org_id, o.status))

    with output(getattr(args, "output", None), ctx.out) as sink:
        stream.write_json(sink, select if orgs or statuses else None, each if recorded else None)
        sink.write("\n")
    if recorded:
        record = record_of(stream.record, digest.hexdigest(), triples)
        if args.record:
            write(json.dumps(record, indent=2, sort_keys=True) + "\n", args.record, ctx.out)
        if args.log:
            append_log(args.log, record)


_SUFFIX_FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


def _output_format(given: str | None, output: str | None, tty: bool) -> str:
    """The format of ``evaluate``'s outcomes: ``--format``, else the ``-o`` file's suffix (.csv,
    .xlsx), else table in a terminal and json otherwise. A workbook is written only to a file whose
    name ends in .xlsx, and a .xlsx file holds only a workbook."""
    implied = _SUFFIX_FORMATS.get(Path(output).suffix.lower()) if output else None
    fmt = given or implied or ("table" if tty else "json")
    if (fmt == "xlsx") != (implied == "xlsx"):
        raise OptionConflict(
            "--format xlsx writes a workbook to -o FILE.xlsx",
            [
                ErrorDetail(
                    "--format/-o",
                    "give -o FILE.xlsx for --format xlsx, and --format xlsx (or none) for a .xlsx file",
                    f"--format {fmt} -o {output or '(stdout)'}",
                    code=ErrorCode.ARGUMENT_CONFLICT,
                )
            ],
        )
    return fmt


def _is_table(path: str) -> bool:
    return Path(path).suffix.lower() in _TABLE_SUFFIXES


class _NotATerminal:
    """What a file given with ``-o`` is, for the table's width and colour: not a terminal."""

    def write(self, text: str, /) -> int:
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


_NOT_A_TERMINAL = _NotATerminal()


def _filtered(evaluation: Evaluation, statuses: Sequence[str] | None, orgs: Sequence[str] | None) -> Evaluation:
    if statuses is None and orgs is None:
        return evaluation
    import attrs

    return attrs.evolve(evaluation, outcomes=tuple(evaluation.find(org_id=orgs, status=statuses)))


def _batch(args: argparse.Namespace, book: Rulebook, out: Sink, err: Sink) -> None:
    """Stream JSON Lines in, JSON Lines out: one line per state, evaluation or error record."""
    from ..data.state import _parse_json, state_from_dict
    from ..errors import StateError

    if _is_table(args.state):
        _table_batch(args, book, err)
        return
    from .layout import progress

    failures: list[ErrorDetail] = []
    path = Path(args.state)
    with (
        output(getattr(args, "output", None), out) as sink,
        path.open("rb") as fh,
        progress(err, quiet=args.quiet, total=path.stat().st_size, unit="B", desc="states") as bar,
    ):
        for number, raw in enumerate(fh, start=1):
            bar.update(len(raw))
            if not raw.strip():
                continue
            try:
                state = state_from_dict(_parse_json(raw, f"line {number}"), book)
                ev = evaluate(state, book, as_of=args.as_of, backend=args.backend)
                record = {"line": number, **ev.to_dict()}
            except StateError as exc:
                failures.append(ErrorDetail("", exc.summary, code=ErrorCode.BATCH_INVALID_STATE, line=number))
                record = {
                    "line": number,
                    "error": exc.summary,
                    "details": [d.to_dict() for d in exc.details],
                }
            sink.write(canonical_json(record) + "\n")
    if failures:
        raise BatchHadErrors(f"{len(failures)} line(s) of the batch were not valid states", failures)


def _table_batch(args: argparse.Namespace, book: Rulebook, err: Sink) -> None:
    """A table in, a table of statuses out (``policy_engine.tabular.evaluate_table``)."""
    from ..errors import StateError
    from ..tabular import evaluate_table

    if not args.output:
        raise StateError(
            "a table needs an output file",
            [ErrorDetail("-o", "give -o OUT.parquet, -o OUT.csv or -o OUT.jsonl", code=ErrorCode.ARGUMENT_CONFLICT)],
        )
    # A table always runs on the columnar evaluator; auto and native are accepted as they always were.
    if args.as_of is not None or args.backend not in (Backend.AUTO, Backend.NATIVE, Backend.COLUMNAR):
        raise StateError(
            "tables carry their own as_of and use the columnar evaluator",
            [
                ErrorDetail(
                    "--as-of/--backend", "not accepted with a .csv or .parquet table", code=ErrorCode.ARGUMENT_CONFLICT
                )
            ],
        )
    if args.chunk_rows is not None and args.chunk_rows < 1:
        detail = ErrorDetail(
            "--chunk-rows", "expected a positive number", str(args.chunk_rows), code=ErrorCode.ARGUMENT_VALUE
        )
        raise StateError("invalid --chunk-rows", [detail])
    from .layout import progress

    with progress(err, quiet=args.quiet, total=None, unit="row", desc="rows") as bar:
        summary = evaluate_table(args.state, args.output, book, chunk_rows=args.chunk_rows, progress=bar.update)
    err.write(summary.text() + "\n")


EVALUATE = Command(
    "evaluate",
    "evaluate every rule on a state",
    (
        arg("state", help="state JSON file"),
        arg("--as-of", help="evaluation date YYYY-MM-DD (default: the state's as_of)"),
        arg(
            "--backend",
            default="auto",
            choices=[*_BACKENDS, Backend.COLUMNAR.value],
            help="the evaluator: auto (durable where it imports, else native), native or durable; "
            "columnar only for a .csv or .parquet table (--batch), which always runs on it",
        ),
        arg(
            "--format",
            choices=["json", "table", "csv", "xlsx"],
            default=None,
            help="json, table, csv (one row per outcome, the columns of Evaluation.to_frame) or xlsx "
            "(a workbook: a summary sheet and the outcomes; needs -o FILE.xlsx). Default: from -o's "
            "suffix (.csv, .xlsx), else table in a terminal, json otherwise",
        ),
        arg("--status", action="append", help="only outcomes with these statuses (comma-separated list; repeatable)"),
        arg("--org", action="append", help="only outcomes for these organisations (comma-separated list; repeatable)"),
        arg("-o", "--output", help="write to this file instead of stdout (atomically)"),
        arg(
            "--no-color",
            action="store_true",
            help="--format table: no colour (also when NO_COLOR is set; colour is only ever written to a terminal)",
        ),
        arg(
            "--quiet", action="store_true", help="--batch: no progress on stderr (shown only on a terminal, after 2 s)"
        ),
        arg("--record", help="also write the decision record (JSON) to this file"),
        arg("--log", help="append the decision record as one JSON line to this audit log"),
        arg(
            "--batch",
            action="store_true",
            help="STATE is JSON Lines, one state per line; write one JSON evaluation per line, streaming "
            "(a bad line becomes an error record naming the line, and the exit code is 3). "
            "STATE may instead be a .csv, .parquet or .xlsx table of organisation-period rows (docs/tabular.md): "
            "then -o names a .parquet, .csv or .jsonl file of statuses, written only if every row is valid",
        ),
        arg(
            "--chunk-rows",
            type=int,
            default=None,
            help="tables: rows evaluated at a time (memory is bounded by this, not by the file); "
            "default 100000 for Parquet, 20000 for CSV",
        ),
    ),
    _evaluate,
)


# --------------------------------------------------------------------------- validate


def _validate(args: argparse.Namespace, ctx: Context) -> str:
    from ..data.state import rulebook_errors
    from ..errors import StateError

    state = load_state(args.state)  # the schema and the consistency checks, once
    problems = rulebook_errors(state, ctx.rulebook)
    if problems:
        raise StateError("the state does not fit the rulebook", problems)
    return f"{args.state}: valid ({len(state.organisations)} organisations)\n"


VALIDATE = Command(
    "validate", "check a state against the schema and the rulebook's catalogues", (arg("state"),), _validate
)


# --------------------------------------------------------------------------- explain


def _explain(args: argparse.Namespace, ctx: Context) -> str:
    book = ctx.rulebook
    state = load_state(args.state)
    check_selectors(book, state, rule=args.rule, org=args.org)
    evaluation = evaluate(state, book, as_of=args.as_of, backend=args.backend)
    if args.format == "json":
        return json.dumps(explain_tree(evaluation, args.rule, args.org, book), indent=2, ensure_ascii=False) + "\n"
    return explain(evaluation, args.rule, args.org, book) + "\n"


EXPLAIN = Command(
    "explain",
    "the derivation of one outcome",
    (
        arg("state"),
        arg("rule"),
        arg("org"),
        arg("--as-of"),
        arg("--backend", default="auto", choices=_BACKENDS),
        arg("--format", choices=["text", "json"], default="text"),
    ),
    _explain,
)


# --------------------------------------------------------------------------- what-if


def _what_if(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.whatif import what_if

    book = ctx.rulebook
    state = load_state(args.state)
    check_selectors(book, state, rule=args.rule, org=args.org)
    answer = what_if(state, args.rule, args.org, book, as_of=args.as_of)
    if args.format == "json":
        return json.dumps(answer.to_dict(), indent=2) + "\n"
    return answer.text()


WHAT_IF = Command(
    "what-if",
    "the smallest change in an organisation's data that flips an outcome",
    (
        arg("state"),
        arg("rule"),
        arg("org"),
        arg("--as-of"),
        arg("--format", choices=["text", "json"], default="text"),
    ),
    _what_if,
)


# --------------------------------------------------------------------------- report


def _report(args: argparse.Namespace, ctx: Context) -> str:
    from ..render.report import render_report

    book = ctx.rulebook
    args.org = split_values(args.org)
    state = load_state(args.state)
    check_selectors(book, state, orgs=args.org)
    if args.compare_with:
        from ..render.years import render_years

        others = [ctx.load(name, ()) for name in args.compare_with]
        return render_years(state, [book, *others], args.format, args.org, args.as_of, args.backend)
    evaluation = evaluate(state, book, as_of=args.as_of, backend=args.backend)
    return render_report(evaluation, state, book, args.format, args.org)


REPORT = Command(
    "report",
    "per organisation: outcomes by status, explanations, charts (HTML or Markdown)",
    (
        arg("state"),
        arg("--format", choices=["html", "md"], default="html"),
        arg("--as-of"),
        arg("--backend", default="auto", choices=_BACKENDS),
        arg("--org", action="append", help="only these organisations (comma-separated list; repeatable)"),
        arg(
            "--compare-with",
            action="append",
            default=[],
            metavar="RULEBOOK",
            help="also evaluate under this rulebook (another planning year; repeatable) and show each "
            "organisation's outcomes side by side, by measure",
        ),
        arg("-o", "--output", help="write to this file instead of stdout (atomically)"),
    ),
    _report,
)


# --------------------------------------------------------------------------- verify-record


def _record_rulebook(record: Any) -> str:
    """The rulebook a record was made with: the folder its ``rulebook_source`` names, or (``bundled``,
    or a record made before sources were recorded) the bundled rulebook of its ``rulebook_id``."""
    import os

    source = record.get("rulebook_source", "bundled") if isinstance(record, dict) else "bundled"
    if source != "bundled":
        if not isinstance(source, str) or not os.path.isabs(source):
            raise PolicyError(
                "not a decision record",
                [
                    ErrorDetail(
                        "record",
                        'expected "bundled" or the absolute path of a rulebook folder',
                        repr(source)[:80],
                        code=ErrorCode.RECORD_SCHEMA,
                        location=("rulebook_source",),
                    )
                ],
            )
        return source
    name = record.get("rulebook_id") if isinstance(record, dict) else None
    if isinstance(name, str) and looks_like_path(name):  # a bundled rulebook's id is a name, never a path
        raise PolicyError(
            "not a decision record",
            [
                ErrorDetail(
                    "record",
                    "a bundled rulebook's id, not a path",
                    name[:80],
                    code=ErrorCode.RECORD_SCHEMA,
                    location=("rulebook_id",),
                )
            ],
        )
    return name if isinstance(name, str) and name else "nhs-2024-25"


def _verify_record(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.records import verify_record
    from ..data.state import _parse_json

    try:
        raw = Path(args.record).read_bytes()
    except OSError as exc:
        raise PolicyError(
            "cannot read the record", [ErrorDetail(args.record, exc.strerror or str(exc), code=ErrorCode.RECORD_READ)]
        ) from None
    record = _parse_json(raw, f"record file {args.record}")
    book = ctx.load(args.rulebook or _record_rulebook(record), args.overlay)
    recorded_source = record.get("rulebook_source", "bundled") if isinstance(record, dict) else None
    if isinstance(recorded_source, str) and recorded_source != book.source:
        ctx.err.write(
            f"policy-engine: note: the record was made with the rulebook {_source_words(recorded_source)}; "
            f"verified against the rulebook {_source_words(book.source)}\n"
        )
    check = verify_record(record, load_state(args.state), book, allow_unsealed=args.allow_unsealed)
    if check.fallback is not None:
        recorded = record.get("backend") if isinstance(record, dict) else None
        ctx.err.write(
            f"policy-engine: note: the record was made with the {recorded} backend; re-verified with the "
            f"{check.backend} backend: {check.fallback}\n"
        )
    if not check.ok:
        raise RecordMismatch(str(check))
    return str(check) + "\n"


def _source_words(source: str) -> str:
    return "bundled with the package" if source == "bundled" else f"read from the folder {source}"


VERIFY_RECORD = Command(
    "verify-record",
    "re-run a recorded evaluation and confirm it, or show what differs",
    (
        arg("record", help="decision record JSON (from evaluate --record)"),
        arg("state", help="the state JSON the record was made from"),
        arg(
            "--rulebook",
            default=None,
            help="rulebook (default: the one the record names: bundled, or the folder it was read from)",
        ),
        arg("--overlay", action="append", default=[], metavar="FILE", help="the overlays the record used"),
        arg(
            "--allow-unsealed",
            action="store_true",
            help="confirm a record written before records were sealed (no field_digests) as far as a re-run can",
        ),
    ),
    _verify_record,
    rulebook=False,
)


# --------------------------------------------------------------------------- verify-log


def _verify_log(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.records import verify_log

    check = verify_log(args.log, head=args.head)
    if not check.ok:
        raise RecordMismatch(str(check))
    return str(check) + "\n"


VERIFY_LOG = Command(
    "verify-log",
    "check an audit log (evaluate --log): every line chained to the one before; name the first bad line",
    (
        arg("log", help="the JSON Lines audit log"),
        arg(
            "--head",
            default=None,
            metavar="HASH",
            help="a head hash reported earlier: the log must still hold that line (nothing removed from its end)",
        ),
    ),
    _verify_log,
    rulebook=False,
)

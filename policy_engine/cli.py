"""The ``policy-engine`` command: a thin layer over the library.

Exit codes: 0 success; 2 bad usage (unknown command or option, or a ``--org``, ``--status``,
``--area``, ``RULE`` or ``ORG`` value that does not exist); 3 invalid input (state,
rulebook, dates — the error list goes to stderr); 4 the evaluation could not be completed;
5 ``verify-record`` found a difference.
Nothing is written to stdout (or to ``--output``) unless the whole command succeeded, except that
``evaluate --batch`` streams one line per state (bad lines become error records; exit code 3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from ._version import __version__
from .audit.explain import explain, explain_tree
from .data.state import State, load_state
from .errors import EngineError, ErrorDetail, PolicyError, SelectorError
from .evaluation.engine import evaluate
from .evaluation.outcomes import STATUSES, Evaluation
from .evaluation.select import Selectors, split_values
from .rulebook.loader import Rulebook, load_rulebook

EXIT_OK, EXIT_USAGE, EXIT_INVALID, EXIT_ENGINE = 0, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="policy-engine",
        description="Evaluate NHS England 2024/25 planning guidance rules against a system state.",
        epilog="Exit codes: 0 ok, 2 usage (also an unknown --org/--status/--area/RULE/ORG value), "
        "3 invalid input (errors on stderr), 4 evaluation failed, "
        "5 verify-record found a difference.",
    )
    p.add_argument("--version", action="version", version=f"policy-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--rulebook", default="nhs-2024-25", help="bundled rulebook name or folder path")
        sp.add_argument(
            "--overlay",
            action="append",
            default=[],
            metavar="FILE",
            help="parameter overlay (YAML) applied to the rulebook; repeatable",
        )

    ev = sub.add_parser("evaluate", help="evaluate every rule on a state")
    ev.add_argument("state", help="state JSON file")
    ev.add_argument("--as-of", help="evaluation date YYYY-MM-DD (default: the state's as_of)")
    ev.add_argument("--backend", default="auto", choices=["auto", "native", "durable"])
    ev.add_argument(
        "--format",
        choices=["json", "table"],
        default=None,
        help="json or table (default: table in a terminal, json otherwise)",
    )
    ev.add_argument(
        "--status", action="append", help="only outcomes with these statuses (comma-separated list; repeatable)"
    )
    ev.add_argument(
        "--org", action="append", help="only outcomes for these organisations (comma-separated list; repeatable)"
    )
    ev.add_argument("-o", "--output", help="write to this file instead of stdout (atomically)")
    ev.add_argument("--record", help="also write the decision record (JSON) to this file")
    ev.add_argument("--log", help="append the decision record as one JSON line to this audit log")
    ev.add_argument(
        "--batch",
        action="store_true",
        help="STATE is JSON Lines, one state per line; write one JSON evaluation per line, streaming "
        "(a bad line becomes an error record naming the line, and the exit code is 3). "
        "STATE may instead be a .csv or .parquet table of organisation-period rows (docs/tabular.md): "
        "then -o names a .parquet or .jsonl file of statuses, written only if every row is valid",
    )
    ev.add_argument(
        "--chunk-rows",
        type=int,
        default=None,
        help="tables: rows evaluated at a time (memory is bounded by this, not by the file); "
        "default 100000 for Parquet, 20000 for CSV",
    )
    common(ev)

    vr = sub.add_parser("verify-record", help="re-run a recorded evaluation and confirm it, or show what differs")
    vr.add_argument("record", help="decision record JSON (from evaluate --record)")
    vr.add_argument("state", help="the state JSON the record was made from")
    vr.add_argument("--rulebook", default=None, help="rulebook (default: the bundled one the record names)")
    vr.add_argument("--overlay", action="append", default=[], metavar="FILE", help="the overlays the record used")

    va = sub.add_parser("validate", help="check a state against the schema and the rulebook's catalogues")
    va.add_argument("state")
    common(va)

    ex = sub.add_parser("explain", help="the derivation of one outcome")
    ex.add_argument("state")
    ex.add_argument("rule")
    ex.add_argument("org")
    ex.add_argument("--as-of")
    ex.add_argument("--backend", default="auto", choices=["auto", "native", "durable"])
    ex.add_argument("--format", choices=["text", "json"], default="text")
    common(ex)

    co = sub.add_parser("coverage", help="the coverage ledger: guidance items -> rules, with counts per area")
    co.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
    co.add_argument("--scenarios", help="folder of scenario files to count (default: tests/scenarios if present)")
    common(co)

    li = sub.add_parser("lint", help="static checks of a rulebook (exit 3 on errors)")
    li.add_argument(
        "rulebook_path",
        nargs="?",
        default="nhs-2024-25",
        metavar="RULEBOOK",
        help="bundled rulebook name or folder path",
    )
    li.add_argument("--format", choices=["text", "json"], default="text")
    li.add_argument("--scenarios", help="folder of scenario files (default: tests/scenarios if present)")

    vs = sub.add_parser("verify-sources", help="check every rule and ledger quote against the shipped guidance texts")
    common(vs)

    wi = sub.add_parser("what-if", help="the smallest change in an organisation's data that flips an outcome")
    wi.add_argument("state")
    wi.add_argument("rule")
    wi.add_argument("org")
    wi.add_argument("--as-of")
    wi.add_argument("--format", choices=["text", "json"], default="text")
    common(wi)

    di = sub.add_parser("diff", help="what changed between two rulebooks, and (given a state) which outcomes")
    di.add_argument("old", help="bundled rulebook name or folder path")
    di.add_argument("new", help="bundled rulebook name or folder path")
    di.add_argument("--state", help="also evaluate this state under both and list the outcomes that change")
    di.add_argument("--as-of")
    di.add_argument(
        "--new-overlay",
        action="append",
        default=[],
        metavar="FILE",
        help="parameter overlay applied to NEW (compare a local variant with the national rules)",
    )

    rp = sub.add_parser("report", help="per organisation: outcomes by status, explanations, charts (HTML or Markdown)")
    rp.add_argument("state")
    rp.add_argument("--format", choices=["html", "md"], default="html")
    rp.add_argument("--as-of")
    rp.add_argument("--backend", default="auto", choices=["auto", "native", "durable"])
    rp.add_argument("--org", action="append", help="only these organisations (comma-separated list; repeatable)")
    rp.add_argument("-o", "--output", help="write to this file instead of stdout (atomically)")
    common(rp)

    ru = sub.add_parser("rules", help="list the rules with their citations")
    ru.add_argument("--format", choices=["table", "json"], default="table")
    ru.add_argument("--area", action="append", help="only these areas (comma-separated list; repeatable)")
    common(ru)

    im = sub.add_parser("import", help="build a state from NHS England statistics files (summary on stderr)")
    im.add_argument("kind", help="ae, ambulance (aqi), cancer (cwt), rtt, diagnostics (dm01), or auto")
    im.add_argument("files", nargs="+", metavar="FILE", help="published CSV files (or zip files holding one CSV)")
    im.add_argument("--reference", metavar="ORGS.csv", help="organisation reference table: ods_code, name, type, icb")
    im.add_argument("--as-of", help="the state's as_of (default: the day after the last month with data)")
    im.add_argument("--infer-services", action="store_true", help="declare A&E services from the attendances")
    im.add_argument("-o", "--output", help="write the state to this file instead of stdout (atomically)")
    common(im)
    return p


def _table(evaluation: Evaluation, filters: str = "", total: int = 0) -> str:
    """The outcomes as a table; ``filters`` (the options that chose them of ``total``) are named in the
    summary line, and a filter that matched nothing says so instead of printing an empty table."""
    rows = [("ORGANISATION", "RULE", "KIND", "STATUS", "DEADLINE", "EXPLANATION")]
    for o in evaluation.outcomes:
        expl = o.explanation if len(o.explanation) <= 110 else o.explanation[:107] + "..."
        rows.append((o.org_id, o.rule_id, o.kind, o.status, str(o.deadline or ""), expl))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows]
    if filters and not evaluation.outcomes:
        lines = [f"No outcome matched {filters}."]
    rec = evaluation.record
    summary = ", ".join(f"{k}: {v}" for k, v in evaluation.counts().items())
    n = len(evaluation.outcomes)
    shown = f"{n} of {total} outcomes matched {filters}" if filters else f"{n} outcomes"
    lines.append("")
    lines.append(
        f"{shown}{f' ({summary})' if summary else ''}; as of {rec.as_of}; rulebook "
        f"{rec.rulebook_id} {rec.rulebook_version}; backend {rec.backend}"
    )
    return "\n".join(lines) + "\n"


def _filters(**options: Sequence[str] | None) -> str:
    """The filter options given, as a user would type them (``--status breached,overdue``)."""
    return " ".join(f"--{name} {','.join(values)}" for name, values in options.items() if values is not None)


def _filtered(evaluation: Evaluation, statuses: Sequence[str] | None, orgs: Sequence[str] | None) -> Evaluation:
    if statuses is None and orgs is None:
        return evaluation
    import attrs

    return attrs.evolve(evaluation, outcomes=tuple(evaluation.find(org_id=orgs, status=statuses)))


def _check_selectors(args: argparse.Namespace, book: Rulebook, state: State | None) -> None:
    """Every ``--org``/``--status``/``--area``/``RULE``/``ORG`` value exists (SelectorError, exit 2,
    naming the close matches otherwise), checked before anything is evaluated or written."""
    check = Selectors()
    orgs = [o.id for o in state.organisations] if state is not None else []
    if args.command in ("explain", "what-if"):
        check.check("RULE", "rule", (args.rule,), (r.id for r in book.rules), "in the rulebook")
        check.check("ORG", "organisation", (args.org,), orgs, "in the state")
    else:
        check.check("--status", "status", getattr(args, "status", None), STATUSES)
        check.check("--org", "organisation", getattr(args, "org", None), orgs, "in the state")
        check.check("--area", "area", getattr(args, "area", None), book.areas, "in the rulebook")
    check.raise_if_unknown()


def _rules_table(book: Rulebook, areas: Sequence[str] | None) -> str:
    lines = []
    for r in sorted(book.rules, key=lambda r: (r.area, r.id)):
        if areas is not None and r.area not in areas:
            continue
        lines.append(f"{r.id}  [{r.kind}; {', '.join(r.applies_to)}; {r.timing_label()}]")
        lines.append(f"    {r.title}")
        lines.append(f"    when: {r.condition_text}")
        lines.append(f"    source: {r.source.document} \u00a7 {r.source.section} [{r.confidence}]")
        lines.append(f"    \u201c{r.source.quote}\u201d")
    if areas is None:
        lines.append(f"\n{len(book.rules)} rules in {book.id} {book.version}")
    else:
        shown, filters = sum(1 for r in book.rules if r.area in areas), _filters(area=areas)
        head = "" if shown else f"No rule matched {filters}.\n"
        lines.append(f"{head}\n{shown} of {len(book.rules)} rules in {book.id} {book.version} matched {filters}")
    return "\n".join(lines) + "\n"


def _rules_json(book: Rulebook, areas: Sequence[str] | None) -> str:
    out = []
    for r in sorted(book.rules, key=lambda r: (r.area, r.id)):
        if areas is not None and r.area not in areas:
            continue
        out.append(
            {
                "id": r.id,
                "title": r.title,
                "kind": r.kind,
                "area": r.area,
                "applies_to": list(r.applies_to),
                "condition": r.condition_text,
                "applicable_if": r.applicable_if_text,
                "deadline": r.deadline.isoformat() if r.deadline else None,
                "timing": r.timing,
                "timing_text": r.timing_text(),
                "parameters": {
                    n: {"value": str(p.value), "unit": p.unit, "wording": p.wording} for n, p in r.parameters.items()
                },
                "source": {"document": r.source.document, "section": r.source.section, "quote": r.source.quote},
                "confidence": r.confidence,
                "objective": r.objective,
                "assumptions": list(r.assumptions),
                "depends_on": list(r.depends_on),
            }
        )
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def _output(output: str | None, stdout: TextIO) -> Iterator[TextIO]:
    """Where a command writes: stdout, or a file that appears (with the usual permissions) only if
    everything written to it was written without an error (``data.files.atomic_write``)."""
    if output is None:
        yield stdout
        return
    from .data.files import atomic_write

    with atomic_write(output) as fh:
        yield fh


def _write(text: str, output: str | None, stdout: TextIO) -> None:
    with _output(output, stdout) as sink:
        sink.write(text)


def run(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        text = _dispatch(args, out, err)
        if text is not None:
            _write(text, getattr(args, "output", None), out)
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
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        err.write(f"policy-engine: internal error: {type(exc).__name__}: {exc}\n")
        return EXIT_ENGINE
    return EXIT_OK


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> str | None:
    if getattr(args, "as_of", None) is not None:
        _check_as_of(args.as_of)
    if args.command == "verify-record":
        return _verify_record(args, err)
    if args.command == "lint":
        return _lint(args)
    if args.command == "diff":
        return _diff(args)
    book = _with_overlays(load_rulebook(args.rulebook), args.overlay)
    if args.command == "coverage":
        from .audit.coverage import load_coverage, scenario_counts

        cov = load_coverage(book)
        counts = scenario_counts(args.scenarios)
        if args.format == "html":
            return cov.to_html(counts)
        return cov.to_json() + "\n" if args.format == "json" else cov.to_markdown(counts)
    if args.command == "verify-sources":
        return _verify_sources(book)
    if args.command == "rules":
        areas = split_values(args.area)
        args.area = areas
        _check_selectors(args, book, None)
        return _rules_json(book, areas) if args.format == "json" else _rules_table(book, areas)
    if args.command == "import":
        from .importers import import_files

        doc, summary = import_files(
            args.kind, args.files, args.reference, as_of=args.as_of, infer_services=args.infer_services, rulebook=book
        )
        err.write(summary.to_text())
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.command == "evaluate" and args.batch:
        if args.status or args.org:
            raise OptionConflict(
                "--status and --org are not accepted with --batch",
                [ErrorDetail("--status/--org", "--batch writes every outcome of every state; filter its output")],
            )
        _batch(args, book, out, err)
        return None
    if args.command in ("evaluate", "report"):
        args.org = split_values(args.org)
        args.status = split_values(getattr(args, "status", None))
    state = load_state(args.state)
    if args.command == "validate":
        from .data.state import validate_state
        from .errors import StateError

        problems = validate_state(state.to_dict(), book)
        if problems:
            raise StateError("the state does not fit the rulebook", problems)
        return f"{args.state}: valid ({len(state.organisations)} organisations)\n"
    _check_selectors(args, book, state)
    if args.command == "what-if":
        from .audit.whatif import what_if

        answer = what_if(state, args.rule, args.org, book, as_of=args.as_of)
        if args.format == "json":
            return json.dumps(answer.to_dict(), indent=2) + "\n"
        return (
            f"{answer.rule_id} [{answer.org_id}]: {answer.status}\n"
            f"{'exact: ' if answer.exact else 'not computed exactly: '}{answer.message}\n"
        )
    evaluation = evaluate(state, book, as_of=args.as_of, backend=args.backend)
    if args.command == "report":
        from .render.report import render_report

        return render_report(evaluation, state, book, args.format, args.org)
    if args.command == "explain":
        if args.format == "json":
            return json.dumps(explain_tree(evaluation, args.rule, args.org, book), indent=2, ensure_ascii=False) + "\n"
        return explain(evaluation, args.rule, args.org, book) + "\n"
    if args.record or args.log:
        from .audit.records import append_log, decision_record

        record = decision_record(evaluation)
        if args.record:
            _write(json.dumps(record, indent=2, sort_keys=True) + "\n", args.record, out)
        if args.log:
            append_log(args.log, record)
    total = len(evaluation.outcomes)
    evaluation = _filtered(evaluation, args.status, args.org)
    fmt = args.format or ("table" if out.isatty() else "json")
    if fmt == "table":
        return _table(evaluation, _filters(org=args.org, status=args.status), total)
    return evaluation.to_json() + "\n"


def _check_as_of(text: str) -> None:
    """``--as-of`` must be a date: say so (and how it is written) before anything is read."""
    from .data.state import _short
    from .errors import ErrorDetail, StateError
    from .language.months import parse_date

    try:
        parse_date(text)
    except ValueError as exc:
        raise StateError("invalid --as-of date", [ErrorDetail("--as-of", str(exc), _short(text))]) from None


def _record_rulebook(record: Any) -> str:
    name = record.get("rulebook_id") if isinstance(record, dict) else None
    return name if isinstance(name, str) and name else "nhs-2024-25"


def _with_overlays(book: Rulebook, overlays: Sequence[str]) -> Rulebook:
    from .rulebook.overlay import apply_overlay

    for path in overlays:
        book = apply_overlay(book, path)
    return book


def _diff(args: argparse.Namespace) -> str:
    from .audit.diff import diff_outcomes, diff_rulebooks

    old, new = load_rulebook(args.old), _with_overlays(load_rulebook(args.new), args.new_overlay)
    changes = diff_rulebooks(old, new)
    lines = [f"{old.id} {old.version} ({old.digest[:12]}) -> {new.id} {new.version} ({new.digest[:12]})"]
    lines += [str(c) for c in changes] or ["no rule changes"]
    if args.state:
        moved = diff_outcomes(old, new, load_state(args.state), args.as_of)
        lines.append(f"{len(moved)} outcome(s) change on {args.state}:")
        lines += [f"  {m}" for m in moved]
    return "\n".join(lines) + "\n"


def _lint(args: argparse.Namespace) -> str:
    from .audit.lint import lint
    from .errors import ErrorDetail, RulebookError

    findings = lint(args.rulebook_path, args.scenarios)
    if args.format == "json":
        text = json.dumps([_attrs_dict(f) for f in findings], indent=2) + "\n"
    else:
        counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
        text = "".join(f"{f}\n" for f in findings)
        text += f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info\n"
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise RulebookError(
            f"lint found {len(errors)} error(s)", [ErrorDetail(f.rule_id, f"{f.code} {f.message}") for f in errors]
        )
    return text


def _attrs_dict(obj: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(obj)


class BatchHadErrors(PolicyError):
    """Some lines of a batch were not valid states (their error records are in the output)."""


def _batch(args: argparse.Namespace, book: Rulebook, out: TextIO, err: TextIO) -> None:
    """Stream JSON Lines in, JSON Lines out: one line per state, evaluation or error record."""
    from .data.canonical import canonical_json
    from .data.state import _parse_json, state_from_dict
    from .errors import ErrorDetail, StateError
    from .evaluation.engine import evaluate as evaluate_one

    if Path(args.state).suffix.lower() in (".csv", ".parquet", ".pq"):
        _table_batch(args, book, err)
        return
    failures: list[ErrorDetail] = []
    with _output(getattr(args, "output", None), out) as sink, Path(args.state).open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                state = state_from_dict(_parse_json(raw, f"line {number}"), book)
                ev = evaluate_one(state, book, as_of=args.as_of, backend=args.backend)
                record = {"line": number, **ev.to_dict()}
            except StateError as exc:
                failures.append(ErrorDetail(f"line {number}", exc.summary))
                record = {
                    "line": number,
                    "error": exc.summary,
                    "details": [{"path": d.path, "message": d.message, "value": d.value} for d in exc.details],
                }
            sink.write(canonical_json(record) + "\n")
    if failures:
        raise BatchHadErrors(f"{len(failures)} line(s) of the batch were not valid states", failures)


def _table_batch(args: argparse.Namespace, book: Rulebook, err: TextIO) -> None:
    """A table in, a table of statuses out (``policy_engine.tabular.evaluate_table``)."""
    from .errors import ErrorDetail, StateError
    from .tabular import evaluate_table

    if not args.output:
        raise StateError("a table needs an output file", [ErrorDetail("-o", "give -o OUT.parquet or -o OUT.jsonl")])
    if args.as_of is not None or args.backend not in ("auto", "native"):
        raise StateError(
            "tables carry their own as_of and use the columnar evaluator",
            [ErrorDetail("--as-of/--backend", "not accepted with a .csv or .parquet table")],
        )
    if args.chunk_rows is not None and args.chunk_rows < 1:
        detail = ErrorDetail("--chunk-rows", "expected a positive number", str(args.chunk_rows))
        raise StateError("invalid --chunk-rows", [detail])
    summary = evaluate_table(args.state, args.output, book, chunk_rows=args.chunk_rows)
    err.write(summary.text() + "\n")


def _verify_sources(book: Rulebook) -> str:
    """Quotes are already verified when a rulebook loads; this reports what they were checked against."""
    import hashlib

    from .audit.coverage import load_coverage
    from .rulebook.loader import normalise_text

    cov = load_coverage(book)
    lines = [f"Guidance texts of {book.id} {book.version} ({book.location}):"]
    root = _source_folder(book)
    for name in book.sources:
        raw = (root / name).read_bytes()
        lines.append(f"  {hashlib.sha256(raw).hexdigest()}  {len(raw):7d} bytes  {name}")
    rule_quotes = sum(1 for r in book.rules if normalise_text(r.source.quote) in book.source_texts[r.source.document])
    ledger_quotes = len(cov.entries)
    lines.append(
        f"{rule_quotes}/{len(book.rules)} rule quotes and {ledger_quotes}/{ledger_quotes} ledger quotes "
        "found verbatim (whitespace-normalised) in their documents."
    )
    return "\n".join(lines) + "\n"


def _source_folder(book: Rulebook) -> Any:
    from ._resources import policies_root

    if book.location.startswith("bundled:"):
        return policies_root() / book.location.split(":", 1)[1] / "sources"
    return Path(book.location) / "sources"


def _verify_record(args: argparse.Namespace, err: TextIO) -> str:
    from .audit.records import verify_record
    from .data.state import _parse_json
    from .errors import ErrorDetail

    try:
        raw = Path(args.record).read_bytes()
    except OSError as exc:
        raise PolicyError("cannot read the record", [ErrorDetail(args.record, exc.strerror or str(exc))]) from None
    record = _parse_json(raw, f"record file {args.record}")
    book = _with_overlays(load_rulebook(args.rulebook or _record_rulebook(record)), args.overlay)
    check = verify_record(record, load_state(args.state), book)
    if check.fallback is not None:
        recorded = record.get("backend") if isinstance(record, dict) else None
        err.write(
            f"policy-engine: note: the record was made with the {recorded} backend; re-verified with the "
            f"{check.backend} backend: {check.fallback}\n"
        )
    if not check.ok:
        raise RecordMismatch(str(check))
    return str(check) + "\n"


class RecordMismatch(PolicyError):
    """verify-record found a difference (exit code 5)."""


class OptionConflict(PolicyError):
    """Options that cannot be used together (exit code 2)."""


EXIT_MISMATCH = 5


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())

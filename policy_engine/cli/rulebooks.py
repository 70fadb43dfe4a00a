"""The commands on a rulebook: rules, coverage, lint, verify-sources, diff, catalogue and template."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from ..errors import ErrorCode, ErrorDetail
from ..evaluation.select import split_values
from ..io.terminal import inline_text
from ..rulebook.loader import Rulebook
from .command import Command, Context, OptionConflict, arg, check_selectors, filters

__all__ = ["CATALOGUE", "COVERAGE", "DIFF", "LINT", "RULES", "TEMPLATE", "VERIFY_SOURCES"]


# --------------------------------------------------------------------------- rules


def _rules(args: argparse.Namespace, ctx: Context) -> str:
    book = ctx.rulebook
    areas = split_values(args.area)
    args.area = areas
    check_selectors(book, None, areas=areas)
    if args.format == "json":
        return _rules_json(book, areas)
    from .layout import fit_lines

    return fit_lines(_rules_table(book, areas), ctx.out)


def _rules_table(book: Rulebook, areas: Sequence[str] | None) -> str:
    lines = []
    for r in sorted(book.rules, key=lambda r: (r.area, r.id)):
        if areas is not None and r.area not in areas:
            continue
        t = inline_text  # each field on its line: a line break in it is shown escaped
        lines.append(f"{r.id}  [{r.kind}; {', '.join(r.applies_to)}; {t(r.timing_label())}]")
        lines.append(f"    {t(r.title)}")
        lines.append(f"    when: {r.condition_text}")
        lines.append(f"    source: {t(r.source.document)} \u00a7 {t(r.source.section)} [{r.confidence}]")
        lines.append(f"    \u201c{t(r.source.quote)}\u201d")
    if areas is None:
        lines.append(f"\n{len(book.rules)} rules in {book.id} {book.version}")
    else:
        shown, chosen = sum(1 for r in book.rules if r.area in areas), filters(area=areas)
        head = "" if shown else f"No rule matched {chosen}.\n"
        lines.append(f"{head}\n{shown} of {len(book.rules)} rules in {book.id} {book.version} matched {chosen}")
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


RULES = Command(
    "rules",
    "list the rules with their citations",
    (
        arg("--format", choices=["table", "json"], default="table"),
        arg("--area", action="append", help="only these areas (comma-separated list; repeatable)"),
    ),
    _rules,
)


# --------------------------------------------------------------------------- coverage


def _coverage(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.coverage import load_coverage, scenario_counts

    cov = load_coverage(ctx.rulebook)
    counts = scenario_counts(args.scenarios, ctx.rulebook.id)
    if args.format == "html":
        return cov.to_html(counts)
    return cov.to_json() + "\n" if args.format == "json" else cov.to_markdown(counts)


COVERAGE = Command(
    "coverage",
    "the coverage ledger: guidance items -> rules, with counts per area",
    (
        arg("--format", choices=["markdown", "html", "json"], default="markdown"),
        arg(
            "--scenarios",
            help="folder of scenario files to count (default: the rulebook's, e.g. tests/scenarios, if present)",
        ),
    ),
    _coverage,
)


# --------------------------------------------------------------------------- lint


def _lint(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.lint import lint
    from ..errors import RulebookError

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
            f"lint found {len(errors)} error(s)",
            [ErrorDetail(f.rule_id, f"{f.code} {f.message}", code=ErrorCode.LINT_ERROR) for f in errors],
        )
    return text


def _attrs_dict(obj: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(obj)


LINT = Command(
    "lint",
    "static checks of a rulebook (exit 3 on errors)",
    (
        arg(
            "rulebook_path",
            nargs="?",
            default="nhs-2024-25",
            metavar="RULEBOOK",
            help="bundled rulebook name or folder path",
        ),
        arg("--format", choices=["text", "json"], default="text"),
        arg(
            "--scenarios",
            help="folder of scenario files (default: the rulebook's, e.g. tests/scenarios, if present)",
        ),
    ),
    _lint,
    rulebook=False,
)


# --------------------------------------------------------------------------- verify-sources


def _verify_sources(args: argparse.Namespace, ctx: Context) -> str:
    """Every rule and ledger quote checked against the guidance texts (``--sources DIR``: the
    auditor's own copies); exit 5 if one is not found or cannot be verified."""
    from ..audit.sources import verify_sources
    from .command import SourcesNotVerified

    report = verify_sources(ctx.rulebook, args.sources)
    text = report.to_json() if args.format == "json" else report.to_text()
    if not report.ok:
        ctx.out.write(text)
        c = report.counts()
        raise SourcesNotVerified(f"{c['not found']} quotes not found and {c['not verified']} not verified")
    return text


VERIFY_SOURCES = Command(
    "verify-sources",
    "check every rule and ledger quote against the guidance texts (shipped, or your copies with --sources)",
    (
        arg(
            "--sources",
            metavar="DIR",
            help="a folder holding the guidance texts under the names rulebook.yaml gives (needed for texts "
            "the rulebook does not ship); each quote is reported found, not found or not verified",
        ),
        arg("--format", choices=["text", "json"], default="text"),
    ),
    _verify_sources,
)


# --------------------------------------------------------------------------- diff


def _diff(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.diff import diff_outcomes, diff_rulebooks
    from ..data.state import load_state

    old, new = ctx.load(args.old, ()), ctx.load(args.new, args.new_overlay)
    if args.by == "measure" or (args.by == "auto" and old.id != new.id):
        from ..audit.diff import diff_years

        state = load_state(args.state) if args.state else None
        years = diff_years(old, new, state, args.as_of)
        return years.to_json() if args.format == "json" else years.to_text()
    if args.format == "json":
        raise OptionConflict(
            "--format json is for a diff by measure",
            [
                ErrorDetail(
                    "--format", "give --by measure, or leave --format as text", "json", code=ErrorCode.ARGUMENT_CONFLICT
                )
            ],
        )
    changes = diff_rulebooks(old, new)
    lines = [f"{old.id} {old.version} ({old.digest[:12]}) -> {new.id} {new.version} ({new.digest[:12]})"]
    lines += [str(c) for c in changes] or ["no rule changes"]
    if args.state:
        moved = diff_outcomes(old, new, load_state(args.state), args.as_of)
        lines.append(f"{len(moved)} outcome(s) change on {args.state}:")
        lines += [f"  {m}" for m in moved]
    return "\n".join(lines) + "\n"


DIFF = Command(
    "diff",
    "what changed between two rulebooks, and (given a state) which outcomes",
    (
        arg("old", help="bundled rulebook name or folder path"),
        arg("new", help="bundled rulebook name or folder path"),
        arg("--state", help="also evaluate this state under both and list the outcomes that change"),
        arg("--as-of"),
        arg(
            "--by",
            choices=["auto", "measure", "id"],
            default="auto",
            help="pair rules by measure (two planning years: each pair classed as tightened, loosened, re-dated, "
            "redefined, carried over, new or dropped, with both quotes) or by id (variants of one rulebook); "
            "auto: by measure when the rulebooks' ids differ",
        ),
        arg("--format", choices=["text", "json"], default="text", help="json: for a diff by measure"),
        arg(
            "--new-overlay",
            action="append",
            default=[],
            metavar="FILE",
            help="parameter overlay applied to NEW (compare a local variant with the national rules)",
        ),
    ),
    _diff,
    rulebook=False,
)


# --------------------------------------------------------------------------- catalogue and template


def _catalogue(args: argparse.Namespace, ctx: Context) -> str:
    from ..audit.catalogue import catalogue, check_org_type, month_range, to_csv, to_json

    book = ctx.rulebook
    if args.type is not None:
        check_org_type(args.type, "--type")
    entries = catalogue(book, args.type)
    if args.format == "json":
        return to_json(entries)
    if args.format == "csv":
        return to_csv(entries)
    lines = []
    for e in entries:
        t = inline_text
        unit = f", {t(e.unit)}" if e.unit else ""
        lines.append(f"{e.category} {e.name}  [{e.kind}{unit}; {e.area}]")
        lines.append(f"    {t(e.description)}")
        if e.months:
            lines.append(f"    months: {month_range(e.months)}")
        lines.append(f"    read by: {', '.join(e.rules) if e.rules else '(no rule)'}")
    counts = {c: sum(1 for e in entries if e.category == c) for c in ("metric", "fact", "service")}
    scope = f"read by the rules for {args.type}" if args.type else "in the catalogue of"
    lines.append(
        f"\n{counts['metric']} metrics, {counts['fact']} facts and {counts['service']} services {scope}"
        f"{' in' if args.type else ''} {book.id} {book.version}"
    )
    from .layout import fit_lines

    text = "\n".join(lines) + "\n"
    return text if args.output else fit_lines(text, ctx.out)


CATALOGUE = Command(
    "catalogue",
    "the data dictionary: every metric, fact and service, its unit and the rules that read it",
    (
        arg("--type", help="only what the rules for this organisation type read (e.g. acute_trust)"),
        arg("--format", choices=["table", "json", "csv"], default="table"),
        arg("-o", "--output", help="write to this file instead of stdout"),
    ),
    _catalogue,
)


def _template(args: argparse.Namespace, ctx: Context) -> None:
    """Writes the file itself (bytes for a workbook), so returns no text for ``-o``."""
    from ..audit.template import write_template
    from ..language.months import parse_date

    as_of = None if args.as_of is None else parse_date(args.as_of)  # checked already (``check_as_of``)
    write_template(ctx.rulebook, args.type, args.output, org_id=args.org_id, as_of=as_of, layout=args.layout)


TEMPLATE = Command(
    "template",
    "write an empty input for one organisation type (.csv or .xlsx table, or a .json state)",
    (
        arg("--type", required=True, help="the organisation type (e.g. acute_trust)"),
        arg("-o", "--output", required=True, help="the file to write: input.csv, input.xlsx or input.json"),
        arg("--org-id", default="ORG1", help="the organisation id written in it (default ORG1)"),
        arg("--as-of", help="the as_of date written in it (default: the day after the rulebook's year)"),
        arg(
            "--layout",
            choices=["long", "wide"],
            help="a table's layout: long (default: a row per month, with a period column) or wide (one row, a "
            "column per metric and month); not for a .json state",
        ),
    ),
    _template,
)

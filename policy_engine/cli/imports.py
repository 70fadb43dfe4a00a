"""The import command: a state built from NHS England statistics files."""

from __future__ import annotations

import argparse
import json

from .command import Command, Context, arg

__all__ = ["IMPORT"]


def _import(args: argparse.Namespace, ctx: Context) -> str:
    from ..importers import import_files
    from .layout import progress

    with progress(ctx.err, quiet=args.quiet, total=len(args.files), unit="file", desc="import") as bar:
        doc, summary = import_files(
            args.kind,
            args.files,
            args.reference,
            as_of=args.as_of,
            infer_services=args.infer_services,
            rulebook=ctx.rulebook,
            period=args.period,
            progress=bar.update,
        )
    ctx.err.write(summary.to_text())
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


IMPORT = Command(
    "import",
    "build a state from NHS England statistics files (summary on stderr)",
    (
        arg("kind", help="ae, ambulance (aqi), cancer (cwt), rtt, diagnostics (dm01), or auto"),
        arg(
            "files",
            nargs="+",
            metavar="FILE",
            help="published CSV files (or zip files holding one CSV, or workbooks: .xlsx, .xls, .ods)",
        ),
        arg(
            "--reference",
            metavar="FILE",
            nargs="+",
            action="extend",
            help="organisation reference files, any mix: ODS etr.csv / eccg.csv, an ICB code-name list, a trust "
            "type list (NHS England's, ERIC's, the Staff Survey's), or the package's own table (ods_code, type, "
            "name, icb, region, services); put it after the statistics files, or repeat it",
        ),
        arg("--as-of", help="the state's as_of (default: the day after the last month with data)"),
        arg("--infer-services", action="store_true", help="declare A&E services from the attendances"),
        arg(
            "--period",
            metavar="YYYY-MM",
            help="the month of a sheet with no period column or 'Period:' line (the A&E spreadsheet saved as CSV)",
        ),
        arg("-o", "--output", help="write the state to this file instead of stdout (atomically)"),
        arg("--quiet", action="store_true", help="no progress on stderr (shown only on a terminal, after 2 s)"),
    ),
    _import,
)

"""Generate the human-readable rule reference (Markdown pages for MkDocs) from a rulebook.

One page per guidance area with one entry per rule — its condition in plain English (rendered from
the checked AST, never hand-written), parameters, deadline, period, the verbatim quote and its
source, confidence, assumptions, the rules it reads and is read by, and the scenario tests that
name it — plus an index page and the coverage ledger. The output is deterministic (sorted, no
timestamps), so ``--check`` can fail when committed pages are stale::

    python -m policy_engine.render.docs [--rulebook NAME|PATH] [--out DIR] [--scenarios DIR] [--check]

Each bundled rulebook has its own pages and scenario folder: ``nhs-2024-25`` in ``docs/reference``
from ``tests/scenarios``, ``nhs-2025-26`` in ``docs/reference-2025-26`` from
``tests/scenarios-2025-26`` (``reference_folder``, ``data.scenarios.default_scenario_folder``);
``--out`` and ``--scenarios`` default to the rulebook's own.

This module writes and checks the pages and is the command line; the pages are laid out by
``render.pages``, conditions worded by ``render.english``, numbers and dates by ``render.words``,
and scenario files read by ``data.scenarios``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..data.scenarios import SCENARIO_FOLDERS, scenario_index
from ..errors import PolicyError
from ..rulebook.loader import Rulebook, load_rulebook
from .english import condition_in_words
from .pages import REGENERATE, render_pages

__all__ = ["check", "condition_in_words", "generate", "main", "reference_folder", "render_pages", "scenario_index"]


def reference_folder(rulebook_id: str) -> Path:
    """Where a rulebook's pages are kept, relative to the repository, named as its scenario folder
    is (``data.scenarios.SCENARIO_FOLDERS``): ``docs/reference-2025-26`` for nhs-2025-26 (whose
    scenarios are ``tests/scenarios-2025-26``), ``docs/reference`` for any other."""
    own = SCENARIO_FOLDERS.get(rulebook_id, "scenarios")
    return Path("docs") / ("reference" + own.removeprefix("scenarios"))


def generate(
    rulebook: Rulebook, out_dir: str | os.PathLike[str], scenarios: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Write the reference pages into ``out_dir`` (created if needed) and return their paths, sorted.

    Markdown files in ``out_dir`` that are no longer generated are removed, so the folder holds
    exactly the current reference. ``scenarios`` as for :func:`render_pages`.
    """
    from ..io.files import write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pages = render_pages(rulebook, scenarios)
    for stale in sorted(out.glob("*.md")):
        if stale.name not in pages:
            stale.unlink()
    written = []
    for name, text in pages.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text, newline="\n")
        written.append(path)
    return written


def check(
    rulebook: Rulebook, out_dir: str | os.PathLike[str], scenarios: str | os.PathLike[str] | None = None
) -> list[str]:
    """Names of the pages in ``out_dir`` that differ from what :func:`generate` would write
    (missing, changed or no longer generated); empty when the committed reference is current."""
    out = Path(out_dir)
    pages = render_pages(rulebook, scenarios)
    stale = []
    for name, text in pages.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if out.is_dir():
        stale += [p.name for p in out.glob("*.md") if p.name not in pages]
    return sorted(stale)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the pages, or with ``--check`` exit 1 if the committed pages are stale."""
    parser = argparse.ArgumentParser(
        prog=REGENERATE, description="Generate the Markdown rule reference from a rulebook."
    )
    parser.add_argument("--rulebook", default="nhs-2024-25", help="bundled rulebook name or folder path")
    parser.add_argument("--out", default=None, help="output folder (default: the rulebook's, e.g. docs/reference)")
    parser.add_argument(
        "--scenarios", default=None, help="scenario folder (default: the rulebook's, e.g. tests/scenarios, if present)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the pages in --out are not up to date")
    args = parser.parse_args(argv)
    try:
        book = load_rulebook(args.rulebook)
        out = args.out if args.out is not None else str(reference_folder(book.id))
        scenarios = args.scenarios  # None: the rulebook's own (render_pages)
        if args.check:
            stale = check(book, out, scenarios)
            if stale:
                print(f"stale rule reference in {out}: {', '.join(stale)}", file=sys.stderr)
                again = "" if args.rulebook == "nhs-2024-25" else f" --rulebook {args.rulebook}"
                print(f"regenerate it with: {REGENERATE}{again} --out {out}", file=sys.stderr)
                return 1
            print(f"{out} is up to date")
            return 0
        paths = generate(book, out, scenarios)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"wrote {len(paths)} pages to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

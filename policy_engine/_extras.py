"""The optional extras, and the one check that says which one a feature needs.

The core (rulebooks, states, ``evaluate``, ``statuses``, ``explain``, the report, the CLI's
commands on state files) needs only attrs, jsonschema, PyYAML, tqdm (progress on stderr) and, where it imports,
durable-rules. Four kinds of feature need more, installed as extras (``pip install "policy-engine[all]"``
for all of them):

``tables``
    polars and pyarrow: ``policy_engine.tabular`` (CSV/Parquet tables of organisation-period rows,
    ``evaluate ROWS.parquet --batch``) and the columnar evaluator behind it.
``testing``
    hypothesis: ``policy_engine.testing.strategies`` (the rest of the testing kit, and the pytest
    plugin, need nothing more).
``spreadsheets``
    python-calamine: ``policy-engine import`` reading published workbooks (``.xlsx``, ``.xls``,
    ``.ods``) directly; CSV files need nothing more.
``workbooks``
    XlsxWriter: workbooks written: ``evaluate -o results.xlsx`` (a workbook of outcomes with a
    summary sheet) and ``policy-engine template -o input.xlsx``.

A module (or a package's ``__init__``) that needs an extra imports inside
``with require(EXTRA, feature=...)``: if
one of them is not installed, the import raises ``MissingExtraError`` (a ``PolicyError`` and an
``ImportError``) naming the extra and the command that installs it, instead of a bare
``ModuleNotFoundError``. A module that is installed but fails to import keeps its own error.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping

from .errors import EngineError

__all__ = ["EXTRAS", "MissingExtraError", "require"]

EXTRAS: Mapping[str, tuple[str, ...]] = {
    "tables": ("polars", "pyarrow"),
    "testing": ("hypothesis",),
    "spreadsheets": ("python_calamine",),
    "workbooks": ("xlsxwriter",),
}
"""Each extra and the modules it provides (as ``[project.optional-dependencies]`` in pyproject.toml;
a module is named as its distribution is, with ``_`` for ``-``)."""

_DISTRIBUTION = "policy-engine"


class MissingExtraError(EngineError, ImportError):
    """A feature needs an optional extra that is not installed.

    ``extra`` is its name (``"tables"``), ``missing`` the modules not found and ``command`` what
    installs them (``pip install "policy-engine[tables]"``). An ``EngineError`` (the CLI exits
    with code 4, as when the durable backend is asked for where durable-rules does not import) and
    an ``ImportError`` (so ``except ImportError`` around an optional import still works).
    """

    def __init__(self, feature: str, extra: str, missing: tuple[str, ...]) -> None:
        self.feature = feature
        self.extra = extra
        self.missing = missing
        self.command = f'pip install "{_DISTRIBUTION}[{extra}]"'
        absent = " and ".join(missing)
        super().__init__(
            f"{feature} needs the [{extra}] extra ({', '.join(EXTRAS[extra])}): {absent} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install it with: {self.command}"
        )
        self.name = missing[0] if missing else None


def _missing(extra: str) -> tuple[str, ...]:
    """The modules of ``extra`` that cannot be found (looked up, not imported)."""
    absent = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a blocked or half-imported module counts as missing
            found = False
        if not found:
            absent.append(module)
    return tuple(absent)


@contextlib.contextmanager
def require(extra: str, *, feature: str) -> Iterator[None]:
    """Check that every module of ``extra`` is installed, then run the block (its imports).

    Raises ``MissingExtraError`` naming ``feature`` and the extra if a module of the extra is not
    installed, before the block or (for a module the block imports that turns out to be
    missing) from within it::

        with require("tables", feature="the table API (policy_engine.tabular)"):
            import polars as pl
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r} (expected one of {', '.join(EXTRAS)})")
    absent = _missing(extra)
    if absent:
        raise MissingExtraError(feature, extra, absent)
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in EXTRAS[extra]:
            raise
        raise MissingExtraError(feature, extra, (top,)) from exc

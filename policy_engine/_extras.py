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
``ModuleNotFoundError``. A module that is installed but fails to import keeps its own error,
except under a finite address-space limit (``RLIMIT_AS``, ``ulimit -v``; ``address_space_limit``):
there any error while importing (an ``ImportError`` as a shared library cannot be mapped, a
``MemoryError``, or what a half-loaded library raises next, such as polars' ``NameError``) is
``ExtraMemoryError``, saying the feature could not be loaded under that limit and what the error was.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping

from .errors import EngineError, ErrorCode, ErrorDetail, PolicyError

__all__ = [
    "EXTRAS",
    "ExtraMemoryError",
    "MissingExtraError",
    "address_space_limit",
    "mebibytes",
    "require",
    "unloadable",
]

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


class ExtraMemoryError(EngineError, ImportError):
    """An installed extra failed to import under the process's address-space limit (an
    ``ImportError``, a ``MemoryError`` or another error while its modules were loaded): code
    ``engine.memory``, the detail naming the limit and the error. An ``EngineError`` (the CLI exits with code 4) and an
    ``ImportError``, as ``MissingExtraError`` is."""


def address_space_limit() -> int | None:
    """The address-space limit of this process in bytes (the soft ``RLIMIT_AS``, which ``ulimit -v``
    sets), or None where there is none or the platform has no such limit (Windows)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY or soft < 0 else soft


def mebibytes(size: int) -> str:
    """A size in bytes as text in MiB: ``2,441 MiB``."""
    return f"{size / 2**20:,.0f} MiB"


def unloadable(feature: str, limit: int, exc: BaseException) -> ExtraMemoryError:
    """The error for ``feature`` failing to import (``exc``) under the address-space limit ``limit``."""
    why = f"{type(exc).__name__}: {exc}".rstrip(": ")
    detail = ErrorDetail(
        "RLIMIT_AS",
        f"{feature} failed to load under this limit ({why}): a library that cannot map its code or "
        "start its threads in the address space allowed fails this way; raise the limit (ulimit -v), or "
        "limit memory with a cgroup instead (systemd-run -p MemoryMax=), which counts memory used rather "
        "than reserved",
        f"{limit} bytes ({mebibytes(limit)})",
        code=ErrorCode.ENGINE_MEMORY,
    )
    return ExtraMemoryError(f"{feature} could not be loaded under the memory limit", [detail])


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
    missing) from within it; ``ExtraMemoryError`` if, under an address-space limit, the block's
    imports fail (see the module docstring)::

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
    except (Exception, MemoryError) as exc:
        limit = address_space_limit()
        if limit is None or isinstance(exc, PolicyError):  # an inner require's error is already said
            raise
        raise unloadable(feature, limit, exc) from exc

"""Build a system state from NHS England's published statistics files.

Typical use::

    from policy_engine.importers import import_files

    state, summary = import_files("ae", ["ae-march-2025.csv"], reference=["etr.csv", "trust-types.csv"])
    print(summary.to_text())                    # rows read/used, and every skipped or repaired row
    book = policy_engine.load_rulebook()
    result = policy_engine.evaluate(policy_engine.state_from_dict(state, book), book)

Kinds (aliases in brackets): ``ae`` (A&E attendances, the monthly ``MSitAE`` provider CSV),
``ambulance`` (``aqi``, ``ambsys``: Ambulance Quality Indicators), ``cancer`` (``cwt``: the CWT
provider extract), ``rtt`` (referral to treatment full extract), ``diagnostics`` (``dm01``), and
``auto`` (each file's kind found from its header). docs/importers.md lists every layout, where it
is documented, and which columns feed which metric.

Files are CSV, a zip holding one CSV, or a published workbook (``.xlsx``, ``.xls``, ``.ods``, told
by its bytes; needs the ``spreadsheets`` extra, python-calamine), read from the sheet its layout
names: the A&E spreadsheet's ``Provider Level Data``, the CWT extract's ``CWT CRS Provider
Extract``. A sheet without a period column (the A&E spreadsheet) takes its month from its
``Period:`` title line, or from ``period="2025-04"`` (``--period``); it is never guessed from the
file name.

Only :class:`policy_engine.PolicyError` subclasses escape: :class:`ImportFileError` (cannot read a
file), :class:`LayoutError` (a file is not in a known layout; names file, line and column),
:class:`ReferenceTableError`, StateError (a bad ``as_of`` or ``period``), and MissingExtraError
(a workbook without python-calamine installed).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from ..data.state import state_from_dict
from ..errors import ErrorCode, ErrorDetail, StateError
from ..language.months import parse_date
from ..rulebook.loader import Rulebook, load_rulebook
from . import ae, ambulance, cancer, diagnostics, rtt
from .builder import FileContext, StateBuilder
from .errors import ImportFileError, LayoutError, ReferenceTableError
from .reference import OrgRef, Reference, ReferenceConflict, read_reference
from .summary import ImportIssue, ImportSummary
from .table import Layout, open_table, parse_period

__all__ = [
    "KINDS",
    "ImportFileError",
    "ImportIssue",
    "ImportSummary",
    "LayoutError",
    "OrgRef",
    "Reference",
    "ReferenceConflict",
    "ReferenceTableError",
    "import_files",
    "import_sources",
    "read_reference",
]

_MODULES: dict[str, ModuleType] = {
    "ae": ae,
    "ambulance": ambulance,
    "cancer": cancer,
    "rtt": rtt,
    "diagnostics": diagnostics,
}
KINDS: dict[str, str] = {
    "ae": "A&E attendances and emergency admissions (monthly provider CSV or spreadsheet)",
    "ambulance": "Ambulance Quality Indicators (AmbSYS CSV)",
    "cancer": "cancer waiting times (CWT-CRS provider extract)",
    "rtt": "referral to treatment waiting times (full CSV extract)",
    "diagnostics": "diagnostics waiting times (DM01 CSV)",
}
"""The kinds of file, with what each is."""

_ALIASES = {
    "a&e": "ae",
    "aqi": "ambulance",
    "ambsys": "ambulance",
    "cwt": "cancer",
    "dm01": "diagnostics",
}


def _kind(name: str) -> str:
    k = _ALIASES.get(name.strip().casefold(), name.strip().casefold())
    if k != "auto" and k not in _MODULES:
        raise ImportFileError(
            f"unknown kind of file {name!r}: expected one of {', '.join([*_MODULES, 'auto'])} "
            f"(or {', '.join(_ALIASES)})"
        )
    return k


def _layouts(kind: str) -> list[tuple[Layout, str]]:
    kinds = list(_MODULES) if kind == "auto" else [kind]
    return [(layout, k) for k in kinds for layout in _MODULES[k].LAYOUTS]


def _as_of(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return parse_date(value)
    except ValueError as exc:
        raise StateError(
            "invalid as_of date", [ErrorDetail("as_of", str(exc), repr(value), code=ErrorCode.ARGUMENT_VALUE)]
        ) from None


def _period(value: str | None) -> int | None:
    if value is None:
        return None
    month = parse_period(value)
    if month is None:
        raise StateError(
            "invalid period",
            [ErrorDetail("period", "not a month (expected YYYY-MM)", repr(value), code=ErrorCode.ARGUMENT_VALUE)],
        )
    return month


def _check_services(ref: Reference, book: Rulebook) -> None:
    problems = [
        ErrorDetail(
            org.sources["services"].file,
            "unknown service (not in the rulebook's catalogue)",
            service,
            code=ErrorCode.IMPORT_UNKNOWN_SERVICE,
            line=org.sources["services"].line,
        )
        for org in ref.orgs.values()
        for service in org.services or ()
        if service not in book.services
    ]
    if problems:
        raise ReferenceTableError(f"{ref.file}: the organisation reference table has errors", problems)


ReferenceArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Reference | None
"""What ``reference`` may be: a file, several files, or a :class:`Reference` already read."""


def _reference(reference: ReferenceArg) -> Reference | None:
    if reference is None or isinstance(reference, Reference):
        return reference
    if not isinstance(reference, (str, os.PathLike)) and len(reference) == 0:
        return None
    return read_reference(reference)


def import_sources(
    sources: Sequence[tuple[str, str | os.PathLike[str]]],
    reference: ReferenceArg = None,
    *,
    as_of: dt.date | str | None = None,
    infer_services: bool = False,
    rulebook: Rulebook | None = None,
    period: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[dict[str, Any], ImportSummary]:
    """Import files of several kinds into one state: ``[("ae", path), ("rtt", path), ...]``.

    ``reference``: organisation reference files (a path, several paths in any of the layouts
    :func:`read_reference` reads, or a :class:`Reference`). With files that list organisations,
    only those are imported, with their types, names, ICBs and regions; without, only NHS trust
    codes (three characters starting ``R`` or ``T``). A type no reference gives comes from the
    statistics where they show it (a provider in AmbSYS is an ambulance service; Type 1 A&E
    attendances show an acute trust); otherwise it is assumed and marked unconfirmed in the state's
    ``provenance``, and every outcome for that organisation is unknown. The result does not depend
    on the order of the files.
    ``as_of``: the state's date (default: the day after the last month with data).
    ``infer_services``: declare A&E services (``type1_ae``...) for providers the A&E files show
    attendances for (note that a declared service list makes every service not in it read as
    not provided). Returns the state document, which passes ``state_from_dict(state, rulebook)``,
    and the import summary.
    ``period`` (``"2025-04"``): the month of a sheet without a period column whose title rows do
    not give it (the A&E spreadsheet saved as CSV); a sheet whose ``Period:`` line says another
    month is refused, and files whose rows carry their own periods do not use it (a warning says
    so). ``progress``, if given, is called with 1 as each file is read.
    """
    if progress is not None and not callable(progress):
        from ..io.arguments import wrong_argument

        raise wrong_argument(StateError, "progress", "a function called with 1 per file read, or None", progress)
    when = _as_of(as_of)
    month = _period(period)
    summary = ImportSummary()
    book = rulebook if rulebook is not None else load_rulebook()
    ref = _reference(reference)
    if ref is not None:
        _check_services(ref, book)
    builder = StateBuilder(ref, summary, infer_services=infer_services)
    for kind_name, path in sources:
        kind = _kind(kind_name)
        pairs = _layouts(kind)
        label = KINDS[kind] if kind != "auto" else "statistics file (A&E, AQI, CWT, RTT or DM01)"
        table = open_table(path, label, [layout for layout, _ in pairs], period=month)
        actual = next(k for layout, k in pairs if layout is table.layout)
        ctx = FileContext(table, actual, summary, builder)
        if month is not None and not table.layout.title_period:
            ctx.issue("warning", "period option not used: the file gives each row's period", None, detail=period)
        builder.files.append(table.file)
        reader: Callable[[FileContext], None] = _MODULES[actual].read
        reader(ctx)
        ctx.finish()
        if progress is not None:
            progress(1)
    state = builder.build(when, {name: m.kind for name, m in book.metrics.items()})
    state_from_dict(state, book)  # the importers' contract: what they write is a valid state
    return state, summary


def import_files(
    kind: str,
    paths: Sequence[str | os.PathLike[str]],
    reference: ReferenceArg = None,
    *,
    as_of: dt.date | str | None = None,
    infer_services: bool = False,
    rulebook: Rulebook | None = None,
    period: str | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[dict[str, Any], ImportSummary]:
    """Import files of one kind (or ``"auto"``) into a state; see :func:`import_sources`."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return import_sources(
        [(kind, p) for p in paths],
        reference,
        as_of=as_of,
        infer_services=infer_services,
        rulebook=rulebook,
        period=period,
        progress=progress,
    )

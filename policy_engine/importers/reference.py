"""The organisation reference table: ODS code, name, type and parent ICB of each organisation.

A CSV file with a header row. Columns (headings are case-insensitive; ``ods code`` = ``ods_code``):

========== ======== ==========================================================================
column     required meaning
========== ======== ==========================================================================
ods_code   yes      the organisation's ODS code (``RJ1``, ``QMF``): the state's organisation id
type       yes      ``acute_trust``, ``ambulance_trust``, ``mental_health_trust``,
                    ``community_provider``, ``icb``, ``gp_practice`` or ``pcn``
name       no       the organisation's name
icb        no       the ODS code of its ICB (the state's ``parent``); blank for an ICB itself
region     no       NHS England region name
services   no       service names from the rulebook's catalogue (``type1_ae;type3_ae``),
                    separated by ``;`` or spaces; blank means "not declared"
========== ======== ==========================================================================

Blank lines and lines whose first cell starts with ``#`` are ignored. Every problem (unknown
type, bad code, a code listed twice with different details) is reported together, with its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs

from ..errors import ErrorCode, ErrorDetail
from ..language.rules import ORGANISATION_TYPES
from .errors import ReferenceTableError
from .table import Column, Layout, is_ods_code, open_table

__all__ = ["REFERENCE_LAYOUT", "OrgRef", "Reference", "read_reference"]

REFERENCE_LAYOUT = Layout(
    "organisation reference table (ods_code, name, type, icb[, region, services])",
    (
        Column("ods_code", ("ods_code", "ods code", "org code", "code")),
        Column("type", ("type", "organisation type", "org type")),
        Column("name", ("name", "org name", "organisation name"), required=False),
        Column("icb", ("icb", "icb code", "parent", "parent icb"), required=False),
        Column("region", ("region",), required=False),
        Column("services", ("services",), required=False),
    ),
)

_SPLIT = re.compile(r"[;\s]+")


@attrs.frozen
class OrgRef:
    """One organisation as the reference table describes it."""

    code: str
    type: str
    name: str | None = None
    icb: str | None = None
    region: str | None = None
    services: tuple[str, ...] | None = None
    line: int = 0


@attrs.frozen
class Reference:
    """The reference table, by ODS code."""

    file: str
    orgs: Mapping[str, OrgRef]

    def get(self, code: str) -> OrgRef | None:
        """The organisation with this code, or None."""
        return self.orgs.get(code)


def _row_problem(file: str, line: int, message: str, value: str | None = None) -> ErrorDetail:
    """A problem with the row on ``line`` of the reference table ``file``: ``file:line``."""
    return ErrorDetail(file, message, value, code=ErrorCode.IMPORT_REFERENCE, line=line)


def read_reference(path: str | os.PathLike[str]) -> Reference:
    """Read an organisation reference table (see the module docstring for its columns).

    Raises LayoutError if the header lacks ``ods_code`` or ``type``, and ReferenceTableError
    listing every bad row.
    """
    table = open_table(path, "organisation reference table", [REFERENCE_LAYOUT])
    problems: list[ErrorDetail] = []
    orgs: dict[str, OrgRef] = {}
    for row in table.rows():
        if row.is_blank() or row.cells[0].strip().startswith("#"):
            continue
        code = table.cell(row, "ods_code").upper()
        if not is_ods_code(code):
            problems.append(
                _row_problem(table.file, row.line, "ods_code must be an ODS code (letters and digits)", repr(code))
            )
            continue
        org_type = table.cell(row, "type").casefold().replace(" ", "_")
        if org_type not in ORGANISATION_TYPES:
            problems.append(
                _row_problem(table.file, row.line, f"type must be one of {', '.join(ORGANISATION_TYPES)}", org_type)
            )
            continue
        icb = table.cell(row, "icb").upper() or None
        if icb is not None and (not is_ods_code(icb) or icb == code):
            problems.append(
                _row_problem(table.file, row.line, "icb must be the ODS code of another organisation", repr(icb))
            )
            continue
        services_text = table.cell(row, "services")
        services = tuple(s for s in _SPLIT.split(services_text) if s) if services_text else None
        ref = OrgRef(
            code,
            org_type,
            table.cell(row, "name") or None,
            icb,
            table.cell(row, "region") or None,
            services,
            row.line,
        )
        previous = orgs.get(code)
        if previous is not None:
            if attrs.evolve(previous, line=row.line) != ref:
                problems.append(
                    _row_problem(
                        table.file,
                        row.line,
                        f"{code} is listed again with different details (first at line {previous.line})",
                    )
                )
            continue
        orgs[code] = ref
    for ref in orgs.values():
        if ref.icb is not None and ref.icb in orgs and orgs[ref.icb].type != "icb":
            problems.append(
                _row_problem(
                    table.file,
                    ref.line,
                    f"icb {ref.icb} is listed with type {orgs[ref.icb].type}, not icb",
                )
            )
    if problems:
        raise ReferenceTableError(f"{table.file}: the organisation reference table has errors", problems)
    return Reference(table.file, orgs)

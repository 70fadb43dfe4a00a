"""One vocabulary for NHS England's regions: each region by its ODS code and its name.

The publications spell regions differently: AmbSYS and the ODS files give the code (``Y59``),
the A&E files the name in capitals (``NHS ENGLAND SOUTH EAST``), the A&E spreadsheet in title case
with a trailing space (``NHS England East Of England ``), the Staff Survey list the bare name
(``South East``). Every importer and reference reader turns them into the same pair through
:func:`find_region`, so a state has one spelling: ``region`` (the name) and ``region_code``.

The seven regions are NHS England's commissioning regions since April 2020, with the codes ODS
gives them (its "national grouping" column). A code outside them (a Welsh trust's ``W00``) is
kept as a code without a name; a name outside them is not a region (None).
"""

from __future__ import annotations

import re

import attrs

__all__ = ["REGIONS", "Region", "find_region"]

REGIONS: dict[str, str] = {
    "Y56": "London",
    "Y58": "South West",
    "Y59": "South East",
    "Y60": "Midlands",
    "Y61": "East of England",
    "Y62": "North West",
    "Y63": "North East and Yorkshire",
}
"""ODS code -> name of each NHS England region."""

_CODE = re.compile(r"^[A-Z][0-9]{2}$")
_NOISE = re.compile(r"\b(?:nhs england|nhs|commissioning region|region)\b")


def _key(text: str) -> str:
    t = text.casefold().replace("&", " and ")
    t = _NOISE.sub(" ", t)
    return " ".join(re.sub(r"[^a-z ]", " ", t).split())


_BY_NAME = {_key(name): code for code, name in REGIONS.items()}


@attrs.frozen
class Region:
    """A region: its ODS code, and its name when the code is one of NHS England's regions."""

    code: str
    name: str | None

    def describe(self) -> str:
        """``South East (Y59)``, or the bare code."""
        return f"{self.name} ({self.code})" if self.name else self.code


def find_region(text: str) -> Region | None:
    """The region a cell names or codes, or None if it is not one (blank, ``England``, a typo)."""
    t = text.strip()
    if not t:
        return None
    upper = t.upper()
    if _CODE.match(upper):
        return Region(upper, REGIONS.get(upper))
    code = _BY_NAME.get(_key(t))
    return Region(code, REGIONS[code]) if code is not None else None

"""The data dictionary: every metric, fact and service of a rulebook, with its unit, kind,
description, the rules that read it and (for a metric) the months they read.

``catalogue(book)`` lists the whole catalogue; ``catalogue(book, org_type="acute_trust")`` only what
the rules that apply to acute trusts read (in their condition, ``applicable_if`` or
``completed_on``): the data an acute trust must supply. What a rule reads is found by walking its
checked AST (``reads``), never by hand. The command is ``policy-engine catalogue``; the generated
reference page is ``docs/reference/data-dictionary.md``; ``audit.template`` writes an empty input
from it (decision 028).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

from ..evaluation.select import Selectors
from ..language.ast import Call, Name, walk
from ..language.checker import METRIC_FUNCTIONS, name_arg
from ..language.months import format_month, parse_month
from ..language.rules import ORGANISATION_TYPES, Rule
from ..rulebook.loader import Rulebook

__all__ = ["CATEGORIES", "CatalogueEntry", "Reads", "catalogue", "check_org_type", "reads", "to_csv", "to_json"]

Category = Literal["metric", "fact", "service"]
CATEGORIES: tuple[Category, ...] = ("metric", "fact", "service")


@attrs.frozen
class Reads:
    """What one rule reads: metrics (each with the months it reads), facts and services."""

    metrics: dict[str, frozenset[int]]
    facts: frozenset[str]
    services: frozenset[str]


def reads(rule: Rule, book: Rulebook) -> Reads:
    """The metrics (with the month indexes of the periods they are read over), facts and services
    that ``rule``'s expressions read."""
    metrics: dict[str, set[int]] = {}
    facts: set[str] = set()
    services: set[str] = set()
    for expr in (rule.condition, rule.applicable_if, rule.completed_on):
        for node in walk(expr) if expr is not None else ():
            if not isinstance(node, Call):
                continue
            if node.func in METRIC_FUNCTIONS:
                months = metrics.setdefault(name_arg(node.args[0], "metric"), set())
                period = node.args[1] if len(node.args) > 1 else None
                if isinstance(period, Name) and period.dotted in book.periods:
                    months.update(book.periods[period.dotted].months)
            elif node.func in ("fact", "fact_date", "has_fact"):
                facts.add(name_arg(node.args[0], "fact"))
            elif node.func == "has_service":
                services.add(name_arg(node.args[0], "service"))
    return Reads({m: frozenset(v) for m, v in metrics.items()}, frozenset(facts), frozenset(services))


@attrs.frozen
class CatalogueEntry:
    """One metric, fact or service of the catalogue.

    ``kind`` is a metric's kind (``proportion``, ``rate``, ``value``), a fact's type (``boolean``,
    ``number``, ``date``, ``string``) or ``service``; ``unit`` is None where there is none (a
    service, a fact without a unit). ``rules`` are the ids of the rules that read it (of the type
    asked for, if one was), sorted; ``org_types`` the organisation types those rules apply to;
    ``months`` (metrics only) the months they read it for, ``YYYY-MM``, in order.
    """

    category: Category
    name: str
    kind: str
    unit: str | None
    label: str
    description: str
    area: str
    rules: tuple[str, ...]
    org_types: tuple[str, ...]
    months: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The entry as JSON-ready values (tuples as lists)."""
        return {
            "category": self.category,
            "name": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "label": self.label,
            "description": self.description,
            "area": self.area,
            "rules": list(self.rules),
            "org_types": list(self.org_types),
            "months": list(self.months),
        }


def check_org_type(org_type: str, where: str = "org_type") -> None:
    """SelectorError (``selector.unknown``, naming ``where`` and the close matches) unless
    ``org_type`` is one of the organisation types."""
    check = Selectors()
    check.check(where, "organisation type", (org_type,), ORGANISATION_TYPES)
    check.raise_if_unknown()


def catalogue(book: Rulebook, org_type: str | None = None) -> tuple[CatalogueEntry, ...]:
    """The data dictionary of ``book``: metrics, then facts, then services, each sorted by name.

    Without ``org_type``, every entry of the rulebook's catalogue (one that no rule reads has no
    ``rules``); with it, only the entries the rules applying to that type read, with those rules.
    An unknown type is a SelectorError naming it.
    """
    if not isinstance(book, Rulebook):
        from ..errors import ErrorCode, ErrorDetail, RulebookError

        raise RulebookError(
            "not a rulebook",
            [
                ErrorDetail(
                    "book", "expected a Rulebook (from load_rulebook)", repr(book)[:80], code=ErrorCode.ARGUMENT_VALUE
                )
            ],
        )
    if org_type is not None:
        check_org_type(org_type)
    readers: dict[tuple[Category, str], list[Rule]] = {}
    months: dict[str, set[int]] = {}
    for rule in book.rules:
        if org_type is not None and not rule.applies_to_type(org_type):
            continue
        r = reads(rule, book)
        for m, ms in r.metrics.items():
            readers.setdefault(("metric", m), []).append(rule)
            months.setdefault(m, set()).update(ms)
        for f in r.facts:
            readers.setdefault(("fact", f), []).append(rule)
        for s in r.services:
            readers.setdefault(("service", s), []).append(rule)

    def entry(
        category: Category, name: str, kind: str, unit: str | None, label: str, description: str, area: str
    ) -> CatalogueEntry | None:
        rules = readers.get((category, name), [])
        if org_type is not None and not rules:
            return None
        types = {t for r in rules for t in r.applies_to}
        if org_type is not None:
            types = {org_type}
        return CatalogueEntry(
            category,
            name,
            kind,
            unit,
            label,
            description,
            area,
            tuple(sorted(r.id for r in rules)),
            tuple(t for t in ORGANISATION_TYPES if t in types),
            tuple(format_month(i) for i in sorted(months.get(name, ()))) if category == "metric" else (),
        )

    made: list[CatalogueEntry | None] = []
    made += [
        entry("metric", n, m.kind, m.unit, m.label, m.description, m.area) for n, m in sorted(book.metrics.items())
    ]
    made += [entry("fact", n, f.type, f.unit, f.label, f.description, f.area) for n, f in sorted(book.facts.items())]
    made += [
        entry("service", n, "service", None, s.label, s.description, s.area) for n, s in sorted(book.services.items())
    ]
    return tuple(e for e in made if e is not None)


CSV_COLUMNS: tuple[str, ...] = (
    "category",
    "name",
    "kind",
    "unit",
    "label",
    "description",
    "area",
    "rules",
    "org_types",
    "months",
)
"""The columns of ``catalogue --format csv``; list fields are joined with ``;``."""


def to_csv(entries: Iterable[CatalogueEntry]) -> str:
    """The entries as CSV (a header, then one row each; lists joined with ``;``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        d = e.to_dict()
        w.writerow(
            [";".join(v) if isinstance(v, list) else ("" if v is None else v) for v in (d[c] for c in CSV_COLUMNS)]
        )
    return buf.getvalue()


def to_json(entries: Iterable[CatalogueEntry]) -> str:
    """The entries as a JSON array of ``CatalogueEntry.to_dict()``."""
    return json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False) + "\n"


def month_range(months: Sequence[str]) -> str:
    """``2024-04 to 2025-03`` for a run of months, else the months listed (``2024-03, 2025-03``)."""
    if not months:
        return ""

    idx = [parse_month(m) for m in months]
    if idx == list(range(idx[0], idx[-1] + 1)):
        return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
    runs: list[str] = []
    start = prev = idx[0]
    for i in [*idx[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        runs.append(format_month(start) if start == prev else f"{format_month(start)} to {format_month(prev)}")
        if i is not None:
            start = prev = i
    return ", ".join(runs)

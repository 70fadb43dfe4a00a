"""Hypothesis strategies for system states, drawn from the state schema and a rulebook's catalogues.

Every strategy is composable and takes an optional rulebook (default: the bundled one). States are
plain JSON-compatible dicts that ``policy_engine.evaluate`` accepts; counts are drawn to straddle
the percentage thresholds of the rulebook (exactly at, one above, one below), months go missing,
and fact dates fall either side of the rulebook's deadlines.

* ``states()``, ``organisations(type=...)``, ``metric_series(metric)``, ``threshold_counts()``,
  ``as_of_dates()`` — general valid states and their parts;
* ``states_near(rule_id)`` — one-organisation states sitting exactly on a rule's threshold or one
  count either side, judged after its deadline; ``boundary_cases(rule_id)`` — the same with the
  threshold, the offset and the status the rule must give;
* ``merged(a, b, ...)`` / ``merge_states(...)`` — combine states (organisation ids are kept
  unique), e.g. ``merged(states_near("uec.ae-4h-78"), states())`` puts a boundary organisation
  among arbitrary others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from typing import Any

import attrs

from .._extras import require

with require("testing", feature="the Hypothesis strategies (policy_engine.testing.strategies)"):
    from hypothesis import strategies as st

from ..language.months import format_month, parse_month
from ..language.rules import ORGANISATION_TYPES
from ..rulebook.loader import Rulebook, load_rulebook
from .boundaries import Threshold, boundary_state, expected_status, rule_thresholds

__all__ = [
    "BoundaryCase",
    "as_of_dates",
    "boundary_cases",
    "merge_states",
    "merged",
    "metric_series",
    "organisations",
    "states",
    "states_near",
    "threshold_counts",
]

FIRST_MONTH = parse_month("2022-04")
LAST_MONTH = parse_month("2026-03")


@cache
def _default_book() -> Rulebook:
    return load_rulebook()


def _book(rulebook: Rulebook | None) -> Rulebook:
    return rulebook if rulebook is not None else _default_book()


@cache
def _percent_thresholds(book: Rulebook) -> tuple[Fraction, ...]:
    return tuple(
        sorted(
            {p.value for r in book.rules for p in r.parameters.values() if p.unit == "percent" and 0 < p.value <= 100}
        )
    )


@cache
def _deadlines(book: Rulebook) -> tuple[dt.date, ...]:
    return tuple(sorted({r.deadline for r in book.rules if r.deadline is not None}))


def threshold_counts(rulebook: Rulebook | None = None) -> st.SearchStrategy[tuple[int, int]]:
    """(numerator, denominator) pairs: exactly at a rulebook percentage, one above, one below,
    or anything at all (including a zero denominator)."""
    book = _book(rulebook)
    thresholds = _percent_thresholds(book)

    @st.composite
    def near(draw: st.DrawFn) -> tuple[int, int]:
        t = draw(st.sampled_from(thresholds))
        den = draw(st.sampled_from([100, 1000, 2000, 4000])) if t.denominator == 1 else 1000 * t.denominator
        exact = t * den / 100
        base = int(exact)
        num = base + draw(st.sampled_from([-1, 0, 1]))
        return max(0, min(num, den)), den

    @st.composite
    def anything(draw: st.DrawFn) -> tuple[int, int]:
        den = draw(st.integers(0, 5000))
        return draw(st.integers(0, den)), den

    if not thresholds:
        return anything()
    return st.one_of(near(), near(), anything())


def metric_series(
    metric: str,
    rulebook: Rulebook | None = None,
    months: Sequence[int] | None = None,
    *,
    counts: st.SearchStrategy[tuple[int, int]] | None = None,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Monthly observations of one catalogue metric, some months missing. ``months`` are month
    indexes (``policy_engine.language.months.parse_month``); ``counts`` replaces ``threshold_counts()`` for
    the (numerator, denominator) of a proportion metric."""
    book = _book(rulebook)
    mdef = book.metrics[metric]
    pool = list(months) if months is not None else list(range(FIRST_MONTH, LAST_MONTH + 1))

    @st.composite
    def series(draw: st.DrawFn) -> list[dict[str, Any]]:
        # Usually a full run of months (so whole-year rules can be judged), sometimes gaps.
        full_run: bool = draw(st.booleans())
        if full_run:
            chosen = pool
            drop = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
            chosen = [m for m in chosen if m not in drop]
        else:
            chosen = sorted(draw(st.lists(st.sampled_from(pool), max_size=len(pool), unique=True)))
        out: list[dict[str, Any]] = []
        if mdef.kind == "proportion":
            pairs = counts if counts is not None else threshold_counts(book)
            for m in chosen:
                num, den = draw(pairs)
                out.append({"period": format_month(m), "numerator": num, "denominator": den})
        elif mdef.kind == "rate":
            for m in chosen:
                den = draw(st.integers(0, 3000))
                out.append(
                    {"period": format_month(m), "numerator": draw(st.integers(0, 3000 * 3600)), "denominator": den}
                )
        else:
            for m in chosen:
                out.append({"period": format_month(m), "value": draw(st.integers(-5, 5000))})
        return out

    return series()


def _fact_value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "boolean":
        return st.booleans()
    if kind == "number":
        return st.one_of(st.integers(0, 120), st.sampled_from([0, 1, 2, 5, 7, 10, 12, 24]))
    if kind == "date":
        return st.dates(dt.date(2023, 1, 1), dt.date(2026, 6, 30)).map(dt.date.isoformat)
    return st.text("abc xyz", max_size=8)


def as_of_dates(rulebook: Rulebook | None = None) -> st.SearchStrategy[dt.date]:
    """Dates on, one day before and one day after the rulebook's deadlines, or any date nearby."""
    book = _book(rulebook)
    deadlines = _deadlines(book)
    near = st.tuples(st.sampled_from(deadlines), st.sampled_from([-1, 0, 1, 2, 31])).map(
        lambda p: p[0] + dt.timedelta(days=p[1])
    )
    return st.one_of(near, st.dates(dt.date(2024, 1, 1), dt.date(2026, 6, 30)))


@st.composite
def organisations(
    draw: st.DrawFn,
    rulebook: Rulebook | None = None,
    type: str | None = None,
    id: str | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One organisation of the given (or any) type, with services, metric series and dated facts."""
    book = _book(rulebook)
    otype = type or draw(st.sampled_from(ORGANISATION_TYPES))
    org: dict[str, Any] = {"id": id or draw(st.from_regex(r"[A-Z][A-Z0-9]{2,5}", fullmatch=True)), "type": otype}
    if draw(st.integers(0, 9)) > 0:
        org["services"] = draw(st.lists(st.sampled_from(sorted(book.services)), unique=True, max_size=6))
    names = (
        list(metrics)
        if metrics is not None
        else draw(st.lists(st.sampled_from(sorted(book.metrics)), unique=True, max_size=8))
    )
    org["metrics"] = {name: draw(metric_series(name, book)) for name in names}
    fact_names = draw(st.lists(st.sampled_from(sorted(book.facts)), unique=True, max_size=10))
    deadlines = _deadlines(book)
    facts = []
    for name in fact_names:
        kind = book.facts[name].type
        when = draw(
            st.one_of(
                st.tuples(st.sampled_from(deadlines), st.sampled_from([-1, 0, 1])).map(
                    lambda p: p[0] + dt.timedelta(days=p[1])
                ),
                st.dates(dt.date(2023, 1, 1), dt.date(2026, 3, 31)),
            )
        )
        facts.append(
            {"name": name, "value": draw(_fact_value(kind)), "date": when.isoformat(), "evidence": "generated"}
        )
    org["facts"] = facts
    return org


@st.composite
def states(
    draw: st.DrawFn,
    rulebook: Rulebook | None = None,
    min_size: int = 1,
    max_size: int = 6,
    types: Sequence[str] | None = None,
    *,
    as_of: st.SearchStrategy[dt.date] | None = None,
) -> dict[str, Any]:
    """A valid state: unique ids, practices and trusts pointing at an ICB of the state when one exists,
    and, in some states, complete national cohorts declared for some organisation types.

    ``types`` limits the organisation types; ``as_of`` replaces ``as_of_dates()``."""
    book = _book(rulebook)
    n = draw(st.integers(min_size, max_size))
    type_pool = list(types) if types is not None else list(ORGANISATION_TYPES)
    orgs = [draw(organisations(book, type=draw(st.sampled_from(type_pool)), id=f"ORG{i:03d}")) for i in range(n)]
    icbs = [o["id"] for o in orgs if o["type"] == "icb"]
    pcns = [o["id"] for o in orgs if o["type"] == "pcn"]
    for o in orgs:
        link_parent: bool = draw(st.booleans())
        if o["type"] != "icb" and icbs and link_parent:
            o["parent"] = draw(st.sampled_from(icbs))
        link_pcn: bool = draw(st.booleans())
        if o["type"] == "gp_practice" and pcns and link_pcn:
            o["pcn"] = draw(st.sampled_from(pcns))
    when = draw(as_of if as_of is not None else as_of_dates(book))
    doc: dict[str, Any] = {"as_of": when.isoformat(), "organisations": orgs}
    declared: list[str] = draw(st.lists(st.sampled_from(ORGANISATION_TYPES), max_size=3, unique=True))
    if declared:  # some states declare national cohorts complete (rank() rules read them)
        doc["cohorts"] = [{"scope": "national", "types": sorted(declared), "source": "generated by states()"}]
    return doc


# --------------------------------------------------------------------------- boundaries


@attrs.frozen
class BoundaryCase:
    """A state on (``offset=0``) or one step beside (``-1``/``+1``) a threshold of a rule, and the
    status the rule must give its organisation."""

    threshold: Threshold
    offset: int
    org_id: str
    state: dict[str, Any] = attrs.field(eq=False)
    expected: str

    @property
    def rule_id(self) -> str:
        return self.threshold.rule_id


def boundary_cases(
    rule_id: str,
    rulebook: Rulebook | None = None,
    offsets: Sequence[int] = (-1, 0, 1),
    *,
    types: Sequence[str] | None = None,
) -> st.SearchStrategy[BoundaryCase]:
    """Boundary states of ``rule_id`` with what the rule must say about them.

    Draws one of the rule's thresholds (see ``policy_engine.testing.thresholds``), an offset among
    ``offsets`` that a valid state can realise, an organisation type the rule applies to (or one
    of ``types``), a denominator scale and an ``as_of`` 1 to 120 days after the rule is judged.
    RulebookError at once if the rule has no threshold comparison.
    """
    book = _book(rulebook)
    rule = book.rule(rule_id)
    choices = [(t, o) for t in rule_thresholds(rule_id, book) for o in t.offsets() if o in offsets]
    if not choices:
        raise ValueError(f"{rule_id}: none of the offsets {tuple(offsets)} can be realised by a valid state")
    allowed = [t for t in rule.applies_to if types is None or t in types]
    if not allowed:
        raise ValueError(f"{rule_id} applies to none of {tuple(types or ())}")

    @st.composite
    def case(draw: st.DrawFn) -> BoundaryCase:
        threshold, offset = draw(st.sampled_from(choices))
        org_id = draw(st.from_regex(r"[A-Z][A-Z0-9]{2,5}", fullmatch=True))
        state = boundary_state(
            threshold,
            offset,
            book,
            org_type=draw(st.sampled_from(allowed)),
            org_id=org_id,
            scale=draw(st.integers(1, 5)),
            days_after=draw(st.sampled_from([1, 2, 15, 40, 120])),
        )
        return BoundaryCase(threshold, offset, org_id, state, expected_status(threshold, offset, book))

    return case()


def states_near(
    rule_id: str,
    rulebook: Rulebook | None = None,
    offsets: Sequence[int] = (-1, 0, 1),
    *,
    types: Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """One-organisation states whose data sit exactly on a threshold of ``rule_id`` or one count
    (one unit) above or below it, with ``as_of`` after the rule's deadline. Use
    ``boundary_cases`` to also learn which side was drawn and the status expected."""
    return boundary_cases(rule_id, rulebook, offsets, types=types).map(lambda c: c.state)


# --------------------------------------------------------------------------- composition


def _unique_id(base: str, taken: set[str], k: int) -> str:
    n = k
    while True:
        suffix = f"-{n}"
        candidate = base[: 20 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def merge_states(*docs: dict[str, Any]) -> dict[str, Any]:
    """One state holding every organisation of ``docs`` (the first one's ``as_of``). An id that
    is already taken is renamed (``X`` -> ``X-2``), with the ``parent``/``pcn`` links of its own
    state following it."""
    if not docs:
        raise ValueError("merge_states needs at least one state")
    taken: set[str] = set()
    orgs: list[dict[str, Any]] = []
    for k, doc in enumerate(docs, start=1):
        renames: dict[str, str] = {}
        for org in doc.get("organisations", []):
            new = org["id"] if org["id"] not in taken else _unique_id(org["id"], taken, k)
            renames[org["id"]] = new
            taken.add(new)
        for org in doc.get("organisations", []):
            copy = {**org, "id": renames[org["id"]]}
            for link in ("parent", "pcn"):
                if link in copy:
                    copy[link] = renames.get(copy[link], copy[link])
            orgs.append(copy)
    out = {k: v for k, v in docs[0].items() if k != "organisations"}
    out["organisations"] = orgs
    return out


def merged(*strategies: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy for ``merge_states`` of one draw from each strategy (``as_of`` from the first)."""
    return st.tuples(*strategies).map(lambda docs: merge_states(*docs))

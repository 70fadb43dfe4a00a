"""Groups of organisation types evaluated together: one per type, except types one
rank() rule ranks together (its cohort must be in one frame)."""

from __future__ import annotations

import functools

import attrs

from ...language.rules import Rule
from ...rulebook.loader import Rulebook
from .columns import COHORTS_COLUMN, columns_read


@attrs.frozen
class _Group:
    """Organisation types evaluated together: the rules that apply to any of them and the
    columns those rules read. Types are grouped only when one rank() rule ranks them together
    (its cohort must be in one frame); otherwise each type is its own group."""

    types: frozenset[str]
    rules: tuple[Rule, ...]
    columns: frozenset[str]


@functools.lru_cache(maxsize=16)
def _groups(book: Rulebook) -> tuple[_Group, ...]:
    parent: dict[str, str] = {t: t for r in book.rules for t in r.applies_to}

    def root(t: str) -> str:
        while parent[t] != t:
            t = parent[t]
        return t

    for r in book.rules:
        if r.uses_rank:
            first = root(r.applies_to[0])
            for t in r.applies_to[1:]:
                parent[root(t)] = first
    members: dict[str, set[str]] = {}
    for t in parent:
        members.setdefault(root(t), set()).add(t)
    out = []
    for types in members.values():
        rules = tuple(r for r in book.rules if types & set(r.applies_to))
        out.append(_Group(frozenset(types), rules, frozenset(columns_read(book, rules) | {"services", COHORTS_COLUMN})))
    return tuple(sorted(out, key=lambda g: sorted(g.types)))

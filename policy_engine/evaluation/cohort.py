"""Ranking organisations against each other: the one definition every backend uses.

A rule that uses ``rank()`` is judged only against a cohort the state declares complete for the
rule's scope (``Rule.cohort``; ``State.cohorts``). Within it, rank 1 is the greatest value and ties
share the best rank (competition ranking). A member whose value, or whose membership (its
applicability guard), is unknown makes every other member's rank uncertain: a member's rank is then
a range, from the rank among the known values to that plus the number of uncertain members, and
the rule's status is decided only if every rank in the range gives the same status.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from fractions import Fraction
from typing import Generic, TypeVar

import attrs

from ..data.state import CompleteCohort, complete_cohort
from ..language.ast import Binary, Call, Name, Num
from ..language.rules import Rule, Status
from .expressions import UNKNOWN, Value

__all__ = ["MAX_RANK_RANGE", "RankRange", "Ranking", "cutoff_rank", "rank_cohort", "settle"]

K = TypeVar("K", bound=Hashable)

MAX_RANK_RANGE = 256
"""A rank range wider than this is not enumerated: the status is unknown."""


@attrs.frozen
class RankRange:
    """The ranks a member may have while some members' values are unknown (inclusive, low < high)."""

    low: int
    high: int


@attrs.frozen
class Ranking(Generic[K]):
    """One rank() rule's ranking of one state's organisations."""

    cohort: CompleteCohort | None
    """The declared complete cohort the rule ranks within; None if the state declares none."""
    candidates: int
    """Organisations of the rule's types in the state."""
    values: Mapping[K, Fraction]
    """Members with a known value."""
    uncertain: tuple[K, ...]
    """Members whose value or membership is unknown."""
    ordered: tuple[Fraction, ...] = attrs.field(init=False)

    @ordered.default
    def _ordered(self) -> tuple[Fraction, ...]:
        return tuple(sorted(self.values.values()))

    def rank(self, key: K) -> Value | RankRange:
        """The member's rank: a number, a range while members are uncertain, or unknown."""
        if self.cohort is None or key not in self.values:
            return UNKNOWN
        above = len(self.ordered) - bisect.bisect_right(self.ordered, self.values[key])
        low = 1 + above
        if not self.uncertain:
            return Fraction(low)
        return RankRange(low, low + len(self.uncertain))

    def value_at_rank(self, k: int) -> Fraction | None:
        """The k-th greatest known value (the value at a cut-off of k), if there are k values."""
        if k < 1 or k > len(self.ordered):
            return None
        return self.ordered[-k]

    def unknown_reason(self, key: K, rule: Rule) -> str | None:
        """Why the member's rank-based status is unknown, when the cohort is the cause."""
        if self.cohort is None:
            types = ", ".join(rule.applies_to)
            return (
                f"ranked among {self.candidates} organisation{'s' if self.candidates != 1 else ''} of type {types} "
                f"in this state, but the rule ranks within the {rule.cohort} cohort: the state must declare that "
                f"it holds the complete {rule.cohort} cohort of {types} (state.cohorts, with its source)"
            )
        r = self.rank(key)
        if isinstance(r, RankRange):
            names = ", ".join(str(k) for k in self.uncertain[:5]) + (" ..." if len(self.uncertain) > 5 else "")
            return (
                f"the rank is between {r.low} and {r.high}: {len(self.uncertain)} member(s) of the "
                f"{self.cohort.scope} cohort have no value ({names})"
            )
        return None


def rank_cohort(rule: Rule, members: Sequence[tuple[K, Value, Value]], cohorts: Sequence[CompleteCohort]) -> Ranking[K]:
    """Rank ``members``: (key, guard value, rank argument value) of each organisation of the rule's
    types, against the complete cohort of the rule's scope that ``cohorts`` (the state's
    declarations) hold, if any. A guard that is not true and not unknown excludes the organisation."""
    assert rule.cohort is not None
    values: dict[K, Fraction] = {}
    uncertain: list[K] = []
    for key, guard, value in members:
        if guard is True and isinstance(value, Fraction):
            values[key] = value
        elif guard is True or guard is UNKNOWN:
            uncertain.append(key)
    declared = complete_cohort(cohorts, rule.cohort, rule.applies_to)
    return Ranking(declared, len(members), values, tuple(uncertain))


def settle(rank: Value | RankRange, status_of: Callable[[Value], Status]) -> Status:
    """The status given a rank: ``status_of(rank)``, or, for a range, the status every rank in it
    gives (unknown if they differ or the range is wider than MAX_RANK_RANGE)."""
    if not isinstance(rank, RankRange):
        return status_of(rank)
    if rank.high - rank.low > MAX_RANK_RANGE:
        return "unknown"
    seen = {status_of(Fraction(r)) for r in range(rank.low, rank.high + 1)}
    return seen.pop() if len(seen) == 1 else "unknown"


def cutoff_rank(rule: Rule) -> int | None:
    """k in a condition ``rank(...) <= k`` (or ``< k + 1``), read from the literal or parameter."""
    stack = [rule.condition]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary):
            if isinstance(node.left, Call) and node.left.func == "rank" and node.op in ("<=", "<"):
                bound = _constant(node.right, rule)
                if bound is not None:
                    return math.floor(bound) if node.op == "<=" else math.ceil(bound) - 1
            stack += [node.left, node.right]
    return None


def _constant(node: object, rule: Rule) -> Fraction | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name) and len(node.parts) == 2 and node.parts[0] == "param":
        p = rule.parameters.get(node.parts[1])
        return p.value if p is not None else None
    return None

"""The reference interpreter's backend: rules in dependency order, plain Python, no external engine (the
oracle of `engine.reference_evaluate`; `evaluate(backend="native")` runs `explained.py`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..data.state import CompleteCohort, OrgView
from ..language.rules import Status
from ..rulebook.loader import Rulebook
from .decide import cohort_ranks, decide
from .outcomes import Outcome

NAME = "native"
VERSION = "1"


def run(
    book: Rulebook, views: Sequence[OrgView], as_of: dt.date, cohorts: Sequence[CompleteCohort] = ()
) -> list[Outcome]:
    """Every applicable (rule, organisation) outcome. Rules run in topological order, so each rule
    reads the statuses of the rules it depends on; rank() rules first rank the whole cohort, which
    counts only if the state declares it complete (``cohorts``)."""
    statuses: dict[str, dict[str, Status]] = {v.org.id: {} for v in views}
    out: list[Outcome] = []
    for rule in book.rules:
        cohort = [v for v in views if rule.applies_to_type(v.org.type)]
        ranking = cohort_ranks(rule, cohort, as_of, book, statuses, cohorts) if rule.uses_rank else None
        for view in cohort:
            org_statuses = statuses[view.org.id]
            outcome = decide(rule, view, as_of, book, org_statuses, ranking=ranking)
            org_statuses[rule.id] = outcome.status
            out.append(outcome)
    return out

"""The reference backend: rules in dependency order, plain Python, no external engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .._decide import cohort_ranks, decide
from .._expr.evaluate import UNKNOWN
from ..loader import Rulebook
from ..outcomes import Outcome
from ..state import OrgView

NAME = "native"
VERSION = "1"


def run(book: Rulebook, views: Sequence[OrgView], as_of: dt.date) -> list[Outcome]:
    """Every applicable (rule, organisation) outcome. Rules run in topological order, so each rule
    reads the statuses of the rules it depends on; rank() rules first rank the whole cohort."""
    statuses: dict[str, dict[str, str]] = {v.org.id: {} for v in views}
    out: list[Outcome] = []
    for rule in book.rules:
        cohort = [v for v in views if rule.applies_to_type(v.org.type)]
        ranks = cohort_ranks(rule, cohort, as_of, book, statuses) if rule.uses_rank else {}
        for view in cohort:
            org_statuses = statuses[view.org.id]
            outcome = decide(rule, view, as_of, book, org_statuses, ranks.get(view.org.id, UNKNOWN))
            org_statuses[rule.id] = outcome.status
            out.append(outcome)
    return out

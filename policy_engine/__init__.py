"""policy-engine: NHS England's 2024/25 planning guidance as executable, auditable rules.

Typical use::

    import policy_engine as pe
    book = pe.load_rulebook()                      # the bundled "nhs-2024-25" rulebook
    state = pe.load_state("state.json")            # validated; StateError lists every problem
    result = pe.evaluate(state, book, as_of="2025-04-30")
    for outcome in result.find(status="not_met"):
        print(outcome.org_id, outcome.rule_id, outcome.explanation)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from ._version import __version__

__all__ = [
    "EVALUATE_BACKENDS",
    "ORGANISATION_TYPES",
    "STATUSES",
    "STATUSES_BACKENDS",
    "TIMINGS",
    "Backend",
    "Citation",
    "CompleteCohort",
    "DecisionRecord",
    "EngineError",
    "ErrorCode",
    "ErrorDetail",
    "Evaluation",
    "Evidence",
    "ExpressionError",
    "Fact",
    "Firing",
    "MissingExtraError",
    "Observation",
    "Organisation",
    "Outcome",
    "Parameter",
    "Period",
    "PolicyError",
    "Rule",
    "RuleKind",
    "Rulebook",
    "RulebookError",
    "SelectorError",
    "Source",
    "SourceReport",
    "State",
    "StateError",
    "Status",
    "__version__",
    "available_backends",
    "evaluate",
    "evaluate_many",
    "explain",
    "load_rulebook",
    "load_state",
    "planning_years",
    "resolve_backend",
    "rulebook_for",
    "state_from_dict",
    "state_from_json",
    "statuses",
    "validate_state",
    "verify_sources",
]

if TYPE_CHECKING:  # what mypy and editors see: the same names, imported eagerly
    from ._api import *  # noqa: F403
else:  # imported on first use, so `import policy_engine` costs nothing (pytest imports the plugin on every start)
    __getattr__, __dir__ = lazy_exports(__name__, __all__)

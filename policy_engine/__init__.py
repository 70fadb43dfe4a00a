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

from ._version import __version__
from .audit.explain import explain
from .data.state import (
    CompleteCohort,
    Fact,
    Observation,
    Organisation,
    State,
    load_state,
    state_from_dict,
    state_from_json,
    validate_state,
)
from .engine import (
    EVALUATE_BACKENDS,
    STATUSES_BACKENDS,
    Backend,
    available_backends,
    evaluate,
    evaluate_many,
    resolve_backend,
    statuses,
)
from .errors import (
    EngineError,
    ErrorCode,
    ErrorDetail,
    ExpressionError,
    PolicyError,
    RulebookError,
    SelectorError,
    StateError,
)
from .evaluation.outcomes import STATUSES, Citation, DecisionRecord, Evaluation, Evidence, Firing, Outcome
from .language.rules import ORGANISATION_TYPES, TIMINGS, Parameter, Period, Rule, RuleKind, Source, Status
from .rulebook.loader import Rulebook, load_rulebook

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
    "resolve_backend",
    "state_from_dict",
    "state_from_json",
    "statuses",
    "validate_state",
]

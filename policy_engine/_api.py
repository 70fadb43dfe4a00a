"""Where each public name of ``policy_engine`` comes from: imported the first time one of them is used
(see ``_lazy``), so that ``import policy_engine`` costs nothing.

``__all__`` here is ``policy_engine.__all__`` (``tests/test_imports.py`` checks that they are the same):
a new public name is imported here and listed in both.
"""

from __future__ import annotations

from ._extras import MissingExtraError
from .audit.explain import explain
from .audit.sources import SourceReport, verify_sources
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
from .rulebook.years import planning_years, rulebook_for

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

"""Tables of organisation-period rows (moved to ``policy_engine.tabular.validation`` on the way to
one module per job; see the next commit)."""

from .validation import *  # noqa: F403
from .validation import __all__ as __all__
from .validation import MAX_ERRORS as MAX_ERRORS

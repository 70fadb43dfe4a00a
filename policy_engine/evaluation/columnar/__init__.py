"""The columnar backend (moved to ``columnar.compiler`` on the way to one module per job; see the
next commit)."""

from .compiler import *  # noqa: F403
from .compiler import _FACT_DTYPES as _FACT_DTYPES
from .compiler import _groups as _groups

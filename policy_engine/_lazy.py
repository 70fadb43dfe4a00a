"""A package's public names imported on first use (PEP 562), so importing the package costs nothing.

``import policy_engine`` (and ``import policy_engine.testing``) runs no engine code: the names in
the package's ``__all__`` are imported from its private ``_api`` module the first time one of them
is used. This is what keeps the ``pytest11`` plugin (``policy_engine.testing.plugin``) free for a
project that installs policy-engine but does not use it: pytest imports the plugin module on every
start, and importing it must not import the rulebook loader, the evaluators or durable-rules.

A package uses it as::

    __all__ = ["evaluate", ...]

    if TYPE_CHECKING:  # what mypy and editors see: the same names, imported eagerly
        from ._api import *  # noqa: F403
    else:
        __getattr__, __dir__ = lazy_exports(__name__, __all__)

where ``_api`` imports each public name with an explicit re-export (``import x as x``);
``tests/test_imports.py`` checks that ``_api``'s names are exactly ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection


def lazy_exports(
    package: str, names: Collection[str], source: str = "._api"
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``: each of ``names`` is imported from
    its submodule ``source`` on first use and then kept in the package (later uses are plain
    attribute lookups). Any other name raises ``AttributeError`` as usual, so ``from package import
    submodule`` still imports the submodule."""
    public = frozenset(names)

    def __getattr__(name: str) -> object:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | public)

    return __getattr__, __dir__

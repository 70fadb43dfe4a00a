"""Locate the data that ships with the package (schemas, bundled rulebooks)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Traversable:
    """The folder holding ``schemas/`` and ``policies/``.

    In an installed wheel they are inside the package (``policy_engine/_data``); in a source
    checkout they sit at the project root.
    """
    packaged = resources.files("policy_engine") / "_data"
    if packaged.is_dir():
        return packaged
    return cast(Traversable, _SOURCE_ROOT)


def schema_path(name: str) -> Traversable:
    """A schema file by name, e.g. ``state.schema.json``."""
    return data_root() / "schemas" / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Parse a bundled JSON schema (cached)."""
    return cast(dict[str, Any], json.loads(schema_path(name).read_text(encoding="utf-8")))


def policies_root() -> Traversable:
    """The folder of bundled rulebooks."""
    return data_root() / "policies"


def bundled_rulebooks() -> list[str]:
    """Names of the rulebooks shipped with the package."""
    root = policies_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "rulebook.yaml").is_file())

"""The suite runs against the installed package, whose data ship inside the wheel."""

from __future__ import annotations

import os
from pathlib import Path

import policy_engine as pe
from policy_engine._resources import bundled_rulebooks, data_root, schema_path


def test_runs_against_the_installed_copy() -> None:
    # The README's test command runs against a non-editable install; a developer running from the
    # source tree sets POLICY_ENGINE_ALLOW_SOURCE=1.
    if os.environ.get("POLICY_ENGINE_ALLOW_SOURCE") == "1":
        return
    location = Path(pe.__file__).resolve()
    assert "site-packages" in location.parts, f"policy_engine imported from {location}, not an installed copy"
    assert data_root().name == "_data"


def test_bundled_data_are_found_with_importlib_resources() -> None:
    assert "nhs-2024-25" in bundled_rulebooks()
    for name in ("state.schema.json", "rulebook.schema.json", "outcome.schema.json"):
        assert schema_path(name).is_file(), name
    book = pe.load_rulebook("nhs-2024-25")
    assert book.location == "bundled:nhs-2024-25"
    assert len(book.rules) >= 100


def test_public_api_is_curated() -> None:
    for name in pe.__all__:
        assert hasattr(pe, name), name
    assert issubclass(pe.StateError, pe.PolicyError)
    assert issubclass(pe.RulebookError, pe.PolicyError)
    assert issubclass(pe.ExpressionError, pe.RulebookError)
    assert issubclass(pe.EngineError, pe.PolicyError)

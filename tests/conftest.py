"""Hypothesis settings profiles for the whole suite.

``ci`` (the default): few examples, derandomised (every run draws the same examples, so CI is
reproducible), no deadline, no example database. ``deep``: many examples, random, for a run on
demand (of one file, or of the whole suite)::

    POLICY_ENGINE_HYPOTHESIS_PROFILE=deep pytest tests/test_properties.py

Every test takes its number of examples from the profile (``settings().max_examples``); none pins
a count of its own. A few ask for a multiple of it, or a floor under it, and say why (cheap, varied
inputs: the parser, the fuzzers, robustness; a draw among the threshold rules that should reach
them all), so under ``deep`` they run at length too.

Tests that take more than about 5 s on their own are marked ``slow`` (the marker is registered
in pyproject.toml): ``pytest -m "not slow"`` is a quick run; the README's command runs them all.
They are collected first, so that pytest-xdist starts them on every worker at once instead of
leaving one worker finishing a long test while the others idle.

Also the one place that locates ``../shared`` (guidance texts and real NHS data kept beside the
project, which a fresh clone does not have): a test that needs it asks the ``needs_shared``
fixture, which skips the test with the reason when the path is absent. The suite needs nothing
else outside the repository; the bundled guidance is read from ``policies/nhs-2024-25/sources``.
``POLICY_ENGINE_SHARED_DIR`` points it elsewhere (a missing folder hides ``../shared``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=_SLOW
)
settings.register_profile("deep", max_examples=1000, deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("POLICY_ENGINE_HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first (in their collected order), then the others (in theirs)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


SHARED = Path(os.environ.get("POLICY_ENGINE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")


def shared_path(subpath: str) -> Path:
    """``../shared/<subpath>``, or skip the calling test saying it is absent (a fresh clone has none)."""
    path = SHARED / subpath
    if not path.exists():
        pytest.skip(f"../shared/{subpath} is not beside the project: {path} does not exist (a fresh clone has none)")
    return path


@pytest.fixture
def needs_shared() -> Callable[[str], Path]:
    """``needs_shared("guidance")`` gives the path under ``../shared``, or skips the test with the reason."""
    return shared_path


@pytest.fixture(autouse=True)
def _collector_left_enabled(request: pytest.FixtureRequest) -> object:
    """The package pauses the cyclic garbage collector while it loads a state and builds outcomes
    (decisions 034 and 035) and must always resume it: a test after which it is still off fails,
    naming itself, and the collector is turned back on so that the tests after it measure memory
    as a user's process would (tests/test_stream.py's growth test grows linearly without it)."""
    import gc

    yield None
    if not gc.isenabled():
        gc.enable()
        pytest.fail(f"{request.node.nodeid} left the garbage collector disabled")

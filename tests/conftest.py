"""Hypothesis settings profiles for the whole suite.

``ci`` (the default): few examples, derandomised (every run draws the same examples, so CI is
reproducible), no deadline, no example database. ``deep``: many examples, random, for a run on
demand::

    POLICY_ENGINE_HYPOTHESIS_PROFILE=deep pytest tests/test_properties.py

Tests that take the number of examples from the profile scale with it; the few that pin
``max_examples`` in their own ``@settings`` keep their count but inherit the rest.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=_SLOW
)
settings.register_profile("deep", max_examples=1000, deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("POLICY_ENGINE_HYPOTHESIS_PROFILE", "ci"))

"""The collector's pause around the full outcomes leaves objects frozen by others frozen."""

from __future__ import annotations

import gc

from policy_engine.evaluation.explained import collector_paused


def test_objects_frozen_by_others_stay_frozen() -> None:
    assert gc.get_freeze_count() == 0
    with collector_paused():
        _ = [object() for _ in range(10)]
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    gc.freeze()  # as a pre-fork server might
    try:
        with collector_paused():
            _ = [[] for _ in range(10)]
        assert gc.get_freeze_count() > 0 and gc.isenabled()  # not unfrozen
    finally:
        gc.unfreeze()

"""io.collector: one pause of the garbage collector for the whole process, however many threads
and nested calls ask for it, and the collector always resumed as it was found."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from policy_engine.io.collector import paused


def test_nested_pauses_resume_once_when_the_last_ends() -> None:
    calls: list[str] = []
    assert gc.isenabled()
    with paused(lambda: calls.append("outer")):
        with paused(lambda: calls.append("inner")):
            assert not gc.isenabled()
        assert not gc.isenabled() and calls == []  # the outer pause still holds
    assert gc.isenabled() and calls == ["outer"]


def test_a_collector_off_before_the_first_pause_stays_off() -> None:
    gc.disable()
    try:
        with paused(lambda: pytest.fail("nothing is resumed, so nothing is done on resuming")):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_resumes_the_collector_without_the_resume_action() -> None:
    calls: list[int] = []
    with pytest.raises(ZeroDivisionError), paused(lambda: calls.append(1)):
        _ = 1 / 0
    assert gc.isenabled() and calls == []


def test_threads_pausing_at_once_leave_the_collector_on() -> None:
    """The race the read-then-restore pause lost: a thread reading "disabled" while another is
    paused, disabling after that one resumed, and restoring "disabled" for good (with threads
    switching every microsecond, that pattern left the collector off in 2 runs of 3)."""
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            for _ in range(2000):
                with paused():
                    with paused():
                        pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == [] and gc.isenabled()

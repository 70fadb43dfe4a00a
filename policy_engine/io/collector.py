"""The cyclic garbage collector paused while the package builds large acyclic structures (a
frozen state, full outcomes, outcome tables): one pause for the whole process, however many
threads and nested calls ask for it.

``gc.disable`` is process-wide, so a pause that reads ``gc.isenabled()`` and later restores
what it read is wrong under threads: a thread that reads "disabled" while another is paused,
then disables after that other has resumed, restores "disabled" and leaves the collector off
for good (found by ``tests/conftest.py``'s check after ``test_threads_get_the_serial_results``;
every cyclic structure made afterwards was kept, so streaming grew linearly). Here the pauses
share one count under a lock: the collector is disabled when the first begins and resumed when
the last ends, if it was on when the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator

__all__ = ["paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextlib.contextmanager
def paused(on_resume: Callable[[], None] | None = None) -> Iterator[None]:
    """The collector off for the duration (shared with every other pause in the process).

    ``on_resume`` runs (under the pause's lock, the collector still off) when this pause is the
    last to end, it ends without an error and the collector is about to be resumed: what the
    caller wants done with the objects made meanwhile (collect them once, or move them to the
    oldest generation). With the collector off before the first pause, nothing is resumed.
    """
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                try:
                    if on_resume is not None and not failed:
                        on_resume()
                finally:
                    gc.enable()

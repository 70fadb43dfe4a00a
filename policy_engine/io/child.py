"""A function called in a fresh Python process, so that the process dying (an allocation failure
that aborts it, a signal) is something the caller can report rather than share.

``call_in_child("package.module:function", args, on_message)`` starts ``sys.executable`` (a new
interpreter, not a fork: a fork of a process whose native libraries run threads, as polars' do,
can deadlock), gives it the caller's ``sys.path``, and calls ``function(send, *args)`` there. What
the function returns is returned here; a ``PolicyError`` (or any exception that pickles) it raises
is raised here; each ``send(message)`` calls ``on_message(message)`` here as it arrives. If the
child ends without a result, ``ChildDied`` says how (the signal, the exit code, the last lines it
wrote to stderr). Whatever happens, the child has ended when this returns: interrupted, it is
killed and waited for, and ``on_exit(pid)`` is called last so that the caller can clean up after it.

The arguments and the replies are pickled (a ``Rulebook``'s read-only mappings included) and
exchanged over the child's stdin and stdout, in frames of an 8-byte length and a pickle; the
child's own writes to stdout go to its stderr. The child is the package's own code, run by the
same user from the same installation: its replies are trusted as the caller's own objects are.
POSIX only (the frames are read with ``selectors`` on pipes); used where the address-space limit
that only POSIX has is set (decision 031).
"""

from __future__ import annotations

import copyreg
import importlib
import io
import os
import pickle
import selectors
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from types import MappingProxyType
from typing import IO, Any

__all__ = ["ChildDied", "call_in_child"]

_BOOT = """\
import os, sys
channel = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
import pickle
sys.path[:] = pickle.load(sys.stdin.buffer)
from policy_engine.io.child import _serve
_serve(sys.stdin.buffer, channel)
"""
"""The child's first lines: stdout kept as the reply channel (stray prints go to stderr), the
parent's ``sys.path``, then ``_serve``."""

_TAIL_BYTES = 4096
"""How much of the child's stderr is kept for ``ChildDied``."""


class ChildDied(Exception):
    """The child ended without a result: killed by ``signal`` (its name, e.g. ``SIGABRT``), exited
    with ``returncode``, or ``stopped`` by a ``BaseException`` that is not an ``Exception``;
    ``stderr`` is the end of what it wrote there."""

    def __init__(self, pid: int, returncode: int, stderr: str, stopped: str | None = None) -> None:
        super().__init__(pid, returncode, stderr, stopped)
        self.pid = pid
        self.returncode = returncode
        self.stderr = stderr
        self.stopped = stopped
        """What stopped the function if it did not return or raise an ``Exception`` (e.g.
        ``KeyboardInterrupt``, a Rust panic), as text; None if the child died."""

    @property
    def how(self) -> str:
        """How it ended, in words: ``was killed by SIGABRT``, ``was stopped by KeyboardInterrupt``,
        ``ended with exit code 1``."""
        if self.stopped is not None:
            return f"was stopped by {self.stopped}"
        return f"was killed by {self.signal}" if self.signal else f"ended with exit code {self.returncode}"

    @property
    def signal(self) -> str | None:
        """The name of the signal that killed the child (``SIGABRT``), or None if it exited."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def __str__(self) -> str:
        how = self.how
        return f"the child process {self.pid} {how} without a result"


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _reduce_proxy(mapping: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return (_proxy, (dict(mapping),))


_DISPATCH: dict[type, Callable[[Any], Any]] = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}
"""The standard reductions, and read-only mappings (``types.MappingProxyType``) too."""


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    return buffer.getvalue()


def _frame(value: object) -> bytes:
    data = _dumps(value)
    return len(data).to_bytes(8, "big") + data


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an EngineError saying what it was."""
    try:
        pickle.loads(_dumps(exc))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - any failure to pickle or unpickle it
        from ..errors import EngineError, ErrorCode, ErrorDetail

        detail = ErrorDetail("engine", f"{type(exc).__name__}: {exc}", code=ErrorCode.ENGINE_INTERNAL)
        return EngineError("internal error in the child process", [detail])
    return exc


def _serve(stdin: IO[bytes], channel: IO[bytes]) -> None:
    """The child's side: read the target and its arguments, call it, reply."""

    def send(kind: str, value: object) -> None:
        channel.write(_frame((kind, value)))
        channel.flush()

    try:
        target, args = pickle.load(stdin)  # noqa: S301 - the parent's (module docstring)
        module, _, name = target.partition(":")
        function = getattr(importlib.import_module(module), name)
        result = function(lambda message: send("message", message), *args)
    except Exception as exc:  # noqa: BLE001 - every error is the parent's to raise
        send("error", _sendable(exc))
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt, SystemExit, a Rust panic
        # Not an error of the function's: the child was stopped (a native library that cannot
        # start its threads raises SIGINT, say). An interrupt meant for the parent reaches it too.
        send("stopped", f"{type(exc).__name__}: {exc}".rstrip(": ")[:300])
    else:
        send("result", result)
    channel.close()


class _Frames:
    """Frames read from the child's stdout, decoded as they complete."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self.buffer += data
        out = []
        while len(self.buffer) >= 8:
            size = int.from_bytes(self.buffer[:8], "big")
            if len(self.buffer) < 8 + size:
                break
            out.append(pickle.loads(bytes(self.buffer[8 : 8 + size])))  # noqa: S301 - our child's
            del self.buffer[: 8 + size]
        return out


def call_in_child(
    target: str,
    args: tuple[Any, ...],
    on_message: Callable[[Any], object] | None = None,
    on_exit: Callable[[int], object] | None = None,
) -> Any:
    """Call ``target`` (``"package.module:function"``) as ``function(send, *args)`` in a fresh
    Python process; see the module docstring. Raises what the function raised, ``ChildDied`` if
    the child ended without a result, and ``OSError`` if it could not be started."""
    proc = subprocess.Popen(  # noqa: S603 - this interpreter and fixed code; the arguments go over stdin
        [sys.executable, "-c", _BOOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    reply: tuple[str, Any] | None = None
    tail: deque[bytes] = deque()
    kept = 0
    try:
        pending = memoryview(_dumps(list(sys.path)) + _dumps((target, args)))
        frames = _Frames()
        os.set_blocking(proc.stdin.fileno(), False)
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdin, selectors.EVENT_WRITE)
            selector.register(proc.stdout, selectors.EVENT_READ)
            selector.register(proc.stderr, selectors.EVENT_READ)
            while len(selector.get_map()) > 0:
                for key, _ in selector.select():
                    if key.fileobj is proc.stdin:
                        try:
                            written = os.write(proc.stdin.fileno(), pending[:65536])
                        except BrokenPipeError:  # the child ended before reading it all
                            written = len(pending)
                        except BlockingIOError:
                            continue
                        pending = pending[written:]
                        if not pending:
                            selector.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        continue
                    if key.fileobj is proc.stderr:
                        tail.append(data)
                        kept += len(data)
                        while kept - len(tail[0]) > _TAIL_BYTES:
                            kept -= len(tail.popleft())
                        continue
                    for kind, value in frames.feed(data):
                        if kind == "message":
                            if on_message is not None:
                                on_message(value)
                        else:
                            reply = (kind, value)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if not pipe.closed:
                pipe.close()
        if on_exit is not None:
            on_exit(proc.pid)
    stderr = b"".join(tail).decode("utf-8", "replace")
    if reply is None or reply[0] == "stopped":
        raise ChildDied(proc.pid, proc.returncode, stderr, None if reply is None else str(reply[1]))
    if stderr:  # what the function wrote there (a warning; its end), as it would have in this process
        sys.stderr.write(stderr)
    kind, value = reply
    if kind == "error":
        raise value
    return value

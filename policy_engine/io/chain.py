"""Hash-chained JSON Lines: an append-only file in which every line names the hash of the one before.

Each line is one JSON object in canonical form (``io.canonical.canonical_json``) with a ``prev``
key: the sha256 (hex) of the previous line's text as written, without its line end, or 64 zeros
for the first line. Altering, removing, reordering or inserting a line therefore breaks the chain
at that line or the next one, and ``verify_chain`` names the first line where it breaks. Lines
written before logs were chained (no ``prev``) may only come first: the first chained line
names the last of them (docs/decisions/022-sealed-records-and-chained-logs.md).

``append_chained`` holds an exclusive lock on the file (``fcntl.flock``; ``msvcrt.locking`` where
there is no ``fcntl``) while it reads the last line, computes its hash and appends the new line
with one ``write`` and an fsync, so several processes appending to one log never interleave,
lose or fork a line. A write that fails part way is cut back off, so no partial line remains.

What a chain does not show: lines removed from the end (the shorter file is a valid chain; keep
the head hash ``verify_chain`` reports and pass it back as ``head``), and a whole chain rewritten
by someone who recomputes every hash (a hash is not a signature: keep a copy or the head elsewhere).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ..errors import ErrorCode, ErrorDetail, PolicyError
from .canonical import canonical_json

__all__ = ["GENESIS", "PREV", "ChainCheck", "append_chained", "canonical_text", "line_hash", "verify_chain"]

PREV = "prev"
"""The key of each line that holds the previous line's hash."""

GENESIS = "0" * 64
"""The ``prev`` of a log's first line."""

_CHUNK = 1 << 16


def canonical_text(value: Any) -> str:
    """``canonical_json(value)`` of a value with string keys only (JSON read back, or a record), made
    by ``json.dumps`` where it holds no ``Decimal`` (the two agree byte for byte there:
    io/canonical.py), which is an order of magnitude faster on a log of large records."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # a Decimal (or a value that is not JSON, which canonical_json reports)
        return canonical_json(value)


def line_hash(line: bytes) -> str:
    """The sha256 (hex) of one line's text as written, without its line end."""
    return hashlib.sha256(line).hexdigest()


# --------------------------------------------------------------------------- appending


def _write_error(path: str | os.PathLike[str], why: str) -> PolicyError:
    return PolicyError("cannot append to the log", [ErrorDetail(os.fspath(path), why, code=ErrorCode.LOG_WRITE)])


if sys.platform == "win32":  # pragma: no cover - tested on POSIX only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s; keep waiting, as flock does
                continue

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_at(fd: int, start: int, n: int) -> bytes:
    os.lseek(fd, start, os.SEEK_SET)
    parts: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, n)
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _last_line(fd: int, size: int) -> bytes | None:
    """The file's last line without its line end (None for an empty file). ValueError if the file
    does not end with a line end."""
    if size == 0:
        return None
    if _read_at(fd, size - 1, 1) != b"\n":
        raise ValueError("incomplete")
    parts: list[bytes] = []
    pos = size - 1  # the last line is [its start, pos)
    while pos > 0:
        start = max(0, pos - _CHUNK)
        chunk = _read_at(fd, start, pos - start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            parts.append(chunk[cut + 1 :])
            break
        parts.append(chunk)
        pos = start
    return b"".join(reversed(parts))


def append_chained(path: str | os.PathLike[str], document: Mapping[str, Any]) -> str:
    """Append ``document`` with its ``prev`` as one canonical JSON line, under an exclusive lock,
    flushed and fsynced; returns the new line's hash (the log's new head).

    ``document`` must not have a ``prev`` key (ValueError: a programming error). Raises
    PolicyError (``log.write``) naming the file if it cannot be opened, is not a regular file,
    ends in an incomplete line (a write cut short: the log is left for ``verify_chain`` to
    report, never appended after), or cannot be written (it is then left as it was)."""
    if PREV in document:
        raise ValueError(f"a log entry has no {PREV!r} of its own: the log adds it")
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise _write_error(path, exc.strerror or str(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _write_error(path, "not a regular file: a log is appended to a file")
        _lock(fd)
        try:
            size = os.fstat(fd).st_size
            try:
                last = _last_line(fd, size)
            except ValueError:
                raise _write_error(
                    path,
                    "its last line is incomplete (no line end: a write was cut short); "
                    "nothing is appended after it (see policy-engine verify-log)",
                ) from None
            line = canonical_text({**document, PREV: GENESIS if last is None else line_hash(last)}).encode("utf-8")
            try:
                _write_all(fd, line + b"\n")
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)  # no partial line is left behind
                raise _write_error(path, exc.strerror or str(exc)) from None
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
    return line_hash(line)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# --------------------------------------------------------------------------- verifying


@attrs.frozen
class ChainCheck:
    """What ``verify_chain`` found.

    ``lines`` is the number of lines read (up to and including the first bad one), ``unchained``
    how many lines at the start have no ``prev`` (written before logs were chained), ``head`` the
    hash of the last line read (the value to keep and pass back as ``head``). ``bad_line`` (from 1)
    and ``problem`` say where and why the chain breaks (``None`` when it does not)."""

    path: str
    ok: bool
    lines: int
    unchained: int
    head: str
    bad_line: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if not self.ok:
            return f"the log {self.path} is not intact: {self.problem}"
        if self.lines == 0:
            return f"the log {self.path} is empty"
        text = f"the log {self.path} is intact: {self.lines} lines, chained; head {self.head}"
        if self.unchained:
            text += (
                f"\nlines 1-{self.unchained} were written before logs were chained: only the last of them "
                f"(line {self.unchained}) is covered, by the hash line {self.unchained + 1} holds"
            )
        return text


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} twice")
        out[key] = value
    return out


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(body: bytes) -> tuple[Any, str | None]:
    """A line's JSON value, or why it is not a canonical JSON object."""
    try:
        doc = json.loads(
            body.decode("utf-8"), parse_float=Decimal, parse_constant=_reject, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not valid JSON ({str(exc)[:120]})"
    if not isinstance(doc, dict):
        return None, f"not a JSON object (a JSON {type(doc).__name__})"
    if canonical_text(doc).encode("utf-8") != body:
        return None, "not in canonical form (it was edited: the log writes sorted keys, no spaces)"
    return doc, None


def _lines(path: str | os.PathLike[str]) -> Iterator[bytes]:
    try:
        with Path(path).open("rb") as fh:
            yield from fh
    except OSError as exc:
        raise PolicyError(
            "cannot read the log", [ErrorDetail(os.fspath(path), exc.strerror or str(exc), code=ErrorCode.LOG_READ)]
        ) from None


def verify_chain(
    path: str | os.PathLike[str],
    *,
    head: str | None = None,
    check: Callable[[dict[str, Any]], str | None] | None = None,
) -> ChainCheck:
    """Check every line of a chained log and name the first one that is wrong.

    A line is wrong if it is incomplete, not a canonical JSON object, has no ``prev`` after the
    chain began, or a ``prev`` that is not the hash of the line before (zeros for line 1); or
    if ``check`` (given the line's object) returns a reason. ``head``, a hash kept from an earlier
    check, must be the hash of one of the lines (otherwise lines were removed from the end). A log
    with no chained line at all is not intact: nothing in it can be verified. Raises PolicyError
    (``log.read``) if the file cannot be read."""
    where = os.fspath(path)
    previous: str | None = None  # hash of the previous line
    lines = unchained = 0
    seen_head = head is None
    problem: str | None = None
    for raw in _lines(path):
        lines += 1
        n = lines
        if not raw.endswith(b"\n"):
            problem = f"line {n} is incomplete (no line end: a write was cut short)"
            break
        body = raw[:-1]
        doc, why = _parse(body)
        if why is not None:
            problem = f"line {n} is {why}"
            break
        assert doc is not None
        expected = GENESIS if previous is None else previous
        if PREV not in doc:
            if unchained == n - 1:  # still in the leading lines written before chaining
                unchained += 1
            else:
                problem = (
                    f"line {n} has no {PREV!r} although the chain began at line {unchained + 1}: "
                    "it was inserted or altered"
                )
                break
        elif doc[PREV] != expected:
            before = "zeros (it is the first line)" if previous is None else f"the hash of line {n - 1}, {expected}"
            problem = f"line {n}: its {PREV} {str(doc[PREV])[:80]!r} is not {before}: " + (
                "lines were removed from the start of the log, or this one was inserted"
                if previous is None
                else f"line {n - 1} was altered, lines were removed or reordered there, or line {n} was inserted"
            )
            break
        elif check is not None and (why := check(doc)) is not None:
            problem = f"line {n}: {why}"
            break
        previous = line_hash(body)
        if head is not None and previous == head:
            seen_head = True
    last = previous or GENESIS
    if problem is not None:
        return ChainCheck(where, False, lines, unchained, last, lines, problem)
    if lines and unchained == lines:
        problem = (
            f"the log has no hash chain: its {lines} lines were written before logs were chained "
            f"(they have no {PREV!r}), so none of them can be verified"
        )
        return ChainCheck(where, False, lines, unchained, last, None, problem)
    if not seen_head:
        problem = (
            f"no line of the log has the expected head hash {head}: lines were removed from its end "
            f"(it now ends at line {lines} with hash {last}), or it is another log"
        )
        return ChainCheck(where, False, lines, unchained, last, None, problem)
    return ChainCheck(where, True, lines, unchained, last)

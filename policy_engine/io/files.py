"""Files that appear whole or not at all: the one atomic-write helper of the package.

Every file the package writes by replacing its destination (the CLI's ``-o`` outputs and decision
records, ``tabular.evaluate_table``'s tables, the generated rule reference) goes through
``atomic_write``: the content is written to a temporary file in the destination's own folder
(so the final rename never crosses file systems), flushed and fsynced, given the permissions a
newly created file gets (``0o666`` less the umask: ``mkstemp`` makes ``0o600``), and renamed over
the destination with ``os.replace`` (atomic on POSIX and Windows); the folder is then fsynced
where the platform allows, so the rename itself survives a crash. If anything fails, or the
caller's block raises, the temporary file is removed and the destination is left as it was.
The one file appended to (the CLI's ``--log`` audit trail) goes through ``append_line``.

Only regular files are written (docs/decisions/021-output-files-and-rulebook-names.md): a
destination that is a folder, a device, a FIFO or a socket is refused, never replaced; a symbolic
link is followed, and its final target (a regular file, or nothing yet) is the file replaced, so
the link stays a link and the file it points to gets the new content.

Temporary files are named ``.policy-engine-<pid>-<random>.tmp``. A process killed while writing
(``kill -9``, an out-of-memory abort) cannot remove its own; the next write into the same folder
removes those of the current user whose process is no longer running (``remove_stale``).

A destination that cannot be written (its folder does not exist, is not a folder, or refuses
the file; the destination is not a regular file) raises ``PolicyError`` naming the destination.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

from ..errors import ErrorCode, ErrorDetail, PolicyError

__all__ = [
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "append_line",
    "atomic_write",
    "check_writable",
    "remove_stale",
    "remove_temporaries_of",
    "write_text_atomic",
]

TEMP_PREFIX = ".policy-engine-"
"""Temporary files start with this (hidden on POSIX), beside their destination."""
TEMP_SUFFIX = ".tmp"
"""... and end with this: ``.policy-engine-<pid>-<random>.tmp``."""
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + r"\Z")

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _cannot_write(path: str | os.PathLike[str], why: str) -> PolicyError:
    return PolicyError("cannot write the file", [ErrorDetail(os.fspath(path), why, code=ErrorCode.OUTPUT_WRITE)])


def _reason(path: str | os.PathLike[str], exc: OSError) -> str:
    """Why a destination cannot be written, in words (the folder named where it is the cause)."""
    folder = Path(os.path.abspath(path)).parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if os.path.isdir(path):
        return "it is a folder"
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _destination(path: str | os.PathLike[str]) -> str:
    """The file that writing ``path`` replaces: ``path`` itself or, for a symbolic link, its final
    target; refused (PolicyError naming ``path``) unless that is a regular file or does not exist."""
    text = os.fspath(path)
    target = os.path.realpath(text) if os.path.islink(text) else text
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target  # a new file (its folder is checked when the temporary file is made)
    except OSError as exc:
        raise _cannot_write(path, _reason(target, exc)) from None
    if stat.S_ISREG(mode):
        return target
    if target != text:
        raise _cannot_write(
            path, f"it is a symbolic link to {target}, which is {_kind(mode)}; only a regular file is written"
        )
    if stat.S_ISDIR(mode):
        raise _cannot_write(path, "it is a folder")
    raise _cannot_write(path, f"it is {_kind(mode)}; only a regular file is written")


def check_writable(paths: Sequence[str | os.PathLike[str] | None]) -> None:
    """Every destination given can be written (a regular file or nothing, in a folder that exists
    and can be written): checked before anything is computed or written, so that a command either
    writes all its files or none. PolicyError names every one that cannot."""
    details: list[ErrorDetail] = []
    for path in paths:
        if path is None:
            continue
        try:
            target = _destination(path)
        except PolicyError as exc:
            details.extend(exc.details)
            continue
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            why = _reason(target, PermissionError(13, "Permission denied"))
            details.append(ErrorDetail(os.fspath(path), why, code=ErrorCode.OUTPUT_WRITE))
    if details:
        raise PolicyError("cannot write the file", details)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or a pid the system does not accept: not ours to judge
        return True
    return True


def remove_stale(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files in ``folder`` that a killed writer left: named
    ``.policy-engine-<pid>-<random>.tmp``, regular files of the current user, whose process is no
    longer running. Returns the names removed. A no-op where processes cannot be probed (Windows)."""
    if os.name != "posix":
        return []
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def remove_temporaries_of(path: str | os.PathLike[str], pid: int) -> list[str]:
    """Remove the temporary files that the writer process ``pid`` (one that has ended) left
    beside ``path`` (or beside the file a symbolic link ``path`` points to): what a parent does
    when the child process writing ``path`` for it died. Returns the names removed."""
    try:
        folder = os.path.dirname(os.path.abspath(_destination(path)))
        entries = list(os.scandir(folder))
    except (PolicyError, OSError):
        return []
    removed: list[str] = []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or int(match.group(1)) != pid or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w"] = "w", *, encoding: str = "utf-8", newline: str | None = None
) -> contextlib.AbstractContextManager[TextIO]: ...
@overload
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["wb"], *, encoding: str = "utf-8", newline: str | None = None
) -> contextlib.AbstractContextManager[BinaryIO]: ...
def atomic_write(
    path: str | os.PathLike[str],
    mode: Literal["w", "wb"] = "w",
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> contextlib.AbstractContextManager[Any]:
    """A file handle (text with ``mode="w"``, binary with ``"wb"``) whose content replaces
    ``path`` (or the regular file a symbolic link ``path`` points to) when the ``with`` block ends
    without an error, and is discarded otherwise.

    >>> with atomic_write("out.json") as fh:  # doctest: +SKIP
    ...     fh.write(text)

    Raises PolicyError naming ``path`` if it cannot be written (see the module docstring)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with mode 'w' or 'wb', not {mode!r}")
    return _atomic(path, mode, encoding, newline)


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str], mode: str, encoding: str, newline: str | None) -> Iterator[IO[Any]]:
    target = _destination(path)
    folder = os.path.dirname(os.path.abspath(target))
    remove_stale(folder)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise _cannot_write(path, _reason(target, exc)) from None
    try:
        if mode == "wb":
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, _new_file_mode())
            _destination(path)  # still a regular file (or nothing) at the moment it is replaced
            os.replace(tmp, target)
        except OSError as exc:
            raise _cannot_write(path, _reason(target, exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, newline: str | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, as ``atomic_write`` does."""
    with atomic_write(path, "w", newline=newline) as fh:
        fh.write(text)


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append ``line`` (UTF-8) to ``path`` (a regular file, created if absent; a symbolic link's
    target), flushed and fsynced: the one file the package appends to rather than replaces."""
    target = _destination(path)
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise _cannot_write(path, _reason(target, exc)) from None

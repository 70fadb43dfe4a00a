"""Files that appear whole or not at all: the one atomic-write helper of the package.

Every file the package writes by replacing its destination (the CLI's ``-o`` outputs and decision
records, ``tabular.evaluate_table``'s tables, the generated rule reference) goes through
``atomic_write``: the content is written to a temporary file in the destination's own folder
(so the final rename never crosses file systems), flushed and fsynced, given the permissions a
newly created file gets (``0o666`` less the umask: ``mkstemp`` makes ``0o600``), and renamed over
the destination with ``os.replace`` (atomic on POSIX and Windows); the folder is then fsynced
where the platform allows, so the rename itself survives a crash. If anything fails, or the
caller's block raises, the temporary file is removed and the destination is left as it was.

A destination that cannot be written (its folder does not exist, is not a folder, or refuses
the file; the destination is a folder) raises ``PolicyError`` naming the destination.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

from ..errors import ErrorCode, ErrorDetail, PolicyError

__all__ = ["TEMP_PREFIX", "atomic_write", "write_text_atomic"]

TEMP_PREFIX = ".policy-engine-"
"""Temporary files start with this (hidden on POSIX), beside their destination."""


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
    ``path`` when the ``with`` block ends without an error, and is discarded otherwise.

    >>> with atomic_write("out.json") as fh:  # doctest: +SKIP
    ...     fh.write(text)

    Raises PolicyError naming ``path`` if it cannot be written (see the module docstring)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with mode 'w' or 'wb', not {mode!r}")
    return _atomic(path, mode, encoding, newline)


@contextlib.contextmanager
def _atomic(path: str | os.PathLike[str], mode: str, encoding: str, newline: str | None) -> Iterator[IO[Any]]:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    except OSError as exc:
        raise _cannot_write(path, _reason(path, exc)) from None
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
            os.replace(tmp, path)
        except OSError as exc:
            raise _cannot_write(path, _reason(path, exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, newline: str | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, as ``atomic_write`` does."""
    with atomic_write(path, "w", newline=newline) as fh:
        fh.write(text)

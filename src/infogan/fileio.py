"""Atomic file writes: a reader, a crash or a full disk never leaves half a file.

Everything the project writes that another step reads back (data files, checkpoints,
grids, metrics, evaluation results) goes through :func:`atomic_open`: the bytes go to a
temporary file in the same folder, are flushed and fsynced, and only then renamed over
the target, so the target is either the old file or the complete new one.

Its errors name the target, never the temporary file, with the reason in lower case
(``exc.filename`` ``OUT.png``, ``exc.strerror`` "is a directory, not a file" or
"permission denied"), so that a caller's "cannot write OUT.png (REASON)" reads well.
:func:`check_writable` meets the same errors before any work is done, so that a command
can refuse a bad output path before it spends minutes computing what it would write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def as_path(value: Any, what: str, *, kinds: str = "a path") -> Path:
    """``value`` (a str or os.PathLike) as a Path, or a ConfigError naming the argument
    ``what`` and the ``kinds`` of path it takes (an API caller's None or 5 otherwise
    surfaces as pathlib's bare TypeError, and "" would silently mean the current folder)."""
    from infogan.errors import ConfigError

    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{what} must be a str or pathlib.Path: {kinds}; got {value!r:.80}")
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{what} must name {kinds}; got the blank string {value!r:.80}")
    return Path(value)


def nearest_existing(folder: Path) -> Path:
    """``folder`` or the closest of its ancestors that exists (atomic_open makes the rest)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _unwritable(path: Path, exc: OSError) -> OSError:
    """``exc`` (met while writing ``path``) as an error of the same kind naming ``path``."""
    folder = nearest_existing(path.parent)
    if folder.exists() and not folder.is_dir():
        return NotADirectoryError(errno.ENOTDIR, f"{folder} is not a directory", str(path))
    if exc.errno == errno.ENOENT and folder.is_dir():  # /proc: a folder of no new files
        reason = f"{folder} takes no new files"
    else:
        reason = (exc.strerror or str(exc)).lower()
    return OSError(exc.errno, reason, str(path))


def _is_a_directory(path: Path) -> OSError:
    return IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Re-raise an OSError of the write itself as one that names ``path``."""
    try:
        yield
    except OSError as exc:
        raise _unwritable(path, exc) from None


def check_writable(path: Path | str) -> Path:
    """``path``, if :func:`atomic_open` can write it; otherwise the OSError it would meet,
    naming ``path`` and the reason: a directory there, a file where a folder should be,
    a folder that takes no new files. Leaves nothing behind (a probe file is made in the
    folder and removed; a missing folder is not created)."""
    path = Path(path)
    if path.is_dir():
        raise _is_a_directory(path)
    folder = nearest_existing(path.parent)
    if not folder.is_dir():
        raise _unwritable(path, NotADirectoryError(errno.ENOTDIR, "not a directory"))
    with _naming(path):
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    return path


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    ``mode`` is "wb" or "w" (text; ``kwargs`` go to :func:`os.fdopen`, e.g. ``newline``).
    On any error the temporary file is removed and ``path`` is left as it was. An error
    of the write itself (a directory at ``path``, an unwritable folder, a full disk) is an
    OSError naming ``path``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not 'wb' or 'w'")
    path = Path(path)
    if path.is_dir():
        raise _is_a_directory(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            with _naming(path):
                fh.flush()
                os.fsync(fh.fileno())
        with _naming(path):
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

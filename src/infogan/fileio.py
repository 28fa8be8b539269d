"""Atomic file writes: a reader, a crash or a full disk never leaves half a file.

Everything the project writes that another step reads back (data files, checkpoints,
grids, metrics, evaluation results) goes through :func:`atomic_open`: the bytes go to a
temporary file in the same folder, are flushed and fsynced, and only then renamed over
the target, so the target is either the old file or the complete new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    ``mode`` is "wb" or "w" (text; ``kwargs`` go to :func:`os.fdopen`, e.g. ``newline``).
    On any error the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not 'wb' or 'w'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

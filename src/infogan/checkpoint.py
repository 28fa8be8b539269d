"""One complete, versioned checkpoint file: written atomically, loaded with weights_only.

A checkpoint is a plain dict of tensors, numbers and strings, so that
``torch.load(..., weights_only=True)`` can read it and no file can run code:
both networks (unwrapped, uncompiled), both optimizers, the step and epoch, the
fixed noise of the sample grids, the sampling generator's RNG state and the
run's resolved configuration; with ``train.g_average``, also the running average of the
generator's weights that samples (``generator_average``).
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from infogan.errors import CheckpointError
from infogan.fileio import atomic_open

FORMAT = "infogan-checkpoint"
FORMAT_VERSION = 1
#: how a file torch.save writes begins (a ZIP archive's first local header)
ZIP_MAGIC = b"PK\x03\x04"


def save_checkpoint(state: dict[str, Any], path: Path | str) -> Path:
    """Write ``state`` (plus format tags) to ``path``: temporary file, fsync, rename.

    If anything fails, the previous file at ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **state}
    try:
        with atomic_open(path) as fh:
            torch.save(payload, fh)
        _fsync_dir(path.parent)
    except BaseException as exc:
        if isinstance(exc, OSError):
            detail = exc.strerror or str(exc)
        elif isinstance(exc, RuntimeError) and "pickle" not in str(exc).lower():
            detail = "write failed; is the disk full?"  # torch's stream writer hides the errno
        else:
            raise
        raise CheckpointError(
            f"{path}: could not write checkpoint ({detail}); the previous checkpoint is unchanged"
        ) from None
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: Path | str) -> dict:
    """Read and check a checkpoint; :class:`CheckpointError` for anything but a valid one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a checkpoint file")
    _check_zip(path)
    try:
        with warnings.catch_warnings():  # torch's notes on odd pickle protocols: the error says it
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # a pickled callable or class: possibly code
            raise CheckpointError(
                f"{path}: refused to load: it holds objects other than tensors and plain data "
                "(a checkpoint must never run code)"
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt pickle data)") from None
    except Exception as exc:  # torch.load raises many types on corrupt bytes
        raise CheckpointError(
            f"{path}: not a readable checkpoint (truncated or corrupt: {_reason(exc)})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an infogan checkpoint")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}, this infogan reads {FORMAT_VERSION}"
        )
    for key in ("config", "generator", "discriminator", "step"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(
            f"{path}: the checkpoint's step must be an integer >= 0, got {step!r}"
        )
    return state


def _check_zip(path: Path) -> None:
    """A CheckpointError if ``path`` is no ZIP archive, as every infogan checkpoint is
    (torch.save's format since PyTorch 1.6): torch.load's own error for a text or junk
    file is a bare number (the pickle opcode it choked on) or an internal message, and
    its reader of the old format need not run on such a file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(ZIP_MAGIC))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    if not head:
        raise CheckpointError(f"{path}: not a readable checkpoint (the file is empty)")
    if head != ZIP_MAGIC:
        raise CheckpointError(
            f"{path}: not a readable checkpoint (not a PyTorch checkpoint file at all)"
        )


def _reason(exc: Exception) -> str:
    """The first line of torch.load's error, without PyTorch's request for bug reports."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split("  (Could this error message be improved?")[0]
    text = text.split(". ")[0].rstrip(".")  # its first sentence ("... This is an internal ...")
    return text if len(text) <= 120 else text[:117].rsplit(" ", 1)[0] + "..."

"""What a run checks before it writes anything: the caller's arguments, the run to resume
(its checkpoint, its configuration, the steps its length leaves), the training images
(read here, or given and checked here) and, on a resume, that they are still the images
the run was trained on. A refusal here leaves the run directory as it was."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from infogan.checkpoint import load_checkpoint
from infogan.config import FOLDER_PREFIX, RunConfig, TrainConfig
from infogan.data import describe_dataset, load_dataset, prepare_dataset
from infogan.data.fetch import DATA_DIRS
from infogan.distributed import DistContext
from infogan.errors import CheckpointError, ConfigError, DataError, RunDirError
from infogan.fileio import as_path
from infogan.models import ARCHITECTURES
from infogan.training.build import check_compiler, resolve_device

#: how far past [-1, 1] a given image's values may stray (the rounding of x / 127.5 - 1)
RANGE_SLACK = 1e-3


def check_arguments(
    data_dir: Any, log: Any, probes: Any = ()
) -> tuple[Path | None, tuple[Callable, ...]]:
    """``data_dir`` as a Path (or None) and ``probes`` as a tuple, once ``log`` and each
    probe are known to be callable: a TypeError from deep inside would come after the
    run started (or, for a probe, once its networks were built)."""
    if not callable(log):
        raise ConfigError(
            f"log must be a function taking a line of text (print; lambda _m: None for "
            f"quiet), got {log!r:.60}"
        )
    if isinstance(probes, str) or not isinstance(probes, Iterable):
        raise ConfigError(f"probes must be a list of functions, got {probes!r:.60}")
    probes = tuple(probes)
    for i, make in enumerate(probes):
        if not callable(make):
            raise ConfigError(
                f"probes[{i}] must be a function of the built networks returning a "
                f"callback, got {make!r:.60}"
            )
    data_dir = None if data_dir is None else as_path(data_dir, "data_dir", kinds=DATA_DIRS)
    return data_dir, probes


def check_tools(config: RunConfig, *, tensorboard: bool) -> None:
    """A missing TensorBoard package (``tensorboard``) or compiler (``train.compile``),
    said before anything is written."""
    if tensorboard:
        from infogan.tensorboard import summary_writer_class

        summary_writer_class()
    if config.train.compile:
        check_compiler(resolve_device(config.train.device))


def check_images(config: RunConfig, images: Any) -> torch.Tensor:
    """``images`` given in place of the config's dataset, as float32 (other floating
    types are converted): a DataError unless they are a floating-point tensor
    (N, 1 or 3, S, S) with S the architecture's size and values in [-1, 1]. NaN is let
    through: it stops the run at its first step with a DivergenceError."""
    arch = config.model.arch
    size = ARCHITECTURES[arch][1]
    if not isinstance(images, torch.Tensor):
        raise DataError(
            f"images must be a torch.Tensor (N, C, {size}, {size}) in [-1, 1], got "
            f"{type(images).__name__} (torch.as_tensor(x, dtype=torch.float32) makes one)"
        )
    if not images.is_floating_point():
        raise DataError(
            f"images must be floating-point numbers in [-1, 1], got {images.dtype} "
            "(0..255 pixels: divide by 127.5 and subtract 1)"
        )
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[2:] != (size, size):
        raise DataError(
            f"images must be (N, 1 or 3, {size}, {size}) for {arch}, got shape "
            f"{tuple(images.shape)}"
        )
    low, high = _value_range(images)
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise DataError(
            f"images must be in [-1, 1] (0..255 pixels: divide by 127.5 and subtract 1), "
            f"got values from {low:.4g} to {high:.4g}"
        )
    return images.float()


def _value_range(images: torch.Tensor) -> tuple[float, float]:
    """The least and greatest of ``images``' values, NaN left out, a batch at a time (a
    float copy of the whole tensor could take gigabytes)."""
    low, high = math.inf, -math.inf
    for chunk in images.detach().split(1024):
        chunk = chunk.float()
        nan = chunk.isnan()
        low = min(low, chunk.masked_fill(nan, math.inf).min().item())
        high = max(high, chunk.masked_fill(nan, -math.inf).max().item())
    return low, high


def read_resumable(
    run_dir: Path,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str | None = None,
) -> tuple[dict, RunConfig]:
    """The checkpoint of the run in ``run_dir`` and the config to continue it with (its
    own, with the length and device changed: ``epochs`` without ``max_steps`` makes the
    length that many epochs); an error if it cannot resume or has no steps left."""
    if not (run_dir / "config.json").is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no config.json); nothing to resume")
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.is_file():
        raise RunDirError(
            f"{run_dir}: no checkpoint yet (checkpoints/last.pt); cannot resume: train it "
            "again with --overwrite"
        )
    state = load_checkpoint(ckpt_path)
    try:
        saved = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (ValueError, ConfigError) as exc:
        raise RunDirError(f"{run_dir / 'config.json'}: unreadable ({exc})") from None
    config = RunConfig.from_dict(state["config"])
    if (config.preset, config.model, config.latent) != (saved.preset, saved.model, saved.latent):
        raise CheckpointError(
            f"{ckpt_path}: checkpoint of preset {config.preset!r} ({config.model.arch}), "
            f"but the run is {saved.preset!r} ({saved.model.arch})"
        )
    for key in ("order", "position", "rng_state", "opt_g", "opt_d", "epoch"):
        if key not in state:
            raise CheckpointError(f"{ckpt_path}: checkpoint lacks {key!r}; cannot resume")
    config = config.with_length(epochs=epochs, max_steps=max_steps).with_train(device=device)
    config = config.validate()
    _check_steps_left(run_dir, state, config.train)
    return state, config


class NothingLeftToTrain(RunDirError):
    """A resume asked of a run that already has the steps its length asks for."""


def _check_steps_left(run_dir: Path, state: dict, t: TrainConfig) -> None:
    """A RunDirError if the run already has the steps its length (``t``: max_steps and
    epochs, an epoch being the checkpoint's data order over the batch) asks for."""
    step, order = int(state.get("step", 0)), state["order"]
    limit, total = f"--max-steps {t.max_steps}", t.max_steps or math.inf
    if order is not None and t.epochs * (len(order) // t.batch_size) < total:
        total = t.epochs * (len(order) // t.batch_size)
        limit = f"--epochs {t.epochs} ({total:,} steps)"
    if step >= total:
        where = f"trained for its {limit}" if step == total else f"past {limit} (at step {step:,})"
        raise NothingLeftToTrain(
            f"{run_dir}: already {where}; pass a larger --max-steps or --epochs to train on"
        )


def load_images(
    config: RunConfig, data_dir: Path | str | None, *, ctx: DistContext, log: Callable[[str], None]
) -> torch.Tensor:
    """The config's training images (N, C, S, S): fetched once, on rank 0, and read by
    every rank from the verified files."""
    _builder, size = ARCHITECTURES[config.model.arch]
    if ctx.is_main:
        prepare_dataset(config.data, data_dir, log=log)
    ctx.barrier()
    log(f"loading {describe_dataset(config.data.dataset)} ({size}x{size})")
    return load_dataset(config.data, data_dir, image_size=size, log=log)


def is_folder(dataset: str) -> bool:
    """A folder of images, which may change between a run and its resume (the IDX
    datasets are pinned by their digests)."""
    return dataset.startswith(FOLDER_PREFIX)


def images_digest(images: torch.Tensor) -> str:
    """SHA-256 of the training images' values in their order (N, C, S, S): an image
    edited, added, removed or renamed into another place gives another."""
    return hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def check_same_images(run_dir: Path, state: dict, images: torch.Tensor, dataset: str) -> None:
    """A DataError if ``images`` are not those the checkpoint's run trained on: another
    count, or (for a folder, whose checkpoint records their digest) other pixels."""
    order = state["order"]
    changed = f"{run_dir}: the dataset changed since this run was trained"
    restore = "resume needs the same images: restore them or start a new run"
    if order is not None and len(order) != len(images):
        raise DataError(
            f"{changed} ({len(order):,} images then, {len(images):,} now in "
            f"{describe_dataset(dataset)}); {restore}"
        )
    recorded = state.get("data_digest")
    if recorded is not None and is_folder(dataset) and recorded != images_digest(images):
        raise DataError(
            f"{changed} (the same {len(images):,} images in count, but their pixels or "
            f"order differ in {describe_dataset(dataset)}); {restore}"
        )

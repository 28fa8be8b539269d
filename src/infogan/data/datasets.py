"""Which images a run trains on: ``mnist``, ``fashion-mnist`` or ``folder:PATH``.

The IDX datasets (:mod:`infogan.data.idx`) are grey 28x28 images with labels. A
folder is every PNG and JPEG file under PATH, recursively, with no labels:
each image is centre-cropped to a square, resized once to the network's
resolution and held in memory as one float tensor (N, C, S, S) in [-1, 1],
grey (C = 1) or RGB (C = 3). Files that cannot be decoded are reported by name
and skipped. Before anything is decoded, the tensor's size is compared with the
memory available, so a folder too large for this machine is refused with the
estimate instead of running out of memory halfway.

A config names its dataset; :func:`resolve_data_config` fixes what the name
leaves open (the folder's absolute path, the channel count) before training
starts, so the saved configuration rebuilds the same networks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from infogan.config import DataConfig, RunConfig
from infogan.data.fetch import fetch_dataset, load_idx_dataset
from infogan.data.idx import IDX_DATASETS, IdxDataset
from infogan.data.memory import check_memory, memory_available
from infogan.errors import ConfigError, DataError

FOLDER_PREFIX = "folder:"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Unreadable files named one by one in the log; beyond this, only counted.
MAX_NAMED_SKIPS = 20
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})

Log = Callable[[str], None]


@dataclass(frozen=True)
class FolderDataset:
    """Every PNG/JPEG under ``root``, recursively; no labels."""

    root: Path


Dataset = IdxDataset | FolderDataset


def parse_dataset(name: str) -> Dataset:
    """The dataset a ``--dataset`` value names; :class:`ConfigError` for anything else.

    Only the name is checked here: whether a folder exists is a question for the
    machine that trains (:func:`resolve_data_config`), not for one loading the model.
    """
    if name in IDX_DATASETS:
        return IDX_DATASETS[name]
    if name.startswith(FOLDER_PREFIX):
        path = name[len(FOLDER_PREFIX) :]
        if not path.strip():
            raise ConfigError("--dataset folder:PATH needs a path after 'folder:'")
        return FolderDataset(Path(path).expanduser())
    raise ConfigError(
        f"unknown dataset {name!r}; expected {', '.join(IDX_DATASETS)} or folder:PATH"
    )


def describe_dataset(name: str) -> str:
    """How messages name a dataset: "MNIST", "the images under /data/faces"."""
    dataset = parse_dataset(name)
    if isinstance(dataset, FolderDataset):
        return f"the images under {dataset.root}"
    return dataset.title


# --- a folder of images ------------------------------------------------------


def list_images(root: Path | str) -> list[Path]:
    """Every .png/.jpg/.jpeg file under ``root`` (any case), in a fixed order.

    Hidden files and folders (a leading dot) are left out.
    """
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                found.append(Path(folder) / name)
    return found


def _is_grey(image: Image.Image) -> bool:
    if image.mode in _GREY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = image.getpalette() or []
        rgb = np.asarray(palette[: len(palette) - len(palette) % 3]).reshape(-1, 3)
        return bool((rgb == rgb[:, :1]).all())
    return False


def detect_channels(paths: Sequence[Path]) -> int:
    """3 if any readable image is in colour, else 1 (reads file headers only)."""
    for path in paths:
        try:
            with Image.open(path) as image:
                if not _is_grey(image):
                    return 3
        except Exception:  # unreadable files are reported when the images are loaded
            continue
    return 1


def decode_image(path: Path, *, image_size: int, channels: int) -> np.ndarray:
    """One file as uint8 (S, S, C): upright (EXIF), centre-cropped square, resized once."""
    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as image:
        image.draft(mode, (image_size, image_size))  # JPEG: decode at a reduced scale
        image = ImageOps.exif_transpose(image)
        image = _eight_bit(image).convert(mode)
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        if side != image_size:
            image = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
        pixels = np.array(image, dtype=np.uint8)  # a writable copy, for torch
    return pixels.reshape(image_size, image_size, channels)


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey image (PNG's I;16, or 32-bit I as some files decode) scaled to 8 bits:
    Pillow's own conversion clips everything above 255 to white."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L"):
        return image
    pixels = np.asarray(image).astype(np.float64) / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")


def load_folder(
    root: Path | str,
    *,
    image_size: int,
    channels: int = 0,
    log: Log | None = None,
    memory: int | None = None,
) -> torch.Tensor:
    """Every readable image under ``root`` as float32 (N, C, S, S) in [-1, 1].

    ``channels`` 1 or 3 converts every image to grey or RGB; 0 detects it (3 if any
    image is in colour). The tensor is laid out channels-last, as training wants it.
    Unreadable files are logged by name and skipped. ``memory`` is the bytes of memory
    to check the tensor's size against (default: what this machine has available).
    """
    log = log or (lambda _msg: None)
    root = Path(root)
    source = f"{FOLDER_PREFIX}{root}"
    if not root.is_dir():
        raise DataError(f"{source}: no such directory")
    paths = list_images(root)
    if not paths:
        raise DataError(f"{source}: no PNG or JPEG images in this folder or below it")
    if channels == 0:
        channels = detect_channels(paths)
    if channels not in (1, 3):
        raise ConfigError(f"data.channels must be 1 (grey) or 3 (RGB), got {channels}")
    available = memory if memory is not None else memory_available()
    check_memory(len(paths), channels, image_size, available=available, source=source)

    out = torch.empty(
        (len(paths), channels, image_size, image_size), memory_format=torch.channels_last
    )
    kept = 0
    skipped: list[str] = []
    for path in paths:
        try:
            pixels = decode_image(path, image_size=image_size, channels=channels)
        except Exception as exc:  # any decoder failure means this one file is unusable
            name = str(path.relative_to(root))
            skipped.append(name)
            if len(skipped) <= MAX_NAMED_SKIPS:
                log(f"skipped {name}: unreadable image ({_reason(exc)})")
            continue
        x = torch.from_numpy(pixels).permute(2, 0, 1)  # (C, S, S) uint8
        out[kept] = x.float().div_(127.5).sub_(1.0)
        kept += 1
    if len(skipped) > MAX_NAMED_SKIPS:
        log(f"skipped {len(skipped) - MAX_NAMED_SKIPS} more unreadable images")
    if kept == 0:
        raise DataError(f"{source}: none of the {len(paths)} image files could be read")
    kind = "grey" if channels == 1 else "RGB"
    note = f", {len(skipped)} unreadable skipped" if skipped else ""
    log(f"loaded {kept:,} {kind} images from {root}{note}")
    return out[:kept]


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


# --- the dataset a config names ------------------------------------------------


def resolve_data_config(config: RunConfig, *, images: torch.Tensor | None = None) -> RunConfig:
    """``config`` with its data fixed for training: a folder's absolute path, the channels.

    With ``images`` (N, C, S, S) given in place of the dataset, C is the channel count.
    Otherwise the IDX datasets are grey (1); a folder's count is ``data.channels`` or,
    if that is 0, detected from its images.
    """
    data = config.data
    dataset = parse_dataset(data.dataset)
    channels = data.channels
    name = data.dataset
    if images is not None:
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"images must be (N, 1 or 3, S, S), got {tuple(images.shape)}")
        if channels not in (0, images.shape[1]):
            raise ConfigError(
                f"data.channels {channels} does not match the images' {images.shape[1]} channels"
            )
        channels = int(images.shape[1])
    elif isinstance(dataset, IdxDataset):
        if channels not in (0, 1):
            raise ConfigError(f"data.channels {channels}: {dataset.title} is grey (1 channel)")
        channels = 1
    else:
        root = dataset.root.resolve()
        name = f"{FOLDER_PREFIX}{root}"
        if not root.is_dir():
            raise DataError(f"{FOLDER_PREFIX}{dataset.root}: no such directory")
        if channels == 0:
            paths = list_images(root)
            if not paths:
                raise DataError(f"{name}: no PNG or JPEG images in this folder or below it")
            channels = detect_channels(paths)
    resolved = dataclasses.replace(data, dataset=name, channels=channels)
    return dataclasses.replace(config, data=resolved)


def prepare_dataset(
    data: DataConfig, data_dir: Path | str | None, *, log: Log | None = None
) -> None:
    """Fetch and verify an IDX dataset's files (nothing to do for a folder)."""
    dataset = parse_dataset(data.dataset)
    if isinstance(dataset, IdxDataset):
        fetch_dataset(dataset, data_dir, log=log)


def load_dataset(
    data: DataConfig,
    data_dir: Path | str | None = None,
    *,
    split: str = "train",
    image_size: int,
    log: Log | None = None,
) -> torch.Tensor:
    """The images ``data`` names, (N, C, S, S) float32 in [-1, 1] at ``image_size``.

    ``data_dir`` holds the IDX datasets' files (fetched on first use); a folder has
    only a training split. The training split leaves out its last ``data.holdout``
    images (the validation split).
    """
    dataset = parse_dataset(data.dataset)
    if isinstance(dataset, FolderDataset):
        if split != "train":
            raise DataError(f"{data.dataset}: a folder of images has no {split!r} split")
        images = load_folder(dataset.root, image_size=image_size, channels=data.channels, log=log)
    else:
        if data.channels not in (0, 1):
            raise ConfigError(f"data.channels {data.channels}: {dataset.title} is grey (1 channel)")
        images, _labels = load_idx_dataset(dataset, data_dir, split=split, image_size=image_size)
    if split == "train" and data.holdout:
        if data.holdout >= len(images) - 1:
            raise ConfigError(
                f"--holdout {data.holdout} leaves no training images ({len(images)} in all)"
            )
        images = images[: len(images) - data.holdout]
    return images


__all__ = [
    "FOLDER_PREFIX",
    "FolderDataset",
    "check_memory",
    "decode_image",
    "describe_dataset",
    "detect_channels",
    "list_images",
    "load_dataset",
    "load_folder",
    "memory_available",
    "parse_dataset",
    "prepare_dataset",
    "resolve_data_config",
]

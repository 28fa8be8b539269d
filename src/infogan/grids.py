"""Image grids as PNG files, with numpy and Pillow only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from infogan.fileio import atomic_open


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round()
    return x.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def make_grid(
    images: torch.Tensor, *, nrow: int = 10, padding: int = 2, pad_value: int = 255
) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 array, ``nrow`` images per row.

    Returns (rows*(H+p)+p, nrow*(W+p)+p) for one channel, with a trailing channel
    axis for three.
    """
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    rows = -(-n // nrow)
    grid = np.full(
        (rows * (h + padding) + padding, nrow * (w + padding) + padding, c), pad_value, np.uint8
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = tiles[i]
    return grid[..., 0] if c == 1 else grid


def save_png(array: np.ndarray, path: Path | str) -> Path:
    """Write a uint8 array as PNG atomically (a reader never sees half a file)."""
    path = Path(path)
    with atomic_open(path) as fh:
        Image.fromarray(array).save(fh, format="PNG")
    return path


def save_grid(images: torch.Tensor, path: Path | str, *, nrow: int = 10) -> Path:
    return save_png(make_grid(images, nrow=nrow), path)

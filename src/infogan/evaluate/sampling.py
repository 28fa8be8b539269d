"""Draws from a trained generator: samples from the prior, and sweeps of one continuous code.

Both are deterministic given a seed: noise and codes come from one
``torch.Generator``; images are generated in batches to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from infogan.api import InfoGANModel
from infogan.errors import ConfigError
from infogan.fileio import atomic_open

GENERATE_BATCH = 500
#: the most digits per categorical code one call draws: every image is held in memory
#: (10,000 x 10 codes of 64x64 float32: 1.6 GB; a billion would need terabytes)
MAX_PER_CATEGORY = 10_000
#: the most images one sweep of a continuous code draws, for the same reason
MAX_SWEEP_IMAGES = 100_000


@dataclass(frozen=True)
class Samples:
    images: np.ndarray  # (N, 1, H, W) float32 in [-1, 1]
    categories: np.ndarray  # (N,) int64
    continuous: np.ndarray  # (N, num_continuous) float32
    noise: np.ndarray  # (N, noise_dim) float32

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "images": self.images,
            "categories": self.categories,
            "continuous": self.continuous,
            "noise": self.noise,
        }


def use_channels_last(model: InfoGANModel) -> InfoGANModel:
    """Switch both nets to channels-last memory, in place, and return the model.

    A layout change only (outputs agree up to float round-off), about twice as fast
    for these conv nets on CPU.
    """
    model.generator.to(memory_format=torch.channels_last)
    model.discriminator.to(memory_format=torch.channels_last)
    return model


def check_seed(seed: int) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ConfigError(f"--seed must be in [0, 2^63), got {seed}")
    return seed


def check_sweep(draws: int, values: int) -> None:
    """A ConfigError unless a sweep of ``draws`` x ``values`` images fits the bound that
    every image a sweep draws is held in memory: at most :data:`MAX_SWEEP_IMAGES`."""
    if draws * values > MAX_SWEEP_IMAGES:
        raise ConfigError(
            f"--sweep-draws x --sweep-values must be at most {MAX_SWEEP_IMAGES:,} images (every "
            f"one is held in memory), got {draws:,} x {values:,}"
        )


def check_per_category(per_category: int) -> int:
    if not isinstance(per_category, int) or isinstance(per_category, bool) or per_category < 1:
        raise ConfigError(f"--per-category must be a positive integer, got {per_category}")
    if per_category > MAX_PER_CATEGORY:
        raise ConfigError(
            f"--per-category must be at most {MAX_PER_CATEGORY:,} (every digit is held in "
            f"memory), got {per_category:,}"
        )
    return per_category


def _batches(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def generate_batched(
    model: InfoGANModel,
    categories: torch.Tensor,
    continuous: torch.Tensor,
    noise: torch.Tensor,
    *,
    progress: bool = False,
    desc: str = "generating",
) -> np.ndarray:
    """(N, 1, H, W) float32 images for N codes, :data:`GENERATE_BATCH` at a time."""
    out = []
    n = len(categories)
    with tqdm(total=n, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for part in _batches(n, GENERATE_BATCH):
            images = model.generate(categories[part], continuous[part], noise=noise[part])
            out.append(images.numpy().astype(np.float32, copy=False))
            bar.update(part.stop - part.start)
    return np.concatenate(out)


def sample_prior(
    model: InfoGANModel, *, per_category: int, seed: int = 0, progress: bool = False
) -> Samples:
    """``per_category`` images for each value of the categorical code, in code order.

    Noise z ~ N(0, I) and continuous codes ~ U(-1, 1) are fresh draws from the prior;
    ``per_category`` is at most :data:`MAX_PER_CATEGORY`.
    """
    check_per_category(per_category)
    check_seed(seed)
    lat = model.config.latent
    n = lat.num_categories * per_category
    gen = torch.Generator().manual_seed(seed)
    categories = torch.arange(lat.num_categories).repeat_interleave(per_category)
    noise = torch.randn(n, lat.noise_dim, generator=gen)
    continuous = torch.rand(n, lat.num_continuous, generator=gen) * 2 - 1
    images = generate_batched(model, categories, continuous, noise, progress=progress)
    return Samples(
        images=images,
        categories=categories.numpy().astype(np.int64),
        continuous=continuous.numpy().astype(np.float32),
        noise=noise.numpy().astype(np.float32),
    )


@dataclass(frozen=True)
class Sweep:
    images: np.ndarray  # (D, V, 1, H, W): D noise draws, V values of the swept code
    values: np.ndarray  # (V,) the swept code's values, from low to high
    categories: np.ndarray  # (D,) the categorical code of each draw


def sweep_code(
    model: InfoGANModel,
    which: int,
    *,
    draws: int,
    values: int,
    low: float = -1.0,
    high: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> Sweep:
    """Continuous code ``which`` from ``low`` to ``high``; everything else held per draw.

    Each draw has its own noise and a categorical code cycling through every value;
    the other continuous codes stay at 0, as in the ``varying_c*`` grids.
    """
    lat = model.config.latent
    if not 0 <= which < lat.num_continuous:
        raise ConfigError(f"continuous code index {which} out of range")
    if draws < 1 or values < 2:
        raise ConfigError("a sweep needs at least 1 draw and 2 values")
    check_sweep(draws, values)
    check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(draws, lat.noise_dim, generator=gen)
    cats = torch.arange(draws) % lat.num_categories
    grid = torch.linspace(low, high, values)
    continuous = torch.zeros(draws, values, lat.num_continuous)
    continuous[:, :, which] = grid
    images = generate_batched(
        model,
        cats.repeat_interleave(values),
        continuous.reshape(draws * values, lat.num_continuous),
        noise.repeat_interleave(values, dim=0),
        progress=progress,
        desc=f"sweeping c{which + 1}",
    )
    return Sweep(
        images=images.reshape(draws, values, *images.shape[1:]),
        values=grid.numpy().astype(np.float64),
        categories=cats.numpy().astype(np.int64),
    )


def save_samples(samples: Samples, path: Path | str) -> Path:
    """Write the samples as a compressed ``.npz`` file, atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {path}")
    with atomic_open(path) as fh:
        np.savez_compressed(fh, **samples.as_arrays())
    return path

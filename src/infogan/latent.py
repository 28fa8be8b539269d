"""The latent code's layout, its prior, and the codes behind the sample grids.

The generator's input is the concatenation ``(z, c_d, c_c)``: noise z ~ N(0, I),
a one-hot categorical code c_d uniform over its values, and continuous codes
c_c ~ U(-1, 1). This module is the only place that knows that layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from infogan.config import LatentConfig


@dataclass(frozen=True)
class LatentBatch:
    noise: torch.Tensor  # (B, noise_dim)
    categories: torch.Tensor  # (B,) int64 indices into the categorical code
    continuous: torch.Tensor  # (B, num_continuous)


class LatentCode:
    """Samples the prior and assembles generator inputs for one :class:`LatentConfig`."""

    def __init__(self, config: LatentConfig):
        self.config = config

    @property
    def dim(self) -> int:
        return self.config.dim

    def assemble(self, batch: LatentBatch) -> torch.Tensor:
        """(B, noise_dim + num_categories + num_continuous) generator input."""
        # not F.one_hot: it checks the categories' range on the host, a device sync a step
        cats = batch.categories[:, None]  # (B, 1)
        one_hot = torch.zeros(cats.shape[0], self.config.num_categories, dtype=batch.noise.dtype,
                              device=cats.device).scatter_(1, cats, 1.0)  # fmt: skip
        return torch.cat([batch.noise, one_hot, batch.continuous.to(batch.noise.dtype)], dim=1)

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> LatentBatch:
        """Draw ``batch_size`` codes from the prior (on ``generator``'s device)."""
        cfg = self.config
        noise = torch.randn(batch_size, cfg.noise_dim, generator=generator, device=device)
        categories = torch.randint(
            cfg.num_categories, (batch_size,), generator=generator, device=device
        )
        continuous = (
            torch.rand(batch_size, cfg.num_continuous, generator=generator, device=device) * 2 - 1
        )
        return LatentBatch(noise, categories, continuous)

    # --- the grids a run shows (docs/infogan.md, 'What a run shows'): 10x10, column = value
    # of the categorical code ---

    def grid_fixed(self, row_noise: torch.Tensor) -> LatentBatch:
        """Row r uses ``row_noise[r]`` in every column; column c is category c; c_c = 0."""
        rows = row_noise.shape[0]
        cols = self.config.num_categories
        noise = row_noise.repeat_interleave(cols, dim=0)
        categories = torch.arange(cols, device=row_noise.device).repeat(rows)
        continuous = torch.zeros(rows * cols, self.config.num_continuous, device=row_noise.device)
        return LatentBatch(noise, categories, continuous)

    def grid_varying(
        self, which: int, *, rows: int = 10, low: float = -1.0, high: float = 1.0, device="cpu"
    ) -> LatentBatch:
        """Noise 0; continuous code ``which`` goes from ``low`` (top) to ``high`` (bottom)."""
        cfg = self.config
        if not 0 <= which < cfg.num_continuous:
            raise ValueError(f"continuous code index {which} out of range")
        cols = cfg.num_categories
        noise = torch.zeros(rows * cols, cfg.noise_dim, device=device)
        categories = torch.arange(cols, device=device).repeat(rows)
        continuous = torch.zeros(rows * cols, cfg.num_continuous, device=device)
        values = torch.linspace(low, high, rows, device=device)
        continuous[:, which] = values.repeat_interleave(cols)
        return LatentBatch(noise, categories, continuous)

"""Network architectures, looked up by name from a :class:`~infogan.config.RunConfig`."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from infogan.config import RunConfig
from infogan.models.seed64 import Discriminator64, Generator64


def _seed64(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    lat = config.latent
    return (
        Generator64(latent_dim=lat.dim),
        Discriminator64(num_categories=lat.num_categories, num_continuous=lat.num_continuous),
    )


#: name -> (builder, image size the architecture works at)
ARCHITECTURES: dict[str, tuple[Callable[[RunConfig], tuple[nn.Module, nn.Module]], int]] = {
    "seed64": (_seed64, 64),
}


def build_models(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    """A freshly initialised (generator, discriminator-with-Q) pair for ``config``."""
    builder, _size = ARCHITECTURES[config.model.arch]
    return builder(config)


__all__ = ["ARCHITECTURES", "Discriminator64", "Generator64", "build_models"]

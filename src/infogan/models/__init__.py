"""Network architectures, looked up by name from a :class:`~infogan.config.RunConfig`."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from infogan.config import ARCH_SIZES, RunConfig
from infogan.models.paper28 import Discriminator28, Generator28
from infogan.models.seed64 import Discriminator64, Generator64


def image_channels(config: RunConfig) -> int:
    """The channel count of the images the networks make and judge.

    0 (not resolved yet) means grey: the IDX datasets are grey, and training resolves
    a folder's count from its images before it builds anything.
    """
    return config.data.channels or 1


#: what builds an architecture's (generator, discriminator-with-Q) pair from a config
Builder = Callable[[RunConfig], tuple[nn.Module, nn.Module]]


def _builder(generator: type[nn.Module], discriminator: type[nn.Module]) -> Builder:
    """The builder of a ``generator`` and ``discriminator`` pair of classes: both take
    the config's latent code, image channels and Q's settings."""

    def build(config: RunConfig) -> tuple[nn.Module, nn.Module]:
        lat = config.latent
        channels = image_channels(config)
        return (
            generator(latent_dim=lat.dim, channels=channels),
            discriminator(
                num_categories=lat.num_categories,
                num_continuous=lat.num_continuous,
                channels=channels,
                separate_q=config.model.separate_q,
                overcluster=config.model.overcluster,
            ),
        )

    return build


#: name -> (builder, image size the architecture works at)
ARCHITECTURES: dict[str, tuple[Builder, int]] = {
    "seed64": (_builder(Generator64, Discriminator64), ARCH_SIZES["seed64"]),
    "paper28": (_builder(Generator28, Discriminator28), ARCH_SIZES["paper28"]),
}


def build_models(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    """A freshly initialised (generator, discriminator-with-Q) pair for ``config``."""
    builder, _size = ARCHITECTURES[config.model.arch]
    return builder(config)


__all__ = [
    "ARCHITECTURES",
    "Discriminator28",
    "Discriminator64",
    "Generator28",
    "Generator64",
    "build_models",
    "image_channels",
]

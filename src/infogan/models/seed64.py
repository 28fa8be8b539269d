"""The seed's 64x64 DCGAN-style InfoGAN: generator, and discriminator with a shared Q head.

The seed's networks, reproduced exactly: the generator has 3,279,744 parameters, the
discriminator (trunk, D head and Q head) 2,861,836.

With ``separate_q`` (the recipe's presets) the categorical code is read through a hidden
layer of its own (Linear 8192 -> 128, BatchNorm, LeakyReLU, then the K categories), on
which an over-clustering head can sit, while the continuous codes keep the seed's linear
reading of the trunk's features: 968,192 parameters more than the seed's Q for K = 10
and C = 2, and 6,450 more for a 50-category over-clustering head (3,836,478 in all).
"""

from __future__ import annotations

import torch
from torch import nn

from infogan.models.cast import Linear
from infogan.models.conv import Conv2d, ConvTranspose2d, Flatten
from infogan.models.fused import Sequential
from infogan.models.norm import BatchNorm1d, BatchNorm2d

# The activations write new maps rather than overwrite their inputs: at batch 128 the maps
# outgrow the cache, and PyTorch's in-place bf16 ReLU and LeakyReLU on the CPU took twice
# as long as the out-of-place ones there (docs/speed.md).


def _up(c_in: int, c_out: int, *, first: bool = False) -> list[nn.Module]:
    up = ConvTranspose2d(c_in, c_out, 4, 1, 0) if first else ConvTranspose2d(c_in, c_out)
    return [
        up,
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]


def _down(c_in: int, c_out: int, *, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [Conv2d(c_in, c_out)]
    if norm:  # D's: it judges several batches in one pass (models/norm.py)
        layers.append(BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2))
    return layers


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02).

    Linear layers (the Q head) keep PyTorch's default, as in the seed.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator64(nn.Module):
    """(B, latent_dim) code -> (B, channels, 64, 64) image in [-1, 1]."""

    def __init__(self, latent_dim: int = 64, channels: int = 1):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = Sequential(
            *_up(latent_dim, 512, first=True),  # (B, 512, 4, 4)
            *_up(512, 256),  # (B, 256, 8, 8)
            *_up(256, 128),  # (B, 128, 16, 16)
            *_up(128, 64),  # (B, 64, 32, 32)
            ConvTranspose2d(64, channels),  # (B, C, 64, 64)
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code.view(code.shape[0], self.latent_dim, 1, 1))


def hidden_q_head(in_features: int, outputs: int) -> Sequential:
    """Q's hidden layer (Linear 128, BatchNorm, LeakyReLU 0.1) and its output layer."""
    return Sequential(
        Linear(in_features, 128, bias=False),
        BatchNorm1d(128),
        nn.LeakyReLU(0.1),
        Linear(128, outputs),
    )


class Discriminator64(nn.Module):
    """(B, channels, 64, 64) image -> D logit (B,), Q's categorical logits and continuous estimate.

    The Q head reads the same trunk features as D, so the information loss
    trains the trunk too.
    """

    def __init__(
        self,
        num_categories: int = 10,
        num_continuous: int = 2,
        channels: int = 1,
        *,
        separate_q: bool = False,
        overcluster: int = 0,
    ):
        super().__init__()
        self.num_categories = num_categories
        self.separate_q = separate_q
        self.trunk = Sequential(
            *_down(channels, 64, norm=False),  # (B, 64, 32, 32)
            *_down(64, 128),  # (B, 128, 16, 16)
            *_down(128, 256),  # (B, 256, 8, 8)
            *_down(256, 512),  # (B, 512, 4, 4)
        )
        self.d_head = Conv2d(512, 1, 4, 1, 0)  # (B, 1, 1, 1)
        self.flatten = Flatten()
        if separate_q:
            self.q_head = hidden_q_head(512 * 4 * 4, num_categories)
            self.q_cont_head = Linear(512 * 4 * 4, num_continuous)
        else:
            self.q_head = Linear(512 * 4 * 4, num_categories + num_continuous)
        if overcluster and not separate_q:
            raise ValueError("an over-clustering head needs separate_q (Q's hidden layer)")
        # IIC's over-clustering head on the categories' hidden layer (see paper28)
        self.over_head = Linear(128, overcluster) if overcluster else None
        self.apply(dcgan_init)

    def forward(
        self, image: torch.Tensor, *, overcluster: bool = False
    ) -> tuple[torch.Tensor, ...]:
        """(D logit, categorical logits, continuous estimates), and with ``overcluster``
        the over-clustering head's logits (B, N) as a fourth output."""
        features = self.trunk(image)  # (B, 512, 4, 4)
        d_logit = self.d_head(features).flatten()  # (B,)
        flat = self.flatten(features)  # (B, 8192)
        if not self.separate_q:
            q = self.q_head(flat)  # (B, num_categories + num_continuous)
            if overcluster:
                raise ValueError("this discriminator has no over-clustering head")
            return d_logit, q[:, : self.num_categories], q[:, self.num_categories :]
        hidden = self.q_head[:3](flat)  # (B, 128)
        outputs = (d_logit, self.q_head[3](hidden), self.q_cont_head(flat))
        if overcluster:
            if self.over_head is None:
                raise ValueError("this discriminator has no over-clustering head")
            outputs += (self.over_head(hidden),)
        return outputs

"""The seed's 64x64 DCGAN-style InfoGAN: generator, and discriminator with a shared Q head.

Exactly SPEC sections 2-3: the generator has 3,279,744 parameters, the
discriminator (trunk, D head and Q head) 2,861,836.
"""

from __future__ import annotations

import torch
from torch import nn


def _up(c_in: int, c_out: int, *, first: bool = False) -> list[nn.Module]:
    stride, padding = (1, 0) if first else (2, 1)
    return [
        nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _down(c_in: int, c_out: int, *, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
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
        self.net = nn.Sequential(
            *_up(latent_dim, 512, first=True),  # (B, 512, 4, 4)
            *_up(512, 256),  # (B, 256, 8, 8)
            *_up(256, 128),  # (B, 128, 16, 16)
            *_up(128, 64),  # (B, 64, 32, 32)
            nn.ConvTranspose2d(64, channels, 4, 2, 1, bias=False),  # (B, C, 64, 64)
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code.view(code.shape[0], self.latent_dim, 1, 1))


class Discriminator64(nn.Module):
    """(B, channels, 64, 64) image -> D logit (B,), Q's categorical logits and continuous estimate.

    The Q head reads the same trunk features as D, so the information loss
    trains the trunk too.
    """

    def __init__(self, num_categories: int = 10, num_continuous: int = 2, channels: int = 1):
        super().__init__()
        self.num_categories = num_categories
        self.trunk = nn.Sequential(
            *_down(channels, 64, norm=False),  # (B, 64, 32, 32)
            *_down(64, 128),  # (B, 128, 16, 16)
            *_down(128, 256),  # (B, 256, 8, 8)
            *_down(256, 512),  # (B, 512, 4, 4)
        )
        self.d_head = nn.Conv2d(512, 1, 4, 1, 0, bias=False)  # (B, 1, 1, 1)
        self.q_head = nn.Linear(512 * 4 * 4, num_categories + num_continuous)
        self.apply(dcgan_init)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.trunk(image)  # (B, 512, 4, 4)
        d_logit = self.d_head(features).flatten()  # (B,)
        q = self.q_head(features.flatten(1))  # (B, num_categories + num_continuous)
        return d_logit, q[:, : self.num_categories], q[:, self.num_categories :]

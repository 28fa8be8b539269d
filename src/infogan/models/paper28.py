"""The InfoGAN paper's MNIST network at 28x28 (docs/infogan.md, 'The paper's network').

Generator: Linear 1024 -> Linear 7x7x128 -> ConvTranspose 64 (14x14) -> ConvTranspose C (28x28).
Discriminator: a shared trunk (Conv 64, Conv 128, Linear 1024) with two heads, D (one
logit) and Q (Linear 128, then the code's outputs). Q models each continuous code as a
factored Gaussian: it outputs a mean and a log standard deviation per code, so the third
output of :meth:`Discriminator28.forward` is ``(B, 2 * num_continuous)``: the means
first, then the log-stds. Only with ``train.cont_loss = "gaussian"`` (paper28,
restyle28) is the Gaussian trained by its negative log-likelihood; with "mse" (tilt28
and the later presets) the means are scored by squared error and the log-stds are
unused.

With ``separate_q`` the categorical code and the continuous codes each get their own
hidden layer (``q_head`` then ends in the K categories, ``q_cont_head`` in the 2C
Gaussian outputs): the continuous codes' loss teaches Q's hidden layer to read the
turn and width of a digit, and shared, those directions are the first ones a
categorical split of real digits can use.
"""

from __future__ import annotations

import torch
from torch import nn

from infogan.models.cast import Linear
from infogan.models.conv import Conv2d, ConvTranspose2d, Flatten
from infogan.models.fused import Sequential
from infogan.models.norm import BatchNorm1d, BatchNorm2d
from infogan.models.seed64 import dcgan_init, hidden_q_head

#: log-std of Q's Gaussian is kept in this range so its likelihood stays finite
LOG_STD_RANGE = (-5.0, 2.0)


class Generator28(nn.Module):
    """(B, latent_dim) code -> (B, channels, 28, 28) image in [-1, 1]."""

    def __init__(self, latent_dim: int = 74, channels: int = 1):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = Sequential(
            Linear(latent_dim, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.ReLU(inplace=True),
            Linear(1024, 128 * 7 * 7, bias=False),
            nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(inplace=True),
        )
        self.conv = Sequential(
            ConvTranspose2d(128, 64),  # (B, 64, 14, 14)
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            ConvTranspose2d(64, channels, bias=True),  # (B, C, 28, 28)
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.conv(self.fc(code).view(code.shape[0], 128, 7, 7))


class Discriminator28(nn.Module):
    """(B, channels, 28, 28) image -> D logit (B,), Q's categorical logits (B, K) and
    the continuous codes' Gaussian (B, 2C): means, then log-stds."""

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
        self.num_continuous = num_continuous
        self.separate_q = separate_q
        self.trunk = Sequential(
            Conv2d(channels, 64, bias=True),  # (B, 64, 14, 14)
            nn.LeakyReLU(0.1, inplace=True),
            Conv2d(64, 128),  # (B, 128, 7, 7)
            BatchNorm2d(128),  # D's BatchNorm keeps the batches of one pass apart
            nn.LeakyReLU(0.1, inplace=True),
            Flatten(),
            Linear(128 * 7 * 7, 1024, bias=False),
            BatchNorm1d(1024),
            nn.LeakyReLU(0.1, inplace=True),
        )
        self.d_head = Linear(1024, 1)
        cont_outputs = 2 * num_continuous
        if separate_q:
            self.q_head = hidden_q_head(1024, num_categories)
            self.q_cont_head = hidden_q_head(1024, cont_outputs)
        else:
            self.q_head = hidden_q_head(1024, num_categories + cont_outputs)
        # IIC's over-clustering head: more categories than digits on Q's hidden layer,
        # trained only by the paired clustering term (forward(..., overcluster=True))
        self.over_head = Linear(128, overcluster) if overcluster else None
        self.apply(dcgan_init)

    def forward(
        self, image: torch.Tensor, *, overcluster: bool = False
    ) -> tuple[torch.Tensor, ...]:
        """(D logit, categorical logits, Gaussian), and with ``overcluster`` the
        over-clustering head's logits (B, N) as a fourth output."""
        features = self.trunk(image)  # (B, 1024)
        d_logit = self.d_head(features).flatten()  # (B,)
        hidden = self.q_head[:3](features)  # (B, 128)
        q = self.q_head[3](hidden)  # (B, K + 2C), or (B, K) with separate_q
        if self.separate_q:
            q = torch.cat([q, self.q_cont_head(features)], dim=1)
        k, c = self.num_categories, self.num_continuous
        mean, log_std = q[:, k : k + c], q[:, k + c :].clamp(*LOG_STD_RANGE)
        outputs = (d_logit, q[:, :k], torch.cat([mean, log_std], dim=1))
        if overcluster:
            if self.over_head is None:
                raise ValueError("this discriminator has no over-clustering head")
            outputs += (self.over_head(hidden),)
        return outputs

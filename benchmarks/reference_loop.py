"""A plain InfoGAN training loop written the textbook way, as the speed baseline.

One PIL-resized, normalised image at a time through a ``Dataset`` and a
``DataLoader``; fp32, NCHW; BCE on sigmoid probabilities; every loss read back
with ``.item()`` each step. Same networks, losses, optimizers and batch size as
the project's trainer, so that the benchmark compares like with like.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset


class MnistPilDataset(Dataset):
    """uint8 (N, 28, 28) digits, each resized with PIL and normalised on access."""

    def __init__(self, digits: np.ndarray, size: int):
        self.digits = digits
        self.size = size

    def __len__(self) -> int:
        return len(self.digits)

    def __getitem__(self, index: int) -> torch.Tensor:
        image = Image.fromarray(self.digits[index]).resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
        return ((x - 0.5) / 0.5).unsqueeze(0)  # (1, S, S) in [-1, 1]


def textbook_layers(module: nn.Module) -> nn.Module:
    """``module`` with PyTorch's own layers in place of the project's subclasses of them
    (which compute small-map convolutions as matrix products and cast weights once a
    step), holding the same weights: the network as a textbook loop builds it."""
    for name, child in module.named_children():
        plain = _plain_layer(child)
        if plain is child:
            textbook_layers(child)
        else:
            setattr(module, name, plain)
    return module


def _plain_layer(layer: nn.Module) -> nn.Module:
    kinds = (nn.ConvTranspose2d, nn.Conv2d, nn.Linear)
    kind = next((k for k in kinds if isinstance(layer, k)), None)
    if kind is None or type(layer) is kind:
        return layer
    bias = layer.bias is not None
    if kind is nn.Linear:
        plain = nn.Linear(layer.in_features, layer.out_features, bias=bias)
    else:
        plain = kind(
            layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
            layer.padding, bias=bias,
        )  # fmt: skip
    plain.load_state_dict(layer.state_dict())
    return plain


def make_loader(digits: np.ndarray, size: int, batch_size: int, seed: int = 0) -> DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        MnistPilDataset(digits, size),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        generator=gen,
    )


class ReferenceStep:
    """The textbook iteration: D step, G step, a fresh D(G(z)) pass, .item() for each value."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        *,
        num_categories: int,
        lr_g: float = 1e-3,
        lr_d: float = 2e-4,
        lambda_cat: float = 1.0,
        lambda_cont: float = 1.0,
    ):
        self.G, self.D = generator, discriminator
        self.k = num_categories
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=(0.5, 0.999))
        self.lambda_cat, self.lambda_cont = lambda_cat, lambda_cont
        self.bce = nn.BCELoss()

    def info(self, cat_logits, cont, categories, continuous):
        if cont.shape[1] == 2 * continuous.shape[1]:  # a Gaussian Q (paper28): mean, log-std
            mean, log_std = cont.chunk(2, dim=1)
            normal = torch.distributions.Normal(mean, log_std.exp())
            cont_loss = -normal.log_prob(continuous).mean()
        else:
            cont_loss = F.mse_loss(cont, continuous)
        return (
            self.lambda_cat * F.cross_entropy(cat_logits, categories) + self.lambda_cont * cont_loss
        )

    def __call__(self, real, noise, categories, continuous) -> dict[str, float]:
        b = real.shape[0]
        ones, zeros = torch.ones(b), torch.zeros(b)
        z = torch.cat([noise, F.one_hot(categories, self.k).float(), continuous], 1)
        fake = self.G(z)

        self.opt_d.zero_grad()
        real_logit, _, _ = self.D(real)
        fake_logit, cat_logits, cont = self.D(fake.detach())
        d_loss = self.bce(torch.sigmoid(real_logit), ones) + self.bce(
            torch.sigmoid(fake_logit), zeros
        )
        (d_loss + self.info(cat_logits, cont, categories, continuous)).backward()
        self.opt_d.step()

        self.opt_g.zero_grad()
        fake_logit, cat_logits, cont = self.D(fake)
        g_loss = self.bce(torch.sigmoid(fake_logit), ones)
        info = self.info(cat_logits, cont, categories, continuous)
        (g_loss + info).backward()
        self.opt_g.step()

        with torch.no_grad():
            after_logit, _, _ = self.D(self.G(z))
        return {
            "d_loss": d_loss.item(),
            "g_loss": g_loss.item(),
            "info_loss": info.item(),
            "d_real": torch.sigmoid(real_logit).mean().item(),
            "d_fake_before": torch.sigmoid(fake_logit).mean().item(),
            "d_fake_after": torch.sigmoid(after_logit).mean().item(),
        }


def sample_codes(batch_size: int, noise_dim: int, num_categories: int, num_continuous: int):
    noise = torch.randn(batch_size, noise_dim)
    categories = torch.randint(num_categories, (batch_size,))
    continuous = torch.rand(batch_size, num_continuous) * 2 - 1
    return noise, categories, continuous


if __name__ == "__main__":
    import argparse
    import sys

    argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="A module, not a benchmark: benchmarks/throughput.py times it against the "
        "project's trainer.",
    ).parse_args()
    print("reference_loop.py: run benchmarks/throughput.py, which times this loop", file=sys.stderr)
    sys.exit(2)

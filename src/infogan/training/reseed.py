"""Give a starved categorical code a crowded code's weights, for the clustering term to
split (``train.cluster_reseed``).

A run of the clustering term can settle with one digit split over two codes, one of them
holding a few percent of the images, while two other digits share a single code (1s split
by their lean, 5s and 8s together, say). :class:`CodeReseed` finds a code used by less
than :data:`STARVED_SHARE` of an equal share of a fixed probe set of real digits and gives
it the weights of the most used code (Q's row and G's column, plus noise), so that the
clustering term splits that crowded code in two and the starved code's few images go back
to their digit's other code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

#: the noise added to merged weights, as a fraction of the layer's weights' spread
MERGE_NOISE = 0.25
#: images in the probe set (the first ones of the training tensor)
PROBE_IMAGES = 2048
#: a code whose share of the probe images is below this fraction of 1/K is starved
STARVED_SHARE = 0.5


def code_usage(discriminator: nn.Module, probe: torch.Tensor) -> torch.Tensor:
    """(K,) mean of Q's category probabilities over ``probe``, read in eval mode."""
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            total = sum(
                discriminator(probe[i : i + 512])[1].float().softmax(1).sum(0)
                for i in range(0, len(probe), 512)
            )
    finally:
        discriminator.train(was_training)
    return total / len(probe)


def _last_linear(module: nn.Module) -> nn.Linear:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(module).__name__} has no linear layer")
    return linears[-1]


def _code_input(generator: nn.Module) -> tuple[torch.Tensor, int]:
    """The generator's first weight and the dimension along which it reads the code."""
    first = next(m for m in generator.modules() if isinstance(m, nn.Linear | nn.ConvTranspose2d))
    return first.weight, 1 if isinstance(first, nn.Linear) else 0


def merge_codes(
    generator: nn.Module,
    discriminator: nn.Module,
    k: int,
    l: int,  # noqa: E741
    *,
    noise_dim: int,
    seed: int,
) -> None:
    """Give codes ``k`` and ``l`` the mean of their two rows of Q's categorical layer
    and of their two columns of G's first layer, plus noise of :data:`MERGE_NOISE` of
    those weights' spread (a random direction for the two to part along again)."""
    generator_ = torch.Generator().manual_seed(seed)

    def tie(weight: torch.Tensor, dim: int, i: int, j: int) -> None:
        a, b = weight.select(dim, i), weight.select(dim, j)
        mean = (a + b) / 2
        spread = MERGE_NOISE * float(weight.std())
        for row in (a, b):
            noise = torch.randn(row.shape, generator=generator_).to(row) * spread
            row.copy_(mean + noise)

    q = _last_linear(discriminator.q_head)
    g_weight, g_dim = _code_input(generator)
    with torch.no_grad():
        tie(q.weight, 0, k, l)
        if q.bias is not None:
            q.bias[[k, l]] = q.bias[[k, l]].mean()  # equal use to start with
        tie(g_weight, g_dim, noise_dim + k, noise_dim + l)


def reseed_code(
    generator: nn.Module,
    discriminator: nn.Module,
    small: int,
    big: int,
    *,
    noise_dim: int,
    seed: int,
) -> None:
    """Give code ``small`` code ``big``'s row of Q's categorical layer (and bias) and
    its column of G's first layer, then both the noise of :func:`merge_codes`: the two
    codes start as one, holding ``big``'s images, for the clustering term to split."""
    q = _last_linear(discriminator.q_head)
    g_weight, g_dim = _code_input(generator)
    with torch.no_grad():
        q.weight[small] = q.weight[big]
        if q.bias is not None:
            q.bias[small] = q.bias[big]
        g_weight.select(g_dim, noise_dim + small).copy_(g_weight.select(g_dim, noise_dim + big))
    merge_codes(generator, discriminator, small, big, noise_dim=noise_dim, seed=seed)


class CodeReseed:
    """A training callback: every ``every`` steps from step ``2 * every`` until
    ``last_step``, gives the least used code, if it is starved (below
    :data:`STARVED_SHARE` of 1/K of the probe images), the weights of the most used code
    (:func:`reseed_code`). Its decisions depend only on the weights at that step (fixed
    probe images, noise seeded by the step), so a resumed run makes the same ones; it
    runs before the checkpoint writer, and on every process under torchrun."""

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        probe: torch.Tensor,
        noise_dim: int,
        every: int,
        last_step: int,
        log: Callable[[str], None] = lambda _msg: None,
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.probe = probe
        self.noise_dim = noise_dim
        self.every = every
        self.last_step = last_step
        self.log = log
        self.reseeded: list[tuple[int, int, int, float]] = []  # (step, small, big, share)

    def on_metrics(self, rows: Sequence) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        if step % self.every == 0 and 2 * self.every <= step <= self.last_step:
            self.check(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        pass

    def check(self, step: int) -> None:
        usage = code_usage(self.discriminator, self.probe)
        small, big = int(usage.argmin()), int(usage.argmax())
        share = float(usage[small]) * len(usage)  # of an equal share
        if share >= STARVED_SHARE:
            return
        reseed_code(
            self.generator, self.discriminator, small, big, noise_dim=self.noise_dim, seed=step
        )
        self.reseeded.append((step, small, big, share))
        self.log(
            f"step {step}: code {small} holds {share:.0%} of an equal share of the digits; "
            f"gave it the weights of code {big} (the most used) to split"
        )

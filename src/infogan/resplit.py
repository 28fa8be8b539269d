"""Find two categorical codes that share their digits, and merge them to split again.

A run of the paired clustering term can settle with two codes that each hold a mixture
of the same two digits (4s and 9s, say), split by a trait of the handwriting instead
of by digit. Such a pair shows without labels: a changed copy of an image often lands
in the other code of the pair, because the change (a turn, a thicker stroke) moves the
trait that splits them. Over the categories' joint distribution J of an image and its
changed copy (symmetrised), the cross-view ratio of codes k and l is
``J[k, l] / min(J[k, k], J[l, l])``. Measured on the last 5,000 training digits of four
runs, codes that share two digits had ratios of 0.19-0.21 and every other pair at
most 0.09, so :data:`SHARED_RATIO` = 0.15 tells them apart.

:class:`PairResplit` checks a fixed probe set every ``every`` steps and merges the pair
with the highest ratio above it: the two codes' rows of Q's categorical layer and their
columns of the generator's first layer are set to their mean (plus a little noise), so
that G draws the same digits for both and Q cannot tell them apart. The clustering term
then splits the merged code again from the features the networks have learned by then.

The other stuck state is a starved code: one digit split over two codes, one of them
holding a few percent of the images, while two other digits share a single code (1s
split by their lean, 5s and 8s together, say). :class:`CodeReseed` finds a code used
by less than :data:`STARVED_SHARE` of an equal share of the probe images and gives it
the weights of the most used code (Q's row and G's column, plus noise), so that the
clustering term splits that crowded code in two and the starved code's few images go
back to their digit's other code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from infogan.augment import augment

#: cross-view ratio above which two codes are taken to share their digits
SHARED_RATIO = 0.15
#: cross-view ratio from which two codes are still read as one: a merge not yet split
#: again, left alone (a merged pair starts near 1)
MERGED_RATIO = 0.8
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


def cross_view_ratios(
    discriminator: nn.Module, probe: torch.Tensor, strength: str, *, seed: int
) -> torch.Tensor:
    """(K, K) cross-view ratios of Q's categories on ``probe`` and changed copies of it
    (changed at ``strength``, with random numbers from ``seed``); the diagonal is 0."""
    was_training = discriminator.training
    discriminator.eval()
    generator = torch.Generator(device=probe.device).manual_seed(seed)
    try:
        with torch.no_grad():
            joint = 0.0
            for start in range(0, len(probe), 512):
                chunk = probe[start : start + 512]
                pa = discriminator(chunk)[1].float().softmax(1)
                pb = discriminator(augment(chunk, strength, generator=generator))[1]
                joint = joint + pa.T @ pb.float().softmax(1)
    finally:
        discriminator.train(was_training)
    joint = joint / len(probe)
    joint = (joint + joint.T) / 2
    diag = joint.diagonal().clamp_min(1e-12)
    ratios = joint / torch.minimum(diag[:, None], diag[None, :])
    return ratios.fill_diagonal_(0.0)


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


class _ScheduledCheck:
    """A training callback that runs :meth:`check` every ``every`` steps from step
    ``2 * every`` until ``last_step``, on the networks it was given. Its decisions must
    depend only on the weights at that step (fixed probe images, random numbers seeded
    by the step), so that a resumed run makes the same ones; it must run before the
    checkpoint writer, and on every process under torchrun."""

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

    def on_metrics(self, rows: Sequence) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        if step % self.every == 0 and 2 * self.every <= step <= self.last_step:
            self.check(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        pass

    def check(self, step: int) -> None:
        raise NotImplementedError


class PairResplit(_ScheduledCheck):
    """Merges the two codes with the highest cross-view ratio between
    :data:`SHARED_RATIO` and :data:`MERGED_RATIO` (pairs above it are earlier merges
    still splitting), changing the copies at ``strength``."""

    def __init__(self, *, strength: str, **kwargs):
        super().__init__(**kwargs)
        self.strength = strength
        self.merged: list[tuple[int, int, int, float]] = []  # (step, k, l, ratio)

    def check(self, step: int) -> None:
        ratios = cross_view_ratios(self.discriminator, self.probe, self.strength, seed=step)
        ratios = ratios.masked_fill(ratios >= MERGED_RATIO, 0.0)
        flat = int(ratios.argmax())
        k, l = divmod(flat, ratios.shape[0])  # noqa: E741
        ratio = float(ratios[k, l])
        if ratio < SHARED_RATIO:
            return
        k, l = min(k, l), max(k, l)  # noqa: E741
        merge_codes(self.generator, self.discriminator, k, l, noise_dim=self.noise_dim, seed=step)
        self.merged.append((step, k, l, ratio))
        self.log(
            f"step {step}: codes {k} and {l} share their digits (cross-view ratio "
            f"{ratio:.2f}); merged them to split again"
        )


class CodeReseed(_ScheduledCheck):
    """Gives the least used code, if it is starved (below :data:`STARVED_SHARE` of 1/K
    of the probe images), the weights of the most used code (:func:`reseed_code`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reseeded: list[tuple[int, int, int, float]] = []  # (step, small, big, share)

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

"""Give a starved or redundant categorical code a crowded code's weights, for the
clustering term to split (``train.cluster_reseed``).

A run of the clustering term can settle with one digit split over two codes while two
other digits share a single code (1s split by their lean, 5s and 8s together, say).
:class:`CodeReseed` looks at Q's categories of a fixed probe set of real digits and of a
restyled copy of each, and finds

* a code used by less than :data:`STARVED_SHARE` of an equal share of the digits, or
* a group of codes that restyling moves digits between (linked by a cross-view ratio,
  the probability that a digit and its copy land one in each of two codes over the
  smaller probability that both land in the same one, above :data:`LINK_RATIO`) that
  holds fewer equal shares of the digits than it has codes, by more than
  :data:`SPARE_CODES`: one digit split over two codes, or two digits over three, and the
  least used code of the group is redundant.

It gives that code the weights of the most used code (outside the group, in the second
case; Q's row and G's column, plus noise), so that the clustering term splits that
crowded code in two and the redundant code's images go back to their digit's other code.
With ``halves`` (start28, tilt64), Q's two rows are parted along the two halves of the
crowded code's digits rather than by the noise, so that the split starts where those
digits differ most (:func:`reseed_code`). The checks start at step ``2 * every`` and end
at 75% of the run (:class:`CodeReseed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from infogan.augment import restyle_copy

#: the noise added to merged weights, as a fraction of the layer's weights' spread
MERGE_NOISE = 0.25
#: images in the probe set (the first ones of the training tensor)
PROBE_IMAGES = 2048
#: a code whose share of the probe images is below this fraction of 1/K is starved
STARVED_SHARE = 0.5
#: codes with a cross-view ratio above this are linked (sorted runs measure at most about
#: 0.25; a digit split over two codes 1.2 to 1.7; 4s and 9s over three codes 0.4)
LINK_RATIO = 0.3
#: the logits between the two codes at the centre of each half of a split code's digits
SPLIT_MARGIN = 4.0
#: the fewest probe digits a half must hold for a split along the halves
MIN_HALF = 16
#: a linked group with more codes than equal shares of the digits by more than this has
#: a redundant code (two digits mixed in two codes hold two shares: none is redundant)
SPARE_CODES = 0.5


def _categories(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(N, K) Q's category probabilities of ``images``, read in eval mode."""
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            return torch.cat(
                [
                    discriminator(images[i : i + 512])[1].float().softmax(1)
                    for i in range(0, len(images), 512)
                ]
            )
    finally:
        discriminator.train(was_training)


def code_usage(discriminator: nn.Module, probe: torch.Tensor) -> torch.Tensor:
    """(K,) mean of Q's category probabilities over ``probe``, read in eval mode."""
    return _categories(discriminator, probe).mean(0)


def cross_view(
    discriminator: nn.Module,
    probe: torch.Tensor,
    *,
    seed: int,
    categories: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """((K,) code usage, (K, K) cross-view ratios): the joint distribution J of Q's
    categories of each probe digit and of a restyled copy of it (symmetrised), and
    J[k, l] / min(J[k, k], J[l, l]) off the diagonal (zero on it). ``categories`` are
    the probe's, where they were read already (:func:`q_reading`)."""
    generator = torch.Generator().manual_seed(seed)

    def rand(rows: int, *shape: int) -> torch.Tensor:
        return torch.rand(rows, *shape, generator=generator).to(probe.device)

    p = _categories(discriminator, probe) if categories is None else categories
    copy = _categories(discriminator, restyle_copy(probe, rand=rand))
    joint = p.T @ copy / len(probe)
    joint = (joint + joint.T) / 2
    same = joint.diagonal()
    ratio = joint / torch.minimum(same[:, None], same[None, :]).clamp_min(1e-12)
    return p.mean(0), ratio.fill_diagonal_(0.0)


def linked_groups(ratio: torch.Tensor) -> list[list[int]]:
    """The groups of two or more codes joined by cross-view ratios above :data:`LINK_RATIO`."""
    k = len(ratio)
    linked = (ratio > LINK_RATIO) | (ratio.T > LINK_RATIO)
    group_of = list(range(k))
    for a in range(k):  # label each code with the smallest code it is joined to
        for b in range(k):
            if linked[a, b]:
                old, new = max(group_of[a], group_of[b]), min(group_of[a], group_of[b])
                group_of = [new if g == old else g for g in group_of]
    groups = [[c for c in range(k) if group_of[c] == g] for g in sorted(set(group_of))]
    return [g for g in groups if len(g) > 1]


def redundant_code(usage: torch.Tensor, ratio: torch.Tensor) -> tuple[int, int, str] | None:
    """(the code to reseed, the code to give it the weights of, why), or None: the least
    used code if it is starved, else the least used code of the linked group with the
    most spare codes (more than :data:`SPARE_CODES`); the weights are those of the most
    used code outside that group."""
    k = len(usage)
    shares = usage * k  # of an equal share
    small = int(usage.argmin())
    if float(shares[small]) < STARVED_SHARE:
        return (
            small,
            int(usage.argmax()),
            f"holds {float(shares[small]):.0%} of an equal share of the digits",
        )
    best, most_spare = None, SPARE_CODES
    for group in linked_groups(ratio):
        spare = len(group) - float(shares[group].sum())
        if spare > most_spare and len(group) < k:
            best, most_spare = group, spare
    if best is None:
        return None
    small = min(best, key=lambda c: float(shares[c]))
    big = int(usage.index_fill(0, torch.tensor(best), -1.0).argmax())
    names = ", ".join(str(c) for c in best)
    return (
        small,
        big,
        (
            f"is the least used of codes {names}, which restyled digits move between and which "
            f"hold {float(shares[best].sum()):.1f} equal shares of the digits"
        ),
    )


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


def two_halves(features: torch.Tensor, *, iterations: int = 20) -> torch.Tensor:
    """(N,) which of two clusters each row of ``features`` (N, H) falls in: the sign along
    the first principal direction, then Lloyd's 2-means from there."""
    centred = features - features.mean(0)
    direction = torch.linalg.svd(centred, full_matrices=False)[2][0]
    side = centred @ direction > 0
    for _ in range(iterations):
        if side.all() or not side.any():
            break
        a, b = features[side].mean(0), features[~side].mean(0)
        nearer_a = (features - a).square().sum(1) < (features - b).square().sum(1)
        if torch.equal(nearer_a, side):
            break
        side = nearer_a
    return side


def q_reading(discriminator: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """((N, H) what Q's categorical layer reads of ``images``, (N, K) its categories)."""
    seen: list[torch.Tensor] = []
    hook = _last_linear(discriminator.q_head).register_forward_pre_hook(
        lambda _layer, args: seen.append(args[0].detach().float())
    )
    try:
        categories = _categories(discriminator, images)
    finally:
        hook.remove()
    return torch.cat(seen), categories


def halves_of(
    features: torch.Tensor, categories: torch.Tensor, code: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The centres, in what Q's categorical layer reads (``features``, ``categories``:
    :func:`q_reading` of the probe), of the two halves (:func:`two_halves`) of the probe
    digits ``code`` holds, or None where it holds too few to halve (under
    :data:`MIN_HALF` a half)."""
    members = features[categories.argmax(1) == code]
    if len(members) < 2 * MIN_HALF:
        return None
    side = two_halves(members)
    if min(int(side.sum()), int((~side).sum())) < MIN_HALF:
        return None
    return members[side].mean(0), members[~side].mean(0)


def reseed_code(
    generator: nn.Module,
    discriminator: nn.Module,
    small: int,
    big: int,
    *,
    noise_dim: int,
    seed: int,
    halves: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> None:
    """Give code ``small`` code ``big``'s row of Q's categorical layer (and bias) and
    its column of G's first layer, then both the noise of :func:`merge_codes`: the two
    codes start as one, holding ``big``'s images, for the clustering term to split.

    With ``halves``, the centres of the two halves of the probe digits ``big`` holds
    (:func:`halves_of`), Q's two rows are instead ``big``'s plus and minus the line
    between them, scaled so that each centre reads :data:`SPLIT_MARGIN` logits nearer
    one of the two codes and the point halfway reads both alike; G's columns get the
    noise. The split starts along the widest gap in ``big``'s digits, not a random one."""
    q = _last_linear(discriminator.q_head)
    g_weight, g_dim = _code_input(generator)
    with torch.no_grad():
        row = q.weight[big].clone()
        bias = None if q.bias is None else float(q.bias[big])
        q.weight[small] = row
        if q.bias is not None:
            q.bias[small] = bias
        g_weight.select(g_dim, noise_dim + small).copy_(g_weight.select(g_dim, noise_dim + big))
    merge_codes(generator, discriminator, small, big, noise_dim=noise_dim, seed=seed)
    if halves is None:
        return
    a, b = (centre.to(row) for centre in halves)
    delta = SPLIT_MARGIN * (a - b) / (a - b).square().sum().clamp_min(1e-12)
    with torch.no_grad():
        q.weight[small] = row + delta
        q.weight[big] = row - delta
        if bias is not None:
            shift = float(delta @ (a + b)) / 2
            q.bias[small] = bias - shift
            q.bias[big] = bias + shift


class CodeReseed:
    """A training callback: every ``every`` steps from step ``2 * every`` until
    ``last_step`` (75% of the run in training), finds a code to reseed
    (:func:`redundant_code`): the least used code if it is starved (below
    :data:`STARVED_SHARE` of 1/K of the probe images), which takes the weights of the
    most used code, or else the least used code of a linked group that holds fewer equal
    shares of the digits than it has codes (by more than :data:`SPARE_CODES`), which
    takes the weights of the most used code outside the group (:func:`reseed_code`; with
    ``halves``, Q's rows split along the halves of the crowded code's probe digits). Its
    decisions depend only on the weights at that step (fixed probe images, noise seeded
    by the step), so a resumed run makes the same ones; it runs before the checkpoint
    writer, and on every process under torchrun."""

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        probe: torch.Tensor,
        noise_dim: int,
        every: int,
        last_step: int,
        halves: bool = False,
        log: Callable[[str], None] = lambda _msg: None,
        after: Callable[[], None] = lambda: None,
    ):
        self.generator = generator
        self.discriminator = discriminator
        self.probe = probe
        self.noise_dim = noise_dim
        self.every = every
        self.last_step = last_step
        self.halves = halves  # split Q's rows along the halves of the crowded code's digits
        self.log = log
        self.after = after  # called after a reseed changed the weights
        self.reseeded: list[tuple[int, int, int, float]] = []  # (step, small, big, share)

    def on_metrics(self, rows: Sequence) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        if step % self.every == 0 and 2 * self.every <= step <= self.last_step:
            self.check(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        pass

    def check(self, step: int) -> None:
        # what Q's categorical layer reads, for the halves, from the pass that gives the
        # probe's categories
        reading = q_reading(self.discriminator, self.probe) if self.halves else None
        usage, ratio = cross_view(
            self.discriminator,
            self.probe,
            seed=step,
            categories=None if reading is None else reading[1],
        )
        found = redundant_code(usage, ratio)
        if found is None:
            return
        small, big, why = found
        halves = None if reading is None else halves_of(*reading, big)
        reseed_code(
            self.generator,
            self.discriminator,
            small,
            big,
            noise_dim=self.noise_dim,
            seed=step,
            halves=halves,
        )
        self.after()
        self.reseeded.append((step, small, big, float(usage[small]) * len(usage)))
        how = " along the two halves of its digits" if halves is not None else ""
        # in a linked group's case, the most used code may be one of the group's
        most = "the most used" if big == int(usage.argmax()) else "the most used outside them"
        self.log(
            f"step {step}: code {small} {why}; gave it the weights of code {big} "
            f"({most}) to split{how}"
        )

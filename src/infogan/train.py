"""The training loop and the run directory it fills.

One iteration (``InfoGANStep``):

1. D and Q: tell real from fake, and recover the code from the fake
   (BCE real/fake + lambda * information loss on the detached fake batch).
2. G: fool D and make the code recoverable (non-saturating BCE + lambda * information loss).
3. A fresh, gradient-free pass of the updated G through D measures D(G(z)) after the G update.

The loop (:func:`train_loop`) knows nothing of files: metrics, sample grids and
checkpoints are callbacks (:class:`RunWriter`). :func:`train` composes them.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from infogan import __version__, distributed
from infogan.augment import (
    RESLANT,
    augment,
    random_affine,
    random_thickness,
    thicken,
    turn,
)
from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.config import RunConfig
from infogan.datasets import (
    describe_dataset,
    load_dataset,
    prepare_dataset,
    resolve_data_config,
)
from infogan.distributed import SINGLE, DistContext
from infogan.errors import CheckpointError, ConfigError, InfoGANError, RunDirError
from infogan.fileio import atomic_open
from infogan.grids import save_grid
from infogan.latent import LatentBatch, LatentCode
from infogan.losses import (
    cluster_loss,
    continuous_loss_per_code,
    d_loss,
    effect_overlap,
    g_nonsaturating_loss,
    info_loss,
    paired_cluster_loss,
)
from infogan.models import ARCHITECTURES, build_models
from infogan.resplit import PROBE_IMAGES, CodeReseed, PairResplit

METRIC_NAMES = (
    "d_loss",
    "g_loss",
    "info_loss",
    "info_cat",
    "info_cont",
    "d_real",
    "d_fake_before",
    "d_fake_after",
)
CSV_COLUMNS = ("step", "epoch", *METRIC_NAMES)
GRID_NAMES = ("fixed", "varying_c1", "varying_c2")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX tiles), where
    bf16 autocast runs paper28's step about 2.5x faster than fp32; without them oneDNN
    emulates bfloat16 and it is slower than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` made concrete for ``device``: bf16 on a CPU with native bfloat16, fp32
    elsewhere (on a GPU a step of these small nets is bound by kernel launches, and
    bf16 measured no faster); ``fp32`` and ``bf16`` as they are."""
    if name != "auto":
        return name
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


@contextlib.contextmanager
def frozen_batchnorm_stats(*modules: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics unchanged for passes that only measure."""
    saved = []
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                saved.append((m, m.momentum, m.num_batches_tracked.clone()))
                m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def _over(on: bool) -> dict[str, bool]:
    """The discriminator's keyword for its over-clustering output, only when asked
    (a discriminator without that head takes no such keyword)."""
    return {"overcluster": True} if on else {}


def _float(outputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The discriminator's outputs in float32 (they are bfloat16 under autocast)."""
    return tuple(t.float() for t in outputs)


#: how much narrower or wider ``--turn-restyle`` makes each copy at most (as ``restyle``)
TURN_SQUEEZE = 0.2
#: how far ``--thicken-code``'s copies go towards a 3x3 dilation or erosion at most
THICKEN_AMOUNT = 1.0


def _squeezed(images: torch.Tensor, reslant: tuple[float, float] | None = None) -> torch.Tensor:
    """Each image made up to ``TURN_SQUEEZE`` narrower or wider, nothing else moved (with
    ``reslant``: given a slant from that range too)."""
    return random_affine(
        images, degrees=0.0, shift=0.0, scale=0.0, squeeze=TURN_SQUEEZE, reslant=reslant
    )


class InfoGANStep:
    """One InfoGAN iteration over given models and optimizers; returns the metrics tensor."""

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        code: LatentCode,
        lambda_cat: float,
        lambda_cont: float,
        plain_generator: nn.Module | None = None,
        plain_discriminator: nn.Module | None = None,
        lambda_cluster: float = 0.0,
        cluster_pairs: bool = False,
        cluster_augment: str = "mild",
        cluster_balance: float = 1.0,
        cluster_copies: int = 1,
        q_cat_on_fakes: bool = True,
        augment_fakes: bool = False,
        overcluster_weight: float = 0.0,
        lambda_orth: float = 0.0,
        orth_samples: int = 8,
        q_fixed_std: bool = False,
        turn_code: int = 0,
        turn_degrees: float = 45.0,
        turn_samples: int = 32,
        turn_restyle: bool = False,
        turn_thicken: float = 0.0,
        thicken_code: int = 0,
        thicken_squeeze: bool = False,
        squeeze_code: int = 0,
        tilt_code: int = 0,
        tilt_degrees: float = 20.0,
        tilt_from: int = 0,
        precision: str = "fp32",
    ):
        """``generator``/``discriminator`` may be DDP wrappers of the ``plain_*`` modules.

        The G phase and the measuring pass use the plain discriminator: D's weights
        get no gradient there, so DDP has nothing to reduce. ``lambda_cluster`` > 0 adds
        the clustering term on the real batch to D and Q's loss (``cluster_pairs``: the
        paired form, with a randomly changed copy of each real image, changed at the
        ``cluster_augment`` strength and with ``cluster_balance`` as the weight of
        equal category use; ``cluster_copies`` changed copies, the term averaged over
        them). ``q_cat_on_fakes`` False leaves Q's categorical head out of
        D's step on generated images: Q then learns categories from real digits alone
        and only the generator follows them. ``augment_fakes`` adds Q's categorical
        cross-entropy on a copy of the generated batch changed at ``cluster_augment``'s
        strength to D's step (weight lambda_cat). ``overcluster_weight`` > 0 (with
        the paired term) adds the same term on the discriminator's over-clustering
        head, at that weight relative to the term on the code. ``lambda_orth`` > 0
        adds to G's loss, at that weight, how alike the changes the continuous codes make
        to the first ``orth_samples`` generated images are (:func:`effect_overlap`;
        the moved copies share the batch's generator pass). ``q_fixed_std`` scores a
        Gaussian Q's continuous codes by the squared error of its means alone.
        ``turn_code`` k > 0: in both steps Q reads continuous code k (from 1) from a copy
        of the first ``turn_samples`` generated images turned by a random angle within
        +-``turn_degrees`` (one more pass of D each), not from the images themselves; the
        code then cannot be carried by the digit's tilt; ``turn_restyle`` first gives each
        copy a random slant from MNIST's range (:data:`RESLANT`), whatever its own, and
        makes it up to ``TURN_SQUEEZE`` narrower or wider, so that the code cannot be
        carried by the slant or the digit's width either; ``turn_thicken`` > 0 then
        thickens or thins each copy by a known fraction of a 3x3 dilation or erosion
        within +-``turn_thicken`` and scores the code's reading against the code plus
        that fraction over ``turn_thicken``, so that the code must be the stroke width.
        ``thicken_code`` k > 0 likewise has Q read code k from copies whose strokes are made
        thicker or thinner by a random amount (up to a whole 3x3 dilation or erosion), so
        that code k cannot carry the stroke width; ``thicken_squeeze`` also makes those
        copies up to ``TURN_SQUEEZE`` narrower or wider (slant kept), so that it cannot
        carry the digit's width either; ``squeeze_code`` k > 0 has Q read code k from copies
        that are only made narrower or wider. ``tilt_code`` k > 0 has Q read code k from
        copies turned by a known random angle within +-``tilt_degrees`` and scores that
        reading against the code plus the angle over ``tilt_degrees``: Q must measure the
        code as the digit's tilt, so the generator must tilt its digits by ``tilt_degrees``
        per unit of the code, after the first ``tilt_from`` steps (in those, the code is
        read from the images themselves; :attr:`steps_done` counts the steps, and is set by
        whoever resumes a run). All kinds of copy share one pass of D. ``precision``
        "bf16" runs the forward passes under bfloat16 autocast; losses stay float32.
        """
        self.generator = generator
        self.discriminator = discriminator
        self.plain_generator = generator if plain_generator is None else plain_generator
        self.plain_discriminator = (
            discriminator if plain_discriminator is None else plain_discriminator
        )
        self.opt_g = opt_g
        self.opt_d = opt_d
        self.code = code
        self.lambda_cat = lambda_cat
        self.lambda_cont = lambda_cont
        self.use_info = lambda_cat > 0 or lambda_cont > 0
        self.lambda_cluster = lambda_cluster
        self.cluster_pairs = cluster_pairs
        self.cluster_augment = cluster_augment
        self.cluster_balance = cluster_balance
        self.cluster_copies = cluster_copies
        self.q_cat_on_fakes = q_cat_on_fakes
        self.augment_fakes = augment_fakes and q_cat_on_fakes and lambda_cat > 0
        self.overcluster_weight = overcluster_weight if lambda_cluster > 0 and cluster_pairs else 0
        self.lambda_orth = lambda_orth if code.config.num_continuous >= 2 else 0.0
        self.orth_samples = orth_samples
        self.q_fixed_std = q_fixed_std
        self.turn_code = turn_code if 0 < turn_code <= code.config.num_continuous else 0
        self.turn_degrees = turn_degrees
        self.turn_samples = turn_samples
        self.turn_restyle = turn_restyle
        self.turn_thicken = turn_thicken
        self.thicken_code = thicken_code if 0 < thicken_code <= code.config.num_continuous else 0
        self.thicken_squeeze = thicken_squeeze
        self.squeeze_code = squeeze_code if 0 < squeeze_code <= code.config.num_continuous else 0
        self.tilt_code = tilt_code if 0 < tilt_code <= code.config.num_continuous else 0
        self.tilt_degrees = tilt_degrees
        self.tilt_from = tilt_from
        self.steps_done = 0  # the steps taken so far, counting those before a resume
        self.bf16 = precision == "bf16"

    def _autocast(self, device: torch.device):
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def _info(self, cat_logits, cont_pred, latent: LatentBatch, copies=None):
        """The information term; ``copies``: {code k (from 1): (Q's continuous reading of
        that code's changed copies of the first rows of the batch, how far each copy's
        reading of code k should be moved from the code itself)}, which code k is scored
        on instead of the batch's own reading."""
        num_continuous = latent.continuous.shape[1]
        if self.q_fixed_std:  # the means alone: info_loss scores them by squared error
            cont_pred = cont_pred[:, :num_continuous]
            copies = {k: (p[:, :num_continuous], d) for k, (p, d) in (copies or {}).items()}
        if copies:
            cat = F.cross_entropy(cat_logits, latent.categories)
            per_code = list(continuous_loss_per_code(cont_pred, latent.continuous).unbind())
            for k, (pred, moved_by) in copies.items():
                target = latent.continuous[: len(pred)].clone()
                target[:, k - 1] += moved_by
                per_code[k - 1] = continuous_loss_per_code(pred, target)[k - 1]
            cont = torch.stack(per_code).mean()
            return self.lambda_cat * cat + self.lambda_cont * cont, cat, cont
        return info_loss(
            cat_logits,
            latent.categories,
            cont_pred,
            latent.continuous,
            lambda_cat=self.lambda_cat,
            lambda_cont=self.lambda_cont,
        )

    def _turned(self, images: torch.Tensor) -> torch.Tensor:
        """The first ``turn_samples`` images, each turned by its own random angle (and
        first restyled with ``turn_restyle``)."""
        images = images[: self.turn_samples]
        if self.turn_restyle:
            images = _squeezed(images, reslant=RESLANT)
        return random_affine(images, degrees=self.turn_degrees, shift=0.0, scale=0.0)

    def _read_copies(
        self, D: nn.Module, images: torch.Tensor
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor | float]]:
        """{code k: (Q's continuous reading of its changed copies of ``images``' first
        rows, how far the reading of code k should move)}: turned for ``turn_code``,
        thickened or thinned for ``thicken_code``, squeezed for ``squeeze_code``, turned
        by a known angle for ``tilt_code`` (whose reading moves, as ``turn_code``'s does
        with ``turn_thicken``), all in one pass of D. Empty when none is on."""
        made = {}
        moved_by: dict[int, torch.Tensor | float] = {}
        if self.turn_code:
            made[self.turn_code] = self._turned(images)
            if self.turn_thicken > 0:
                units = torch.rand(len(made[self.turn_code]), device=images.device) * 2 - 1
                made[self.turn_code] = thicken(made[self.turn_code], units * self.turn_thicken)
                moved_by[self.turn_code] = units
        if self.thicken_code:
            first = images[: self.turn_samples]
            if self.thicken_squeeze:
                first = _squeezed(first)
            made[self.thicken_code] = random_thickness(first, amount=THICKEN_AMOUNT)
        if self.squeeze_code:
            made[self.squeeze_code] = _squeezed(images[: self.turn_samples])
        if self.tilt_code and self.steps_done >= self.tilt_from:
            first = images[: self.turn_samples]
            units = torch.rand(len(first), device=images.device) * 2 - 1
            made[self.tilt_code] = turn(first, units * self.tilt_degrees)
            moved_by[self.tilt_code] = units
        if not made:
            return {}
        cont = _float(D(torch.cat(list(made.values()))))[2]
        readings = cont.split([len(m) for m in made.values()])
        return {k: (r, moved_by.get(k, 0.0)) for k, r in zip(made, readings, strict=True)}

    def _moved_codes(self, latent: LatentBatch) -> torch.Tensor:
        """(C * n, latent_dim): the first n codes with continuous code k alone moved by 1,
        towards and past 0 so that it stays in [-1, 1], for k = 1..C in turn."""
        n = min(self.orth_samples, len(latent.continuous))
        first = LatentBatch(latent.noise[:n], latent.categories[:n], latent.continuous[:n])
        codes = []
        for k in range(first.continuous.shape[1]):
            continuous = first.continuous.clone()
            value = continuous[:, k]
            continuous[:, k] = torch.where(value >= 0, value - 1, value + 1)
            codes.append(self.code.assemble(LatentBatch(first.noise, first.categories, continuous)))
        return torch.cat(codes)

    def __call__(self, real: torch.Tensor, latent: LatentBatch) -> torch.Tensor:
        """(len(METRIC_NAMES),) detached metrics, left on the device (no host sync)."""
        G, D = self.generator, self.discriminator
        code = self.code.assemble(latent)  # (B, latent_dim)
        batch = len(code)
        with self._autocast(real.device):
            if self.lambda_orth > 0:  # one generator pass for the batch and the moved copies
                out = G(torch.cat([code, self._moved_codes(latent)]))
                fake, shifted = out[:batch], out[batch:]
            else:
                fake = G(code)  # (B, C, H, W)

            # (1) D and Q: maximise log D(x) + log(1 - D(G(z, c))), minimise the information loss
            over = self.overcluster_weight > 0  # also the over-clustering head's logits
            real_logit, real_cat, _, *real_over = _float(D(real, **_over(over)))
            fake_logit, cat_logits, cont_pred = _float(D(fake.detach()))
            moved_cats = []  # Q's categories of changed copies of the real batch
            moved_over = []  # and the over-clustering head's
            if self.lambda_cluster > 0 and self.cluster_pairs:
                for _ in range(self.cluster_copies):
                    _, moved_cat, _, *over_logits = D(
                        augment(real, self.cluster_augment), **_over(over)
                    )
                    moved_cats.append(moved_cat.float())
                    moved_over += [o.float() for o in over_logits]
            if self.augment_fakes:  # Q's categories of a changed copy of the fakes
                moved_fake_cats = D(augment(fake.detach(), self.cluster_augment))[1].float()
            copies_d = self._read_copies(D, fake.detach())
        loss_d = d_loss(real_logit, fake_logit)
        total_d = loss_d
        if self.use_info:
            _, cat_d, cont_d = self._info(cat_logits, cont_pred, latent, copies_d)
            if self.q_cat_on_fakes:
                total_d = total_d + self.lambda_cat * cat_d
            if self.augment_fakes:
                moved_cat = F.cross_entropy(moved_fake_cats, latent.categories)
                total_d = total_d + self.lambda_cat * moved_cat
            total_d = total_d + self.lambda_cont * cont_d
        if self.lambda_cluster > 0:
            if moved_cats:
                pairs = []
                for i, moved in enumerate(moved_cats):
                    pair = paired_cluster_loss(real_cat, moved, balance=self.cluster_balance)
                    if moved_over:  # the same term on the over-clustering head
                        pair = pair + self.overcluster_weight * paired_cluster_loss(
                            real_over[0], moved_over[i], balance=self.cluster_balance
                        )
                    pairs.append(pair)
                cluster = sum(pairs) / len(pairs)
            else:
                cluster = cluster_loss(real_cat)
            total_d = total_d + self.lambda_cluster * cluster
        self.opt_d.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_d.step()

        # (2) G: maximise log D(G(z, c)) and the information bound L_I(G, Q).
        # D's weights get no gradient here (saves their backward); only G is stepped.
        D_plain = self.plain_discriminator
        D_plain.requires_grad_(False)
        try:
            with self._autocast(real.device):
                fake_logit, cat_logits, cont_pred = _float(D_plain(fake))
                copies_g = self._read_copies(D_plain, fake)
            loss_g = g_nonsaturating_loss(fake_logit)
            weighted_info, info_cat, info_cont = self._info(cat_logits, cont_pred, latent, copies_g)
            total_g = loss_g + weighted_info if self.use_info else loss_g
            if self.lambda_orth > 0:
                shifted = shifted.reshape(self.code.config.num_continuous, -1, *fake.shape[1:])
                overlap = effect_overlap(fake[: shifted.shape[1]], shifted)
                total_g = total_g + self.lambda_orth * overlap
            self.opt_g.zero_grad(set_to_none=True)
            total_g.backward()
            self.opt_g.step()
        finally:
            D_plain.requires_grad_(True)

        # (3) D(G(z)) after the G update: a measuring pass that leaves BN statistics alone
        G_plain = self.plain_generator
        with (
            torch.no_grad(),
            frozen_batchnorm_stats(G_plain, D_plain),
            self._autocast(real.device),
        ):
            after_logit = D_plain(G_plain(code))[0].float()
        self.steps_done += 1

        return torch.stack(
            [
                loss_d.detach(),
                loss_g.detach(),
                (info_cat + info_cont).detach(),
                info_cat.detach(),
                info_cont.detach(),
                torch.sigmoid(real_logit.detach()).mean(),
                torch.sigmoid(fake_logit.detach()).mean(),
                torch.sigmoid(after_logit).mean(),
            ]
        )


class Callback(Protocol):
    def on_metrics(self, rows: Sequence[tuple[int, int, list[float]]]) -> None: ...

    def on_step_end(self, step: int, epoch: int) -> None: ...

    def on_train_end(self, step: int, epoch: int) -> None: ...


@dataclass
class LoopState:
    """Where the loop is: enough, with the RNG state, to continue exactly."""

    step: int = 0  # iterations completed
    epoch: int = 0  # current epoch, 1-based once running
    position: int = 0  # batches of the current epoch already consumed
    order: torch.Tensor | None = None  # (N,) the current epoch's permutation of the data


class TrainingInterrupted(InfoGANError):
    """SIGINT or SIGTERM stopped the run after a completed step."""

    def __init__(self, step: int, signal_name: str):
        super().__init__(f"{signal_name} at step {step}")
        self.step = step
        self.signal_name = signal_name


class DivergenceError(InfoGANError):
    """A loss or output became NaN or infinite."""


class StopFlag:
    """Turns SIGINT/SIGTERM into a request the loop honours after the current step."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def train_loop(
    *,
    step_fn: Callable[[torch.Tensor, LatentBatch], torch.Tensor],
    images: torch.Tensor,
    code: LatentCode,
    batch_size: int,
    epochs: int,
    max_steps: int | None,
    rng: torch.Generator,
    callbacks: Sequence[Callback] = (),
    log_every: int = 25,
    sync_every: int | None = None,
    state: LoopState | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
    dist_ctx: DistContext = SINGLE,
) -> LoopState:
    """Run ``step_fn`` over shuffled full batches of ``images`` for ``epochs`` epochs.

    Metrics stay on the device and are handed to callbacks every ``log_every``
    steps (and every ``sync_every`` steps, before the callbacks run, so that a
    checkpoint never gets ahead of metrics.csv) in one transfer. Incomplete
    final batches are dropped so every step sees ``batch_size`` images.
    ``state`` continues an earlier loop; ``stop`` ends it early, after a whole step,
    with :class:`TrainingInterrupted`. A non-finite metric raises
    :class:`DivergenceError` before any callback sees it.

    Under ``torchrun`` (``dist_ctx``) every rank draws the same global batch of
    indices and codes and takes its own slice of it, so that the ranks together see
    exactly what one process would; metrics are averaged over ranks.
    """
    from tqdm.auto import tqdm

    n = images.shape[0]
    steps_per_epoch = n // batch_size
    if steps_per_epoch == 0:
        raise ConfigError(f"--batch-size {batch_size} is larger than the dataset ({n} images)")
    total = epochs * steps_per_epoch
    if max_steps is not None:
        total = min(total, max_steps)
    device = images.device
    state = state if state is not None else LoopState()
    pending: list[tuple[int, int, torch.Tensor]] = []
    bar = tqdm(
        total=total,
        initial=state.step,
        disable=not (progress and dist_ctx.is_main),
        unit="step",
        dynamic_ncols=True,
    )
    if batch_size % dist_ctx.world_size:
        raise ConfigError(
            f"--batch-size {batch_size} must be divisible by the {dist_ctx.world_size} processes"
        )
    local = batch_size // dist_ctx.world_size
    mine = slice(dist_ctx.rank * local, (dist_ctx.rank + 1) * local)

    def flush() -> None:
        if not pending:
            return
        values = dist_ctx.mean(torch.stack([m for _, _, m in pending])).tolist()  # one sync
        rows = [(s, e, v) for (s, e, _), v in zip(pending, values, strict=True)]
        pending.clear()
        for step, _epoch, row in rows:
            bad = [name for name, v in zip(METRIC_NAMES, row, strict=True) if not math.isfinite(v)]
            if bad:
                raise DivergenceError(
                    f"training diverged at step {step}: {', '.join(bad)} not finite"
                )
        for cb in callbacks:
            cb.on_metrics(rows)
        last = rows[-1][2]
        bar.set_postfix(
            D=f"{last[0]:.3f}", G=f"{last[1]:.3f}", info=f"{last[2]:.3f}", Dx=f"{last[5]:.2f}"
        )

    try:
        while state.step < total:
            if state.order is None or state.position >= steps_per_epoch:
                state.epoch += 1
                state.position = 0
                state.order = torch.randperm(n, generator=rng, device=rng.device)
            start = state.position * batch_size
            indices = state.order[start : start + batch_size][mine]
            real = images[indices.to(device)]
            latent = code.sample(batch_size, generator=rng, device=rng.device)
            if dist_ctx.enabled or rng.device != device:
                latent = LatentBatch(*(t[mine].to(device) for t in vars(latent).values()))
            metrics = step_fn(real, latent)
            state.step += 1
            state.position += 1
            pending.append((state.step, state.epoch, metrics))
            if len(pending) >= log_every or (sync_every and state.step % sync_every == 0):
                flush()
            bar.update(1)
            for cb in callbacks:
                cb.on_step_end(state.step, state.epoch)
            stopping = stop is not None and stop.signal_name is not None
            if dist_ctx.enabled:
                stopping = dist_ctx.any(stopping, device)
            if stopping and state.step < total:
                flush()
                raise TrainingInterrupted(state.step, (stop and stop.signal_name) or "SIGTERM")
        flush()
    finally:
        bar.close()
    for cb in callbacks:
        cb.on_train_end(state.step, state.epoch)
    return state


class RunWriter:
    """Writes metrics.csv, the three sample grids, and the checkpoints of one run.

    Checkpoints go to ``checkpoints/step_NNNNNN.pt`` (the newest ``keep`` are kept)
    and ``checkpoints/last.pt`` (the newest, as a hard link or a copy).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        config: RunConfig,
        generator: nn.Module,
        discriminator: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        code: LatentCode,
        fixed_noise: torch.Tensor,
        rng: torch.Generator,
        state: LoopState,
        resume_step: int | None = None,
        enabled: bool = True,
    ):
        self.run_dir = run_dir
        self.config = config
        self.generator = generator
        self.discriminator = discriminator
        self.opt_g = opt_g
        self.opt_d = opt_d
        self.code = code
        self.fixed_noise = fixed_noise
        self.rng = rng
        self.state = state
        self.last_grid_step = -1
        self.last_grids: dict[str, torch.Tensor] = {}  # name -> (100, C, H, W) of last_grid_step
        self.last_checkpoint_step = resume_step
        self.seconds: Callable[[], float] = lambda: 0.0  # training time so far, set by the run
        self.metrics_path = run_dir / "metrics.csv"
        if not enabled:  # a non-zero rank under torchrun: rank 0 writes the files
            return
        if resume_step is None:
            with open(self.metrics_path, "w", newline="") as fh:
                csv.writer(fh).writerow(CSV_COLUMNS)
        else:
            truncate_metrics(self.metrics_path, resume_step)

    def on_metrics(self, rows: Sequence[tuple[int, int, list[float]]]) -> None:
        with open(self.metrics_path, "a", newline="") as fh:
            writer = csv.writer(fh)
            for step, epoch, values in rows:
                writer.writerow([step, epoch, *(f"{v:.6g}" for v in values)])

    def on_step_end(self, step: int, epoch: int) -> None:
        t = self.config.train
        if step % t.sample_every == 0:
            self.write_grids(step)
        if step % t.checkpoint_every == 0:
            self.write_checkpoint()

    def on_train_end(self, step: int, epoch: int) -> None:
        if self.last_grid_step != step:
            self.write_grids(step)
        if self.last_checkpoint_step != step:
            self.write_checkpoint()

    def write_grids(self, step: int) -> None:
        device = self.fixed_noise.device
        batches = {
            "fixed": self.code.grid_fixed(self.fixed_noise),
            "varying_c1": self.code.grid_varying(0, device=device),
            "varying_c2": self.code.grid_varying(1, device=device),
        }
        images = generate_images(self.generator, self.code, batches.values())
        for name, batch_images in zip(batches, images, strict=True):
            save_grid(batch_images, self.run_dir / "images" / name / f"{step:06d}.png")
        self.last_grids = dict(zip(batches, images, strict=True))
        self.last_grid_step = step

    def checkpoint_state(self) -> dict:
        s = self.state
        return {
            "config": self.config.to_dict(),
            "step": s.step,
            "epoch": s.epoch,
            "position": s.position,
            "order": s.order.cpu() if s.order is not None else None,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(),
            "rng_state": self.rng.get_state(),
            "rng_device": str(self.rng.device),
            "torch_rng_state": torch.get_rng_state(),
            "seconds": float(self.seconds()),
            "version": __version__,
        }

    def write_checkpoint(self) -> Path:
        """Atomically write this step's checkpoint, point last.pt at it, prune old ones."""
        step = self.state.step
        folder = self.run_dir / "checkpoints"
        path = save_checkpoint(self.checkpoint_state(), folder / f"step_{step:06d}.pt")
        _replace_with_link(path, folder / "last.pt")
        keep = self.config.train.keep_checkpoints
        for old in sorted(folder.glob("step_*.pt"))[:-keep]:
            old.unlink(missing_ok=True)
        self.last_checkpoint_step = step
        return path


def _replace_with_link(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source`` atomically (hard link, else a copy)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def truncate_metrics(path: Path, step: int) -> None:
    """Keep metrics.csv's rows up to ``step``; later rows are recomputed by a resumed run."""
    if not path.is_file():
        raise RunDirError(f"{path}: missing; cannot resume this run")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise RunDirError(f"{path}: not an infogan metrics file")
    kept = [rows[0]]
    for row in rows[1:]:
        try:
            if int(row[0]) <= step and len(row) == len(CSV_COLUMNS):
                kept.append(row)
        except (ValueError, IndexError):
            continue  # a row torn by a crash mid-write
    with atomic_open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(kept)


@torch.no_grad()
def generate_images(
    generator: nn.Module, code: LatentCode, batches: Sequence[LatentBatch] | object
) -> list[torch.Tensor]:
    """Images for each latent batch, with G in inference mode (BatchNorm running stats)."""
    was_training = generator.training
    generator.eval()
    try:
        return [generator(code.assemble(b)).float().cpu() for b in batches]
    finally:
        generator.train(was_training)


def prepare_run_dir(run_dir: Path, *, overwrite: bool = False) -> Path:
    """Create ``run_dir`` for a new run; refuse to mix a new run into an old one."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    if (run_dir / "config.json").exists() or (run_dir / "metrics.csv").exists():
        if not overwrite:
            raise RunDirError(
                f"{run_dir}: already holds a run; pick another --run-dir or pass --overwrite"
            )
        for name in ("images", "checkpoints"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for name in ("metrics.csv", "config.json", "run.json"):
            (run_dir / name).unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"{run_dir}: run directory is not writable ({exc.strerror})") from None
    return run_dir


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"


def train(
    config: RunConfig,
    run_dir: Path | str,
    *,
    data_dir: Path | str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    images: torch.Tensor | None = None,
    tensorboard: bool = False,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    """Train ``config`` into a new run directory ``run_dir``; returns the run directory.

    ``images`` (N, C, S, S) in [-1, 1] replaces the dataset named by the config.
    ``tensorboard`` also logs scalars and grids to ``run_dir/tensorboard``.
    ``probes`` make extra callbacks from the built networks (on the main process),
    e.g. to measure the model as it trains.
    """
    # fix what the dataset's name leaves open (a folder's path, the channel count)
    config = resolve_data_config(config.validate(), images=images)
    return _run(
        config,
        Path(run_dir),
        checkpoint=None,
        overwrite=overwrite,
        data_dir=data_dir,
        progress=progress,
        log=log,
        images=images,
        tensorboard=tensorboard,
        probes=probes,
    )


def resume(
    run_dir: Path | str,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str | None = None,
    data_dir: Path | str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    images: torch.Tensor | None = None,
    tensorboard: bool = False,
) -> Path:
    """Continue the run in ``run_dir`` from ``checkpoints/last.pt``, exactly where it stopped.

    Only the length (``epochs``, ``max_steps``) and the device may change; metrics.csv
    rows after the checkpoint are dropped and recomputed.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no config.json); nothing to resume")
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.is_file():
        raise RunDirError(f"{run_dir}: no checkpoint yet (checkpoints/last.pt); cannot resume")
    state = load_checkpoint(ckpt_path)
    try:
        saved = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (ValueError, ConfigError) as exc:
        raise RunDirError(f"{run_dir / 'config.json'}: unreadable ({exc})") from None
    config = RunConfig.from_dict(state["config"])
    if (config.preset, config.model, config.latent) != (saved.preset, saved.model, saved.latent):
        raise CheckpointError(
            f"{ckpt_path}: checkpoint of preset {config.preset!r} ({config.model.arch}), "
            f"but the run is {saved.preset!r} ({saved.model.arch})"
        )
    for key in ("order", "position", "rng_state", "opt_g", "opt_d", "epoch"):
        if key not in state:
            raise CheckpointError(f"{ckpt_path}: checkpoint lacks {key!r}; cannot resume")
    config = config.with_train(epochs=epochs, max_steps=max_steps, device=device).validate()
    return _run(
        config,
        run_dir,
        checkpoint=state,
        overwrite=False,
        data_dir=data_dir,
        progress=progress,
        log=log,
        images=images,
        tensorboard=tensorboard,
    )


def _restore(state: dict, *, generator, discriminator, opt_g, opt_d, rng, device) -> LoopState:
    try:
        generator.load_state_dict(state["generator"], strict=True)
        discriminator.load_state_dict(state["discriminator"], strict=True)
        load_optimizer_state(opt_g, state["opt_g"])
        load_optimizer_state(opt_d, state["opt_d"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"checkpoint does not fit this run's networks: {first}") from None
    if state.get("rng_device", "cpu").split(":")[0] == device.type:
        rng.set_state(state["rng_state"])
    else:  # RNG streams differ between devices: continue, but not bit-identically
        rng.manual_seed(int(state["config"]["train"]["seed"]) + int(state["step"]))
    if isinstance(state.get("torch_rng_state"), torch.Tensor):
        torch.set_rng_state(state["torch_rng_state"])
    order = state["order"]
    return LoopState(
        step=int(state["step"]),
        epoch=int(state["epoch"]),
        position=int(state["position"]),
        order=order.to(rng.device) if isinstance(order, torch.Tensor) else None,
    )


def _run(
    config: RunConfig,
    run_dir: Path,
    *,
    checkpoint: dict | None,
    overwrite: bool,
    data_dir: Path | str | None,
    progress: bool,
    log: Callable[[str], None],
    images: torch.Tensor | None,
    tensorboard: bool,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    """Join the process group (under torchrun), prepare the directory on rank 0, train."""
    t = config.train
    ctx = distributed.from_environment()
    device = distributed.setup(ctx, resolve_device(t.device))
    try:
        problem = None
        if ctx.is_main:
            try:
                if checkpoint is None:
                    prepare_run_dir(run_dir, overwrite=overwrite)
                (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
            except InfoGANError as exc:
                if not ctx.enabled:
                    raise
                problem = str(exc)
        _raise_shared(ctx, problem, device)
        return _run_on(
            config,
            run_dir,
            checkpoint=checkpoint,
            data_dir=data_dir,
            progress=progress,
            log=log if ctx.is_main else (lambda _msg: None),
            images=images,
            tensorboard=tensorboard,
            ctx=ctx,
            device=device,
            probes=probes,
        )
    finally:
        distributed.teardown(ctx)


def _raise_shared(ctx: DistContext, problem: str | None, device: torch.device) -> None:
    """Raise rank 0's setup problem on every rank (so no rank waits for the others)."""
    if ctx.enabled:
        problem = ctx.first_error(problem, device)
    if problem is not None:
        raise RunDirError(problem)


@dataclass
class TrainingParts:
    """Everything one training iteration needs, built the way ``infogan train`` builds it."""

    generator: nn.Module  # the plain modules (what checkpoints hold)
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    code: LatentCode
    step_fn: InfoGANStep  # runs DDP wrappers of the two modules under torchrun


#: devices whose Adam has a fused implementation: one pass over each parameter's
#: memory instead of about ten (measured 5x faster per step on CPU for paper28's
#: 6.4M-weight layers, where it was 13% of a cluster28 step)
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device):
    """Adam, fused where ``device`` has the fused implementation. Same update rule as
    the default implementation; only the order of floating-point operations differs."""
    fused = True if device.type in FUSED_ADAM_DEVICES else None
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state, keeping this optimizer's implementation (fused or
    not): that is a property of the machine resuming the run, not of the checkpoint."""
    keep = ("fused", "foreach", "capturable", "differentiable")
    mine = [{k: g[k] for k in keep if k in g} for g in optimizer.param_groups]
    saved_groups = state["param_groups"]
    if len(saved_groups) != len(mine):
        raise ValueError(
            f"the checkpoint's optimizer has {len(saved_groups)} parameter groups, "
            f"this one {len(mine)}"
        )
    groups = [{**saved, **flags} for saved, flags in zip(saved_groups, mine, strict=True)]
    optimizer.load_state_dict({**state, "param_groups": groups})


def build_training(
    config: RunConfig, device: torch.device | str = "cpu", *, ctx: DistContext = SINGLE
) -> TrainingParts:
    """Fresh networks (seeded by the config), Adam optimizers, the code and the step."""
    t = config.train
    device = torch.device(device)
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    torch.manual_seed(t.seed)
    generator, discriminator = build_models(config)
    if ctx.enabled and t.sync_bn:
        generator = distributed.convert_batchnorm(generator, device)
        discriminator = distributed.convert_batchnorm(discriminator, device)
    generator.to(device, memory_format=memory_format)
    discriminator.to(device, memory_format=memory_format)
    betas = (t.beta1, t.beta2)
    opt_g = make_adam(generator.parameters(), lr=t.lr_g, betas=betas, device=device)
    opt_d = make_adam(discriminator.parameters(), lr=t.lr_d, betas=betas, device=device)
    code = LatentCode(config.latent)
    g_train, d_train = generator, discriminator
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        g_train = DDP(generator, device_ids=ids)
        d_train = DDP(discriminator, device_ids=ids)
    g_plain, d_plain = generator, discriminator
    if t.compile:
        g_plain, d_plain = torch.compile(generator), torch.compile(discriminator)
        if ctx.enabled:
            g_train, d_train = torch.compile(g_train), torch.compile(d_train)
        else:
            g_train, d_train = g_plain, d_plain
    step_fn = InfoGANStep(
        generator=g_train,
        discriminator=d_train,
        opt_g=opt_g,
        opt_d=opt_d,
        code=code,
        lambda_cat=t.lambda_cat,
        lambda_cont=t.lambda_cont,
        plain_generator=g_plain,
        plain_discriminator=d_plain,
        lambda_cluster=t.lambda_cluster,
        cluster_pairs=t.cluster_pairs,
        cluster_augment=t.cluster_augment,
        cluster_balance=t.cluster_balance,
        cluster_copies=t.cluster_copies,
        q_cat_on_fakes=t.q_cat_on_fakes,
        augment_fakes=t.augment_fakes,
        overcluster_weight=t.overcluster_weight if config.model.overcluster else 0.0,
        lambda_orth=t.lambda_orth,
        orth_samples=t.orth_samples,
        q_fixed_std=t.q_fixed_std,
        turn_code=t.turn_code,
        turn_degrees=t.turn_degrees,
        turn_samples=t.turn_samples,
        turn_restyle=t.turn_restyle,
        turn_thicken=t.turn_thicken,
        thicken_code=t.thicken_code,
        thicken_squeeze=t.thicken_squeeze,
        squeeze_code=t.squeeze_code,
        tilt_code=t.tilt_code,
        tilt_degrees=t.tilt_degrees,
        tilt_from=t.tilt_from,
        precision=resolve_precision(t.precision, device),
    )
    return TrainingParts(generator, discriminator, opt_g, opt_d, code, step_fn)


def _run_on(
    config: RunConfig,
    run_dir: Path,
    *,
    checkpoint: dict | None,
    data_dir: Path | str | None,
    progress: bool,
    log: Callable[[str], None],
    images: torch.Tensor | None,
    tensorboard: bool,
    ctx: DistContext,
    device: torch.device,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    t = config.train
    _builder, size = ARCHITECTURES[config.model.arch]
    if images is None:
        if ctx.is_main:
            # one download, then every rank reads the verified files
            prepare_dataset(config.data, data_dir, log=log)
        ctx.barrier()
        log(f"loading {describe_dataset(config.data.dataset)} ({size}x{size})")
        images = load_dataset(config.data, data_dir, image_size=size, log=log)
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    images = images.to(device).contiguous(memory_format=memory_format)

    parts = build_training(config, device, ctx=ctx)
    generator, discriminator = parts.generator, parts.discriminator
    opt_g, opt_d, code, step_fn = parts.opt_g, parts.opt_d, parts.code, parts.step_fn
    rng = torch.Generator(device=device).manual_seed(t.seed)
    fixed_noise = torch.randn(
        config.latent.num_categories, config.latent.noise_dim, generator=rng, device=device
    )
    if checkpoint is None:
        state = LoopState()
        seconds_before = 0.0
    else:
        state = _restore(
            checkpoint,
            generator=generator,
            discriminator=discriminator,
            opt_g=opt_g,
            opt_d=opt_d,
            rng=rng,
            device=device,
        )
        fixed_noise = checkpoint["fixed_noise"].to(device)
        seconds_before = float(checkpoint.get("seconds", 0.0))
    step_fn.steps_done = state.step  # a resumed run's schedules go on where they were
    writer = RunWriter(
        run_dir,
        config=config,
        generator=generator,
        discriminator=discriminator,
        opt_g=opt_g,
        opt_d=opt_d,
        code=code,
        fixed_noise=fixed_noise,
        rng=rng,
        state=state,
        resume_step=None if checkpoint is None else state.step,
        enabled=ctx.is_main,
    )
    callbacks: list[Callback] = [writer] if ctx.is_main else []
    total = min(t.epochs * (len(images) // t.batch_size), t.max_steps or math.inf)
    checks = [
        (t.cluster_resplit, PairResplit, {"strength": t.cluster_augment}),
        (t.cluster_reseed, CodeReseed, {}),
    ]
    # before the writer, in this order: a checkpoint holds the changed weights
    callbacks[:0] = [
        check(
            generator=generator,
            discriminator=discriminator,
            probe=images[:PROBE_IMAGES],
            noise_dim=config.latent.noise_dim,
            every=every,
            last_step=int(0.75 * total),
            log=log,
            **options,
        )
        for every, check, options in checks
        if every
    ]
    if tensorboard and ctx.is_main:
        from infogan.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir / "tensorboard", writer))
    if ctx.is_main:
        callbacks.extend(make(parts) for make in probes)
    mode = "plain GAN (lambda = 0)" if t.is_plain_gan else "InfoGAN"
    where = f"from step {state.step} " if checkpoint is not None else ""
    ranks = f" x {ctx.world_size} processes" if ctx.enabled else ""
    bf16 = " (bf16 autocast)" if resolve_precision(t.precision, device) == "bf16" else ""
    log(f"training {config.preset} {mode} on {device}{bf16}{ranks} {where}into {run_dir}")
    started = time.time()
    writer.seconds = lambda: seconds_before + time.time() - started
    first_step = state.step
    try:
        with StopFlag() as stop:
            train_loop(
                step_fn=step_fn,
                images=images,
                code=code,
                batch_size=t.batch_size,
                epochs=t.epochs,
                max_steps=t.max_steps,
                rng=rng,
                callbacks=callbacks,
                log_every=t.log_every,
                sync_every=t.checkpoint_every,
                state=state,
                stop=stop,
                progress=progress,
                dist_ctx=ctx,
            )
    except TrainingInterrupted:
        if ctx.is_main:
            writer.write_checkpoint()
        ctx.barrier()
        raise
    except DivergenceError as exc:
        last = writer.last_checkpoint_step
        kept = f"last good checkpoint: step {last}" if last is not None else "no checkpoint yet"
        raise DivergenceError(f"{exc}; {kept} in {run_dir / 'checkpoints'}") from None
    elapsed = time.time() - started
    steps = state.step - first_step
    summary = {
        "steps": state.step,
        "epochs": state.epoch,
        "images_seen": state.step * t.batch_size,
        "seconds": round(seconds_before + elapsed, 2),
        "images_per_second": round(steps * t.batch_size / max(elapsed, 1e-9), 1),
        "resumed_from": first_step if checkpoint is not None else None,
        "device": str(device),
        "precision": resolve_precision(t.precision, device),
        "hardware": _hardware(device),
        "torch": torch.__version__,
        "infogan": __version__,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if ctx.is_main:
        summary["processes"] = ctx.world_size
        (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    ctx.barrier()  # the other ranks return once rank 0's files are complete
    log(
        f"done: {state.step} steps, {elapsed / 60:.1f} min "
        f"({summary['images_per_second']:.0f} images/s); grids in {run_dir / 'images'}"
    )
    return run_dir


__all__ = [
    "CSV_COLUMNS",
    "METRIC_NAMES",
    "DivergenceError",
    "InfoGANStep",
    "LoopState",
    "RunWriter",
    "TrainingInterrupted",
    "TrainingParts",
    "build_training",
    "generate_images",
    "prepare_run_dir",
    "resume",
    "train",
    "train_loop",
]

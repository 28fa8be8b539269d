"""The losses of one step beyond the GAN's: the information term, and the project's
additions to the paper's objective.

- :class:`InformationTerm`: lambda_cat * CE(Q's categories, c_d) + lambda_cont * the
  continuous codes' loss. A code that the config has read from transformed copies
  (``train.readings``) is scored on Q's reading of those copies (:class:`CopyReadings`)
  instead of on Q's reading of the generated digits themselves.
- :class:`ClusteringTerm`: added to D's loss: minus the mutual information of Q's
  categories of each real digit and of a restyled copy of it.
- :class:`TurnPairTerm`: added to G's loss: moving the code read from turned copies must
  turn the digit, pixel for pixel.

An addition to the objective is a :class:`Term`: it sees the step's :class:`StepBatch`,
names the images it wants D to judge, and returns what it adds to D's loss and to G's.
:func:`build_terms` makes them from the config, in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from infogan.augment import restyle_copy, transform, turn
from infogan.config import CodeReading, RunConfig
from infogan.distributed import BatchRandom, DistContext
from infogan.latent import LatentBatch
from infogan.losses import continuous_loss_per_row, info_loss, paired_cluster_loss

#: how many generated digits of each (global) batch get the copies a code is read from
COPIES = 32
#: the paired term's weight of equal category use, relative to the mutual information's
CLUSTER_BALANCE = 1.5
#: the weight of the paired term on the over-clustering head, relative to the code's
OVERCLUSTER_WEIGHT = 0.5


@dataclass(frozen=True)
class DOutputs:
    """D and Q's outputs for a batch, in float32."""

    logit: torch.Tensor  # (B,) D's logit
    cat: torch.Tensor  # (B, K) Q's categorical logits
    cont: torch.Tensor  # (B, C) estimates, or (B, 2C) a Gaussian's means then log-stds
    over: torch.Tensor | None = None  # (B, N) the over-clustering head's logits


@dataclass
class StepBatch:
    """What a term may look at in one step (this process's rows of the global batch)."""

    real: torch.Tensor  # (B, C, H, W) real images
    fake: torch.Tensor  # (B, C, H, W) G's images (detached in D's phase)
    latent: LatentBatch  # the codes the fakes were made from
    autocast: Callable[[], contextlib.AbstractContextManager]  # the step's precision
    ctx: DistContext  # the process group (no-ops in one process)
    real_out: DOutputs | None = None  # D and Q on the real batch (D's phase, once judged)
    # G's phase: G's digits for other codes, normalised by their own batch's statistics
    generate: Callable[[LatentBatch], torch.Tensor] | None = None

    def rand(self, global_rows: int, mine: slice) -> BatchRandom:
        """Random numbers for ``mine`` of ``global_rows`` rows, the same in any process."""
        return BatchRandom(global_rows, mine, self.real.device)

    @property
    def global_size(self) -> int:
        return len(self.real) * self.ctx.world_size


class Term:
    """An addition to the paper's objective: what it adds to D's and G's losses.

    In D's phase the step first asks each term for the images it wants D and Q to judge
    (:meth:`d_images`), judges them in the same pass of D as the real and generated
    batches, and hands each term its outputs (:meth:`d_loss`)."""

    #: whether the term reads the over-clustering head (of its images and the real batch)
    overcluster = False

    def d_images(self, batch: StepBatch) -> torch.Tensor | None:
        return None

    def d_loss(self, batch: StepBatch, out: DOutputs | None) -> torch.Tensor | None:
        return None

    def g_loss(self, batch: StepBatch) -> torch.Tensor | None:
        return None


class ClusteringTerm(Term):
    """``weight`` times minus the mutual information between Q's categories of each real
    digit and of a restyled copy of it (:func:`~infogan.losses.paired_cluster_loss`,
    over the global batch), plus the same on the over-clustering head if D has one."""

    def __init__(self, weight: float, *, overcluster: bool):
        self.weight = weight
        self.overcluster = overcluster

    def d_images(self, b: StepBatch) -> torch.Tensor:
        """A restyled copy of each real digit."""
        with b.autocast():
            return restyle_copy(b.real, rand=b.rand(b.global_size, b.ctx.rows(len(b.real))))

    def d_loss(self, b: StepBatch, out: DOutputs | None) -> torch.Tensor:
        assert b.real_out is not None and out is not None
        pair = self._paired(b, b.real_out.cat, out.cat)
        if self.overcluster:
            pair = pair + OVERCLUSTER_WEIGHT * self._paired(b, b.real_out.over, out.over)
        return self.weight * pair

    @staticmethod
    def _paired(b: StepBatch, logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
        return paired_cluster_loss(
            logits_a,
            logits_b,
            balance=CLUSTER_BALANCE,
            sum_over_batch=b.ctx.sum_over_ranks if b.ctx.enabled else None,
            batch_size=b.global_size,
        )


class TurnPairTerm(Term):
    """Moving code k from u to v must turn the digit by (v - u) * ``degrees``: ``weight``
    times the squared pixel error between G(z, c, c_k = u) turned by half that angle and
    G(z, c, c_k = v) turned back by the other half, for :data:`COPIES` rows of the global
    batch (those the readings copy; v drawn anew), averaged over the global batch's pairs.

    Code k is the one Q reads from copies turned by a known angle within +-``degrees``.
    That reading alone lets Q add the angle it sees to a reading of the code from any
    feature a turn keeps, so a generator may hide the code there; this term leaves it no
    code but the turn. Both digits are resampled alike, so neither is held to a blurred
    copy of the other."""

    def __init__(self, weight: float, *, code: int, degrees: float):
        self.weight = weight
        self.code = code
        self.degrees = degrees

    def g_loss(self, b: StepBatch) -> torch.Tensor:
        assert b.generate is not None
        local, pairs, mine = CopyReadings.rows(len(b.fake), b.ctx)
        moved = b.latent.continuous[local].clone()
        was = moved[:, self.code - 1].clone()
        moved[:, self.code - 1] = b.rand(pairs, mine)(len(moved)) * 2 - 1
        other = LatentBatch(b.latent.noise[local], b.latent.categories[local], moved)
        drawn = b.generate(other)
        half = (moved[:, self.code - 1] - was) * (self.degrees / 2)
        with b.autocast():
            first, again = turn(b.fake[local], half), turn(drawn, -half)
        rows = (again.float() - first.float()).square().flatten(1).mean(1)
        if b.ctx.enabled:
            return self.weight * b.ctx.sum_over_ranks(rows.sum()) / pairs
        return self.weight * rows.mean()


@dataclass(frozen=True)
class Copies:
    """The changed copies the codes are read from, and how far each code's target moved."""

    images: torch.Tensor  # every reading's copies, one reading's after another
    codes: tuple[int, ...]  # the code (1-based) each reading reads
    sizes: tuple[int, ...]  # how many copies each reading made
    moved: tuple[torch.Tensor | float, ...]  # per reading: its target's shift, per copy

    def readings(self, cont: torch.Tensor) -> dict[int, tuple[torch.Tensor, torch.Tensor | float]]:
        """{code k: (Q's readings (n, C or 2C) of code k's copies, how far code k's target
        moves for each copy)}, from Q's continuous outputs ``cont`` for :attr:`images`."""
        parts = cont.split(list(self.sizes))
        return {k: (r, m) for k, r, m in zip(self.codes, parts, self.moved, strict=True)}


class CopyReadings:
    """Changed copies of the fakes, for the codes named by ``readings`` to be read from.

    The copies are made of :data:`COPIES` rows of the global batch, every
    ``global batch // COPIES``-th (all the first ones when the batch is smaller), so that
    under torchrun each process holds its share of them. Each copy goes through its
    reading's transforms in order; the known ones move the code's target by the amount
    drawn over the transform's range. D judges them in its pass over the phase's batches.
    """

    def __init__(self, readings: Sequence[CodeReading]):
        self.readings = tuple(readings)

    def __bool__(self) -> bool:
        return bool(self.readings)

    @staticmethod
    def rows(batch_rows: int, ctx: DistContext) -> tuple[slice, int, slice]:
        """(this rank's rows of its batch that are copied, the global number of copies,
        their positions among the copies)."""
        total = batch_rows * ctx.world_size
        stride = max(1, total // COPIES)
        copies = min(COPIES, total)
        first = ctx.rank * batch_rows  # this rank's first row in the global batch
        lo = -(-first // stride)  # the first copy index at or after it
        hi = min(copies, -(-(first + batch_rows) // stride))
        local = slice(lo * stride - first, max(lo, hi) * stride - first, stride)
        return local, copies, slice(lo, max(lo, hi))

    def make(self, b: StepBatch, images: torch.Tensor) -> Copies | None:
        """The copies of ``images`` (the step's fakes) every reading asks for; ``None``
        without readings."""
        if not self.readings:
            return None
        local, copies, mine = self.rows(len(images), b.ctx)
        made: list[torch.Tensor] = []
        moved: list[torch.Tensor | float] = []
        with b.autocast():
            for reading in self.readings:
                x, shift = images[local], 0.0
                rand = b.rand(copies, mine)
                for t in reading.transforms:
                    x, units = transform(x, t.kind, t.amount, known=t.known, rand=rand)
                    if t.known:
                        shift = shift + units
                made.append(x)
                moved.append(shift)
            joined = torch.cat(made)
        return Copies(
            joined,
            tuple(r.code for r in self.readings),
            tuple(len(x) for x in made),
            tuple(moved),
        )


class InformationTerm:
    """lambda_cat * CE(Q's categories, c_d) + lambda_cont * the continuous codes' loss
    (``cont_loss``), each code scored on the copies it is read from, if any."""

    def __init__(self, *, lambda_cat: float, lambda_cont: float, cont_loss: str, readings):
        self.lambda_cat = lambda_cat
        self.lambda_cont = lambda_cont
        self.cont_loss = cont_loss
        self.copies = CopyReadings(readings)

    @property
    def on(self) -> bool:
        return self.lambda_cat > 0 or self.lambda_cont > 0

    def __call__(
        self,
        out: DOutputs,
        latent: LatentBatch,
        b: StepBatch,
        copies: Copies | None = None,
        copies_out: DOutputs | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weighted total, categorical CE, continuous loss) for the fakes D and Q judged
        as ``out``, with the readings' ``copies`` of them judged as ``copies_out``."""
        if copies is None or copies_out is None:
            return info_loss(
                out.cat,
                latent.categories,
                out.cont,
                latent.continuous,
                cont_loss=self.cont_loss,
                lambda_cat=self.lambda_cat,
                lambda_cont=self.lambda_cont,
            )
        cat = F.cross_entropy(out.cat, latent.categories)
        loss = continuous_loss_per_row(out.cont, latent.continuous, self.cont_loss)
        per_code = list(loss.mean(0).unbind())
        local, n_copies, _ = CopyReadings.rows(len(out.cat), b.ctx)
        for k, (pred, shift) in copies.readings(copies_out.cont).items():
            target = latent.continuous[local].clone()
            target[:, k - 1] += shift
            rows = continuous_loss_per_row(pred, target, self.cont_loss)
            if b.ctx.enabled:  # the mean over the global batch's copies
                per_code[k - 1] = b.ctx.sum_over_ranks(rows.sum(0))[k - 1] / n_copies
            else:
                per_code[k - 1] = rows.mean(0)[k - 1]
        cont = torch.stack(per_code).mean()
        return self.lambda_cat * cat + self.lambda_cont * cont, cat, cont


def build_terms(config: RunConfig) -> tuple[InformationTerm, list[Term]]:
    """The information term and the additions to the objective that ``config`` asks for."""
    t = config.train
    info = InformationTerm(
        lambda_cat=t.lambda_cat,
        lambda_cont=t.lambda_cont,
        cont_loss=t.cont_loss,
        readings=t.readings,
    )
    terms: list[Term] = []
    if t.lambda_cluster > 0:
        terms.append(ClusteringTerm(t.lambda_cluster, overcluster=config.model.overcluster > 0))
    if t.lambda_turn_pair > 0:
        reading = next(r for r in t.readings if r.known_turn)
        terms.append(
            TurnPairTerm(t.lambda_turn_pair, code=reading.code, degrees=reading.known_turn)
        )
    return info, terms

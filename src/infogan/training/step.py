"""One InfoGAN iteration, as the paper and pytorch/examples' DCGAN lay it out.

1. D and Q: tell real from fake, and recover the code from the (detached) fakes.
2. G: fool D, and make the code recoverable (Q's loss flows back into G).
3. A gradient-free pass of the updated G through D measures D(G(z)) after the G update.

Each phase's batches for D (the real digits, the fakes, the copies the added terms and
the code readings ask about) go through D in one pass, each normalised by its own
BatchNorm statistics (:mod:`infogan.models.norm`): the arithmetic of a pass for each,
in larger products.
The information term and the additions to the objective are objects of
:mod:`infogan.training.objectives`; the step calls them at fixed places.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from infogan.distributed import SINGLE, DistContext
from infogan.latent import LatentBatch, LatentCode
from infogan.losses import d_loss, g_nonsaturating_loss
from infogan.models.cast import CastOnce
from infogan.models.norm import separate_statistics, splits_batches
from infogan.training.objectives import DOutputs, InformationTerm, StepBatch, Term


@contextlib.contextmanager
def frozen_batchnorm_stats(*modules: nn.Module) -> Iterator[None]:
    """Normalise by each batch's own statistics without touching the running ones, for
    passes that only measure: BatchNorm layers in training mode stop tracking for the
    while (no running-statistics update, no count, no extra kernels)."""
    tracking = [
        m
        for module in modules
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats
    ]
    for m in tracking:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in tracking:
            m.track_running_stats = True


class InfoGANStep:
    """One iteration over given networks and optimizers; returns the metrics tensor
    (the order of ``rundir.METRIC_NAMES``), left on the device.

    ``generator``/``discriminator`` may be DDP wrappers of ``plain_generator`` and
    ``plain_discriminator``: the G phase and the measuring pass use the plain
    discriminator (D's weights get no gradient there, so DDP has nothing to reduce).
    ``precision`` "bf16" runs the networks under bfloat16 autocast; losses stay float32.
    """

    mode = "eager"  # how the step runs (:class:`~infogan.training.graph.CapturedStep`: "graph")

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        code: LatentCode,
        info: InformationTerm,
        terms: Sequence[Term] = (),
        plain_generator: nn.Module | None = None,
        plain_discriminator: nn.Module | None = None,
        precision: str = "fp32",
        ctx: DistContext = SINGLE,
    ):
        self.G, self.D = generator, discriminator
        self.G_plain = generator if plain_generator is None else plain_generator
        self.D_plain = discriminator if plain_discriminator is None else plain_discriminator
        self.opt_g, self.opt_d = opt_g, opt_d
        self.code = code
        self.info = info
        self.terms = tuple(terms)
        self.precision = precision
        self.bf16 = precision == "bf16"
        self.ctx = ctx
        # D's passes read the over-clustering head where a term uses it
        self.overcluster = any(t.overcluster for t in self.terms)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _judge(self, D: nn.Module, batches: Sequence[torch.Tensor | None]) -> list[DOutputs | None]:
        """D and Q's outputs, in float32, for each of ``batches`` (``None`` for ``None``)
        under the step's precision: one pass of D over all of them, each normalised by
        its own BatchNorm statistics as in a pass of its own (models/norm.py), or a pass
        each where D's BatchNorm covers the global batch (torchrun's ``sync_bn``)."""
        given = [x for x in batches if x is not None]
        kwargs = {"overcluster": True} if self.overcluster else {}
        with self.autocast():
            if len(given) > 1 and splits_batches(self.D_plain):
                sizes = [len(x) for x in given]
                with separate_statistics(self.D_plain, sizes):
                    joined = D(torch.cat(given), **kwargs)
                parts = zip(*(t.float().split(sizes) for t in joined), strict=True)
                outs = iter([DOutputs(*part) for part in parts])
            else:
                outs = iter([DOutputs(*(t.float() for t in D(x, **kwargs))) for x in given])
        return [None if x is None else next(outs) for x in batches]

    def _generate(self, latent: LatentBatch) -> torch.Tensor:
        """G's digits for more codes in G's phase (a term's), normalised by their own
        batch's statistics, leaving the running ones alone; the plain G, as DDP allows one
        forward pass a step."""
        with frozen_batchnorm_stats(self.G_plain), self.autocast():
            return self.G_plain(self.code.assemble(latent))

    def __call__(self, real: torch.Tensor, latent: LatentBatch) -> torch.Tensor:
        # under autocast, each weight is cast once for the passes between its updates
        with CastOnce() as casts:
            return self._step(real, latent, casts)

    def _step(self, real: torch.Tensor, latent: LatentBatch, casts: CastOnce) -> torch.Tensor:
        G, D = self.G, self.D
        self.device = real.device
        code = self.code.assemble(latent)  # (B, latent_dim)
        with self.autocast():
            fake = G(code)  # (B, C, H, W)

        # (1) D and Q: maximise log D(x) + log(1 - D(G(z, c))), minimise the information loss
        batch = StepBatch(real, fake.detach(), latent, self.autocast, self.ctx)
        wanted = [t.d_images(batch) for t in self.terms]
        copies = self.info.copies.make(batch, fake.detach())
        real_out, fake_out, *wanted_out, copies_out = self._judge(
            D, [real, fake.detach(), *wanted, None if copies is None else copies.images]
        )
        assert real_out is not None and fake_out is not None
        batch.real_out = real_out
        added = [t.d_loss(batch, out) for t, out in zip(self.terms, wanted_out, strict=True)]
        _, cat_d, cont_d = self.info(fake_out, latent, batch, copies, copies_out)
        loss_d = d_loss(real_out.logit, fake_out.logit)
        total_d = loss_d
        if self.info.on:
            total_d = total_d + self.info.lambda_cat * cat_d
            total_d = total_d + self.info.lambda_cont * cont_d
        for extra in added:
            if extra is not None:
                total_d = total_d + extra
        self.opt_d.zero_grad(set_to_none=True)
        total_d.backward()
        self.opt_d.step()
        casts.forget(self.opt_d)

        # (2) G: maximise log D(G(z, c)) and the information bound L_I(G, Q).
        # D's weights get no gradient here (saves their backward); only G is stepped.
        self.D_plain.requires_grad_(False)
        try:
            batch = StepBatch(real, fake, latent, self.autocast, self.ctx, generate=self._generate)
            copies = self.info.copies.make(batch, fake)
            fake_out, copies_out = self._judge(
                self.D_plain, [fake, None if copies is None else copies.images]
            )
            assert fake_out is not None
            info, info_cat, info_cont = self.info(fake_out, latent, batch, copies, copies_out)
            loss_g = g_nonsaturating_loss(fake_out.logit)
            total_g = loss_g + info if self.info.on else loss_g
            for extra in (t.g_loss(batch) for t in self.terms):
                if extra is not None:
                    total_g = total_g + extra
            self.opt_g.zero_grad(set_to_none=True)
            total_g.backward()
            self.opt_g.step()
            casts.forget(self.opt_g)
        finally:
            self.D_plain.requires_grad_(True)

        # (3) D(G(z)) after the G update: a measuring pass that leaves BN statistics alone
        frozen = frozen_batchnorm_stats(self.G_plain, self.D_plain)
        with torch.no_grad(), frozen, self.autocast():
            after_logit = self.D_plain(self.G_plain(code))[0].float()

        return torch.stack(
            [
                loss_d.detach(),
                loss_g.detach(),
                (info_cat + info_cont).detach(),
                info_cat.detach(),
                info_cont.detach(),
                torch.sigmoid(real_out.logit.detach()).mean(),
                torch.sigmoid(fake_out.logit.detach()).mean(),
                torch.sigmoid(after_logit).mean(),
            ]
        )

"""The losses, as small pure functions of logits and codes.

Shapes: ``B`` is the batch, ``K`` the number of categories, ``C`` of continuous codes.
Binary cross-entropies are computed from logits (the numerically stable form of
BCE on sigmoid probabilities).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE(D(x), 1) + BCE(D(G(z, c)), 0); logits of shape (B,)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE(D(G(z, c)), 1): the generator's non-saturating objective; logits (B,)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def info_loss(
    cat_logits: torch.Tensor,
    categories: torch.Tensor,
    cont_pred: torch.Tensor,
    continuous: torch.Tensor,
    *,
    cont_loss: str = "mse",
    lambda_cat: float = 1.0,
    lambda_cont: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The information term: lambda_cat * CE(Q_cat, c_d) + lambda_cont * L_cont(Q_cont, c_c).

    cat_logits (B, K), categories (B,) int64, continuous (B, C). ``cont_pred`` is Q's
    point estimate (B, C) or a factored Gaussian (B, 2C), means then log-stds.
    ``cont_loss`` "mse" scores the estimates (the Gaussian's means) by squared error,
    "gaussian" the Gaussian by its negative log-likelihood; both averaged over the batch
    and the codes. Returns (weighted total, categorical CE, continuous loss); the last
    two unweighted. Minimising the CE maximises the variational bound L_I = H(c) - CE.
    """
    cat = F.cross_entropy(cat_logits, categories)
    if cont_loss == "gaussian":
        cont = continuous_loss_per_row(cont_pred, continuous, "gaussian").mean()
    else:
        cont = F.mse_loss(cont_pred[:, : continuous.shape[1]], continuous)
    return lambda_cat * cat + lambda_cont * cont, cat, cont


def continuous_loss_per_row(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """(B, C) each continuous code's loss on each row: the Gaussian negative log-likelihood
    (``kind`` "gaussian"; ``pred`` (B, 2C) holds means then log-stds) or the squared error
    of the estimates (``kind`` "mse"; the first C columns of ``pred``); ``target`` (B, C).
    Averaged over rows and codes, it is :func:`info_loss`'s continuous term."""
    c = target.shape[1]
    if kind == "gaussian":
        z = (target - pred[:, :c]) * torch.exp(-pred[:, c:])
        return 0.5 * z.square() + pred[:, c:] + 0.5 * math.log(2 * math.pi)
    return (pred[:, :c] - target).square()


def paired_cluster_loss(
    logits_a: torch.Tensor,
    logits_b: torch.Tensor,
    *,
    balance: float = 1.0,
    sum_over_batch: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Minus the mutual information between Q's categories of two views of the same images.

    The joint distribution of the pair of categories is estimated over the batch
    (logits (B, K) each, row i of both from image i) and symmetrised; its mutual
    information is ln K at most, reached when both views get the same confident
    category and the categories are used equally. ``balance`` > 1 weighs the entropy
    of the categories' marginal more than the mutual information does (which is
    ``balance`` = 1), pushing harder towards using every category equally often.
    A batch split over processes gives its slice here, ``sum_over_batch`` (which sums a
    tensor over the processes) and the whole ``batch_size``: the joint is then the whole
    batch's, as in one process.
    """
    pa = F.softmax(logits_a.float(), dim=1)
    pb = F.softmax(logits_b.float(), dim=1)
    pairs = pa.T @ pb  # (K, K)
    if sum_over_batch is not None:
        pairs = sum_over_batch(pairs)
    joint = pairs / (batch_size or pa.shape[0])
    joint = ((joint + joint.T) / 2).clamp_min(1e-12)
    marginal = joint.sum(1)
    outer = marginal[:, None] * marginal[None, :]
    return -(joint * (torch.log(joint) - balance * torch.log(outer))).sum()

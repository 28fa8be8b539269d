"""The losses, as small pure functions of logits and codes.

Shapes: ``B`` is the batch, ``K`` the number of categories, ``C`` of continuous codes.
Binary cross-entropies are computed from logits (the numerically stable form of
BCE on sigmoid probabilities).
"""

from __future__ import annotations

import math

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
    lambda_cat: float = 1.0,
    lambda_cont: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The information term: lambda_cat * CE(Q_cat, c_d) + lambda_cont * L_cont(Q_cont, c_c).

    cat_logits (B, K), categories (B,) int64, continuous (B, C). ``cont_pred`` is either
    Q's point estimate (B, C), scored by mean-squared error (the seed's Q), or a factored
    Gaussian (B, 2C), means then log-stds, scored by its negative log-likelihood
    (the paper's Q); both are averaged over the batch and the codes.
    Returns (weighted total, categorical CE, continuous loss); the last two unweighted.
    Minimising the CE maximises the variational lower bound L_I = H(c) - CE.
    """
    cat = F.cross_entropy(cat_logits, categories)
    num_continuous = continuous.shape[1]
    if num_continuous == 0:
        cont = cat_logits.new_zeros(())
    elif cont_pred.shape[1] == 2 * num_continuous:
        cont = gaussian_nll(
            cont_pred[:, :num_continuous], cont_pred[:, num_continuous:], continuous
        )
    else:
        cont = F.mse_loss(cont_pred, continuous)
    return lambda_cat * cat + lambda_cont * cont, cat, cont


def continuous_loss_per_code(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(C,) each continuous code's loss, averaged over the batch: the Gaussian negative
    log-likelihood when ``pred`` (B, 2C) holds means then log-stds, the squared error
    when ``pred`` (B, C) holds point estimates; ``target`` (B, C). Their mean is
    :func:`info_loss`'s continuous term."""
    c = target.shape[1]
    if pred.shape[1] == 2 * c:
        z = (target - pred[:, :c]) * torch.exp(-pred[:, c:])
        return (0.5 * z.square() + pred[:, c:] + 0.5 * math.log(2 * math.pi)).mean(0)
    return (pred - target).square().mean(0)


def gaussian_nll(mean: torch.Tensor, log_std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` under N(mean, exp(log_std)^2); all (B, C)."""
    z = (target - mean) * torch.exp(-log_std)
    return (0.5 * z.square() + log_std + 0.5 * math.log(2 * math.pi)).mean()


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each row of probabilities (..., K)."""
    return -(p * torch.log(p.clamp_min(1e-12))).sum(-1)


def cluster_loss(cat_logits: torch.Tensor) -> torch.Tensor:
    """Minus the mutual information between real images and Q's category, on one batch.

    -I(x; c) ~= mean_x H(Q(c|x)) - H(mean_x Q(c|x)): low when Q is confident on each
    image and uses every category equally often over the batch (cat_logits (B, K)).
    """
    p = F.softmax(cat_logits.float(), dim=1)
    return _entropy(p).mean() - _entropy(p.mean(0))


def paired_cluster_loss(
    logits_a: torch.Tensor, logits_b: torch.Tensor, *, balance: float = 1.0
) -> torch.Tensor:
    """Minus the mutual information between Q's categories of two views of the same images.

    The joint distribution of the pair of categories is estimated over the batch
    (logits (B, K) each, row i of both from image i) and symmetrised; its mutual
    information is ln K at most, reached when both views get the same confident
    category and the categories are used equally. ``balance`` > 1 weighs the entropy
    of the categories' marginal more than the mutual information does (which is
    ``balance`` = 1), pushing harder towards using every category equally often.
    """
    pa = F.softmax(logits_a.float(), dim=1)
    pb = F.softmax(logits_b.float(), dim=1)
    joint = pa.T @ pb / pa.shape[0]  # (K, K)
    joint = ((joint + joint.T) / 2).clamp_min(1e-12)
    marginal = joint.sum(1)
    outer = marginal[:, None] * marginal[None, :]
    return -(joint * (torch.log(joint) - balance * torch.log(outer))).sum()


def effect_overlap(base: torch.Tensor, moved: torch.Tensor) -> torch.Tensor:
    """How alike the changes that different continuous codes make to the same images are.

    ``base`` (n, ...) are generated images; ``moved`` (C, n, ...) the same images with
    continuous code k alone moved (row k). Each code's change is ``moved[k] - base``;
    the result is the squared cosine between the changes of two codes, averaged over
    the n images and every pair of codes: 1 when two codes make the same change (or
    its reverse), 0 when their changes are orthogonal. Scale-free, so it only asks the
    codes to do different things, not to do more or less.
    """
    if moved.shape[0] < 2 or moved.shape[1:] != base.shape:
        raise ValueError("effect_overlap needs (C >= 2, n, ...) moved images over (n, ...) base")
    change = (moved.float() - base.float()[None]).flatten(2)  # (C, n, pixels)
    unit = change / change.norm(dim=2, keepdim=True).clamp_min(1e-6)
    cos = torch.einsum("anp,bnp->abn", unit, unit)  # (C, C, n)
    a, b = torch.triu_indices(len(moved), len(moved), offset=1)
    return cos[a, b].square().mean()

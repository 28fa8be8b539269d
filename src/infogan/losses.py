"""The losses, as small pure functions of logits and codes.

Shapes: ``B`` is the batch, ``K`` the number of categories, ``C`` of continuous codes.
Binary cross-entropies are computed from logits (the numerically stable form of
BCE on sigmoid probabilities).
"""

from __future__ import annotations

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
    """The information term: lambda_cat * CE(Q_cat, c_d) + lambda_cont * MSE(Q_cont, c_c).

    cat_logits (B, K), categories (B,) int64, cont_pred and continuous (B, C).
    Returns (weighted total, categorical CE, continuous MSE); the last two unweighted.
    Minimising the CE maximises the variational lower bound L_I = H(c) - CE.
    """
    cat = F.cross_entropy(cat_logits, categories)
    if continuous.shape[1] > 0:
        cont = F.mse_loss(cont_pred, continuous)
    else:
        cont = cat_logits.new_zeros(())
    return lambda_cat * cat + lambda_cont * cont, cat, cont

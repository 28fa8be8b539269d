"""Pure metric functions on arrays: matching codes to digits, Fréchet distance, scores.

Nothing here knows about models or files; every function takes numpy arrays (or
plain numbers) and returns numbers or arrays, so each can be checked by hand.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment


def confusion_matrix(
    codes: np.ndarray, labels: np.ndarray, num_codes: int, num_labels: int
) -> np.ndarray:
    """(num_codes, num_labels) int64 counts: entry [k, d] = how often code k met label d."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if codes.shape != labels.shape:
        raise ValueError(f"{codes.size} codes but {labels.size} labels")
    if codes.size and (codes.min() < 0 or codes.max() >= num_codes):
        raise ValueError(f"codes must lie in [0, {num_codes - 1}]")
    if labels.size and (labels.min() < 0 or labels.max() >= num_labels):
        raise ValueError(f"labels must lie in [0, {num_labels - 1}]")
    flat = np.bincount(codes * num_labels + labels, minlength=num_codes * num_labels)
    return flat.reshape(num_codes, num_labels).astype(np.int64)


def hungarian_match(confusion: np.ndarray) -> np.ndarray:
    """The one-to-one code -> label assignment that maximises the agreeing count.

    Returns (num_codes,) int64 labels; a code left without a label (more codes than
    labels) maps to -1.
    """
    confusion = np.asarray(confusion)
    rows, cols = linear_sum_assignment(confusion, maximize=True)
    mapping = np.full(confusion.shape[0], -1, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def matched_accuracy(confusion: np.ndarray, mapping: np.ndarray) -> float:
    """Fraction of samples whose code's assigned label is their label."""
    confusion = np.asarray(confusion)
    total = confusion.sum()
    if total == 0:
        raise ValueError("an empty confusion matrix has no accuracy")
    hits = sum(int(confusion[k, d]) for k, d in enumerate(mapping) if d >= 0)
    return hits / float(total)


def hungarian_accuracy(
    codes: np.ndarray, labels: np.ndarray, *, num_codes: int = 10, num_labels: int = 10
) -> tuple[float, np.ndarray, np.ndarray]:
    """(accuracy, code -> label mapping, confusion matrix) under the best one-to-one matching."""
    confusion = confusion_matrix(codes, labels, num_codes, num_labels)
    mapping = hungarian_match(confusion)
    return matched_accuracy(confusion, mapping), mapping, confusion


def purity(confusion: np.ndarray) -> np.ndarray:
    """Per code: the share of its samples that carry its most common label (NaN if unused)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion.max(axis=1) / totals, np.nan)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and unbiased covariance (F, F) of (N, F) features, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError("need at least two feature vectors, as an (N, F) array")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Squared 2-Wasserstein distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + Tr(s1 + s2 - 2 (s1 s2)^(1/2))``. The trace of the cross term is
    computed as ``Tr((A s2 A)^(1/2))`` with ``A = s1^(1/2)``: the same eigenvalues as
    ``s1 s2`` but from a symmetric matrix, so no complex round-off appears.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError("means and covariances must have matching shapes")
    root1 = _psd_sqrt(s1)
    cross = root1 @ s2 @ root1
    cross_trace = np.sqrt(np.clip(np.linalg.eigvalsh((cross + cross.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * cross_trace)
    return max(value, 0.0)


def inception_score(probs: np.ndarray, *, eps: float = 1e-12) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))`` over (N, K) class probabilities; between 1 and K."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError("probabilities must be a non-empty (N, K) array")
    marginal = probs.mean(axis=0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(math.exp(kl.mean()))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def code_entropy(codes: np.ndarray, num_codes: int) -> float:
    """Entropy in nats of the empirical distribution of ``codes``."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64).ravel(), minlength=num_codes)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def information_bound(cat_logits: np.ndarray, codes: np.ndarray) -> float:
    """The variational lower bound L_I on I(c; G(z, c)) in nats.

    ``L_I = H(c) + E[log Q(c | G(z, c))]``: the entropy of the codes that were fed
    to G minus Q's cross-entropy at recovering them. It is at most H(c), reached when
    Q recovers every code with certainty.
    """
    log_q = log_softmax(cat_logits)
    codes = np.asarray(codes, dtype=np.int64).ravel()
    if log_q.shape[0] != codes.size:
        raise ValueError(f"{log_q.shape[0]} logit rows but {codes.size} codes")
    cross_entropy = -log_q[np.arange(codes.size), codes].mean()
    return code_entropy(codes, log_q.shape[1]) - float(cross_entropy)

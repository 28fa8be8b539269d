"""Measurable factors of a digit image: rotation and stroke width, and how codes move them.

Images are numpy arrays (N, H, W) (or (N, 1, H, W)) in [-1, 1], ink bright, as
the generator outputs them and as :func:`infogan.data.load_mnist` returns them.

- **Rotation**: the angle of the ink's principal axis from the vertical, from its
  second-order central moments, in degrees, positive counter-clockwise as the
  image is displayed (row 0 on top), in (-90, 90].
- **Stroke width**: ink area over skeleton length, in pixels: a stroke of width w
  and length L has area about w L and a one-pixel skeleton of about L pixels.
  The skeleton is a Zhang-Suen thinning of the binarised ink.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import spearmanr

#: Ink below this level (on a 0..1 scale) is treated as background haze.
INK_FLOOR = 0.25
#: Ink above this level is part of the stroke for the skeleton.
INK_BINARY = 0.5
#: A code "controls" a factor only when |Spearman rho| reaches this.
MIN_CONTROL_RHO = 0.3


def ink(images: np.ndarray) -> np.ndarray:
    """(N, H, W) ink in [0, 1] from images in [-1, 1]; faint haze set to 0."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError("factor measures need one-channel images")
        x = x[:, 0]
    if x.ndim != 3:
        raise ValueError("images must be (N, H, W) or (N, 1, H, W)")
    level = np.clip((x + 1) / 2, 0, 1)
    return np.where(level >= INK_FLOOR, level, 0.0)


def rotation_degrees(images: np.ndarray) -> np.ndarray:
    """(N,) angle of the ink's principal axis from the vertical; NaN for blank images."""
    w = ink(images)
    _, h, width = w.shape
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(width, dtype=np.float64)[None, None, :]
    mass = w.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    mean_r = (w * rows).sum(axis=(1, 2)) / safe
    mean_c = (w * cols).sum(axis=(1, 2)) / safe
    dr = rows - mean_r[:, None, None]
    dc = cols - mean_c[:, None, None]
    mu_rr = (w * dr * dr).sum(axis=(1, 2)) / safe
    mu_cc = (w * dc * dc).sum(axis=(1, 2)) / safe
    mu_rc = (w * dr * dc).sum(axis=(1, 2)) / safe
    # The major axis tilts from the vertical towards the columns by half this angle; a
    # positive row-column covariance ("\") is a counter-clockwise tilt of "|".
    angle = 0.5 * np.degrees(np.arctan2(2 * mu_rc, mu_rr - mu_cc))
    return np.where(mass > 0, angle, np.nan)


def _neighbours(mask: np.ndarray) -> list[np.ndarray]:
    """The 8 neighbours P2..P9 of every pixel (N, NE, E, SE, S, SW, W, NW), zero outside."""
    p = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
    h, w = mask.shape[1:]

    def at(dr: int, dc: int) -> np.ndarray:
        return p[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1), at(-1, -1)]


def skeletonize(mask: np.ndarray, *, max_iterations: int = 200) -> np.ndarray:
    """Zhang-Suen thinning of a boolean stack (N, H, W) to one-pixel-wide lines."""
    skeleton = np.asarray(mask, dtype=bool).copy()
    for _ in range(max_iterations):
        changed = False
        for first_pass in (True, False):
            n = [x.astype(np.int8) for x in _neighbours(skeleton)]
            p2, _p3, p4, _p5, p6, _p7, p8, _p9 = n
            count = sum(n)
            ring = [*n, p2]
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            if first_pass:
                clear = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                clear = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = skeleton & (count >= 2) & (count <= 6) & (transitions == 1) & clear
            if remove.any():
                skeleton &= ~remove
                changed = True
        if not changed:
            break
    return skeleton


def stroke_width(images: np.ndarray) -> np.ndarray:
    """(N,) ink area over skeleton length, in pixels; NaN for blank images."""
    w = ink(images)
    stroke = w >= INK_BINARY
    length = skeletonize(stroke).sum(axis=(1, 2)).astype(np.float64)
    area = w.sum(axis=(1, 2))
    # Tiny blobs can thin away completely; they still have a length of one pixel.
    length = np.where(stroke.any(axis=(1, 2)), np.maximum(length, 1.0), np.nan)
    return area / length


def measure_factors(images: np.ndarray) -> dict[str, np.ndarray]:
    """Every factor for each image: name ("rotation", "width") -> (N,)."""
    return {"rotation": rotation_degrees(images), "width": stroke_width(images)}


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two (N,) arrays, ignoring pairs with a NaN."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return float("nan")
    return float(spearmanr(x[keep], y[keep]).statistic)


def sweep_correlation(code_values: np.ndarray, factor: np.ndarray) -> float:
    """Spearman rho between a swept code and a factor, within each sweep.

    ``code_values`` and ``factor`` are (D, V): D noise draws, each swept over V code
    values. Each draw's factor is centred on its own mean first, so what is ranked is
    how the code changes one digit, not how digits differ from each other.
    """
    factor = np.asarray(factor, dtype=np.float64)
    code_values = np.asarray(code_values, dtype=np.float64)
    if factor.shape != code_values.shape or factor.ndim != 2:
        raise ValueError("code values and factor must both be (draws, values)")
    with warnings.catch_warnings():  # an all-NaN row is a sweep of blank images
        warnings.simplefilter("ignore", RuntimeWarning)
        centred = factor - np.nanmean(factor, axis=1, keepdims=True)
    return spearman(code_values, centred)


def mean_change(code_values: np.ndarray, factor: np.ndarray) -> float:
    """Mean over draws of factor(at the largest value) - factor(at the smallest value)."""
    code_values = np.asarray(code_values, dtype=np.float64)
    factor = np.asarray(factor, dtype=np.float64)
    hi = factor[np.arange(len(factor)), code_values.argmax(axis=1)]
    lo = factor[np.arange(len(factor)), code_values.argmin(axis=1)]
    diff = hi - lo
    diff = diff[np.isfinite(diff)]
    return float(diff.mean()) if diff.size else float("nan")


def controlled_factor(rhos: dict[str, float], *, threshold: float = MIN_CONTROL_RHO) -> str:
    """The factor with the largest |rho| if it reaches ``threshold``, else ``"none"``."""
    finite = {k: v for k, v in rhos.items() if math.isfinite(v)}
    if not finite:
        return "none"
    best = max(finite, key=lambda k: abs(finite[k]))
    return best if abs(finite[best]) >= threshold else "none"

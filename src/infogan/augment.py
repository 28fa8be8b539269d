"""Small random geometric changes of image batches, done on the batch's device.

Used by the paired clustering term (``--cluster-pairs``): Q should give an image and
a slightly moved, turned and scaled copy of it the same category, so that the
categories cannot encode position, slant or size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor,
    *,
    degrees: float = 10.0,
    shift: float = 0.1,
    scale: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Each image of (B, C, H, W) turned by up to ``degrees``, moved by up to ``shift``
    of its size and scaled by up to ``scale`` (uniformly at random, independently).

    Pixels brought in from outside repeat the border (the background for digits).
    """
    b = images.shape[0]
    u = torch.rand(b, 4, generator=generator, device=images.device) * 2 - 1  # U(-1, 1)
    angle = u[:, 0] * math.radians(degrees)
    factor = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack(
        [
            torch.stack([cos, -sin, u[:, 2] * 2 * shift], dim=1),
            torch.stack([sin, cos, u[:, 3] * 2 * shift], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3), in grid_sample's [-1, 1] coordinates
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)

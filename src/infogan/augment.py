"""Small random changes of image batches, done on the batch's device.

Used by the paired clustering term (``--cluster-pairs``): Q should give an image and
a changed copy of it the same category, so that the categories cannot encode what
the change alters. Two strengths are named (:data:`AUGMENTS`):

* ``mild``: turned by up to 10 degrees, moved by up to 10% and scaled by up to 10%;
* ``geometric``: turned by up to 25 degrees, moved by up to 12%, scaled by up to 15%;
* ``strong``: turned by up to 25 degrees, moved by up to 12%, scaled by up to 15%, and
  strokes made thicker or thinner (:func:`random_thickness`, up to 0.7 of a 3x3
  dilation or erosion). Slant and stroke width are then no way to tell categories
  apart, which leaves them to the continuous codes.
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


def random_thickness(
    images: torch.Tensor, *, amount: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image of (B, C, H, W) (strokes bright on a dark background) blended towards
    its 3x3 dilation (thicker strokes) or erosion (thinner), by a fraction drawn
    uniformly from [-amount, amount] (negative: erosion)."""
    b = images.shape[0]
    shape = (b,) + (1,) * (images.dim() - 1)
    t = (torch.rand(shape, generator=generator, device=images.device) * 2 - 1) * amount
    dilated = F.max_pool2d(images, 3, 1, 1)
    eroded = -F.max_pool2d(-images, 3, 1, 1)
    target = torch.where(t > 0, dilated, eroded)
    return images + t.abs().to(images.dtype) * (target - images)


#: the named strengths of the clustering term's changes (``--cluster-augment``)
AUGMENTS: dict[str, dict[str, float]] = {
    "mild": {"degrees": 10.0, "shift": 0.1, "scale": 0.1, "thickness": 0.0},
    "geometric": {"degrees": 25.0, "shift": 0.12, "scale": 0.15, "thickness": 0.0},
    "strong": {"degrees": 25.0, "shift": 0.12, "scale": 0.15, "thickness": 0.7},
}


def augment(
    images: torch.Tensor, strength: str = "mild", *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``images`` changed at one of the named :data:`AUGMENTS` strengths."""
    p = AUGMENTS[strength]
    out = random_affine(
        images, degrees=p["degrees"], shift=p["shift"], scale=p["scale"], generator=generator
    )
    if p["thickness"] > 0:
        out = random_thickness(out, amount=p["thickness"], generator=generator)
    return out

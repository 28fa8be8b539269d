"""Small random changes of image batches, done on the batch's device.

Used by the paired clustering term (``--cluster-pairs``): Q should give an image and
a changed copy of it the same category, so that the categories cannot encode what
the change alters. Five strengths are named (:data:`AUGMENTS`):

* ``mild``: turned by up to 10 degrees, moved by up to 10% and scaled by up to 10%;
* ``geometric``: turned by up to 25 degrees, moved by up to 12%, scaled by up to 15%;
* ``strong``: turned by up to 25 degrees, moved by up to 12%, scaled by up to 15%, and
  strokes made thicker or thinner (:func:`random_thickness`, up to 0.7 of a 3x3
  dilation or erosion). Slant and stroke width are then no way to tell categories
  apart, which leaves them to the continuous codes.
* ``shape``: ``strong``, and slanted by up to 0.3 (x moved by 0.3 of y) and made
  narrower or wider by up to 25%. The two 4/9 codes of a stuck run split both digits
  by slant and width together (upright, wide 4s and 9s in one code; narrow, italic
  ones in the other); a turn and a uniform scale do not change that trait, a slant and
  a squeeze do.
* ``restyle``: ``strong``, made narrower or wider by up to 20%, and given a slant
  drawn from MNIST's own range whatever the image's slant was (``reslant``): the
  copy's slant then tells nothing of the original's, while staying one that writers
  use (``shape`` adds a random slant to the image's own, and can reach slants no
  digit has).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor,
    *,
    degrees: float = 10.0,
    shift: float = 0.1,
    scale: float = 0.1,
    shear: float = 0.0,
    squeeze: float = 0.0,
    reslant: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Each image of (B, C, H, W) turned by up to ``degrees``, moved by up to ``shift``
    of its size and scaled by up to ``scale`` (uniformly at random, independently).

    ``shear`` > 0 also slants it (x moves by up to ``shear`` times y: italic or
    back-slanted) and ``squeeze`` > 0 makes it narrower or wider by up to that fraction
    of its width, the height kept: the two ways a writer's digits differ that a turn
    and a uniform scale do not reach. ``reslant`` = (lo, hi) instead gives each image a
    slant drawn uniformly from that range whatever its own (:func:`slant`), so that the
    copy's slant tells nothing of the original's. Pixels brought in from outside repeat
    the border (the background for digits).
    """
    b = images.shape[0]
    u = torch.rand(b, 4, generator=generator, device=images.device) * 2 - 1  # U(-1, 1)
    angle = u[:, 0] * math.radians(degrees)
    factor = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    # the output-to-input map: rotation / scale, then (read right to left) slant, width
    a, bb, c, d = cos, -sin, sin, cos
    if shear > 0 or squeeze > 0 or reslant:  # drawn only then: the others stay as they were
        v = torch.rand(b, 2, generator=generator, device=images.device) * 2 - 1
        w = 1 / (1 + v[:, 1] * squeeze)  # input x scaled by 1 / width factor
        if reslant:  # an ink line x = s y of the input is drawn as x = (s / w - k) y
            lo, hi = reslant
            k = slant(images) / w - (lo + (v[:, 0] + 1) / 2 * (hi - lo))
        else:
            k = v[:, 0] * shear  # input x = x + k * y
        a, bb, c, d = w * (a + k * c), w * (bb + k * d), c, d
    theta = torch.stack(
        [
            torch.stack([a, bb, u[:, 2] * 2 * shift], dim=1),
            torch.stack([c, d, u[:, 3] * 2 * shift], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3), in grid_sample's [-1, 1] coordinates
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


def turn(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) turned about its centre by its own angle of ``degrees``
    (B,), counter-clockwise as displayed (row 0 on top) for positive angles: the sense in
    which :func:`infogan.evaluate.factors.rotation_degrees` measures a digit's tilt."""
    angle = torch.deg2rad(degrees.to(images.dtype))
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # grid_sample reads output point p from input point R p; with y growing downwards
    # this R shows the ink turned counter-clockwise by the angle
    theta = torch.stack(
        [torch.stack([cos, -sin, zero], dim=1), torch.stack([sin, cos, zero], dim=1)], dim=1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False)


def slant(images: torch.Tensor) -> torch.Tensor:
    """(B,) slant of each image of (B, C, H, W) in [-1, 1] (ink bright): how far the ink's
    x moves per unit of y, from its second moments (mu_xy / mu_yy); positive leans the
    top to the left (y grows downwards)."""
    ink = (images.float().mean(1) + 1).clamp_min(0)  # (B, H, W), background 0
    h, w = ink.shape[1:]
    y = torch.linspace(-1, 1, h, device=images.device)[:, None]
    x = torch.linspace(-1, 1, w, device=images.device)[None, :]
    mass = ink.sum((1, 2)).clamp_min(1e-6)
    mx = (ink * x).sum((1, 2)) / mass
    my = (ink * y).sum((1, 2)) / mass
    dx, dy = x - mx[:, None, None], y - my[:, None, None]
    mu_yy = (ink * dy * dy).sum((1, 2)) / mass
    return (ink * dx * dy).sum((1, 2)) / mass / mu_yy.clamp_min(1e-6)


def random_thickness(
    images: torch.Tensor, *, amount: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each image of (B, C, H, W) (strokes bright on a dark background) blended towards
    its 3x3 dilation (thicker strokes) or erosion (thinner), by a fraction drawn
    uniformly from [-amount, amount] (negative: erosion)."""
    t = (torch.rand(images.shape[0], generator=generator, device=images.device) * 2 - 1) * amount
    return thicken(images, t)


def thicken(images: torch.Tensor, amounts: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) (strokes bright on a dark background) blended towards
    its 3x3 dilation by its own fraction of ``amounts`` (B,) when positive (thicker
    strokes), towards its erosion when negative (thinner)."""
    t = amounts.reshape((-1,) + (1,) * (images.dim() - 1))
    dilated = F.max_pool2d(images, 3, 1, 1)
    eroded = -F.max_pool2d(-images, 3, 1, 1)
    target = torch.where(t > 0, dilated, eroded)
    return images + t.abs().to(images.dtype) * (target - images)


#: the slants a ``restyle`` copy is given: the middle 90% of MNIST's training digits
#: (-0.58 to 0.35 by :func:`slant`), a little narrowed
RESLANT = (-0.5, 0.3)

#: the named strengths of the clustering term's changes (``--cluster-augment``)
AUGMENTS: dict[str, dict[str, Any]] = {
    "mild": {"degrees": 10.0, "shift": 0.1, "scale": 0.1, "thickness": 0.0},
    "geometric": {"degrees": 25.0, "shift": 0.12, "scale": 0.15, "thickness": 0.0},
    "strong": {"degrees": 25.0, "shift": 0.12, "scale": 0.15, "thickness": 0.7},
    "shape": {
        "degrees": 25.0,
        "shift": 0.12,
        "scale": 0.15,
        "thickness": 0.7,
        "shear": 0.3,
        "squeeze": 0.25,
    },
    "restyle": {
        "degrees": 25.0,
        "shift": 0.12,
        "scale": 0.15,
        "thickness": 0.7,
        "squeeze": 0.2,
        "reslant": RESLANT,
    },
}


def augment(
    images: torch.Tensor, strength: str = "mild", *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``images`` changed at one of the named :data:`AUGMENTS` strengths."""
    p = AUGMENTS[strength]
    out = random_affine(
        images,
        degrees=p["degrees"],
        shift=p["shift"],
        scale=p["scale"],
        shear=p.get("shear", 0.0),
        squeeze=p.get("squeeze", 0.0),
        reslant=p.get("reslant"),
        generator=generator,
    )
    if p["thickness"] > 0:
        out = random_thickness(out, amount=p["thickness"], generator=generator)
    return out

"""Random changes of image batches, done on the batch's device.

Two users: the clustering term compares Q's categories of each real digit and a
:func:`restyle_copy` of it (turned, moved, scaled, thickened or thinned, made narrower or
wider and given a new slant from MNIST's range), and a code reading (``config.CodeReading``)
has Q read a continuous code from copies changed by :func:`transform`.

Every random number comes from a ``rand(n, *shape)`` callable (uniform on [0, 1), one row
per image): in one process that is ``torch.rand``; under torchrun the step passes one that
draws the numbers of the whole global batch and keeps this process's rows, so that an
image is changed the same way however many processes share the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

#: ``rand(n, *shape)``: uniform random numbers on [0, 1), ``n`` rows for ``n`` images
Rand = Callable[..., torch.Tensor]


def _rand_for(images: torch.Tensor, rand: Rand | None) -> Rand:
    if rand is not None:
        return rand
    return lambda *shape: torch.rand(*shape, device=images.device)


def random_affine(
    images: torch.Tensor,
    *,
    degrees: float = 10.0,
    shift: float = 0.1,
    scale: float = 0.1,
    squeeze: float = 0.0,
    reslant: tuple[float, float] | None = None,
    rand: Rand | None = None,
) -> torch.Tensor:
    """Each image of (B, C, H, W) turned by up to ``degrees``, moved by up to ``shift``
    of its size and scaled by up to ``scale`` (uniformly at random, independently).

    ``squeeze`` > 0 also makes it narrower or wider by up to that fraction of its width,
    the height kept, and ``reslant`` = (lo, hi) gives each image a slant drawn uniformly
    from that range whatever its own (:func:`slant`), so that the copy's slant tells
    nothing of the original's: the two ways a writer's digits differ that a turn and a
    uniform scale do not reach. Pixels brought in from outside repeat
    the border (the background for digits).
    """
    b = images.shape[0]
    rand = _rand_for(images, rand)
    u = rand(b, 4) * 2 - 1  # U(-1, 1)
    angle = u[:, 0] * math.radians(degrees)
    factor = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    # the output-to-input map: rotation / scale, then (read right to left) slant, width
    a, bb, c, d = cos, -sin, sin, cos
    if squeeze > 0 or reslant:  # drawn only then: the others stay as they were
        v = rand(b, 2) * 2 - 1
        w = 1 / (1 + v[:, 1] * squeeze)  # input x scaled by 1 / width factor
        k = torch.zeros_like(w)  # input x = x + k * y: the slant kept without ``reslant``
        if reslant:  # an ink line x = s y of the input is drawn as x = (s / w - k) y
            lo, hi = reslant
            k = slant(images) / w - (lo + (v[:, 0] + 1) / 2 * (hi - lo))
        a, bb, c, d = w * (a + k * c), w * (bb + k * d), c, d
    theta = torch.stack(
        [
            torch.stack([a, bb, u[:, 2] * 2 * shift], dim=1),
            torch.stack([c, d, u[:, 3] * 2 * shift], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3), in grid_sample's [-1, 1] coordinates
    # a NaN image has a NaN slant; grid_sample's backward pass crashes the process on a NaN
    # grid (PyTorch 2.13), where the run must live to stop with its own message
    theta = torch.nan_to_num(theta, nan=0.0, posinf=0.0, neginf=0.0)
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
    images: torch.Tensor, *, amount: float, rand: Rand | None = None
) -> torch.Tensor:
    """Each image of (B, C, H, W) (strokes bright on a dark background) blended towards
    its 3x3 dilation (thicker strokes) or erosion (thinner), by a fraction drawn
    uniformly from [-amount, amount] (negative: erosion)."""
    t = (_rand_for(images, rand)(images.shape[0]) * 2 - 1) * amount
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

#: how much narrower or wider a restyled copy is made at most
SQUEEZE = 0.2
#: the clustering term's copy of a real digit: turned by up to 25 degrees, moved by up to
#: 12%, scaled by up to 15%, thickened or thinned by up to 0.7 of a 3x3 dilation, up to
#: SQUEEZE narrower or wider, and given a slant from RESLANT whatever its own
CLUSTER_CHANGE = {"degrees": 25.0, "shift": 0.12, "scale": 0.15, "thickness": 0.7}


def restyle_copy(images: torch.Tensor, *, rand: Rand | None = None) -> torch.Tensor:
    """The clustering term's changed copy of each image (:data:`CLUSTER_CHANGE`)."""
    p = CLUSTER_CHANGE
    out = random_affine(
        images,
        degrees=p["degrees"],
        shift=p["shift"],
        scale=p["scale"],
        squeeze=SQUEEZE,
        reslant=RESLANT,
        rand=rand,
    )
    return random_thickness(out, amount=p["thickness"], rand=rand)


def transform(
    images: torch.Tensor, kind: str, amount: float, *, known: bool, rand: Rand | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` changed by one of ``config.TRANSFORMS``, and (B,) the amount drawn for
    each over ``amount``, in [-1, 1] (0 where it is not ``known``):

    * ``restyle``: up to :data:`SQUEEZE` narrower or wider and a new slant from RESLANT;
    * ``turn``: turned by up to ``amount`` degrees either way (:func:`any_turn` when the
      angle is not ``known``: its angles are drawn as :func:`random_affine` draws them);
    * ``thicken``: towards a 3x3 dilation (thicker) or erosion by up to ``amount``.
    """
    rand = _rand_for(images, rand)
    zero = images.new_zeros(images.shape[0])
    if kind == "restyle":
        out = random_affine(
            images, degrees=0.0, shift=0.0, scale=0.0, squeeze=SQUEEZE, reslant=RESLANT, rand=rand
        )
        return out, zero
    if kind == "turn" and not known:
        return any_turn(images, amount, rand=rand), zero
    units = rand(images.shape[0]) * 2 - 1
    if kind == "turn":
        return turn(images, units * amount), units
    if kind == "thicken":
        return thicken(images, units * amount), units if known else zero
    raise ValueError(f"unknown transform {kind!r}")


def any_turn(images: torch.Tensor, degrees: float, *, rand: Rand | None = None) -> torch.Tensor:
    """Each image turned by an angle within +-``degrees`` that nobody is told."""
    return random_affine(images, degrees=degrees, shift=0.0, scale=0.0, rand=rand)

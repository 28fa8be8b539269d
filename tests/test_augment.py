"""Image transforms: the clustering term's restyled copy and the copies codes are read from."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from infogan.augment import (
    RESLANT,
    random_affine,
    random_thickness,
    restyle_copy,
    slant,
    thicken,
    transform,
    turn,
)
from infogan.distributed import BatchRandom


def seeded(seed: int):
    """``rand(n, *shape)`` from a generator of its own."""
    gen = torch.Generator().manual_seed(seed)
    return lambda *shape: torch.rand(*shape, generator=gen)


def test_random_affine_moves_digits_but_keeps_the_background(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:64], 28)
    same = random_affine(x, degrees=0, shift=0, scale=0)
    assert (same - x).abs().max() < 1e-5
    moved = random_affine(x, rand=seeded(0))
    assert moved.shape == x.shape
    assert (moved - x).abs().mean() > 0.01  # the digits moved
    corners = moved[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners < -0.99).all()  # the border repeats MNIST's black background


def test_random_affine_squeezes_a_box_keeping_its_height():
    ink = lambda img: img > 0  # noqa: E731
    plain = dict(degrees=0, shift=0, scale=0)
    box = torch.full((1, 1, 28, 28), -1.0)
    box[..., 4:24, 9:19] = 1.0  # 10 pixels wide, 20 high
    widths = set()
    for seed in range(8):
        g = seeded(seed)
        squeezed = ink(random_affine(box, **plain, squeeze=0.25, rand=g))[0, 0]
        assert squeezed[:, 14].sum() == 20  # the height is kept
        assert squeezed[6].sum() == squeezed[21].sum()  # upright: the same width everywhere
        widths.add(squeezed[14].sum().item())
    assert min(widths) < 10 < max(widths) and max(widths) <= 13  # narrower and wider

    # squeeze and reslant draw their own random numbers, so the named strengths without
    # them change exactly as before
    bar = torch.full((1, 1, 28, 28), -1.0)
    bar[..., 4:24, 13:15] = 1.0  # a vertical stroke, 2 pixels wide, 20 high
    g1, g2 = seeded(3), seeded(3)
    assert torch.equal(random_affine(bar, rand=g1), random_affine(bar, rand=g2))


def test_random_thickness_thickens_and_thins_strokes_only(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:64], 28)
    assert torch.equal(random_thickness(x, amount=0.0), x)
    changed = random_thickness(x, amount=1.0, rand=seeded(0))
    ink_change = (changed - x).sum(dim=(1, 2, 3))
    assert (ink_change > 1).any() and (ink_change < -1).any()  # both directions drawn
    assert changed.min() >= -1 and changed.max() <= 1
    corners = changed[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners < -0.99).all()  # the background stays black


def test_slant_reads_a_leaning_bar_and_reslant_forgets_the_original_slant(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    bar = -torch.ones(3, 1, 28, 28)
    for i, lean in enumerate((0.0, 0.25, -0.4)):  # x moves by `lean` per unit of y
        for row in range(4, 24):
            col = round(13.5 + lean * (row - 13.5))
            bar[i, 0, row, col : col + 2] = 1.0
    assert slant(bar).tolist() == pytest.approx([0.0, 0.25, -0.4], abs=0.03)
    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:512], 28)
    before = slant(x)
    moved = random_affine(x, degrees=0, shift=0, scale=0, reslant=RESLANT, rand=seeded(0))
    after = slant(moved)
    # each copy's slant is drawn from the range, whatever the digit's own was
    assert (
        before.std() > 0.2 and abs(float(torch.corrcoef(torch.stack([before, after]))[0, 1])) < 0.15
    )
    assert RESLANT[0] - 0.1 < after.min() and after.max() < RESLANT[1] + 0.1
    assert (moved - x).abs().mean() > 0.01
    assert (moved[:, :, [0, 0, -1, -1], [0, -1, 0, -1]] < -0.99).all()  # background stays


def test_turn_turns_ink_counter_clockwise_by_the_angle_that_rotation_measures(mnist_dir):
    from infogan.data import load_mnist_arrays
    from infogan.evaluate.factors import rotation_degrees

    bar = -torch.ones(3, 1, 28, 28)
    bar[:, :, 4:24, 13:15] = 1  # an upright bar: tilt 0
    angles = torch.tensor([-30.0, 0.0, 25.0])
    measured = rotation_degrees(turn(bar, angles).numpy())
    assert np.allclose(measured, angles.numpy(), atol=0.5)
    assert torch.allclose(turn(bar, torch.zeros(3)), bar, atol=1e-5)
    # real digits: each one's tilt moves by its own angle
    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = torch.from_numpy(digits[:8].astype(np.float32) / 127.5 - 1)[:, None]
    angles = torch.linspace(-20, 20, 8)
    moved = rotation_degrees(turn(real, angles).numpy()) - rotation_degrees(real.numpy())
    assert np.allclose(moved, angles.numpy(), atol=4.0)


def test_transform_reports_the_known_amounts_it_drew(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    x = to_training_tensor(load_mnist_arrays(mnist_dir, "test")[0][:32], 28)
    turned, units = transform(x, "turn", 30.0, known=True, rand=seeded(1))
    assert torch.equal(turned, turn(x, units * 30.0))  # turned by the reported angles
    assert units.abs().max() <= 1 and units.std() > 0.3
    thick, units = transform(x, "thicken", 0.5, known=True, rand=seeded(2))
    assert torch.equal(thick, thicken(x, units * 0.5))
    for kind, amount in (("turn", 180.0), ("restyle", 0.0), ("thicken", 0.5)):
        out, units = transform(x, kind, amount, known=False, rand=seeded(3))
        assert not torch.allclose(out, x, atol=1e-3)  # changed
        assert torch.equal(units, torch.zeros(32))  # and nobody is told by how much
    restyled = restyle_copy(x, rand=seeded(4))
    assert restyled.shape == x.shape and not torch.allclose(restyled, x, atol=1e-3)
    with pytest.raises(ValueError, match="unknown transform"):
        transform(x, "blur", 1.0, known=False)


def test_batch_random_gives_a_row_the_same_numbers_in_any_process():
    torch.manual_seed(7)
    whole = BatchRandom(8, slice(0, 8), torch.device("cpu"))(8, 3)
    halves = []
    for mine in (slice(0, 4), slice(4, 8)):  # two ranks, each seeded alike
        torch.manual_seed(7)
        halves.append(BatchRandom(8, mine, torch.device("cpu"))(4, 3))
    assert torch.equal(torch.cat(halves), whole)
    torch.manual_seed(7)
    assert torch.equal(whole, torch.rand(8, 3))  # in one process: torch.rand itself
    with pytest.raises(ValueError, match="asked for 3 rows"):
        BatchRandom(8, slice(0, 4), torch.device("cpu"))(3)


def test_nan_digits_pass_back_through_the_restyled_copy():
    """A diverged generator draws NaN digits: their slant is NaN, and grid_sample's backward
    pass on a NaN grid kills the process (PyTorch 2.13), before the run can stop with its
    own message. In a subprocess, so that a crash fails this test alone."""
    script = (
        "import torch\n"
        "from infogan.augment import restyle_copy, transform\n"
        "x = torch.full((4, 1, 28, 28), float('nan'), requires_grad=True)\n"
        "restyle_copy(x).sum().backward()\n"
        "transform(x, 'restyle', 0.0, known=False)[0].sum().backward()\n"
        "print('finished')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "finished\n", done.stderr[-500:]

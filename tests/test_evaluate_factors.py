"""Rotation and stroke width on shapes drawn to a known answer and on real MNIST digits
transformed by known amounts (scipy.ndimage), and how a swept code's effect is read."""

import math

import numpy as np
import pytest
from scipy import ndimage

from infogan.data import load_mnist_arrays, to_training_tensor
from infogan.evaluate import factors
from infogan.evaluate.evaluation import continuous_code_report


def segment(angle_deg: float, *, size: int = 64, length: float = 40, width: float = 3.0):
    """(size, size) image in [-1, 1]: a stroke through the centre, tilted ``angle_deg``
    counter-clockwise from the vertical as displayed (row 0 on top)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    centre = (size - 1) / 2
    theta = math.radians(angle_deg)
    up = np.array([-math.cos(theta), -math.sin(theta)])  # (row, col) of the stroke's top end
    r, c = rows - centre, cols - centre
    along = r * up[0] + c * up[1]
    across = np.abs(-r * up[1] + c * up[0])
    inside = (np.abs(along) <= length / 2) & (across <= width / 2)
    return np.where(inside, 1.0, -1.0)


@pytest.fixture(scope="module")
def test_digits(mnist_dir):
    """The first 200 test digits at the model's 64x64, in [-1, 1]: (200, 64, 64)."""
    images, _labels = load_mnist_arrays(mnist_dir, "test")
    return to_training_tensor(images[:200], 64).numpy()[:, 0].astype(np.float64)


def _rotate(images: np.ndarray, angle: float) -> np.ndarray:
    return np.stack([ndimage.rotate(im, angle, reshape=False, order=1, cval=-1.0) for im in images])


def _wrapped(degrees: np.ndarray) -> np.ndarray:
    return (degrees + 90) % 180 - 90


@pytest.mark.parametrize("angle", [-60, -35, -10, 0, 10, 35, 60])
def test_rotation_of_a_drawn_stroke(angle):
    measured = factors.rotation_degrees(segment(angle)[None])[0]
    assert measured == pytest.approx(angle, abs=1.0)


def test_rotation_of_a_blank_image_is_nan():
    assert np.isnan(factors.rotation_degrees(-np.ones((1, 28, 28)))[0])
    assert np.isnan(factors.stroke_width(-np.ones((1, 28, 28)))[0])


def test_rotated_digits_recover_sign_and_order_of_the_rotation(test_digits):
    angles = [-30, -15, 0, 15, 30]
    base = factors.rotation_degrees(test_digits)
    change = np.stack(
        [_wrapped(factors.rotation_degrees(_rotate(test_digits, a)) - base) for a in angles]
    )  # (angles, digits)
    medians = np.median(change, axis=1)
    assert medians == pytest.approx(angles, abs=2.0)
    ordered = np.all(np.diff(change, axis=0) > 0, axis=0)  # each digit, in the same order
    assert ordered.mean() >= 0.9
    assert np.all(np.sign(change[0]) == -1) and np.all(np.sign(change[-1]) == 1)


def test_width_of_drawn_strokes_by_hand():
    widths = [2.0, 4.0, 6.0, 8.0]
    measured = factors.stroke_width(np.stack([segment(0, width=w) for w in widths]))
    # a 40 x w bar has area 40 w and a skeleton a little shorter than 40: w and a bit
    assert np.all(np.diff(measured) > 0)
    assert measured == pytest.approx(widths, rel=0.25)


def test_skeleton_is_one_pixel_wide():
    bar = np.zeros((1, 30, 30), dtype=bool)
    bar[0, 5:25, 10:17] = True  # 20 rows x 7 columns
    skeleton = factors.skeletonize(bar)[0]
    assert skeleton.sum() >= 10 and skeleton.sum() <= 20
    assert skeleton.sum(axis=1).max() == 1  # never two pixels side by side in a row
    assert np.all(bar[0][skeleton])  # inside the shape
    line = np.zeros((1, 20, 20), dtype=bool)
    line[0, 3:17, 9] = True
    assert np.array_equal(factors.skeletonize(line), line)  # already thin: unchanged


def test_dilated_and_eroded_digits_order_by_width(test_digits):
    eroded = np.stack([ndimage.grey_erosion(im, size=(3, 3)) for im in test_digits])
    dilated = np.stack([ndimage.grey_dilation(im, size=(3, 3)) for im in test_digits])
    w_eroded = factors.stroke_width(eroded)
    w_plain = factors.stroke_width(test_digits)
    w_dilated = factors.stroke_width(dilated)
    ok = np.isfinite(w_eroded)  # erosion can wipe out the faintest digits entirely
    assert ok.mean() > 0.95
    assert np.mean(w_eroded[ok] < w_plain[ok]) >= 0.95
    assert np.mean(w_plain < w_dilated) >= 0.95
    # each 3x3 step moves the edge by about one pixel on each side: about 2 pixels
    assert 1.0 < np.median(w_dilated - w_plain) < 4.0


def test_each_measure_ignores_the_other_factor(test_digits):
    dilated = np.stack([ndimage.grey_dilation(im, size=(3, 3)) for im in test_digits])
    turn = _wrapped(factors.rotation_degrees(dilated) - factors.rotation_degrees(test_digits))
    assert abs(np.median(turn)) < 2.0  # thicker is not rotated
    ratio = factors.stroke_width(_rotate(test_digits, 25)) / factors.stroke_width(test_digits)
    assert abs(np.median(ratio) - 1) < 0.1  # rotated is not thicker


def test_sweep_correlation_within_draws():
    values = np.broadcast_to(np.linspace(-1, 1, 5), (40, 5))
    # digits differ a lot; whole-number offsets keep the centred values exact (no false ties)
    offsets = np.random.default_rng(0).integers(-20, 20, size=(40, 1)).astype(np.float64)
    assert factors.sweep_correlation(values, 0.5 * values + offsets) == pytest.approx(1.0)
    assert factors.sweep_correlation(values, -values + offsets) == pytest.approx(-1.0)
    unrelated = np.random.default_rng(1).normal(size=(40, 5))
    assert abs(factors.sweep_correlation(values, unrelated)) < 0.2
    assert factors.mean_change(values, 0.5 * values + offsets) == pytest.approx(1.0)


def test_controlled_factor_names_the_strongest():
    assert factors.controlled_factor({"rotation": 0.8, "width": -0.1}) == "rotation"
    assert factors.controlled_factor({"rotation": 0.2, "width": -0.6}) == "width"
    assert factors.controlled_factor({"rotation": 0.1, "width": 0.2}) == "none"
    assert factors.controlled_factor({"rotation": float("nan"), "width": float("nan")}) == "none"


def test_a_code_that_rotates_is_named_rotation(test_digits):
    # 30 digits, each "swept" over 5 code values by rotating it 20 degrees per unit
    values = np.linspace(-1, 1, 5)
    sweep = np.stack([_rotate(test_digits[:30], 20 * v) for v in values], axis=1)
    report = continuous_code_report(sweep[:, :, None], values)
    assert report["controls"] == "rotation"
    assert report["spearman"]["rotation"] > 0.9
    assert abs(report["spearman"]["width"]) < 0.3
    assert report["change"]["rotation"] == pytest.approx(40, abs=4)


def test_a_code_that_thickens_is_named_width(test_digits):
    steps = [
        lambda im: ndimage.grey_erosion(im, size=(3, 3)),
        lambda im: im,
        lambda im: ndimage.grey_dilation(im, size=(3, 3)),
    ]
    sweep = np.stack([np.stack([f(im) for im in test_digits[:30]]) for f in steps], axis=1)
    report = continuous_code_report(sweep[:, :, None], np.array([-1.0, 0.0, 1.0]))
    assert report["controls"] == "width"
    assert report["spearman"]["width"] > 0.8
    assert report["change"]["width"] > 1.5

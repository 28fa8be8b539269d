"""Winograd's F(4x4, 2x2) for the 4x4 stride-2 convolutions in float32: the transforms
exact in rational arithmetic, every direction of both kinds of layer within float32's
rounding of PyTorch's float64 convolution (maps of one tile, of several, and cut at the
edge; channels not a multiple of the kernels' vectors; both memory formats), and the
layers taking it where the rule says."""

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from infogan.models import kernels, winograd
from infogan.models.conv import Conv2d, ConvTranspose2d
from infogan.models.winograd import WinogradConv, one_dimension

pytestmark = pytest.mark.skipif(
    not kernels.has_cpu_flag("avx2"), reason="csrc/winograd.c needs AVX2 (elsewhere the layers "
    "take the other paths, which tests/test_conv.py checks)"
)  # fmt: skip


def test_the_transforms_compute_the_correlation_exactly():
    """y_i = sum_j g_j d_{i+j} (i < 4, j < 2) equals A^T [(G g) * (B^T d)] in fractions."""
    a_t, g_m, b_t = one_dimension()
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        d = [Fraction(int(v), 7) for v in torch.randint(-50, 50, (5,), generator=gen)]
        g = [Fraction(int(v), 3) for v in torch.randint(-50, 50, (2,), generator=gen)]
        at_points = [sum(r[j] * g[j] for j in range(2)) * sum(b[k] * d[k] for k in range(5))
                     for r, b in zip(g_m, b_t, strict=True)]  # fmt: skip
        y = [sum(row[k] * at_points[k] for k in range(5)) for row in a_t]
        assert y == [g[0] * d[i] + g[1] * d[i + 1] for i in range(4)]


#: (transposed, channels of the larger map, of the smaller, the smaller map's side)
LAYERS = [
    (False, 20, 24, 4),  # one tile (seed64's 8x8 -> 4x4)
    (True, 24, 20, 4),  # seed64's 4x4 -> 8x8
    (False, 16, 40, 7),  # four tiles cut at the edge (paper28's 14x14 -> 7x7)
    (True, 40, 16, 7),
    (False, 8, 12, 8),  # four whole tiles
    (True, 12, 33, 16),  # sixteen
]


@pytest.mark.parametrize("transposed,big,small,side", LAYERS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_every_direction_matches_the_convolution(transposed, big, small, side, channels_last):
    gen = torch.Generator().manual_seed(side)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    b = 3
    if transposed:  # weight (Cin, Cout, 4, 4): from the small map's channels to the big's
        x = torch.randn(b, small, side, side, generator=gen, dtype=torch.float64)
        w = torch.randn(small, big, 4, 4, generator=gen, dtype=torch.float64)
        reference = F.conv_transpose2d
    else:
        x = torch.randn(b, big, 2 * side, 2 * side, generator=gen, dtype=torch.float64)
        w = torch.randn(small, big, 4, 4, generator=gen, dtype=torch.float64)
        reference = F.conv2d
    x64, w64 = x.requires_grad_(), w.requires_grad_()
    want = reference(x64, w64, stride=2, padding=1)
    grad = torch.randn(want.shape, generator=gen, dtype=torch.float64)
    want_x, want_w = torch.autograd.grad(want, (x64, w64), grad)

    x32 = x.detach().float().contiguous(memory_format=fmt).requires_grad_()
    w32 = w.detach().float().contiguous(memory_format=fmt).requires_grad_()
    got = WinogradConv.apply(x32, w32, transposed)
    got_x, got_w = torch.autograd.grad(got, (x32, w32), grad.float())
    for a, ref in ((got, want), (got_x, want_x), (got_w, want_w)):
        assert a.dtype == torch.float32 and a.shape == ref.shape
        assert (a.double() - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert got_x.is_contiguous(memory_format=torch.channels_last)
    assert got_w.is_contiguous(memory_format=fmt)  # as the weight is


def test_a_pass_without_the_weight_gradient_leaves_it_alone():
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    w = torch.randn(16, 8, 4, 4)
    out = WinogradConv.apply(x, w, False)
    (grad_x,) = torch.autograd.grad(out.sum(), (x,))
    assert grad_x.shape == x.shape and w.grad is None


@pytest.mark.parametrize("layer,side", [(Conv2d(32, 64), 16), (ConvTranspose2d(64, 32), 8)])
def test_the_layers_take_it_in_float32_only(layer, side):
    x = torch.randn(4, layer.in_channels, side, side)
    assert type(layer(x).grad_fn).__name__ == "WinogradConvBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert type(layer(x).grad_fn).__name__ != "WinogradConvBackward"
    assert type(layer.double()(x.double()).grad_fn).__name__ != "WinogradConvBackward"


def test_without_the_kernels_the_layers_take_the_other_paths(monkeypatch):
    layer, x = Conv2d(32, 64), torch.randn(4, 32, 8, 8)
    with_kernels = layer(x)
    monkeypatch.setitem(kernels._loaded, "winograd", None)  # as where they cannot be had
    assert not winograd.available(torch.float32)
    without = layer(x)
    assert type(without.grad_fn).__name__ == "_SmallMapConvBackward"  # the window products
    assert (with_kernels - without).abs().max() <= 1e-5 * without.abs().max()


@pytest.mark.parametrize("side", [9, 7, 3])
def test_odd_maps_are_convolved_as_pytorch_does(side):
    """An odd input map (its last row and column reach only the last window): PyTorch's
    output size and values, through the layer."""
    gen = torch.Generator().manual_seed(side)
    layer = Conv2d(8, 16)
    x = torch.randn(3, 8, side, side, generator=gen, dtype=torch.float64)
    got = layer(x.float())
    want = F.conv2d(x, layer.weight.detach().double(), stride=2, padding=1)
    assert type(got.grad_fn).__name__ == "WinogradConvBackward"
    assert got.shape == want.shape
    assert (got.double() - want).abs().max() <= 1e-5 * want.abs().max()


def test_float32_layers_under_a_float64_default_dtype():
    """The outputs the kernels write are float32 whatever torch's default dtype."""
    layer, x = Conv2d(8, 16), torch.randn(2, 8, 8, 8, requires_grad=True)
    want = F.conv2d(x.detach().double(), layer.weight.detach().double(), stride=2, padding=1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got = layer(x)
        got.sum().backward()
    finally:
        torch.set_default_dtype(previous)
    assert type(got.grad_fn).__name__ == "WinogradConvBackward"
    assert got.dtype == x.grad.dtype == layer.weight.grad.dtype == torch.float32
    assert (got.double() - want).abs().max() <= 1e-5 * want.abs().max()

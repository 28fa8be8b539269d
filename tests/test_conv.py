"""The networks' convolutions computed as matrix products where oneDNN is slow (4x4
stride-2 layers on small maps or onto one channel, layers whose kernel covers the map):
same outputs and gradients as PyTorch's layers, and the matrix products really taken
where the rule says."""

import pytest
import torch
from torch import nn

from infogan.models import kernels
from infogan.models.conv import (
    SIGNATURES,
    Conv2d,
    ConvTranspose2d,
    _SmallMapConv,
    gemm_directions,
    overlap_add,
    transpose_rows,
    windows,
    winograd_applies,
)

BF16 = torch.bfloat16

#: (transposed, in channels, out channels, input size, bias): the 4x4 maps of seed64
#: (every direction a matrix product in bf16), its 16x16 map and paper28's 14x14 map (the
#: weight gradient only), a 32x32 map (none), and layers onto one channel (seed64's G
#: output, paper28's G output and D input with their biases: the spreading direction in
#: fp32)
LAYERS = [(False, 32, 48, 8, False), (True, 48, 24, 4, False), (False, 16, 24, 16, False),
          (False, 8, 16, 14, False), (True, 16, 8, 7, False), (True, 8, 4, 32, False),
          (True, 8, 1, 32, False), (True, 8, 1, 14, True), (False, 1, 8, 28, True)]  # fmt: skip


def pair(transposed: bool, c_in: int, c_out: int, *shape, bias: bool = False):
    """The project's layer and PyTorch's, with the same weights (``shape``: kernel, stride
    and padding where not the default 4, 2, 1)."""
    torch.manual_seed(0)
    shape = shape or (4, 2, 1)
    mine = (ConvTranspose2d if transposed else Conv2d)(c_in, c_out, *shape, bias=bias)
    if bias:
        nn.init.normal_(mine.bias)
    theirs = (nn.ConvTranspose2d if transposed else nn.Conv2d)(c_in, c_out, *shape, bias=bias)
    theirs.load_state_dict(mine.state_dict())
    return mine, theirs


def run(layer: nn.Module, x: torch.Tensor, bf16: bool):
    """(output, input gradient, weight gradient[, bias gradient]) of a pass and a backward
    of a fixed loss."""
    x = x.clone().requires_grad_()
    layer.zero_grad()
    with torch.autocast("cpu", dtype=BF16, enabled=bf16):
        y = layer(x)
    (y.float() * torch.linspace(-1, 2, y.numel()).view_as(y)).sum().backward()
    grads = (x.grad, layer.weight.grad) + (() if layer.bias is None else (layer.bias.grad,))
    return (y, *grads)


def assert_same(got, want, bf16: bool):
    assert got[0].dtype == want[0].dtype == (BF16 if bf16 else torch.float32)
    tol = 2e-2 if bf16 else 1e-5
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        assert (a.float() - b.float()).abs().max() <= tol * b.float().abs().max()


@pytest.mark.parametrize("transposed,c_in,c_out,size,bias", LAYERS)
@pytest.mark.parametrize("memory", [torch.contiguous_format, torch.channels_last])
def test_same_results_as_pytorch_layers(transposed, c_in, c_out, size, bias, memory):
    mine, theirs = pair(transposed, c_in, c_out, bias=bias)
    x = torch.randn(8, c_in, size, size).contiguous(memory_format=memory)
    small = (size if transposed else size // 2) ** 2
    one_channel = (c_out if transposed else c_in) == 1
    for bf16 in (False, True):
        got = run(mine, x, bf16)
        assert_same(got, run(theirs, x, bf16), bf16)
        node = type(got[0].grad_fn).__name__
        dtype = BF16 if bf16 else torch.float32
        gemm = gemm_directions(small, dtype, transposed, one_channel)
        if winograd_applies(small, dtype, one_channel):
            assert node == "WinogradConvBackward"
            gemm = (True, True, True)
        else:
            assert (node == "_SmallMapConvBackward") == any(gemm)
        if memory == torch.channels_last:  # a product's maps dense for what follows
            for t, g in zip(got[:2], gemm[:2], strict=True):
                assert t.is_contiguous(memory_format=memory) or not g


def test_rule_covers_the_small_maps_and_one_channel():
    fp32, every, none = torch.float32, (True,) * 3, (False,) * 3
    assert gemm_directions(16, BF16, False) == every  # seed64's 8x8 -> 4x4
    assert gemm_directions(16, BF16, True) == every  # seed64's 4x4 -> 8x8
    assert gemm_directions(64, BF16, False) == (False, False, True)  # seed64's 16x16 -> 8x8
    assert gemm_directions(49, BF16, True) == (False, False, True)  # paper28's 7x7 -> 14x14
    assert gemm_directions(256, BF16, False) == none
    assert gemm_directions(16, fp32, False) == every  # every direction on 4x4
    assert gemm_directions(16, fp32, True) == every
    assert gemm_directions(64, fp32, False) == none
    assert gemm_directions(16, torch.float16, False) == none  # not measured
    # onto one channel in fp32: seed64's G output (forward), its D input (input gradient)
    assert gemm_directions(1024, fp32, True, one_channel=True) == (True, False, False)
    assert gemm_directions(1024, fp32, False, one_channel=True) == (False, True, False)
    assert gemm_directions(1024, BF16, True, one_channel=True) == none


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_layers_whose_kernel_covers_the_map_are_one_product(transposed, bias):
    """seed64's G input layer (1x1 -> 4x4) and D head (4x4 -> 1x1): PyTorch's results,
    through a matrix product, the transposed layer's output channels-last."""
    c_in, c_out, size = (16, 24, 1) if transposed else (24, 3, 4)
    mine, theirs = pair(transposed, c_in, c_out, 4, 1, 0, bias=bias)
    x = torch.randn(8, c_in, size, size).contiguous(memory_format=torch.channels_last)
    for bf16 in (False, True):
        got = run(mine, x, bf16)
        assert_same(got, run(theirs, x, bf16), bf16)
        assert "Convolution" not in type(got[0].grad_fn).__name__
        assert got[0].is_contiguous(memory_format=torch.channels_last)
    # a map larger than the kernel is PyTorch's convolution
    if not transposed:
        got = run(mine, torch.randn(8, c_in, 6, 6), False)
        assert type(got[0].grad_fn).__name__ == "ConvolutionBackward0"


def test_windows_and_overlap_add_are_adjoint():
    """<windows(x), c> == <x, overlap_add(c)>: the one is the other's transpose."""
    torch.manual_seed(1)
    x = torch.randn(3, 5, 8, 8, dtype=torch.float64)
    cols = torch.randn(3 * 4 * 4, 16 * 5, dtype=torch.float64)
    left = (windows(x, (4, 4)) * cols).sum()
    right = (x * overlap_add(cols, 3, (4, 4), 5)).sum()
    assert torch.allclose(left, right)


@pytest.mark.skipif(not kernels.has_avx512(), reason="csrc/windows.c needs AVX-512")
@pytest.mark.parametrize("dtype", [BF16, torch.float32])
@pytest.mark.parametrize("shape", [(16, 128, 8, 8), (8, 64, 7, 7), (4, 1, 64, 64), (6, 24, 4, 4)])
def test_the_kernels_give_bitwise_what_pytorch_gives(shape, dtype, monkeypatch):
    """csrc/windows.c's windows, overlap-add and transpose against the same functions
    through PyTorch's operators: the same values to the bit (the same sums in the same
    order)."""
    assert kernels.load("windows", SIGNATURES) is not None
    b, c, h, w = shape
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=gen).to(dtype).contiguous(memory_format=torch.channels_last)
    cols = torch.randn(b * h * w, 16 * c, generator=gen).to(dtype)
    rows = cols[:, : 3 * c + 5]  # a width not a multiple of the kernel's tiles
    rows = rows.contiguous()
    with_kernels = (
        windows(x, (h // 2, w // 2)),
        overlap_add(cols, b, (h, w), c),
        transpose_rows(rows),
    )
    monkeypatch.setitem(kernels._loaded, "windows", None)  # as where they cannot be had
    without = windows(x, (h // 2, w // 2)), overlap_add(cols, b, (h, w), c), transpose_rows(rows)
    for got, want in zip(with_kernels, without, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.equal(got.view(torch.int16 if dtype == BF16 else torch.int32),
                           want.view(torch.int16 if dtype == BF16 else torch.int32))  # fmt: skip
    assert with_kernels[1].is_contiguous(memory_format=torch.channels_last)


def test_gradients_match_finite_differences_in_float64():
    torch.manual_seed(2)
    for layer, size in ((Conv2d(3, 4, bias=True), 8), (ConvTranspose2d(4, 3, bias=True), 4)):
        layer = layer.double()
        x = torch.randn(2, layer.in_channels, size, size, dtype=torch.float64)
        x.requires_grad_()
        # the layers take PyTorch's path in float64; the matrix products are called directly
        transposed = isinstance(layer, nn.ConvTranspose2d)
        assert torch.autograd.gradcheck(
            lambda x, w, b, t=transposed: _SmallMapConv.apply(x, w, b, t, (True,) * 3),
            (x, layer.weight, layer.bias),
        )

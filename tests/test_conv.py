"""The networks' 4x4 stride-2 convolutions computed as matrix products on small maps:
same outputs and gradients as PyTorch's layers, and the matrix products really taken
where the rule says."""

import pytest
import torch
from torch import nn

from infogan.models.conv import (
    Conv2d,
    ConvTranspose2d,
    _SmallMapConv,
    gemm_directions,
    overlap_add,
    windows,
)

BF16 = torch.bfloat16

#: (transposed, in channels, out channels, input size): the 4x4 maps of seed64 (every
#: direction a matrix product in bf16), its 16x16 map and paper28's 14x14 map (the
#: weight gradient only), and a 32x32 map (none)
LAYERS = [(False, 32, 48, 8), (True, 48, 24, 4), (False, 16, 24, 16), (False, 8, 16, 14),
          (True, 16, 8, 7), (True, 8, 4, 32)]  # fmt: skip


def pair(transposed: bool, c_in: int, c_out: int):
    torch.manual_seed(0)
    mine = (ConvTranspose2d if transposed else Conv2d)(c_in, c_out)
    theirs = (nn.ConvTranspose2d if transposed else nn.Conv2d)(c_in, c_out, 4, 2, 1, bias=False)
    theirs.load_state_dict(mine.state_dict())
    return mine, theirs


def run(layer: nn.Module, x: torch.Tensor, bf16: bool):
    """(output, input gradient, weight gradient) of a pass and a backward of a fixed loss."""
    x = x.clone().requires_grad_()
    layer.zero_grad()
    with torch.autocast("cpu", dtype=BF16, enabled=bf16):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return y, x.grad, layer.weight.grad


@pytest.mark.parametrize("transposed,c_in,c_out,size", LAYERS)
@pytest.mark.parametrize("memory", [torch.contiguous_format, torch.channels_last])
def test_same_results_as_pytorch_layers(transposed, c_in, c_out, size, memory):
    mine, theirs = pair(transposed, c_in, c_out)
    x = torch.randn(8, c_in, size, size).contiguous(memory_format=memory)
    small = (size if transposed else size // 2) ** 2
    for bf16, tol in ((False, 1e-5), (True, 2e-2)):
        got, want = run(mine, x, bf16), run(theirs, x, bf16)
        assert got[0].dtype == want[0].dtype == (BF16 if bf16 else torch.float32)
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape
            assert (a.float() - b.float()).abs().max() <= tol * b.float().abs().max()
        node = type(got[0].grad_fn).__name__
        uses_gemm = any(gemm_directions(small, BF16 if bf16 else torch.float32, transposed))
        assert (node == "_SmallMapConvBackward") == uses_gemm
        if uses_gemm and memory == torch.channels_last:  # dense maps for what follows
            assert all(t.is_contiguous(memory_format=memory) for t in got[:2])


def test_rule_covers_the_small_maps():
    assert gemm_directions(16, BF16, False) == (True, True)  # seed64's 8x8 -> 4x4
    assert gemm_directions(16, BF16, True) == (True, True)  # seed64's 4x4 -> 8x8
    assert gemm_directions(64, BF16, False) == (False, True)  # seed64's 16x16 -> 8x8
    assert gemm_directions(49, BF16, True) == (False, True)  # paper28's 7x7 -> 14x14
    assert gemm_directions(256, BF16, False) == (False, False)
    assert gemm_directions(16, torch.float32, False) == (True, True)  # every direction on 4x4
    assert gemm_directions(16, torch.float32, True) == (True, True)
    assert gemm_directions(64, torch.float32, False) == (False, False)
    assert gemm_directions(16, torch.float16, False) == (False, False)  # not measured


def test_windows_and_overlap_add_are_adjoint():
    """<windows(x), c> == <x, overlap_add(c)>: the one is the other's transpose."""
    torch.manual_seed(1)
    x = torch.randn(3, 5, 8, 8, dtype=torch.float64)
    cols = torch.randn(3 * 4 * 4, 16 * 5, dtype=torch.float64)
    left = (windows(x, (4, 4)) * cols).sum()
    right = (x * overlap_add(cols, 3, (4, 4), 5)).sum()
    assert torch.allclose(left, right)


def test_gradients_match_finite_differences_in_float64():
    torch.manual_seed(2)
    for layer, size in ((Conv2d(3, 4), 8), (ConvTranspose2d(4, 3), 4)):
        layer = layer.double()
        x = torch.randn(2, layer.in_channels, size, size, dtype=torch.float64)
        x.requires_grad_()
        # the layers take PyTorch's path in float64; the matrix products are called directly
        transposed = isinstance(layer, nn.ConvTranspose2d)
        assert torch.autograd.gradcheck(
            lambda x, w, t=transposed: _SmallMapConv.apply(x, w, t, True, True),
            (x, layer.weight),
        )

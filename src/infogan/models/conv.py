"""The networks' convolutions on a CPU: matrix products where oneDNN is slow, and in
float32 Winograd's algorithm (:mod:`infogan.models.winograd`).

oneDNN's convolutions are slow where a map has few positions and many channels: on 2
Xeon cores with AMX, seed64's last D convolution (256 -> 512 channels, 8x8 -> 4x4) took
100 ms for its bfloat16 weight gradient, 85 GFLOP/s. The same arithmetic as one matrix
product over the unrolled 4x4 windows (im2col) took 11 ms. :class:`Conv2d` and
:class:`ConvTranspose2d` are ``nn.Conv2d`` and ``nn.ConvTranspose2d`` (same weights,
same state-dict keys, same results to the rounding of the arithmetic) that send the
directions of a 4x4 stride-2 pass (forward, input gradient, weight gradient) that are
faster that way through :func:`windows` and a matrix product, and the others through
PyTorch's convolution. Which directions go where depends only on the map size, whether
the larger map has one channel, and the dtype (:func:`gemm_directions`), so a run takes
the same path each time. In float32, where csrc/winograd.c can be had, the layers with
more than one channel on both sides take Winograd's algorithm in every direction instead
(:func:`winograd_applies`): 2.56 times fewer products. A layer whose kernel covers its
whole map (seed64's G input and D head) is the matrix product it is. On other devices,
and for layers of other shapes, they are PyTorch's layers. All of them take their weights from
:func:`~infogan.models.cast.autocast_weight`.

The windows are laid out position-major with channels last: row (b, i, j) of the
unrolled matrix holds input[b, :, 2i-1+kh, 2j-1+kw] for kh, kw in 0..3, channels
innermost, so the weights multiply it as ``weight.permute(0, 2, 3, 1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infogan.models import kernels, winograd
from infogan.models.cast import autocast_weight

#: kernel, stride and padding of the convolutions this module computes as matrix products
KERNEL, STRIDE, PADDING = 4, 2, 1

#: the most positions the smaller map of a layer may have for a direction to be a matrix
#: product, by dtype and kind of layer: (forward and input gradient, weight gradient).
#: Measured per layer on 2 Xeon cores with AMX (benchmarks/conv_paths.py): in bfloat16
#: the matrix product wins every direction on 4x4 maps, and the weight gradient up to
#: 8x8 maps (7x7 for a transposed convolution, whose 8x8 weight gradient oneDNN does
#: well); in float32 it wins every direction on 4x4 maps (about 30 ms against 37 to 42
#: for seed64's, batch 128) and loses on larger ones. In float32 Winograd's algorithm
#: takes these layers where its kernels can be had (below).
GEMM_POSITIONS = {
    torch.bfloat16: {False: (16, 64), True: (16, 49)},
    torch.float32: {False: (16, 16), True: (16, 16)},
}

#: the most positions the smaller map of a layer may have for its passes to go through
#: Winograd's algorithm (:mod:`infogan.models.winograd`), by dtype, where the larger map
#: has more than one channel. Measured per layer on 2 Xeon cores with AMX
#: (benchmarks/conv_paths.py): in float32 it beats oneDNN and the window products on
#: every map of seed64 and paper28, 4x4 to 16x16.
WINOGRAD_POSITIONS = {torch.float32: 256}

#: dtypes in which a layer whose larger map has one channel (seed64's image) spreads onto
#: it by a matrix product and an overlap-add: the direction that does (a transposed
#: convolution's forward, a convolution's input gradient) took oneDNN 15.7 and 24.3 ms at
#: batch 128 in float32 against 3.7 and 3.9 as a product (seed64's G output and D input,
#: 64 channels at 32x32 <-> 1 at 64x64); in bfloat16 oneDNN was faster (2.6 against 8.8 ms
#: for G's). benchmarks/conv_paths.py times every direction of these layers.
ONE_CHANNEL_SPREAD = {torch.float32}


#: csrc/windows.c's functions and their arguments (kernels.load)
SIGNATURES = {"windows": "ppqqqqqqii", "overlap_add": "ppqqqqii", "transpose": "ppqqii"}


def _library(x: torch.Tensor):
    """csrc/windows.c for ``x``'s device and dtype, or None (PyTorch's operators then)."""
    if x.device.type != "cpu" or x.dtype not in (torch.bfloat16, torch.float32):
        return None
    return kernels.load("windows", SIGNATURES)


def windows(x: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """(B, C, H, W) -> (B * Ho * Wo, 16 * C): the 4x4 windows of the padded map at
    stride 2, one row per output position, ordered (kh, kw, channel)."""
    b, c, h, w = x.shape
    ho, wo = out_hw
    lib = _library(x)
    if lib is not None:  # one pass (PyTorch's two below took twice as long, docs/speed.md)
        x = x.contiguous(memory_format=torch.channels_last)
        rows = x.new_empty(b * ho * wo, KERNEL * KERNEL * c)
        threads = torch.get_num_threads()
        lib.windows(x.data_ptr(), rows.data_ptr(), b, h, w, c, ho, wo, x.element_size(), threads)
        return rows
    p = PADDING
    # the padded map (B, H+2, W+2, C), its border zeroed and its inside copied (F.pad
    # took twice as long on seed64's bf16 maps)
    padded = x.new_empty(b, h + 2 * p, w + 2 * p, c)
    padded[:, :p].zero_()
    padded[:, h + p :].zero_()
    padded[:, p : h + p, :p].zero_()
    padded[:, p : h + p, w + p :].zero_()
    padded[:, p : h + p, p : w + p] = x.permute(0, 2, 3, 1)
    s_b, s_h, s_w, s_c = padded.stride()
    view = padded.as_strided(
        (b, ho, wo, KERNEL, KERNEL, c), (s_b, STRIDE * s_h, STRIDE * s_w, s_h, s_w, s_c)
    )
    return view.reshape(b * ho * wo, KERNEL * KERNEL * c)


def overlap_add(cols: torch.Tensor, b: int, hw: tuple[int, int], channels: int) -> torch.Tensor:
    """The adjoint of :func:`windows`: (B * H * W, 16 * C) window values -> the
    (B, C, 2H, 2W) map where each window's values land (summed where windows overlap,
    in float32 or wider), in ``cols``' dtype and channels-last memory."""
    h, w = hw
    lib = _library(cols)
    if lib is not None:  # one pass, the same sums in the same order
        cols = cols.contiguous()
        out = torch.empty(
            b, channels, 2 * h, 2 * w, dtype=cols.dtype, memory_format=torch.channels_last
        )
        f32, threads = cols.dtype == torch.float32, torch.get_num_threads()
        lib.overlap_add(cols.data_ptr(), out.data_ptr(), b, h, w, channels, f32, threads)
        return out
    # kh as (kh // 2, kh % 2), and so kw
    parts = cols.view(b, h, w, KERNEL // 2, 2, KERNEL // 2, 2, channels)
    # the padded output (2H + 2 rows) as (row pair q, parity p): padded row 2h + kh is
    # pair h + kh // 2, parity kh % 2; so the four taps with the same (kh // 2, kw // 2)
    # add into one slice (four additions instead of sixteen smaller ones). The first
    # slice is copied in, and only the last row pair and column pair, which it misses,
    # start at zero (no pass that zeroes the whole map; bf16 seed64's 256 x 8 x 8: 4.1
    # ms against 7.0, the same sums)
    wide = torch.promote_types(cols.dtype, torch.float32)
    out = torch.empty(b, h + 1, 2, w + 1, 2, channels, dtype=wide, device=cols.device)
    out[:, h].zero_()
    out[:, :h, :, w].zero_()
    for dh in range(KERNEL // 2):
        for dw in range(KERNEL // 2):
            taps = parts[:, :, :, dh, :, dw]  # (B, H, W, kh % 2, kw % 2, C)
            block = out[:, dh : dh + h, :, dw : dw + w]
            if dh == dw == 0:
                block.copy_(taps.permute(0, 1, 3, 2, 4, 5))
            else:
                block += taps.permute(0, 1, 3, 2, 4, 5)
    full = out.view(b, 2 * h + 2, 2 * w + 2, channels)
    crop = full[:, PADDING : 2 * h + PADDING, PADDING : 2 * w + PADDING]
    # dense channels-last memory: normalisation and activations on the strided crop itself
    # took ten times as long (BatchNorm and LeakyReLU on seed64's 256 x 8 x 8, fp32)
    out = crop.permute(0, 3, 1, 2).to(cols.dtype)  # a copy where the dtype narrows
    return out.contiguous(memory_format=torch.channels_last)


def transpose_rows(rows: torch.Tensor) -> torch.Tensor:
    """(N, C) -> the dense (C, N) transpose (a transposed left operand halves oneDNN's
    bf16 product rate at these shapes)."""
    lib = _library(rows)
    if lib is None or not rows.is_contiguous():
        return rows.t().contiguous()
    out = rows.new_empty(rows.shape[1], rows.shape[0])
    n, c = rows.shape
    lib.transpose(
        rows.data_ptr(), out.data_ptr(), n, c, rows.element_size(), torch.get_num_threads()
    )
    return out


def _rows(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B * H * W, C), a view for channels-last memory."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


def _from_rows(rows: torch.Tensor, b: int, hw: tuple[int, int]) -> torch.Tensor:
    """(B * H * W, C) -> (B, C, H, W) in channels-last memory."""
    return rows.view(b, hw[0], hw[1], -1).permute(0, 3, 1, 2)


def gemm_directions(
    small_positions: int, dtype: torch.dtype, transposed: bool, one_channel: bool = False
) -> tuple[bool, bool, bool]:
    """(forward, input gradient, weight gradient): which go through matrix products for a
    layer whose smaller map has ``small_positions`` positions and whose larger map has
    one channel or more (``one_channel``)."""
    passes, weight = GEMM_POSITIONS.get(dtype, {}).get(transposed, (0, 0))
    small = small_positions <= passes
    spread = one_channel and dtype in ONE_CHANNEL_SPREAD
    return (
        small or (spread and transposed),
        small or (spread and not transposed),
        (small_positions <= weight),
    )


def winograd_applies(small_positions: int, dtype: torch.dtype, one_channel: bool) -> bool:
    """Whether a CPU layer (a square map) goes through Winograd's algorithm: its smaller
    map has at most :data:`WINOGRAD_POSITIONS` positions for ``dtype``, its larger map
    more than one channel (``one_channel``: one is too few to multiply), and the kernels
    can be had (elsewhere :func:`gemm_directions` decides)."""
    if one_channel or small_positions > WINOGRAD_POSITIONS.get(dtype, 0):
        return False
    return winograd.available(dtype)


class _SmallMapConv(torch.autograd.Function):
    """A 4x4 stride-2 padding-1 convolution (``transposed``: its transpose) with each
    direction computed by a matrix product or by PyTorch's convolution."""

    @staticmethod
    def forward(ctx, x, weight, bias, transposed: bool, gemm: tuple[bool, bool, bool]):
        ctx.save_for_backward(x, weight)
        ctx.flags = transposed, gemm
        b, _, h, w = x.shape
        if not gemm[0]:
            conv = F.conv_transpose2d if transposed else F.conv2d
            return conv(x, weight, bias, stride=STRIDE, padding=PADDING)
        flat = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)  # (O or Cin, 16 * .)
        if transposed:  # every input position spreads over a 4x4 window of the output
            out = overlap_add(_rows(x) @ flat, b, (h, w), weight.shape[1])
        else:
            out = _from_rows(windows(x, (h // 2, w // 2)) @ flat.t(), b, (h // 2, w // 2))
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        transposed, (_, gemm_input, gemm_weight) = ctx.flags
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad = grad.contiguous(memory_format=torch.channels_last)
        grad_x = grad_w = None
        b, _, h, w = x.shape
        flat = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)
        aten_mask = [need_x and not gemm_input, need_w and not gemm_weight, False]
        if any(aten_mask):
            grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [STRIDE] * 2, [PADDING] * 2, [1, 1], transposed,
                [0, 0], 1, aten_mask,
            )  # fmt: skip
        if need_x and gemm_input:
            if transposed:  # the input gradient of a transposed convolution is a convolution
                grad_x = _from_rows(windows(grad, (h, w)) @ flat.t(), b, (h, w))
            else:
                grad_x = overlap_add(_rows(grad) @ flat, b, (h // 2, w // 2), x.shape[1])
        if need_w and gemm_weight:
            if transposed:  # (Cin, B*H*W) @ (B*H*W, 16 * Cout)
                left, right = transpose_rows(_rows(x)), windows(grad, (h, w))
            else:  # (Cout, B*Ho*Wo) @ (B*Ho*Wo, 16 * Cin)
                left, right = transpose_rows(_rows(grad)), windows(x, (h // 2, w // 2))
            prod = left @ right
            grad_w = prod.view(weight.shape[0], KERNEL, KERNEL, -1).permute(0, 3, 1, 2)
        grad_b = grad.sum((0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None


def _small_map_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool, small: int
):
    """The layer's pass on a CPU, or ``None`` where PyTorch's convolution does every
    direction (another device, or a map too large for any matrix product)."""
    if x.device.type != "cpu":
        return None
    dtype = x.dtype
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
    # the larger map's channels: a convolution's input, a transposed convolution's output
    one_channel = weight.shape[1] == 1
    if x.shape[2] == x.shape[3] and winograd_applies(small, dtype, one_channel):
        with torch.autocast("cpu", enabled=False):
            out = winograd.WinogradConv.apply(x.to(dtype), weight.to(dtype), transposed)
            return out if bias is None else out + bias.to(dtype).view(1, -1, 1, 1)
    gemm = gemm_directions(small, dtype, transposed, one_channel)
    if not any(gemm):
        return None
    with torch.autocast("cpu", enabled=False):
        bias = None if bias is None else bias.to(dtype)
        return _SmallMapConv.apply(x.to(dtype), weight.to(dtype), bias, transposed, gemm)


def _whole_map_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, transposed: bool
):
    """A layer whose kernel covers the whole map (a 4x4 map to 1x1, or its transpose
    from 1x1 to 4x4: seed64's D head and G's first layer) as the one matrix product it
    is, on a CPU; ``None`` elsewhere. oneDNN took 4.5 ms for G's first layer at batch 128
    in fp32 (30 GFLOP/s), and more for its weight gradient."""
    if x.device.type != "cpu":
        return None
    b = x.shape[0]
    flat = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)  # (O or Cin, kh*kw*.)
    if not transposed:
        rows = x.permute(0, 2, 3, 1).reshape(b, -1)  # a view for channels-last memory
        return F.linear(rows, flat, bias).view(b, -1, 1, 1)
    # (B, Cin) -> (B, kh, kw, Cout), handed on as channels-last (B, Cout, kh, kw)
    out = (x.reshape(b, -1) @ flat).view(b, *weight.shape[2:], weight.shape[1])
    if bias is not None:  # in the product's dtype, as autocast leaves the addition alone
        out = out + bias.to(out.dtype)
    return out.permute(0, 3, 1, 2)


class _SmallMapLayer:
    """The constructor the two layers share (4x4, stride 2, padding 1 and no bias by
    default) and the CPU paths they share: ``small_maps`` says whether the layer is of
    the kind :func:`_small_map_conv` computes (that kernel, stride and padding),
    ``whole_map`` whether it is of the kind :func:`_whole_map_conv` computes on a map its
    kernel covers (stride 1, no padding)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int = KERNEL, stride: int = STRIDE,
        padding: int = PADDING, *, bias: bool = False,
    ):  # fmt: skip
        super().__init__(c_in, c_out, kernel, stride, padding, bias=bias)
        self.small_maps = (kernel, stride, padding) == (KERNEL, STRIDE, PADDING)
        self.whole_map = (stride, padding) == (1, 0)

    def _cpu_paths(self, x: torch.Tensor, weight, bias, transposed: bool):
        """The layer's pass through :func:`_whole_map_conv` or :func:`_small_map_conv`,
        or ``None`` where PyTorch's layer does it (also while torch.compile traces it)."""
        if kernels.compiling():
            return None
        h, w = x.shape[2:]
        if self.whole_map and (h, w) == ((1, 1) if transposed else self.kernel_size):
            return _whole_map_conv(x, weight, bias, transposed)
        if self.small_maps:
            small = h * w if transposed else (h // STRIDE) * (w // STRIDE)
            return _small_map_conv(x, weight, bias, transposed, small)
        return None


class Conv2d(_SmallMapLayer, nn.Conv2d):
    """``nn.Conv2d`` (4x4, stride 2, padding 1, no bias by default), with matrix products
    where oneDNN is slow, and its weights from :func:`~infogan.models.cast.autocast_weight`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = autocast_weight(self.weight), autocast_weight(self.bias)
        out = self._cpu_paths(x, weight, bias, False)
        return self._conv_forward(x, weight, bias) if out is None else out


class ConvTranspose2d(_SmallMapLayer, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (4x4, stride 2, padding 1, no bias by default), with matrix
    products where oneDNN is slow, and its weights from
    :func:`~infogan.models.cast.autocast_weight`."""

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is not None:
            return super().forward(x, output_size)
        weight, bias = autocast_weight(self.weight), autocast_weight(self.bias)
        out = self._cpu_paths(x, weight, bias, True)
        if out is not None:
            return out
        return F.conv_transpose2d(
            x, weight, bias, self.stride, self.padding, self.output_padding, self.groups,
            self.dilation,
        )  # fmt: skip


class _GradInInputsFormat(torch.autograd.Function):
    """The identity, whose backward hands on the gradient in the input's memory format."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.channels_last = x.dim() == 4 and not x.is_contiguous()
        ctx.channels_last &= x.is_contiguous(memory_format=torch.channels_last)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        if ctx.channels_last:
            return grad.contiguous(memory_format=torch.channels_last)
        return grad


class Flatten(nn.Flatten):
    """``nn.Flatten`` whose gradient comes back in its input's memory format: flattening
    a channels-last map copies it, and the copy's gradient would reach the activation
    before it contiguous, which LeakyReLU's backward then reads across formats (ten times
    slower on seed64's last 512 x 4 x 4 maps, bf16)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_GradInInputsFormat.apply(x))

"""4x4 stride-2 convolutions by Winograd's minimal filtering: 2.56 times fewer products.

A 4x4 stride-2 padding-1 convolution is a 2x2 stride-1 convolution of the padded map
rearranged space-to-depth (the four row and column parities become channels: 4C of
them on a map of (H + 2) / 2 positions a side). Winograd's F(4x4, 2x2) computes a 4x4
tile of that convolution from a 5x5 tile of its input with 25 products per pair of
channels where the direct way takes 64: the tile and the weights are carried to 25
points (``B^T d B`` and ``G g G^T``), multiplied there point by point, which over the
channels is 25 matrix products, and brought back (``A^T m A``). The transposed
convolution is the same algorithm run backwards (its forward is the convolution's input
gradient), so both layers, and every direction of each, are the same 25 products with
the operands in another order.

The transforms are exact rational matrices from the points 0, 1, -1, 1/2 and infinity
(Toom-Cook); in float32 a result is within a few units of 1e-6 of the largest value,
where the direct way is within a few units of 1e-7. They are memory-bound passes, done
by csrc/winograd.c (float32, on a CPU) in one pass each; the 25 products are
:func:`torch.bmm`'s. :mod:`infogan.models.conv` sends a layer's float32 passes here where
that was measured faster than oneDNN and the window products (docs/speed.md), and only
where the kernels can be had (:func:`available`).

Layouts: a map goes in and comes out as (B, C, H, W) in channels-last memory; a map's
tiles at the points are (25, tiles, channels) and a weight's (25, O, 4C), so each
product is one batch of :func:`torch.bmm`. Tiles run 4 positions a side over the output
map, the last ones cut at its edge (paper28's 7x7 maps: four tiles, 64 outputs for 49).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import torch

from infogan.models import kernels

#: csrc/winograd.c's functions and their arguments (kernels.load)
SIGNATURES = {
    **dict.fromkeys(
        ("input_points", "input_points_adjoint", "output_tiles", "output_tiles_adjoint"),
        "pppqqqqi",
    ),
    "weight_points": "pppqqii",
    "weight_points_adjoint": "pppqqii",
}

#: the output tile, the kernel (after space-to-depth) and the input tile a side
TILE, TAPS = 4, 2
SPAN = TILE + TAPS - 1
#: the points the tiles are carried to (None: infinity)
POINTS = (0, 1, -1, Fraction(1, 2), None)


def _powers(point, n: int) -> list[Fraction]:
    if point is None:  # a polynomial's value "at infinity": its leading coefficient
        return [Fraction(0)] * (n - 1) + [Fraction(1)]
    return [Fraction(point) ** e for e in range(n)]


def _inverse(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    """The exact inverse of a square matrix of fractions (Gauss-Jordan)."""
    n = len(rows)
    work = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if work[r][col] != 0)
        work[col], work[pivot] = work[pivot], work[col]
        scale = work[col][col]
        work[col] = [v / scale for v in work[col]]
        for r in range(n):
            if r != col and work[r][col] != 0:
                factor = work[r][col]
                work[r] = [a - factor * b for a, b in zip(work[r], work[col], strict=True)]
    return [row[n:] for row in work]


def one_dimension() -> tuple[list[list[Fraction]], ...]:
    """A^T (TILE x SPAN), G (SPAN x TAPS) and B^T (SPAN x SPAN) of F(4, 2): the
    correlation y_i = sum_j g_j d_{i+j} is A^T [(G g) * (B^T d)]. It is the transpose of
    the linear convolution u * g, which Toom-Cook computes as V^-1 [(V_u u) * (V_g g)]
    with V the Vandermonde matrices of the points."""
    vander = [_powers(p, SPAN) for p in POINTS]
    a_t = [list(col) for col in zip(*(_powers(p, TILE) for p in POINTS), strict=True)]
    g = [_powers(p, TAPS) for p in POINTS]
    b_t = [list(col) for col in zip(*_inverse(vander), strict=True)]
    return a_t, g, b_t


def _matrix(rows) -> torch.Tensor:
    return torch.tensor([[float(v) for v in row] for row in rows], dtype=torch.float32)


@cache
def _operands() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What csrc/winograd.c takes, float32 and row-major: A^T (4 x 5) and B^T (5 x 5),
    applied by rows and by columns, and G (x) G (25 x 4) for the 2x2 kernels."""
    a_t, g, b_t = one_dimension()
    g = _matrix(g)
    return _matrix(a_t), torch.kron(g, g).contiguous(), _matrix(b_t)


def available(dtype: torch.dtype) -> bool:
    """Whether :class:`WinogradConv` can run on CPU tensors of ``dtype`` here (float32,
    and the kernels can be had)."""
    return dtype == torch.float32 and kernels.load("winograd", SIGNATURES) is not None


def _run(function: str, *args) -> None:
    """csrc/winograd.c's ``function`` on ``args`` (tensors by address) and the threads."""
    lib = kernels.load("winograd", SIGNATURES)
    ptrs = [a.data_ptr() if isinstance(a, torch.Tensor) else a for a in args]
    if getattr(lib, function)(*ptrs, torch.get_num_threads()) != 0:
        raise MemoryError(f"csrc/winograd.c:{function} could not allocate its workspace")


def _tiles_a_side(out_size: int) -> int:
    return -(-out_size // TILE)


def input_points(x: torch.Tensor, out_size: int) -> torch.Tensor:
    """(B, C, H, H) -> (25, B * T * T, 4C): the convolution's input tiles at the points.

    The map is padded by one (and with zeros past its end where the output, ``out_size``
    a side, is not a whole number of tiles: T = ceil(out_size / 4) a side) and rearranged
    space-to-depth, channels ordered (row parity, column parity, channel)."""
    b, c, h, _ = x.shape
    t = _tiles_a_side(out_size)
    x = x.contiguous(memory_format=torch.channels_last)
    points = x.new_empty(SPAN * SPAN, b * t * t, 4 * c)
    _run("input_points", x, points, _operands()[2], b, h, c, t)
    return points


def input_points_adjoint(points: torch.Tensor, b: int, size: int) -> torch.Tensor:
    """The adjoint of :func:`input_points`: (25, B * T * T, 4C) -> the (B, C, size, size)
    map, summed where tiles overlap, in channels-last memory."""
    c = points.shape[2] // 4
    t = _tiles_a_side(size // 2)
    out = torch.empty(b, c, size, size, dtype=points.dtype, memory_format=torch.channels_last)
    _run("input_points_adjoint", points.contiguous(), out, _operands()[2], b, size, c, t)
    return out


def output_tiles(products: torch.Tensor, b: int, size: int) -> torch.Tensor:
    """(25, B * T * T, O) products at the points -> the (B, O, size, size) output map,
    in channels-last memory."""
    o = products.shape[2]
    out = torch.empty(b, o, size, size, dtype=products.dtype, memory_format=torch.channels_last)
    _run("output_tiles", products.contiguous(), out, _operands()[0], b, size, o,
         _tiles_a_side(size))  # fmt: skip
    return out


def output_tiles_adjoint(grad: torch.Tensor) -> torch.Tensor:
    """The adjoint of :func:`output_tiles`: a (B, O, size, size) map -> (25, B * T * T, O)."""
    b, o, size, _ = grad.shape
    t = _tiles_a_side(size)
    grad = grad.contiguous(memory_format=torch.channels_last)
    points = grad.new_empty(SPAN * SPAN, b * t * t, o)
    _run("output_tiles_adjoint", grad, points, _operands()[0], b, size, o, t)
    return points


def _channels_last(weight: torch.Tensor) -> bool:
    return not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last)


def weight_points(weight: torch.Tensor) -> torch.Tensor:
    """A convolution's (O, C, 4, 4) weight -> (25, O, 4C): each output channel's four 2x2
    space-to-depth kernels a channel at the points."""
    o, c = weight.shape[:2]
    cl = _channels_last(weight)
    weight = weight if cl else weight.contiguous()
    points = weight.new_empty(SPAN * SPAN, o, 4 * c)
    _run("weight_points", weight, points, _operands()[1], o, c, int(cl))
    return points


def weight_points_adjoint(points: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """The adjoint of :func:`weight_points`: (25, O, 4C) -> the (O, C, 4, 4) weight's
    gradient, in channels-last memory or not (as the weight is)."""
    o, c = points.shape[1], points.shape[2] // 4
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    grad = torch.empty(o, c, 2 * TAPS, 2 * TAPS, dtype=points.dtype, memory_format=fmt)
    _run("weight_points_adjoint", points.contiguous(), grad, _operands()[1], o, c,
         int(channels_last))  # fmt: skip
    return grad


def conv(x_points: torch.Tensor, w_points: torch.Tensor, b: int, size: int) -> torch.Tensor:
    """The convolution's output (B, O, size, size) from its input and weight at the points."""
    return output_tiles(torch.bmm(x_points, w_points.transpose(1, 2)), b, size)


def conv_input_grad(g_points: torch.Tensor, w_points: torch.Tensor, b: int, size: int):
    """The gradient of the convolution's (B, C, size, size) input from its output's
    gradient at the points (:func:`output_tiles_adjoint`): a transposed convolution."""
    return input_points_adjoint(torch.bmm(g_points, w_points), b, size)


def conv_weight_grad(x_points: torch.Tensor, g_points: torch.Tensor, channels_last: bool):
    """The gradient of the convolution's (O, C, 4, 4) weight (``channels_last`` memory or
    not) from its input and its output's gradient at the points."""
    return weight_points_adjoint(torch.bmm(g_points.transpose(1, 2), x_points), channels_last)


class WinogradConv(torch.autograd.Function):
    """A 4x4 stride-2 padding-1 convolution of a square map (``transposed``: its
    transpose), every direction by Winograd's F(4x4, 2x2). ``weight`` is the layer's: (O,
    C, 4, 4) for a convolution from C to O channels, (Cin, Cout, 4, 4) for a transposed
    convolution, the transpose of the convolution from Cout to Cin with that weight."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, transposed: bool) -> torch.Tensor:
        b, _, size, _ = x.shape
        w_points = weight_points(weight)
        if transposed:  # the convolution's input gradient, x in its output's place
            x_points = output_tiles_adjoint(x)
            out = conv_input_grad(x_points, w_points, b, 2 * size)
        else:
            x_points = input_points(x, size // 2)
            out = conv(x_points, w_points, b, size // 2)
        ctx.save_for_backward(x_points, w_points)
        ctx.meta = transposed, b, size, _channels_last(weight)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x_points, w_points = ctx.saved_tensors
        transposed, b, size, cl = ctx.meta
        need_x, need_w = ctx.needs_input_grad[:2]
        grad_x = grad_w = None
        if transposed:  # the gradient is the convolution's input, x its output's gradient
            g_points = input_points(grad, size)
            if need_x:
                grad_x = conv(g_points, w_points, b, size)
            if need_w:
                grad_w = conv_weight_grad(g_points, x_points, cl)
        else:
            g_points = output_tiles_adjoint(grad)
            if need_x:
                grad_x = conv_input_grad(g_points, w_points, b, size)
            if need_w:
                grad_w = conv_weight_grad(x_points, g_points, cl)
        return grad_x, grad_w, None

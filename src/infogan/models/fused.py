"""BatchNorm and the ReLU or LeakyReLU after it as one CPU operator (bfloat16 or float32).

In a bf16 step on 2 Xeon cores with AMX, PyTorch 2.13's BatchNorm and activations took a
fifth of seed64's step: its CPU kernels round each bfloat16 result in several integer
instructions (they dispatch at AVX512, not AVX512-BF16) and make separate passes over
memory for the normalisation and the activation, forward and backward. ``csrc/bnact.c`` does
both in two passes each way, in float32 with the CPU's own bfloat16 conversion; in
float32 the passes it saves are all it gains (docs/speed.md).

:class:`Sequential` is ``nn.Sequential`` that hands each BatchNorm followed by a ReLU or
LeakyReLU to that operator where it applies (training mode, a CPU with AVX-512, the C
compiler found), and an activation with no BatchNorm before it to one of its own; the
modules, and so the checkpoints, are PyTorch's own. Where the kernels cannot be had
(:mod:`~infogan.models.kernels`) the layers run one by one, as PyTorch's.
"""

from __future__ import annotations

import ctypes
import math

import torch
from torch import nn

from infogan.models import kernels
from infogan.models.norm import BatchNorm1d, BatchNorm2d

DTYPES = (torch.bfloat16, torch.float32)
#: BatchNorm classes the operator stands in for (not torchrun's GlobalBatchNorm)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, BatchNorm1d, BatchNorm2d)
#: csrc/bnact.c's functions and their arguments (kernels.load)
SIGNATURES = {
    "bnact_forward": "ppiqqpippfffppppi",
    "bnact_backward": "ppppiqqpipppfppi",
    "act_forward": "ppiqfi",
    "act_backward": "pppiqfi",
}


def library() -> ctypes.CDLL | None:
    """csrc/bnact.c, compiled and loaded; None where it cannot be had here."""
    return kernels.load("bnact", SIGNATURES)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _rows(x: torch.Tensor) -> torch.Tensor:
    """The memory of ``x`` as (rows, channels): channels-last maps, or (B, C) rows."""
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x.contiguous()


class _BatchNormAct(torch.autograd.Function):
    """act(BatchNorm(x)) in training mode, each of ``batches`` (row counts of x, in order)
    normalised by its own statistics; moves ``norm``'s running statistics."""

    @staticmethod
    def forward(ctx, x, weight, bias, norm, slope, batches):  # type: ignore[override]
        x = _rows(x)
        lib = library()
        channels = x.shape[1]
        per_sample = math.prod(x.shape[2:])
        offsets = [0]
        for b in batches:
            offsets.append(offsets[-1] + b * per_sample)
        seg = (ctypes.c_int64 * len(offsets))(*offsets)
        nseg = len(batches)
        y = torch.empty_like(x)
        mean = torch.empty(nseg, channels)
        invstd = torch.empty(nseg, channels)
        weight, bias = weight.detach().float().contiguous(), bias.detach().float().contiguous()
        running = norm.track_running_stats and norm.running_mean is not None
        status = lib.bnact_forward(
            _ptr(x),
            _ptr(y),
            x.dtype == torch.float32,
            offsets[-1],
            channels,
            seg,
            nseg,
            _ptr(weight),
            _ptr(bias),
            norm.eps,
            slope,
            norm.momentum,
            _ptr(norm.running_mean) if running else None,
            _ptr(norm.running_var) if running else None,
            _ptr(mean),
            _ptr(invstd),
            torch.get_num_threads(),
        )
        if status != 0:
            raise MemoryError("BatchNorm: out of memory for its statistics")
        if running:
            norm.num_batches_tracked.add_(nseg)
        ctx.save_for_backward(x, y, weight, mean, invstd)
        ctx.slope, ctx.offsets = slope, offsets
        return y

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, y, weight, mean, invstd = ctx.saved_tensors
        grad = _rows(grad)
        offsets = ctx.offsets
        seg = (ctypes.c_int64 * len(offsets))(*offsets)
        grad_x = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        grad_weight = torch.empty(x.shape[1])
        grad_bias = torch.empty(x.shape[1])
        status = library().bnact_backward(
            _ptr(grad),
            _ptr(y),
            _ptr(x),
            _ptr(grad_x),
            x.dtype == torch.float32,
            offsets[-1],
            x.shape[1],
            seg,
            len(offsets) - 1,
            _ptr(weight),
            _ptr(mean),
            _ptr(invstd),
            ctx.slope,
            _ptr(grad_weight),
            _ptr(grad_bias),
            torch.get_num_threads(),
        )
        if status != 0:
            raise MemoryError("BatchNorm: out of memory for its gradients")
        return grad_x, grad_weight, grad_bias, None, None, None


class _Act(torch.autograd.Function):
    """ReLU or LeakyReLU on its own (D's first layer, which has no BatchNorm)."""

    @staticmethod
    def forward(ctx, x, slope):  # type: ignore[override]
        if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
            x = x.contiguous()
        y = torch.empty_like(x)  # x's layout
        f32, threads = x.dtype == torch.float32, torch.get_num_threads()
        library().act_forward(_ptr(x), _ptr(y), f32, x.numel(), slope, threads)
        ctx.save_for_backward(y)
        ctx.slope = slope
        return y

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (y,) = ctx.saved_tensors
        if grad.stride() != y.stride():
            grad = torch.empty_like(y).copy_(grad)
        grad_x = torch.empty_like(y)
        threads = torch.get_num_threads()
        f32 = y.dtype == torch.float32
        library().act_backward(
            _ptr(grad), _ptr(y), _ptr(grad_x), f32, y.numel(), ctx.slope, threads
        )
        return grad_x, None


def _slope(act: nn.Module) -> float | None:
    if type(act) is nn.ReLU:
        return 0.0
    if type(act) is nn.LeakyReLU and 0.0 <= act.negative_slope <= 1.0:
        return float(act.negative_slope)
    return None


def batch_norm_act(norm: nn.Module, act: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``act(norm(x))`` by the fused operator, or None where it does not apply (also while
    torch.compile traces it: it fuses PyTorch's operators itself)."""
    if kernels.compiling():
        return None
    if type(norm) not in _NORMS or not norm.training or x.dtype not in DTYPES:
        return None
    slope = _slope(act)
    want_dim = 4 if isinstance(norm, nn.BatchNorm2d) else 2
    if slope is None or x.device.type != "cpu" or x.dim() != want_dim:
        return None
    if norm.weight is None or norm.momentum is None or x.shape[1] != norm.num_features:
        return None
    running = norm.running_mean
    if norm.weight.dtype != torch.float32 or (
        running is not None and running.dtype != torch.float32
    ):
        return None  # a BatchNorm cast to another dtype as a whole
    if library() is None:
        return None
    batches = getattr(norm, "batches", None) or (x.shape[0],)
    if sum(batches) != x.shape[0]:
        raise ValueError(f"BatchNorm: batches {batches} do not add up to {x.shape[0]} rows")
    if min(batches) * math.prod(x.shape[2:]) < 2:
        return None  # a batch with one value a channel: PyTorch's own error says so
    return _BatchNormAct.apply(x, norm.weight, norm.bias, norm, slope, tuple(batches))


def act(layer: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``layer(x)`` for a ReLU or LeakyReLU by the operator's own, or None where it does
    not apply (as in :func:`batch_norm_act`, also while torch.compile traces it)."""
    if kernels.compiling():
        return None
    slope = _slope(layer)
    if slope is None or x.dtype not in DTYPES or x.device.type != "cpu":
        return None
    if library() is None:
        return None
    return _Act.apply(x, slope)


class Sequential(nn.Sequential):
    """``nn.Sequential`` whose BatchNorm + ReLU/LeakyReLU pairs run as one operator where
    :func:`batch_norm_act` applies (the same modules, state and arithmetic in float32)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self._modules.values())
        i = 0
        while i < len(layers):
            if i + 1 < len(layers):
                fused = batch_norm_act(layers[i], layers[i + 1], x)
                if fused is not None:
                    x = fused
                    i += 2
                    continue
            fused = act(layers[i], x)
            x = layers[i](x) if fused is None else fused
            i += 1
        return x

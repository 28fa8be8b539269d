"""Each weight cast to autocast's dtype once for all the passes that use it, within a
training step (:class:`CastOnce`), and the layers that take their weights from it.

Autocast casts a layer's float32 weight afresh in every pass, and a step runs D three
times (D's phase, G's, and the measuring pass; each phase's batches share one pass) and G
twice: on 2 Xeon cores with AMX, start28's bf16 step spent 17% of its time in those casts
when D's batches still had a pass each, seven a step. Inside :class:`CastOnce`, a
layer's weight is cast on its first use and the copy reused until the step forgets it
(after the optimizer that owns it has stepped). Each pass still reaches the copy through
an autograd node of its own whose backward hands the weight a float32 gradient, as
autocast's own cast does, so the gradients are summed in float32 and the step's numbers
are bitwise those of autocast casting each time. Large casts go through
:func:`convert`, the same bits by a C kernel.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import nn

from infogan.models import kernels

#: csrc/convert.c's functions and their arguments (kernels.load)
SIGNATURES = {"to_bfloat16": "ppqi", "to_float32": "ppqi"}
#: smaller tensors are left to PyTorch (a kernel call costs more than it saves there)
KERNEL_MIN_NUMEL = 1 << 16


def convert(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t.to(dtype)``, the same bits, by csrc/convert.c for large dense float32 <->
    bfloat16 tensors on a CPU with AVX-512 (twice as fast as PyTorch's there:
    docs/speed.md)."""
    pair = (t.dtype, dtype)
    dense = t.is_contiguous() or (
        t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
    )
    if (
        pair not in ((torch.float32, torch.bfloat16), (torch.bfloat16, torch.float32))
        or t.device.type != "cpu"
        or t.numel() < KERNEL_MIN_NUMEL
        or not dense
    ):
        return t.to(dtype)
    lib = kernels.load("convert", SIGNATURES)
    if lib is None:
        return t.to(dtype)
    out = torch.empty_like(t, dtype=dtype)  # t's layout
    run = lib.to_bfloat16 if dtype == torch.bfloat16 else lib.to_float32
    run(t.data_ptr(), out.data_ptr(), t.numel(), torch.get_num_threads())
    return out


class _Reuse(torch.autograd.Function):
    """``copy`` (``weight`` cast) as a pass's input, with a backward of its own."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, copy: torch.Tensor) -> torch.Tensor:
        ctx.dtype = weight.dtype
        return copy.detach()  # an alias that keeps the copy's strides

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return convert(grad, ctx.dtype), None


#: the open :class:`CastOnce` of each thread (like autocast's own state, per thread)
_OPEN = threading.local()


class CastOnce:
    """A context inside which :func:`autocast_weight` casts each weight once. The owner
    of the weights says when they change: :meth:`forget` after an optimizer step."""

    def __init__(self) -> None:
        self.copies: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __enter__(self) -> CastOnce:
        if getattr(_OPEN, "cache", None) is not None:
            raise RuntimeError("CastOnce contexts do not nest")
        _OPEN.cache = self
        return self

    def __exit__(self, *exc) -> None:
        _OPEN.cache = None
        self.copies.clear()

    def forget(self, optimizer: torch.optim.Optimizer) -> None:
        """Drop the copies of ``optimizer``'s parameters (it has just changed them)."""
        for group in optimizer.param_groups:
            for p in group["params"]:
                self.copies.pop(id(p), None)

    def copy_of(self, weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        held = self.copies.get(id(weight))
        if held is None or held[0] is not weight or held[1].dtype != dtype:
            with torch.no_grad():
                held = (weight, convert(weight, dtype))
            self.copies[id(weight)] = held
        return held[1]


def autocast_weight(weight: torch.Tensor | None) -> torch.Tensor | None:
    """``weight`` as a layer passes it to its operator: under autocast and inside
    :class:`CastOnce`, the step's one cast copy; otherwise itself (autocast casts it)."""
    cache = getattr(_OPEN, "cache", None)
    if weight is None or cache is None or kernels.compiling():  # autocast casts, in its graph
        return weight
    device = weight.device.type
    if not torch.is_autocast_enabled(device) or not weight.is_floating_point():
        return weight
    dtype = torch.get_autocast_dtype(device)
    if weight.dtype == dtype:
        return weight
    copy = cache.copy_of(weight, dtype)
    if weight.requires_grad and torch.is_grad_enabled():
        return _Reuse.apply(weight, copy)
    return copy


class Linear(nn.Linear):
    """``nn.Linear`` whose weights come from :func:`autocast_weight`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, autocast_weight(self.weight), autocast_weight(self.bias))

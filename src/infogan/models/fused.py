"""BatchNorm and the ReLU or LeakyReLU after it as one CPU operator (bfloat16 or float32).

In a bf16 step on 2 Xeon cores with AMX, PyTorch 2.13's BatchNorm and activations took a
fifth of seed64's step: its CPU kernels round each bfloat16 result in several integer
instructions (they dispatch at AVX512, not AVX512-BF16) and make separate passes over
memory for the normalisation and the activation, forward and backward. ``bnact.c`` does
both in two passes each way, in float32 with the CPU's own bfloat16 conversion; in
float32 the passes it saves are all it gains (docs/speed.md).

:class:`Sequential` is ``nn.Sequential`` that hands each BatchNorm followed by a ReLU or
LeakyReLU to that operator where it applies (training mode, a CPU with AVX-512, the C
compiler found), and an activation with no BatchNorm before it to one of its own; the
modules, and so the checkpoints, are PyTorch's own. The kernels are compiled on first use
into ``~/.cache/infogan/kernels`` (``$XDG_CACHE_HOME`` if set), in a second; without a
compiler or AVX-512 the layers run one by one, as PyTorch's.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch
from torch import nn

from infogan.models.norm import BatchNorm1d, BatchNorm2d

SOURCE = Path(__file__).with_name("bnact.c")
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-fopenmp")

DTYPES = (torch.bfloat16, torch.float32)
#: BatchNorm classes the operator stands in for (not torchrun's GlobalBatchNorm)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, BatchNorm1d, BatchNorm2d)

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_unavailable: str | None = None  # why the kernel cannot be used, once known


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "infogan" / "kernels"


def _build(compiler: str) -> ctypes.CDLL:
    """Compile ``bnact.c`` for this CPU (once; the file name holds a digest of the
    source, the flags and the CPU's features) and load it."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(FLAGS).encode() + _cpu_flags().encode())
    target = _cache_dir() / f"bnact-{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # compile to a temporary name and rename: processes started together (torchrun)
        # never load a half-written library
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            subprocess.run(
                [compiler, *FLAGS, str(SOURCE), "-o", partial, "-lm"],
                check=True,
                capture_output=True,
                text=True,
            )
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    lib = ctypes.CDLL(str(target))
    pointer, i64, i32, f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_float
    lib.bnact_forward.restype = i32
    lib.bnact_forward.argtypes = [
        pointer,
        pointer,
        i32,
        i64,
        i64,
        pointer,
        i32,
        pointer,
        pointer,
        f32,
        f32,
        f32,
        pointer,
        pointer,
        pointer,
        pointer,
        i32,
    ]
    lib.bnact_backward.restype = i32
    lib.bnact_backward.argtypes = [
        pointer,
        pointer,
        pointer,
        pointer,
        i32,
        i64,
        i64,
        pointer,
        i32,
        pointer,
        pointer,
        pointer,
        f32,
        pointer,
        pointer,
        i32,
    ]
    lib.act_forward.argtypes = [pointer, pointer, i32, i64, f32, i32]
    lib.act_backward.argtypes = [pointer, pointer, pointer, i32, i64, f32, i32]
    lib.act_forward.restype = lib.act_backward.restype = None
    return lib


def library() -> ctypes.CDLL | None:
    """The compiled kernel, or None where it cannot be built here (the reason is warned
    about once and kept in :func:`unavailable_reason`)."""
    global _library, _unavailable
    if _library is not None or _unavailable is not None:
        return _library
    with _lock:
        if _library is None and _unavailable is None:
            if platform.machine() not in ("x86_64", "AMD64") or "avx512bw" not in _cpu_flags():
                _unavailable = "this CPU has no AVX-512"
            else:
                compiler = os.environ.get("CC", "cc")
                try:
                    _library = _build(compiler)
                except FileNotFoundError:
                    _unavailable = f"no C compiler ({compiler}) found"
                except (OSError, subprocess.CalledProcessError) as err:
                    detail = getattr(err, "stderr", "") or str(err)
                    _unavailable = f"compiling {SOURCE.name} failed: {detail.strip()[:200]}"
            if _unavailable is not None and "AVX-512" not in _unavailable:
                warnings.warn(
                    f"BatchNorm and activations run PyTorch's slower kernels: {_unavailable}",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return _library


def unavailable_reason() -> str | None:
    """Why the kernel is not used here (None if it is, or has not been asked for yet)."""
    return _unavailable


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
        per_sample = x[0].numel() // channels
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
    """``act(norm(x))`` by the fused operator, or None where it does not apply."""
    if type(norm) not in _NORMS or not norm.training or x.dtype not in DTYPES:
        return None
    slope = _slope(act)
    want_dim = 4 if isinstance(norm, nn.BatchNorm2d) else 2
    if slope is None or x.device.type != "cpu" or x.dim() != want_dim:
        return None
    if norm.weight is None or norm.momentum is None or x.shape[1] != norm.num_features:
        return None
    if norm.running_mean is not None and norm.running_mean.dtype != torch.float32:
        return None
    if library() is None:
        return None
    batches = getattr(norm, "batches", None) or (x.shape[0],)
    if sum(batches) != x.shape[0]:
        raise ValueError(f"BatchNorm: batches {batches} do not add up to {x.shape[0]} rows")
    return _BatchNormAct.apply(x, norm.weight, norm.bias, norm, slope, tuple(batches))


def act(layer: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``layer(x)`` for a ReLU or LeakyReLU by the operator's own, or None where it does
    not apply."""
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

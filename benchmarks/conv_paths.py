"""Each 4x4 stride-2 convolution of seed64 and paper28, each direction (forward, input
gradient, weight gradient), timed through PyTorch's convolution (oneDNN on a CPU) and
through the matrix products of ``infogan.models.conv``, in bfloat16 and float32.

It is the measurement behind ``conv.GEMM_POSITIONS``: the rule sends a direction
through a matrix product where that was faster. Both paths run in turn within one run,
best of ``--repeats``. Run it alone: other work on the machine distorts it.

    python benchmarks/conv_paths.py --json benchmarks/results/conv_paths_xeon_amx.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from infogan.models.conv import (
    PADDING,
    STRIDE,
    _from_rows,
    _rows,
    gemm_directions,
    overlap_add,
    windows,
)
from infogan.training.run import cpu_name

#: (transposed, input channels, output channels, input size, network)
LAYERS = [
    (False, 64, 128, 32, "seed64 D"),
    (False, 128, 256, 16, "seed64 D"),
    (False, 256, 512, 8, "seed64 D"),
    (True, 512, 256, 4, "seed64 G"),
    (True, 256, 128, 8, "seed64 G"),
    (True, 128, 64, 16, "seed64 G"),
    (True, 64, 1, 32, "seed64 G"),
    (False, 64, 128, 14, "paper28 D"),
    (True, 128, 64, 7, "paper28 G"),
]


def best_ms(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def directions(transposed: bool, x, w, grad):
    """{direction: (PyTorch's convolution, the matrix product)} as callables."""
    b, _, h, wd = x.shape
    flat = w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)

    def aten(mask):
        return lambda: torch.ops.aten.convolution_backward(
            grad, x, w, None, [STRIDE] * 2, [PADDING] * 2, [1, 1], transposed, [0, 0], 1, mask
        )

    if transposed:
        return {
            "forward": (
                lambda: F.conv_transpose2d(x, w, stride=STRIDE, padding=PADDING),
                lambda: overlap_add(_rows(x) @ flat, b, (h, wd), w.shape[1]),
            ),
            "input grad": (
                aten([True, False, False]),
                lambda: _from_rows(windows(grad, (h, wd)) @ flat.t(), b, (h, wd)),
            ),
            "weight grad": (
                aten([False, True, False]),
                lambda: _rows(x).t() @ windows(grad, (h, wd)),
            ),
        }
    out = (h // 2, wd // 2)
    return {
        "forward": (
            lambda: F.conv2d(x, w, stride=STRIDE, padding=PADDING),
            lambda: _from_rows(windows(x, out) @ flat.t(), b, out),
        ),
        "input grad": (
            aten([True, False, False]),
            lambda: overlap_add(_rows(grad) @ flat, b, out, x.shape[1]),
        ),
        "weight grad": (aten([False, True, False]), lambda: _rows(grad).t() @ windows(x, out)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", default="bfloat16,float32")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    print(f"{'layer':<30}{'dtype':<10}{'direction':<13}{'oneDNN ms':>10}{'matmul ms':>10}  rule")
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        for transposed, c_in, c_out, size, net in LAYERS:
            torch.manual_seed(0)
            cl = torch.channels_last
            x = torch.randn(args.batch, c_in, size, size, dtype=dtype).contiguous(memory_format=cl)
            shape = (c_in, c_out, 4, 4) if transposed else (c_out, c_in, 4, 4)
            w = (0.02 * torch.randn(shape)).to(dtype).contiguous(memory_format=cl)
            out_size = size * 2 if transposed else size // 2
            grad = torch.randn(args.batch, c_out, out_size, out_size, dtype=dtype)
            grad = grad.contiguous(memory_format=cl)
            small = min(size, out_size) ** 2
            rule_pass, rule_weight = gemm_directions(small, dtype, transposed)
            name = f"{net} {'convT' if transposed else 'conv'} {c_in}->{c_out} @{size}"
            for direction, (native, matmul) in directions(transposed, x, w, grad).items():
                native_ms = best_ms(native, args.repeats)
                matmul_ms = best_ms(matmul, args.repeats)
                rule = rule_weight if direction == "weight grad" else rule_pass
                rows.append(
                    {
                        "layer": name,
                        "dtype": dtype_name,
                        "direction": direction,
                        "onednn_ms": round(native_ms, 2),
                        "matmul_ms": round(matmul_ms, 2),
                        "rule_uses_matmul": rule,
                    }
                )
                print(
                    f"{name:<30}{dtype_name:<10}{direction:<13}{native_ms:>10.1f}"
                    f"{matmul_ms:>10.1f}  {'matmul' if rule else 'oneDNN'}",
                    flush=True,
                )
    if args.json:
        report = {
            "machine": f"{cpu_name()}, {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "batch": args.batch,
            "rows": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each 4x4 stride-2 convolution of seed64 and paper28, each direction (forward, input
gradient, weight gradient), timed through PyTorch's convolution (oneDNN on a CPU),
through the matrix products of ``infogan.models.conv``, in bfloat16 and float32, and in
float32 through Winograd's algorithm (``infogan.models.winograd``; a direction's time
holds the transforms it needs, the weight's in the forward's, the output gradient's in
both gradients').

It is the measurement behind ``conv.GEMM_POSITIONS``, ``conv.ONE_CHANNEL_SPREAD`` and
``conv.WINOGRAD_POSITIONS``: the rules send a direction where it was fastest. The paths
run in turn within one run, best of ``--repeats``. Then whole training steps of
``--presets`` in ``--step-precisions``, the rules on and off (oneDNN alone) in turn,
round by round: the median step of each and the speed-up. Run it alone: other work on
the machine distorts it.

    python benchmarks/conv_paths.py --json benchmarks/results/conv_paths_xeon_amx.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import check_output, positive_int, precision_names, preset_names, refused, write_json
from infogan.config import get_preset
from infogan.data import default_data_dir, fetch_mnist, load_mnist_arrays, to_training_tensor
from infogan.errors import InfoGANError
from infogan.models import conv, winograd
from infogan.models.conv import (
    PADDING,
    STRIDE,
    _from_rows,
    _rows,
    gemm_directions,
    overlap_add,
    windows,
    winograd_applies,
)
from infogan.training.build import build_training
from infogan.training.memory import keep_freed_memory
from infogan.training.provenance import cpu_name

#: (transposed, input channels, output channels, input size, network)
LAYERS = [
    (False, 1, 64, 64, "seed64 D"),
    (False, 64, 128, 32, "seed64 D"),
    (False, 128, 256, 16, "seed64 D"),
    (False, 256, 512, 8, "seed64 D"),
    (True, 512, 256, 4, "seed64 G"),
    (True, 256, 128, 8, "seed64 G"),
    (True, 128, 64, 16, "seed64 G"),
    (True, 64, 1, 32, "seed64 G"),
    (False, 1, 64, 28, "paper28 D"),
    (False, 64, 128, 14, "paper28 D"),
    (True, 128, 64, 7, "paper28 G"),
    (True, 64, 1, 14, "paper28 G"),
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


def winograd_directions(transposed: bool, x, w, grad) -> dict:
    """{direction: Winograd's way} as callables (float32)."""
    b, _, size, _ = x.shape
    w_points = winograd.weight_points(w)
    if transposed:  # the transpose of the convolution from grad's map to x's
        x_points = winograd.output_tiles_adjoint(x)
        return {
            "forward": lambda: winograd.conv_input_grad(
                winograd.output_tiles_adjoint(x), winograd.weight_points(w), b, 2 * size
            ),
            "input grad": lambda: winograd.conv(
                winograd.input_points(grad, size), w_points, b, size
            ),
            "weight grad": lambda: winograd.conv_weight_grad(
                winograd.input_points(grad, size), x_points, False
            ),
        }
    x_points = winograd.input_points(x, size // 2)
    return {
        "forward": lambda: winograd.conv(
            winograd.input_points(x, size // 2), winograd.weight_points(w), b, size // 2
        ),
        "input grad": lambda: winograd.conv_input_grad(
            winograd.output_tiles_adjoint(grad), w_points, b, size
        ),
        "weight grad": lambda: winograd.conv_weight_grad(
            x_points, winograd.output_tiles_adjoint(grad), False
        ),
    }


def step_speedup(preset: str, precision: str, digits, rounds: int, steps: int) -> dict:
    """Median step of ``preset`` in ``precision`` with the rules on and off (oneDNN
    alone), in turn."""
    config = get_preset(preset).with_train(precision=precision).validate()
    parts = build_training(config)
    batch = config.train.batch_size
    real = to_training_tensor(digits[:batch], config.data.image_size)
    real = real.contiguous(memory_format=torch.channels_last)
    draw = torch.Generator().manual_seed(0)
    rules = [conv.GEMM_POSITIONS, conv.ONE_CHANNEL_SPREAD, conv.WINOGRAD_POSITIONS]
    saved = [r.copy() for r in rules]
    times: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for r in range(rounds):
            for arm in ("on", "off") if r % 2 == 0 else ("off", "on"):
                for rule, on in zip(rules, saved, strict=True):
                    rule.clear()
                    rule.update(on if arm == "on" else ())
                parts.step_fn(real, parts.code.sample(batch, generator=draw))  # warm-up
                for _ in range(steps):
                    latent = parts.code.sample(batch, generator=draw)
                    start = time.perf_counter()
                    parts.step_fn(real, latent)
                    times[arm].append(time.perf_counter() - start)
    finally:
        for rule, on in zip(rules, saved, strict=True):
            rule.clear()
            rule.update(on)
    on, off = (statistics.median(times[arm]) for arm in ("on", "off"))
    return {
        "preset": preset,
        "precision": precision,
        "batch": batch,
        "seconds_per_step_rules": round(on, 4),
        "seconds_per_step_onednn_only": round(off, 4),
        "speedup": round(off / on, 3),
    }


DTYPES = ("bfloat16", "float32")


def dtype_names(text: str) -> list[str]:
    """An argparse type: comma-separated names of the dtypes timed."""
    names = text.split(",")
    for name in names:
        if name not in DTYPES:
            raise argparse.ArgumentTypeError(
                f"unknown dtype {name!r}; expected some of {', '.join(DTYPES)}"
            )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--batch", type=positive_int, default=128, help="images a layer's call (128)"
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=5, help="calls a path, the best kept (5)"
    )
    parser.add_argument(
        "--dtypes", type=dtype_names, default="bfloat16,float32", help="comma-separated"
    )
    parser.add_argument(
        "--presets",
        type=lambda text: preset_names(text) if text.strip(",") else [],
        default="seed64,tilt64,paper28,quick28",
        help="whose whole steps are timed, comma-separated ('': none)",
    )
    parser.add_argument(
        "--step-precisions",
        type=lambda text: precision_names(text) if text.strip(",") else [],
        default="bf16,fp32",
        help="of the whole steps, comma-separated ('': none)",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=4, help="of whole steps, each arm (4)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the record here")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    args = parser.parse_args(argv)
    check_output(parser, args.json)
    try:
        return run(args)
    except InfoGANError as exc:
        return refused("conv_paths.py", exc)


def run(args: argparse.Namespace) -> int:
    keep_freed_memory()  # as a training run has it: no page faults on reused outputs
    rows = []
    print(
        f"{'layer':<30}{'dtype':<10}{'direction':<13}{'oneDNN ms':>10}{'matmul ms':>10}"
        f"{'Winograd ms':>12}  rule"
    )
    for dtype_name in args.dtypes:
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
            one_channel = (c_out if transposed else c_in) == 1
            gemm = dict(zip(("forward", "input grad", "weight grad"), gemm_directions(
                small, dtype, transposed, one_channel
            ), strict=True))  # fmt: skip
            # Winograd's way is timed wherever it could run (its rule aside)
            timed = winograd.available(dtype) and not one_channel
            wino = winograd_directions(transposed, x, w, grad) if timed else {}
            takes = winograd_applies(small, dtype, one_channel)
            name = f"{net} {'convT' if transposed else 'conv'} {c_in}->{c_out} @{size}"
            for direction, (native, matmul) in directions(transposed, x, w, grad).items():
                native_ms = best_ms(native, args.repeats)
                matmul_ms = best_ms(matmul, args.repeats)
                wino_ms = best_ms(wino[direction], args.repeats) if timed else None
                rule = "winograd" if takes else "matmul" if gemm[direction] else "oneDNN"
                rows.append(
                    {
                        "layer": name,
                        "dtype": dtype_name,
                        "direction": direction,
                        "onednn_ms": round(native_ms, 2),
                        "matmul_ms": round(matmul_ms, 2),
                        "winograd_ms": None if wino_ms is None else round(wino_ms, 2),
                        "rule": rule,
                    }
                )
                shown = "-" if wino_ms is None else f"{wino_ms:.1f}"
                print(
                    f"{name:<30}{dtype_name:<10}{direction:<13}{native_ms:>10.1f}"
                    f"{matmul_ms:>10.1f}{shown:>12}  {rule}",
                    flush=True,
                )
    data_dir = args.data_dir or default_data_dir()
    fetch_mnist(data_dir)
    digits, _ = load_mnist_arrays(data_dir, "train")
    steps = []
    for precision in args.step_precisions:
        for preset in args.presets:
            steps.append(step_speedup(preset, precision, digits, args.rounds, steps=3))
            s = steps[-1]
            print(
                f"{preset} ({precision}, batch {s['batch']}): {s['seconds_per_step_rules']:.3f} "
                f"s a step with the rules, {s['seconds_per_step_onednn_only']:.3f} s with "
                f"oneDNN alone: {s['speedup']:.2f}x",
                flush=True,
            )
    if args.json:
        report = {
            "machine": f"{cpu_name()}, {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "batch": args.batch,
            "layers": rows,
            "steps": steps,
        }
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

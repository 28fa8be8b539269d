"""Seconds per training step of presets at their own batch size, in each precision.

The step is the one ``infogan train`` runs (both phases, the clustering term, the copies,
the measuring pass) on a fixed batch of real MNIST digits, timed after a warm-up; the
median of ``--steps`` steps is printed with the preset's projected training minutes
(its ``max_steps`` times the step; grids, checkpoints and reseed checks add a little).
Run it alone: other work on the machine distorts it. ``--profile N`` also times N more
steps operator by operator (every ATen operator's wall time, forward and backward, by
name, and the project's C kernels by function) and prints where their time went. On a
CPU these add up to nearly the whole step; on a GPU they would be launch times, as its
kernels run asynchronously.

    python benchmarks/step_time.py --presets quick28,tilt64 --precisions bf16,fp32 \\
        --json benchmarks/results/step_time_xeon_amx.json
    python benchmarks/step_time.py --presets seed64 --precisions bf16 --profile 3
"""

from __future__ import annotations

import argparse
import collections
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import (
    add_presets_and_precisions,
    check_output,
    non_negative_int,
    positive_int,
    refused,
    write_json,
)
from infogan.config import get_preset
from infogan.data import default_data_dir, fetch_mnist, load_mnist_arrays, to_training_tensor
from infogan.errors import InfoGANError
from infogan.models import kernels
from infogan.training.build import build_training
from infogan.training.provenance import cpu_name


class OperatorTimer(TorchDispatchMode):
    """Wall time of every ATen operator called inside it, forward and backward, by
    operator name, and of every call of the project's C kernels (``csrc/FILE:function``).
    On a CPU an operator's work is done when its call returns, so the times add up to the
    step (less Python and autograd's bookkeeping); PyTorch's own profiler, tried first,
    inflated some of seed64's matrix products fourfold."""

    def __init__(self):
        super().__init__()
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)
        self._kernels: list[tuple[object, str, object]] = []

    def _timed(self, function, name: str):
        def call(*args):
            start = time.perf_counter()
            out = function(*args)
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1
            return out

        return call

    def __enter__(self):
        for file, (lib, functions) in kernels.loaded().items():
            for function in functions:
                original = getattr(lib, function)
                self._kernels.append((lib, function, original))
                setattr(lib, function, self._timed(original, f"csrc/{file}.c:{function}"))
        return super().__enter__()

    def __exit__(self, *exc):
        for lib, function, original in self._kernels:
            setattr(lib, function, original)
        self._kernels.clear()
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        start = time.perf_counter()
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__  # e.g. "convolution_backward"
        self.seconds[name] += time.perf_counter() - start
        self.calls[name] += 1
        return out

    def rows(self, steps: int) -> list[dict]:
        """Per operator: ms and calls a step, longest first."""
        rows = [
            {
                "operator": name,
                "ms_per_step": 1000 * s / steps,
                "calls_per_step": self.calls[name] / steps,
            }
            for name, s in self.seconds.items()
        ]
        return sorted(rows, key=lambda op: -op["ms_per_step"])


class FixedBatch:
    """A preset's step as ``infogan train`` builds it, on the first ``batch_size`` digits,
    with codes drawn from a seeded generator."""

    def __init__(self, preset: str, precision: str, digits):
        config = get_preset(preset).with_train(precision=precision).validate()
        self.parts = build_training(config)
        self.batch = config.train.batch_size
        self.real = to_training_tensor(digits[: self.batch], config.data.image_size)
        if config.train.channels_last:
            self.real = self.real.contiguous(memory_format=torch.channels_last)
        self.draw = torch.Generator().manual_seed(0)

    def step(self) -> None:
        self.parts.step_fn(self.real, self.parts.code.sample(self.batch, generator=self.draw))

    def time(self, steps: int, warmup: int) -> tuple[list[float], float]:
        """Seconds of each of ``steps`` steps after ``warmup`` more, and the page faults
        a timed step took on average."""
        times, faults = [], 0
        for i in range(warmup + steps):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            self.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
                faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        return times, faults / steps


def step_seconds(
    preset: str, precision: str, steps: int, warmup: int, digits, profile: int = 0
) -> tuple[float, list[dict]]:
    """The median seconds of a step, and (``profile`` > 0) the operators' self times over
    ``profile`` more steps, longest first."""
    fixed = FixedBatch(preset, precision, digits)
    times, _faults = fixed.time(steps, warmup)
    operators = []
    if profile:
        timer = OperatorTimer()
        with timer:
            for _ in range(profile):
                fixed.step()
        operators = timer.rows(profile)
    return statistics.median(times), operators


def write_report(path: Path, rows: list[dict], **fields) -> None:
    """``rows`` as JSON, with the machine, torch and ``fields`` (the run's settings);
    InfoGANError if it cannot be written."""
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        **fields,
        "rows": rows,
    }
    write_json(path, report)
    print(f"wrote {path}")


def print_operators(operators: list[dict], top: int) -> None:
    total = sum(op["ms_per_step"] for op in operators)
    print(f"  {'operator':42s} {'ms/step':>9s} {'share':>6s} {'calls':>6s}")
    for op in operators[:top]:
        print(
            f"  {op['operator'][:42]:42s} {op['ms_per_step']:9.1f} "
            f"{op['ms_per_step'] / total:6.1%} {op['calls_per_step']:6.0f}"
        )
    print(f"  {'all operators (profiled step)':42s} {total:9.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_presets_and_precisions(parser, "quick28,tilt64")
    parser.add_argument("--steps", type=positive_int, default=10, help="steps timed (10)")
    parser.add_argument(
        "--warmup", type=non_negative_int, default=4, help="steps before timing (4)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the record here")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    parser.add_argument(
        "--profile",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="profile N more steps by operator",
    )
    parser.add_argument(
        "--top", type=positive_int, default=15, help="operators printed per profile"
    )
    args = parser.parse_args(argv)
    check_output(parser, args.json)
    try:
        return run(args)
    except InfoGANError as exc:
        return refused("step_time.py", exc)


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    fetch_mnist(data_dir)
    digits, _ = load_mnist_arrays(data_dir, "train")
    rows = []
    for preset in args.presets:
        for precision in args.precisions:
            seconds, operators = step_seconds(
                preset, precision, args.steps, args.warmup, digits, args.profile
            )
            steps = get_preset(preset).train.max_steps
            minutes = seconds * steps / 60 if steps else None
            row = {
                "preset": preset,
                "precision": precision,
                "seconds_per_step": round(seconds, 4),
                "max_steps": steps,
                "projected_training_minutes": minutes and round(minutes, 2),
            }
            print(
                f"{preset:10s} {precision:5s} {seconds:.3f} s a step"
                + (f"; {steps:,} steps: {minutes:.1f} min (projected)" if steps else "")
            )
            if operators:
                print_operators(operators, args.top)
                row["operators"] = [
                    {**op, "ms_per_step": round(op["ms_per_step"], 3)} for op in operators
                ]
            rows.append(row)
    if args.json:
        write_report(args.json, rows, steps=args.steps, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())

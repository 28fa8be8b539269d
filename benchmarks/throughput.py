"""Training throughput: the project's trainer against a textbook loop, interleaved in one run.

For each preset it times training steps (after warm-up) of

  (a) the project's trainer exactly as ``infogan train`` runs it (``train_loop`` over the
      in-memory tensor with ``InfoGANStep``), and
  (b) the textbook loop of ``reference_loop.py`` (the same networks with PyTorch's own
      layers, PIL resize per image through a DataLoader, fp32 NCHW, ``.item()`` per
      value per step), in a process of its own
      with the same threads (it keeps glibc malloc's defaults; the trainer's process
      keeps the memory its steps free, as ``infogan train`` does),

alternating between them round by round (one waits while the other runs), so that a
noisy, shared machine slows both alike. It also measures the machine's fp32
matrix-multiply peak in the same run and counts the model FLOPs of one step, to report
the trainer's share of that peak. The trainer runs at the preset's precision, ``auto``:
on a CPU with native bfloat16 (AVX-512 BF16 or AMX) that is bf16 autocast, and the bf16
matrix-multiply peak is measured and reported beside the fp32 one.

    python benchmarks/throughput.py            # full
    python benchmarks/throughput.py --quick    # under 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import check_output, positive_int, preset_names, refused, write_json
from infogan.config import PRECISIONS, PRESETS, get_preset
from infogan.data import fetch_mnist, load_mnist_arrays, to_training_tensor
from infogan.errors import InfoGANError
from infogan.models import ARCHITECTURES, build_models, conv
from infogan.training.build import build_training, resolve_precision
from infogan.training.loop import LoopState, train_loop
from infogan.training.provenance import cpu_name
from reference_loop import ReferenceStep, make_loader, sample_codes, textbook_layers


def matmul_peak_gflops(n: int = 2048, repeats: int = 5, dtype=torch.float32) -> float:
    """Best observed GEMM rate (GFLOP/s) of this machine in ``dtype``, with the current
    threads."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


class ProjectTrainer:
    """The trainer as `infogan train` builds it, stepping K iterations at a time."""

    def __init__(self, config, images: torch.Tensor):
        t = config.train
        fmt = torch.channels_last if t.channels_last else torch.contiguous_format
        self.images = images.contiguous(memory_format=fmt)
        parts = build_training(config)
        self.code, self.step_fn = parts.code, parts.step_fn
        self.rng = torch.Generator().manual_seed(t.seed)
        self.state = LoopState()
        self.config = config

    def run(self, steps: int) -> float:
        """Run ``steps`` steps; their seconds."""
        t = self.config.train
        start = time.perf_counter()
        train_loop(
            step_fn=self.step_fn,
            images=self.images,
            code=self.code,
            batch_size=t.batch_size,
            epochs=10**6,
            max_steps=self.state.step + steps,
            rng=self.rng,
            log_every=t.log_every,
            state=self.state,
            progress=False,
        )
        return time.perf_counter() - start

    def flops_per_step(self) -> int:
        """The step's arithmetic as direct convolutions and products do it. Winograd's
        algorithm does 2.56 times fewer products in the float32 layers it takes (models/
        winograd.py); counted as it runs, a faster step would seem to do less work. So the
        GFLOP/s printed are effective ones where it runs, and may pass the peak."""
        real = self.images[: self.config.train.batch_size]
        latent = self.code.sample(self.config.train.batch_size, generator=self.rng)
        winograd = dict(conv.WINOGRAD_POSITIONS)
        conv.WINOGRAD_POSITIONS.clear()
        try:
            with FlopCounterMode(display=False) as counter:
                self.step_fn(real, latent)
        finally:
            conv.WINOGRAD_POSITIONS.update(winograd)
        return counter.get_total_flops()


class ReferenceTrainer:
    def __init__(self, config, digits):
        t, lat = config.train, config.latent
        torch.manual_seed(t.seed)
        g, d = build_models(config)
        self.step_fn = ReferenceStep(
            textbook_layers(g),
            textbook_layers(d),
            num_categories=lat.num_categories,
            lr_g=t.lr_g,
            lr_d=t.lr_d,
            lambda_cat=t.lambda_cat,
            lambda_cont=t.lambda_cont,
        )
        _builder, size = ARCHITECTURES[config.model.arch]
        self.loader = make_loader(digits, size, t.batch_size, seed=t.seed)
        self.batches = iter(self.loader)
        self.lat = lat

    def run(self, steps: int) -> float:
        """Run ``steps`` steps; their seconds."""
        lat = self.lat
        start = time.perf_counter()
        for _ in range(steps):
            try:
                real = next(self.batches)
            except StopIteration:
                self.batches = iter(self.loader)
                real = next(self.batches)
            codes = sample_codes(
                real.shape[0], lat.noise_dim, lat.num_categories, lat.num_continuous
            )
            self.step_fn(real, *codes)
        return time.perf_counter() - start


class ReferenceProcess:
    """The textbook loop in a Python process of its own, started with the same threads:
    a textbook script runs with glibc malloc's defaults, while the trainer's process keeps
    the memory its steps free (``infogan.training.memory``), a setting glibc cannot take
    back once made. It warms up, then runs and times steps when told."""

    def __init__(self, preset: str, data_dir: Path | None, warmup: int):
        command = [sys.executable, __file__, "--reference-worker", preset]
        command += ["--threads", str(torch.get_num_threads()), "--steps", str(warmup)]
        command += ["--data-dir", str(data_dir)] if data_dir else []
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._reply()  # the warm-up's

    def _reply(self) -> float:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference loop's process ended (exit {self.proc.wait()})")
        return float(line)

    def run(self, steps: int) -> float:
        self.proc.stdin.write(f"{steps}\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def reference_worker(args: argparse.Namespace) -> int:
    """The other end of :class:`ReferenceProcess`: warm up, then for each step count read
    from stdin, run that many steps and print their seconds."""
    torch.set_num_threads(args.threads)
    config = get_preset(args.reference_worker)
    digits, _labels = load_mnist_arrays(fetch_mnist(args.data_dir), "train")
    trainer = ReferenceTrainer(config, digits)
    print(trainer.run(args.steps or 1), flush=True)
    for line in sys.stdin:
        print(trainer.run(int(line)), flush=True)
    return 0


def bench_preset(
    name: str,
    digits,
    *,
    rounds: int,
    steps: int,
    warmup: int,
    precision: str | None = None,
    data_dir: Path | None = None,
) -> dict:
    config = get_preset(name)
    if precision is not None:
        config = config.with_train(precision=precision)
    _builder, size = ARCHITECTURES[config.model.arch]
    batch = config.train.batch_size
    images = to_training_tensor(digits, size)
    project = ProjectTrainer(config, images)
    project.run(warmup)
    reference = ReferenceProcess(name, data_dir, warmup)
    flops = project.flops_per_step()
    times = {"project": 0.0, "reference": 0.0}
    precision = resolve_precision(config.train.precision, torch.device("cpu"))
    peaks, bf16_peaks = [], []
    for r in range(rounds):
        peaks.append(matmul_peak_gflops())
        if precision == "bf16":
            bf16_peaks.append(matmul_peak_gflops(dtype=torch.bfloat16))
        order = [("project", project), ("reference", reference)]
        for label, trainer in order if r % 2 == 0 else order[::-1]:
            times[label] += trainer.run(steps)
        print(
            f"  {name} round {r + 1}/{rounds}: project {times['project']:.1f}s, "
            f"reference {times['reference']:.1f}s so far",
            file=sys.stderr,
        )
    reference.close()
    n = rounds * steps
    project_ips = n * batch / times["project"]
    reference_ips = n * batch / times["reference"]
    peak = max(peaks)
    achieved = flops * n / times["project"] / 1e9
    extra = {}
    if bf16_peaks:  # the peak of the arithmetic the trainer's matrix products use
        extra = {
            "matmul_peak_bf16_gflops": round(max(bf16_peaks), 1),
            "fraction_of_bf16_peak": round(achieved / max(bf16_peaks), 3),
        }
    return {
        "preset": name,
        "project_precision": precision,
        "batch_size": batch,
        "steps_timed": n,
        "project_images_per_s": round(project_ips, 1),
        "reference_images_per_s": round(reference_ips, 1),
        "ratio": round(project_ips / reference_ips, 3),
        "model_gflop_per_step": round(flops / 1e9, 2),
        "achieved_gflops": round(achieved, 1),
        "matmul_peak_gflops": round(peak, 1),
        "fraction_of_peak": round(achieved / peak, 3),
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds of 3 steps (5 of 8), 1 warm-up step (3)"
    )
    default_presets = ",".join(p for p in PRESETS if p == "seed64" or p.startswith("paper"))
    parser.add_argument(
        "--presets",
        type=preset_names,
        default=default_presets,
        help=f"comma-separated presets ({default_presets})",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="the trainer's precision (default: the preset's, auto)",
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=None, help="rounds of each side (5; --quick 3)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=None, help="steps per round and side (8; --quick 3)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("benchmarks/results/throughput.json"),
        help="the record (benchmarks/results/throughput.json)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    # the reference loop's own process (ReferenceProcess starts it)
    parser.add_argument("--reference-worker", metavar="PRESET", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_worker:
        return reference_worker(args)
    check_output(parser, args.json)
    rounds = args.rounds or (3 if args.quick else 5)
    steps = args.steps or (3 if args.quick else 8)
    warmup = 1 if args.quick else 3

    try:
        digits, _labels = load_mnist_arrays(fetch_mnist(args.data_dir), "train")
        results = []
        for name in args.presets:
            results.append(
                bench_preset(
                    name,
                    digits,
                    rounds=rounds,
                    steps=steps,
                    warmup=warmup,
                    precision=args.precision,
                    data_dir=args.data_dir,
                )
            )
        report = {
            "machine": f"{cpu_name()}, {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "quick": args.quick,
            "results": results,
        }
        write_json(args.json, report)
    except InfoGANError as exc:
        return refused("throughput.py", exc)
    print(
        f"{'preset':<10}{'precision':>10}{'project img/s':>15}{'reference img/s':>17}"
        f"{'ratio':>8}{'GFLOP/s':>10}{'peak':>8}"
    )
    for r in results:
        print(
            f"{r['preset']:<10}{r['project_precision']:>10}{r['project_images_per_s']:>15.1f}"
            f"{r['reference_images_per_s']:>17.1f}{r['ratio']:>8.2f}"
            f"{r['achieved_gflops']:>10.1f}{r['matmul_peak_gflops']:>8.1f}"
        )
    for r in results:
        bf16 = ""
        if "fraction_of_bf16_peak" in r:
            bf16 = f" (bf16 autocast; {100 * r['fraction_of_bf16_peak']:.0f}% of the bf16 peak)"
        print(
            f"{r['preset']}: {r['ratio']:.2f}x the reference loop, "
            f"{100 * r['fraction_of_peak']:.0f}% of matmul peak{bf16}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

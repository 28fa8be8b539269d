"""Training steps per second on a GPU: the eager step against the step captured as a CUDA
graph (and torch.compile), in fp32 and bf16 autocast, side by side.

The trainer runs exactly as ``infogan train`` builds it (``build_training`` and
``train_loop``), with the training set resident on the GPU. Each variant warms up
(capture or compilation included, and timed separately), then is timed over whole steps
with the GPU synchronised at both ends. Variants run in turn, round by round, so a change
of clock or a neighbour slows them alike. It prints images/s per variant, the speed-up
over eager fp32, the projected time of the preset's full run, and whether each graph
variant's step really ran as a graph (the trainer checks its first captured step against
the eager step and falls back to eager if they disagree; the JSON keeps what it said).

    python benchmarks/gpu_speed.py --presets seed64,paper28
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from infogan.config import get_preset
from infogan.data import fetch_mnist, load_mnist_arrays, to_training_tensor
from infogan.models import ARCHITECTURES
from infogan.training.build import build_training
from infogan.training.loop import LoopState, train_loop

VARIANTS = {
    "fp32": {"precision": "fp32", "cuda_graph": False},
    "fp32+graph": {"precision": "fp32", "cuda_graph": True},
    "bf16": {"precision": "bf16", "cuda_graph": False},
    "bf16+graph": {"precision": "bf16", "cuda_graph": True},
    "fp32+compile": {"precision": "fp32", "compile": True},
    "bf16+compile": {"precision": "bf16", "compile": True},
}
DEFAULT_VARIANTS = "fp32,fp32+graph,bf16,bf16+graph"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Variant:
    def __init__(self, config, images: torch.Tensor, device: torch.device):
        self.config = config
        self.images = images
        self.said: list[str] = []
        parts = build_training(config, device, log=self.said.append)
        self.code, self.step_fn = parts.code, parts.step_fn
        self.rng = torch.Generator(device=device).manual_seed(config.train.seed)
        self.state = LoopState()

    def run(self, steps: int) -> float:
        """Seconds for ``steps`` more steps, the GPU synchronised before and after."""
        _sync(self.images.device)
        start = time.perf_counter()
        train_loop(
            step_fn=self.step_fn,
            images=self.images,
            code=self.code,
            batch_size=self.config.train.batch_size,
            epochs=10**6,
            max_steps=self.state.step + steps,
            rng=self.rng,
            log_every=self.config.train.log_every,
            state=self.state,
            progress=False,
        )
        _sync(self.images.device)
        return time.perf_counter() - start


def bench(name: str, digits, device, *, variants, rounds: int, steps: int, warmup: int) -> dict:
    base = get_preset(name).with_train(device=str(device))
    size = ARCHITECTURES[base.model.arch][1]
    fmt = torch.channels_last if base.train.channels_last else torch.contiguous_format
    images = to_training_tensor(digits, size).to(device).contiguous(memory_format=fmt)
    runners, warm = {}, {}
    for label in variants:
        runners[label] = Variant(base.with_train(**VARIANTS[label]), images, device)
        warm[label] = runners[label].run(warmup)
        print(f"  {name} {label}: warm-up {warm[label]:.1f}s", file=sys.stderr)
    seconds = dict.fromkeys(variants, 0.0)
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(variants)[::-1]
        for label in order:
            seconds[label] += runners[label].run(steps)
    batch = base.train.batch_size
    steps_full = base.train.epochs * (len(digits) // batch)
    out = {"preset": name, "batch_size": batch, "steps_timed": rounds * steps, "variants": {}}
    ips_of = {label: rounds * steps * batch / seconds[label] for label in variants}
    fp32_ips = ips_of["fp32" if "fp32" in variants else variants[0]]
    for label in variants:
        ips = ips_of[label]
        out["variants"][label] = {
            "images_per_s": round(ips, 1),
            "ms_per_step": round(1000 * seconds[label] / (rounds * steps), 2),
            "speedup_vs_fp32": round(ips / fp32_ips, 2),
            "warmup_s": round(warm[label], 1),
            "full_run_minutes": round(steps_full * batch / ips / 60, 1),
            "step": runners[label].step_fn.mode,
            "trainer_said": runners[label].said,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="seed64,paper28")
    parser.add_argument(
        "--variants", default=DEFAULT_VARIANTS, help=f"some of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="steps per round and variant")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/gpu_speed.json"))
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N (cpu: to try the script)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_speed.py: error: no CUDA device here", file=sys.stderr)
        return 1
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; expected some of {', '.join(VARIANTS)}")
    device = torch.device(args.device)
    digits, _labels = load_mnist_arrays(fetch_mnist(args.data_dir), "train")
    results = [
        bench(
            name,
            digits,
            device,
            variants=variants,
            rounds=args.rounds,
            steps=args.steps,
            warmup=args.warmup,
        )
        for name in args.presets.split(",")
    ]
    report = {
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['gpu']}, torch {report['torch']}")
    print(
        f"{'preset':<9}{'variant':<14}{'img/s':>10}{'ms/step':>9}{'x fp32':>8}{'full run':>10}"
        f"  step"
    )
    for r in results:
        for label, v in r["variants"].items():
            print(
                f"{r['preset']:<9}{label:<14}{v['images_per_s']:>10.0f}{v['ms_per_step']:>9.2f}"
                f"{v['speedup_vs_fp32']:>8.2f}{v['full_run_minutes']:>9.1f}m  {v['step']}"
            )
            for line in v["trainer_said"]:
                print(f"{'':<23}{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

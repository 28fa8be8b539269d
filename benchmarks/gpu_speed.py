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
import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import check_output, non_negative_int, positive_int, preset_names, refused, write_json
from infogan.config import get_preset
from infogan.data import fetch_mnist, load_mnist_arrays, to_training_tensor
from infogan.errors import InfoGANError
from infogan.models import ARCHITECTURES
from infogan.training.build import build_training
from infogan.training.loop import LoopState, train_loop
from infogan.training.provenance import hardware

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
            "precision": VARIANTS[label]["precision"],
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--presets", type=preset_names, default="seed64,paper28", help="comma-separated"
    )
    parser.add_argument(
        "--variants", default=DEFAULT_VARIANTS, help=f"some of {', '.join(VARIANTS)}"
    )
    parser.add_argument("--rounds", type=positive_int, default=3, help="rounds of variants (3)")
    parser.add_argument(
        "--steps", type=positive_int, default=100, help="steps per round and variant (100)"
    )
    parser.add_argument(
        "--warmup", type=non_negative_int, default=30, help="steps before timing a variant (30)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("benchmarks/results/gpu_speed.json"),
        help="the record (benchmarks/results/gpu_speed.json)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N (cpu: to try the script)")
    args = parser.parse_args(argv)
    if args.device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", args.device):
        parser.error(f"unknown device {args.device!r}; expected cuda, cuda:N or cpu")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_speed.py: error: no CUDA device here", file=sys.stderr)
        return 1
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; expected some of {', '.join(VARIANTS)}")
    check_output(parser, args.json)
    device = torch.device(args.device)
    try:
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
            for name in args.presets
        ]
        report = {
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "machine": hardware(device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "results": results,
        }
        write_json(args.json, report)
    except InfoGANError as exc:
        return refused("gpu_speed.py", exc)
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

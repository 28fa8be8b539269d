"""Quality over seeds: train N seeds of a preset at a fixed budget and measure each.

For every seed it trains the preset (``infogan train`` exactly, into OUT/seed-N) while a
probe reads Q's categorical code on held-out real digits every ``--eval-every`` steps,
which gives the time to reach ``--target`` accuracy. At the end of each run it measures

* the unsupervised accuracy of Q's categorical code (Hungarian-matched to the labels),
* with ``--split test``: every group of ``infogan eval`` (generated-category accuracy,
  Fréchet distance, ...), written to the run's eval.json,
* the Spearman correlation of each continuous code with rotation and stroke width,

then prints one line per seed and the median and worst over seeds, and writes JSON.

``--split val`` holds the last ``--holdout`` training digits out of training and
measures on them: that is the split to choose settings on. ``--split test`` trains on
all 60,000 digits and reports on the 10,000 test digits.

    python benchmarks/quality.py --preset paper28 --seeds 3 --split test
    python benchmarks/quality.py --merge a/quality.json b/quality.json --json all.json
    python benchmarks/quality.py --preset paper28 --seeds 1 --split val \\
        --set train.lambda_cluster=1 --max-steps 2000
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import check_output, non_negative_int, positive_int, refused, write_json
from infogan.api import load_model
from infogan.config import RunConfig, get_preset, parse_setting
from infogan.data import default_data_dir, fetch_dataset, load_idx_arrays, to_training_tensor
from infogan.errors import InfoGANError
from infogan.evaluate import metrics
from infogan.evaluate.evaluation import (
    continuous_code_report,
    evaluate,
    labelled_dataset,
    write_eval_json,
)
from infogan.evaluate.sampling import sweep_code
from infogan.training.build import TrainingParts, resolve_device, resolve_precision
from infogan.training.loop import TrainingInterrupted
from infogan.training.provenance import hardware
from infogan.training.run import train


def apply_settings(config: RunConfig, settings: list[str]) -> RunConfig:
    """``section.field=value`` overrides, as ``infogan train --set`` reads them."""
    return config.with_settings(dict(parse_setting(item) for item in settings))


class AccuracyProbe:
    """Every ``every`` steps, Q's Hungarian-matched accuracy on labelled real images."""

    def __init__(
        self,
        parts: TrainingParts,
        images: torch.Tensor,
        labels: np.ndarray,
        every: int,
        log=None,
    ):
        self.discriminator = parts.discriminator
        self.log = log or (lambda _msg: None)
        self.num_codes = parts.code.config.num_categories
        device = next(self.discriminator.parameters()).device
        self.images = images.to(device)
        self.labels = labels
        self.every = every
        self.started = time.perf_counter()
        self.probe_seconds = 0.0
        self.curve: list[dict[str, float]] = []  # step, training minutes, accuracy

    def accuracy(self) -> float:
        D = self.discriminator
        was_training = D.training
        D.eval()
        try:
            with torch.no_grad():
                codes = torch.cat(
                    [
                        D(self.images[i : i + 1000])[1].argmax(1)
                        for i in range(0, len(self.images), 1000)
                    ]
                )
        finally:
            D.train(was_training)
        acc, _mapping, _conf = metrics.hungarian_accuracy(
            codes.cpu().numpy(), self.labels, num_codes=self.num_codes, num_labels=10
        )
        return acc

    def measure(self, step: int) -> None:
        if self.discriminator.training and torch.cuda.is_available():
            torch.cuda.synchronize()
        begun = time.perf_counter()
        minutes = (begun - self.started - self.probe_seconds) / 60
        acc = self.accuracy()
        self.curve.append({"step": step, "minutes": round(minutes, 3), "accuracy": round(acc, 4)})
        self.log(f"step {step}: accuracy {acc:.4f} after {minutes:.1f} min")
        self.probe_seconds += time.perf_counter() - begun

    def on_metrics(self, rows) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        if step % self.every == 0:
            self.measure(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        if not self.curve or self.curve[-1]["step"] != step:
            self.measure(step)

    def first_reaching(self, target: float) -> dict[str, float] | None:
        return next((point for point in self.curve if point["accuracy"] >= target), None)


def held_out(config: RunConfig, split: str, data_dir: Path) -> tuple[torch.Tensor, np.ndarray]:
    """The labelled real images a seed is measured on, at the model's resolution."""
    dataset = labelled_dataset(config.data.dataset)
    fetch_dataset(dataset, data_dir)
    if split == "val":
        images, labels = load_idx_arrays(dataset, data_dir, "train")
        images, labels = images[-config.data.holdout :], labels[-config.data.holdout :]
    else:
        images, labels = load_idx_arrays(dataset, data_dir, "test")
    return to_training_tensor(images, config.data.image_size), labels


def code_correlations(run_dir: Path, device: str) -> dict[str, dict[str, float]]:
    """Spearman rho of each continuous code with rotation and width (generated digits only)."""
    model = load_model(run_dir, device=device)
    out = {}
    for which in range(model.config.latent.num_continuous):
        sweep = sweep_code(model, which, draws=100, values=9, seed=1 + which, progress=False)
        report = continuous_code_report(sweep.images, sweep.values)
        out[f"c{which + 1}"] = {k: round(v, 3) for k, v in report["spearman"].items()}
    return out


def run_seed(config: RunConfig, args, seed: int, images, labels) -> dict[str, Any] | None:
    """Train and measure one seed; None if it was stopped before its first measurement."""
    config = config.with_train(seed=seed)
    run_dir = args.out / f"seed-{seed}"
    probe: list[AccuracyProbe] = []

    def make_probe(parts: TrainingParts) -> AccuracyProbe:
        probe.append(AccuracyProbe(parts, images, labels, args.eval_every, log=log))
        return probe[0]

    def log(msg: str) -> None:
        print(f"[seed {seed}] {msg}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    interrupted = False
    try:
        train(
            config,
            run_dir,
            data_dir=args.data_dir,
            overwrite=True,
            progress=not args.no_progress,
            log=log,
            probes=[make_probe],
        )
    except TrainingInterrupted:  # stopped early (Ctrl-C, or a sweep's deadline): keep the curve
        interrupted = True
    wall = time.perf_counter() - started
    if not probe[0].curve:  # stopped before its first measurement: nothing to report
        return None
    with DeferredInterrupt() as deferred:  # a Ctrl-C now stops after this seed's measurements
        result = measure_seed(run_dir, args, seed, probe[0], wall, interrupted)
    result["stop"] = interrupted or deferred.requested
    return result


class DeferredInterrupt:
    """Hold SIGINT back until the block ends; ``requested`` says whether one came."""

    def __init__(self) -> None:
        self.requested = False

    def __enter__(self) -> DeferredInterrupt:
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum, _frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.previous)


def measure_seed(
    run_dir: Path, args, seed: int, probe: AccuracyProbe, wall: float, interrupted: bool
) -> dict[str, Any]:
    curve = probe.curve
    reached = probe.first_reaching(args.target)
    run_json = run_dir / "run.json"
    run = json.loads(run_json.read_text()) if run_json.is_file() and not interrupted else {}
    result: dict[str, Any] = {
        "seed": seed,
        "steps": run.get("steps", curve[-1]["step"]),
        "interrupted": interrupted,
        "train_minutes": round((wall - probe.probe_seconds) / 60, 2),
        "images_per_second": run.get("images_per_second"),
        "unsupervised_accuracy": curve[-1]["accuracy"],
        "reached_target": reached,
        "curve": curve,
        "codes": code_correlations(run_dir, args.device_eval),
    }
    if args.split == "test" and not args.no_full_eval:
        model = load_model(run_dir, device=args.device_eval)
        full = evaluate(model, data_dir=args.data_dir, progress=False)
        write_eval_json(full, run_dir / "eval.json")
        result["unsupervised_accuracy"] = full["unsupervised_accuracy"]
        result["generated_accuracy"] = full["generated_accuracy"]
        result["frechet_distance"] = full["frechet_distance"]
    return result


def seed_line(r: dict[str, Any]) -> str:
    codes = "  ".join(
        f"{name}: rot {c['rotation']:+.2f} width {c['width']:+.2f}"
        for name, c in r["codes"].items()
    )
    extra = ""
    if "generated_accuracy" in r:
        extra = f"  gen-acc {r['generated_accuracy']:.3f}  FD {r['frechet_distance']:.2f}"
    reached = r["reached_target"]
    when = f"step {reached['step']} ({reached['minutes']:.1f} min)" if reached else "not reached"
    return (
        f"seed {r['seed']}: acc {r['unsupervised_accuracy']:.4f}{extra}  {codes}  "
        f"target at {when}  [{r['steps']} steps, {r['train_minutes']:.1f} min]"
    )


def best_code(results: list[dict[str, Any]], factor: str) -> list[float]:
    """Per seed, the largest |rho| of any continuous code with ``factor``."""
    return [max(abs(c[factor]) for c in r["codes"].values()) for r in results]


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    acc = [r["unsupervised_accuracy"] for r in results]
    out: dict[str, Any] = {
        "unsupervised_accuracy": {"median": statistics.median(acc), "worst": min(acc)},
        "rotation_rho": {
            "median": statistics.median(best_code(results, "rotation")),
            "worst": min(best_code(results, "rotation")),
        },
        "width_rho": {
            "median": statistics.median(best_code(results, "width")),
            "worst": min(best_code(results, "width")),
        },
    }
    if all("generated_accuracy" in r for r in results):
        gen = [r["generated_accuracy"] for r in results]
        fd = [r["frechet_distance"] for r in results]
        out["generated_accuracy"] = {"median": statistics.median(gen), "worst": min(gen)}
        out["frechet_distance"] = {"median": statistics.median(fd), "worst": max(fd)}
    return out


def write_report(report: dict[str, Any], path: Path) -> None:
    """Add the summary over seeds to ``report``, print it, and write the JSON."""
    results = report["seeds"]
    agg = report["summary"] = summary(results)
    acc = agg["unsupervised_accuracy"]
    line = (
        f"{report['preset']} ({report['split']}, {len(results)} seeds): accuracy median "
        f"{acc['median']:.4f} worst {acc['worst']:.4f}"
    )
    if "generated_accuracy" in agg:
        line += (
            f"; generated-category accuracy median {agg['generated_accuracy']['median']:.4f}"
            f"; Frechet distance median {agg['frechet_distance']['median']:.2f}"
        )
    print(
        f"{line}; best code |rho| rotation median {agg['rotation_rho']['median']:.2f} "
        f"(worst {agg['rotation_rho']['worst']:.2f}), width median "
        f"{agg['width_rho']['median']:.2f} (worst {agg['width_rho']['worst']:.2f})"
    )
    write_json(path, report)
    print(f"wrote {path}")


def merge(paths: list[Path], out: Path) -> int:
    """One report over the seeds of several quality.json files of the same preset."""
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            print(
                f"quality.py: error: {path}: not a readable quality.json ({exc})", file=sys.stderr
            )
            return 1
    first = reports[0]

    def training(report: dict) -> dict:
        """The report's training settings but the seed; options added to the project
        after it was written read as their defaults, which is what it ran with."""
        return RunConfig.from_dict(report["config"]).to_dict()["train"] | {"seed": 0}

    for path, other in zip(paths, reports, strict=True):
        try:
            same = (other["preset"], other["split"], training(other)) == (
                first["preset"],
                first["split"],
                training(first),
            )
            if not isinstance(other["seeds"], list) or not other["seeds"]:
                raise ValueError("its 'seeds' is not a list of seeds' results")
            for result in other["seeds"]:
                seed_line(result)  # every field the merged report reads
        except (KeyError, TypeError, ValueError, InfoGANError) as exc:
            why = f"no field {exc.args[0]!r}" if isinstance(exc, KeyError) else exc
            print(
                f"quality.py: error: {path}: not a readable quality.json ({why})", file=sys.stderr
            )
            return 1
        if not same:
            print(f"quality.py: error: {path}: another preset, split or setting", file=sys.stderr)
            return 1
    merged = {
        **first,
        "seeds": sorted((s for r in reports for s in r["seeds"]), key=lambda s: s["seed"]),
    }
    for key in ("machine", "precision", "torch"):  # where the reports differ, each of them
        values = sorted({str(r[key]) for r in reports if key in r})
        if len(values) > 1:
            merged[key] = "; ".join(values)
    for result in merged["seeds"]:
        print(seed_line(result))
    try:
        write_report(merged, out)
    except InfoGANError as exc:
        return refused("quality.py", exc)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="paper28", help="the preset to train (paper28)")
    parser.add_argument(
        "--seeds", type=positive_int, default=3, help="how many seeds, from --first-seed (3)"
    )
    parser.add_argument("--first-seed", type=non_negative_int, default=0)
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument(
        "--holdout", type=positive_int, default=5000, help="validation digits (--split val)"
    )
    parser.add_argument(
        "--max-steps", type=positive_int, default=None, help="override the preset's budget"
    )
    parser.add_argument(
        "--eval-every", type=positive_int, default=200, help="probe Q every N steps"
    )
    parser.add_argument("--target", type=float, default=0.95, help="accuracy to time")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    parser.add_argument("--device", default=None, help="training device (the preset's: auto)")
    parser.add_argument("--out", type=Path, default=None, help="default runs/quality-PRESET")
    parser.add_argument("--json", type=Path, default=None, help="default OUT/quality.json")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-full-eval", action="store_true", help="skip infogan eval (test)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="QUALITY_JSON",
        help="only combine the seeds of earlier runs' quality.json files (into --json)",
    )
    args = parser.parse_args(argv)
    if args.merge:
        out = args.json or Path("quality.json")
        check_output(parser, out)
        return merge(args.merge, out)
    args.out = args.out or Path("runs") / f"quality-{args.preset}"
    check_output(parser, args.json or args.out / "quality.json")

    try:
        config = apply_settings(get_preset(args.preset), args.set)
        if args.split == "val":
            config = config.with_data(holdout=args.holdout)
        config = config.with_train(max_steps=args.max_steps, device=args.device).validate()
        args.data_dir = Path(args.data_dir or default_data_dir())
        args.device_eval = "cuda" if config.train.device.startswith("cuda") else "cpu"
        if config.train.device == "auto" and torch.cuda.is_available():
            args.device_eval = "cuda"
        device = resolve_device(config.train.device)
        machine = {
            "machine": hardware(device),
            "device": str(device),
            "precision": resolve_precision(config.train.precision, device),
        }
        images, labels = held_out(config, args.split, args.data_dir)
        results = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            result = run_seed(config, args, seed, images, labels)
            if result is None:
                print(f"seed {seed} stopped before its first measurement", file=sys.stderr)
                break
            results.append(result)
            print(seed_line(result), flush=True)
            if result.pop("stop"):
                print("stopped early: the seeds so far are reported", file=sys.stderr)
                break
    except InfoGANError as exc:
        return refused("quality.py", exc)
    if not results:
        print("quality.py: error: no seed finished its first measurement", file=sys.stderr)
        return 1
    report = {
        "preset": args.preset,
        "settings": args.set,
        "split": args.split,
        "config": config.to_dict(),
        **machine,
        "torch": torch.__version__,
        "seeds": results,
    }
    try:
        write_report(report, args.json or args.out / "quality.json")
    except InfoGANError as exc:
        return refused("quality.py", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A preset's full run in one command (by default the lab report's seed64, 80 epochs):
fetch MNIST, train, evaluate, write the report, and record how long each part took.

    python benchmarks/full_run.py                      # the GPU when there is one
    python benchmarks/full_run.py --device cpu --max-steps 20 --per-category 100 \\
        --sweep-draws 20

The run goes to --run-dir (default runs/full-PRESET); the record, to --json (default
benchmarks/results/full_run_PRESET_DEVICE.json): wall time of each phase, training
images/s, hardware, precision, torch, and the evaluation's headline numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import check_output, positive_int, refused, unwritable, write_json
from infogan.config import get_preset
from infogan.data import default_data_dir, fetch_mnist
from infogan.errors import InfoGANError
from infogan.evaluate.evaluation import evaluate_run
from infogan.report import write_report
from infogan.training.build import resolve_device
from infogan.training.run import train

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="seed64", help="the preset to run (seed64)")
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="the run (runs/full-PRESET; replaced)"
    )
    parser.add_argument("--device", default="auto", help="auto (a GPU if any), cpu, cuda, ...")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="stop early (a check)")
    parser.add_argument("--per-category", type=positive_int, default=1000, help="eval's (1000)")
    parser.add_argument(
        "--test-digits", type=positive_int, default=None, help="eval's (all 10,000)"
    )
    parser.add_argument("--sweep-draws", type=positive_int, default=100, help="eval's (100)")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="the record (benchmarks/results/full_run_PRESET_DEVICE.json)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    check_output(parser, args.json)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        config = get_preset(args.preset).with_train(device=args.device, max_steps=args.max_steps)
        config.validate()
        device = resolve_device(config.train.device)
        run_dir = args.run_dir or Path("runs") / f"full-{args.preset}"
        out = args.json or RESULTS / f"full_run_{args.preset}_{device.type}.json"
        if problem := unwritable(out):  # refused now, not after the run
            raise InfoGANError(f"{out}: {problem}")
        seconds: dict[str, float] = {}

        started = time.perf_counter()
        data_dir = fetch_mnist(args.data_dir or default_data_dir(), log=say)
        seconds["fetch"] = time.perf_counter() - started

        mark = time.perf_counter()
        train(config, run_dir, data_dir=data_dir, overwrite=True, progress=not args.no_progress,
              log=say)  # fmt: skip
        seconds["train"] = time.perf_counter() - mark

        mark = time.perf_counter()
        result, _ = evaluate_run(
            run_dir,
            data_dir=data_dir,
            per_category=args.per_category,
            test_digits=args.test_digits,
            sweep_draws=args.sweep_draws,
            progress=not args.no_progress,
            log=say,
        )
        seconds["eval"] = time.perf_counter() - mark

        mark = time.perf_counter()
        write_report(run_dir, log=say)
        seconds["report"] = time.perf_counter() - mark
        seconds["total"] = time.perf_counter() - started
    except InfoGANError as exc:
        return refused("full_run.py", exc)

    summary = json.loads((run_dir / "run.json").read_text())
    record = {
        "preset": args.preset,
        "command": "python benchmarks/full_run.py " + " ".join(argv or sys.argv[1:]),
        "steps": summary["steps"],
        "epochs": summary["epochs"],
        "batch_size": config.train.batch_size,
        "device": summary["device"],
        "hardware": summary["hardware"],
        "precision": summary["precision"],
        "step": summary["step"],
        "torch": torch.__version__,
        "commit": summary.get("commit"),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "train_images_per_second": summary["images_per_second"],
        "unsupervised_accuracy": result["unsupervised_accuracy"],
        "generated_accuracy": result["generated_accuracy"],
        "frechet_distance": result["frechet_distance"],
        "continuous": {c["code"]: c["spearman"] for c in result["continuous"]},
        "run_dir": str(run_dir),
    }
    try:
        write_json(out, record)
    except InfoGANError as exc:
        return refused("full_run.py", exc)
    print(
        f"{args.preset}: {summary['steps']} step{'' if summary['steps'] == 1 else 's'} "
        f"({summary['epochs']} epoch"
        f"{'' if summary['epochs'] == 1 else 's'}) in "
        f"{seconds['train'] / 60:.1f} min on {summary['hardware']} ({summary['precision']}), "
        f"{summary['images_per_second']:.0f} images/s; accuracy "
        f"{result['unsupervised_accuracy']:.3f}; all phases {seconds['total'] / 60:.1f} min; "
        f"wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

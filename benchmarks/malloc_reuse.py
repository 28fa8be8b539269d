"""What keeping freed memory (``infogan.training.memory``) is worth: training steps with
malloc told to keep the memory a step frees, as every CPU run has it, against glibc's
defaults, each in fresh processes, alternated round by round.

glibc's defaults cannot be put back in a process once changed, hence a process per arm
and round; each times ``--steps`` steps after ``--warmup``, and reports the median step,
the page faults a step and the peak resident memory.

    python benchmarks/malloc_reuse.py --presets seed64,paper28 --precisions bf16,fp32 \\
        --json benchmarks/results/malloc_reuse_xeon_amx.json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cli import (
    add_presets_and_precisions,
    check_output,
    non_negative_int,
    positive_int,
    refused,
)
from infogan.data import default_data_dir, fetch_mnist, load_mnist_arrays
from infogan.errors import InfoGANError
from infogan.training import build
from step_time import FixedBatch, write_report

ARMS = ("keep", "glibc defaults")


def child(arm: str, preset: str, precision: str, steps: int, warmup: int, data_dir: Path) -> dict:
    """One arm's steps in this process."""
    if arm != "keep":
        build.keep_freed_memory = lambda keep=True: False  # leave glibc's defaults alone
    digits, _ = load_mnist_arrays(data_dir, "train")
    times, faults = FixedBatch(preset, precision, digits).time(steps, warmup)
    return {
        "seconds_per_step": statistics.median(times),
        "page_faults_per_step": faults,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_presets_and_precisions(parser, "seed64,paper28")
    parser.add_argument(
        "--rounds", type=positive_int, default=3, help="processes per arm, alternated (3)"
    )
    parser.add_argument("--steps", type=positive_int, default=8, help="steps timed a process (8)")
    parser.add_argument(
        "--warmup", type=non_negative_int, default=3, help="steps before timing (3)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the record here")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    parser.add_argument("--child", nargs=3, metavar=("ARM", "PRESET", "PRECISION"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    check_output(parser, args.json)
    try:
        return run(args)
    except InfoGANError as exc:
        return refused("malloc_reuse.py", exc)


def run(args: argparse.Namespace) -> int:
    data_dir = fetch_mnist(args.data_dir or default_data_dir())
    if args.child:
        arm, preset, precision = args.child
        print(json.dumps(child(arm, preset, precision, args.steps, args.warmup, data_dir)))
        return 0
    rows = []
    for preset in args.presets:
        for precision in args.precisions:
            runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
            for r in range(args.rounds):
                for arm in ARMS if r % 2 == 0 else ARMS[::-1]:
                    command = [sys.executable, __file__, "--child", arm, preset, precision]
                    command += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
                    command += ["--data-dir", str(data_dir)]
                    out = subprocess.run(command, capture_output=True, text=True)
                    if out.returncode != 0:
                        said = (out.stderr.strip().splitlines() or ["no message"])[-1]
                        raise InfoGANError(
                            f"{preset} {precision}: the {arm!r} arm's process failed "
                            f"(exit {out.returncode}): {said}"
                        )
                    runs[arm].append(json.loads(out.stdout.splitlines()[-1]))
            row = {"preset": preset, "precision": precision}
            for arm, results in runs.items():
                row[arm] = {
                    key: round(statistics.median(res[key] for res in results), 4)
                    for key in results[0]
                }
            keep, plain = row["keep"], row["glibc defaults"]
            row["speedup"] = round(plain["seconds_per_step"] / keep["seconds_per_step"], 3)
            print(
                f"{preset} {precision}: {keep['seconds_per_step']:.3f} s a step keeping freed "
                f"memory, {plain['seconds_per_step']:.3f} s with glibc's defaults "
                f"({row['speedup']:.2f}x); page faults a step {keep['page_faults_per_step']:,.0f}"
                f" against {plain['page_faults_per_step']:,.0f}; peak memory "
                f"{keep['max_rss_mb']:,.0f} MB against {plain['max_rss_mb']:,.0f} MB"
            )
            rows.append(row)
    if args.json:
        write_report(args.json, rows, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Compare candidate settings of a preset over seeds, on the validation split, in parallel.

Each candidate is a list of ``--set section.field=value`` overrides (a JSON file maps
candidate names to them). Every (candidate, seed) pair is one ``quality.py --split val``
process; up to ``--parallel`` run at once (on one GPU they share it). At the deadline the
runs still going are stopped with SIGINT, which ends them after a whole step and keeps
what they measured. The table gives, per candidate, the validation accuracy of every
seed at each of ``--at`` steps (read off the probe's curve: a run stopped at step S is
exactly a run whose budget was S), then the median and worst.

    python benchmarks/sweep.py benchmarks/sweeps/paper28.json --seeds 3 --max-steps 4000 \\
        --at 1000,2000,4000 --parallel 12 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cli import check_output, positive_int, positive_ints, preset_names, refused, write_json  # noqa: E402
from infogan.errors import InfoGANError  # noqa: E402


def accuracy_at(curve: list[dict], step: int) -> float | None:
    """The last measured accuracy at or before ``step`` (None if the run never got there)."""
    if not curve or curve[-1]["step"] < step:
        return None
    return [p for p in curve if p["step"] <= step][-1]["accuracy"]


def launch(name: str, settings: list[str], seed: int, args) -> tuple[subprocess.Popen, Path]:
    out = args.out / f"{name}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(HERE / "quality.py"),
        "--preset",
        args.preset,
        "--split",
        "val",
        "--seeds",
        "1",
        "--first-seed",
        str(seed),
        "--max-steps",
        str(args.max_steps),
        "--eval-every",
        str(args.eval_every),
        "--out",
        str(out),
        "--no-progress",
        "--set",
        f"train.checkpoint_every={args.max_steps}",
        "--set",
        f"train.sample_every={args.max_steps}",
    ]
    for item in settings:
        command += ["--set", item]
    if args.device:
        command += ["--device", args.device]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    log = open(out / "log.txt", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), out


def read_candidates(path: Path) -> dict[str, list[str]]:
    """The candidates file: a JSON object of names to lists of section.field=value;
    ValueError (or OSError) naming what is wrong with it."""
    candidates = json.loads(path.read_text())
    if not isinstance(candidates, dict) or not candidates:
        raise ValueError("expected an object of candidate names to lists of settings")
    for name, settings in candidates.items():
        if not isinstance(settings, list) or not all(isinstance(s, str) for s in settings):
            raise ValueError(f"candidate {name!r}: expected a list of section.field=value")
    return candidates


def check_settings(preset: str, candidates: dict[str, list[str]], device: str | None) -> None:
    """Each candidate's settings applied to ``preset`` as its runs will apply them:
    InfoGANError naming the first that a run would refuse."""
    from infogan.config import get_preset, parse_setting

    for name, settings in candidates.items():
        try:
            config = get_preset(preset).with_settings(dict(parse_setting(s) for s in settings))
            config.with_train(device=device).validate()
        except InfoGANError as exc:
            raise InfoGANError(f"candidate {name!r}: {exc}") from None
    if device:
        from infogan.training.build import resolve_device

        resolve_device(device)  # a CUDA device where there is none: refused now, not in each run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidates", type=Path, help="JSON: name -> list of section.field=value")
    parser.add_argument(
        "--preset",
        type=lambda text: preset_names(text)[0],
        default="paper28",
        help="the preset the candidates change (paper28)",
    )
    parser.add_argument("--only", default=None, help="comma-separated candidate names")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (3)")
    parser.add_argument("--max-steps", type=positive_int, default=3000, help="a run's budget")
    parser.add_argument(
        "--at", type=positive_ints, default=None, help="steps to tabulate (default: --max-steps)"
    )
    parser.add_argument("--eval-every", type=positive_int, default=200, help="probe every N")
    parser.add_argument("--parallel", type=positive_int, default=1, help="runs at once (1)")
    parser.add_argument("--threads", type=positive_int, default=1, help="CPU threads per run")
    parser.add_argument(
        "--deadline-minutes", type=float, default=None, help="stop the runs still going then"
    )
    parser.add_argument("--device", default=None, help="the runs' (the preset's: auto)")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST's folder (./data)")
    parser.add_argument("--out", type=Path, default=Path("runs/sweep"), help="(runs/sweep)")
    parser.add_argument("--json", type=Path, default=None, help="default OUT/sweep.json")
    args = parser.parse_args(argv)
    try:
        candidates = read_candidates(args.candidates)
    except (OSError, ValueError) as exc:
        parser.error(f"{args.candidates}: not a readable JSON file of candidates ({exc})")
    if args.only:
        wanted = args.only.split(",")
        missing = [n for n in wanted if n not in candidates]
        if missing:
            parser.error(f"no candidate {missing[0]!r} in {args.candidates}")
        candidates = {n: candidates[n] for n in wanted}
    if args.deadline_minutes is not None and not args.deadline_minutes > 0:
        parser.error(f"--deadline-minutes must be positive, got {args.deadline_minutes}")
    check_output(parser, args.json or args.out / "sweep.json")
    try:
        check_settings(args.preset, candidates, args.device)
    except InfoGANError as exc:
        parser.error(str(exc))
    at = args.at or [args.max_steps]

    jobs = [(name, seed) for seed in range(args.seeds) for name in candidates]
    running: list[tuple[str, int, subprocess.Popen, Path]] = []
    done: list[tuple[str, int, Path, int]] = []
    started = time.time()
    stopped = False
    while jobs or running:
        late = args.deadline_minutes and time.time() - started > 60 * args.deadline_minutes
        if late and not stopped:
            print("deadline: stopping the runs still going", file=sys.stderr)
            for _n, _s, proc, _o in running:
                proc.send_signal(signal.SIGINT)
            jobs.clear()
            stopped = True
        while jobs and len(running) < args.parallel:
            name, seed = jobs.pop(0)
            proc, out = launch(name, candidates[name], seed, args)
            running.append((name, seed, proc, out))
        for item in list(running):
            name, seed, proc, out = item
            if proc.poll() is not None:
                running.remove(item)
                done.append((name, seed, out, proc.returncode))
                print(f"{name} seed {seed}: exit {proc.returncode}", file=sys.stderr)
        time.sleep(1)

    table: dict[str, dict] = {}
    where: dict[str, str] = {}  # the machine, as the runs' reports say
    for name, seed, out, code in done:
        entry = table.setdefault(name, {"settings": candidates[name], "seeds": {}})
        report = out / "quality.json"
        if code != 0 or not report.is_file():
            entry["seeds"][seed] = {"error": f"exit {code}; see {out / 'log.txt'}"}
            continue
        quality = json.loads(report.read_text())
        for key in ("machine", "torch"):
            where.setdefault(key, quality.get(key))
        entry.setdefault("precision", quality.get("precision"))
        result = quality["seeds"][0]
        entry["seeds"][seed] = {
            "curve": result["curve"],
            "codes": result["codes"],
            "interrupted": result["interrupted"],
            "reached": result["reached_target"],
            "images_per_second": result["images_per_second"],
        }
    print(f"validation accuracy over {args.seeds} seeds (median / worst) at steps {at}")
    for name, entry in table.items():
        cells = []
        for step in at:
            accs = [accuracy_at(s.get("curve", []), step) for s in entry["seeds"].values()]
            known = [a for a in accs if a is not None]
            entry.setdefault("at", {})[step] = accs
            if known:
                cells.append(
                    f"{statistics.median(known):.3f}/{min(known):.3f}"
                    + ("" if len(known) == len(accs) else f" ({len(known)})")
                )
            else:
                cells.append("-")
        rot = [
            max(abs(c["rotation"]) for c in s["codes"].values())
            for s in entry["seeds"].values()
            if "codes" in s
        ]
        width = [
            max(abs(c["width"]) for c in s["codes"].values())
            for s in entry["seeds"].values()
            if "codes" in s
        ]
        codes = (
            f"  rot {statistics.median(rot):.2f} width {statistics.median(width):.2f}"
            if rot
            else ""
        )
        print(f"{name:<28}" + "  ".join(f"{c:>13}" for c in cells) + codes)
    path = args.json or args.out / "sweep.json"
    record = {"preset": args.preset, **where, "at": at, "candidates": table}
    try:
        write_json(path, record)
    except InfoGANError as exc:
        return refused("sweep.py", exc)
    print(f"wrote {path}")
    if not where:
        print("sweep.py: error: no run measured anything (see their log.txt)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""benchmarks/full_run.py, a preset's full run in one command, cut to two steps on a CPU:
it trains, evaluates, writes the report and records each phase. (paper28 here: the script
treats every preset alike, and seed64's 64x64 steps cost a CPU ten times as much.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_two_steps_go_through_every_phase(tmp_path, mnist_dir):
    run, record = tmp_path / "run", tmp_path / "full.json"
    args = ["--preset", "paper28", "--device", "cpu", "--max-steps", "2"]
    args += ["--per-category", "10", "--test-digits", "200", "--sweep-draws", "5"]
    args += ["--run-dir", run, "--json", record, "--data-dir", mnist_dir, "--no-progress"]
    done = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "full_run.py", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(record.read_text())
    assert (result["preset"], result["steps"], result["batch_size"]) == ("paper28", 2, 128)
    assert result["device"] == "cpu" and result["train_images_per_second"] > 0
    assert result["step"] == "eager"  # a CUDA graph needs a GPU
    assert set(result["seconds"]) == {"fetch", "train", "eval", "report", "total"}
    assert result["seconds"]["total"] >= result["seconds"]["train"] > 0
    assert 0 <= result["unsupervised_accuracy"] <= 1
    assert (run / "eval.json").is_file() and (run / "report.html").is_file()
    assert done.stdout.startswith("paper28: 2 steps")


def test_bad_arguments_are_refused_in_one_line_before_training(
    tmp_path, script_error, benchmark_script
):
    import torch

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = tmp_path / "run"
    # evaluation's settings are checked before the run, not after its 80 epochs
    for flag, value in (("--per-category", 0), ("--sweep-draws", -1), ("--test-digits", -5)):
        line = script_error("full_run", flag, value, "--run-dir", run)
        assert line.endswith(f"argument {flag}: must be a positive integer, got {value}")
    line = script_error("full_run", "--json", blocker / "full.json", "--run-dir", run)
    assert line.endswith(f"{blocker} is not a directory")
    assert "unknown preset 'nope'" in script_error("full_run", "--preset", "nope")
    if not torch.cuda.is_available():
        line = script_error("full_run", "--device", "cuda", "--run-dir", run)
        assert "CUDA is not available" in line
    assert not run.exists()

"""benchmarks/full_run.py, the seed's full run in one command, cut to two steps on a CPU:
it trains, evaluates, writes the report and records each phase."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_two_steps_of_seed64_go_through_every_phase(tmp_path, mnist_dir):
    run, record = tmp_path / "run", tmp_path / "full.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "full_run.py"), "--device", "cpu",
         "--max-steps", "2", "--per-category", "10", "--test-digits", "200", "--sweep-draws", "5",
         "--run-dir", str(run), "--json", str(record), "--data-dir", str(mnist_dir),
         "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(record.read_text())
    assert (result["preset"], result["steps"], result["batch_size"]) == ("seed64", 2, 128)
    assert result["device"] == "cpu" and result["train_images_per_second"] > 0
    assert set(result["seconds"]) == {"fetch", "train", "eval", "report", "total"}
    assert result["seconds"]["total"] >= result["seconds"]["train"] > 0
    assert 0 <= result["unsupervised_accuracy"] <= 1
    assert (run / "eval.json").is_file() and (run / "report.html").is_file()
    assert done.stdout.startswith("seed64: 2 steps")

"""benchmarks/step_time.py times a preset's real training step on real digits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_one_timed_step_per_precision_is_recorded(tmp_path, mnist_dir):
    record = tmp_path / "steps.json"
    args = ["--presets", "quick28", "--precisions", "fp32", "--steps", "1", "--warmup", "0"]
    args += ["--json", record, "--data-dir", mnist_dir]
    done = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "step_time.py", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = json.loads(record.read_text())["rows"]
    assert (row["preset"], row["precision"], row["max_steps"]) == ("quick28", "fp32", 1400)
    assert row["seconds_per_step"] > 0
    projected = row["seconds_per_step"] * 1400 / 60
    assert abs(row["projected_training_minutes"] - projected) < 0.02
    assert done.stdout.startswith("quick28    fp32 ")

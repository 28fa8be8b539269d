"""Crash-proof training: SIGKILL then --resume ends bit-identical; SIGINT saves and exits."""

import csv
import signal
import subprocess
import sys
import time

import pytest
import torch

from infogan.checkpoint import load_checkpoint

ARGS = [
    "--preset",
    "paper28",
    "--batch-size",
    "16",
    "--max-steps",
    "15",
    "--seed",
    "3",
    "--sample-every",
    "5",
    "--checkpoint-every",
    "3",
    "--no-progress",
    "--no-report",
]


QUIET = ("--no-progress", "--no-report")


def _start(run_dir, mnist_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "infogan", "train", *extra, "--data-dir", str(mnist_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path, proc, timeout=300):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _steps(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        return [int(row["step"]) for row in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_dir):
    """The run straight through: the same command through the CLI's main, in this process."""
    from infogan.cli import main

    run = tmp_path_factory.mktemp("straight") / "run"
    assert main(["train", *ARGS, "--run-dir", str(run), "--data-dir", str(mnist_dir)]) == 0
    return run


def test_sigkill_then_resume_is_bit_identical(tmp_path, mnist_dir, uninterrupted, main_run):
    run = tmp_path / "run"
    proc = _start(run, mnist_dir, *ARGS, "--run-dir", str(run))
    _wait_for(run / "checkpoints" / "step_000006.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    killed_at = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    assert 0 < killed_at < 15, "the run must be killed mid-way"

    done = main_run("train", "--resume", run, "--data-dir", mnist_dir, *QUIET)
    assert done.returncode == 0, done.stderr
    assert f"from step {killed_at}" in done.stderr

    assert _steps(run) == list(range(1, 16))  # every step exactly once
    resumed = load_checkpoint(run / "checkpoints" / "last.pt")
    straight = load_checkpoint(uninterrupted / "checkpoints" / "last.pt")
    assert resumed["step"] == straight["step"] == 15
    for net in ("generator", "discriminator"):
        for key, value in straight[net].items():
            assert torch.equal(resumed[net][key], value), f"{net}.{key} differs"
    with open(run / "metrics.csv") as a, open(uninterrupted / "metrics.csv") as b:
        assert a.read() == b.read()  # the recomputed rows are the same numbers too
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*.pt")) == [
        "step_000009.pt",
        "step_000012.pt",
        "step_000015.pt",
    ]  # the newest 3 kept


def test_sigint_saves_a_checkpoint_and_exits_cleanly(tmp_path, mnist_dir):
    run = tmp_path / "run"
    proc = _start(
        run,
        mnist_dir,
        *ARGS,
        "--checkpoint-every",
        "1000",
        "--max-steps",
        "400",
        "--run-dir",
        str(run),
    )
    _wait_for(run / "images" / "fixed" / "000010.png", proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert "checkpoint saved; continue with: infogan train --resume" in err
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert 10 <= state["step"] < 400
    assert _steps(run) == list(range(1, state["step"] + 1))


def test_resume_refuses_changed_settings_and_missing_runs(tmp_path, uninterrupted, main_error):
    line = main_error("train", "--resume", str(uninterrupted), "--batch-size", "8")
    assert "--resume continues the run with its own configuration; drop --batch-size" in line
    line = main_error("train", "--resume", str(tmp_path))
    assert "not a run directory" in line
    before = {p.name: p.read_bytes() for p in uninterrupted.iterdir() if p.is_file()}
    for more in ([], ["--max-steps", "9"]):  # nothing left to train: one line, nothing written
        line = main_error("train", "--resume", str(uninterrupted), *more, "--no-report")
        assert "already at step 15 of" in line and "pass a larger --max-steps" in line
    assert {p.name: p.read_bytes() for p in uninterrupted.iterdir() if p.is_file()} == before

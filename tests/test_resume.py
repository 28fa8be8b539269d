"""Crash-proof training: SIGKILL then --resume ends bit-identical; SIGINT saves and exits."""

import csv
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

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
    assert f"checkpoint saved; continue with: infogan train --resume {run} --data-dir" in err
    assert err.strip().endswith(f"--data-dir {mnist_dir}")  # the data the run was given
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert 10 <= state["step"] < 400
    assert _steps(run) == list(range(1, state["step"] + 1))


def test_resume_refuses_changed_settings_and_missing_runs(tmp_path, uninterrupted, main_error):
    line = main_error("train", "--resume", str(uninterrupted), "--batch-size", "8")
    assert "--resume continues the run with its own configuration; drop --batch-size" in line
    line = main_error("train", "--resume", str(tmp_path))
    assert "not a run directory" in line
    before = {p.name: p.read_bytes() for p in uninterrupted.iterdir() if p.is_file()}
    for more, where in (  # nothing left to train: one line, nothing written
        ([], "already trained for its --max-steps 15;"),
        (["--max-steps", "9"], "already past --max-steps 9 (at step 15);"),
    ):
        line = main_error("train", "--resume", str(uninterrupted), *more, "--no-report")
        assert where in line and "pass a larger --max-steps or --epochs" in line
    assert {p.name: p.read_bytes() for p in uninterrupted.iterdir() if p.is_file()} == before


def test_epochs_alone_set_the_length_of_a_run_and_of_a_resume(
    tmp_path, mnist_dir, main_run, main_error
):
    capped = tmp_path / "capped.json"  # a config whose step limit is shorter than 2 epochs
    capped.write_text(json.dumps({"train": {"max_steps": 3}}))
    # the last 40 training digits kept out, 40 in: 5 steps of 8 make an epoch
    common = ["--preset", "paper28", "--config", capped, "--holdout", "59960", "--batch-size"]
    common += ["8", "--sample-every", "5", "--checkpoint-every", "5", "--data-dir", mnist_dir]
    run = tmp_path / "epochs"
    out = main_run("train", *common, *QUIET, "--epochs", "2", "--run-dir", run)
    assert out.returncode == 0, out.stderr
    assert _steps(run) == list(range(1, 11))  # 2 epochs, not the file's 3 steps
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] is None
    short = tmp_path / "short"
    assert main_run("train", *common, *QUIET, "--run-dir", short).returncode == 0
    assert _steps(short) == [1, 2, 3]
    line = main_error("train", "--resume", short, "--data-dir", mnist_dir, *QUIET)
    assert "already trained for its --max-steps 3; pass a larger --max-steps or --epochs" in line
    out = main_run("train", "--resume", short, "--epochs", "3", "--data-dir", mnist_dir, *QUIET)
    assert out.returncode == 0, out.stderr  # as the hint says: --epochs lifts the step limit
    assert _steps(short) == list(range(1, 16))
    assert json.loads((short / "config.json").read_text())["train"]["max_steps"] is None


def _write_images(folder, names):
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / name)


def test_resume_on_a_folder_that_changed_names_both_counts(tmp_path, main_run, main_error):
    folder = tmp_path / "pictures"
    folder.mkdir()
    _write_images(folder, [f"{i:03d}.png" for i in range(40)])
    run = tmp_path / "run"
    out = main_run(
        "train", "--preset", "paper28", "--dataset", f"folder:{folder}", "--batch-size", "8",
        "--max-steps", "3", "--sample-every", "3", "--checkpoint-every", "3", "--run-dir", run,
        *QUIET,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for i in range(30, 40):
        (folder / f"{i:03d}.png").unlink()
    line = main_error("train", "--resume", run, "--max-steps", "6", *QUIET)
    assert "the dataset changed since this run was trained (40 images then, 30 now" in line
    _write_images(folder, [f"{i:03d}.png" for i in range(30, 50)])  # and now too many
    line = main_error("train", "--resume", run, "--max-steps", "6", *QUIET)
    assert "(40 images then, 50 now" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files


def _compare(root, mnist_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "infogan", "compare", "--preset", "paper28", "--batch-size", "8",
         "--max-steps", "40", "--sample-every", "5", "--run-dir", str(root), "--data-dir",
         str(mnist_dir), "--no-progress", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_in_compare_then_the_same_command_continues(tmp_path, mnist_dir):
    """Stopped in its InfoGAN arm, compare exits 130 and says to run it again; run again,
    it keeps the finished plain GAN, resumes the InfoGAN arm and writes both reports."""
    root = tmp_path / "cmp"
    proc = _compare(root, mnist_dir)
    _wait_for(root / "infogan" / "images" / "fixed" / "000005.png", proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"infogan: stopped by SIGINT at step \d+ in {re.escape(str(root / 'infogan'))}; "
        "checkpoint saved; run the same infogan compare command again to continue",
        last,
    ), last
    stopped_at = load_checkpoint(root / "infogan" / "checkpoints" / "last.pt")["step"]
    gan_run = (root / "gan" / "run.json").read_bytes()
    proc = _compare(root, mnist_dir)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{root / 'gan'}: finished by an earlier run of this comparison; kept" in err
    assert f"{root / 'infogan'}: continuing from its checkpoint" in err
    assert (root / "gan" / "run.json").read_bytes() == gan_run  # not trained again
    assert _steps(root / "infogan") == list(range(1, 41)) and 5 <= stopped_at < 40
    assert "gan (baseline)" in (root / "infogan" / "report.html").read_text()
    assert "(GAN vs InfoGAN)" in out
    # killed between the last step's checkpoint and run.json: that arm is done, not stuck
    (root / "infogan" / "run.json").unlink()
    proc = _compare(root, mnist_dir)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "its checkpoint is at its full length already; kept" in err
    assert "loading MNIST" in err  # needed to resume; with both arms finished it is not
    # another length is another comparison: refused without --overwrite, nothing touched
    proc = _compare(root, mnist_dir, "--max-steps", "41")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "holds a run with other settings than this comparison" in err
    assert (root / "gan" / "run.json").read_bytes() == gan_run

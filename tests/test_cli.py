"""The real ``infogan`` command: help, user mistakes, an end-to-end run (in a subprocess,
as a user runs it; the other commands through its ``main`` in the test's process)."""

import json
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image

from infogan.training.build import resolve_precision


@pytest.mark.parametrize("command", [[], ["fetch-data"], ["train"], ["generate"]])
def test_help_is_accurate(command, cli):
    out = cli.run(*command, "--help")
    assert out.returncode == 0
    assert "usage: infogan" in out.stdout
    if command == ["train"]:
        for flag in (
            "--preset",
            "--run-dir",
            "--epochs",
            "--max-steps",
            "--seed",
            "--batch-size",
            "--lambda-cat",
            "--lambda-cont",
            "--sample-every",
            "--device",
            "seed64",
            "quick64",
        ):
            assert flag in out.stdout
    if not command:
        for sub in ("fetch-data", "train", "generate"):
            assert sub in out.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["train", "--max-steps", "0"], "--max-steps must be a positive integer"),
        (["train", "--lambda-cat", "nan"], "--lambda-cat must be a finite number >= 0"),
        (["train", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--precision", "fp8"], "--precision must be one of auto, fp32, bf16, got 'fp8'"),
        (["train", "--set", "train.tilt_from=3"], "unknown setting 'train.tilt_from'"),
        (["train", "--set", "train.seed"], "expected SECTION.FIELD=VALUE"),
        (["train", "--config", "/nonexistent.json"], "/nonexistent.json: cannot read"),
        (["generate", "/nonexistent/run", "--out", "x.png"], "no such checkpoint"),
    ],
)
def test_user_mistakes_give_one_clear_line(args, fragment, tmp_path, main_error):
    extra = ["--run-dir", tmp_path / "r"] if args[0] == "train" else []
    assert fragment in main_error(*args, *extra)


def test_compile_without_a_cpp_compiler_is_one_line_before_anything_is_written(
    tmp_path, main_error, monkeypatch
):
    missing = tmp_path / "no-g++"
    monkeypatch.setenv("CXX", str(missing))
    run = tmp_path / "run"
    line = main_error("train", "--compile", "--device", "cpu", "--max-steps", "1", "--run-dir", run)
    assert f"--compile on a CPU needs the C++ compiler torch.compile builds with ({missing}" in line
    assert not run.exists()


def test_unwritable_data_dir(tmp_path, cli, one_line_error, main_error, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = cli.run("fetch-data", "--data-dir", str(blocker / "sub"))
    one_line_error(out, "cannot create data directory")
    monkeypatch.setenv("INFOGAN_DATA_DIR", str(blocker / "sub"))
    line = main_error("train", "--max-steps", "1", "--run-dir", tmp_path / "r")
    assert "cannot create data directory" in line


def test_unwritable_run_dir(tmp_path, mnist_dir, main_error):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = main_error(
        "train", "--max-steps", 1, "--run-dir", blocker / "run", "--data-dir", mnist_dir
    )
    assert "run directory is not writable" in line


def test_fetch_data_verifies_an_existing_copy(mnist_dir, main_run):
    out = main_run("fetch-data", "--data-dir", mnist_dir)
    assert out.returncode == 0 and "SHA-256 verified" in out.stdout


@pytest.mark.slow
def test_train_then_generate_end_to_end(tmp_path, mnist_dir, cli, main_error):
    run = tmp_path / "run"
    out = cli.run(
        "train",
        "--preset",
        "quick64",
        "--max-steps",
        "6",
        "--batch-size",
        "8",
        "--sample-every",
        "3",
        "--run-dir",
        str(run),
        "--data-dir",
        str(mnist_dir),
        "--no-progress",
        "--no-report",
    )
    assert out.returncode == 0, out.stderr
    assert "done: 6 steps" in out.stderr
    # --precision auto (the default) is recorded as what it chose on this machine
    used = json.loads((run / "run.json").read_text())["precision"]
    assert used == resolve_precision("auto", torch.device("cpu"))
    assert ("(bf16 autocast)" in out.stderr) == (used == "bf16")
    assert ("(fp32: this CPU has no native bfloat16)" in out.stderr) == (used == "fp32")
    for name in ("fixed", "varying_c1", "varying_c2"):
        assert sorted(p.name for p in (run / "images" / name).iterdir()) == [
            "000003.png",
            "000006.png",
        ]
    # the mistakes, through the CLI's own main (no interpreter start-up)
    again = main_error("train", "--max-steps", "1", "--run-dir", run, "--data-dir", mnist_dir)
    assert "already holds a run" in again

    png = tmp_path / "digits.png"
    out = cli.run(
        "generate",
        str(run),
        "--out",
        str(png),
        "--categories",
        "1,4,7",
        "--rows",
        "2",
        "--c1",
        "0.5",
    )
    assert out.returncode == 0, out.stderr
    with Image.open(png) as img:
        assert img.size == (3 * 66 + 2, 2 * 66 + 2)
    bad = main_error("generate", run, "--out", png, "--categories", "3,12")
    assert "--categories must be in [0, 9]" in bad


def test_help_shows_the_options_a_user_needs_and_loads_no_torch(cli):
    out = cli.run("train", "--help")
    options = {m for m in re.findall(r"(--[a-z][a-z-]+)", out.stdout)}
    assert {"--set", "--config", "--preset", "--resume", "--lambda-cluster"} <= options
    assert len(options) <= 32, sorted(options)
    check = "import sys, infogan.cli; infogan.cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.slow
def test_set_and_config_reach_the_run_and_a_resume_keeps_them(
    tmp_path, mnist_dir, main_run, main_error
):
    run = tmp_path / "run"
    partial = tmp_path / "change.json"
    partial.write_text(json.dumps({"train": {"lr_d": 0.0003}, "model": {"overcluster": 20}}))
    common = ["--data-dir", mnist_dir, "--no-progress", "--no-report"]
    first = main_run(
        "train", "--preset", "restyle28", "--config", partial, "--set", "train.cluster_reseed=7",
        "--batch-size", "8", "--max-steps", "2", "--run-dir", run, *common,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "restyle28" and saved["model"]["overcluster"] == 20
    assert (saved["train"]["lr_d"], saved["train"]["cluster_reseed"]) == (0.0003, 7)
    assert saved["train"]["batch_size"] == 8 and saved["model"]["separate_q"] is True
    for change, named in (
        (["--set", "train.cluster_reseed=9"], "--set train.cluster_reseed"),
        (["--lr-d", "1"], "--lr-d"),
        (["--preset", "tilt28"], "--preset"),
    ):
        assert f"drop {named}" in main_error("train", "--resume", run, *change, *common)
    again = main_run("train", "--resume", run, "--max-steps", "3", *common)
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "config.json").read_text())["train"]["cluster_reseed"] == 7

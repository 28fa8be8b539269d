"""The real ``infogan`` command in a subprocess: help, user mistakes, an end-to-end run."""

import json

import pytest
import torch
from PIL import Image

from infogan.train import resolve_precision
from tests_helpers import run_cli


@pytest.mark.parametrize("command", [[], ["fetch-data"], ["train"], ["generate"]])
def test_help_is_accurate(command):
    out = run_cli(*command, "--help")
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


def _one_line_error(out, fragment):
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("infogan: error: ") and fragment in lines[-1], out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["train", "--max-steps", "0"], "--max-steps must be a positive integer"),
        (["train", "--lambda-cat", "nan"], "--lambda-cat must be a finite number >= 0"),
        (["train", "--device", "tpu"], "unknown device 'tpu'"),
        (["generate", "/nonexistent/run", "--out", "x.png"], "no such checkpoint"),
    ],
)
def test_user_mistakes_give_one_clear_line(args, fragment, tmp_path):
    out = run_cli(*args, "--run-dir", str(tmp_path / "r")) if args[0] == "train" else run_cli(*args)
    _one_line_error(out, fragment)


def test_unwritable_data_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run_cli("fetch-data", "--data-dir", str(blocker / "sub"))
    _one_line_error(out, "cannot create data directory")
    out = run_cli(
        "train",
        "--max-steps",
        "1",
        "--run-dir",
        str(tmp_path / "r"),
        env_extra={"INFOGAN_DATA_DIR": str(blocker / "sub")},
    )
    _one_line_error(out, "cannot create data directory")


def test_unwritable_run_dir(tmp_path, mnist_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run_cli(
        "train", "--max-steps", "1", "--run-dir", str(blocker / "run"), "--data-dir", str(mnist_dir)
    )
    _one_line_error(out, "run directory is not writable")


def test_fetch_data_verifies_an_existing_copy(mnist_dir):
    out = run_cli("fetch-data", "--data-dir", str(mnist_dir))
    assert out.returncode == 0 and "SHA-256 verified" in out.stdout


@pytest.mark.slow
def test_train_then_generate_end_to_end(tmp_path, mnist_dir):
    run = tmp_path / "run"
    out = run_cli(
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
    for name in ("fixed", "varying_c1", "varying_c2"):
        assert sorted(p.name for p in (run / "images" / name).iterdir()) == [
            "000003.png",
            "000006.png",
        ]
    again = run_cli(
        "train", "--max-steps", "1", "--run-dir", str(run), "--data-dir", str(mnist_dir)
    )
    _one_line_error(again, "already holds a run")

    png = tmp_path / "digits.png"
    out = run_cli(
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
    bad = run_cli("generate", str(run), "--out", str(png), "--categories", "3,12")
    _one_line_error(bad, "--categories must be in [0, 9]")

"""Faults and bad input: divergence, a full disk, foreign checkpoints, fuzzed bytes."""

import contextlib
import io
import resource
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.config import SEED64
from infogan.data import parse_idx
from infogan.errors import CheckpointError, DataError
from infogan.training.loop import DivergenceError
from infogan.training.run import resume, train

QUIET = dict(progress=False, log=lambda _m: None)
SHORT = dict(max_steps=10, batch_size=8, sample_every=5, checkpoint_every=5, log_every=5)


@pytest.fixture(scope="module")
def ten_step_run(tmp_path_factory, mnist_train_64):
    images, _ = mnist_train_64
    run = tmp_path_factory.mktemp("ten") / "run"
    # MNIST's first 1,000 training digits, as its config says: a resume through the CLI
    # reads the same images
    config = SEED64.with_train(**SHORT).with_data(holdout=59_000)
    train(config, run, images=images[:1000], **QUIET)
    return run


def _copy(run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(run, dest)
    return dest


def test_divergence_stops_with_the_last_good_checkpoint_intact(ten_step_run, tmp_path):
    run = _copy(ten_step_run, tmp_path)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    poisoned = torch.full((1000, 1, 64, 64), float("nan"))
    with pytest.raises(
        DivergenceError, match=r"diverged at step 11: d_loss.*last good checkpoint: step 10"
    ):
        resume(run, max_steps=20, images=poisoned, **QUIET)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["generator"].values())


def test_divergence_before_any_checkpoint(tmp_path):
    with pytest.raises(DivergenceError, match="no checkpoint yet"):
        train(
            SEED64.with_train(**SHORT),
            tmp_path / "r",
            images=torch.full((64, 1, 64, 64), float("nan")),
            **QUIET,
        )
    assert not (tmp_path / "r").exists()  # nothing to resume, nothing left in the way


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000_000, 20_000_000))


def test_full_disk_while_saving_keeps_the_previous_checkpoint(ten_step_run, tmp_path, mnist_dir):
    run = _copy(ten_step_run, tmp_path)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "infogan",
            "train",
            "--resume",
            str(run),
            "--max-steps",
            "15",
            "--data-dir",
            str(mnist_dir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_limit_file_size,
    )
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("infogan: error: ") and "could not write checkpoint" in last
    assert "previous checkpoint is unchanged" in last and "Traceback" not in out.stderr
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_checkpoint_of_another_preset_is_refused(ten_step_run, tmp_path, main_error):
    run = _copy(ten_step_run, tmp_path)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    state["config"]["preset"] = "paper28"
    state["config"]["model"]["arch"] = "paper28"
    for key in ("format", "format_version"):
        state.pop(key)
    save_checkpoint(state, run / "checkpoints" / "last.pt")
    line = main_error("train", "--resume", str(run))
    assert "unknown architecture 'paper28'" in line or "checkpoint of preset 'paper28'" in line
    line = main_error("generate", str(run), "--out", str(tmp_path / "x.png"))
    assert "paper28" in line


def test_cli_reports_truncated_and_foreign_checkpoints(ten_step_run, tmp_path, main_error):
    bad = tmp_path / "bad.pt"
    bad.write_bytes((ten_step_run / "checkpoints" / "last.pt").read_bytes()[:100_000])
    assert "truncated or corrupt" in main_error("generate", bad, "--out", tmp_path / "x.png")
    bad.write_bytes(b"#!/bin/sh\necho hi\n")
    assert "not a readable checkpoint" in main_error("generate", bad, "--out", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_resume_of_a_run_without_checkpoint(tmp_path, main_error):
    (tmp_path / "config.json").write_text("{}")
    assert "no checkpoint yet" in main_error("train", "--resume", str(tmp_path))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2048))
def test_idx_reader_on_random_bytes_raises_only_data_errors(blob):
    with contextlib.suppress(DataError):
        parse_idx(blob)


@FUZZ
@given(st.integers(0, 3), st.lists(st.integers(0, 255), min_size=1, max_size=12), st.binary())
def test_idx_reader_on_mutated_headers(dims, header_bytes, tail):
    blob = bytes([0, 0, 0x08, dims]) + bytes(header_bytes) + tail
    try:
        array = parse_idx(blob)
    except DataError:
        return
    assert array.size * array.itemsize == len(blob) - 4 - 4 * dims


def _small_checkpoint_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(
        {
            "format": "infogan-checkpoint",
            "format_version": 1,
            "config": {},
            "generator": {"w": torch.arange(10.0)},
            "discriminator": {},
            "step": 1,
        },
        buffer,
    )
    return buffer.getvalue()


CHECKPOINT = _small_checkpoint_bytes()


@FUZZ
@given(st.binary(max_size=4096))
def test_checkpoint_loader_on_random_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "x.pt"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(CHECKPOINT) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    st.integers(0, len(CHECKPOINT)),
)
def test_checkpoint_loader_on_mutated_checkpoints(tmp_path_factory, edits, cut):
    blob = bytearray(CHECKPOINT)
    for index, value in edits:
        blob[index] = value
    path = tmp_path_factory.mktemp("fuzz") / "x.pt"
    path.write_bytes(bytes(blob[:cut]))
    with contextlib.suppress(CheckpointError):
        load_checkpoint(path)

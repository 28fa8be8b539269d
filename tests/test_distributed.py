"""torchrun with 2 CPU processes (gloo): the same artifacts, the same maths, resumable."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from infogan.checkpoint import load_checkpoint
from infogan.cli import main
from infogan.distributed import SINGLE, GlobalBatchNorm, from_environment

COMMON = ["--preset", "paper28", "--seed", "5", "--no-progress", "--no-report"]


def _torchrun(nproc, *args, mnist_dir):
    """``infogan train ARGS`` in ``nproc`` processes under torchrun."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "--master_port=0",
        "-m",
        "infogan",
        "train",
        *args,
        "--data-dir",
        str(mnist_dir),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _tree(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def _steps(run: Path) -> list[int]:
    with open(run / "metrics.csv", newline="") as fh:
        return [int(r["step"]) for r in csv.DictReader(fh)]


# fp32: under bf16 autocast the two ways of summing differ by bfloat16's rounding
ARTIFACT_ARGS = [
    "--batch-size",
    "16",
    "--max-steps",
    "6",
    "--sample-every",
    "3",
    "--checkpoint-every",
    "3",
    "--precision",
    "fp32",
    *COMMON,
]


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, mnist_dir):
    """6 steps of paper28 in two processes (BatchNorm over the global batch), and in one."""
    root = tmp_path_factory.mktemp("ddp")
    out = _torchrun(2, *ARTIFACT_ARGS, "--sync-bn", "--run-dir", root / "run", mnist_dir=mnist_dir)
    # one process: the same command through the CLI's main, in this one
    argv = ["train", *ARTIFACT_ARGS, "--run-dir", root / "single", "--data-dir", mnist_dir]
    assert main([str(a) for a in argv]) == 0
    return root / "run", out, root / "single"


def _metrics(run: Path) -> list[float]:
    with open(run / "metrics.csv", newline="") as fh:
        return [float(v) for v in list(csv.reader(fh))[1][2:]]


def test_two_processes_write_the_artifacts_of_one_exactly_once(two_rank_run):
    run, out, single = two_rank_run
    assert _tree(run) == _tree(single)
    assert _steps(run) == list(range(1, 7))  # each step once, not once per rank
    assert out.stderr.count("training paper28 InfoGAN") == 1  # rank 0 alone logs
    assert "deprecated" not in out.stderr  # --sync-bn's all_reduce: PyTorch's note, not ours
    assert "x 2 processes" in out.stderr
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 6
    # through the CLI (Adam, global BatchNorm): the first step's losses agree too
    assert _metrics(run) == pytest.approx(_metrics(single), rel=1e-3)


STEP_PRESETS = ("paper28", "start28")


@pytest.fixture(scope="module")
def one_step_runs(tmp_path_factory, mnist_dir):
    """One float64 SGD step of each of STEP_PRESETS, in two processes and in this one."""
    import ddp_one_step

    root = tmp_path_factory.mktemp("one-step")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    (root / "two").mkdir()
    cmd = [sys.executable, *torchrun, ddp_one_step.__file__, root / "two", mnist_dir, *STEP_PRESETS]
    out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    (root / "one").mkdir()
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:  # it sets both for its process
        ddp_one_step.main(str(root / "one"), str(mnist_dir), list(STEP_PRESETS))
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)
    return root


@pytest.mark.parametrize("preset", STEP_PRESETS)
def test_one_step_of_two_ranks_equals_one_process(one_step_runs, preset):
    """The paper's objective (paper28) and the quick start's, with its clustering term
    over the global batch, its codes read from copies shared out over the ranks, and its
    turned pairs drawn by the plain generator beside DDP's."""
    one = torch.load(one_step_runs / "one" / f"{preset}.pt", weights_only=True)
    two = torch.load(one_step_runs / "two" / f"{preset}.pt", weights_only=True)
    total, weights = 0, 0
    for net in ("generator", "discriminator"):
        for key, start in one["before"][net].items():
            if not start.is_floating_point() or key.endswith(("running_mean", "running_var")):
                continue
            assert torch.equal(two["before"][net][key], start)  # same initial weights
            step_one = one["after"][net][key] - start  # = -lr * gradient
            step_two = two["after"][net][key] - start
            scale = step_one.abs().max().clamp_min(1e-20)
            diff = (step_two - step_one).abs() / scale
            # the over-clustering head's step differed by 1.0e-6 on an AMD EPYC without
            # AVX-512; a lost or doubled rank's share would differ by 0.5 or more
            assert diff.max() < 1e-5, f"{net}.{key}: {diff.max():.2e}"
            total += diff.numel()
        weights += sum(v.numel() for k, v in one["before"][net].items() if v.is_floating_point())
    bn_stats = sum(
        v.numel()
        for net in ("generator", "discriminator")
        for k, v in one["before"][net].items()
        if k.endswith(("running_mean", "running_var"))
    )
    assert total == weights - bn_stats > 1_000_000  # every weight of both networks compared


def test_a_distributed_run_resumes_from_its_checkpoint(two_rank_run, tmp_path, mnist_dir):
    run = tmp_path / "run"
    shutil.copytree(two_rank_run[0], run)  # resumed with --sync-bn, as it was trained
    out = _torchrun(
        2,
        "--resume",
        str(run),
        "--max-steps",
        "9",
        "--no-progress",
        "--no-report",
        mnist_dir=mnist_dir,
    )
    assert "from step 6" in out.stderr
    assert _steps(run) == list(range(1, 10))
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 9


def test_helpers_are_no_ops_in_one_process():
    ctx = from_environment()
    assert ctx == SINGLE and not ctx.enabled and ctx.is_main
    t = torch.arange(3.0)
    assert ctx.mean(t) is t and ctx.any(True, torch.device("cpu")) is True
    ctx.barrier()


def test_global_batchnorm_is_plain_batchnorm_without_a_process_group():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 5, 5)
    plain, ours = torch.nn.BatchNorm2d(4), GlobalBatchNorm(4)
    torch.testing.assert_close(ours(x), plain(x))
    torch.testing.assert_close(ours.running_var, plain.running_var)

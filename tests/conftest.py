"""Shared fixtures: the real MNIST files, tiny real runs, and the CLI as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infogan.config import RunConfig, get_preset

REPO = Path(__file__).resolve().parent.parent

# Each pytest-xdist worker computes on its share of the cores (and so do the commands
# its tests start): two workers of two threads each on two cores spend most of their
# time waiting for each other. (Set before anything imports torch: nothing above does.)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _WORKERS))


@pytest.fixture(scope="session")
def benchmark_script():
    """A script of benchmarks/ imported as a module:
    ``benchmark_script("throughput").main(args)``."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import has it (dataclasses look their module up)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def script_error(benchmark_script, capsys, monkeypatch):
    """Run ``benchmarks/NAME.py`` (its ``main``, in this process) on arguments it must
    refuse before doing any work: no traceback, nothing on stdout, a non-zero exit, and
    stderr ending in one ``NAME.py: error: ...`` line, which it returns."""

    def run(name: str, *args) -> str:
        monkeypatch.setattr(sys, "argv", [str(REPO / "benchmarks" / f"{name}.py")])  # its prog
        try:
            code = benchmark_script(name).main([str(a) for a in args])
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
        out = capsys.readouterr()
        assert code not in (0, None), out.out
        assert out.out == "" and "Traceback" not in out.err, out.out + out.err
        last = out.err.strip().splitlines()[-1]
        assert last.startswith(f"{name}.py: error: "), out.err
        return last

    return run


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """A directory with the four verified MNIST files ($INFOGAN_DATA_DIR or ./data)."""
    from infogan.data import fetch_mnist

    data_dir = Path(os.environ.get("INFOGAN_DATA_DIR") or REPO / "data")
    return fetch_mnist(data_dir)


@pytest.fixture(scope="session")
def mnist_train_64(mnist_dir):
    """The first 4,096 training digits at 64x64 in [-1, 1], and their labels."""
    import torch

    from infogan.data import load_mnist_arrays, to_training_tensor

    images, labels = load_mnist_arrays(mnist_dir, "train")
    return to_training_tensor(images[:4096], 64), torch.from_numpy(labels[:4096].astype("int64"))


@pytest.fixture(scope="session")
def digits_28(mnist_dir):
    """The first 2,048 training digits at 28x28 in [-1, 1], and their labels."""
    from infogan.data import load_mnist_arrays, to_training_tensor

    images, labels = load_mnist_arrays(mnist_dir, "train")
    return to_training_tensor(images[:2048], 28), labels[:2048]


def tiny(preset: str = "seed64", *, steps: int = 3, batch_size: int = 8, **train) -> RunConfig:
    """``preset`` cut to a few small steps, with grids and a checkpoint at the last one."""
    return get_preset(preset).with_train(
        max_steps=steps,
        batch_size=batch_size,
        sample_every=steps,
        checkpoint_every=steps,
        log_every=1,
        **train,
    )


@pytest.fixture(scope="session")
def tiny_config():
    """:func:`tiny`, for tests: ``tiny_config("tilt28", steps=2)``."""
    return tiny


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist_train_64) -> Path:
    """A 3-step seed64 run on real MNIST (batch 8), trained once per test session."""
    from infogan.training.run import train

    run = tmp_path_factory.mktemp("tiny") / "run"
    images = mnist_train_64[0][:256]
    train(tiny("seed64"), run, images=images, progress=False, log=lambda _m: None)
    return run


class Cli:
    """``python -m infogan`` in a subprocess, as a user runs it."""

    def run(self, *args, env_extra=None, timeout=600) -> subprocess.CompletedProcess:
        env = {**os.environ, **(env_extra or {})}
        return subprocess.run(
            [sys.executable, "-m", "infogan", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    def error_line(self, *args, **kwargs) -> str:
        """Run a command that must fail with one line and no traceback; return the line."""
        out = self.run(*args, **kwargs)
        return assert_one_line_error(out)


def assert_one_line_error(out: subprocess.CompletedProcess, fragment: str = "") -> str:
    """A failed command's stderr ends in one ``infogan: error:`` line, with no traceback;
    returns that line (which must hold ``fragment``)."""
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("infogan: error: "), out.stderr
    assert fragment in last, last
    return last


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


@pytest.fixture
def main_run(capsys):
    """Run ``infogan ARGS`` through the CLI's own ``main`` in this process, as ``python -m
    infogan`` runs it but without an interpreter's start-up (importing torch and its
    compiler costs a new process 3 to 5 s); returns its exit code, stdout and stderr."""
    from infogan.cli import main

    def run(*args) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        code = main(argv)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out.out, out.err)

    return run


@pytest.fixture
def main_error(main_run):
    """:func:`main_run` for a command that must fail: its one error line."""
    return lambda *args: assert_one_line_error(main_run(*args))


@pytest.fixture(scope="session")
def one_line_error():
    """:func:`assert_one_line_error`, for a command a test ran itself."""
    return assert_one_line_error


#: the files whose tests take longest, started first, so that two workers finish together
#: rather than one running a long file alone at the end (pytest-xdist --dist loadfile)
LONGEST_FIRST = (
    "test_reseed.py",
    "test_distributed.py",
    "test_resume.py",
    "test_report.py",
    "test_datasets.py",
    "test_cast.py",
    "test_reliability.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file

"""models/kernels.py: the C kernels compiled once into the cache and loaded, and training
that goes on with PyTorch's operators where they cannot be compiled. Each case runs in a
process of its own, with a cache folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infogan.models import kernels

pytestmark = pytest.mark.skipif(
    not kernels.has_avx512(), reason="the kernels need AVX-512, which this CPU lacks"
)

NAMES = sorted(p.stem for p in kernels.SOURCES.glob("*.c"))


def _python(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )


def test_every_kernel_is_built_once_into_the_cache(tmp_path):
    assert NAMES == ["bnact", "convert", "windows", "winograd"]
    script = (
        "from infogan.models import cast, conv, fused, kernels, winograd\n"
        "assert fused.library() is not None\n"
        "assert conv._library(conv.torch.zeros(1)) is not None\n"
        "assert kernels.load('convert', cast.SIGNATURES) is not None\n"
        "assert winograd.available(winograd.torch.float32)\n"
    )
    _python(script, {"XDG_CACHE_HOME": str(tmp_path)})
    folder = tmp_path / "infogan" / "kernels"
    built = sorted(folder.iterdir())
    assert [p.name.split("-")[0] for p in built] == NAMES  # and no half-written leftovers
    assert all(p.suffix == ".so" for p in built)
    stamps = [p.stat().st_mtime_ns for p in built]
    _python(script, {"XDG_CACHE_HOME": str(tmp_path)})
    assert [p.stat().st_mtime_ns for p in sorted(folder.iterdir())] == stamps  # reused


def test_without_a_compiler_training_goes_on_with_pytorch_operators(tmp_path):
    """No compiler: one warning naming it, and a bf16 layer stack that still runs (the
    BatchNorm, the activation and a small-map convolution through PyTorch's operators)."""
    script = (
        "import warnings, torch\n"
        "from torch import nn\n"
        "from infogan.models import fused, kernels\n"
        "from infogan.models.conv import Conv2d\n"
        "x = torch.randn(8, 16, 8, 8).to(torch.bfloat16)\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    layers = fused.Sequential(Conv2d(16, 32), nn.BatchNorm2d(32), nn.ReLU())\n"
        "    y = layers.to(torch.bfloat16)(x)\n"
        "    y.float().sum().backward()\n"
        "assert y.shape == (8, 32, 4, 4) and (y >= 0).all()\n"
        "assert type(y.grad_fn).__name__ == 'ReluBackward0'\n"
        "print(kernels.unavailable_reason('bnact'))\n"
        "print(kernels.unavailable_reason('windows'))\n"
        "print(len(seen), seen[0].message)\n"
    )
    compiler = tmp_path / "no-cc"
    done = _python(script, {"XDG_CACHE_HOME": str(tmp_path), "CC": str(compiler)})
    bnact, windows, warning = done.stdout.strip().splitlines()
    assert bnact == windows == f"no C compiler ({compiler}) found"
    assert warning == f"1 the CPU kernels are not used, PyTorch's operators run instead: {bnact}"
    assert not list(tmp_path.rglob("*.so"))


def test_a_failed_compile_is_said_in_one_line(tmp_path):
    compiler = tmp_path / "cc"
    compiler.write_text("#!/bin/sh\necho 'cc: error: no such flag' >&2\nexit 1\n")
    compiler.chmod(0o755)
    script = (
        "import warnings\n"
        "from infogan.models import fused, kernels\n"
        "warnings.simplefilter('ignore')\n"
        "assert fused.library() is None\n"
        "print(kernels.unavailable_reason('bnact'))\n"
    )
    done = _python(script, {"XDG_CACHE_HOME": str(tmp_path), "CC": str(compiler)})
    assert done.stdout.strip() == "compiling bnact.c failed: cc: error: no such flag"
    assert not list(tmp_path.rglob("*.so"))


def test_the_cli_says_it_in_one_line(tmp_path, mnist_dir):
    """``infogan train`` without a compiler: one line on stderr, and the run goes on."""
    done = subprocess.run(
        [sys.executable, "-m", "infogan", "train", "--preset", "start28", "--max-steps", "1",
         "--run-dir", str(tmp_path / "run"), "--no-report", "--no-progress",
         "--precision", "bf16", "--data-dir", str(mnist_dir)],
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path), "CC": str(tmp_path / "no-cc")},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    reason = f"no C compiler ({tmp_path / 'no-cc'}) found"
    note = (
        f"infogan: warning: the CPU kernels are not used, PyTorch's operators run instead: {reason}"
    )
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [note]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_each_kernel_asks_for_its_own_vector_unit(tmp_path):
    """On a CPU with AVX2 and no AVX-512 (its flags stood in for), csrc/winograd.c (plain
    C) is built and the AVX-512 kernels are not, without a warning: nothing to fix."""
    script = (
        "import warnings\n"
        "from infogan.models import kernels, winograd\n"
        "kernels.cpu_flags = lambda: 'fpu sse2 avx avx2 fma'\n"
        "warnings.simplefilter('error')\n"
        "assert winograd.available(winograd.torch.float32)\n"
        "assert kernels.load('bnact', {}) is None\n"
        "print(kernels.unavailable_reason('bnact'))\n"
        "kernels.cpu_flags = lambda: 'fpu sse2 avx'\n"
        "kernels._loaded.clear()\n"
        "assert not winograd.available(winograd.torch.float32)\n"
        "print(kernels.unavailable_reason('winograd'))\n"
    )
    done = _python(script, {"XDG_CACHE_HOME": str(tmp_path)})
    assert done.stdout.splitlines() == ["this CPU has no AVX-512", "this CPU has no AVX2"]
    built = [p.name.split("-")[0] for p in (tmp_path / "infogan" / "kernels").iterdir()]
    assert built == ["winograd"]

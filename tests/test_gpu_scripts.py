"""benchmarks/gpu_check.sh and gpu_tune.sh, the GPU sessions' scripts: what they do on
arguments and on a Python without torch, before they start any work."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bash(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_tune.sh"])
def test_help_prints_the_header_and_starts_nothing(script, tmp_path):
    out = tmp_path / "out"
    done = bash(script, "--help", OUT=str(out))
    assert done.returncode == 0 and not out.exists()
    assert "A try on a CPU" in done.stdout or "for a try on a CPU" in done.stdout
    assert "PY=.venv/bin/python" in done.stdout and "-h or --help prints this" in done.stdout
    assert not done.stdout.startswith("#!") and "set -u" not in done.stdout
    # an argument (they take none) is refused rather than ignored
    refused = bash(script, "--device", OUT=str(out))
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr.strip() == (
        f"{script}: error: no arguments (--device): settings come from the environment; see --help"
    )


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_tune.sh"])
def test_a_python_without_torch_is_named_in_one_line(script, tmp_path):
    out = tmp_path / "out"
    done = bash(script, PY="false", OUT=str(out))
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.strip() == (
        f"{script}: error: false cannot import torch; name a Python that can with PY="
    )

"""malloc keeps the memory that freed tensors leave, so later tensors take no page faults."""

import resource
import subprocess
import sys
from pathlib import Path

import torch

from infogan.training.memory import keep_freed_memory

PAGES = 64 * 2**20 // 4096  # a 64 MB tensor's pages


def faults_to_refill(cycles: int = 8) -> int:
    """Page faults taken writing a 64 MB tensor just after freeing one of that size, in
    the last of ``cycles`` such rounds (once the heap has grown to what they need)."""
    for _ in range(cycles):
        x = torch.ones(16 * 2**20)
        del x
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        y = torch.ones(16 * 2**20)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        del y
    return faults


def test_freed_memory_is_reused_only_when_kept():
    # in a fresh process: memory this one's earlier tests left in malloc's heap would be
    # reused under any setting
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_memory import faults_to_refill, keep_freed_memory;"
        "plain = faults_to_refill(); kept = keep_freed_memory();"
        "print(plain, kept, faults_to_refill())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    plain, kept, faults = out.stdout.split()
    assert int(plain) > PAGES // 2  # glibc's defaults: handed back, faulted in again
    assert kept == "True" and int(faults) < PAGES // 20


def test_building_a_cpu_run_keeps_freed_memory():
    from infogan.config import get_preset
    from infogan.training.build import build_training

    keep_freed_memory(False)
    build_training(get_preset("paper28"))
    assert faults_to_refill() < PAGES // 20

"""malloc keeps the memory that freed tensors leave, so later tensors take no page faults."""

import resource

import pytest
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
    if not keep_freed_memory(False):
        pytest.fail("mallopt refused glibc's defaults (this suite runs on Linux with glibc)")
    try:
        assert faults_to_refill() > PAGES // 2  # handed back to the kernel, faulted in again
        assert keep_freed_memory()
        assert faults_to_refill() < PAGES // 20
    finally:
        keep_freed_memory()  # what every training run on a CPU sets


def test_building_a_cpu_run_keeps_freed_memory():
    from infogan.config import get_preset
    from infogan.training.build import build_training

    keep_freed_memory(False)
    build_training(get_preset("paper28"))
    assert faults_to_refill() < PAGES // 20

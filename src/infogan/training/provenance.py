"""Where a run came from, as run.json and the benchmarks' results record it: the git commit
of the code, the device, and the CPU with the bf16 units that decide its speed."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def source_commit() -> str | None:
    """The git commit of the code that trained ("-dirty" if it had local changes), when it
    runs from a git checkout; None otherwise (an installed package)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def hardware(device: torch.device) -> str:
    """The device a run trained on, as run.json records it."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()}, {os.cpu_count()} CPU cores"


def cpu_name() -> str:
    """The CPU's model name and the bf16 units that decide its speed here, e.g.
    "Intel(R) Xeon(R) Processor (AMX, AVX-512 BF16)"."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    units = [label for flag, label in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"))
             if flag in flags]  # fmt: skip
    return f"{name} ({', '.join(units)})" if units else name

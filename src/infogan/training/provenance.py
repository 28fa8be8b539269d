"""Where a run came from, as run.json and the benchmarks' results record it: the git commit
of the code, the device, and the CPU with the bf16 units that decide its speed."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from infogan import __version__
from infogan.training.build import resolve_precision

if TYPE_CHECKING:
    from infogan.config import RunConfig
    from infogan.distributed import DistContext
    from infogan.training.loop import LoopState


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


def run_summary(
    config: RunConfig,
    state: LoopState,
    device: torch.device,
    step_mode: str,
    first_step: int,
    resumed: bool,
    seconds: float,
    elapsed: float,
) -> dict:
    """run.json: how far the run got, how fast this process trained (``elapsed``
    seconds from ``first_step``), and on what."""
    batch = config.train.batch_size
    return {
        "steps": state.step,
        "epochs": state.epoch,
        "images_seen": state.step * batch,
        "seconds": round(seconds, 2),
        "images_per_second": round((state.step - first_step) * batch / max(elapsed, 1e-9), 1),
        "resumed_from": first_step if resumed else None,
        "device": str(device),
        "precision": resolve_precision(config.train.precision, device),
        "step": step_mode,  # "graph": replayed as a CUDA graph (training/graph.py)
        "hardware": hardware(device),
        "torch": torch.__version__,
        "infogan": __version__,
        "commit": source_commit(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def start_line(
    config: RunConfig, device: torch.device, ctx: DistContext, run_dir: Path, resumed: int | None
) -> str:
    """'training start28 InfoGAN on cpu (bf16 autocast) into runs/x', and so on."""
    t = config.train
    mode = "plain GAN (lambda = 0)" if t.is_plain_gan else "InfoGAN"
    where = f"from step {resumed} " if resumed is not None else ""
    ranks = f" x {ctx.world_size} processes" if ctx.enabled else ""
    precision = ""
    if resolve_precision(t.precision, device) == "bf16":
        precision = " (bf16 autocast)"
    elif t.precision == "auto" and device.type == "cpu":
        precision = " (fp32: this CPU has no native bfloat16)"
    return f"training {config.preset} {mode} on {device}{precision}{ranks} {where}into {run_dir}"

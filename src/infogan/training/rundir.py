"""The run directory's layout: what ``infogan train`` writes and the report reads.

``RUN_DIR/config.json`` (the resolved config), ``metrics.csv`` (one row per step, columns
:data:`CSV_COLUMNS`), ``images/{fixed,varying_c1,varying_c2}/STEP.png``,
``checkpoints/step_NNNNNN.pt`` and ``checkpoints/last.pt``, ``run.json`` (the summary of
a finished run). This module needs no torch.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from infogan.errors import RunDirError
from infogan.fileio import atomic_open

METRIC_NAMES = (
    "d_loss",
    "g_loss",
    "info_loss",
    "info_cat",
    "info_cont",
    "d_real",
    "d_fake_before",
    "d_fake_after",
)
CSV_COLUMNS = ("step", "epoch", *METRIC_NAMES)
GRID_NAMES = ("fixed", "varying_c1", "varying_c2")


def prepare_run_dir(run_dir: Path, *, overwrite: bool = False) -> Path:
    """Create ``run_dir`` for a new run; refuse to mix a new run into an old one."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    if (run_dir / "config.json").exists() or (run_dir / "metrics.csv").exists():
        if not overwrite:
            raise RunDirError(
                f"{run_dir}: already holds a run; pick another --run-dir or pass --overwrite"
            )
        for name in ("images", "checkpoints"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for name in ("metrics.csv", "config.json", "run.json"):
            (run_dir / name).unlink(missing_ok=True)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"{run_dir}: run directory is not writable ({exc.strerror})") from None
    return run_dir


def truncate_metrics(path: Path, step: int) -> None:
    """Keep metrics.csv's rows up to ``step``; later rows are recomputed by a resumed run."""
    if not path.is_file():
        raise RunDirError(f"{path}: missing; cannot resume this run")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise RunDirError(f"{path}: not an infogan metrics file")
    kept = [rows[0]]
    for row in rows[1:]:
        try:
            if int(row[0]) <= step and len(row) == len(CSV_COLUMNS):
                kept.append(row)
        except (ValueError, IndexError):
            continue  # a row torn by a crash mid-write
    with atomic_open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(kept)


def replace_with_link(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source`` atomically (hard link, else a copy)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)

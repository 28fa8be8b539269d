"""What the report reads from a run directory: configuration, metrics, summary, grids.

A run directory is what :func:`infogan.training.run.train` fills. This module checks
that a directory is one and loads its files into a :class:`RunData`; every
problem a user can cause (a missing directory, a directory that is not a run, a
run with no metrics yet) is a :class:`~infogan.errors.RunDirError` with one line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infogan.config import RunConfig
from infogan.errors import ConfigError, RunDirError
from infogan.evaljson import read_evaluation
from infogan.training.rundir import CSV_COLUMNS, GRID_NAMES, METRIC_NAMES, last_checkpoint_step

#: what ``infogan eval`` leaves in the run directory
EVALUATION_FILE = "eval.json"


@dataclass(frozen=True)
class RunData:
    """One run directory, loaded."""

    run_dir: Path
    config: RunConfig
    steps: np.ndarray  # (N,) iteration numbers, 1-based
    metrics: dict[str, np.ndarray]  # name in METRIC_NAMES -> (N,) values
    summary: dict[str, Any]  # run.json; empty while a run is unfinished
    # eval.json: empty until the run is evaluated, and when it measured another iteration
    evaluation: dict[str, Any]
    grid_steps: dict[str, list[int]]  # grid name -> the iterations it was saved at
    stale_evaluation: str = ""  # why eval.json is left out, where it measured another iteration

    @property
    def name(self) -> str:
        return self.run_dir.resolve().name

    @property
    def is_plain_gan(self) -> bool:
        return self.config.train.is_plain_gan

    @property
    def kind(self) -> str:
        """ "InfoGAN" or "plain GAN", from the information weights."""
        return "plain GAN" if self.is_plain_gan else "InfoGAN"

    def grid_path(self, name: str, step: int) -> Path:
        return self.run_dir / "images" / name / f"{step:06d}.png"


def load_run(run_dir: Path | str) -> RunData:
    """Load ``run_dir``; raise :class:`RunDirError` if it is not a run with metrics."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no config.json)")
    steps, metrics = read_metrics(run_dir / "metrics.csv")
    # what infogan eval measures is checkpoints/last.pt; metrics.csv may run past it after
    # a crash, so the checkpoint's step is the one an evaluation must match
    checkpoint_step = last_checkpoint_step(run_dir)
    if checkpoint_step is None:
        evaluation, stale = _read_json(run_dir / EVALUATION_FILE), None
    else:
        evaluation, stale = read_evaluation(run_dir, checkpoint_step)
    return RunData(
        run_dir=run_dir,
        config=_read_config(config_path),
        steps=steps,
        metrics=metrics,
        summary=_read_json(run_dir / "run.json"),
        evaluation=evaluation,
        grid_steps={name: _grid_steps(run_dir / "images" / name) for name in GRID_NAMES},
        stale_evaluation=stale or "",
    )


def read_metrics(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """metrics.csv -> (steps (N,), {metric name: (N,) float64}); at least one row."""
    run_dir = path.parent
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no metrics.csv in this run directory")
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header) != CSV_COLUMNS:
            raise RunDirError(f"{path}: not an infogan metrics file (unexpected header)")
        try:
            rows = [[float(v) for v in row] for row in reader if row]
        except ValueError as exc:
            raise RunDirError(f"{path}: unreadable value ({exc})") from None
    if not rows:
        raise RunDirError(f"{run_dir}: metrics.csv has no rows yet (the run logged nothing)")
    if any(len(row) != len(CSV_COLUMNS) for row in rows):
        raise RunDirError(f"{path}: a row has the wrong number of columns")
    table = np.asarray(rows, dtype=np.float64)  # (N, len(CSV_COLUMNS))
    steps = table[:, 0].astype(np.int64)
    metrics = {name: table[:, 2 + i] for i, name in enumerate(METRIC_NAMES)}
    return steps, metrics


def _read_config(path: Path) -> RunConfig:
    raw = _read_json(path)
    try:
        return RunConfig.from_dict(raw)
    except ConfigError as exc:
        raise RunDirError(f"{path}: {exc}") from None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RunDirError(f"{path}: expected a JSON object")
    return value


def _grid_steps(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit())

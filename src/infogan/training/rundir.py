"""The run directory's layout: what ``infogan train`` writes and the report reads.

``RUN_DIR/config.json`` (the resolved config), ``metrics.csv`` (one row per step, columns
:data:`CSV_COLUMNS`), ``images/{fixed,varying_c1,varying_c2}/STEP.png``,
``checkpoints/step_NNNNNN.pt`` and ``checkpoints/last.pt``, ``run.json`` (the summary of
a finished run); later ``eval.json`` (``infogan eval``), ``report.html`` and ``figures/``
(the report) and ``tensorboard/``. A new run goes only into a new or empty folder, or one
without any of these names; ``--overwrite`` replaces a real run and removes exactly these.
This module needs no torch.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
from pathlib import Path

from infogan.config import RunConfig
from infogan.errors import ConfigError, RunDirError
from infogan.fileio import atomic_open, nearest_existing

try:
    import fcntl
except ImportError:  # no advisory locks on this system: runs go unguarded
    fcntl = None

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
#: everything a run and the commands that follow it write into its directory (eval.txt:
#: the quick start's copy of ``infogan eval``'s table): what --overwrite removes, and all
RUN_FILES = ("config.json", "metrics.csv", "run.json", "eval.json", "eval.txt", "report.html")
RUN_FOLDERS = ("images", "checkpoints", "figures", "tensorboard")


def is_run_dir(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an infogan run, finished or not: its config.json is a run
    configuration (a preset, the model and training sections, every field known), or its
    metrics.csv starts with infogan's header."""
    try:
        raw = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
        if isinstance(raw, dict) and {"preset", "model", "train"} <= set(raw):
            RunConfig.from_dict(raw)
            return True
    except (OSError, ValueError, TypeError, ConfigError):
        pass
    try:
        with open(Path(run_dir) / "metrics.csv", newline="") as fh:
            return tuple(next(csv.reader(fh), ())) == CSV_COLUMNS
    except (OSError, ValueError, csv.Error):
        return False


def run_entries(run_dir: Path) -> list[str]:
    """The names of :data:`RUN_FILES` and :data:`RUN_FOLDERS` present in ``run_dir``."""
    return [n for n in (*RUN_FILES, *RUN_FOLDERS) if os.path.lexists(Path(run_dir) / n)]


def check_run_dir(run_dir: Path, *, overwrite: bool = False) -> None:
    """A :class:`RunDirError` if a new run may not go into ``run_dir``; writes nothing.

    A new run goes into a missing folder or one holding none of the names a run writes;
    an infogan run there is replaced only with ``overwrite``; a folder holding some of
    those names that is not a run is refused either way (its files are the user's).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: exists and is not a directory")
    present = run_entries(run_dir) if run_dir.is_dir() else []
    if present and not is_run_dir(run_dir):
        raise RunDirError(
            f"{run_dir}: not an infogan run directory, but it holds {', '.join(present)}, "
            "which a run would write; pick an empty or new folder"
        )
    if present and not overwrite:
        raise RunDirError(
            f"{run_dir}: already holds a run; pick another --run-dir or pass --overwrite"
        )
    existing = nearest_existing(run_dir)
    if not existing.is_dir():
        raise RunDirError(f"{run_dir}: run directory is not writable ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirError(f"{run_dir}: run directory is not writable (permission denied)")


def prepare_run_dir(run_dir: Path, *, overwrite: bool = False) -> Path:
    """Create ``run_dir`` for a new run (after :func:`check_run_dir`); with ``overwrite``,
    remove the run already there first."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir, overwrite=overwrite)
    if run_dir.is_dir():
        remove_run_files(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"{run_dir}: run directory is not writable ({exc.strerror})") from None
    return run_dir


def remove_run_files(run_dir: Path) -> None:
    """Remove what a run wrote into ``run_dir`` (:func:`run_entries`), nothing else."""
    for name in run_entries(run_dir):
        path = Path(run_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


class RunLock:
    """An exclusive advisory lock on a run directory (``flock`` on the folder itself), held
    by the one process training into it, so that a second ``infogan train`` into the same
    folder (new, ``--overwrite`` or ``--resume``) is refused before it writes anything. The
    system releases it when the process ends, however it ends."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock; nothing to do where the folder does not exist yet (the caller
        makes it, then takes the lock) or the file system has no locks. A
        :class:`RunDirError` where another process holds it."""
        if self._fd is not None or fcntl is None:
            return
        try:
            fd = os.open(self.run_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(
                f"{self.run_dir}: another infogan train is writing this run now; wait for it "
                "to end (or stop it: Ctrl-C saves it), then try again"
            ) from None
        except OSError:  # a file system without flock (some network ones)
            os.close(fd)
            return
        self._fd = fd

    def claim(self, *, overwrite: bool, resumed_step: int | None) -> None:
        """Take the lock for a new run (``resumed_step`` None: the folder is checked as
        :func:`check_run_dir` does) or for resuming one from ``resumed_step``, refused
        where another process wrote a later checkpoint meanwhile."""
        self.acquire()
        if resumed_step is None:
            check_run_dir(self.run_dir, overwrite=overwrite)
        elif last_checkpoint_step(self.run_dir) not in (None, resumed_step):
            raise RunDirError(
                f"{self.run_dir}: its last checkpoint changed while this resume read it "
                "(another infogan train wrote it); run the command again"
            )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist (None: ``path`` does):
    what making ``path`` creates."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def discard_new_run(run_dir: Path, created: Path | None) -> None:
    """Undo a new run that failed before its first checkpoint: remove its files and the
    folders making ``run_dir`` created (``created``: :func:`first_missing` before), if
    they are empty; a folder that was there before keeps everything else it holds."""
    remove_run_files(run_dir)
    if created is None:
        return
    folder = Path(run_dir)
    while True:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder == created or folder == folder.parent:
            return
        folder = folder.parent


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


def last_checkpoint_step(run_dir: Path) -> int | None:
    """The step of ``checkpoints/last.pt``, from the ``step_N.pt`` it is a hard link of
    (:func:`replace_with_link`), or a copy of with the same size and time (a run copied
    with its times); None where there is no telling."""
    last = Path(run_dir) / "checkpoints" / "last.pt"
    try:
        mine = last.stat()
    except OSError:
        return None
    for path in sorted(last.parent.glob("step_*.pt"), reverse=True):
        with contextlib.suppress(OSError, ValueError):
            other = path.stat()
            copied = (other.st_size, other.st_mtime_ns) == (mine.st_size, mine.st_mtime_ns)
            if os.path.samestat(other, mine) or copied:
                return int(path.stem.removeprefix("step_"))
    return None


def replace_with_link(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source`` atomically (hard link, else a copy)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)

"""A trained model as a folder to share: weights, config, evaluation, figures, model card.

``infogan export RUN_DIR --out DIR`` writes::

    DIR/model.safetensors   generator, discriminator with Q, fixed noise (weights.py)
    DIR/config.json         the run's config and what rebuilding the nets needs
    DIR/eval.json           the run's evaluation, when it has one
    DIR/samples.png         ten noise draws x the codes (columns in digit order
    DIR/sweep_c1.png        once evaluated), and each continuous code swept -1 -> +1
    DIR/sweep_c2.png        (and sweep_c3.png on, where the run has more codes)
    DIR/README.md           the model card

The folder is written beside its destination (``.DIR.export-PID``) and renamed into place,
so a failed export leaves nothing half-written; the staging folder of an export that was
killed is removed by the next export to the same place. The run's eval.json travels only
when it was measured at the exported checkpoint's step. :func:`load_exported` reads the
folder back without any pickle and checks the weights against the digest in config.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from infogan.config import RunConfig, get_preset
from infogan.data import sha256_of
from infogan.errors import CheckpointError, ConfigError, RunDirError
from infogan.evaljson import EVAL_NAME, read_evaluation, run_dir_of
from infogan.export import weights
from infogan.export.weights import STORAGES
from infogan.fileio import as_path, check_writable

CONFIG_FORMAT = "infogan-model-config"
CONFIG_FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def figure_names(num_continuous: int) -> dict[str, str]:
    """The folder's figures: ``samples`` and a sweep of each continuous code (``c1``, ...)."""
    sweeps = {f"c{i}": f"sweep_c{i}.png" for i in range(1, num_continuous + 1)}
    return {"samples": "samples.png", **sweeps}


@dataclass(frozen=True)
class Exported:
    """An exported folder, read back."""

    folder: Path
    config: RunConfig
    state: dict[str, Any]  # generator, discriminator (float32 state dicts), step, fixed_noise
    info: dict[str, Any]  # config.json as written
    evaluation: dict[str, Any]  # eval.json, empty when the folder has none


def is_exported(path: Path | str) -> bool:
    """A folder holding ``model.safetensors``, or a ``.safetensors`` file (which
    :func:`load_exported` takes only as a folder's ``model.safetensors``). A missing
    file is none: it is reported as missing, not as an exported model."""
    path = Path(path)
    if path.is_dir():
        return (path / WEIGHTS_NAME).is_file()
    return path.suffix == ".safetensors" and path.is_file()


def training_command(config: RunConfig) -> str:
    """The ``infogan train`` command that trains ``config`` from its preset."""
    try:
        base = get_preset(config.preset).to_dict()
    except ConfigError:
        base = RunConfig().to_dict()
    words = ["infogan", "train", "--preset", config.preset]
    raw = config.to_dict()
    for section, values in raw.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if name in ("device", "log_every") or value == base[section].get(name):
                continue
            if (section, name) == ("data", "channels") and base[section][name] == 0:
                continue  # resolved from the dataset when training starts
            if (section, name) == ("train", "seed"):
                words += ["--seed", str(value)]
            else:
                words += ["--set", f"'{section}.{name}={json.dumps(value)}'"]
    return " ".join(words)


def _warn_on_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def export_model(
    source: Path | str,
    out: Path | str,
    *,
    storage: str = "float32",
    overwrite: bool = False,
    log: Callable[[str], None] = _warn_on_stderr,
) -> Path:
    """Export a run directory (or checkpoint file) into the folder ``out``; return it.

    ``storage`` is how the weights are kept: "float32" as trained, "bfloat16" (half the
    size) or "int8" (about a quarter; see :mod:`infogan.export.weights`). ``overwrite``
    replaces an earlier export in ``out`` (never a folder of other files), once the new
    one is complete. ``log`` receives the warnings (an eval.json left out because it was
    measured at another step than the checkpoint's).
    """
    from infogan.api import InfoGANModel, find_checkpoint, read_checkpoint, sampling_generator
    from infogan.export.card import draw_figures, write_card

    source = as_path(source, "source", kinds="a run directory or a checkpoint (.pt)")
    out = as_path(out, "out", kinds="the folder to export into")
    if not callable(log):
        raise ConfigError(f"log must be a function taking a line of text, got {log!r:.60}")
    if not isinstance(storage, str) or storage not in STORAGES:
        raise ConfigError(f"--storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    if is_exported(source):
        raise RunDirError(
            f"{source}: already an exported model; export takes a run directory or a "
            "checkpoint (.pt) (to share this folder, copy it; for another --storage, export "
            "the run it came from)"
        )
    _refuse_out_overlapping_source(find_checkpoint(source), out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out}: exists and is not a folder")
    _check_out_writable(out)
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise RunDirError(f"{out}: not empty; pick another --out or pass --overwrite")
        if not is_exported(out):  # --overwrite replaces an export, never other files
            raise RunDirError(
                f"{out}: not an exported model (no {WEIGHTS_NAME}), so --overwrite will not "
                "empty it; pick an empty or new folder"
            )
    _checkpoint, state, config = read_checkpoint(source)
    run_dir = run_dir_of(source)
    evaluation = _evaluation_at_step(Path(source), int(state["step"]), log)
    summary = _read_json(run_dir / "run.json")

    staging = out.parent / f".{out.name}.export-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_staging(out)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot export there ({exc.strerror})") from None
    try:
        nets = {"generator": sampling_generator(state), "discriminator": state["discriminator"]}
        tensors = weights.pack(nets, state.get("fixed_noise"), storage)
        weights.write_weights(staging / WEIGHTS_NAME, tensors, storage=storage)
        info = {
            "format": CONFIG_FORMAT,
            "format_version": CONFIG_FORMAT_VERSION,
            "config": config.to_dict(),
            "step": int(state["step"]),
            "storage": storage,
            "weights_sha256": sha256_of(staging / WEIGHTS_NAME),
            "provenance": {
                "command": training_command(config),
                "commit": summary.get("commit"),
                "hardware": summary.get("hardware"),
                "precision": summary.get("precision"),
                "seconds": summary.get("seconds"),
                "torch": summary.get("torch"),
                "infogan": summary.get("infogan"),
                "finished_at": summary.get("finished_at"),
            },
        }
        _write_json(staging / CONFIG_NAME, info)
        if evaluation:
            _write_json(staging / EVAL_NAME, evaluation)
        model = InfoGANModel(config, _exported_state(tensors, state["step"]))
        names = figure_names(config.latent.num_continuous)
        draw_figures(model, evaluation, staging, names)
        write_card(staging / CARD_NAME, info, evaluation, names)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def refresh_card(folder: Path | str, model: Any, evaluation: dict[str, Any]) -> None:
    """Redraw an exported folder's figures and card after its weights were evaluated
    (``infogan eval FOLDER`` calls this beside writing the folder's eval.json)."""
    from infogan.export.card import draw_figures, write_card

    folder = Path(folder)
    info = _read_model_config(folder / CONFIG_NAME)
    names = figure_names(model.config.latent.num_continuous)
    draw_figures(model, evaluation, folder, names)
    write_card(folder / CARD_NAME, info, evaluation, names)


def _exported_state(tensors: dict[str, torch.Tensor], step: int) -> dict[str, Any]:
    """The state the exported file restores (so the figures show the stored weights)."""
    states, fixed_noise = weights.unpack(tensors)
    return {**states, "step": step, "fixed_noise": fixed_noise}


def _refuse_out_overlapping_source(checkpoint: Path, out: Path) -> None:
    """A RunDirError, before anything is written, if ``out`` is, holds or lies inside the
    run being exported (for a checkpoint outside a run's checkpoints/: if ``out`` holds
    it): ``--overwrite`` would delete what is being exported. Symbolic links are followed."""
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    guarded = (run_dir or checkpoint).resolve()
    target = out.resolve()
    if target.is_relative_to(guarded) or guarded.is_relative_to(target):
        what = f"the run being exported, {run_dir}" if run_dir else f"the checkpoint {checkpoint}"
        raise RunDirError(f"--out {out}: is, holds or lies inside {what}; pick a folder outside it")


def _check_out_writable(out: Path) -> None:
    """A RunDirError naming ``out``, before any work, if the folder beside it (where the
    export is staged, then renamed into place) cannot take new files."""
    try:
        check_writable(out.parent / f".{out.name}.export-probe")
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot export there ({exc.strerror})") from None


def _evaluation_at_step(source: Path, step: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The evaluation of ``source`` (a run or checkpoint) if it measured ``step``, else {}
    (and a warning when there is one of another step)."""
    evaluation, problem = read_evaluation(source, step)
    if problem is not None:
        log(f"warning: {problem}, then export, to include it; exported without it")
    return evaluation


def _remove_dead_staging(out: Path) -> None:
    """Remove what exports to ``out`` that were killed left beside it: their staging
    folders, and a replaced folder whose successor is in place. Folders of an export whose
    process still runs are left alone."""
    leftover_name = re.compile(rf"\.{re.escape(out.name)}\.(export|replaced)-(\d+)")
    for leftover in out.parent.iterdir():
        match = leftover_name.fullmatch(leftover.name)
        if not match or not leftover.is_dir() or _process_alive(int(match[2])):
            continue
        if match[1] == "replaced" and not out.is_dir():
            continue  # killed mid-swap: that folder is the only copy of the old export
        shutil.rmtree(leftover, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process, or no way to tell: keep its folder
    return True


def _move_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.parent / f".{out.name}.replaced-{os.getpid()}"
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def load_exported(path: Path | str) -> Exported:
    """Read an exported folder (or its ``model.safetensors``); one-line errors for anything
    missing, truncated, foreign, or weights that do not match config.json's digest."""
    folder = Path(path)
    if folder.suffix == ".safetensors":
        if folder.name != WEIGHTS_NAME:
            raise CheckpointError(
                f"{folder}: an exported model is read as a folder with {WEIGHTS_NAME} and "
                f"{CONFIG_NAME}; name the folder or its {WEIGHTS_NAME}"
            )
        folder = folder.parent
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such model folder")
    info = _read_model_config(folder / CONFIG_NAME)
    tensors, storage = weights.read_weights(
        folder / WEIGHTS_NAME, expected_sha256=info.get("weights_sha256")
    )
    try:
        config = RunConfig.from_dict(info["config"]).validate()
    except ConfigError as exc:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {exc}") from None
    step = info.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{folder / CONFIG_NAME}: 'step' must be a non-negative integer")
    states, fixed_noise = weights.unpack(tensors, folder / WEIGHTS_NAME)
    state = {**states, "step": step, "fixed_noise": fixed_noise, "storage": storage}
    return Exported(folder, config, state, info, _read_json(folder / EVAL_NAME))


def _read_model_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; an exported model folder needs its config.json")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not readable JSON ({str(exc)[:80]})") from None
    if not isinstance(info, dict) or info.get("format") != CONFIG_FORMAT:
        raise CheckpointError(f"{path}: not an infogan model config (format {CONFIG_FORMAT})")
    if info.get("format_version") != CONFIG_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: model config version {info.get('format_version')}, "
            f"this infogan reads {CONFIG_FORMAT_VERSION}"
        )
    if not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{path}: lacks the run configuration ('config')")
    digest = info.get("weights_sha256")  # every export records it; without, loads unchecked
    if digest is not None and not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest)):
        raise CheckpointError(f"{path}: 'weights_sha256' is not a SHA-256 hex digest")
    return info


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or {} when the file is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


__all__ = [
    "STORAGES",
    "Exported",
    "export_model",
    "is_exported",
    "load_exported",
    "refresh_card",
]

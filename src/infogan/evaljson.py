"""``eval.json`` beside a model: where ``infogan eval`` writes it, and whether it measured
the model it sits beside.

Every reader (the API, the explorer, ``generate --categories by-digit``, the export and
the report) goes through :func:`read_evaluation`, so that an evaluation of another step
(a run that went on, or an older checkpoint) is treated the same way everywhere: left
out, with a line saying what to run. Importing this module loads no torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVAL_NAME = "eval.json"


def run_dir_of(path: Path | str) -> Path:
    """The run directory behind a run directory or a checkpoint file: a checkpoint in a
    run's ``checkpoints/`` belongs to that run, a loose one to its folder."""
    path = Path(path)
    if path.is_dir():
        return path
    parent = path.parent
    return parent.parent if parent.name == "checkpoints" else parent


def eval_json_path(model: Path | str) -> Path:
    """Where the evaluation of ``model`` lives: the ``eval.json`` of a run directory (for
    its ``checkpoints/last.pt`` too) or of an exported folder; ``step_N.eval.json`` beside
    an older ``checkpoints/step_N.pt``, so that it never replaces the run's own; the
    ``eval.json`` beside a loose checkpoint file."""
    path = Path(model)
    if path.is_dir():
        return path / EVAL_NAME
    if path.parent.name == "checkpoints" and path.name != "last.pt":
        return path.with_suffix(".eval.json")
    return run_dir_of(path) / EVAL_NAME


def read_evaluation(model: Path | str, step: int) -> tuple[dict[str, Any], str | None]:
    """The evaluation of ``model`` (at ``step``) and why it was left out, if it was.

    ``({}, None)`` where there is none; ``({}, why)`` where the file cannot be read, is no
    JSON object, or measured another step than ``step`` (``why`` ends with the command
    that measures this model); an evaluation that records no step is taken as it is.
    """
    path = eval_json_path(model)
    if not path.is_file():
        return {}, None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return {}, f"{path}: cannot read ({exc.strerror})"
    except ValueError as exc:  # UnicodeDecodeError is one too
        return {}, f"{path}: not valid JSON ({exc})"
    if not isinstance(value, dict):
        return {}, f"{path}: not an infogan eval.json (expected a JSON object)"
    measured = value.get("step", step)
    if measured != step:
        return {}, (
            f"{path}: measured step {measured}, the model is at step {step}; run "
            f"`infogan eval {model}` again"
        )
    return value, None

"""What the benchmark scripts share on their command line: argument types that refuse a
bad value by name before any work starts, a check that the record can be written (made
before a run of minutes or hours, not after it), and the record written whole.

Not a benchmark itself: ``python benchmarks/NAME.py --help`` says what each one does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from infogan.errors import InfoGANError
from infogan.fileio import atomic_open


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_ints(text: str) -> list[int]:
    """An argparse type: comma-separated positive integers ("500,1000")."""
    return [positive_int(item) for item in text.split(",")]


def preset_names(text: str) -> list[str]:
    """An argparse type: comma-separated names of presets, each one known."""
    from infogan.config import get_preset

    names = [name for name in text.split(",") if name]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one preset")
    for name in names:
        try:
            get_preset(name)
        except InfoGANError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def precision_names(text: str) -> list[str]:
    """An argparse type: comma-separated precisions (auto, fp32, bf16)."""
    from infogan.config import PRECISIONS

    names = [name for name in text.split(",") if name]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one precision")
    for name in names:
        if name not in PRECISIONS:
            raise argparse.ArgumentTypeError(
                f"unknown precision {name!r}; expected some of {', '.join(PRECISIONS)}"
            )
    return names


def unwritable(path: Path) -> str | None:
    """Why a file could not be written at ``path`` (its missing folders made first), or
    None if it could."""
    if path.is_dir():
        return "is a directory"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror or exc})"
    return None


def add_presets_and_precisions(parser: argparse.ArgumentParser, presets: str) -> None:
    """``--presets`` (default ``presets``) and ``--precisions`` (bf16,fp32), both lists."""
    parser.add_argument(
        "--presets", type=preset_names, default=presets, help=f"comma-separated ({presets})"
    )
    parser.add_argument(
        "--precisions",
        type=precision_names,
        default="bf16,fp32",
        help="comma-separated, of auto, fp32, bf16 (bf16,fp32)",
    )


def refused(script: str, exc: Exception) -> int:
    """``SCRIPT: error: WHY`` on stderr, as argparse words its own refusals; returns the
    exit status, 1."""
    print(f"{script}: error: {exc}", file=sys.stderr)
    return 1


def check_output(parser: argparse.ArgumentParser, path: Path | None, flag: str = "--json"):
    """Refuse now, in one line, a record that could not be written when the run ends."""
    problem = None if path is None else unwritable(path)
    if problem:
        parser.error(f"{flag} {path}: {problem}")


def write_json(path: Path, data) -> None:
    """``data`` as indented JSON at ``path`` (its folder made); the text is made before the
    file is opened, so that a value JSON cannot hold leaves no half-written file.
    Raises InfoGANError if it cannot be written."""
    text = json.dumps(data, indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "w") as fh:  # whole or not at all, even if the disk fills
            fh.write(text)
    except OSError as exc:
        raise InfoGANError(f"{path}: cannot write the record ({exc.strerror or exc})") from None

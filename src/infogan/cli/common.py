"""What the commands share: the data-directory option, whether to draw progress bars, and
the check of an output file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infogan.errors import ConfigError
from infogan.fileio import check_writable


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the MNIST IDX files live (default: $INFOGAN_DATA_DIR or ./data)",
    )


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``--no-progress``, and only on a terminal: tqdm redraws them on
    stderr with carriage returns, which a log file or a pipe would keep, every redraw."""
    stream = sys.stderr
    return not args.no_progress and stream is not None and stream.isatty()


def check_out(path: Path) -> Path:
    """``--out``, refused before any work with one line naming it and why if it cannot be
    written: a directory there, a file where a folder should be, a folder that takes no
    new files. (Missing folders are fine: the write creates them.)"""
    try:
        return check_writable(path)
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write here ({exc.strerror or exc})") from None

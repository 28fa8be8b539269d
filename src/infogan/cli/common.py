"""What the commands share: the data-directory option."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the MNIST IDX files live (default: $INFOGAN_DATA_DIR or ./data)",
    )

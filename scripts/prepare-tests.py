"""Make the data the tests read once, before they start: Fashion-MNIST's files where this
machine has them (Debian's dataset-fashion-mnist), copied into the data directory beside
MNIST's. Two test workers would otherwise both copy them."""

from __future__ import annotations

import sys

from infogan.data import FASHION_MNIST, default_data_dir, fetch_dataset
from infogan.errors import DataError


def main() -> int:
    try:
        fetch_dataset(FASHION_MNIST, default_data_dir(), log=lambda m: print(m, file=sys.stderr))
    except DataError as exc:  # its tests say so and skip (or fail under CI=true)
        print(f"prepare-tests: Fashion-MNIST not available: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

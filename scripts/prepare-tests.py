"""Make the data the tests read once, before they start: Fashion-MNIST's files where this
machine has them (Debian's dataset-fashion-mnist), and the MNIST and Fashion-MNIST
evaluation classifiers, trained once and cached in the data directory beside the files
(later calls find them there). Two test workers would otherwise both train them."""

from __future__ import annotations

import sys

from infogan.data import FASHION_MNIST, MNIST, default_data_dir, fetch_dataset
from infogan.errors import DataError
from infogan.evaluate.classifier import get_classifier


def main() -> int:
    data_dir = default_data_dir()
    datasets = [MNIST]
    try:
        fetch_dataset(FASHION_MNIST, data_dir, log=lambda msg: print(msg, file=sys.stderr))
        datasets.append(FASHION_MNIST)
    except DataError as exc:  # its tests say so and skip (or fail under CI=true)
        print(f"prepare-tests: Fashion-MNIST not available: {exc}", file=sys.stderr)
    for dataset in datasets:
        classifier = get_classifier(data_dir, dataset=dataset, progress=False)
        print(f"{dataset.title} classifier ready ({classifier.path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures: the real MNIST files, fetched once per machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infogan.data import fetch_mnist

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """A directory with the four verified MNIST files ($INFOGAN_DATA_DIR or ./data)."""
    data_dir = Path(os.environ.get("INFOGAN_DATA_DIR") or REPO / "data")
    return fetch_mnist(data_dir)


@pytest.fixture(scope="session")
def mnist_train_64(mnist_dir):
    """The training digits at 64x64 in [-1, 1], loaded once for the session."""
    from infogan.data import load_mnist

    images, labels = load_mnist(mnist_dir, split="train", image_size=64)
    return images, labels

"""InfoGAN on MNIST: interpretable latent codes learned without labels.

Public API::

    from infogan import get_preset, train, load_model
    run = train(get_preset("quick64"), "runs/quick")
    model = load_model(run)
    images = model.generate([3, 3, 7], [[-1, 0], [1, 0], [0, 0]], seed=1)
"""

__version__ = "0.1.0"

from infogan.api import InfoGANModel, load_model
from infogan.config import PRESETS, RunConfig, get_preset
from infogan.data import fetch_mnist, load_mnist
from infogan.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    InfoGANError,
    RunDirError,
)
from infogan.train import train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "InfoGANError",
    "InfoGANModel",
    "RunConfig",
    "RunDirError",
    "__version__",
    "fetch_mnist",
    "get_preset",
    "load_mnist",
    "load_model",
    "train",
]

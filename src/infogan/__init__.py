"""InfoGAN on MNIST: interpretable latent codes learned without labels.

Public API::

    from infogan import InfoGANModel, get_preset, train, load_model, export_model
    model = InfoGANModel.from_pretrained()  # the model that ships with the package
    images = model.generate([3, 3, 7], [[-1, 0], [1, 0], [0, 0]], seed=1)
    run = train(get_preset("quick64"), "runs/quick")
    export_model(run, "models/quick64")  # a folder to share; load_model reads it

The names are loaded when first used, so that ``import infogan`` (and ``infogan
--help``) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "InfoGANModel": "infogan.api",
    "load_model": "infogan.api",
    "export_model": "infogan.export",
    "PRESETS": "infogan.config",
    "RunConfig": "infogan.config",
    "get_preset": "infogan.config",
    "fetch_mnist": "infogan.data",
    "load_mnist": "infogan.data",
    "CheckpointError": "infogan.errors",
    "ConfigError": "infogan.errors",
    "DataError": "infogan.errors",
    "InfoGANError": "infogan.errors",
    "RunDirError": "infogan.errors",
    "train": "infogan.training.run",
    "resume": "infogan.training.run",
}

if TYPE_CHECKING:
    from infogan.api import InfoGANModel, load_model
    from infogan.config import PRESETS, RunConfig, get_preset
    from infogan.data import fetch_mnist, load_mnist
    from infogan.errors import CheckpointError, ConfigError, DataError, InfoGANError, RunDirError
    from infogan.export import export_model
    from infogan.training.run import resume, train


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'infogan' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
    "export_model",
    "fetch_mnist",
    "get_preset",
    "load_mnist",
    "load_model",
    "resume",
    "train",
]

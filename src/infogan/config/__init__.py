"""Typed configuration: data, latent code, model and training, and the named presets.

- :mod:`~infogan.config.values`: the values a config may take (architectures, datasets, ...);
- :mod:`~infogan.config.schema`: the dataclasses, their JSON form and ``--set`` settings;
- :mod:`~infogan.config.checks`: every value checked, one clear error for the first bad one;
- :mod:`~infogan.config.upgrade`: configs written by earlier versions;
- :mod:`~infogan.config.presets`: the named presets.

The package imports nothing of infogan's above it. Every name is importable from here.
"""

from infogan.config.checks import check_dataset_name
from infogan.config.presets import (
    C1_AS_TILT,
    C2_FROM_TURNED_COPIES,
    PAPER28,
    PRESETS,
    QUICK28,
    QUICK64,
    RESTYLE28,
    SEED64,
    START28,
    TILT28,
    TILT64,
    TILTWIDTH28,
    get_preset,
)
from infogan.config.schema import (
    SECTIONS,
    CodeReading,
    DataConfig,
    LatentConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    Transform,
    continuous_loss_name,
    load_config_file,
    parse_setting,
)
from infogan.config.values import (
    ARCH_SIZES,
    CONT_LOSSES,
    FOLDER_PREFIX,
    GAUSSIAN_Q_ARCHS,
    IDX_DATASET_NAMES,
    PRECISIONS,
    RESUMABLE,
    TRANSFORMS,
)

__all__ = [
    "ARCH_SIZES",
    "C1_AS_TILT",
    "C2_FROM_TURNED_COPIES",
    "CONT_LOSSES",
    "FOLDER_PREFIX",
    "GAUSSIAN_Q_ARCHS",
    "IDX_DATASET_NAMES",
    "PAPER28",
    "PRECISIONS",
    "PRESETS",
    "QUICK28",
    "QUICK64",
    "RESTYLE28",
    "RESUMABLE",
    "SECTIONS",
    "SEED64",
    "START28",
    "TILT28",
    "TILT64",
    "TILTWIDTH28",
    "TRANSFORMS",
    "CodeReading",
    "DataConfig",
    "LatentConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "Transform",
    "check_dataset_name",
    "continuous_loss_name",
    "get_preset",
    "load_config_file",
    "parse_setting",
]

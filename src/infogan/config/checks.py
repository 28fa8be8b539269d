"""Every value of a config checked, with a :class:`ConfigError` naming the first bad one
(by the command-line option that sets it, where there is one)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from infogan.config.values import (
    ARCH_SIZES,
    CONT_LOSSES,
    FOLDER_PREFIX,
    GAUSSIAN_Q_ARCHS,
    IDX_DATASET_NAMES,
    PRECISIONS,
    TRANSFORMS,
)
from infogan.errors import ConfigError

if TYPE_CHECKING:
    from infogan.config.schema import (
        CodeReading,
        DataConfig,
        LatentConfig,
        ModelConfig,
        TrainConfig,
    )


def check_dataset_name(name: Any) -> None:
    """Only the name: whether a folder exists is a question for the machine that trains."""
    if not isinstance(name, str):
        raise ConfigError(f"--dataset must be a name, got {name!r}")
    if name.startswith(FOLDER_PREFIX):
        if not name[len(FOLDER_PREFIX) :].strip():
            raise ConfigError("--dataset folder:PATH needs a path after 'folder:'")
        return
    if name not in IDX_DATASET_NAMES:
        raise ConfigError(
            f"unknown dataset {name!r}; expected {', '.join(IDX_DATASET_NAMES)} or folder:PATH"
        )


def validate_data(data: DataConfig, arch: str) -> None:
    check_dataset_name(data.dataset)
    size = ARCH_SIZES.get(arch)
    if size is not None and data.image_size != size:
        raise ConfigError(
            f"architecture {arch} works at {size}x{size}, "
            f"but the data is set to {data.image_size}x{data.image_size}"
        )
    if not isinstance(data.holdout, int) or data.holdout < 0:
        raise ConfigError(f"--holdout must be an integer >= 0, got {data.holdout}")
    if data.channels not in (0, 1, 3) or isinstance(data.channels, bool):
        raise ConfigError(
            f"data.channels must be 1 (grey), 3 (RGB) or 0 (detect), got {data.channels}"
        )


def validate_model(model: ModelConfig, train: TrainConfig) -> None:
    if model.arch not in ARCH_SIZES:
        raise ConfigError(
            f"unknown architecture {model.arch!r}; expected one of {', '.join(ARCH_SIZES)}"
        )
    # paper28's Q always has a hidden layer; seed64's categories get one with separate_q
    hidden = model.arch in GAUSSIAN_Q_ARCHS or model.separate_q
    over = model.overcluster
    if isinstance(over, bool) or over < 0 or over == 1:
        raise ConfigError(f"model.overcluster must be 0 (none) or an integer >= 2, got {over!r}")
    if over and not hidden:
        raise ConfigError(
            f"model.overcluster needs a Q with a hidden layer: paper28, or {model.arch} "
            f"with model.separate_q"
        )
    if over and train.lambda_cluster == 0:
        raise ConfigError(
            "model.overcluster needs the clustering term (--lambda-cluster > 0), which is "
            "all that trains it"
        )


def validate_train(t: TrainConfig, arch: str, num_continuous: int) -> None:
    for name in ("epochs", "batch_size", "sample_every", "checkpoint_every"):
        _positive_int(_flag(name), getattr(t, name))
    for name in ("log_every", "keep_checkpoints"):  # no options of their own
        _positive_int(f"train.{name}", getattr(t, name))
    if t.max_steps is not None:
        _positive_int("--max-steps", t.max_steps)
    if t.batch_size < 2:
        raise ConfigError("--batch-size must be at least 2 (BatchNorm needs a batch)")
    for name in ("lr_g", "lr_d"):
        value = getattr(t, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{_flag(name)} must be a positive finite number, got {value}")
    for name in ("beta1", "beta2", "g_average"):
        value = getattr(t, name)
        if not (math.isfinite(value) and 0 <= value < 1):
            raise ConfigError(f"train.{name} must be in [0, 1), got {value}")
    for name in ("lambda_cat", "lambda_cont", "lambda_cluster"):
        value = getattr(t, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{_flag(name)} must be a finite number >= 0, got {value}")
    if t.cont_loss not in CONT_LOSSES:
        raise ConfigError(
            f"train.cont_loss must be one of {', '.join(CONT_LOSSES)}, got {t.cont_loss!r}"
        )
    if t.cont_loss == "gaussian" and arch not in GAUSSIAN_Q_ARCHS:
        raise ConfigError(f"train.cont_loss 'gaussian' needs a Gaussian Q (paper28), not {arch}")
    if isinstance(t.cluster_reseed, bool) or t.cluster_reseed < 0:
        raise ConfigError(f"train.cluster_reseed must be an integer >= 0, got {t.cluster_reseed}")
    if isinstance(t.lr_decay_steps, bool) or t.lr_decay_steps < 0:
        raise ConfigError(f"train.lr_decay_steps must be an integer >= 0, got {t.lr_decay_steps}")
    if t.cluster_reseed and t.lambda_cluster == 0:
        raise ConfigError(
            "train.cluster_reseed needs the clustering term (--lambda-cluster > 0): it is what "
            "splits a reseeded code"
        )
    if t.reseed_halves and not t.cluster_reseed:
        raise ConfigError("train.reseed_halves needs the reseed check (train.cluster_reseed > 0)")
    _validate_readings(t.readings, num_continuous)
    if not (math.isfinite(t.lambda_turn_pair) and t.lambda_turn_pair >= 0):
        raise ConfigError(
            f"train.lambda_turn_pair must be a finite number >= 0, got {t.lambda_turn_pair}"
        )
    if t.lambda_turn_pair and not any(r.known_turn for r in t.readings):
        raise ConfigError(
            "train.lambda_turn_pair needs a code read from copies turned by a known angle "
            '(a train.readings entry with {"kind": "turn", "known": true}): that code and '
            "angle are what the pairs turn by"
        )
    if t.precision not in PRECISIONS:
        raise ConfigError(
            f"--precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}"
        )
    if not (0 <= t.seed < 2**63):
        raise ConfigError(f"--seed must be in [0, 2^63), got {t.seed}")
    if t.device not in ("auto", "cpu") and not _is_cuda_name(t.device):
        raise ConfigError(f"unknown device {t.device!r}; expected auto, cpu, cuda or cuda:N")


def _validate_readings(readings: tuple[CodeReading, ...], num_continuous: int) -> None:
    seen = set()
    for i, reading in enumerate(readings):
        where = f"train.readings[{i}]"
        if not 1 <= reading.code <= num_continuous:
            raise ConfigError(
                f"{where}.code {reading.code} names a continuous code that does not exist: "
                f"there are {num_continuous}, counted from 1"
            )
        if reading.code in seen:
            raise ConfigError(f"{where}: code {reading.code} is read from two kinds of copy")
        seen.add(reading.code)
        if not reading.transforms:
            raise ConfigError(f"{where}.transforms is empty: a copy must be changed somehow")
        for j, tr in enumerate(reading.transforms):
            here = f"{where}.transforms[{j}]"
            if tr.kind not in TRANSFORMS:
                raise ConfigError(
                    f"{here}.kind must be one of {', '.join(TRANSFORMS)}, got {tr.kind!r}"
                )
            top = {"restyle": 0.0, "turn": 180.0, "thicken": 1.0}[tr.kind]
            if tr.kind == "restyle" and (tr.amount or tr.known):
                raise ConfigError(f"{here}: restyle takes no amount and cannot be known")
            if tr.kind != "restyle" and not (math.isfinite(tr.amount) and 0 < tr.amount <= top):
                raise ConfigError(f"{here}.amount for {tr.kind} must be in (0, {top:g}]")


def validate_latent(lat: LatentConfig) -> None:
    # at least c1 and c2: a run draws a grid varying each (and the explorer reads two); at
    # most sizes whose networks and grids (K x K images for K categories) fit a machine
    for name, least, most in (
        ("noise_dim", 1, 4096),
        ("num_categories", 2, 100),
        ("num_continuous", 2, 16),
    ):
        value = getattr(lat, name)
        if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
            raise ConfigError(
                f"latent.{name} must be an integer from {least} to {most:,}, got {value!r}"
            )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _positive_int(shown: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{shown} must be a positive integer, got {value}")


def _is_cuda_name(name: str) -> bool:
    prefix, colon, index = name.partition(":")
    return prefix == "cuda" and (not colon or index.isdigit())

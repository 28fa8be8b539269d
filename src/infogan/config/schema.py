"""The config's dataclasses: data, latent code, model and training sections composed into
one frozen :class:`RunConfig`, its JSON form, and ``SECTION.FIELD=VALUE`` settings.

A run is described by one :class:`RunConfig`. The CLI changes a preset with
:meth:`RunConfig.with_settings` (``--set SECTION.FIELD=VALUE``) and validates the result
once. Nothing mutates a config after it is resolved, and the resolved config is saved as
``config.json`` in the run directory.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import numbers
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infogan.config.checks import validate_data, validate_latent, validate_model, validate_train
from infogan.config.upgrade import upgrade
from infogan.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist"  # mnist | fashion-mnist | folder:PATH (every PNG/JPEG under PATH)
    image_size: int = 64  # every image is resized once to this size (MNIST's 28x28 too)
    # 1 grey, 3 RGB; 0: as the data comes (the IDX datasets are grey, a folder is detected).
    # Training resolves 0 before it saves the config, so a saved config says 1 or 3.
    channels: int = 0
    # the last N training images are held out of training (a validation split for tuning)
    holdout: int = 0


@dataclass(frozen=True)
class LatentConfig:
    noise_dim: int = 52  # z ~ N(0, I)
    num_categories: int = 10  # one categorical code c_d, uniform over its values
    num_continuous: int = 2  # continuous codes c_c ~ U(-1, 1)

    @property
    def dim(self) -> int:
        return self.noise_dim + self.num_categories + self.num_continuous


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "seed64"  # key of ARCH_SIZES
    # Q's categorical code reads a hidden layer of its own: paper28 gives the continuous
    # codes another; seed64 keeps its linear reading of them (models/seed64.py)
    separate_q: bool = False
    # an over-clustering head with this many categories on Q's categorical hidden layer,
    # trained by the clustering term alongside the code's (0: none)
    overcluster: int = 0


@dataclass(frozen=True)
class Transform:
    """One change made to the copies a code is read from (one of :data:`TRANSFORMS`)."""

    kind: str
    amount: float = 0.0  # turn: degrees either way; thicken: fraction of a 3x3 dilation
    # Q's reading of the code is scored against the code plus the amount drawn for each
    # copy over ``amount`` (in [-1, 1]): the code must then measure this change
    known: bool = False


@dataclass(frozen=True)
class CodeReading:
    """Continuous code ``code`` (from 1) is read by Q from changed copies of 32 of each
    batch's generated digits, not from the digits themselves: an unknown change takes
    that factor away from the code, a known one gives it to the code."""

    code: int
    transforms: tuple[Transform, ...]

    @property
    def known_turn(self) -> float:
        """The degrees of this reading's known turn (0.0 without one)."""
        return next((t.amount for t in self.transforms if t.kind == "turn" and t.known), 0.0)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 80
    max_steps: int | None = None  # stop after this many iterations, even mid-epoch
    batch_size: int = 128
    lr_g: float = 1e-3
    lr_d: float = 2e-4  # also the Q head's rate: Q lives on D's trunk and optimizer
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cat: float = 1.0  # weight of the categorical information term; 0 and 0 = plain GAN
    lambda_cont: float = 1.0  # weight of the continuous information term
    cont_loss: str = "mse"  # one of CONT_LOSSES; "gaussian" needs a Gaussian Q (paper28)
    # weight of the clustering term on real digits (0 = off, as in the paper and the seed):
    # minus the mutual information of Q's categories of each digit and a restyled copy
    lambda_cluster: float = 0.0
    # every this many steps (0: never), from step twice that until 75% of the run, give a
    # starved categorical code (under half an equal share of the digits) the weights of
    # the most used one, or else the least used code of a group that restyled digits move
    # between and that holds over half an equal share fewer than it has codes (one digit
    # split over two codes) the weights of the most used code outside it, to be split again
    cluster_reseed: int = 0
    # a reseed parts the two codes' rows of Q along the line between the two halves of the
    # crowded code's digits (2-means in what Q's layer reads), not by random noise
    reseed_halves: bool = False
    # over the last this many steps (0: none), both learning rates fall linearly to zero
    lr_decay_steps: int = 0
    # continuous codes Q reads from transformed copies of generated digits, in this order
    readings: tuple[CodeReading, ...] = ()
    # weight of the turned-pair term (0 = off; needs a reading with a known turn): the
    # digit drawn with that code moved by d must be the digit drawn before, turned by d
    # times the reading's degrees (pixel squared error, added to G's loss)
    lambda_turn_pair: float = 0.0
    # decay of a running average of G's weights that samples, grids, evaluations and
    # exports use (0: G itself); training is the same either way
    g_average: float = 0.0
    sample_every: int = 500  # write the three grids every this many iterations
    checkpoint_every: int = 500  # write a checkpoint every this many iterations
    keep_checkpoints: int = 3  # newest step_N.pt files kept besides last.pt
    log_every: int = 25  # flush metrics to metrics.csv every this many iterations
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    channels_last: bool = True  # measured ~15% faster on CPU for the conv nets
    # auto | fp32 | bf16 (forward passes under bfloat16 autocast); auto: bf16 on CPUs
    # with native bfloat16 dot products (AVX-512 BF16 or AMX), fp32 elsewhere
    precision: str = "auto"
    compile: bool = False  # torch.compile the two networks (slower on the CPUs measured)
    # on a GPU, one process: capture the whole step as a CUDA graph (training/graph.py)
    cuda_graph: bool = True
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch

    @property
    def is_plain_gan(self) -> bool:
        """No term trains Q or ties G to the codes (the information term is still measured)."""
        return (
            self.lambda_cat == 0
            and self.lambda_cont == 0
            and self.lambda_cluster == 0
            and self.lambda_turn_pair == 0
        )


SECTIONS = {"data": DataConfig, "latent": LatentConfig, "model": ModelConfig, "train": TrainConfig}


def _check_fields(section: Any, name: str, keys: Any) -> None:
    """A ConfigError naming the fields of ``section`` (a section's class or value, called
    ``name``) if any of ``keys`` is not one of them."""
    fields = [f.name for f in dataclasses.fields(section)]
    for key in keys:
        if key not in fields:
            raise ConfigError(
                f"unknown setting '{name}.{key}'; {name}'s fields are {', '.join(fields)}"
            )


def _changed(section: Any, name: str, changes: dict[str, Any]) -> Any:
    """``section`` with ``changes`` (None values are ignored), its fields and their types
    checked as a config file's are (readings may be given in their JSON form)."""
    _check_fields(section, name, changes)
    hints = typing.get_type_hints(type(section))
    return dataclasses.replace(
        section,
        **{k: _typed(hints[k], v, f"{name}.{k}") for k, v in changes.items() if v is not None},
    )


@dataclass(frozen=True)
class RunConfig:
    """A whole run's configuration: the preset it started from and its four sections.
    Frozen: ``with_train``, ``with_model``, ``with_data``, ``with_length`` and
    ``with_settings`` return changed copies; ``validate`` checks every value; ``to_dict``
    and ``from_dict`` are its JSON form (``config.json``)."""

    preset: str = "seed64"
    data: DataConfig = field(default_factory=DataConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as ``config.json`` holds it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild a config from :meth:`to_dict` output (also one written by an earlier
        version, see :func:`~infogan.config.upgrade.upgrade`); an unknown key or a value
        of the wrong type is a :class:`ConfigError` naming it."""
        if not isinstance(raw, dict) or not isinstance(raw.get("preset"), str):
            raise ConfigError("malformed run configuration: expected an object with a 'preset'")
        raw = upgrade(raw)
        sections = {}
        for name, section in SECTIONS.items():
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"malformed run configuration: {name!r} must be an object")
            sections[name] = _build(section, values, name)
        unknown = set(raw) - {"preset", *SECTIONS}
        if unknown:
            raise ConfigError(f"unknown configuration section {sorted(unknown)[0]!r}")
        return cls(preset=raw["preset"], **sections)

    def with_settings(self, settings: Mapping[str, Any]) -> RunConfig:
        """A copy with ``{"SECTION.FIELD": value}`` changed (values as JSON gives them)."""
        if not isinstance(settings, Mapping):
            hint = " (parse a --set string with parse_setting)" if isinstance(settings, str) else ""
            raise ConfigError(
                f"settings must be a mapping of 'SECTION.FIELD' to values, got {settings!r:.60}"
                + hint
            )
        raw = self.to_dict()
        for key, value in settings.items():
            if not isinstance(key, str):
                raise ConfigError(f"setting {key!r:.60}: expected a 'SECTION.FIELD' string")
            section, _, name = key.partition(".")
            if section not in SECTIONS or not name:
                raise ConfigError(
                    f"setting {key!r}: expected SECTION.FIELD with SECTION one of "
                    f"{', '.join(SECTIONS)}"
                )
            _check_fields(SECTIONS[section], section, [name])
            raw[section][name] = value
        return RunConfig.from_dict(raw)

    def with_data(self, **changes: Any) -> RunConfig:
        """A copy with some data fields changed (None values are ignored)."""
        return dataclasses.replace(self, data=_changed(self.data, "data", changes))

    def with_model(self, **changes: Any) -> RunConfig:
        """A copy with some model fields changed (None values are ignored)."""
        return dataclasses.replace(self, model=_changed(self.model, "model", changes))

    def with_train(self, **changes: Any) -> RunConfig:
        """A copy with some training fields changed (None values are ignored)."""
        return dataclasses.replace(self, train=_changed(self.train, "train", changes))

    def with_length(self, *, epochs: int | None = None, max_steps: int | None = None) -> RunConfig:
        """A copy of another length where one is given: ``epochs`` without ``max_steps``
        makes the length that many epochs (the step limit, the preset's or a file's, goes)."""
        config = self.with_train(epochs=epochs, max_steps=max_steps)
        if epochs is not None and max_steps is None:
            config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, max_steps=None)
            )
        return config

    def validate(self) -> RunConfig:
        """Check every value, its type first; raise :class:`ConfigError` naming the first
        bad one."""
        _check_types(self)
        validate_data(self.data, self.model.arch)
        validate_model(self.model, self.train)
        validate_train(self.train, self.model.arch, self.latent.num_continuous)
        validate_latent(self.latent)
        return self


def load_config_file(path) -> dict[str, Any]:
    """A JSON object from ``path`` (``--config``); one line naming the file otherwise."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.loads(fh.read())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a JSON object of config sections")
    return raw


def parse_setting(text: str) -> tuple[str, Any]:
    """``SECTION.FIELD=VALUE`` -> (key, value); VALUE is JSON where it parses, else text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected SECTION.FIELD=VALUE")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    _check_fields(cls, where, values)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in values:
            raise ConfigError(f"{where}.{f.name} is missing")
    return cls(**{k: _typed(hints[k], v, f"{where}.{k}") for k, v in values.items()})


def _is_integer(value: Any) -> bool:
    """An int or numpy integer, not a bool (True is no count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked (and converted, for the nested dataclasses and numpy's numbers)
    against ``hint``."""
    if hint == tuple[CodeReading, ...]:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list of readings, got {value!r}")
        return tuple(_reading(v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if hint is int or (hint == int | None and value is not None):
        if not _is_integer(value):
            nullable = "" if hint is int else " or null"
            raise ConfigError(f"{where} must be an integer{nullable}, got {value!r}")
        return int(value)  # config.json holds plain ints, not numpy's
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value


def _reading(value: Any, where: str) -> CodeReading:
    if isinstance(value, CodeReading):
        return value
    if not isinstance(value, dict) or set(value) != {"code", "transforms"}:
        raise ConfigError(f"{where} must be an object with 'code' and 'transforms'")
    transforms = value["transforms"]
    if not isinstance(transforms, list | tuple):
        raise ConfigError(f"{where}.transforms must be a list, got {transforms!r}")
    return CodeReading(
        code=_typed(int, value["code"], f"{where}.code"),
        transforms=tuple(
            t
            if isinstance(t, Transform)
            else _build(Transform, t, f"{where}.transforms[{i}]")
            if isinstance(t, dict)
            else _bad_transform(t, f"{where}.transforms[{i}]")
            for i, t in enumerate(transforms)
        ),
    )


def _bad_transform(value: Any, where: str) -> Transform:
    raise ConfigError(f"{where} must be an object with 'kind', 'amount', 'known', got {value!r}")


def _check_types(config: RunConfig) -> None:
    """A ConfigError naming the first value of a hand-built config (``RunConfig(...)``,
    ``dataclasses.replace``) that is not of its field's type: the checks and config.json
    take the types for granted, and the ``with_*`` methods that check them were skipped."""
    if not isinstance(config.preset, str) or not config.preset.strip():
        raise ConfigError(f"preset must be a non-empty name, got {config.preset!r:.60}")
    for name, section in SECTIONS.items():
        _check_instance(getattr(config, name), section, name)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_instance(value: Any, cls: type, where: str) -> None:
    """``value`` an instance of the dataclass ``cls`` whose fields hold their types."""
    if not isinstance(value, cls):
        raise ConfigError(f"{where} must be a {cls.__name__}, got {value!r:.60}")
    for f in dataclasses.fields(cls):
        hint, item, here = _hints(cls)[f.name], getattr(value, f.name), f"{where}.{f.name}"
        if typing.get_origin(hint) is tuple:  # readings, a reading's transforms
            kind = typing.get_args(hint)[0]
            if not isinstance(item, tuple | list):
                raise ConfigError(f"{here} must be a tuple of {kind.__name__}, got {item!r:.60}")
            for i, one in enumerate(item):
                _check_instance(one, kind, f"{here}[{i}]")
            continue
        _typed(hint, item, here)
        if isinstance(item, numbers.Number) and not isinstance(item, int | float):
            raise ConfigError(  # config.json cannot hold numpy's numbers; with_* convert them
                f"{here} must be a plain {'int' if _is_integer(item) else 'float'}, not "
                f"{type(item).__name__} ({item!r}); "
                "set it with with_train (or with_data, ...), which converts it"
            )


def continuous_loss_name(config: RunConfig) -> str:
    """How Q's continuous codes are scored, as figures name it: "MSE" or "Gaussian NLL"."""
    return "Gaussian NLL" if config.train.cont_loss == "gaussian" else "MSE"

"""Typed configuration: data, latent code, model and training, and the named presets.

A run is described by one frozen :class:`RunConfig`. Presets are plain named configs;
the CLI changes a preset with :meth:`RunConfig.with_settings` (``--set SECTION.FIELD=VALUE``)
and validates the result once. Nothing mutates a config after it is resolved, and the
resolved config is saved as ``config.json`` in the run directory.

This module imports nothing above it: the architectures' image sizes and the dataset
names it checks are listed here, and :mod:`infogan.models` and :mod:`infogan.data` use
these lists.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from typing import Any

from infogan.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
#: how Q's continuous codes are scored: squared error of Q's estimates (the seed's Q; with
#: the paper's Gaussian Q, of its means), or the Gaussian's negative log-likelihood
CONT_LOSSES = ("mse", "gaussian")
#: the image size each architecture works at (:mod:`infogan.models` builds them)
ARCH_SIZES = {"seed64": 64, "paper28": 28}
#: architectures whose Q gives a mean and a log-std per continuous code
GAUSSIAN_Q_ARCHS = ("paper28",)
#: the IDX datasets by name; ``folder:PATH`` names every PNG/JPEG under PATH
IDX_DATASET_NAMES = ("mnist", "fashion-mnist")
FOLDER_PREFIX = "folder:"
#: what a transformed copy can have done to it (:mod:`infogan.augment`): ``restyle`` (a new
#: slant from MNIST's range and up to 20% narrower or wider), ``turn`` (by up to ``amount``
#: degrees either way), ``thicken`` (towards a 3x3 dilation or erosion by up to ``amount``)
TRANSFORMS = ("restyle", "turn", "thicken")
#: the only settings ``infogan train --resume`` may change: how long, and where
RESUMABLE = ("train.epochs", "train.max_steps", "train.device")


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
    # paper28: Q's categorical code and continuous codes each get their own hidden layer
    separate_q: bool = False
    # paper28: an over-clustering head with this many categories on Q's hidden layer,
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
    """Continuous code ``code`` (from 1) is read by Q from changed copies of the first
    generated digits of each batch, not from the digits themselves: an unknown change
    takes that factor away from the code, a known one gives it to the code."""

    code: int
    transforms: tuple[Transform, ...]


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
    # every this many steps (0: never), give a starved categorical code (under half an
    # equal share of the digits) the weights of the most used one, to be split again
    cluster_reseed: int = 0
    # continuous codes Q reads from transformed copies of generated digits, in this order
    readings: tuple[CodeReading, ...] = ()
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
    compile: bool = False  # torch.compile the two networks (pays on GPUs, after a warm-up)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch

    @property
    def is_plain_gan(self) -> bool:
        return self.lambda_cat == 0 and self.lambda_cont == 0


SECTIONS = {"data": DataConfig, "latent": LatentConfig, "model": ModelConfig, "train": TrainConfig}


@dataclass(frozen=True)
class RunConfig:
    preset: str = "seed64"
    data: DataConfig = field(default_factory=DataConfig)
    latent: LatentConfig = field(default_factory=LatentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild a config from :meth:`to_dict` output (also one written by an earlier
        version, see :func:`_upgrade`); an unknown key or a value of the wrong type is
        a :class:`ConfigError` naming it."""
        if not isinstance(raw, dict) or not isinstance(raw.get("preset"), str):
            raise ConfigError("malformed run configuration: expected an object with a 'preset'")
        raw = _upgrade(raw)
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

    def with_settings(self, settings: dict[str, Any]) -> RunConfig:
        """A copy with ``{"SECTION.FIELD": value}`` changed (values as JSON gives them)."""
        raw = self.to_dict()
        for key, value in settings.items():
            section, _, name = key.partition(".")
            if section not in SECTIONS or not name:
                raise ConfigError(
                    f"setting {key!r}: expected SECTION.FIELD with SECTION one of "
                    f"{', '.join(SECTIONS)}"
                )
            fields = [f.name for f in dataclasses.fields(SECTIONS[section])]
            if name not in fields:
                raise ConfigError(
                    f"unknown setting {key!r}; {section}'s fields are {', '.join(fields)}"
                )
            raw[section][name] = value
        return RunConfig.from_dict(raw)

    def with_data(self, **changes: Any) -> RunConfig:
        """A copy with some data fields changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **changes))

    def with_model(self, **changes: Any) -> RunConfig:
        """A copy with some model fields changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, model=dataclasses.replace(self.model, **changes))

    def with_train(self, **changes: Any) -> RunConfig:
        """A copy with some training fields changed (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))

    def validate(self) -> RunConfig:
        """Check every value; raise :class:`ConfigError` naming the first bad one."""
        _validate_data(self.data, self.model.arch)
        _validate_model(self.model, self.train)
        _validate_train(self.train, self.model.arch, self.latent.num_continuous)
        lat = self.latent
        if lat.noise_dim < 1 or lat.num_categories < 2 or lat.num_continuous < 0:
            raise ConfigError("latent code needs noise_dim >= 1 and num_categories >= 2")
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


# --- building sections from JSON ------------------------------------------------------


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ConfigError(
            f"unknown setting {where}.{unknown[0]}; {where}'s fields are {', '.join(names)}"
        )
    return cls(**{k: _typed(hints[k], v, f"{where}.{k}") for k, v in values.items()})


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked (and converted, for the nested dataclasses) against ``hint``."""
    if hint == tuple[CodeReading, ...]:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list of readings, got {value!r}")
        return tuple(_reading(v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if (
        hint == int | None
        and value is not None
        and (isinstance(value, bool) or not isinstance(value, int))
    ):
        raise ConfigError(f"{where} must be an integer or null, got {value!r}")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
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


# --- configs written by earlier versions ----------------------------------------------

#: settings earlier versions had and this one does not: name -> (value that behaves as
#: this version does, or a test of the whole section saying whether it is accepted)
_RETIRED: dict[str, Any] = {
    "cluster_pairs": lambda t: t.get("cluster_pairs", True) or not t.get("lambda_cluster"),
    "cluster_augment": lambda t: t["cluster_augment"] == "restyle" or not t.get("lambda_cluster"),
    "cluster_balance": lambda t: t["cluster_balance"] == 1.5 or not t.get("lambda_cluster"),
    "cluster_copies": lambda t: t["cluster_copies"] == 1,
    "q_cat_on_fakes": lambda t: t["q_cat_on_fakes"] is True,
    "augment_fakes": lambda t: t["augment_fakes"] is False,
    "cluster_resplit": lambda t: t["cluster_resplit"] == 0,
    "overcluster_weight": lambda t: t["overcluster_weight"] == 0.5,
    "lambda_orth": lambda t: t["lambda_orth"] == 0,
    "orth_samples": lambda t: True,  # used only with lambda_orth
    "thicken_code": lambda t: t["thicken_code"] == 0,
    "thicken_squeeze": lambda t: t["thicken_squeeze"] is False,
    "squeeze_code": lambda t: t["squeeze_code"] == 0,
    "tilt_from": lambda t: t["tilt_from"] == 0,
    "turn_samples": lambda t: t["turn_samples"] == 32,
}
#: settings earlier versions had that this one writes as ``readings`` and ``cont_loss``
_READING_SETTINGS = (
    "turn_code",
    "turn_degrees",
    "turn_restyle",
    "turn_thicken",
    "tilt_code",
    "tilt_degrees",
)


def _upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """A config written by an earlier version, in this version's terms: settings since
    retired are dropped where they sit at a value that behaves as this version does (and
    refused, naming them, where they do not); the codes read from turned copies become
    ``readings``; ``q_fixed_std`` becomes ``cont_loss``."""
    train = raw.get("train")
    if not isinstance(train, dict):
        return raw
    old = dict(train)
    new = {k: v for k, v in old.items() if k not in _RETIRED and k not in _READING_SETTINGS}
    for name, accepts in _RETIRED.items():
        if name in old and not accepts(old):
            raise ConfigError(
                f"setting train.{name}={old[name]!r} was retired (docs/experiments.md); this "
                "version cannot continue or load a run that uses it"
            )
    new.pop("q_fixed_std", None)
    arch = (raw.get("model") or {}).get("arch", "seed64")
    if "cont_loss" not in old:
        gaussian = arch in GAUSSIAN_Q_ARCHS and not old.get("q_fixed_std", False)
        new["cont_loss"] = "gaussian" if gaussian else "mse"
    if "readings" not in old:
        new["readings"] = _old_readings(old)
    data = dict(raw.get("data") or {})
    data.setdefault("channels", 1)  # configs saved before the channel count: grey MNIST
    return {**raw, "data": data, "train": new}


def _old_readings(old: dict[str, Any]) -> list[dict[str, Any]]:
    readings = []
    if old.get("turn_code"):
        transforms = [{"kind": "restyle"}] if old.get("turn_restyle") else []
        transforms.append({"kind": "turn", "amount": old.get("turn_degrees", 45.0)})
        if old.get("turn_thicken"):
            transforms.append({"kind": "thicken", "amount": old["turn_thicken"], "known": True})
        readings.append({"code": old["turn_code"], "transforms": transforms})
    if old.get("tilt_code"):
        turn = {"kind": "turn", "amount": old.get("tilt_degrees", 20.0), "known": True}
        readings.append({"code": old["tilt_code"], "transforms": [turn]})
    return readings


# --- validation ------------------------------------------------------------------------


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


def _validate_data(data: DataConfig, arch: str) -> None:
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


def _validate_model(model: ModelConfig, train: TrainConfig) -> None:
    if model.arch not in ARCH_SIZES:
        raise ConfigError(
            f"unknown architecture {model.arch!r}; expected one of {', '.join(ARCH_SIZES)}"
        )
    hidden = model.arch in GAUSSIAN_Q_ARCHS  # Q with a hidden layer
    if model.separate_q and not hidden:
        raise ConfigError(
            f"model.separate_q needs the paper28 architecture (Q with a hidden layer), "
            f"got {model.arch}"
        )
    over = model.overcluster
    if isinstance(over, bool) or over < 0 or over == 1:
        raise ConfigError(f"model.overcluster must be 0 (none) or an integer >= 2, got {over!r}")
    if over and not hidden:
        raise ConfigError(
            f"model.overcluster needs the paper28 architecture (Q with a hidden layer), "
            f"got {model.arch}"
        )
    if over and train.lambda_cluster == 0:
        raise ConfigError(
            "model.overcluster needs the clustering term (--lambda-cluster > 0), which is "
            "all that trains it"
        )


def _validate_train(t: TrainConfig, arch: str, num_continuous: int) -> None:
    for name in ("epochs", "batch_size", "sample_every", "checkpoint_every", "log_every"):
        _positive_int(name, getattr(t, name))
    _positive_int("keep_checkpoints", t.keep_checkpoints)
    if t.max_steps is not None:
        _positive_int("max_steps", t.max_steps)
    if t.batch_size < 2:
        raise ConfigError("--batch-size must be at least 2 (BatchNorm needs a batch)")
    for name in ("lr_g", "lr_d"):
        value = getattr(t, name)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{_flag(name)} must be a positive finite number, got {value}")
    for name in ("beta1", "beta2"):
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
    if t.cluster_reseed and t.lambda_cluster == 0:
        raise ConfigError(
            "train.cluster_reseed needs the clustering term (--lambda-cluster > 0): it is what "
            "splits a reseeded code"
        )
    _validate_readings(t.readings, num_continuous)
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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _positive_int(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{_flag(name)} must be a positive integer, got {value}")


def _is_cuda_name(name: str) -> bool:
    prefix, colon, index = name.partition(":")
    return prefix == "cuda" and (not colon or index.isdigit())


# --- presets -----------------------------------------------------------------


def _derived(base: RunConfig, name: str, **train: Any) -> RunConfig:
    """The preset ``name``: ``base`` with the training settings ``train`` changed."""
    return dataclasses.replace(base.with_train(**train), preset=name)


#: The reference design, exactly as SPEC sections 1-5: 64x64, 80 epochs.
SEED64 = RunConfig()

#: The same network, data and losses as seed64, on a budget that finishes in about
#: ten minutes on 2 CPU cores: smaller batches give more updates per second of
#: wall time, which is what a GAN needs early on.
QUICK64 = _derived(SEED64, "quick64", batch_size=64, max_steps=700, sample_every=100)

#: The InfoGAN paper's MNIST network and latent code (SPEC section 7): 28x28, 62 noise
#: values, a factored-Gaussian Q for the continuous codes with lambda_cont 0.1.
#: 30 epochs at batch 128 (14,040 steps).
PAPER28 = RunConfig(
    preset="paper28",
    data=DataConfig(image_size=28),
    latent=LatentConfig(noise_dim=62),
    model=ModelConfig(arch="paper28"),
    train=dataclasses.replace(SEED64.train, epochs=30, lambda_cont=0.1, cont_loss="gaussian"),
)

#: paper28 plus the clustering term on real digits (weight 3): Q must give each real
#: digit and a restyled copy of it (turned, moved, scaled, thickened or thinned, made
#: narrower or wider and given a new slant) the same category, using all categories
#: equally. A 50-category over-clustering head shares Q's categorical hidden layer, a
#: code left with under half an equal share of the digits takes the most used code's
#: weights every 500 steps, and Q's continuous codes read a hidden layer of their own.
#: Batch 64, 1,800 steps. Chosen on a validation split (docs/results.md).
RESTYLE28 = _derived(
    PAPER28,
    "restyle28",
    batch_size=64,
    max_steps=1800,
    sample_every=200,
    lambda_cluster=3.0,
    cluster_reseed=500,
).with_model(overcluster=50, separate_q=True)

#: Q reads c2 from copies of the generated digits given a new slant and width and turned
#: by any angle, so c2 can carry none of those and is left the stroke width.
C2_FROM_TURNED_COPIES = CodeReading(
    code=2, transforms=(Transform("restyle"), Transform("turn", 180.0))
)
#: Q reads c1 from copies turned by a known angle within +-30 degrees, scored against c1
#: plus the angle over 30: the generator must tilt its digits by 30 degrees per unit of c1.
C1_AS_TILT = CodeReading(code=1, transforms=(Transform("turn", 30.0, known=True),))

#: The recommended preset: restyle28 with continuous codes scored by squared error at
#: weight 1 (which makes them change the digit more), c1 made the digit's tilt and c2
#: kept from tilt, slant and width (the readings above). The copies cost about 12% of a
#: step. Chosen on a validation split (docs/results.md).
TILT28 = _derived(
    RESTYLE28,
    "tilt28",
    cont_loss="mse",
    lambda_cont=1.0,
    readings=(C2_FROM_TURNED_COPIES, C1_AS_TILT),
)

#: tilt28 with c2 made the stroke width the same way: after the turn, each of c2's copies
#: is thickened or thinned by a known fraction of a 3x3 dilation or erosion within +-0.5.
TILTWIDTH28 = _derived(
    TILT28,
    "tiltwidth28",
    readings=(
        dataclasses.replace(
            C2_FROM_TURNED_COPIES,
            transforms=(*C2_FROM_TURNED_COPIES.transforms, Transform("thicken", 0.5, known=True)),
        ),
        C1_AS_TILT,
    ),
)

PRESETS: dict[str, RunConfig] = {
    "seed64": SEED64,
    "quick64": QUICK64,
    "paper28": PAPER28,
    "restyle28": RESTYLE28,
    "tilt28": TILT28,
    "tiltwidth28": TILTWIDTH28,
}


def continuous_loss_name(config: RunConfig) -> str:
    """How Q's continuous codes are scored, as figures name it: "MSE" or "Gaussian NLL"."""
    return "Gaussian NLL" if config.train.cont_loss == "gaussian" else "MSE"


def get_preset(name: str) -> RunConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}"
        ) from None

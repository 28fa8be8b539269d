"""Typed configuration: data, latent code, model and training, and the named presets.

A run is described by one frozen :class:`RunConfig`. Presets are plain named
configs; the CLI derives a new config from a preset with :func:`dataclasses.replace`
and validates it once. Nothing mutates a config after it is resolved, and the
resolved config is saved as ``config.json`` in the run directory.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from infogan.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
#: strengths of the paired clustering term's changes (infogan.augment.AUGMENTS)
CLUSTER_AUGMENTS = ("mild", "geometric", "strong", "shape", "restyle")


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
    arch: str = "seed64"  # key into infogan.models.ARCHITECTURES
    # paper28: Q's categorical code and continuous codes each get their own hidden layer
    separate_q: bool = False
    # paper28: an over-clustering head with this many categories on Q's hidden layer,
    # trained by the paired clustering term alongside the code's (0: none)
    overcluster: int = 0


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
    # paper28: score Q's continuous codes by the squared error of its means (a Gaussian
    # of fixed width) instead of the negative log-likelihood with its learned log-std
    q_fixed_std: bool = False
    # weight of the clustering term on real images: minus the mutual information between
    # an image and Q's category (0 = off, as in the paper and the seed)
    lambda_cluster: float = 0.0
    # the clustering term pairs each real image with a randomly moved/turned copy and
    # maximises the mutual information between the two views' categories
    cluster_pairs: bool = False
    # how strongly the paired view is changed: mild | geometric | strong (infogan.augment)
    cluster_augment: str = "mild"
    # weight of the entropy of the categories' marginal in the paired term, relative
    # to the mutual information's own (1); above 1 it pushes harder for equal use
    cluster_balance: float = 1.0
    # how many separately changed copies of each real image the paired term compares it
    # with (the term is averaged over them); each costs one more pass of D
    cluster_copies: int = 1
    # train Q's categorical head on generated images in D's step (the paper does); off,
    # Q learns categories only from the clustering term on real digits
    q_cat_on_fakes: bool = True
    # Q's categorical head also learns, in D's step, to read the code of a changed copy
    # of each generated image (changed at cluster_augment's strength): the categories
    # must then survive the same changes on generated digits as on real ones
    augment_fakes: bool = False
    # every this many steps (0: never), merge two categorical codes that share their
    # digits so that the clustering term splits them again (infogan.resplit)
    cluster_resplit: int = 0
    # every this many steps (0: never), give a starved categorical code (a few percent of
    # the digits) the weights of the most used one, so that the term splits that one
    cluster_reseed: int = 0
    # weight of the paired term on the over-clustering head (model.overcluster), relative
    # to the term on the categorical code
    overcluster_weight: float = 0.5
    # weight of the generator's penalty on continuous codes that change an image alike:
    # the squared cosine between the changes two codes make to the same image
    # (infogan.losses.effect_overlap; 0 = off, as in the paper)
    lambda_orth: float = 0.0
    # how many of each batch's generated images the penalty moves each code of
    # (one more generator pass over num_continuous times this many images)
    orth_samples: int = 8
    # continuous code (1-based; 0 = none) that Q must read from a randomly turned copy of
    # each generated image: the turn scrambles any angle the code sets, so the code can
    # only carry what a turn leaves alone (stroke width, size), never the digit's tilt
    turn_code: int = 0
    # the turned copies are turned by an angle drawn uniformly from +-this many degrees
    turn_degrees: float = 45.0
    # how many of each batch's generated images get a turned copy (one more pass of D
    # over this many images in each of D's and G's steps)
    turn_samples: int = 32
    # before the turn, the copies are also given a slant drawn from MNIST's own range
    # whatever their own (infogan.augment.RESLANT) and made narrower or wider by up to
    # 20%: the code can then carry neither the slant nor the digit's width much
    turn_restyle: bool = False
    # after the turn, each copy is also thickened or thinned by a known fraction of a 3x3
    # dilation or erosion within +-this, and Q's reading of the turn code is scored
    # against the code plus that fraction over this: the code then has to be the stroke
    # width (0 = off)
    turn_thicken: float = 0.0
    # continuous code (1-based; 0 = none) that Q must read from a copy of each of the first
    # turn_samples generated images with its strokes made randomly thicker or thinner:
    # the code then cannot carry the stroke width
    thicken_code: int = 0
    # the thickened copies are also made narrower or wider by up to 20% (their slant
    # kept): the code can then carry neither the stroke width nor the digit's width,
    # which leaves it the digit's tilt
    thicken_squeeze: bool = False
    # continuous code (1-based; 0 = none) that Q must read from copies of the first
    # turn_samples generated images made up to 20% narrower or wider (slant kept): the
    # code then cannot carry the digit's width
    squeeze_code: int = 0
    # continuous code (1-based; 0 = none) that Q must read from copies of the first
    # turn_samples generated images turned by a known angle within +-tilt_degrees, its
    # reading moved by that angle over tilt_degrees: Q then measures the code as the
    # digit's tilt, and the generator must tilt its digits as the code says
    tilt_code: int = 0
    # the degrees of tilt one unit of the tilt code stands for (the code's range [-1, 1]
    # spans twice this), and the most its copies are turned by
    tilt_degrees: float = 20.0
    # the tilt code is read from its turned copies after this many steps; in the first
    # ones, from the generated images themselves, like any other code
    tilt_from: int = 0
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
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error."""
        try:
            return cls(
                preset=raw["preset"],
                # configs saved before the channel count existed are all grey MNIST runs
                data=DataConfig(**{"channels": 1, **raw["data"]}),
                latent=LatentConfig(**raw["latent"]),
                model=ModelConfig(**raw["model"]),
                train=TrainConfig(**raw["train"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed run configuration: {exc}") from None

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
        from infogan.datasets import parse_dataset
        from infogan.models import ARCHITECTURES

        t = self.train
        if self.model.arch not in ARCHITECTURES:
            raise ConfigError(
                f"unknown architecture {self.model.arch!r}; expected one of "
                f"{', '.join(sorted(ARCHITECTURES))}"
            )
        if not isinstance(self.model.separate_q, bool):
            raise ConfigError(f"--separate-q must be true or false, got {self.model.separate_q!r}")
        if self.model.separate_q and self.model.arch != "paper28":
            raise ConfigError(
                f"--separate-q needs the paper28 architecture (Q with a hidden layer), "
                f"got {self.model.arch}"
            )
        over = self.model.overcluster
        if not isinstance(over, int) or isinstance(over, bool) or over < 0 or over == 1:
            raise ConfigError(f"--overcluster must be 0 (none) or an integer >= 2, got {over!r}")
        if over and self.model.arch != "paper28":
            raise ConfigError(
                f"--overcluster needs the paper28 architecture (Q with a hidden layer), "
                f"got {self.model.arch}"
            )
        if over and not (t.cluster_pairs and t.lambda_cluster > 0):
            raise ConfigError(
                "--overcluster needs the paired clustering term (--lambda-cluster > 0 and "
                "--cluster-pairs), which is all that trains it"
            )
        weight = t.overcluster_weight
        if not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"--overcluster-weight must be a number >= 0, got {weight!r}")
        if not isinstance(t.q_fixed_std, bool):
            raise ConfigError(f"--q-fixed-std must be true or false, got {t.q_fixed_std!r}")
        orth = t.lambda_orth
        number = isinstance(orth, int | float) and not isinstance(orth, bool)
        if not (number and math.isfinite(orth) and orth >= 0):
            raise ConfigError(f"--lambda-orth must be a finite number >= 0, got {orth!r}")
        _positive_int("orth-samples", t.orth_samples)
        if orth > 0 and self.latent.num_continuous < 2:
            raise ConfigError(
                "--lambda-orth needs at least 2 continuous codes to keep apart, "
                f"got {self.latent.num_continuous}"
            )
        if orth > 0 and t.orth_samples > t.batch_size:
            raise ConfigError(
                f"--orth-samples ({t.orth_samples}) must not exceed --batch-size "
                f"({t.batch_size}): it moves codes of the batch's own images"
            )
        named = {}  # code -> the option that has it read from changed copies
        for option in ("turn-code", "thicken-code", "squeeze-code", "tilt-code"):
            value = getattr(t, option.replace("-", "_"))
            k = _code_index(option, value, self.latent.num_continuous)
            if k and k in named:
                raise ConfigError(
                    f"--{named[k]} and --{option} both name code {k}: a code is read from "
                    "one kind of copy"
                )
            named[k] = option
        turn, thicken = t.turn_code, t.thicken_code
        degrees = t.turn_degrees
        number = isinstance(degrees, int | float) and not isinstance(degrees, bool)
        if not (number and math.isfinite(degrees) and 0 < degrees <= 180):
            raise ConfigError(f"--turn-degrees must be in (0, 180], got {degrees!r}")
        if isinstance(t.tilt_from, bool) or not isinstance(t.tilt_from, int) or t.tilt_from < 0:
            raise ConfigError(f"--tilt-from must be an integer >= 0, got {t.tilt_from!r}")
        thick = t.turn_thicken
        number = isinstance(thick, int | float) and not isinstance(thick, bool)
        if not (number and math.isfinite(thick) and 0 <= thick <= 1):
            raise ConfigError(f"--turn-thicken must be in [0, 1], got {thick!r}")
        if thick > 0 and not turn:
            raise ConfigError("--turn-thicken changes the copies of --turn-code: set it too")
        tilt = t.tilt_degrees
        number = isinstance(tilt, int | float) and not isinstance(tilt, bool)
        if not (number and math.isfinite(tilt) and 0 < tilt <= 90):
            raise ConfigError(f"--tilt-degrees must be in (0, 90], got {tilt!r}")
        _positive_int("turn-samples", t.turn_samples)
        for name in ("turn_restyle", "thicken_squeeze"):
            if not isinstance(getattr(t, name), bool):
                flag = name.replace("_", "-")
                raise ConfigError(f"--{flag} must be true or false, got {getattr(t, name)!r}")
        if t.thicken_squeeze and not thicken:
            raise ConfigError("--thicken-squeeze changes the copies of --thicken-code: set it too")
        copied = (turn, thicken, t.squeeze_code, t.tilt_code)
        if any(k > 0 for k in copied) and t.turn_samples > t.batch_size:
            raise ConfigError(
                f"--turn-samples ({t.turn_samples}) must not exceed --batch-size "
                f"({t.batch_size}): it turns the batch's own images"
            )
        if not isinstance(self.data.dataset, str):
            raise ConfigError(f"--dataset must be a name, got {self.data.dataset!r}")
        parse_dataset(self.data.dataset)
        size = ARCHITECTURES[self.model.arch][1]
        if self.data.image_size != size:
            raise ConfigError(
                f"architecture {self.model.arch} works at {size}x{size}, "
                f"but the data is set to {self.data.image_size}x{self.data.image_size}"
            )
        if not isinstance(self.data.holdout, int) or self.data.holdout < 0:
            raise ConfigError(f"--holdout must be an integer >= 0, got {self.data.holdout}")
        if self.data.channels not in (0, 1, 3) or isinstance(self.data.channels, bool):
            raise ConfigError(
                f"--channels must be 1 (grey), 3 (RGB) or 0 (detect), got {self.data.channels}"
            )
        _positive_int("epochs", t.epochs)
        if t.max_steps is not None:
            _positive_int("max-steps", t.max_steps)
        _positive_int("batch-size", t.batch_size)
        _positive_int("sample-every", t.sample_every)
        _positive_int("checkpoint-every", t.checkpoint_every)
        _positive_int("log-every", t.log_every)
        _positive_int("keep-checkpoints", t.keep_checkpoints)
        if t.batch_size < 2:
            raise ConfigError("--batch-size must be at least 2 (BatchNorm needs a batch)")
        for name, value in (("lr-g", t.lr_g), ("lr-d", t.lr_d)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"--{name} must be a positive finite number, got {value}")
        for name, value in (("beta1", t.beta1), ("beta2", t.beta2)):
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ConfigError(f"{name} must be in [0, 1), got {value}")
        for name, value in (
            ("lambda-cat", t.lambda_cat),
            ("lambda-cont", t.lambda_cont),
            ("lambda-cluster", t.lambda_cluster),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"--{name} must be a finite number >= 0, got {value}")
        if not (math.isfinite(t.cluster_balance) and t.cluster_balance > 0):
            raise ConfigError(
                f"--cluster-balance must be a positive finite number, got {t.cluster_balance}"
            )
        _positive_int("cluster-copies", t.cluster_copies)
        if t.cluster_copies > 1 and not t.cluster_pairs:
            raise ConfigError("--cluster-copies needs --cluster-pairs: the copies are its pairs")
        if not t.q_cat_on_fakes and t.lambda_cluster == 0:
            raise ConfigError(
                "--no-q-cat-on-fakes needs --lambda-cluster > 0: otherwise nothing trains "
                "Q's categorical head"
            )
        if t.augment_fakes and not (t.q_cat_on_fakes and t.lambda_cat > 0):
            raise ConfigError(
                "--augment-fakes needs Q's categories on generated images: "
                "--q-cat-on-fakes and --lambda-cat > 0"
            )
        if not isinstance(t.cluster_resplit, int) or t.cluster_resplit < 0:
            raise ConfigError(
                f"--cluster-resplit must be an integer >= 0 (0: off), got {t.cluster_resplit!r}"
            )
        if t.cluster_resplit and not (t.cluster_pairs and t.lambda_cluster > 0):
            raise ConfigError(
                "--cluster-resplit needs --cluster-pairs and --lambda-cluster > 0: "
                "the paired term is what splits a merged code again"
            )
        reseed = t.cluster_reseed
        if not isinstance(reseed, int) or isinstance(reseed, bool) or reseed < 0:
            raise ConfigError(f"--cluster-reseed must be an integer >= 0 (0: off), got {reseed!r}")
        if reseed and not (t.cluster_pairs and t.lambda_cluster > 0):
            raise ConfigError(
                "--cluster-reseed needs --cluster-pairs and --lambda-cluster > 0: "
                "the paired term is what splits a reseeded code"
            )
        if t.cluster_augment not in CLUSTER_AUGMENTS:
            raise ConfigError(
                f"--cluster-augment must be one of {', '.join(CLUSTER_AUGMENTS)}, "
                f"got {t.cluster_augment!r}"
            )
        if t.precision not in PRECISIONS:
            raise ConfigError(
                f"--precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}"
            )
        if not (0 <= t.seed < 2**63):
            raise ConfigError(f"--seed must be in [0, 2^63), got {t.seed}")
        if t.device != "auto" and t.device != "cpu" and not _is_cuda_name(t.device):
            raise ConfigError(f"unknown device {t.device!r}; expected auto, cpu, cuda or cuda:N")
        lat = self.latent
        if lat.noise_dim < 1 or lat.num_categories < 2 or lat.num_continuous < 0:
            raise ConfigError("latent code needs noise_dim >= 1 and num_categories >= 2")
        return self


def _positive_int(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"--{name} must be a positive integer, got {value}")


def _code_index(name: str, value: int, num_continuous: int) -> int:
    """``value`` checked as a continuous code's number, counted from 1 (0: none)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"--{name} must be an integer >= 0, got {value!r}")
    if value > num_continuous:
        raise ConfigError(
            f"--{name} {value} names a continuous code that does not exist: there are "
            f"{num_continuous} (codes count from 1; 0 is off)"
        )
    return value


def _is_cuda_name(name: str) -> bool:
    if name == "cuda":
        return True
    prefix, _, index = name.partition(":")
    return prefix == "cuda" and index.isdigit()


# --- presets -----------------------------------------------------------------


def _derived(base: RunConfig, name: str, **train: Any) -> RunConfig:
    """The preset ``name``: ``base`` with the training settings ``train`` changed."""
    return dataclasses.replace(base.with_train(**train), preset=name)


#: The reference design, exactly as SPEC sections 1-5: 64x64, 80 epochs.
SEED64 = RunConfig()

#: The same network, data and losses as seed64, on a budget that finishes in about
#: ten minutes on 2 CPU cores: smaller batches give more updates per second of
#: wall time, which is what a GAN needs early on.
QUICK64 = RunConfig(
    preset="quick64",
    train=dataclasses.replace(SEED64.train, batch_size=64, max_steps=700, sample_every=100),
)

#: The InfoGAN paper's MNIST network and latent code (SPEC section 7): 28x28, 62 noise
#: values, a factored-Gaussian Q for the continuous codes with lambda_cont 0.1.
#: 30 epochs at batch 128 (14,040 steps).
PAPER28 = RunConfig(
    preset="paper28",
    data=DataConfig(image_size=28),
    latent=LatentConfig(noise_dim=62),
    model=ModelConfig(arch="paper28"),
    train=dataclasses.replace(SEED64.train, epochs=30, lambda_cont=0.1),
)

#: paper28 plus a clustering term that makes the categorical code pick the digit far
#: more often: Q must give each real digit and a randomly moved, turned and scaled copy
#: of it the same category, using all categories equally (minus the mutual information
#: of the two views' categories, weight 3). Batch 64, 1,800 steps: about 20 minutes on
#: 2 CPU cores. Chosen on a validation split (README, "Quality over seeds").
CLUSTER28 = _derived(
    PAPER28,
    "cluster28",
    batch_size=64,
    max_steps=1800,
    sample_every=200,
    lambda_cluster=3.0,
    cluster_pairs=True,
)

#: cluster28 with the fourth round's changes (README, "A fourth round"): the paired
#: copy is also squeezed and given a slant drawn from MNIST's range whatever its own
#: (``restyle``), the marginal's entropy weighs 1.5, a 50-category over-clustering head
#: shares Q's categorical hidden layer, and a code left with under half an equal share
#: of the digits at step 1,000 takes the most used code's weights; and Q's continuous
#: codes read a hidden layer of their own (``separate_q``), which the restyled copy
#: would otherwise teach to ignore slant and width. Same budget as cluster28.
RESTYLE28 = _derived(
    CLUSTER28, "restyle28", cluster_augment="restyle", cluster_balance=1.5, cluster_reseed=500
).with_model(overcluster=50, separate_q=True)

#: restyle28 with continuous codes that each take their own factor of a digit's style
#: (README, "factors28: a turn code and a width code"): Q's continuous codes are scored by
#: the squared error of its means at weight 1 (``q_fixed_std``, ``lambda_cont`` 1), which
#: makes them change the digit more, and Q reads c2 from copies of the generated digits
#: turned by any angle, given a slant from MNIST's range and squeezed (``turn_code`` 2,
#: ``turn_degrees`` 180, ``turn_restyle``), so that c2 cannot carry the digit's tilt,
#: slant or width and is left the stroke width, while c1 takes the tilt. The copies
#: cost about 18% of a step. Chosen on a validation split; same budget as restyle28.
FACTORS28 = _derived(
    RESTYLE28,
    "factors28",
    q_fixed_std=True,
    lambda_cont=1.0,
    turn_code=2,
    turn_degrees=180.0,
    turn_restyle=True,
)

#: factors28 with c1 made the digit's tilt (README, "tilt28 on the test set"): Q also
#: reads c1 from copies of 32 generated digits turned by a known angle within +-30
#: degrees, and scores that reading against c1 plus the angle over 30 degrees
#: (``tilt_code`` 1, ``tilt_degrees`` 30). Q then reads c1 as the digit's tilt, so the
#: generator must tilt its digits by about 30 degrees per unit of c1: c1 can no longer
#: settle on another factor or on none. Chosen on a validation split (30 degrees, about
#: MNIST's own spread of tilts, against 20); the copies cost about 12% of a step.
TILT28 = _derived(FACTORS28, "tilt28", tilt_code=1, tilt_degrees=30.0)

#: tilt28 with c2 made the stroke width the same way (README, "tiltwidth28 on the test
#: set"): after the turn, each of c2's copies is also thickened or thinned by a known
#: fraction of a 3x3 dilation or erosion within +-0.5, and Q's reading of c2 is scored
#: against c2 plus that fraction over 0.5 (``turn_thicken`` 0.5). c2 can then carry
#: neither the tilt nor the digit's width, and has to carry the stroke width. Chosen on
#: a validation split; the copies cost the same as tilt28's.
TILTWIDTH28 = _derived(TILT28, "tiltwidth28", turn_thicken=0.5)

PRESETS: dict[str, RunConfig] = {
    "seed64": SEED64,
    "quick64": QUICK64,
    "paper28": PAPER28,
    "cluster28": CLUSTER28,
    "restyle28": RESTYLE28,
    "factors28": FACTORS28,
    "tilt28": TILT28,
    "tiltwidth28": TILTWIDTH28,
}


def get_preset(name: str) -> RunConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; expected one of {', '.join(sorted(PRESETS))}"
        ) from None

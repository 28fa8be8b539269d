"""The named presets: plain configs, each derived from another by the settings it changes."""

from __future__ import annotations

import dataclasses
from typing import Any

from infogan.config.schema import (
    CodeReading,
    DataConfig,
    LatentConfig,
    ModelConfig,
    RunConfig,
    Transform,
)
from infogan.errors import ConfigError


def _derived(base: RunConfig, name: str, **train: Any) -> RunConfig:
    """The preset ``name``: ``base`` with the training settings ``train`` changed."""
    return dataclasses.replace(base.with_train(**train), preset=name)


#: The reference design, reproduced exactly (every default of RunConfig: seed64's networks,
#: latent code, losses and training settings): 64x64, 80 epochs.
SEED64 = RunConfig()

#: The same network, data and losses as seed64, on a budget that finishes in about
#: ten minutes on 2 CPU cores: smaller batches give more updates per second of
#: wall time, which is what a GAN needs early on.
QUICK64 = _derived(SEED64, "quick64", batch_size=64, max_steps=700, sample_every=100)

#: The InfoGAN paper's MNIST network and latent code (docs/infogan.md, 'The paper's
#: network'): 28x28, 62 noise
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

#: restyle28 with continuous codes scored by squared error at weight 1 (which makes them
#: change the digit more), c1 made the digit's tilt and c2 kept from tilt, slant and width
#: (the readings above). The copies cost about 12% of a step. Chosen on a validation split
#: (docs/results.md).
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

#: Recommended at 28x28: tiltwidth28 at batch 128 with the clustering weight 5 for 1,400 steps,
#: its codes checked for a starved or redundant one at steps 500, 750 and 1,000, sampling
#: with the running average of G's weights (decay 0.995), and c1 held to turning the digit
#: by the turned-pair term at weight 1. Twice the digits per step sort the codes in fewer
#: steps than batch 64. Chosen on a validation split (docs/results.md).
QUICK28 = _derived(
    TILTWIDTH28,
    "quick28",
    batch_size=128,
    max_steps=1400,
    lambda_cluster=5.0,
    cluster_reseed=250,
    sample_every=100,
    g_average=0.995,
    lambda_turn_pair=1.0,
)

#: The quick start: quick28 with D and Q learning four times as fast (2e-4 -> 8e-4) for
#: 800 steps, its codes checked at steps 400 and 600 (a reseed parts Q's two rows along the
#: two halves of the crowded code's digits). It sorts the digits in about half quick28's
#: steps, at the cost of blurrier samples. Chosen on a validation split (docs/results.md).
START28 = _derived(
    QUICK28, "start28", lr_d=8e-4, max_steps=800, cluster_reseed=200, reseed_halves=True
)

#: start28's recipe at batch 64 for 700 steps (D and Q at 8e-4) on the seed's own networks
#: at 64x64, with tilt28's readings (c2 kept from tilt, slant and width, not led to the
#: stroke width): Q's categories read through a hidden layer, with the over-clustering
#: head on it (models/seed64.py). Its codes are checked every 100 steps from step 200 to
#: 500 (a reseed parts Q's two rows along the two halves of the crowded code's digits),
#: and both learning rates fall to zero over the last 200 steps. About 3 to 5 minutes on
#: 2 CPU cores with native bf16. The turned pairs are left out: on its networks they made
#: a run about 30% longer (docs/experiments.md). Chosen on a validation split.
TILT64 = dataclasses.replace(
    _derived(
        START28,
        "tilt64",
        batch_size=64,
        max_steps=700,
        cluster_reseed=100,
        reseed_halves=True,
        lr_decay_steps=200,
        readings=TILT28.train.readings,
        lambda_turn_pair=0.0,
    ),
    data=SEED64.data,
    latent=SEED64.latent,
    model=dataclasses.replace(SEED64.model, separate_q=True, overcluster=50),
)

PRESETS: dict[str, RunConfig] = {
    "seed64": SEED64,
    "quick64": QUICK64,
    "paper28": PAPER28,
    "restyle28": RESTYLE28,
    "tilt28": TILT28,
    "tiltwidth28": TILTWIDTH28,
    "tilt64": TILT64,
    "quick28": QUICK28,
    "start28": START28,
}


def get_preset(name: str) -> RunConfig:
    """The named configuration (one of :data:`PRESETS`, e.g. "start28"); change it with
    :meth:`RunConfig.with_train` and friends before training it."""
    if not isinstance(name, str) or name not in PRESETS:  # a list is unhashable
        raise ConfigError(f"unknown preset {name!r:.60}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]

import dataclasses
import json
import math

import pytest

from infogan.config import PRESETS, SEED64, RunConfig, get_preset
from infogan.errors import ConfigError


def test_seed64_preset_is_the_spec():
    t = SEED64.train
    assert (SEED64.latent.noise_dim, SEED64.latent.num_categories) == (52, 10)
    assert SEED64.latent.num_continuous == 2 and SEED64.latent.dim == 64
    assert (t.lr_g, t.lr_d, t.beta1, t.beta2) == (1e-3, 2e-4, 0.5, 0.999)
    assert (t.batch_size, t.epochs, t.lambda_cat, t.lambda_cont) == (128, 80, 1.0, 1.0)
    assert t.sample_every == 500 and t.max_steps is None
    assert SEED64.data.image_size == 64 and SEED64.model.arch == "seed64"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate_and_round_trip_through_json(name):
    cfg = get_preset(name).validate()
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown preset 'nope'.*seed64"):
        get_preset("nope")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": -1}, "--epochs must be a positive integer"),
        ({"epochs": 0}, "--epochs must be a positive integer"),
        ({"max_steps": 0}, "--max-steps must be a positive integer"),
        ({"batch_size": 1}, "--batch-size must be at least 2"),
        ({"lambda_cat": -0.5}, "--lambda-cat must be a finite number >= 0"),
        ({"lambda_cont": math.nan}, "--lambda-cont must be a finite number >= 0"),
        ({"lr_g": 0.0}, "--lr-g must be a positive finite number"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"sample_every": -5}, "--sample-every must be a positive integer"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        SEED64.with_train(**change).validate()


def test_with_train_makes_a_copy_and_ignores_none():
    cfg = SEED64.with_train(epochs=3, seed=None)
    assert cfg.train.epochs == 3 and cfg.train.seed == SEED64.train.seed
    assert SEED64.train.epochs == 80
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 5  # type: ignore[misc]


def test_malformed_config_dict_is_a_config_error():
    raw = SEED64.to_dict()
    raw["train"]["not_a_field"] = 1
    with pytest.raises(ConfigError, match="malformed"):
        RunConfig.from_dict(raw)

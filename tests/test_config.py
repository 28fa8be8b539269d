import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch

from infogan.config import (
    PRESETS,
    SEED64,
    CodeReading,
    RunConfig,
    Transform,
    get_preset,
    parse_setting,
)
from infogan.data import load_dataset
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
    with pytest.raises(ConfigError, match=r"unknown preset \['start28'\]; expected one of"):
        get_preset(["start28"])  # not "unhashable type: 'list'"


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
        ({"log_every": 0}, "train.log_every must be a positive integer"),
        ({"keep_checkpoints": 0}, "train.keep_checkpoints must be a positive integer"),
        ({"lr_decay_steps": -1}, "train.lr_decay_steps must be an integer >= 0"),
        ({"lambda_turn_pair": -1.0}, "train.lambda_turn_pair must be a finite number >= 0"),
        ({"lambda_turn_pair": 1.0}, "train.lambda_turn_pair needs a code read from copies turned"),
    ],
)
def test_bad_values_are_named(change, message):
    with pytest.raises(ConfigError, match=message):
        SEED64.with_train(**change).validate()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "latent.num_continuous=1",
            r"latent\.num_continuous must be an integer from 2 to 16, got 1",
        ),
        (
            "latent.num_continuous=0",
            r"latent\.num_continuous must be an integer from 2 to 16, got 0",
        ),
        (
            "latent.num_categories=1",
            r"latent\.num_categories must be an integer from 2 to 100, got 1",
        ),
        ("latent.noise_dim=0", r"latent\.noise_dim must be an integer from 1 to 4,096, got 0"),
        ("latent.noise_dim=99999999999", r"latent\.noise_dim must be .* got 99999999999"),
    ],
)
def test_a_latent_code_the_run_cannot_draw_is_refused(setting, message, main_error, tmp_path):
    """c1 and c2 at least: every run draws a grid varying each (a traceback, before)."""
    line = main_error(
        "train", "--preset", "paper28", "--max-steps", "1", "--set", setting,
        "--run-dir", tmp_path / "run",
    )  # fmt: skip
    assert re.search(message, line), line
    assert not (tmp_path / "run").exists()


def test_with_train_makes_a_copy_and_ignores_none():
    cfg = SEED64.with_train(epochs=3, seed=None)
    assert cfg.train.epochs == 3 and cfg.train.seed == SEED64.train.seed
    assert SEED64.train.epochs == 80
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 5  # type: ignore[misc]


def test_an_unknown_field_in_code_is_a_config_error_naming_the_fields():
    for change in (SEED64.with_train, SEED64.with_model, SEED64.with_data):
        with pytest.raises(ConfigError, match=r"unknown setting '(train|model|data).nope'; "):
            change(nope=1)
    assert SEED64.with_train(max_steps=5, lr_d=None).train.lr_d == SEED64.train.lr_d


def test_values_of_the_wrong_type_in_code_are_config_errors():
    """The API checks types as a config file's are: a string for a number, a float seed
    or a number for a device is named, and readings may come in their JSON form."""
    for change, message in (
        ({"lr_g": "0.1"}, "train.lr_g must be a number, got '0.1'"),
        ({"seed": 1.5}, "train.seed must be an integer, got 1.5"),
        ({"max_steps": "10"}, "train.max_steps must be an integer or null, got '10'"),
        ({"device": 0}, "train.device must be a string, got 0"),
        ({"compile": "yes"}, "train.compile must be true or false, got 'yes'"),
        ({"readings": [{"code": 1}]}, r"train.readings\[0\] must be an object with 'code'"),
    ):
        with pytest.raises(ConfigError, match=message):
            SEED64.with_train(**change)
    with pytest.raises(ConfigError, match=r"data\.image_size must be an integer, got '28'"):
        SEED64.with_data(image_size="28")
    turned = {"code": 1, "transforms": [{"kind": "turn", "amount": 30, "known": True}]}
    cfg = SEED64.with_train(readings=[turned], lr_g=1)
    assert cfg.train.readings == (CodeReading(1, (Transform("turn", 30.0, True),)),)
    assert isinstance(cfg.train.lr_g, float)


def _replaced(config, section, **changes):
    """``config`` with fields of ``section`` changed by hand, unchecked (as a user may)."""
    changed = dataclasses.replace(getattr(config, section), **changes)
    return dataclasses.replace(config, **{section: changed})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_replaced(SEED64, "train", seed=1.5), r"^train\.seed must be an integer, got 1\.5"),
        (_replaced(SEED64, "train", compile="False"), r"^train\.compile must be true or false"),
        (_replaced(SEED64, "train", lr_g="a"), r"^train\.lr_g must be a number, got 'a'"),
        (_replaced(SEED64, "train", max_steps=2.0), r"^train\.max_steps must be an integer or"),
        (_replaced(SEED64, "data", holdout=None), r"^data\.holdout must be an integer, got None"),
        (_replaced(SEED64, "model", overcluster="2"), r"^model\.overcluster must be an integer"),
        (_replaced(SEED64, "model", separate_q=1), r"^model\.separate_q must be true or false"),
        (_replaced(SEED64, "train", seed=np.int64(3)), r"^train\.seed must be a plain int, not"),
        (_replaced(SEED64, "train", readings=(5,)), r"^train\.readings\[0\] must be a Code"),
        (
            _replaced(SEED64, "train", readings=(CodeReading(1, (Transform(5),)),)),
            r"^train\.readings\[0\]\.transforms\[0\]\.kind must be a string, got 5",
        ),
        (RunConfig(train=None), r"^train must be a TrainConfig, got None"),
        (RunConfig(latent={"noise_dim": 52}), r"^latent must be a LatentConfig"),
        (dataclasses.replace(SEED64, preset=None), r"^preset must be a non-empty name, got None"),
        (dataclasses.replace(SEED64, preset=" "), r"^preset must be a non-empty name, got ' '"),
    ],
)
def test_validate_checks_the_type_of_every_field_of_a_hand_built_config(config, message):
    """Not a TypeError from a comparison deep in the checks, nor a config that trains and
    whose checkpoint then cannot be read (a preset of None): one ConfigError naming it."""
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_numpy_numbers_are_taken_as_numbers_and_stored_as_plain_ones():
    cfg = SEED64.with_train(max_steps=np.int64(5), seed=np.uint8(3), lr_g=np.float32(0.5))
    assert (cfg.train.max_steps, cfg.train.seed, cfg.train.lr_g) == (5, 3, 0.5)
    assert [type(v) for v in (cfg.train.max_steps, cfg.train.seed)] == [int, int]
    assert json.loads(json.dumps(cfg.to_dict()))["train"]["max_steps"] == 5  # JSON takes them
    assert cfg.with_data(holdout=np.int32(7)).validate().data.holdout == 7
    for bad in (True, np.bool_(True)):  # a flag is no count
        with pytest.raises(ConfigError, match=r"train\.max_steps must be an integer or null"):
            SEED64.with_train(max_steps=bad)


def test_with_settings_refuses_what_is_no_mapping_of_setting_names():
    for settings in (None, [], ("train.seed", 1)):
        with pytest.raises(ConfigError, match=r"^settings must be a mapping of 'SECTION\.FIELD'"):
            SEED64.with_settings(settings)
    with pytest.raises(ConfigError, match=r"'train\.max_steps=5' \(parse a --set string with"):
        SEED64.with_settings("train.max_steps=5")
    with pytest.raises(ConfigError, match=r"^setting 5: expected a 'SECTION\.FIELD' string"):
        SEED64.with_settings({5: 1})


def test_malformed_config_dict_is_a_config_error():
    raw = SEED64.to_dict()
    raw["train"]["not_a_field"] = 1
    with pytest.raises(ConfigError, match=r"unknown setting 'train.not_a_field'; train's fields"):
        RunConfig.from_dict(raw)
    for bad, message in (
        ({"train": {"lr_g": "fast"}}, "train.lr_g must be a number, got 'fast'"),
        ({"train": {"epochs": 2.5}}, "train.epochs must be an integer"),
        ({"train": {"compile": 1}}, "train.compile must be true or false"),
        ({"train": {"readings": [{"code": 1}]}}, r"readings\[0\] must be an object with"),
        ({"gpu": {}}, "unknown configuration section 'gpu'"),
    ):
        raw = SEED64.to_dict()
        for section, values in bad.items():
            raw[section] = {**raw.get(section, {}), **values}
        with pytest.raises(ConfigError, match=message):
            RunConfig.from_dict(raw)


def test_a_missing_transform_kind_or_a_section_of_another_type_is_named():
    """Not a TypeError or AttributeError from deep inside: one ConfigError naming it."""
    nameless = [{"code": 1, "transforms": [{"amount": 3}]}]
    with pytest.raises(ConfigError, match=r"train.readings\[0\].transforms\[0\].kind is missing"):
        SEED64.with_settings({"train.readings": nameless})
    for section, value in (("model", [1]), ("data", [["dataset", "mnist"]]), ("data", 5)):
        raw = {**SEED64.to_dict(), section: value}
        with pytest.raises(ConfigError, match=f"'{section}' must be an object"):
            RunConfig.from_dict(raw)


def test_set_changes_any_field_and_names_an_unknown_one():
    cfg = get_preset("tilt28").with_settings(
        {"train.lambda_cluster": 2, "data.channels": 3, "train.readings": []}
    )
    assert cfg.train.lambda_cluster == 2.0 and cfg.data.channels == 3
    assert cfg.train.readings == () and cfg.validate() is cfg
    assert parse_setting("train.seed=7") == ("train.seed", 7)
    assert parse_setting("train.device=cuda:1") == ("train.device", "cuda:1")
    with pytest.raises(ConfigError, match=r"unknown setting 'train.tilt_from'; train's fields"):
        SEED64.with_settings({"train.tilt_from": 5})
    with pytest.raises(ConfigError, match=r"expected SECTION.FIELD"):
        SEED64.with_settings({"optim.lr": 5})
    with pytest.raises(ConfigError, match=r"expected SECTION.FIELD=VALUE"):
        parse_setting("train.seed")


@pytest.mark.parametrize(
    ("readings", "message"),
    [
        ([{"code": 3, "transforms": [{"kind": "turn", "amount": 30}]}], "code 3 names a"),
        ([{"code": 1, "transforms": []}], "transforms is empty"),
        ([{"code": 1, "transforms": [{"kind": "blur", "amount": 1}]}], "kind must be one of"),
        ([{"code": 1, "transforms": [{"kind": "turn", "amount": 0}]}], r"in \(0, 180\]"),
        ([{"code": 1, "transforms": [{"kind": "thicken", "amount": 2}]}], r"in \(0, 1\]"),
        ([{"code": 1, "transforms": [{"kind": "restyle", "known": True}]}], "restyle takes no"),
        (
            [{"code": 1, "transforms": [{"kind": "turn", "amount": 9}]}] * 2,
            "code 1 is read from two kinds of copy",
        ),
    ],
)
def test_bad_readings_are_named(readings, message):
    with pytest.raises(ConfigError, match=message):
        get_preset("tilt28").with_settings({"train.readings": readings}).validate()


def old_config(preset: str, **train) -> dict:
    """``preset`` as the version before the readings wrote it into config.json."""
    raw = get_preset(preset).to_dict()
    t = raw["train"]
    del t["readings"], t["cont_loss"]
    t.update(
        cluster_pairs=t["lambda_cluster"] > 0, cluster_augment="restyle" if t["lambda_cluster"]
        else "mild", cluster_balance=1.5 if t["lambda_cluster"] else 1.0, cluster_copies=1,
        q_cat_on_fakes=True, augment_fakes=False, cluster_resplit=0, overcluster_weight=0.5,
        lambda_orth=0.0, orth_samples=8, q_fixed_std=preset == "tilt28", turn_code=0,
        turn_degrees=45.0, turn_samples=32, turn_restyle=False, turn_thicken=0.0,
        thicken_code=0, thicken_squeeze=False, squeeze_code=0, tilt_code=0,
        tilt_degrees=20.0, tilt_from=0,
    )  # fmt: skip
    if preset == "tilt28":
        t.update(turn_code=2, turn_degrees=180.0, turn_restyle=True, tilt_code=1, tilt_degrees=30.0)
    t.update(train)
    return raw


@pytest.mark.parametrize("preset", ["seed64", "paper28", "restyle28", "tilt28"])
def test_a_config_written_before_loads_as_the_same_preset(preset):
    assert RunConfig.from_dict(old_config(preset)) == get_preset(preset)


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"cluster_copies": 2}, "cluster_copies=2"),
        ({"lambda_orth": 0.1}, "lambda_orth=0.1"),
        ({"tilt_from": 300}, "tilt_from=300"),
        ({"cluster_augment": "strong"}, "cluster_augment='strong'"),
        ({"q_cat_on_fakes": False}, "q_cat_on_fakes=False"),
    ],
)
def test_a_run_with_a_retired_setting_is_refused_naming_it(change, setting):
    with pytest.raises(ConfigError, match=f"setting train.{setting} was retired"):
        RunConfig.from_dict(old_config("restyle28", **change))


def test_holdout_keeps_the_last_training_digits_out(mnist_dir):
    data = get_preset("paper28").with_data(holdout=5000).data
    images = load_dataset(data, mnist_dir, image_size=28)
    assert images.shape == (55000, 1, 28, 28)
    every = load_dataset(get_preset("paper28").data, mnist_dir, image_size=28)
    assert torch.equal(images, every[:55000])
    with pytest.raises(ConfigError, match="holdout"):
        load_dataset(get_preset("paper28").with_data(holdout=60000).data, mnist_dir, image_size=28)


def test_config_refuses_a_size_the_architecture_cannot_make():
    with pytest.raises(ConfigError, match="28x28"):
        get_preset("paper28").with_data(image_size=64).validate()
    with pytest.raises(ConfigError, match="precision"):
        get_preset("paper28").with_train(precision="fp16").validate()

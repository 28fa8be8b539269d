"""The model that ships with the package: the file its card names, ready to use with no
training, from Python and from every command that takes a model."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from infogan.api import PRETRAINED, InfoGANModel
from infogan.data import sha256_of
from infogan.errors import ConfigError, InfoGANError
from web_helpers import get, start_server


def test_the_shipped_weights_are_the_file_their_card_names():
    info = json.loads((PRETRAINED / "config.json").read_text())
    digest = sha256_of(PRETRAINED / "model.safetensors")
    assert info["weights_sha256"] == digest
    assert f"SHA-256 `{digest}`" in (PRETRAINED / "README.md").read_text()
    assert (PRETRAINED / "model.safetensors").stat().st_size < 14_000_000
    model = InfoGANModel.from_pretrained()
    assert model.config.preset == info["config"]["preset"] == "quick28"
    assert model.step == info["step"]
    assert sorted(model.digit_order()) == list(range(10))
    assert model.evaluation["unsupervised_accuracy"] >= 0.95


def test_generate_and_eval_need_no_training(tmp_path, mnist_dir, cli):
    from infogan.cli import main  # generate in this process, eval in a fresh one

    out = tmp_path / "grid.png"
    assert main(["generate", "--pretrained", "--out", str(out), "--categories", "by-digit"]) == 0
    assert Image.open(out).size == (10 * 28 + 11 * 2, 28 + 2 * 2)
    before = (PRETRAINED / "eval.json").read_bytes()
    done = cli.run(
        "eval", "--pretrained", "--json", "--test-digits", "2000", "--per-category", "50",
        "--sweep-draws", "10", "--sweep-values", "3", "--no-progress", "--data-dir", mnist_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["unsupervised_accuracy"] >= 0.95
    assert "wrote" not in done.stderr  # the package's own folder is not written to
    assert (PRETRAINED / "eval.json").read_bytes() == before


def test_generate_vary_sweeps_ten_rows_that_turn_the_digit(tmp_path, main_error):
    from infogan.cli import main
    from infogan.evaluate.factors import rotation_degrees

    out = tmp_path / "sweep.png"
    args = ["generate", "--pretrained", "--out", str(out), "--categories", "by-digit"]
    assert main([*args, "--vary", "c1"]) == 0
    grid = np.asarray(Image.open(out).convert("L"), dtype=np.float64) / 127.5 - 1
    assert grid.shape == (10 * 30 + 2, 10 * 30 + 2)  # ten steps of c1, ten digits
    cells = np.stack([grid[2 + 30 * r : 30 * (r + 1), 2 + 30 * d : 30 * (d + 1)]
                      for d in range(10) for r in range(10)])  # fmt: skip
    angles = rotation_degrees(cells).reshape(10, 10)  # (digit, step of c1)
    steps = np.arange(10)
    turned = [abs(np.corrcoef(row, steps)[0, 1]) for row in angles if np.isfinite(row).all()]
    assert np.median(turned) > 0.8, angles.round(1)  # c1 is the shipped model's tilt code
    assert main([*args, "--vary", "c2", "--rows", "3", "--categories", "2,5"]) == 0
    assert Image.open(out).size == (2 * 30 + 2, 3 * 30 + 2)
    line = main_error("generate", "--pretrained", "--out", tmp_path / "grid.jpg", "--vary", "c1")
    assert "--out must name a .png file" in line and not (tmp_path / "grid.jpg").exists()


@pytest.mark.parametrize(
    ("categories", "continuous", "noise", "message"),
    [
        ([10], None, None, r"category codes must be integers in \[0, 9\]"),
        ([2.5], None, None, "category codes must be integers"),
        ("3", None, None, "categories must be numbers"),
        ([True], None, None, "categories must be real numbers"),
        ([], None, None, "no codes to generate"),
        ([1, 2], [[0, 0]], None, r"continuous must be 2 x 2 .*got shape \(1, 2\)"),
        ([1], [[0, 0, 0]], None, r"continuous must be 1 x 2"),
        ([1], [[0, float("nan")]], None, "continuous must be finite numbers"),
        ([1], None, np.zeros(3), r"noise must be 1 x 62 .*got shape \(3,\)"),
        # the right number of values in the wrong shape is not silently reshaped
        ([3, 3, 7], [[-1, 1, 0], [0, 0, 0]], None, r"continuous must be 3 x 2 .*\(2, 3\)"),
        ([1, 2], None, np.zeros((62, 2)), r"noise must be 2 x 62 .*got shape \(62, 2\)"),
        ([[1, 2], [3, 4]], None, None, r"categories must be a flat list .*\(2, 2\)"),
    ],
)
def test_generate_refuses_malformed_codes_in_one_line(categories, continuous, noise, message):
    model = InfoGANModel.from_pretrained()
    with pytest.raises(ConfigError, match=message):
        model.generate(categories, continuous, noise=noise)


def test_seeds_devices_and_mistyped_paths_are_named():
    model = InfoGANModel.from_pretrained()
    for seed in (2**64, -1, 1.5, "7", True, np.float64(3.0)):
        with pytest.raises(ConfigError, match=r"seed must be an integer in \[0, 2\^63\)"):
            model.generate([1], seed=seed)
    for seed in (np.int64(3), np.uint8(3)):  # numpy's integers are integers
        assert torch.equal(model.generate([1], seed=seed), model.generate([1], seed=3))
    assert torch.equal(model.generate([1]), model.generate([1], seed=0))  # as documented
    for device, message in (
        ("gpu", "unknown device 'gpu'"),
        ("mps", "infogan runs on cpu or cuda"),
    ):
        with pytest.raises(ConfigError, match=message):
            InfoGANModel.from_pretrained(device=device)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="PyTorch sees no CUDA GPU"):
            InfoGANModel.from_pretrained(device="cuda")
    # OWNER/NAME that is no local folder may be a mistyped path: both readings are named
    with pytest.raises(InfoGANError, match=r"^runs/tyr: no such file or folder here; as a Hub"):
        InfoGANModel.from_pretrained("runs/tyr")


@pytest.mark.parametrize("shape", [(2, 1, 64, 64), (1, 28, 28), (2, 3, 28, 28)])
def test_q_predict_refuses_images_of_another_shape(shape):
    model = InfoGANModel.from_pretrained()
    expected = r"images must be \(B, 1, 28, 28\).*" + re.escape(str(shape))
    with pytest.raises(ConfigError, match=expected):
        model.q_predict(torch.zeros(shape))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        # raw 0..255 pixels, or digits normalised by MNIST's mean and std, are not read
        (torch.full((2, 1, 28, 28), 255.0), r"in \[-1, 1\].*from 255 to 255"),
        ((torch.ones(1, 1, 28, 28) - 0.1307) / 0.3081, r"in \[-1, 1\].*to 2.821"),
        (torch.full((1, 1, 28, 28), float("nan")), "images must be finite numbers"),
        # integer pixels are not read either, even 0/1 values that fall within [-1, 1]
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), r"floating-point.*got torch\.uint8"),
        (np.ones((1, 1, 28, 28), dtype=np.int64), r"floating-point.*got torch\.int64"),
        (torch.zeros(1, 1, 28, 28, dtype=torch.bool), r"floating-point.*got torch\.bool"),
        (torch.zeros(1, 1, 28, 28, dtype=torch.complex64), r"floating-point.*got torch\.complex"),
    ],
)
def test_q_predict_refuses_images_it_would_misread(images, message):
    model = InfoGANModel.from_pretrained()
    with pytest.raises(ConfigError, match=message):
        model.q_predict(images)
    logits, _codes = model.q_predict(torch.ones(1, 1, 28, 28, dtype=torch.float64))
    assert logits.shape == (1, 10)  # any real dtype in [-1, 1] is read


def test_a_path_that_is_no_path_is_named():
    from infogan.api import load_model

    with pytest.raises(ConfigError, match=r"^path must be a str or pathlib.Path.*got None"):
        load_model(None)
    with pytest.raises(ConfigError, match=r"^name_or_path must be .*Hub repository id; got 5"):
        InfoGANModel.from_pretrained(5)
    # "" is no name for the current folder
    with pytest.raises(ConfigError, match=r"^path must name a run directory.*blank string ''"):
        load_model("")
    with pytest.raises(ConfigError, match=r"^name_or_path must name .*; got the blank string"):
        InfoGANModel.from_pretrained("")


def test_generate_takes_lists_arrays_and_tensors_alike():
    model = InfoGANModel.from_pretrained()
    # one digit's codes and noise may come flat
    one = model.generate([3], [[0.5, 0.0]], noise=torch.ones(1, 62))
    assert torch.equal(one, model.generate(3, [0.5, 0.0], noise=torch.ones(62)))
    lists = model.generate([3, 8], [[0.5, -1.0], [0.0, 1.0]], seed=2)
    arrays = model.generate(np.array([3, 8]), np.array([[0.5, -1.0], [0.0, 1.0]]), seed=2)
    tensors = model.generate(torch.tensor([3, 8]), torch.tensor([[0.5, -1], [0, 1.0]]), seed=2)
    assert lists.shape == (2, 1, 28, 28)
    assert torch.equal(lists, arrays) and torch.equal(lists, tensors)
    assert not torch.equal(lists, model.generate([3, 8], seed=2))  # the codes reached G
    logits, codes = model.q_predict(lists)
    assert torch.equal(logits, model.q_predict(lists.numpy().tolist())[0])  # nested lists too
    assert logits.argmax(1).tolist() == [3, 8]  # Q reads back the codes G was given
    assert codes.shape == (2, 2)


def test_serve_pretrained_answers_with_a_png_labelled_by_digit():
    served = start_server("--pretrained")
    try:
        info = json.loads(get(served.url + "api/info").body)
        assert info["preset"] == "quick28" and sorted(info["category_to_digit"]) == list(range(10))
        reply = get(served.url + "api/generate?category=3&c1=0.5&c2=-0.5&seed=1")
        assert reply.status == 200 and reply.content_type == "image/png"
        assert Image.open(io.BytesIO(reply.body)).size[0] >= 28
    finally:
        served.stop()


def test_a_model_and_pretrained_together_are_one_line(main_error, tmp_path):
    line = main_error("generate", tmp_path, "--pretrained", "--out", tmp_path / "x.png")
    assert "not both" in line
    assert "--pretrained" in main_error("serve")

"""The model that ships with the package: the file its card names, ready to use with no
training, from Python and from every command that takes a model."""

from __future__ import annotations

import io
import json

from PIL import Image

from infogan.api import PRETRAINED, InfoGANModel
from infogan.data import sha256_of
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

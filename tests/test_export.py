"""``infogan export``: a run as a folder to share (safetensors, config, card, figures), read
back by ``load_model``/``from_pretrained`` and the commands, in a fresh process too; bad
folders get one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image
from safetensors import safe_open

import infogan
from infogan.api import InfoGANModel, load_model
from infogan.data import sha256_of
from infogan.errors import CheckpointError, ConfigError
from infogan.training.run import train

QUIET = {"progress": False, "log": lambda _m: None}
EVAL = {
    "category_to_digit": [3, 1, 4, 0, 5, 9, 2, 6, 8, 7],
    "unsupervised_accuracy": 0.5,
    "continuous": [],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, digits_28, tiny_config):
    """A 3-step tilt28 run (batch 32) with an eval.json beside it."""
    run = tmp_path_factory.mktemp("export") / "run"
    train(tiny_config("tilt28", steps=3, batch_size=32), run, images=digits_28[0], **QUIET)
    (run / "eval.json").write_text(json.dumps(EVAL))
    return run


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory, cli):
    out = tmp_path_factory.mktemp("shared") / "model"
    done = cli.run("export", run, "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out}: ")
    return out


def test_the_folder_holds_weights_config_eval_figures_and_card(exported, run):
    assert sorted(p.name for p in exported.iterdir()) == [
        "README.md",
        "config.json",
        "eval.json",
        "model.safetensors",
        "samples.png",
        "sweep_c1.png",
        "sweep_c2.png",
    ]
    info = json.loads((exported / "config.json").read_text())
    assert info["format"] == "infogan-model-config"
    assert info["step"] == 3 and info["storage"] == "float32"
    assert info["config"] == json.loads((run / "config.json").read_text())
    assert info["weights_sha256"] == sha256_of(exported / "model.safetensors")
    assert info["provenance"]["command"].startswith("infogan train --preset tilt28 ")
    assert json.loads((exported / "eval.json").read_text()) == EVAL
    with safe_open(exported / "model.safetensors", framework="pt") as fh:
        keys = set(fh.keys())
        assert fh.metadata()["format"] == "infogan-model"
    assert "fixed_noise" in keys
    assert {k.split(".")[0] for k in keys} == {"generator", "discriminator", "fixed_noise"}
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n")
    assert info["weights_sha256"] in card and info["provenance"]["command"] in card
    for name in ("samples.png", "sweep_c1.png", "sweep_c2.png"):
        assert f"]({name})" in card
        assert Image.open(exported / name).size[0] > 400


def test_a_fresh_process_generates_what_the_runs_checkpoint_generates(exported, run, tmp_path):
    out = tmp_path / "images.pt"
    code = (
        "import sys, torch; from infogan import InfoGANModel\n"
        "m = InfoGANModel.from_pretrained(sys.argv[1])\n"
        "torch.save(m.generate(list(range(10)) * 2, seed=7), sys.argv[2])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(exported), str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    theirs = torch.load(out, weights_only=True)
    ours = load_model(run).generate(list(range(10)) * 2, seed=7)
    assert torch.equal(theirs, ours)
    # Q reads the same codes back, and the fixed noise travelled with the weights
    a, b = load_model(exported), load_model(run)
    assert torch.equal(a.q_predict(ours)[0], b.q_predict(ours)[0])
    assert torch.equal(a.fixed_noise, b.fixed_noise)


@pytest.mark.parametrize(("storage", "most"), [("bfloat16", 0.52), ("int8", 0.27)])
def test_smaller_storage_keeps_the_images(run, exported, tmp_path, storage, most):
    out = infogan.export_model(run, tmp_path / storage, storage=storage)
    size = (out / "model.safetensors").stat().st_size
    assert size < most * (exported / "model.safetensors").stat().st_size
    images = load_model(out).generate(list(range(10)), seed=1)
    reference = load_model(exported).generate(list(range(10)), seed=1)
    assert (images - reference).abs().mean() < 0.02  # of a [-1, 1] range
    assert json.loads((out / "config.json").read_text())["storage"] == storage


def test_the_commands_take_an_exported_folder(exported, tmp_path):
    from infogan.cli import main  # the commands in this process (the fixture ran one apart)

    grid = tmp_path / "grid.png"
    assert main(["generate", str(exported), "--out", str(grid), "--categories", "by-digit"]) == 0
    assert Image.open(grid).size == (10 * 28 + 11 * 2, 28 + 2 * 2)
    npz = tmp_path / "s.npz"
    assert main(["sample", str(exported), "--out", str(npz), "--per-category", "2"]) == 0


def test_an_occupied_destination_is_refused_and_kept(run, exported, main_error):
    before = {p.name: p.stat().st_mtime_ns for p in exported.iterdir()}
    line = main_error("export", run, "--out", exported)
    assert "not empty" in line and "--overwrite" in line
    assert {p.name: p.stat().st_mtime_ns for p in exported.iterdir()} == before


def test_overwrite_replaces_the_folder_whole(run, tmp_path):
    from infogan.cli import main

    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert main(["export", str(run), "--out", str(out), "--overwrite", "--storage", "int8"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".m.*"))  # no staging folder left behind


def _copy(exported, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in exported.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def _truncate(path):
    path.write_bytes(path.read_bytes()[:5000])


def _pickle_in_disguise(path):
    path.write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n(S'echo owned'\ntR." * 20)


def _header_lies(path):
    blob = path.read_bytes()
    path.write_bytes((10**12).to_bytes(8, "little") + blob[8:])


def _not_json(path):
    path.write_text("{ not json")


def _other_format(path):
    path.write_text(json.dumps({"format": "something-else"}))


def _bad_value(path):
    info = json.loads(path.read_text())
    info["config"]["latent"]["num_categories"] = -3
    path.write_text(json.dumps(info))


@pytest.mark.parametrize(
    ("name", "damage", "fragment"),
    [
        ("model.safetensors", _truncate, "model.safetensors: "),
        ("model.safetensors", _pickle_in_disguise, "not a safetensors file"),
        ("model.safetensors", _header_lies, "truncated or not a safetensors file"),
        ("config.json", _not_json, "not readable JSON"),
        ("config.json", _other_format, "not an infogan model config"),
        ("config.json", _bad_value, "num_categories"),
        ("config.json", lambda p: p.unlink(), "missing"),
    ],
)
def test_a_damaged_folder_gets_one_line(exported, tmp_path, main_error, name, damage, fragment):
    folder = _copy(exported, tmp_path)
    damage(folder / name)
    line = main_error("generate", folder, "--out", tmp_path / "x.png")
    assert fragment in line
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(CheckpointError):
        load_model(folder)


def test_a_truncated_file_is_one_line_from_the_command(exported, tmp_path, main_error):
    folder = _copy(exported, tmp_path)
    _truncate(folder / "model.safetensors")
    assert "model.safetensors: " in main_error("serve", folder, "--port", "0")


def test_weights_of_another_shape_are_refused(exported, tmp_path):
    folder = _copy(exported, tmp_path)
    info = json.loads((folder / "config.json").read_text())
    info["config"]["latent"]["noise_dim"] = 10
    (folder / "config.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(folder)


def test_a_hub_id_without_the_hub_extra_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'infogan\[hub\]'"):
        InfoGANModel.from_pretrained("someone/infogan-mnist")
    with pytest.raises(CheckpointError, match="no such"):
        InfoGANModel.from_pretrained("not/a/local/folder/nor/an/id")


def test_a_push_that_cannot_happen_is_refused_before_the_export(
    run, tmp_path, main_error, monkeypatch
):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    out = tmp_path / "to-push"
    line = main_error("export", run, "--out", out, "--push", "someone/infogan-mnist")
    assert "pip install 'infogan[hub]'" in line and not out.exists()
    line = main_error("export", run, "--out", out, "--push", "no id")
    assert "expected a Hub repository id, OWNER/NAME" in line and not out.exists()


def test_eval_of_a_folder_brings_its_card_up_to_date(exported, tmp_path, mnist_dir, main_run):
    folder = _copy(exported, tmp_path)
    done = main_run(
        "eval", folder, "--test-digits", "300", "--per-category", "10", "--sweep-draws", "4",
        "--sweep-values", "3", "--no-progress", "--data-dir", mnist_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads((folder / "eval.json").read_text())
    assert result["counts"]["test_digits"] == 300
    card = (folder / "README.md").read_text()
    assert f"| unsupervised accuracy | {result['unsupervised_accuracy']:.4f} |" in card

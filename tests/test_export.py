"""``infogan export``: a run as a folder to share (safetensors, config, card, figures), read
back by ``load_model``/``from_pretrained`` and the commands, in a fresh process too; bad
folders get one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open

import infogan
from infogan.api import PRETRAINED, InfoGANModel, load_model
from infogan.data import sha256_of
from infogan.errors import CheckpointError, ConfigError, RunDirError
from infogan.export import refresh_card
from infogan.training.run import resume, train

QUIET = {"progress": False, "log": lambda _m: None}
EVAL = {
    "step": 3,  # the run's checkpoint's: an evaluation of another step is left out
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


def test_overwrite_replaces_an_export_whole_and_nothing_else(run, tmp_path, main_error):
    from infogan.cli import main

    out = tmp_path / "m"
    assert main(["export", str(run), "--out", str(out)]) == 0
    (out / "stale.txt").write_text("old")
    assert main(["export", str(run), "--out", str(out), "--overwrite", "--storage", "int8"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert not list(tmp_path.glob(".m.*"))  # no staging folder left behind
    # a folder of the user's own is never emptied, --overwrite or not
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    line = main_error("export", run, "--out", mine, "--overwrite")
    assert "not an exported model (no model.safetensors), so --overwrite will not empty it" in line
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def _digests(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("source", "out"),
    [
        ("run", "run"),
        ("run", "run/checkpoints"),
        ("run", "run/model"),
        ("run", "."),
        ("run/checkpoints/last.pt", "run"),
        ("run", "link"),
        ("link", "run"),
    ],
)
def test_out_that_is_holds_or_lies_in_the_run_is_refused_and_the_run_kept(
    run, tmp_path, main_error, source, out
):
    shutil.copytree(run, tmp_path / "run")
    (tmp_path / "link").symlink_to(tmp_path / "run", target_is_directory=True)
    before = _digests(tmp_path / "run")
    line = main_error("export", tmp_path / source, "--out", tmp_path / out, "--overwrite")
    assert "is, holds or lies inside the run being exported" in line
    assert _digests(tmp_path / "run") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "run"]
    assert not (tmp_path / "run" / "model").exists()


def test_a_loose_checkpoint_may_not_be_overwritten_by_its_own_export(run, tmp_path, main_error):
    (tmp_path / "step3.pt").write_bytes((run / "checkpoints" / "last.pt").read_bytes())
    line = main_error("export", tmp_path / "step3.pt", "--out", tmp_path, "--overwrite")
    assert f"the checkpoint {tmp_path / 'step3.pt'}" in line
    assert load_model(tmp_path / "step3.pt").step == 3


@pytest.mark.parametrize("source", ["exported", "exported/model.safetensors", "pretrained"])
def test_exporting_an_exported_model_says_what_export_takes(exported, tmp_path, main_error, source):
    path = {"exported": exported, "pretrained": PRETRAINED}.get(source)
    path = path or exported / "model.safetensors"
    line = main_error("export", path, "--out", tmp_path / "again")
    assert f"{path}: already an exported model; export takes a run directory or a checkpoint" in (
        line
    )
    assert not (tmp_path / "again").exists()


def test_a_missing_safetensors_file_is_reported_missing(run, tmp_path):
    """Not "already an exported model": that goes by the suffix only for a file there."""
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(CheckpointError, match=r"missing\.safetensors: no such file or directory"):
        infogan.export_model(missing, tmp_path / "out")
    with pytest.raises(CheckpointError, match=r"missing\.safetensors: no such file or directory"):
        load_model(missing)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_out_that_cannot_take_a_folder_is_named_before_any_work(run, tmp_path):
    """Not a raw FileExistsError, or a FileNotFoundError naming the staging folder."""
    (tmp_path / "afile").write_text("a file, not a folder")
    places = [(tmp_path / "afile" / "x", f"{tmp_path / 'afile'} is not a directory")]
    if Path("/proc/self").is_dir():  # Linux's /proc takes no new files, even from root
        places.append((Path("/proc/x"), "/proc takes no new files"))
    for out, reason in places:
        with pytest.raises(RunDirError) as error:
            infogan.export_model(run, out, log=print)
        assert str(error.value) == f"--out {out}: cannot export there ({reason})"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    with pytest.raises(ConfigError, match=r"^log must be a function taking a line of text"):
        infogan.export_model(run, tmp_path / "out", log=None)
    assert not (tmp_path / "out").exists()


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(run, tmp_path):
    ended = subprocess.Popen([sys.executable, "-c", ""])
    ended.wait()  # its process id now names no process
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        out = tmp_path / "m"
        out.mkdir()
        (out / "old.txt").write_text("the export being replaced")
        (out / "model.safetensors").write_bytes(b"an earlier export's")
        killed = tmp_path / f".m.export-{ended.pid}"
        live = tmp_path / f".m.export-{running.pid}"
        swapped = tmp_path / f".m.replaced-{ended.pid}"
        other_target = tmp_path / f".mm.export-{ended.pid}"
        for folder in (killed, live, swapped, other_target):
            folder.mkdir()
            (folder / "model.safetensors").write_bytes(b"partial")
        infogan.export_model(run, out, overwrite=True)
        assert (out / "model.safetensors").is_file() and not (out / "old.txt").exists()
        assert not killed.exists() and not swapped.exists()
        assert live.is_dir() and other_target.is_dir()  # a running export's; another target's
    finally:
        running.kill()
        running.wait()


def test_an_evaluation_of_another_step_is_left_out_with_a_warning(
    tmp_path, digits_28, tiny_config, mnist_dir, main_run
):
    run = tmp_path / "run"
    train(tiny_config("tilt28", steps=2, batch_size=32), run, images=digits_28[0], **QUIET)
    done = main_run(
        "eval", run, "--test-digits", "300", "--per-category", "10", "--sweep-draws", "4",
        "--sweep-values", "3", "--no-progress", "--data-dir", mnist_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = []
    current = infogan.export_model(run, tmp_path / "at-2", log=warnings.append)
    assert warnings == [] and json.loads((current / "eval.json").read_text())["step"] == 2
    assert "| unsupervised accuracy | 0." in (current / "README.md").read_text()

    resume(run, max_steps=3, images=digits_28[0], **QUIET)
    done = main_run("export", run, "--out", tmp_path / "at-3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 'at-3'}: ")
    assert f"warning: {run / 'eval.json'}: measured step 2, the model is at step 3; " in done.stderr
    assert f"run `infogan eval {run}` again, then export, to include it" in done.stderr
    assert not (tmp_path / "at-3" / "eval.json").exists()
    card = (tmp_path / "at-3" / "README.md").read_text()
    assert "exported before it was evaluated" in card and "unsupervised accuracy |" not in card
    assert "- iterations: 3;" in card


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


def _flip_tensor_bits(path):
    """Bits flipped in the tensor data, past the header: still a readable safetensors file."""
    blob = bytearray(path.read_bytes())
    for i in range(len(blob) - 4000, len(blob) - 3000):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def _digest_not_hex(path):
    info = json.loads(path.read_text())
    info["weights_sha256"] = "abc"
    path.write_text(json.dumps(info))


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
        (
            "model.safetensors",
            _flip_tensor_bits,
            "model.safetensors: the weights do not match the digest recorded in config.json",
        ),
        ("config.json", _digest_not_hex, "'weights_sha256' is not a SHA-256 hex digest"),
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


def test_a_folder_without_a_recorded_digest_still_loads(exported, tmp_path):
    folder = _copy(exported, tmp_path)
    info = json.loads((folder / "config.json").read_text())
    del info["weights_sha256"]
    (folder / "config.json").write_text(json.dumps(info))
    model = load_model(folder)
    assert torch.equal(
        model.generate([0, 1], seed=2), load_model(exported).generate([0, 1], seed=2)
    )
    refresh_card(folder, model, {})  # what `infogan eval FOLDER` ends with
    assert "SHA-256 `not recorded`" in (folder / "README.md").read_text()


def test_a_safetensors_file_is_read_only_as_its_folders_model_file(exported, tmp_path, main_error):
    folder = _copy(exported, tmp_path)
    (folder / "other.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match=r"other\.safetensors: an exported model is read"):
        load_model(folder / "other.safetensors")
    line = main_error("generate", folder / "other.safetensors", "--out", tmp_path / "x.png")
    assert f"{folder / 'other.safetensors'}: " in line and "name the folder" in line
    assert not (tmp_path / "x.png").exists()
    assert load_model(folder / "model.safetensors").step == 3


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

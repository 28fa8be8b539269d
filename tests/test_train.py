"""Short real training runs on real MNIST: the artifacts, the plain GAN, and the step itself."""

import copy
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import infogan
from infogan.api import load_model
from infogan.config import SEED64, get_preset
from infogan.errors import ConfigError, DataError, RunDirError
from infogan.models import build_models
from infogan.training.build import build_training, load_optimizer_state, make_adam
from infogan.training.run import resume, train
from infogan.training.rundir import CSV_COLUMNS

CPU = torch.device("cpu")
SHORT = dict(max_steps=12, batch_size=8, sample_every=5, checkpoint_every=10, log_every=5)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, mnist_train_64):
    images, _ = mnist_train_64
    run = tmp_path_factory.mktemp("run")
    config = SEED64.with_train(**SHORT)
    train(config, run, images=images[:4000], progress=False, log=lambda _m: None)
    return run


def _rows(run):
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_short_run_writes_every_artifact(short_run):
    run = short_run
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 12
    rows = _rows(run)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["step"]) for r in rows] == list(range(1, 13))  # every iteration, once
    assert all(int(r["epoch"]) == 1 for r in rows)
    for r in rows:
        for key in ("d_real", "d_fake_before", "d_fake_after"):
            assert 0 <= float(r[key]) <= 1
        assert float(r["d_loss"]) > 0 and float(r["info_loss"]) >= 0
    for name in ("fixed", "varying_c1", "varying_c2"):
        files = sorted(p.name for p in (run / "images" / name).iterdir())
        assert files == ["000005.png", "000010.png", "000012.png"]
        with Image.open(run / "images" / name / "000012.png") as img:
            assert img.size == (10 * 66 + 2, 10 * 66 + 2)
            pixels = torch.from_numpy(np.asarray(img, dtype=np.float32))
            assert pixels.std() > 5  # not blank
    assert (run / "checkpoints" / "last.pt").is_file()
    summary = json.loads((run / "run.json").read_text())
    assert summary["steps"] == 12 and summary["images_seen"] == 12 * 8
    assert summary["step"] == "eager"  # a CUDA graph only on a GPU


def test_information_columns_are_consistent(short_run):
    rows = _rows(short_run)
    for r in rows:
        total = float(r["info_cat"]) + float(r["info_cont"])
        assert abs(float(r["info_loss"]) - total) < 1e-4 * max(1.0, total)
    # the categorical cross-entropy of a barely trained Q sits around H(c) = ln 10 = 2.30
    mean_cat = sum(float(r["info_cat"]) for r in rows) / len(rows)
    assert 1.0 < mean_cat < 4.0


def test_checkpoint_loads_and_generates(short_run):
    model = load_model(short_run)
    assert model.step == 12
    images = model.generate([0, 5, 9], [[0, 0], [1, -1], [-1, 1]], seed=3)
    assert images.shape == (3, 1, 64, 64)
    assert images.min() >= -1 and images.max() <= 1
    again = load_model(short_run / "checkpoints" / "last.pt").generate(
        [0, 5, 9], [[0, 0], [1, -1], [-1, 1]], seed=3
    )
    assert torch.equal(images, again)  # inference is deterministic
    different = model.generate([0, 5, 9], [[0, 0], [1, -1], [-1, 1]], seed=4)
    assert not torch.equal(images, different)


def test_plain_gan_mode_trains_and_leaves_q_untrained(tmp_path, mnist_train_64):
    images, _ = mnist_train_64
    config = SEED64.with_train(**{**SHORT, "max_steps": 6}, lambda_cat=0.0, lambda_cont=0.0)
    torch.manual_seed(config.train.seed)
    initial_q = build_models(config)[1].q_head.weight.clone()
    train(config, tmp_path / "gan", images=images[:2000], progress=False, log=lambda _m: None)
    model = load_model(tmp_path / "gan")
    assert torch.equal(model.discriminator.q_head.weight, initial_q)  # no information term
    assert len(_rows(tmp_path / "gan")) == 6


def test_existing_run_is_not_overwritten_by_accident(short_run):
    before = (short_run / "metrics.csv").read_bytes()
    with pytest.raises(RunDirError, match=r"already holds a run.*--overwrite"):
        train(SEED64.with_train(**SHORT), short_run, images=torch.zeros(64, 1, 64, 64))
    assert (short_run / "metrics.csv").read_bytes() == before


def test_one_step_updates_g_and_d_as_designed(mnist_train_64):
    images, _ = mnist_train_64
    parts = build_training(SEED64.with_train(channels_last=False))
    g, d, step, code = parts.generator, parts.discriminator, parts.step_fn, parts.code
    g0 = [p.clone() for p in g.parameters()]
    d0 = [p.clone() for p in d.parameters()]
    bn_mean = d.trunk[3].running_mean.clone()
    latent = code.sample(8, generator=torch.Generator().manual_seed(1))
    metrics = step(images[:8], latent)
    assert metrics.shape == (8,) and torch.isfinite(metrics).all()
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters(), strict=True))
    assert not torch.equal(d0[-2], d.q_head.weight)  # Q learned in the D phase
    # D's running statistics moved for the two D-phase batches only (momentum 0.1 twice),
    # not for the measuring pass after the G update
    assert d.trunk[3].num_batches_tracked.item() == 3  # real, fake (D phase), fake (G phase)
    assert not torch.equal(bn_mean, d.trunk[3].running_mean)
    assert all(p.requires_grad for p in d.parameters())


def _two_linear_copies():
    torch.manual_seed(0)
    first = torch.nn.Linear(300, 200)
    second = torch.nn.Linear(300, 200)
    second.load_state_dict(first.state_dict())
    return first, second


def _adam_steps(model, optimizer, x, steps):
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        optimizer.step()


def test_fused_adam_follows_the_default_update_rule():
    default_model, fused_model = _two_linear_copies()
    default = torch.optim.Adam(default_model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    fused = make_adam(fused_model.parameters(), lr=1e-3, betas=(0.5, 0.999), device=CPU)
    assert fused.param_groups[0]["fused"] is True
    x = torch.randn(64, 300)
    start = default_model.weight.detach().clone()
    _adam_steps(default_model, default, x, 20)
    _adam_steps(fused_model, fused, x, 20)
    assert (default_model.weight - start).abs().max() > 1e-2  # the weights really moved
    for a, b in zip(default_model.parameters(), fused_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)  # 1% of a step: rounding


def test_a_saved_optimizer_state_loads_into_the_fused_one():
    saved_model, resumed_model = _two_linear_copies()
    saved = torch.optim.Adam(saved_model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    x = torch.randn(64, 300)
    _adam_steps(saved_model, saved, x, 5)
    resumed_model.load_state_dict(saved_model.state_dict())
    resumed = make_adam(resumed_model.parameters(), lr=7.0, betas=(0.9, 0.9), device=CPU)
    load_optimizer_state(resumed, copy.deepcopy(saved.state_dict()))  # as if read from disk
    group = resumed.param_groups[0]
    assert group["fused"] is True  # this machine's implementation is kept
    assert group["lr"] == 1e-3 and group["betas"] == (0.5, 0.999)  # the run's settings too
    _adam_steps(saved_model, saved, x, 5)
    _adam_steps(resumed_model, resumed, x, 5)
    torch.testing.assert_close(saved_model.weight, resumed_model.weight, rtol=1e-5, atol=1e-5)

    other = torch.optim.Adam([{"params": [resumed_model.weight]}, {"params": [resumed_model.bias]}])
    with pytest.raises(ValueError, match="2 parameter groups"):
        load_optimizer_state(resumed, other.state_dict())


def test_rates_fall_to_zero_over_the_last_steps_and_a_resume_keeps_the_schedule(
    tmp_path, digits_28
):
    from infogan.config import PAPER28
    from infogan.training.run import resume

    images = digits_28[0][:512]
    config = PAPER28.with_train(
        max_steps=4, batch_size=8, lr_decay_steps=4, sample_every=2, checkpoint_every=2
    )
    quiet = dict(images=images, progress=False, log=lambda _m: None)
    train(config, tmp_path / "run", **quiet)

    def rates(path):
        state = torch.load(path, weights_only=True)
        groups = state["opt_g"]["param_groups"][0], state["opt_d"]["param_groups"][0]
        return float(groups[0]["lr"]), float(groups[1]["lr"])

    lr_g, lr_d = config.train.lr_g, config.train.lr_d
    ckpts = tmp_path / "run" / "checkpoints"
    assert rates(ckpts / "step_000002.pt") == pytest.approx((lr_g / 2, lr_d / 2))
    assert rates(ckpts / "last.pt") == (0.0, 0.0)  # the last step's update was the smallest
    # four more steps: the schedule follows the new total (full rates again, then falling)
    resume(tmp_path / "run", max_steps=8, **quiet)
    assert rates(ckpts / "step_000006.pt") == pytest.approx((lr_g / 2, lr_d / 2))
    assert rates(ckpts / "last.pt") == (0.0, 0.0)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_run_refused_for_its_data_leaves_nothing_and_the_retry_starts(
    tmp_path, mnist_dir, main_run, main_error
):
    run = tmp_path / "runs" / "x3"
    new = ("train", "--preset", "paper28", "--run-dir", run, "--data-dir", mnist_dir)
    new += ("--no-progress", "--no-report")
    assert "larger than the dataset" in main_error(*new, "--batch-size", "100000")
    assert "leaves no training images" in main_error(*new, "--holdout", "60000")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"not an image")
    assert "could be read" in main_error(*new, "--dataset", f"folder:{broken}")
    assert not (tmp_path / "runs").exists()  # not even the folders
    out = main_run(*new, "--batch-size", "8", "--max-steps", "2")  # no --overwrite needed
    assert out.returncode == 0, out.stderr


def test_compare_refused_for_its_batch_leaves_no_arm_behind(tmp_path, mnist_dir, main_error):
    root = tmp_path / "cmp"
    line = main_error(
        "compare", "--preset", "paper28", "--batch-size", "100000", "--run-dir", root,
        "--data-dir", mnist_dir, "--no-progress",
    )  # fmt: skip
    assert "larger than the dataset" in line
    assert not [p for p in root.rglob("*") if p.is_file()]


class _CtrlCAtFirstStep:
    """A second Ctrl-C (KeyboardInterrupt) after step 1, long before any checkpoint."""

    def on_metrics(self, rows):
        pass

    def on_step_end(self, step, epoch):
        raise KeyboardInterrupt

    def on_train_end(self, step, epoch):
        pass


def test_a_new_run_stopped_before_its_first_checkpoint_takes_only_its_own_files(
    tmp_path, digits_28, tiny_config
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    for run in (tmp_path / "new" / "run", mine):
        with pytest.raises(KeyboardInterrupt):
            train(
                tiny_config("paper28", steps=3),
                run,
                images=digits_28[0][:64],
                probes=[lambda _parts: _CtrlCAtFirstStep()],
                progress=False,
                log=lambda _m: None,
            )
    assert not (tmp_path / "new").exists()  # the folders it made went with its files
    assert _files(mine) == {Path("notes.txt"): b"the user's"}


def test_a_folder_that_is_not_a_run_is_refused_even_with_overwrite(tmp_path, mnist_dir, main_error):
    proj = tmp_path / "proj"
    (proj / "images").mkdir(parents=True)
    (proj / "config.json").write_text('{"name": "my project", "train": {"epochs": 2}}')
    (proj / "images" / "mine.png").write_bytes(b"\x89PNG the user's")
    (proj / "notes.txt").write_text("notes")
    before = _files(proj)
    for extra in ([], ["--overwrite"]):
        line = main_error("train", "--run-dir", proj, "--data-dir", mnist_dir, *extra)
        assert f"{proj}: not an infogan run directory" in line
        assert "pick an empty or new folder" in line
    assert _files(proj) == before


def test_overwrite_removes_all_the_old_run_wrote_and_nothing_else(tmp_path, digits_28, tiny_config):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("the user's")
    quiet = dict(images=digits_28[0][:64], progress=False, log=lambda _m: None)
    train(tiny_config("paper28", steps=2), run, **quiet)
    # what infogan eval, the report, --tensorboard and the quick start add to a run
    for name in ("eval.json", "eval.txt", "report.html"):
        (run / name).write_text("the old model's")
    for name in ("figures", "tensorboard"):
        (run / name).mkdir()
        (run / name / "old").write_text("the old model's")
    train(tiny_config("paper28", steps=3), run, overwrite=True, **quiet)
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.json",
        "images",
        "metrics.csv",
        "notes.txt",
        "run.json",
    ]
    assert (run / "notes.txt").read_text() == "the user's"
    assert sorted(p.name for p in (run / "images" / "fixed").iterdir()) == ["000003.png"]


def test_a_config_file_of_another_preset_does_not_relabel_the_run(tmp_path, main_error):
    from infogan.cli import build_parser
    from infogan.cli.training import _settings, _train_config
    from infogan.config import get_preset

    other = tmp_path / "quick28.json"
    other.write_text(json.dumps({"preset": "quick28", "train": {"seed": 4}}))
    run = tmp_path / "r"
    line = main_error("train", "--preset", "start28", "--config", other, "--run-dir", run)
    assert "--preset start28" in line and "'quick28' disagree" in line
    assert not run.exists()

    def config(*argv):
        args = build_parser().parse_args(["train", *map(str, argv)])
        return _train_config(args, _settings(args)[0])

    for argv in (["--config", other], ["--preset", "quick28", "--config", other]):
        got = config(*argv)  # the file's own preset, as the starting point or named again
        assert got == get_preset("quick28").with_train(seed=4)


class _SecondTrainer:
    """At step 3 (after the checkpoint of step 2), a second ``infogan train`` into the
    same folder: --resume, --overwrite, and a plain new run; each one's outcome is kept."""

    def __init__(self, run, main_run, mnist_dir):
        self.run, self.main_run, self.mnist_dir, self.outcomes = run, main_run, mnist_dir, []

    def on_metrics(self, rows):
        pass

    def on_step_end(self, step, epoch):
        if step != 3:
            return
        common = ("--data-dir", self.mnist_dir, "--no-progress", "--no-report")
        self.short = ("--batch-size", "8", "--max-steps", "2")  # short, were it not refused
        for argv in (
            ("--resume", self.run, "--max-steps", "6"),
            ("--preset", "paper28", "--run-dir", self.run, "--overwrite", *self.short),
            ("--preset", "paper28", "--run-dir", self.run, *self.short),
        ):
            self.outcomes.append(self.main_run("train", *argv, *common))

    def on_train_end(self, step, epoch):
        pass


def test_a_second_train_into_a_run_in_training_is_refused_and_changes_nothing(
    tmp_path, digits_28, tiny_config, main_run, mnist_dir, one_line_error
):
    run = tmp_path / "run"
    second = _SecondTrainer(run, main_run, mnist_dir)
    config = tiny_config("paper28", steps=4).with_train(checkpoint_every=2)
    train(
        config,
        run,
        images=digits_28[0][:64],
        probes=[lambda _parts: second],
        progress=False,
        log=lambda _m: None,
    )
    assert len(second.outcomes) == 3
    for out in second.outcomes:
        line = one_line_error(out, "another infogan train is writing this run now")
        assert line == f"infogan: error: {run}: another infogan train is writing this run now; " + (
            "wait for it to end (or stop it: Ctrl-C saves it), then try again"
        )
    with open(run / "metrics.csv", newline="") as fh:
        assert [int(row["step"]) for row in csv.DictReader(fh)] == [1, 2, 3, 4]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "last.pt",
        "step_000002.pt",
        "step_000004.pt",
    ]
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 4
    # once it has ended, the folder is free again: the resume it refused now runs
    resume(run, max_steps=5, images=digits_28[0][:64], progress=False, log=lambda _m: None)
    with open(run / "metrics.csv", newline="") as fh:
        assert [int(row["step"]) for row in csv.DictReader(fh)] == [1, 2, 3, 4, 5]


def test_a_config_files_own_mistakes_name_the_file(tmp_path, main_error):
    good = get_preset("start28").to_dict()
    for name, change, fragment in (
        ("type.json", {"train": {**good["train"], "batch_size": "32"}}, "train.batch_size must be"),
        ("key.json", {"train": {"batchsize": 32}}, "unknown setting 'train.batchsize'"),
        ("section.json", {"model": [1]}, "'model' must be an object"),
        ("value.json", {"train": {"lr_g": -1}}, "--lr-g must be a positive finite number"),
    ):
        path = tmp_path / name
        path.write_text(json.dumps({**good, **change}))
        line = main_error("train", "--config", path, "--run-dir", tmp_path / "r")
        assert line.startswith(f"infogan: error: {path}: ") and fragment in line, line
    typo = tmp_path / "typo.json"  # a partial file: the settings it leaves out need a preset
    typo.write_text(json.dumps({"preset": "start27", "train": {"seed": 3}}))
    line = main_error("train", "--config", typo, "--run-dir", tmp_path / "r")
    assert f"{typo}: preset 'start27' is none of" in line and "did you mean start28?" in line
    renamed = tmp_path / "renamed.json"  # a whole run's config under a name of its own
    renamed.write_text(
        json.dumps({**good, "preset": "mine", "train": {**good["train"], "lr_g": -1}})
    )
    assert "--lr-g must be" in main_error("train", "--config", renamed, "--run-dir", tmp_path / "r")
    broken = tmp_path / "broken.json"
    broken.write_text('{"preset": "start28",\n "train": {"seed": 1,}}')
    assert f"{broken}: not JSON (" in main_error("train", "--config", broken)
    assert "line 2" in main_error("train", "--config", broken)
    assert not (tmp_path / "r").exists()


def test_an_older_versions_config_file_keeps_its_own_readings(tmp_path):
    """--config of a config.json written before the readings: its turn and tilt settings
    become its readings, as loading that run does, not the preset's (test_config.py)."""
    from infogan.cli import build_parser
    from infogan.cli.training import _settings, _train_config
    from infogan.config import RunConfig
    from test_config import old_config

    for raw in (
        old_config("tilt28", tilt_degrees=20.0),
        old_config("restyle28", turn_code=2, turn_degrees=90.0),
        old_config("paper28", q_fixed_std=True),
    ):
        path = tmp_path / "old.json"
        path.write_text(json.dumps(raw))
        args = build_parser().parse_args(["train", "--config", str(path)])
        got = _train_config(args, _settings(args)[0])
        assert got.train == RunConfig.from_dict(raw).train


def test_an_exported_models_config_file_gives_its_run_configuration():
    """--config of an exported folder's config.json (the shipped model's here) is the
    configuration the model was trained with, not an 'unknown section' error."""
    from infogan.api import PRETRAINED
    from infogan.cli import build_parser
    from infogan.cli.training import _settings, _train_config
    from infogan.config import RunConfig

    path = PRETRAINED / "config.json"
    args = build_parser().parse_args(["train", "--config", str(path), "--set", "train.seed=3"])
    got = _train_config(args, _settings(args)[0])
    saved = RunConfig.from_dict(json.loads(path.read_text())["config"])
    assert got == saved.with_train(seed=3)


def test_train_takes_a_presets_name(tmp_path):
    """train("start28", ...) is start28: its batch of 128 is what ten digits cannot fill;
    a name that is no preset, or another type, is one line; nothing is written."""
    digits = torch.zeros(10, 1, 28, 28)
    with pytest.raises(ConfigError, match="--batch-size 128 is larger than the dataset"):
        train("start28", tmp_path / "a", images=digits, progress=False, log=lambda _m: None)
    with pytest.raises(ConfigError, match="unknown preset 'start29'"):
        train("start29", tmp_path / "b", images=digits)
    with pytest.raises(ConfigError, match="train takes a RunConfig or a preset's name, got 42"):
        train(42, tmp_path / "c", images=digits)
    assert not any(tmp_path.iterdir())


def test_sync_bn_in_one_process_says_it_changes_nothing(tmp_path, digits_28, tiny_config):
    lines: list[str] = []
    config = tiny_config("paper28", steps=1, sync_bn=True)
    train(config, tmp_path / "run", images=digits_28[0][:16], progress=False, log=lines.append)
    assert any(line.startswith("note: --sync-bn shares BatchNorm") for line in lines), lines
    lines.clear()
    train(tiny_config("paper28", steps=1), tmp_path / "b", images=digits_28[0][:16],
          progress=False, log=lines.append)  # fmt: skip
    assert not any("--sync-bn" in line for line in lines)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: infogan.train("start28", None), r"^run_dir must be a str or pathlib\.Path"),
        (lambda: infogan.resume(7), r"^run_dir must be a str or pathlib\.Path.*got 7"),
        (lambda: infogan.export_model(None, out="x"), r"^source must be a str or pathlib\.Path"),
        (lambda: infogan.export_model("runs/x", out=3), r"^out must be a str or pathlib\.Path"),
        (lambda: infogan.load_mnist(image_size=0), r"^image_size must be a positive integer"),
        (lambda: infogan.train("start28", ""), r"^run_dir must name the new run's .*string ''"),
        (lambda: infogan.resume(" "), r"^run_dir must name the directory of the run to"),
        (lambda: infogan.train("start28", "r", data_dir=5), r"^data_dir must be a str.*got 5"),
        (lambda: infogan.resume("r", data_dir=5), r"^data_dir must be a str or pathlib\.Path"),
        (lambda: infogan.train("start28", "r", log=None), r"^log must be a function.*got None"),
        (lambda: infogan.resume("r", log=3), r"^log must be a function taking a line"),
        (lambda: infogan.train("start28", "r", probes=None), r"^probes must be a list of"),
        (lambda: infogan.train("start28", "r", probes=[5]), r"^probes\[0\] must be a function"),
        (
            lambda: infogan.train(dataclasses.replace(SEED64, preset=None), "r"),
            r"^preset must be a non-empty name, got None",  # its checkpoint could not be read
        ),
    ],
)
def test_an_api_argument_of_the_wrong_kind_is_named(call, message, tmp_path, monkeypatch):
    """Not pathlib's or torch's bare TypeError or RuntimeError; nothing is written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        call()
    assert list(tmp_path.iterdir()) == []


def test_given_images_are_checked_before_an_old_run_is_replaced(tmp_path, digits_28, tiny_config):
    """Of the wrong kind, type, size or range, given images are refused before --overwrite
    removes the old run (not at step 1, with a raw RuntimeError and an empty folder)."""
    quiet = dict(progress=False, log=lambda _m: None)
    run, digits, config = tmp_path / "run", digits_28[0][:16], tiny_config("paper28", steps=1)
    train(config, run, images=digits, **quiet)
    before = _files(run)
    pixels = (digits + 1) * 127.5  # 0..255
    for images, message in (
        (torch.zeros(16, 1, 64, 64), r"^images must be \(N, 1 or 3, 28, 28\) for paper28, got"),
        (torch.zeros(16, 28, 28), r"^images must be \(N, 1 or 3, 28, 28\).*\(16, 28, 28\)"),
        (digits.numpy(), r"^images must be a torch\.Tensor \(N, C, 28, 28\).*got ndarray"),
        (digits.tolist(), r"^images must be a torch\.Tensor .*got list"),
        (pixels.to(torch.uint8), r"^images must be floating-point .*got torch\.uint8"),
        (digits > 0, r"^images must be floating-point .*got torch\.bool"),
        (pixels, r"^images must be in \[-1, 1\].*got values from 0 to 255$"),
        (digits / 0, r"^images must be in \[-1, 1\].*got values from -inf to inf$"),
    ):
        with pytest.raises(DataError, match=message):
            train(config, run, overwrite=True, images=images, **quiet)
        with pytest.raises(DataError, match=message):
            resume(run, max_steps=2, images=images, **quiet)
    assert _files(run) == before
    train(config, run, overwrite=True, images=digits.double(), **quiet)  # trained as float32
    assert load_model(run).step == 1

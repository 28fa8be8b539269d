"""The real ``infogan`` command: help, user mistakes, an end-to-end run (in a subprocess,
as a user runs it; the other commands through its ``main`` in the test's process)."""

import argparse
import json
import re
import subprocess
import sys

import pytest
import torch
from PIL import Image

from infogan.training.build import resolve_precision


@pytest.mark.parametrize("command", [[], ["fetch-data"], ["train"], ["generate"]])
def test_help_is_accurate(command, cli):
    out = cli.run(*command, "--help")
    assert out.returncode == 0
    assert "usage: infogan" in out.stdout
    if command == ["train"]:
        for flag in (
            "--preset",
            "--run-dir",
            "--epochs",
            "--max-steps",
            "--seed",
            "--batch-size",
            "--lambda-cat",
            "--lambda-cont",
            "--sample-every",
            "--device",
            "seed64",
            "quick64",
        ):
            assert flag in out.stdout
    if not command:
        for sub in ("fetch-data", "train", "generate"):
            assert sub in out.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["train", "--max-steps", "0"], "--max-steps must be a positive integer"),
        (["train", "--lambda-cat", "nan"], "--lambda-cat must be a finite number >= 0"),
        (["train", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--precision", "fp8"], "--precision must be one of auto, fp32, bf16, got 'fp8'"),
        (["train", "--set", "train.tilt_from=3"], "unknown setting 'train.tilt_from'"),
        (["train", "--set", "train.seed"], "expected SECTION.FIELD=VALUE"),
        (["train", "--config", "/nonexistent.json"], "/nonexistent.json: cannot read"),
        (["generate", "/nonexistent/run", "--out", "x.png"], "no such file or directory"),
    ],
)
def test_user_mistakes_give_one_clear_line(args, fragment, tmp_path, main_error):
    extra = ["--run-dir", tmp_path / "r"] if args[0] == "train" else []
    assert fragment in main_error(*args, *extra)


def test_compile_without_a_cpp_compiler_is_one_line_before_anything_is_written(
    tmp_path, main_error, monkeypatch
):
    missing = tmp_path / "no-g++"
    monkeypatch.setenv("CXX", str(missing))
    run = tmp_path / "run"
    line = main_error("train", "--compile", "--device", "cpu", "--max-steps", "1", "--run-dir", run)
    assert f"--compile on a CPU needs the C++ compiler torch.compile builds with ({missing}" in line
    assert not run.exists()


def test_unwritable_data_dir(tmp_path, cli, one_line_error, main_error, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = cli.run("fetch-data", "--data-dir", str(blocker / "sub"))
    one_line_error(out, "cannot create data directory")
    monkeypatch.setenv("INFOGAN_DATA_DIR", str(blocker / "sub"))
    line = main_error("train", "--max-steps", "1", "--run-dir", tmp_path / "r")
    assert "cannot create data directory" in line


def test_unwritable_run_dir(tmp_path, mnist_dir, main_error):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = main_error(
        "train", "--max-steps", 1, "--run-dir", blocker / "run", "--data-dir", mnist_dir
    )
    assert "run directory is not writable" in line


def test_fetch_data_verifies_an_existing_copy(mnist_dir, main_run):
    out = main_run("fetch-data", "--data-dir", mnist_dir)
    assert out.returncode == 0 and "SHA-256 verified" in out.stdout


@pytest.mark.slow
def test_train_then_generate_end_to_end(tmp_path, mnist_dir, cli, main_error):
    run = tmp_path / "run"
    out = cli.run(
        "train",
        "--preset",
        "quick64",
        "--max-steps",
        "6",
        "--batch-size",
        "8",
        "--sample-every",
        "3",
        "--run-dir",
        str(run),
        "--data-dir",
        str(mnist_dir),
        "--no-progress",
        "--no-report",
    )
    assert out.returncode == 0, out.stderr
    assert "done: 6 steps" in out.stderr
    # --precision auto (the default) is recorded as what it chose on this machine
    used = json.loads((run / "run.json").read_text())["precision"]
    assert used == resolve_precision("auto", torch.device("cpu"))
    assert ("(bf16 autocast)" in out.stderr) == (used == "bf16")
    assert ("(fp32: this CPU has no native bfloat16)" in out.stderr) == (used == "fp32")
    for name in ("fixed", "varying_c1", "varying_c2"):
        assert sorted(p.name for p in (run / "images" / name).iterdir()) == [
            "000003.png",
            "000006.png",
        ]
    # the mistakes, through the CLI's own main (no interpreter start-up)
    again = main_error("train", "--max-steps", "1", "--run-dir", run, "--data-dir", mnist_dir)
    assert "already holds a run" in again

    png = tmp_path / "digits.png"
    out = cli.run(
        "generate",
        str(run),
        "--out",
        str(png),
        "--categories",
        "1,4,7",
        "--rows",
        "2",
        "--c1",
        "0.5",
    )
    assert out.returncode == 0, out.stderr
    with Image.open(png) as img:
        assert img.size == (3 * 66 + 2, 2 * 66 + 2)
    bad = main_error("generate", run, "--out", png, "--categories", "3,12")
    assert "--categories must be in [0, 9]" in bad


def test_help_shows_the_options_a_user_needs_and_loads_no_torch(cli):
    out = cli.run("train", "--help")
    options = {m for m in re.findall(r"(--[a-z][a-z-]+)", out.stdout)}
    assert {"--set", "--config", "--preset", "--resume", "--lambda-cluster"} <= options
    assert len(options) <= 32, sorted(options)
    check = "import sys, infogan.cli; infogan.cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.slow
def test_set_and_config_reach_the_run_and_a_resume_keeps_them(
    tmp_path, mnist_dir, main_run, main_error
):
    run = tmp_path / "run"
    partial = tmp_path / "change.json"
    partial.write_text(json.dumps({"train": {"lr_d": 0.0003}, "model": {"overcluster": 20}}))
    common = ["--data-dir", mnist_dir, "--no-progress", "--no-report"]
    first = main_run(
        "train", "--preset", "restyle28", "--config", partial, "--set", "train.cluster_reseed=7",
        "--batch-size", "8", "--max-steps", "2", "--run-dir", run, *common,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"] == "restyle28" and saved["model"]["overcluster"] == 20
    assert (saved["train"]["lr_d"], saved["train"]["cluster_reseed"]) == (0.0003, 7)
    assert saved["train"]["batch_size"] == 8 and saved["model"]["separate_q"] is True
    for change, named in (
        (["--set", "train.cluster_reseed=9"], "--set train.cluster_reseed"),
        (["--lr-d", "1"], "--lr-d"),
        (["--preset", "tilt28"], "--preset"),
        (["--run-dir", tmp_path / "other"], "--run-dir"),  # the option, not args.run_dir
    ):
        assert f"drop {named}" in main_error("train", "--resume", run, *change, *common)
    again = main_run("train", "--resume", run, "--max-steps", "3", *common)
    assert again.returncode == 0, again.stderr
    assert json.loads((run / "config.json").read_text())["train"]["cluster_reseed"] == 7


# --- generate, sample, eval, train-classifier: refused before any work, with one line ---


@pytest.fixture
def loose_model(tiny_run, tmp_path):
    """The tiny run's checkpoint as a loose file in tmp_path, whose eval.json goes beside it
    (tmp_path/eval.json), so that a test may write a broken one."""
    model = tmp_path / "model.pt"
    model.symlink_to(tiny_run / "checkpoints" / "last.pt")
    return model


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[3, 1, 4]", "not an infogan eval.json"),
        ('{"category_to_digit": null}', "must match the 10 codes one to one"),
        ('{"category_to_digit": ["0", 1, 2, 3, 4, 5, 6, 7, 8, 9]}', "got ['0', 1, 2,"),
        ('{"category_to_digit": [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]}', "must match the 10 codes"),
        ('{"category_to_digit": 7}', "must match the 10 codes one to one"),
        ("{not json", "not valid JSON"),
        # measured at another step than the model's (the run went on after infogan eval)
        (
            '{"step": 999999, "category_to_digit": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}',
            "measured step 999999",
        ),
    ],
)
def test_generate_by_digit_names_a_broken_eval_json(loose_model, content, fragment, main_error):
    evaluation = loose_model.parent / "eval.json"
    evaluation.write_text(content)
    out = loose_model.parent / "x.png"
    line = main_error("generate", loose_model, "--categories", "by-digit", "--out", out)
    assert line.startswith(f"infogan: error: {evaluation}: ") and fragment in line
    assert not out.exists()


def test_generate_by_digit_follows_a_valid_eval_json(loose_model, main_run):
    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # code c shows digit mapping[c]
    (loose_model.parent / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    by_digit, by_code = loose_model.parent / "d.png", loose_model.parent / "c.png"
    order = ",".join(str(mapping.index(d)) for d in range(10))  # column k: the code of digit k
    assert (
        main_run("generate", loose_model, "--categories", "by-digit", "--out", by_digit).returncode
        == 0
    )
    assert (
        main_run("generate", loose_model, "--categories", order, "--out", by_code).returncode == 0
    )
    assert by_digit.read_bytes() == by_code.read_bytes()


@pytest.fixture
def blocked_paths(tmp_path):
    """A directory named like an output file, and a file where a folder should be."""
    (tmp_path / "isdir.png").mkdir()
    (tmp_path / "isdir.npz").mkdir()
    (tmp_path / "isdir.safetensors").mkdir()
    (tmp_path / "g.png").write_text("not a folder")
    return tmp_path


def _no_temporaries(folder):
    return not [p for p in folder.rglob("*") if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("command", "out", "expected"),
    [
        ("generate", "isdir.png", "{tmp}/isdir.png: is a directory, not a file"),
        ("generate", "g.png/x.png", "{tmp}/g.png/x.png: cannot write here ({tmp}/g.png is not"),
        ("generate", "/sys/x.png", "/sys/x.png: cannot write here ("),
        ("sample", "isdir.npz", "{tmp}/isdir.npz: is a directory, not a file"),
        ("sample", "g.png/s.npz", "{tmp}/g.png/s.npz: cannot write here ({tmp}/g.png is not"),
    ],
)
def test_an_unwritable_out_is_named_with_its_reason(
    command, out, expected, tiny_run, blocked_paths, main_error
):
    tmp = blocked_paths
    target = out if out.startswith("/") else tmp / out
    line = main_error(command, tiny_run, "--out", target)
    assert expected.format(tmp=tmp) in line and ".tmp" not in line
    assert _no_temporaries(tmp) and not (tmp / "g.png").is_dir()


GENERATE = ["generate", "RUN", "--out", "x.png"]
SAMPLE = ["sample", "RUN", "--out", "x.npz"]
BIG = "99999999999999999999999"  # past a 64-bit integer


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([*GENERATE, "--seed", BIG], f"--seed must be in [0, 2^63), got {BIG}"),
        ([*GENERATE, "--seed", "-1"], "--seed must be in [0, 2^63), got -1"),
        ([*SAMPLE, "--per-category", "1000000000"], "at most 10,000 (every digit is held in"),
        ([*GENERATE, "--vary", "c1", "--c1", "0.5"], "--c1 0.5 has no effect with --vary c1,"),
        ([*GENERATE, "--vary", "c2", "--c2", "0"], "--c2 0.0 has no effect with --vary c2"),
        ([*GENERATE, "--vary", "c1", "--seed", "0"], "--seed 0 has no effect with --vary: the"),
        (["eval", "RUN", "--test-digits", "20000"], "at most 10,000, the size of the test set"),
        (["eval", "RUN", "--seed", BIG], "--seed must be in [0, 2^63)"),
        (["eval", "RUN", "--per-category", "10001"], "--per-category must be at most 10,000"),
    ],
)
def test_model_command_values_are_refused_up_front(args, fragment, tiny_run, tmp_path, main_error):
    args = [
        tiny_run if a == "RUN" else tmp_path / a if a in ("x.png", "x.npz") else a for a in args
    ]
    assert fragment in main_error(*args)
    assert not any(tmp_path.iterdir()) and not (tiny_run / "eval.json").exists()


def test_vary_keeps_the_other_code(tiny_run, tmp_path, main_run):
    held, plain = tmp_path / "held.png", tmp_path / "plain.png"
    assert (
        main_run("generate", tiny_run, "--vary", "c1", "--c2", "0.9", "--out", held).returncode == 0
    )
    assert main_run("generate", tiny_run, "--vary", "c1", "--out", plain).returncode == 0
    assert held.read_bytes() != plain.read_bytes()  # --c2 reached the sweep


@pytest.fixture
def no_training(monkeypatch):
    """train-classifier with its data and training replaced by failures: a check that
    fires must fire before either."""

    def fail(*_args, **_kwargs):
        raise AssertionError("train-classifier went on to fetch data or train")

    monkeypatch.setattr("infogan.data.fetch_dataset", fail)
    monkeypatch.setattr("infogan.evaluate.classifier.train_dataset_classifier", fail)


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("isdir.safetensors", "{tmp}/isdir.safetensors: is a directory, not a file"),
        ("g.png/c.safetensors", "{tmp}/g.png/c.safetensors: cannot write here ({tmp}/g.png is"),
        ("/sys/c.safetensors", "/sys/c.safetensors: cannot write here ("),
        ("model.safetensors", "{tmp}/model.safetensors already exists; pass --overwrite"),
    ],
)
def test_train_classifier_checks_its_out_before_training(
    out, expected, blocked_paths, no_training, main_error
):
    tmp = blocked_paths
    existing = tmp / "model.safetensors"
    existing.write_bytes(b"an exported model's weights")
    target = out if out.startswith("/") else tmp / out
    assert expected.format(tmp=tmp) in main_error("train-classifier", "--out", target)
    assert existing.read_bytes() == b"an exported model's weights"
    assert _no_temporaries(tmp)


def test_train_classifier_checks_its_seed_before_training(tmp_path, no_training, main_error):
    out = tmp_path / "c.safetensors"
    line = main_error("train-classifier", "--out", out, "--seed", "99999999999999999999999")
    assert "--seed must be in [0, 2^63), got 99999999999999999999999" in line
    assert not out.exists()


def test_train_classifier_overwrite_replaces_the_file(tmp_path, mnist_dir, monkeypatch, main_run):
    from infogan.evaluate import classifier as clf

    def untrained(dataset, data_dir, out, **_options):  # the real file format, no minutes
        clf.save_classifier(
            clf.MnistClassifier(), out, dataset=dataset.name, test_accuracy=0.1, seconds=0.0
        )
        return clf.load_classifier(out, dataset)

    monkeypatch.setattr(clf, "train_dataset_classifier", untrained)
    out = tmp_path / "c.safetensors"
    out.write_bytes(b"old")
    done = main_run("train-classifier", "--out", out, "--overwrite", "--data-dir", mnist_dir)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    assert clf.load_classifier(out).path == out


# --- output discipline: stdout for what a script reads, stderr for the rest ---------------


def test_every_option_has_help_text():
    from infogan.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in sub.choices.items()
        for action in command._actions
        if not action.help
    ]
    assert not missing, missing


def test_a_mistyped_option_gets_one_line_with_the_close_match(capsys):
    from infogan.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["eval", "--pretrained", "--jsn"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "infogan eval: error: unrecognized arguments: --jsn (did you mean --json?); "
        "see infogan eval --help"
    ]


@pytest.mark.parametrize(
    "args, line",
    [
        (["train", "--max-steps", "abc"], "argument --max-steps: invalid int value: 'abc'"),
        (["export", "run", "--out", "d", "--storage", "fp16"], "argument --storage: invalid"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_a_malformed_command_line_is_one_line_not_the_usage(args, line, capsys):
    """argparse's own errors (a value of the wrong type, a choice not offered) printed the
    command's whole usage, 13 lines for train, above the one that matters."""
    from infogan.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    (err,) = capsys.readouterr().err.splitlines()
    assert line in err and err.startswith("infogan") and err.endswith(" --help"), err


def test_an_abbreviated_option_is_refused_not_guessed(capsys, tmp_path):
    """``--max-step 5`` is no ``--max-steps 5``: a script's typo must not train a run."""
    from infogan.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["train", "--max-step", "5", "--run-dir", str(tmp_path / "run")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "infogan train: error: unrecognized arguments: --max-step 5 (did you mean --max-steps?); "
        "see infogan train --help"
    ]
    assert not (tmp_path / "run").exists()


def test_progress_bars_only_on_a_terminal(tmp_path, main_run, monkeypatch):
    """Redirected stderr (a log file, a pipe) gets no carriage-return redraws."""
    args = ("sample", "--pretrained", "--per-category", "2", "--out")
    piped = main_run(*args, tmp_path / "a.npz")
    assert piped.returncode == 0 and "\r" not in piped.stderr, piped.stderr
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    terminal = main_run(*args, tmp_path / "b.npz")
    assert terminal.returncode == 0 and "\r" in terminal.stderr


def test_serve_warnings_go_to_stderr_and_the_url_alone_to_stdout(main_run, monkeypatch):
    def fake_serve(path, *, host, port, log):
        log("warning: run/eval.json: not valid JSON; labelling buttons by code index")
        log("note: http://0.0.0.0:8000/ is reachable from other machines")
        log("serving quick28 (step 1400) at http://0.0.0.0:8000/ - press Ctrl-C to stop")

    monkeypatch.setattr("infogan.web.serve", fake_serve)
    out = main_run("serve", "--pretrained", "--host", "0.0.0.0")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "serving quick28 (step 1400) at http://0.0.0.0:8000/ - press Ctrl-C to stop"
    ]
    assert out.stderr.splitlines() == [
        "infogan: warning: run/eval.json: not valid JSON; labelling buttons by code index",
        "infogan: note: http://0.0.0.0:8000/ is reachable from other machines",
        "infogan: server stopped",
    ]


def test_eval_refuses_a_missing_classifier_before_fetching_data(tmp_path, main_error):
    data = tmp_path / "data"
    line = main_error(
        "eval", "--pretrained", "--classifier", tmp_path / "c.safetensors", "--data-dir", data
    )
    assert line == f"infogan: error: {tmp_path / 'c.safetensors'}: no such classifier file"
    assert not data.exists()


def test_eval_refuses_a_damaged_classifier_before_fetching_any_data(tmp_path, main_error):
    """The classifier is read first: a bad --classifier costs no 54 MB download or copy."""
    damaged = tmp_path / "judge.safetensors"
    damaged.write_bytes(b"not a safetensors file")
    data = tmp_path / "data"
    data.mkdir()
    line = main_error("eval", "--pretrained", "--classifier", damaged, "--data-dir", data)
    assert "judge.safetensors" in line
    assert list(data.iterdir()) == []


def test_a_reader_that_leaves_early_gets_no_error_and_the_work_is_kept(tmp_path):
    """`infogan generate ... | head -0`: the grid is written, and the closed pipe gets the
    quiet SIGPIPE exit of a Unix tool, not "error: Broken pipe"."""
    out = tmp_path / "grid.png"
    command = [sys.executable, "-m", "infogan", "generate", "--pretrained", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command prints its line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and stderr == "", stderr
    assert Image.open(out).size[0] > 0

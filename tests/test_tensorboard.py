"""TensorBoard logging and the report of a short real ``infogan train`` run, read back with
TensorBoard's own event reader; and ``--no-report`` without ``--tensorboard`` writing neither."""

import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from infogan.config.presets import get_preset
from infogan.tensorboard import SCALAR_TAGS, scalar_tags
from infogan.training.rundir import METRIC_NAMES

pytestmark = pytest.mark.slow  # every test here reads a run of the real command

STEPS = 5  # grids at steps 2 and 4 and at the last step; metrics flushed every 2 steps


@pytest.fixture(scope="module")
def run(tmp_path_factory, mnist_dir, cli):
    """``infogan train --tensorboard``: 5 steps of paper28 at batch 8, then the report."""
    run = tmp_path_factory.mktemp("tb") / "run"
    out = cli.run(
        "train", "--preset", "paper28", "--max-steps", STEPS, "--batch-size", "8",
        "--sample-every", "2", "--set", "train.log_every=2", "--run-dir", run,
        "--data-dir", mnist_dir, "--no-progress", "--tensorboard",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return run


@pytest.fixture(scope="module")
def events(run):
    logs = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(logs) == 1
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_every_metric_of_every_step_is_a_scalar(run, events):
    tags = scalar_tags(get_preset("paper28"))
    assert set(events.Tags()["scalars"]) == set(tags.values())
    assert set(tags) == set(METRIC_NAMES)
    # paper28's Q scores c1 and c2 as a Gaussian, so its continuous loss is no MSE
    assert "information/continuous_gaussian_nll" in events.Tags()["scalars"]
    rows = np.genfromtxt(run / "metrics.csv", delimiter=",", names=True)
    for name, tag in tags.items():
        logged = events.Scalars(tag)
        assert [e.step for e in logged] == list(range(1, STEPS + 1))
        # the same numbers as metrics.csv (which keeps 6 significant digits)
        np.testing.assert_allclose([e.value for e in logged], rows[name], rtol=1e-5, atol=1e-7)


def test_an_mse_q_logs_its_continuous_loss_as_mse():
    assert scalar_tags(get_preset("start28"))["info_cont"] == "information/continuous_mse"
    assert scalar_tags(get_preset("start28")).keys() == SCALAR_TAGS.keys()


def test_grids_are_logged_when_the_run_writes_them(events):
    assert set(events.Tags()["images"]) == {"grids/fixed", "grids/varying_c1", "grids/varying_c2"}
    for tag in events.Tags()["images"]:
        logged = events.Images(tag)
        assert [e.step for e in logged] == [2, 4, 5]  # every sample_every, and the last step
        assert (logged[-1].width, logged[-1].height) == (10 * 30 + 2, 10 * 30 + 2)


def test_the_config_is_logged_as_text(events):
    assert "config/text_summary" in events.Tags()["tensors"]


def test_the_command_writes_the_report(run):
    assert (run / "report.html").is_file()
    assert len(list((run / "figures").glob("*.png"))) == 6


def test_no_report_and_no_tensorboard_unless_asked(tmp_path, mnist_dir, main_run):
    run = tmp_path / "b"
    out = main_run(
        "train", "--preset", "paper28", "--max-steps", "1", "--batch-size", "8",
        "--sample-every", "1", "--run-dir", run, "--data-dir", mnist_dir, "--no-progress",
        "--no-report",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (run / "checkpoints" / "last.pt").is_file()  # the run itself is complete
    assert not (run / "report.html").exists() and not (run / "figures").exists()
    assert not (run / "tensorboard").exists()


def test_without_the_tensorboard_package_one_line_and_nothing_written(
    tmp_path, mnist_dir, main_error, monkeypatch
):
    run = tmp_path / "run"
    for name in [m for m in sys.modules if m.startswith(("tensorboard", "torch.utils.tensorb"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    line = main_error(
        "train", "--preset", "paper28", "--max-steps", "1", "--tensorboard",
        "--run-dir", run, "--data-dir", mnist_dir,
    )  # fmt: skip
    assert "pip install 'infogan[tensorboard]'" in line
    assert not run.exists()

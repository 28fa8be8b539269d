"""TensorBoard logging on a short real run, read back with TensorBoard's own event reader;
and the `train` command's report and --tensorboard switches end to end."""

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from infogan.tensorboard import SCALAR_TAGS
from infogan.training.run import train
from infogan.training.rundir import METRIC_NAMES

STEPS = 5  # grids at steps 2 and 4 and at the last step; metrics flushed every 2 steps


@pytest.fixture(scope="module")
def events(tmp_path_factory, mnist_train_64, tiny_config):
    images, _ = mnist_train_64
    run = tmp_path_factory.mktemp("tb")
    config = tiny_config("seed64", steps=STEPS).with_train(sample_every=2, log_every=2)
    train(config, run, images=images[:256], progress=False, log=lambda _m: None, tensorboard=True)
    logs = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(logs) == 1
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return run, acc


def test_every_metric_of_every_step_is_a_scalar(events):
    run, acc = events
    assert set(acc.Tags()["scalars"]) == set(SCALAR_TAGS.values())
    assert set(SCALAR_TAGS) == set(METRIC_NAMES)
    rows = np.genfromtxt(run / "metrics.csv", delimiter=",", names=True)
    for name, tag in SCALAR_TAGS.items():
        logged = acc.Scalars(tag)
        assert [e.step for e in logged] == list(range(1, STEPS + 1))
        # the same numbers as metrics.csv (which keeps 6 significant digits)
        np.testing.assert_allclose([e.value for e in logged], rows[name], rtol=1e-5, atol=1e-7)


def test_grids_are_logged_when_the_run_writes_them(events):
    _run, acc = events
    assert set(acc.Tags()["images"]) == {"grids/fixed", "grids/varying_c1", "grids/varying_c2"}
    for tag in acc.Tags()["images"]:
        logged = acc.Images(tag)
        assert [e.step for e in logged] == [2, 4, 5]  # every sample_every, and the last step
        assert (logged[-1].width, logged[-1].height) == (10 * 66 + 2, 10 * 66 + 2)


def test_the_config_is_logged_as_text(events):
    _run, acc = events
    assert "config/text_summary" in acc.Tags()["tensors"]


@pytest.mark.slow
def test_train_command_writes_report_and_tensorboard(tmp_path, mnist_dir, cli):
    common = ["--max-steps", "3", "--batch-size", "8", "--sample-every", "3", "--no-progress"]
    common += ["--preset", "quick64", "--data-dir", mnist_dir]
    out = cli.run("train", *common, "--run-dir", tmp_path / "a", "--tensorboard")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a" / "report.html").is_file()
    assert len(list((tmp_path / "a" / "figures").glob("*.png"))) == 6
    assert list((tmp_path / "a" / "tensorboard").glob("events.out.tfevents.*"))
    out = cli.run("train", *common, "--run-dir", tmp_path / "b", "--no-report")
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "b" / "report.html").exists()
    assert not (tmp_path / "b" / "tensorboard").exists()

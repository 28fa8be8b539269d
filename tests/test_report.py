"""The run report on real short runs: every figure drawn, non-blank, and referenced by the page.

One module-scoped ``infogan compare`` (a plain GAN and an InfoGAN, a few real steps each on
real MNIST) feeds most tests: the InfoGAN report has the GAN as its baseline, the
GAN's report stands alone.
"""

import csv
import json
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from infogan.api import load_model
from infogan.config import SEED64, get_preset
from infogan.errors import ConfigError, RunDirError
from infogan.grids import make_grid
from infogan.report import load_run, train_comparison, write_report
from infogan.report.build import grid_columns
from infogan.report.compare import plain_gan
from infogan.report.figures import (
    GridPanel,
    evenly_spaced,
    first_step_below,
    moving_average,
    plot_grid_panels,
    tile_centers,
    wants_log_scale,
)
from infogan.report.traversal import posterize
from infogan.web.explorer import Explorer

STEPS = 4  # of each arm, batch 8, grids every 2 steps
FRAMES = 17  # traversal frames in a report
RUN_FIGURES = {
    "loss_curves.png",
    "d_probabilities.png",
    "grid_random.png",
    "grid_c1.png",
    "grid_c2.png",
    "progression.png",
    "traversal_c1.gif",
    "traversal_c2.gif",
}
COMPARISON_FIGURES = {"compare_grids.png", "compare_losses.png"}


@dataclass(frozen=True)
class Comparison:
    infogan: Path
    gan: Path
    stderr: str  # what the command said


@pytest.fixture(scope="module")
def comparison(tmp_path_factory, mnist_dir, cli) -> Comparison:
    """``infogan compare`` of paper28 for 4 steps (batch 8): both arms and their reports."""
    root = tmp_path_factory.mktemp("compare") / "cmp"
    out = cli.run(
        "compare", "--preset", "paper28", "--max-steps", STEPS, "--batch-size", "8",
        "--sample-every", "2",
        "--run-dir", root, "--data-dir", mnist_dir, "--no-progress",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return Comparison(infogan=root / "infogan", gan=root / "gan", stderr=out.stderr)


class _Page(HTMLParser):
    """Collects image sources, link targets, anchors and text of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.links, self.ids, self.text = [], [], set(), []
        self.open_tags = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag not in ("img", "meta"):
            self.open_tags.append(tag)

    def handle_endtag(self, tag):
        assert self.open_tags and self.open_tags[-1] == tag, f"</{tag}> closes {self.open_tags}"
        self.open_tags.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(html_path: Path) -> _Page:
    page = _Page()
    page.feed(html_path.read_text(encoding="utf-8"))
    page.close()
    assert page.open_tags == [], page.open_tags  # every element closed
    return page


CURVE_FIGURES = {"loss_curves.png", "d_probabilities.png", "compare_losses.png"}


def _check_png(path: Path, *, curves: bool, min_size=(800, 450)) -> None:
    """Non-blank: curves put coloured lines on the axes; grids put grey digits in the tiles.

    Measured on real reports: coloured pixels 1.5-6% of a curve figure, mid-grey pixels
    11-31% of a grid figure; axes without data have no colour, a grid of black tiles
    about 2% mid-grey (its antialiased labels).
    """
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width >= min_size[0] and img.height >= min_size[1], (path.name, img.size)
        rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    grey = rgb.mean(axis=-1)
    assert grey.std() > 20, f"{path.name}: no contrast (std {grey.std():.1f})"
    if curves:
        coloured = (rgb.max(axis=-1) - rgb.min(axis=-1) > 60).mean()
        assert coloured > 0.005, f"{path.name}: no curves drawn ({coloured:.2%} coloured)"
    else:
        mid = ((grey > 40) & (grey < 215)).mean()
        assert mid > 0.06, f"{path.name}: no digits drawn ({mid:.2%} mid-grey)"


def _check_gif(path: Path, frames: int) -> None:
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        sequence = [
            np.asarray(f.convert("L"), dtype=np.float32) for f in ImageSequence.Iterator(gif)
        ]
    assert len(sequence) == 2 * frames - 2  # there and back, ends not repeated
    assert all(f.std() > 20 for f in sequence)
    assert not np.array_equal(sequence[0], sequence[frames - 1])  # the code changes the digits
    np.testing.assert_array_equal(sequence[1], sequence[-1])  # the way back retraces the way out


def test_report_with_baseline_references_every_figure(comparison):
    html = comparison.infogan / "report.html"
    page = _parse(html)
    referenced = {Path(src).name for src in page.images}
    assert referenced == RUN_FIGURES | COMPARISON_FIGURES
    for src in page.images:
        assert not Path(src).is_absolute()  # the page travels with its figures/ folder
        target = html.parent / src
        assert target.is_file(), src
        if target.suffix == ".png":
            _check_png(target, curves=target.name in CURVE_FIGURES)
        else:
            _check_gif(target, FRAMES)
    for link in page.links:  # table of contents and click-to-enlarge links resolve
        if link.startswith("#"):
            assert link[1:] in page.ids
        else:
            assert (html.parent / link).is_file()


def test_report_shows_configuration_duration_and_hardware(comparison):
    text = " ".join(_parse(comparison.infogan / "report.html").text)
    summary = json.loads((comparison.infogan / "run.json").read_text())
    assert summary["hardware"] in text and summary["torch"] in text
    assert f"{summary['seconds']:.0f} s" in text  # a short run's duration, in seconds
    for field in ("train.lr_g", "train.lambda_cat", "latent.noise_dim", "train.batch_size"):
        assert field in text
    assert "GAN vs InfoGAN" in text and "gan (baseline)" in text and "plain GAN" in text


def test_baseline_free_report_of_the_gan_arm(comparison):
    page = _parse(comparison.gan / "report.html")
    assert {Path(src).name for src in page.images} == RUN_FIGURES
    text = " ".join(page.text)
    assert "plain GAN" in text and "GAN vs InfoGAN" not in text


def test_comparison_arms_differ_only_in_the_information_term(comparison):
    gan = json.loads((comparison.gan / "config.json").read_text())
    info = json.loads((comparison.infogan / "config.json").read_text())
    assert (gan["train"]["lambda_cat"], gan["train"]["lambda_cont"]) == (0.0, 0.0)
    assert (info["train"]["lambda_cat"], info["train"]["lambda_cont"]) == (1.0, 0.1)  # paper28's
    for cfg in (gan, info):
        cfg["train"].pop("lambda_cat"), cfg["train"].pop("lambda_cont")
    assert gan == info  # same budget, seed, batch, preset
    gan_model, info_model = load_model(comparison.gan), load_model(comparison.infogan)
    assert gan_model.step == info_model.step == STEPS
    assert torch.equal(gan_model.fixed_noise, info_model.fixed_noise)  # same fixed noise


def test_progression_uses_the_saved_grids(comparison):
    run = load_run(comparison.infogan)
    assert run.grid_steps["fixed"] == [2, 4]
    assert list(run.steps) == list(range(1, STEPS + 1))


def test_traversal_gifs_loop_over_three_rows_of_every_code(comparison):
    for which in ("c1", "c2"):
        with Image.open(comparison.infogan / "figures" / f"traversal_{which}.gif") as gif:
            # three rows under the header, 28x28 tiles drawn at twice their size
            assert gif.size == (2 * (10 * 30 + 2), 2 * (3 * 30 + 2) + 56)
            assert gif.info["loop"] == 0  # loops forever


def test_the_blankness_checks_catch_blank_figures(tmp_path):
    black = make_grid(-torch.ones(100, 1, 64, 64))  # a generator that draws nothing
    labels = [str(k) for k in range(10)]
    path = plot_grid_panels(
        [GridPanel(black, "nothing")],
        tmp_path / "blank_grid.png",
        title="blank",
        col_labels=labels,
        col_title="c",
        row_labels=labels,
        row_title="z",
    )
    with pytest.raises(AssertionError, match="no digits drawn"):
        _check_png(path, curves=False)
    with pytest.raises(AssertionError, match="no curves drawn"):
        _check_png(path, curves=True)


def test_report_follows_what_the_run_has(comparison, tmp_path):
    """No eval.json: no evaluation section; an eval.json: its numbers; no run.json: a note."""
    finished = _parse(comparison.infogan / "report.html")  # run.json, no eval.json
    assert "evaluation" not in finished.ids
    assert "No run.json" not in " ".join(finished.text)

    run = _copy_run(comparison.infogan, tmp_path / "run")
    result = {  # the fields of eval.json that the report picks out, plus nested ones
        "step": STEPS,
        "unsupervised_accuracy": 0.9512,
        "frechet_distance": 3.25,
        "info_bound_nats": 2.2801,
        "entropy_nats": 2.302585,
        "category_to_digit": [3, 1, 4, 0, 5, 9, 2, 6, 8, 7],
        "confusion_matrix": [[1] * 10] * 10,
        "continuous": [{"code": "c1", "controls": "rotation", "spearman": {"rotation": 0.8}}],
    }
    (run / "eval.json").write_text(json.dumps(result))
    (run / "run.json").unlink()  # as while a run is still training
    report = write_report(run, traversal_frames=2)
    page = _parse(report.html)
    assert "evaluation" in page.ids
    for name in ("grid_random", "grid_c1", "grid_c2"):  # drawn in the matched digits' order
        _check_png(report.figures[name], curves=False)
    text = " ".join(page.text)
    for shown in ("0.9512", "3.25", "2.28", "c1 controls", "rotation", "3, 1, 4, 0, 5"):
        assert shown in text, shown
    assert "continuous[0].spearman.rotation" in text and "[10 values]" in text
    assert "No run.json: the run has not finished" in text


def test_grids_follow_the_matched_digits_once_evaluated(comparison, tmp_path):
    run = _copy_run(comparison.infogan, tmp_path / "run")
    model = load_model(run)
    plain = grid_columns(load_run(run).evaluation, model)
    assert plain.order == list(range(10)) and plain.labels == [str(c) for c in range(10)]
    assert plain.title.startswith("categorical code")

    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # code -> digit
    (run / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    cols = grid_columns(load_run(run).evaluation, model)
    assert cols.order == [3, 1, 6, 0, 2, 4, 7, 9, 8, 5]
    assert [mapping[code] for code in cols.order] == list(range(10))  # column k: digit k
    assert cols.labels == [f"{mapping[code]} (c{code})" for code in cols.order]
    assert cols.labels[:2] == ["0 (c3)", "1 (c1)"] and cols.title.startswith("digit")

    (run / "eval.json").write_text(json.dumps({"category_to_digit": [0] * 10}))
    assert grid_columns(load_run(run).evaluation, model).order == list(range(10))  # not one-to-one
    fashion = {"category_to_digit": mapping, "dataset": "fashion-mnist"}
    (run / "eval.json").write_text(json.dumps(fashion))
    assert grid_columns(load_run(run).evaluation, model).title.startswith(
        "class"
    )  # garments, not digits


def test_an_evaluation_of_another_iteration_is_left_out(comparison, tmp_path):
    """After a resume (or for an older checkpoint) eval.json no longer describes the model:
    the report, the API and the explorer say so instead of using its numbers and labels."""
    run = _copy_run(comparison.infogan, tmp_path / "run")
    last = int(load_run(run).steps[-1])
    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    (run / "eval.json").write_text(json.dumps({"step": last, "category_to_digit": mapping}))
    assert load_run(run).evaluation["step"] == last and not load_run(run).stale_evaluation
    assert load_model(run).digit_order() == [3, 1, 6, 0, 2, 4, 7, 9, 8, 5]

    (run / "eval.json").write_text(json.dumps({"step": last - 1, "category_to_digit": mapping}))
    data = load_run(run)
    assert data.evaluation == {}
    assert data.stale_evaluation.startswith(f"eval.json measured iteration {last - 1:,} and")
    assert load_model(run).evaluation == {} and load_model(run).digit_order() == list(range(10))
    explorer, warnings = Explorer.load(run)
    assert explorer.digit_mapping is None
    assert warnings == [
        f"{run / 'eval.json'} is from step {last - 1}, the model is at step {last}; labelling "
        "buttons by code index (run infogan eval again)"
    ]
    page = _parse(write_report(run, traversal_frames=2).html)
    assert f"is now at {last:,}: run infogan eval" in " ".join(page.text)


# --- user mistakes ------------------------------------------------------------------------


def test_missing_and_non_run_directories(tmp_path):
    with pytest.raises(RunDirError, match="no such run directory"):
        write_report(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"not a run directory \(no config.json\)"):
        write_report(tmp_path)


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("figures", "report.html"))
    return dst


def test_run_without_metrics_rows(comparison, tmp_path):
    run = _copy_run(comparison.gan, tmp_path / "run")
    with open(run / "metrics.csv", newline="") as fh:
        header = next(csv.reader(fh))
    (run / "metrics.csv").write_text(",".join(header) + "\n")
    with pytest.raises(RunDirError, match=r"metrics\.csv has no rows yet"):
        write_report(run)
    (run / "metrics.csv").unlink()
    with pytest.raises(RunDirError, match=r"no metrics\.csv"):
        write_report(run)


def test_baseline_missing_metrics_fails_before_drawing(comparison, tmp_path):
    run = _copy_run(comparison.infogan, tmp_path / "run")
    base = _copy_run(comparison.gan, tmp_path / "base")
    (base / "metrics.csv").unlink()
    with pytest.raises(RunDirError, match=r"^baseline .*base: no metrics\.csv"):
        write_report(run, baseline=base)
    assert not (run / "figures").exists() and not (run / "report.html").exists()


def test_compare_needs_an_information_term(tmp_path):
    with pytest.raises(ConfigError, match="compare needs an InfoGAN arm"):
        train_comparison(SEED64.with_train(lambda_cat=0.0, lambda_cont=0.0), tmp_path)


# --- the numbers behind the figures, worked out by hand -------------------------------------


def test_moving_average_by_hand():
    np.testing.assert_allclose(moving_average(np.array([1, 2, 3, 4]), 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(moving_average(np.array([3, 6, 9]), 5), [3, 4.5, 6])
    np.testing.assert_allclose(moving_average(np.array([2.0, 4.0]), 1), [2, 4])
    with pytest.raises(ValueError):
        moving_average(np.array([1.0]), 0)


def test_evenly_spaced_keeps_first_and_last():
    assert evenly_spaced([100, 200, 300, 400, 500, 600], 6) == [100, 200, 300, 400, 500, 600]
    assert evenly_spaced(list(range(1, 11)), 3) == [1, 5, 10]  # positions 0, 4.5 -> 4, 9
    assert evenly_spaced([7, 9], 6) == [7, 9]
    assert evenly_spaced([7, 9], 1) == [9]
    assert evenly_spaced([], 4) == []


def test_log_scale_only_when_values_span_decades():
    assert wants_log_scale(np.geomspace(0.01, 10, 100))
    assert not wants_log_scale(np.linspace(0.5, 2.0, 100))
    assert not wants_log_scale(np.array([0.0, 1.0, 100.0]))  # zero: no log axis


def test_tile_centres_of_a_ten_by_ten_grid():
    # 10 tiles of 64 px with 2 px padding: 662 px; tile k spans [2 + 66k, 66 + 66k)
    np.testing.assert_allclose(tile_centers(662, 10), 34 + 66 * np.arange(10))


def test_first_step_below():
    steps = np.array([1, 2, 3, 4])
    assert first_step_below(steps, np.array([2.3, 1.0, 0.2, 0.1]), 0.23) == 3
    assert first_step_below(steps, np.array([2.3, 2.3, 2.3, 2.3]), 0.23) is None


def test_posterize_rounds_to_grey_steps():
    grid = np.array([[0, 3, 4, 12, 250, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(posterize(grid, 8), [[0, 0, 0, 16, 248, 255]])


# --- the command ----------------------------------------------------------------------------


def test_cli_report_errors_are_one_line(tmp_path, main_run, one_line_error):
    out = main_run("report", tmp_path / "missing")
    line = one_line_error(out)
    assert out.stderr.strip() == line  # that line and nothing else
    assert line == f"infogan: error: {tmp_path / 'missing'}: no such run directory"


def test_cli_report_with_baseline_ends_with_the_evaluations_summary(comparison, tmp_path, capsys):
    from infogan.cli import main
    from infogan.cli.training import evaluation_summary

    run = _copy_run(comparison.infogan, tmp_path / "run")
    evaluation = {
        "dataset": "mnist",
        "unsupervised_accuracy": 0.9612,
        "counts": {"test_digits": 10000},
        "continuous": [
            {"code": "c1", "controls": "rotation", "spearman": {"rotation": 0.84}},
            {"code": "c2", "controls": "none", "spearman": {"rotation": 0.1}},
        ],
    }
    (run / "eval.json").write_text(json.dumps(evaluation))
    assert main(["report", str(run), "--baseline", str(comparison.gan)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "report.html (10 figures" in lines[0]
    assert lines[-1] == (
        "summary: categorical code = digit on 96.1% of 10,000 MNIST test digits; "
        "c1 controls rotation (rho +0.84); c2 controls no clear factor"
    )
    page = _parse(run / "report.html")
    assert {Path(src).name for src in page.images} == RUN_FIGURES | COMPARISON_FIGURES
    # an eval.json without the summary's fields (an older or cut one) says so instead
    assert evaluation_summary({"unsupervised_accuracy": 0.9}, run) == (
        f"{run / 'eval.json'}: incomplete; run infogan eval {run} again"
    )


@pytest.mark.slow
def test_cli_compare_trains_both_arms_and_refuses_to_mix_runs(comparison, main_error):
    assert comparison.stderr.count("loading MNIST") == 1  # the dataset is read once for both arms
    assert (comparison.gan / "report.html").is_file()
    root = comparison.infogan.parent
    line = main_error("compare", "--max-steps", "2", "--run-dir", root)
    assert "already holds a run" in line


@pytest.mark.parametrize("preset", ["start28", "quick28", "tilt64", "seed64", "paper28"])
def test_the_plain_gan_twin_trains_nothing_of_q(preset):
    """compare's GAN arm drops every term that trains Q or ties G to the codes (start28's
    clustering term, reseeds, over-clustering head, readings and turned pairs among them)
    and keeps the networks' trunks, rates and budget."""
    config = get_preset(preset)
    gan = plain_gan(config)
    t = gan.train
    assert t.is_plain_gan and not config.train.is_plain_gan
    assert (t.lambda_cat, t.lambda_cont, t.lambda_cluster, t.lambda_turn_pair) == (0, 0, 0, 0)
    assert t.readings == () and t.cluster_reseed == 0 and gan.model.overcluster == 0
    assert (t.lr_g, t.lr_d, t.batch_size, t.max_steps) == (
        config.train.lr_g,
        config.train.lr_d,
        config.train.batch_size,
        config.train.max_steps,
    )
    # the information weights alone at 0 leave start28's other terms on: not a plain GAN
    if config.train.lambda_cluster:
        assert not config.with_train(lambda_cat=0.0, lambda_cont=0.0).train.is_plain_gan

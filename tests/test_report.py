"""The run report on real short runs: every figure drawn, non-blank, and referenced by the page.

One module-scoped ``infogan compare`` (a plain GAN and an InfoGAN, a few real steps each on
real MNIST) feeds most tests: the InfoGAN report has the GAN as its baseline, the
GAN's report stands alone.
"""

import csv
import json
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import infogan.report.draw as draw
import infogan.report.figures as figures
from infogan.api import load_model
from infogan.config import SEED64, get_preset
from infogan.errors import ConfigError, RunDirError
from infogan.grids import make_grid
from infogan.report import html, load_run, train_comparison, write_report
from infogan.report.build import grid_columns
from infogan.report.columns import columns_for
from infogan.report.compare import plain_gan
from infogan.report.draw import reorder_columns
from infogan.report.figures import (
    GridPanel,
    evenly_spaced,
    first_step_below,
    moving_average,
    plot_grid_panels,
    tile_centers,
    wants_log_scale,
)
from infogan.report.tables import epochs_trained, evaluation_headline, flatten
from infogan.report.traversal import (
    GREY_STEP,
    annotate_frame,
    header_height,
    posterize,
    traversal_grids,
)
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
        self.glue = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.glue = tag == "wbr"  # a possible line break, no text: "train.<wbr>lr_g"
        if tag not in ("img", "meta", "wbr"):  # void elements: no end tag
            self.open_tags.append(tag)

    def handle_endtag(self, tag):
        assert self.open_tags and self.open_tags[-1] == tag, f"</{tag}> closes {self.open_tags}"
        self.open_tags.pop()

    def handle_data(self, data):
        if self.glue and self.text:
            self.text[-1] += data
        else:
            self.text.append(data)
        self.glue = False


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


def test_captions_say_what_to_look_for_and_what_a_plain_gan_shows(comparison):
    gan = " ".join(_parse(comparison.gan / "report.html").text)
    info = " ".join(_parse(comparison.infogan / "report.html").text)
    for claim in (  # stated as facts before, whatever the run showed
        "should drop fast",
        "In a trained InfoGAN",
        "D keeps separating real from fake",
        "iterations: the columns separate into categories early",
    ):
        assert claim not in gan and claim not in info, claim
    assert "In a working InfoGAN" not in gan
    for shown in (
        "A plain GAN never trains Q",
        "A plain GAN is not rewarded for using the code",
        "nothing ties them to the columns",
    ):
        assert shown in gan, shown
    assert "In a working InfoGAN the information loss drops fast" in info
    assert "In a working InfoGAN the columns separate into categories early" in info
    assert "What to look for: D(x) above 0.5" in gan and "What to look for" in info


def test_overview_states_the_measured_start_of_the_categorical_loss(comparison):
    for arm in (comparison.gan, comparison.infogan):
        run = load_run(arm)
        start = run.metrics["info_cat"][: max(1, len(run.steps) // 20)].mean()
        text = " ".join(_parse(arm / "report.html").text)
        assert f"The categorical cross-entropy starts at {start:.2f} (mean of the first 5%" in text
        assert "starts near H(c)" not in text


def test_the_comparison_is_named_and_linked_from_the_top(comparison):
    page = _parse(comparison.infogan / "report.html")
    text = " ".join(page.text)
    assert "compared with the baseline gan (plain GAN)" in text  # the subtitle
    assert "This report compares the run with the baseline gan (plain GAN)" in text
    assert "#comparison" in page.links and "comparison" in page.ids
    assert "Left: the plain GAN (gan); right: InfoGAN (infogan)." in text
    assert "compared with the baseline" not in " ".join(_parse(comparison.gan / "report.html").text)


def test_pages_fit_a_narrow_screen():
    spec = html.FigureSpec("figures/grid_random.png", "grid", "caption", max_width=760)
    assert 'style="max-width: min(760px, 100%)"' in html.figure(spec)  # never the viewport's
    assert "td.long { overflow-wrap: anywhere; }" in html.STYLE  # paths, digests wrap
    digest = "7d84bcd819adbc207a2f0ec4cbf4b96aef5319343c2b8ee88f8d4cb10328626c"
    cells = html.table([("classifier.digest", digest), ("preset", "start28")])
    assert f'<td class="num long">{digest}</td>' in cells  # and short values do not break
    assert '<td class="num">start28</td>' in cells and "classifier.<wbr>digest" in cells
    page = html.page("t", "s", [html.Section("configuration", "Configuration", "")])
    assert '<section id="configuration" class="configuration">' in page
    assert ".configuration table {" in html.STYLE  # the selector matches that section


def test_configuration_is_flattened_as_config_json_writes_it():
    raw = {"a": ({"code": 2, "t": ()},), "b": (), "c": True, "d": None, "e": [1, 2.5], "f": False}
    assert list(flatten(raw)) == [
        ("a[0].code", "2"),
        ("a[0].t", "none"),
        ("b", "none"),
        ("c", "true"),
        ("d", "null"),
        ("e", "1, 2.5"),
        ("f", "false"),
    ]
    start = dict(flatten(get_preset("start28").to_dict()))
    assert start["train.readings[0].code"] == "2" and start["model.separate_q"] == "true"
    assert not any(v.startswith(("(", "{")) or v in ("True", "False") for v in start.values())
    assert dict(flatten(plain_gan(get_preset("start28")).to_dict()))["train.readings"] == "none"


def test_epochs_trained_is_the_share_of_the_training_set(comparison):
    run = load_run(comparison.infogan)
    configured = run.config.train.epochs
    # 4 steps of 8 out of 60,000 // 8 = 7,500 steps an epoch
    assert epochs_trained(run) == f"0.00053 of {configured} configured"
    text = " ".join(_parse(comparison.infogan / "report.html").text)
    assert "epochs trained" in text and f"0.00053 of {configured} configured" in text


def test_the_evaluation_headline_gives_each_number_its_scale():
    result = {
        "unsupervised_accuracy": 0.9512,
        "generated_accuracy": 0.1,
        "generated_accuracy_q_matching": 0.1234,
        "frechet_distance": 1104.8398,
        "frechet_distance_train_vs_test": 1.093,
        "inception_score": 1.000003,
        "inception_score_test_digits": 9.7741,
        "inception_score_max": 10.0,
        "info_bound_nats": 0.68457,
        "entropy_nats": 2.302585,
        "continuous": [
            {"code": "c1", "controls": "rotation", "spearman": {"rotation": 0.7584, "width": 0.03}},
            {"code": "c2", "controls": "none", "spearman": {"rotation": 0.1, "width": -0.052}},
        ],
    }
    assert dict(evaluation_headline(result)) == {
        "unsupervised test accuracy (Q's code on test digits)": "95.1%",
        "generated-category accuracy (classifier, matched)": "10.0%",
        "generated digits that follow Q's matching": "12.3%",
        "Fréchet distance to test digits (classifier features)": (
            "1104.84 (real training vs test digits: 1.09; lower is better)"
        ),
        "inception-score analogue": "1.00 of 10 (real test digits: 9.77)",
        "information bound L_I (nats)": "0.685 of at most H(c) = 2.303",
        "c1 controls": "rotation (rho +0.76)",
        "c2 controls": "no clear factor (rho rotation +0.10, width -0.05)",
    }


def test_the_entropy_line_is_named_in_the_legend_not_on_the_curve(comparison):
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    figures._information_parts(ax, load_run(comparison.gan))  # its categorical CE is ln 10
    assert "H(c) = ln 10 = 2.30" in ax.get_legend_handles_labels()[1]
    assert len(ax.texts) == 0  # no label drawn over the line


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
            # three rows under the header (a column title and "code k" labels, one line
            # each: the run is not evaluated), 28x28 tiles drawn at twice their size
            assert gif.size == (2 * (10 * 30 + 2), 2 * (3 * 30 + 2) + header_height(1, 1))
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


def _blank_edges(path: Path) -> dict[str, int]:
    """The darkest pixel of each 2-pixel edge of a PNG, where it is not near white: text
    that reaches the edge was cut off."""
    with Image.open(path) as img:
        grey = np.asarray(img.convert("L"))
    edges = {"top": grey[:2], "bottom": grey[-2:], "left": grey[:, :2], "right": grey[:, -2:]}
    return {side: int(pixels.min()) for side, pixels in edges.items() if pixels.min() < 200}


def test_a_lone_grid_keeps_its_title_and_caption_inside_the_figure(tmp_path):
    """A run shorter than --sample-every saves one fixed grid: its progression is one
    narrow panel, under a title wider than the figure and over a caption that the first
    layout pass put below the figure's edge. Both were cut off."""
    grid = make_grid(torch.rand(100, 1, 28, 28) * 2 - 1, nrow=10)
    cols = columns_for(
        {
            "category_to_digit": [3, 1, 4, 0, 5, 9, 2, 6, 8, 7],
            "generated_accuracy_q_matching": 0.1,
            "dataset": "fashion-mnist",
        },
        10,
    )
    for count, inches in ((1, 4.8), (1, 6.4), (2, 5.6)):  # progression, final grid, compare
        path = plot_grid_panels(
            [GridPanel(grid, f"iteration {60 * (i + 1)}") for i in range(count)],
            tmp_path / f"grid_{count}_{inches}.png",
            title="fash: the fixed-noise grid through training "
            "(row = one fixed noise vector, column = categorical code)",
            col_labels=cols.labels,
            col_title=cols.title,
            row_labels=[f"z{r + 1}" for r in range(10)],
            row_title="fixed noise vector",
            panel_inches=inches,
        )
        assert _blank_edges(path) == {}, (count, inches)


def test_a_fashion_report_speaks_of_classes_and_images(comparison, tmp_path):
    run = _copy_run(comparison.infogan, tmp_path / "run")
    base = _copy_run(comparison.gan, tmp_path / "gan")
    for arm in (run, base):
        config = json.loads((arm / "config.json").read_text())
        config["data"]["dataset"] = "fashion-mnist"
        (arm / "config.json").write_text(json.dumps(config))
    report = write_report(run, baseline=base, traversal_frames=2)
    text = " ".join(_parse(report.html).text)
    assert "digit" not in text.lower()
    assert "a column holds one class whatever the noise" in text
    assert "before the images look real" in text
    assert "selects the class (each column one class)" in text
    assert "dataset fashion-mnist objective" in text  # the Run table says which data
    plain = " ".join(_parse(write_report(base, traversal_frames=2).html).text)
    assert "digit" not in plain.lower() and "the images change with the noise" in plain


def test_long_table_keys_break_at_underscores():
    """eval.json's "frechet_distance_train_vs_test" alone was wider than a 400 px screen's
    key column: the opened "All fields" table scrolled sideways."""
    cells = html.table([("frechet_distance_train_vs_test", "1.093")])
    assert "<th>frechet_<wbr>distance_<wbr>train_<wbr>vs_<wbr>test</th>" in cells


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
    for shown in ("95.1%", "3.25", "2.280 of at most H(c) = 2.303", "rotation (rho +0.80)"):
        assert shown in text, shown  # the headline, with each number's scale
    for shown in ("0.9512", "3, 1, 4, 0, 5"):  # All fields
        assert shown in text, shown
    assert "continuous[0].spearman.rotation" in text and "[10 values]" in text
    assert "No run.json: the run has not finished" in text


def test_grids_follow_the_matched_digits_once_evaluated(comparison, tmp_path):
    run = _copy_run(comparison.infogan, tmp_path / "run")
    model = load_model(run)
    plain = grid_columns(load_run(run).evaluation, model)
    assert plain.order == list(range(10)) and plain.labels == [f"code {c}" for c in range(10)]
    assert plain.title.startswith("categorical code")

    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # code -> digit
    (run / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    cols = grid_columns(load_run(run).evaluation, model)
    assert cols.order == [3, 1, 6, 0, 2, 4, 7, 9, 8, 5]
    assert [mapping[code] for code in cols.order] == list(range(10))  # column k: digit k
    # the digit above its code: "code k" is never "c1", the name of a continuous code
    assert cols.labels == [f"{mapping[code]}\ncode {code}" for code in cols.order]
    assert cols.labels[:2] == ["0\ncode 3", "1\ncode 1"] and cols.title.startswith("digit")
    assert cols.text(0) == "0 (code 3)" and "only" not in cols.title  # agreement not measured

    (run / "eval.json").write_text(json.dumps({"category_to_digit": [0] * 10}))
    assert grid_columns(load_run(run).evaluation, model).order == list(range(10))  # not one-to-one
    fashion = {"category_to_digit": mapping, "dataset": "fashion-mnist"}
    (run / "eval.json").write_text(json.dumps(fashion))
    garments = grid_columns(load_run(run).evaluation, model)
    assert garments.title.startswith("class")  # garments, not digits, named as the dataset does
    assert garments.labels[:2] == ["T-shirt/top\ncode 3", "Trouser\ncode 1"]


def test_columns_warn_where_the_generator_does_not_follow_qs_matching():
    """A short run: Q reads digits from real images, G draws the same blob for every code
    (12% of generated digits follow the matching). The labels stay, with a warning."""
    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    low = columns_for({"category_to_digit": mapping, "generated_accuracy_q_matching": 0.12}, 10)
    assert low.order == [3, 1, 6, 0, 2, 4, 7, 9, 8, 5]  # still Q's matching, as the explorer's
    assert low.title.splitlines()[1] == "(the generated digits follow it for only 12%)"
    assert "follow this matching for only 12%" in low.caption
    high = columns_for({"category_to_digit": mapping, "generated_accuracy_q_matching": 0.5}, 10)
    assert "only" not in high.title and "only" not in high.caption


def test_every_figure_of_a_run_uses_the_same_columns(comparison, tmp_path, monkeypatch):
    """Once evaluated, the final grids, the progression, the GIFs and the comparison all
    show the codes in digit order under the same labels and axis title."""
    run = _copy_run(comparison.infogan, tmp_path / "run")
    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    evaluation = {"step": STEPS, "category_to_digit": mapping, "generated_accuracy_q_matching": 0.1}
    (run / "eval.json").write_text(json.dumps(evaluation))
    cols = columns_for(evaluation, 10)
    seen = {}
    plot, gif = figures.plot_grid_panels, draw.save_traversal_gif

    def spy_plot(panels, path, **kw):
        seen[path.stem] = (kw["col_labels"], kw["col_title"])
        return plot(panels, path, **kw)

    def spy_gif(model, which, path, **kw):
        seen[path.stem] = (kw["labels"], kw["column_title"], kw["order"])
        return gif(model, which, path, **kw)

    monkeypatch.setattr(figures, "plot_grid_panels", spy_plot)
    monkeypatch.setattr(draw, "save_traversal_gif", spy_gif)
    write_report(run, baseline=comparison.gan, traversal_frames=2)
    grids = {"grid_random", "grid_c1", "grid_c2", "progression", "compare_grids"}
    assert set(seen) == grids | {"traversal_c1", "traversal_c2"}
    for name in grids:
        assert seen[name] == (cols.labels, cols.title), name
    for name in ("traversal_c1", "traversal_c2"):
        assert seen[name] == (cols.labels, f"columns: {cols.title}", cols.order), name


def test_reordered_columns_of_a_saved_grid_by_hand():
    tiles = torch.linspace(-1, 1, 6).repeat_interleave(4).reshape(6, 1, 2, 2)  # 2 rows x 3
    grid = make_grid(tiles, nrow=3)  # tile values 0, 51, 102 / 153, 204, 255
    moved = make_grid(tiles.reshape(2, 3, 1, 2, 2)[:, [2, 0, 1]].flatten(0, 1), nrow=3)
    np.testing.assert_array_equal(reorder_columns(grid, [2, 0, 1]), moved)
    np.testing.assert_array_equal(reorder_columns(grid, [0, 1, 2]), grid)


def test_traversal_frames_follow_the_column_order_and_labels(comparison):
    model = load_model(comparison.infogan)
    noise = torch.randn(
        2, model.config.latent.noise_dim, generator=torch.Generator().manual_seed(1)
    )
    order = [3, 1, 6, 0, 2, 4, 7, 9, 8, 5]
    (by_code,) = traversal_grids(model, 0, [0.5], noise)
    (by_digit,) = traversal_grids(model, 0, [0.5], noise, order)
    difference = np.abs(by_digit.astype(int) - reorder_columns(by_code, order).astype(int))
    assert difference.max() <= GREY_STEP  # the same images, a column each in the new order
    labels = [f"{d}\ncode {c}" for d, c in enumerate(order)]
    frame = annotate_frame(
        by_digit, labels=labels, label="c1", value=0.5, low=-2, high=2, column_title="a\nb"
    )
    assert frame.size == (2 * by_digit.shape[1], 2 * by_digit.shape[0] + header_height(2, 2))


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
    assert data.stale_evaluation == (
        f"{run / 'eval.json'}: measured step {last - 1}, the model is at step {last}; run "
        f"`infogan eval {run}` again"
    )
    assert load_model(run).evaluation == {} and load_model(run).digit_order() == list(range(10))
    explorer, warnings = Explorer.load(run)
    assert explorer.digit_mapping is None
    assert warnings == [
        f"{run / 'eval.json'}: measured step {last - 1}, the model is at step {last}; run "
        f"`infogan eval {run}` again; labelling buttons by code index"
    ]
    page = _parse(write_report(run, traversal_frames=2).html)
    assert f"the model is at step {last}; run `infogan eval {run}` again" in " ".join(page.text)
    # after a crash metrics.csv runs past the last checkpoint: what eval measured is that
    (run / "eval.json").write_text(json.dumps({"step": last, "category_to_digit": mapping}))
    with open(run / "metrics.csv") as fh:
        rows = fh.read().splitlines()
    later = rows[-1].split(",", 1)
    rows.append(f"{last + 5},{later[1]}")
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert int(load_run(run).steps[-1]) == last + 5
    assert load_run(run).evaluation["step"] == last and not load_run(run).stale_evaluation


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
    assert "holds a run with other settings than this comparison's" in line


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


def test_a_phone_gets_legible_multi_panel_figures_and_an_unbroken_subtitle(comparison, tmp_path):
    """At 390 px the three-panel loss figure shrank to 292 px, its tick labels 2 px tall:
    a figure of several panels now scrolls sideways in its own box at 250% of the width,
    and "93 s" or "AVX-512" in the subtitle no longer break across lines."""
    run = _copy_run(comparison.infogan, tmp_path / "run")
    text = write_report(run, traversal_frames=2).html.read_text()
    for name in ("loss_curves", "d_probabilities", "progression"):
        assert f'<figure class="wide"><a href="figures/{name}.png">' in text, name
    assert '<figure><a href="figures/grid_random.png">' in text  # a square grid: as it was
    assert "figure.wide img { max-width: none; width: 250%; }" in text
    subtitle = text.split('<p class="sub">')[1].split("</p>")[0]
    assert re.search(r"\d\u00a0(s|min|h) on ", subtitle), subtitle
    assert "-" not in subtitle.split(" on ", 1)[1]  # non-breaking hyphens in the hardware

"""Latent codes of other sizes than the presets' (5 or 12 categorical values, a third
continuous code) and a colour run, through the files and commands a user has: the saved
grids, the report's figures, generate, export and the explorer's labels.

Two module-scoped runs of a few real steps feed the tests: start28 with 5 codes on
coloured MNIST digits, and start28 with 12 codes and 3 continuous codes.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageSequence

from infogan.api import load_model
from infogan.export import export_model
from infogan.report import write_report
from infogan.report.columns import columns_for
from infogan.report.figures import fit_column_labels
from infogan.report.traversal import annotate_frame
from infogan.training.run import train
from infogan.web.explorer import load_digit_mapping

STEPS = 3
TILE = 28 + 2  # a 28x28 digit and the grid's 2 px padding


def _train(config, run: Path, images: torch.Tensor) -> Path:
    return train(config, run, images=images, progress=False, log=lambda _m: None)


@pytest.fixture(scope="module")
def five_rgb(tmp_path_factory, digits_28, tiny_config) -> Path:
    """start28 with 5 categorical codes on 64 digits coloured three ways (3 steps of 8)."""
    grey = digits_28[0][:64]
    images = torch.cat([grey, grey.flip(-1), grey.flip(-2)], dim=1)  # R, G, B differ
    config = tiny_config("start28", steps=STEPS).with_settings({"latent.num_categories": 5})
    return _train(config, tmp_path_factory.mktemp("five") / "run", images)


@pytest.fixture(scope="module")
def twelve_by_three(tmp_path_factory, digits_28, tiny_config) -> Path:
    """start28 with 12 categorical codes and 3 continuous codes (3 steps of 8)."""
    config = tiny_config("start28", steps=STEPS).with_settings(
        {"latent.num_categories": 12, "latent.num_continuous": 3}
    )
    return _train(config, tmp_path_factory.mktemp("twelve") / "run", digits_28[0][:64])


# --- a run's files and report -------------------------------------------------------------


def test_saved_grids_have_a_column_per_code(five_rgb):
    """images/*/STEP.png: a row per noise vector (5 fixed ones; 10 steps of a sweep) and a
    column per categorical code, as the report's progression reads them back."""
    sizes = {}
    for name in ("fixed", "varying_c1", "varying_c2"):
        with Image.open(five_rgb / "images" / name / f"{STEPS:06d}.png") as grid:
            sizes[name] = grid.size
    assert sizes["fixed"] == (5 * TILE + 2, 5 * TILE + 2)
    assert sizes["varying_c1"] == sizes["varying_c2"] == (5 * TILE + 2, 10 * TILE + 2)


def test_the_report_keeps_an_rgb_runs_colour(five_rgb):
    write_report(five_rgb, traversal_frames=2)
    figures = five_rgb / "figures"
    with Image.open(figures / "progression.png") as progression:
        assert progression.mode == "RGB"  # a figure without colour is stored as L
    with Image.open(figures / "traversal_c1.gif") as gif:
        frame = np.asarray(next(ImageSequence.Iterator(gif)).convert("RGB")).astype(int)
    grid = frame[-3 * TILE :]  # the three rows of digits under the header
    assert np.abs(grid[..., 0] - grid[..., 1]).max() > 30


def test_column_labels_shorten_then_turn_where_columns_are_narrow():
    codes = [f"code {c}" for c in range(20)]
    assert fit_column_labels(codes[:10], 0.64) == (codes[:10], 0)  # the presets' grids
    assert fit_column_labels(codes, 6.4 / 20) == ([str(c) for c in range(20)], 0)
    matched = [f"{c % 10}\ncode {c}" for c in range(20)]
    assert fit_column_labels(matched, 6.4 / 20)[0][13] == "3\n13"
    many = [f"code {c}" for c in range(60)]
    assert fit_column_labels(many, 6.4 / 60) == ([str(c) for c in range(60)], 90)


def test_traversal_frames_shorten_labels_that_do_not_fit(monkeypatch):
    drawn = []
    text = ImageDraw.ImageDraw.text

    def record(self, xy, content, *args, **kwargs):
        drawn.append(content)
        return text(self, xy, content, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    grid = np.zeros((TILE + 2, 20 * TILE + 2), np.uint8)
    labels = [f"code {c}" for c in range(20)]
    annotate_frame(grid, labels=labels, label="c1", value=0.0, low=-2.0, high=2.0)
    assert "19" in drawn and "code 19" not in drawn
    drawn.clear()
    annotate_frame(
        grid[:, : 10 * TILE + 2], labels=labels[:10], label="c1", value=0, low=-2, high=2
    )
    assert "code 9" in drawn


def test_columns_follow_the_digits_of_fewer_codes_and_say_why_not_for_more():
    cols = columns_for({"category_to_digit": [4, 0, 1, 3, 6]}, 5)
    assert cols.order == [1, 2, 3, 0, 4] and cols.labels[0] == "0\ncode 1"
    assert "each column is the code that Q reads as the digit above it" in cols.caption
    mapping = [6, 3, 9, 8, -1, 4, 0, 2, -1, 1, 7, 5]
    cols = columns_for({"category_to_digit": mapping}, 12)
    assert cols.order == list(range(12)) and cols.labels[4] == "code 4"
    assert "in code order: infogan eval matched only 10 of the 12 codes" in cols.caption


# --- generate and export with a third continuous code ------------------------------------


def test_generate_sweeps_and_holds_a_third_continuous_code(twelve_by_three, tmp_path, main_run):
    def grid(*args) -> tuple[int, int]:
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.png"
        result = main_run("generate", twelve_by_three, "--out", out, *args)
        assert result.returncode == 0, result.stderr
        with Image.open(out) as png:
            return png.size

    assert grid() == (12 * TILE + 2, TILE + 2)  # one row of the 12 codes, c1 = c2 = c3 = 0
    assert grid("--c1", "0.5", "--c2", "-1", "--rows", "2") == (12 * TILE + 2, 2 * TILE + 2)
    assert grid("--vary", "c3", "--rows", "4") == (12 * TILE + 2, 4 * TILE + 2)
    c1, c3 = tmp_path / "c1.png", tmp_path / "c3.png"
    assert main_run("generate", twelve_by_three, "--vary", "c1", "--out", c1).returncode == 0
    assert main_run("generate", twelve_by_three, "--vary", "c3", "--out", c3).returncode == 0
    assert c1.read_bytes() != c3.read_bytes()


def test_generate_names_the_codes_a_run_has(twelve_by_three, tmp_path, main_error):
    out = tmp_path / "x.png"
    line = main_error("generate", twelve_by_three, "--vary", "c4", "--out", out)
    assert line == "infogan: error: --vary c4: this run has 3 continuous codes, c1 to c3"
    assert not out.exists()


def _loose(run: Path, folder: Path, mapping: list[int]) -> Path:
    """The run's checkpoint as a loose file with an eval.json of ``mapping`` beside it."""
    folder.mkdir()
    model = folder / "model.pt"
    model.symlink_to(run / "checkpoints" / "last.pt")
    (folder / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    return model


def test_by_digit_takes_the_matched_codes_of_more_codes_than_digits(
    twelve_by_three, tmp_path, main_run
):
    mapping = [6, 3, 9, 8, -1, 4, 0, 2, -1, 1, 7, 5]  # as eval writes it: codes 4, 8 unmatched
    model = _loose(twelve_by_three, tmp_path / "m", mapping)
    by_digit, by_code = tmp_path / "d.png", tmp_path / "c.png"
    order = ",".join(str(mapping.index(d)) for d in range(10))  # column d: the code of digit d
    assert (
        main_run("generate", model, "--categories", "by-digit", "--out", by_digit).returncode == 0
    )
    assert main_run("generate", model, "--categories", order, "--out", by_code).returncode == 0
    assert by_digit.read_bytes() == by_code.read_bytes()


def test_by_digit_with_fewer_codes_than_digits_says_what_to_use(five_rgb, tmp_path, main_error):
    model = _loose(five_rgb, tmp_path / "m", [4, 0, 1, 3, 6])
    out = tmp_path / "x.png"
    line = main_error("generate", model, "--categories", "by-digit", "--out", out)
    assert "needs a code for each of the 10 digits" in line and "again" not in line
    assert line.endswith("matched to the digits 0, 1, 3, 4, 6 only: --categories 1,2,3,0,4 "
                         "draws them in that order")  # fmt: skip
    assert not out.exists()


def test_export_sweeps_every_continuous_code(twelve_by_three, tmp_path, main_run):
    folder = export_model(twelve_by_three, tmp_path / "exported")
    assert {p.name for p in folder.glob("sweep_*.png")} == {f"sweep_c{i}.png" for i in (1, 2, 3)}
    card = (folder / "README.md").read_text()
    assert "a 12-way categorical code" in card and "three continuous codes (c1, c2, c3)" in card
    assert "![c3 sweep](sweep_c3.png)" in card
    assert "infogan serve" not in card  # the explorer shows c1 and c2 only
    # the card's example runs on the model it describes
    example = re.search(r"^images = (model\.generate\(.*\))", card, re.M)[1]
    images = eval(example, {"model": load_model(folder)})
    assert images.shape == (3, 1, 28, 28)
    out = tmp_path / "sweep.png"
    assert main_run("generate", folder, "--vary", "c3", "--out", out).returncode == 0


# --- the explorer's labels -----------------------------------------------------------------


def test_the_explorer_says_why_twelve_codes_go_unlabelled(tmp_path):
    mapping = [6, 3, 9, 8, -1, 4, 0, 2, -1, 1, 7, 5]
    (tmp_path / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    labels, warning = load_digit_mapping(tmp_path, 12, 0)
    assert labels is None
    assert warning.endswith("matches only 10 of the 12 codes to a class; labelling buttons by "
                            "code index")  # fmt: skip

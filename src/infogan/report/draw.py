"""The run's figures, assembled from its model and logs into ``RUN_DIR/figures/``.

This module decides what each figure of the report shows: the loss and
discriminator curves, the final grids (random noise, each continuous code
varied), the progression of the fixed-noise grid, the latent traversal GIFs,
and the GAN-vs-InfoGAN comparison figures. The drawing primitives are in
:mod:`infogan.report.figures` and :mod:`infogan.report.traversal`; the page that
shows the figures is :mod:`infogan.report.page`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import infogan.report.figures as fig
from infogan.api import InfoGANModel
from infogan.grids import make_grid
from infogan.latent import LatentBatch
from infogan.report.columns import Columns, columns_for
from infogan.report.rundata import RunData
from infogan.report.traversal import save_traversal_gif

PROGRESSION_PANELS = 6
TRAVERSAL_ROWS = 3


def report_noise(model: InfoGANModel, rows: int = 10) -> torch.Tensor:
    """(rows, noise_dim) noise for the random-noise grid, from the run's seed plus one.

    The fixed grid's noise comes from the run's seed itself; this grid shows new digits.
    """
    seed = (model.config.train.seed + 1) % 2**63
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, model.config.latent.noise_dim, generator=gen)


def grid_columns(evaluation: dict[str, Any], model: InfoGANModel) -> Columns:
    """The columns of every grid of ``model``'s report (:func:`columns_for`)."""
    config = model.config
    return columns_for(evaluation, config.latent.num_categories, config.data.dataset)


def reorder_columns(grid: np.ndarray, order: list[int], padding: int = 2) -> np.ndarray:
    """A saved grid (``len(order)`` tiles a row, ``padding`` px between) with its tile
    columns rearranged: column j of the result is column ``order[j]`` of ``grid``."""
    k = len(order)
    step = (grid.shape[1] - padding) // k  # a tile and the padding after it
    tiles = [grid[:, padding + c * step : padding + (c + 1) * step] for c in order]
    return np.concatenate([grid[:, :padding], *tiles], axis=1)


def code_grid(
    model: InfoGANModel, batch: LatentBatch, order: list[int] | None = None
) -> np.ndarray:
    """The batch's images as a grid of rows of every code; ``order`` picks the columns."""
    images = model.generate(batch.categories, batch.continuous, noise=batch.noise)
    k = model.config.latent.num_categories
    if order is not None:
        images = images.reshape(-1, k, *images.shape[1:])[:, order].flatten(0, 1)
    return make_grid(images, nrow=k)


def _codes_at_zero(model: InfoGANModel, *, varied: int | None = None) -> str:
    """ "c1 = c2 = 0", leaving out the code that is ``varied``."""
    names = [f"c{i + 1}" for i in range(model.config.latent.num_continuous) if i != varied]
    return " = ".join(names) + " = 0" if names else ""


def run_figures(
    run: RunData, model: InfoGANModel, out: Path, *, traversal_frames: int
) -> dict[str, Path]:
    """Draw the run's own figures into ``out``; figure name -> file. Every grid's columns
    follow :func:`grid_columns`: the same order and labels in each figure."""
    paths = {
        "loss_curves": fig.plot_losses([run], out / "loss_curves.png"),
        "d_probabilities": fig.plot_probabilities(run, out / "d_probabilities.png"),
    }
    noise = report_noise(model)
    cols = grid_columns(run.evaluation, model)
    grid = code_grid(model, model.code.grid_fixed(noise), cols.order)
    paths["grid_random"] = fig.plot_grid_panels(
        [fig.GridPanel(grid, _codes_at_zero(model))],
        out / "grid_random.png",
        title=f"{run.name}, iteration {model.step}: random noise, continuous codes at 0",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"z{r + 1}" for r in range(noise.shape[0])],
        row_title="noise vector z (one per row)",
    )
    for which in range(model.config.latent.num_continuous):
        paths[f"grid_c{which + 1}"] = _varying_grid(run, model, which, cols, out)
    paths["progression"] = _progression(run, cols, out)
    for which in range(model.config.latent.num_continuous):
        paths[f"traversal_c{which + 1}"] = save_traversal_gif(
            model,
            which,
            out / f"traversal_c{which + 1}.gif",
            noise=noise[:TRAVERSAL_ROWS],
            frames=traversal_frames,
            order=cols.order,
            labels=cols.labels,
            column_title=f"columns: {cols.title}",
        )
    return paths


def _varying_grid(run: RunData, model: InfoGANModel, which: int, cols: Columns, out: Path) -> Path:
    name = f"c{which + 1}"
    return sweep_figure(
        model,
        which,
        cols,
        out / f"grid_{name}.png",
        title=f"{run.name}, iteration {model.step}: {name} varied from -1 (top) to +1 (bottom)",
    )


def sweep_figure(
    model: InfoGANModel, which: int, cols: Columns, path: Path, *, title: str, rows: int = 10
) -> Path:
    """Continuous code ``which`` from -1 (top row) to +1, noise 0, every code a column."""
    values = np.linspace(-1.0, 1.0, rows)
    name = f"c{which + 1}"
    held = _codes_at_zero(model, varied=which)
    grid = code_grid(model, model.code.grid_varying(which, rows=rows), cols.order)
    return fig.plot_grid_panels(
        [fig.GridPanel(grid, "noise z = 0" + (f", {held}" if held else ""))],
        path,
        title=title,
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"{v:+.2f}" for v in values],
        row_title=f"continuous code {name}",
    )


def _progression(run: RunData, cols: Columns, out: Path) -> Path:
    """The saved fixed-noise grids (drawn in code order during training), in ``cols``' order."""
    steps = fig.evenly_spaced(run.grid_steps["fixed"], PROGRESSION_PANELS)
    mode = "RGB" if run.config.data.channels == 3 else "L"  # an RGB run's grids in colour
    panels = []
    for step in steps:
        with Image.open(run.grid_path("fixed", step)) as img:
            grid = reorder_columns(np.asarray(img.convert(mode)), cols.order)
        panels.append(fig.GridPanel(grid, f"iteration {step}"))
    k = run.config.latent.num_categories
    return fig.plot_grid_panels(
        panels,
        out / "progression.png",
        title=f"{run.name}: the fixed-noise grid through training "
        "(row = one fixed noise vector, column = categorical code)",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"z{r + 1}" for r in range(k)],  # the fixed noise has one row per category
        row_title="fixed noise vector",
        panel_inches=4.8,
    )


def comparison_figures(
    run: RunData, model: InfoGANModel, base: RunData, base_model: InfoGANModel, out: Path
) -> dict[str, Path]:
    """Draw the baseline and the run side by side into ``out``; figure name -> file.
    Both panels' columns follow the run's :func:`grid_columns`, as its other figures do."""
    noise = model.fixed_noise.cpu() if model.fixed_noise is not None else report_noise(model)
    batch = model.code.grid_fixed(noise)
    cols = grid_columns(run.evaluation, model)
    panels = [
        fig.GridPanel(code_grid(m, batch, cols.order), f"{r.kind}: {r.name} (iteration {m.step})")
        for r, m in ((base, base_model), (run, model))
    ]
    grids = fig.plot_grid_panels(
        panels,
        out / "compare_grids.png",
        title="The same fixed noise through both generators (continuous codes at 0)",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"z{r + 1}" for r in range(noise.shape[0])],
        row_title="fixed noise vector",
        panel_inches=5.6,
    )
    losses = fig.plot_losses([base, run], out / "compare_losses.png")
    return {"compare_grids": grids, "compare_losses": losses}

"""The report's static figures, drawn with matplotlib and written as PNG.

Figures are built on :class:`matplotlib.figure.Figure` directly, which draws
with the Agg canvas: no pyplot, no global backend, no display needed.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image

from infogan.config import continuous_loss_name
from infogan.report.columns import compact_label
from infogan.report.rundata import RunData

DPI = 110
#: one colour per run when runs are drawn together (main run first)
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
LOSS_PANELS = (  # metric, title, formula, colour when one run is drawn
    ("d_loss", "discriminator loss", "BCE(D(x), 1) + BCE(D(G(z, c)), 0)", "#1f77b4"),
    ("g_loss", "generator loss", "BCE(D(G(z, c)), 1), non-saturating", "#ff7f0e"),
    ("info_loss", "information loss", "CE(c_d, Q) + MSE(c_c, Q)", "#2ca02c"),
)
TEXT_LINE_INCHES = 0.2  # one line of a grid figure's 9-10 pt labels
LABEL_POINTS = 9  # the size of a grid's column and row labels
PROBABILITY_SERIES = (
    ("d_real", "D(x), real batch", "#1f77b4"),
    ("d_fake_before", "D(G(z)) before the G update", "#d62728"),
    ("d_fake_after", "D(G(z)) after the G update", "#ff7f0e"),
)


# --- numbers behind the curves ----------------------------------------------------------


def smoothing_window(n: int) -> int:
    """Moving-average width for ``n`` points: about 1/30 of the run, at least 1."""
    return max(1, min(n // 30, 1000))


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points; the first points average what exists so far."""
    values = np.asarray(values, dtype=np.float64)
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def wants_log_scale(values: np.ndarray, *, ratio: float = 10.0) -> bool:
    """True when positive values span more than ``ratio`` between their 1st and 99th percentile."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0 or values.min() <= 0:
        return False
    low, high = np.percentile(values, [1, 99])
    return bool(high / low > ratio)


def evenly_spaced(items: Sequence[int], count: int) -> list[int]:
    """Up to ``count`` items picked evenly from first to last, both included, in order."""
    if not items or count < 1:
        return []
    if count == 1:
        return [items[-1]]
    picks = np.linspace(0, len(items) - 1, min(count, len(items)))
    return [items[i] for i in sorted({round(p) for p in picks})]


def first_step_below(steps: np.ndarray, values: np.ndarray, threshold: float) -> int | None:
    """The first iteration whose value is below ``threshold``, or None."""
    below = np.flatnonzero(np.asarray(values) < threshold)
    return int(steps[below[0]]) if below.size else None


# --- curves -------------------------------------------------------------------------------


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG; a figure with no colour in it is stored as greyscale (smaller)."""
    buffer = io.BytesIO()
    # constrained layout settles over draws: a square grid's caption, laid out in the
    # first, lands below the figure's edge; lay it out once before the draw that is saved
    fig.set_dpi(DPI)
    fig.draw_without_rendering()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as rendered:
        rgb = rendered.convert("RGB")
    pixels = np.asarray(rgb)
    grey = (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    image = rgb.convert("L") if grey else rgb
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")  # optimize=True: twice the time for 0.5% smaller files
    return path


def _curve(ax: Axes, steps: np.ndarray, values: np.ndarray, *, color: str, label: str) -> None:
    """Raw values faint, their moving average bold (the legend shows the bold line)."""
    window = smoothing_window(len(values))
    ax.plot(steps, values, color=color, alpha=0.18, linewidth=0.6)
    ax.plot(
        steps,
        moving_average(values, window),
        color=color,
        linewidth=2.0,
        label=f"{label} (mean of {window})" if window > 1 else label,
    )


def _scale_axis(ax: Axes, values: Sequence[np.ndarray], *, log: bool) -> None:
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
        return
    joined = np.concatenate(values)
    high = float(np.percentile(joined, 99.5))
    ax.set_ylim(bottom=min(0.0, float(joined.min())), top=high * 1.1 if high > 0 else None)


def _headroom(ax: Axes, *, log: bool) -> None:
    """Room above the curves and the H(c) line for the information panel's tall legend,
    which would otherwise cover one or the other (only the first steps' losses reach it)."""
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * (top / bottom) ** 0.45 if log else top + 0.6 * (top - bottom))


def _minor_log_label(value: float, _pos: int) -> str:
    """Label the 2s and 5s between decades, leave the other minor ticks bare."""
    if value <= 0:
        return ""
    leading = round(value / 10 ** math.floor(math.log10(value)))
    return f"{value:g}" if leading in (2, 5) else ""


def plot_losses(runs: Sequence[RunData], path: Path) -> Path:
    """D, G and information loss against iteration; one colour per run when several."""
    fig = Figure(figsize=(12.5, 4.4), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True)
    several = len(runs) > 1
    for ax, (key, title, formula, color) in zip(axes, LOSS_PANELS, strict=True):
        series = [run.metrics[key] for run in runs]
        for i, run in enumerate(runs):
            label = f"{run.kind}: {run.name}" if several else title
            _curve(
                ax,
                run.steps,
                run.metrics[key],
                color=RUN_COLORS[i] if several else color,
                label=label,
            )
        if key == "info_loss" and not several:
            _information_parts(ax, runs[0])
        log = wants_log_scale(np.concatenate(series))
        _scale_axis(ax, series, log=log)
        if key == "info_loss":
            formula = formula.replace("MSE", continuous_loss_name(runs[0].config))
        ax.set_title(f"{title}\n{formula}", fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss (log scale)" if log else "loss")
        ax.set_xlim(0, max(int(run.steps[-1]) for run in runs))
        ax.grid(True, which="major", alpha=0.3)
        if key == "info_loss":
            _headroom(ax, log=log)
        ax.legend(fontsize=8, loc="upper right", framealpha=0.9)
    names = " vs ".join(run.name for run in runs)
    fig.suptitle(f"Loss curves: {names} (faint: every iteration; bold: moving average)")
    return _save(fig, path)


def _information_parts(ax: Axes, run: RunData) -> None:
    """The two parts of the information loss, and the categorical code's entropy H(c)."""
    window = smoothing_window(len(run.steps))
    continuous = f"continuous {continuous_loss_name(run.config)}"
    parts = (("info_cat", "categorical CE", "#17becf"), ("info_cont", continuous, "#bcbd22"))
    for key, label, color in parts:
        smooth = moving_average(run.metrics[key], window)
        ax.plot(run.steps, smooth, color=color, linewidth=1.2, linestyle="--", label=label)
    entropy = math.log(run.config.latent.num_categories)
    # named in the legend, not beside the line: a plain GAN's categorical CE sits on it
    ax.axhline(
        entropy,
        color="0.4",
        linewidth=0.8,
        linestyle=":",
        label=f"H(c) = ln {run.config.latent.num_categories} = {entropy:.2f}",
    )


def plot_probabilities(run: RunData, path: Path) -> Path:
    """D(x), D(G(z)) before and after the G update, against iteration."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax = fig.subplots()
    for key, label, color in PROBABILITY_SERIES:
        _curve(ax, run.steps, run.metrics[key], color=color, label=label)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, int(run.steps[-1]))
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean probability that D calls the batch real")
    ax.axhline(0.5, color="0.5", linewidth=0.8, linestyle=":")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="upper right", framealpha=0.9)
    ax.set_title(
        f"Discriminator outputs: {run.name} (faint: every iteration; bold: moving average)"
    )
    return _save(fig, path)


# --- image grids --------------------------------------------------------------------------


@dataclass(frozen=True)
class GridPanel:
    """One tiled grid (from :func:`infogan.grids.make_grid`, 2px padding) and its caption."""

    grid: np.ndarray  # (H, W) or (H, W, 3) uint8
    caption: str


def tile_centers(length: int, count: int, padding: int = 2) -> np.ndarray:
    """Pixel centres of ``count`` tiles along an axis ``length`` pixels long."""
    tile = (length - padding) / count - padding
    return padding + np.arange(count) * (tile + padding) + tile / 2


def plot_grid_panels(
    panels: Sequence[GridPanel],
    path: Path,
    *,
    title: str,
    col_labels: Sequence[str],
    col_title: str,
    row_labels: Sequence[str],
    row_title: str,
    panel_inches: float = 6.4,
    per_row: int = 3,
) -> Path:
    """Grids side by side, at most ``per_row`` to a line and as even as the lines allow;
    columns labelled on every panel, rows on the first panel of each line, the caption
    under each panel."""
    lines = math.ceil(len(panels) / per_row)
    across = math.ceil(len(panels) / lines)  # 4 panels: 2 + 2, not 3 + 1
    height, width = panels[0].grid.shape[:2]
    # a grid wider than tall fills the panel's width, a taller one its height
    column_inches = panel_inches * min(1.0, width / height) / len(col_labels)
    col_labels, rotation = fit_column_labels(col_labels, column_inches)
    col_title = _wrap(col_title, panel_inches)
    # room for every text line above the grids beyond the one title and one label line
    # that the panel's 0.9 inch allows: the square grids would shrink (or overlap) instead
    label_lines = max(label.count("\n") + 1 for label in col_labels)
    if rotation:  # upright labels: as tall as the longest is wide
        label_lines = math.ceil(max(text_inches(label) for label in col_labels) / TEXT_LINE_INCHES)
    fig_width = panel_inches * across + 1.2
    title = _wrap(title, fig_width - 0.2, fontsize=13)  # one panel: a long title, a narrow figure
    lines_above = col_title.count("\n") + lines * (label_lines - 1)
    extra = TEXT_LINE_INCHES * lines_above + 0.25 * title.count("\n")  # 13 pt title lines
    fig = Figure(
        figsize=(fig_width, (panel_inches + 0.9) * lines + 0.4 + extra),
        layout="constrained",
    )
    axes = np.atleast_1d(fig.subplots(lines, across, squeeze=False).ravel())
    for i, ax in enumerate(axes):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        _grid_axes(ax, panels[i], col_labels=col_labels, row_labels=row_labels, rotation=rotation)
        if i < across:
            ax.set_xlabel(col_title, fontsize=10)
        if i % across == 0:
            ax.set_ylabel(row_title, fontsize=10)
        else:
            ax.set_yticklabels([])
    fig.suptitle(title, fontsize=13)
    return _save(fig, path)


def _wrap(text: str, inches: float, fontsize: float = 10) -> str:
    """``text``'s lines broken to fit ``inches`` (about 0.55 em a character)."""
    width = max(20, int(inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, width) for line in text.splitlines())


def text_inches(text: str, fontsize: float = LABEL_POINTS) -> float:
    """About how wide ``text``'s widest line is drawn (0.6 em a character)."""
    return max(len(line) for line in text.split("\n")) * 0.6 * fontsize / 72


def fit_column_labels(labels: Sequence[str], column_inches: float) -> tuple[list[str], int]:
    """The column labels and their rotation for columns ``column_inches`` wide: as given
    where they fit, the shorter :func:`compact_label` where they do not (20 codes), and
    those turned upright where even they do not (60 codes)."""
    labels = list(labels)
    if max(text_inches(label) for label in labels) <= column_inches:
        return labels, 0
    labels = [compact_label(label) for label in labels]
    return labels, 0 if max(text_inches(label) for label in labels) <= column_inches else 90


def _grid_axes(
    ax: Axes,
    panel: GridPanel,
    *,
    col_labels: Sequence[str],
    row_labels: Sequence[str],
    rotation: int = 0,
) -> None:
    height, width = panel.grid.shape[:2]
    ax.imshow(panel.grid, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks(
        tile_centers(width, len(col_labels)), col_labels, fontsize=LABEL_POINTS, rotation=rotation
    )
    ax.set_yticks(tile_centers(height, len(row_labels)), row_labels, fontsize=LABEL_POINTS)
    ax.tick_params(length=0)
    ax.text(0.5, -0.015, panel.caption, transform=ax.transAxes, ha="center", va="top", fontsize=12)
    for spine in ax.spines.values():
        spine.set_visible(False)

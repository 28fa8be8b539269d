"""Latent traversal animations: one continuous code swept while everything else stays put.

Each frame is a grid (rows: noise vectors, columns: the categorical code's
values, in the order and with the labels of the report's other grids) generated
with the code at one value, under a caption, a small slider that marks the value
and the prior's range [-1, 1], and a line saying what the columns are. Frames go from the
low end to the high end and back, and are written as a looping GIF with Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from infogan.api import InfoGANModel
from infogan.grids import make_grid
from infogan.report.columns import compact_label
from infogan.report.figures import tile_centers

TOP = 40  # pixels above the grid for the caption and the slider
TITLE_ROW = 17  # then the lines that say what the columns are
LABEL_LINE = 15  # then each line of the column labels
MIN_WIDTH = 600  # the header needs about this much room
FRAME_MS = 90
HOLD_MS = 700  # the two ends of the sweep stay on screen longer
GREY_STEP = 8  # 32 grey levels: the generator's faint background noise no longer
# defeats the GIF's compression (a third of the size), and the digits look the same


def traversal_values(low: float, high: float, frames: int) -> np.ndarray:
    """``frames`` evenly spaced values from ``low`` to ``high``, both included."""
    if frames < 2:
        raise ValueError(f"a traversal needs at least 2 frames, got {frames}")
    return np.linspace(low, high, frames)


def header_height(title_lines: int, label_lines: int) -> int:
    """Pixels above the grid for a column title and column labels of so many lines."""
    return TOP + TITLE_ROW * title_lines + LABEL_LINE * label_lines + 4


def traversal_grids(
    model: InfoGANModel,
    which: int,
    values: Sequence[float],
    noise: torch.Tensor,
    order: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """One uint8 grid per value: row r is ``noise[r]``, column j is category ``order[j]``
    (category j without ``order``).

    Code ``which`` takes the value; the other continuous codes stay at 0.
    """
    lat = model.config.latent
    rows = noise.shape[0]
    order = list(range(lat.num_categories)) if order is None else list(order)
    categories = torch.tensor(order).repeat(rows)
    repeated = noise.repeat_interleave(lat.num_categories, dim=0)  # (rows*K, noise_dim)
    grids = []
    for value in values:
        continuous = torch.zeros(len(categories), lat.num_continuous)
        continuous[:, which] = float(value)
        images = model.generate(categories, continuous, noise=repeated)
        grids.append(posterize(make_grid(images, nrow=lat.num_categories)))
    return grids


def posterize(grid: np.ndarray, step: int = GREY_STEP) -> np.ndarray:
    """Round uint8 grey values to multiples of ``step`` (255 stays white)."""
    return np.minimum(np.round(grid / step) * step, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def annotate_frame(
    grid: np.ndarray,
    *,
    labels: Sequence[str],
    label: str,
    value: float,
    low: float,
    high: float,
    column_title: str = "",
) -> Image.Image:
    """The grid under a header: "label = value", a slider, ``column_title`` and each
    column's label from ``labels`` (both split into lines at newlines; a label's last
    line is nearest the grid).

    Grids narrower than ``MIN_WIDTH`` (small images) are enlarged by a whole factor,
    pixel for pixel, so the header fits and the digits stay legible.
    """
    scale = max(1, math.ceil(MIN_WIDTH / grid.shape[1]))
    height, width = grid.shape[0] * scale, grid.shape[1] * scale
    label_font = _font(13)
    column = width / len(labels)
    if max(label_font.getlength(part) for text in labels for part in text.split("\n")) > column:
        labels = [compact_label(text) for text in labels]  # 20 codes: "11", not "code 11"
    lines = [text.split("\n") for text in labels]
    titles = column_title.splitlines()
    header = header_height(len(titles), max(len(parts) for parts in lines))
    frame = Image.new("L", (width, height + header), 255)
    draw = ImageDraw.Draw(frame)
    outside = abs(value) > 1 + 1e-9
    caption = f"{label} = {value:+.2f}" + ("   (beyond the prior's [-1, 1])" if outside else "")
    draw.text((8, 4), caption, fill=0, font=_font(16))
    _slider(draw, x0=width - 230, x1=width - 12, y=14, value=value, low=low, high=high)
    for i, text in enumerate(titles):
        draw.text((8, TOP + i * TITLE_ROW), text, fill=60, font=_font(13))
    for parts, center in zip(lines, tile_centers(grid.shape[1], len(labels)) * scale, strict=True):
        for i, part in enumerate(reversed(parts)):  # bottom line first
            y = header - 10 - i * LABEL_LINE
            draw.text((center, y), part, fill=20 if i else 60, font=label_font, anchor="mm")
    if grid.ndim == 3:  # an RGB model's frames in colour, under the grey header
        frame = frame.convert("RGB")
    frame.paste(
        Image.fromarray(grid).resize((width, height), Image.Resampling.NEAREST), (0, header)
    )
    return frame


def _slider(
    draw: ImageDraw.ImageDraw, *, x0: int, x1: int, y: int, value: float, low: float, high: float
) -> None:
    def x_of(v: float) -> float:
        return x0 + (v - low) / (high - low) * (x1 - x0)

    draw.line([(x0, y), (x1, y)], fill=170, width=2)
    prior_lo, prior_hi = max(low, -1.0), min(high, 1.0)
    if prior_lo < prior_hi:
        draw.line([(x_of(prior_lo), y), (x_of(prior_hi), y)], fill=90, width=4)
    for tick in (low, 0.0, high):
        draw.line([(x_of(tick), y - 5), (x_of(tick), y + 5)], fill=120, width=1)
        draw.text((x_of(tick), y + 14), f"{tick:g}", fill=90, font=_font(11), anchor="mm")
    cx = x_of(value)
    draw.ellipse([(cx - 6, y - 6), (cx + 6, y + 6)], fill=0)


def save_traversal_gif(
    model: InfoGANModel,
    which: int,
    path: Path,
    *,
    noise: torch.Tensor,
    low: float = -2.0,
    high: float = 2.0,
    frames: int = 17,
    order: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    column_title: str = "columns: categorical code",
) -> Path:
    """Write the looping GIF of continuous code ``which`` swept from ``low`` to ``high``;
    column j shows category ``order[j]`` under ``labels[j]`` (code order and "code k"
    without them)."""
    values = traversal_values(low, high, frames)
    k = model.config.latent.num_categories
    order = list(range(k)) if order is None else list(order)
    labels = [f"code {c}" for c in order] if labels is None else list(labels)
    grids = traversal_grids(model, which, values, noise, order)
    label = f"c{which + 1}"
    images = [
        annotate_frame(
            g,
            labels=labels,
            label=label,
            value=float(v),
            low=low,
            high=high,
            column_title=column_title,
        )
        for g, v in zip(grids, values, strict=True)
    ]
    sweep = images + images[-2:0:-1]  # there and back, ends not repeated
    durations = [HOLD_MS if i in (0, frames - 1) else FRAME_MS for i in range(len(sweep))]
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep[0].save(
        path, format="GIF", save_all=True, append_images=sweep[1:], duration=durations, loop=0
    )
    return path

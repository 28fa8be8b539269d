"""What the latent explorer shows: a loaded model, its digit labels, and its images as PNG.

Rendering is split in two so that the server can keep the model on one thread:
``*_pixels`` methods run the generator (one batch per request, in inference mode)
and return uint8 arrays; :func:`encode_png` upscales with nearest-neighbour and
encodes, and may run anywhere.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from infogan.api import InfoGANModel, load_model
from infogan.data import IDX_DATASETS
from infogan.errors import CheckpointError
from infogan.evaljson import eval_json_path, read_evaluation
from infogan.grids import make_grid, to_uint8
from infogan.web.params import ChoiceParam, FloatParam, IntParam, Param, describe

SLIDER_RANGE = (-2.0, 2.0)  # what the page lets a user ask for
TRAINING_RANGE = (-1.0, 1.0)  # the continuous codes' prior during training: U(-1, 1)
GRID_PADDING = 2  # pixels between tiles, at scale 1
SEED_LIMIT = 2**31


def load_digit_mapping(
    model: Path | str, num_categories: int, step: int
) -> tuple[list[int] | None, str | None]:
    """The evaluation's ``category_to_digit`` for ``model`` (at ``step``) if it wrote one,
    and a warning if it is there but unusable or of another step. The explorer works
    without it."""
    evaluation, problem = read_evaluation(model, step)
    if problem is not None:
        return None, f"{problem}; labelling buttons by code index"
    mapping = evaluation.get("category_to_digit")
    if mapping is None:
        return None, None
    path = eval_json_path(model)
    if (
        num_categories > 10
        and isinstance(mapping, list)
        and len(mapping) == num_categories
        and -1 in mapping
        and all(isinstance(d, int) and not isinstance(d, bool) and -1 <= d <= 9 for d in mapping)
    ):  # more codes than classes: the evaluation leaves the codes beyond ten unmatched (-1)
        return None, (
            f"{path} matches only {num_categories - mapping.count(-1)} of the "
            f"{num_categories} codes to a class; labelling buttons by code index"
        )
    valid = (
        isinstance(mapping, list)
        and len(mapping) == num_categories
        and all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 9 for d in mapping)
    )
    if not valid:
        return None, (
            f"{path}: category_to_digit is not a list of {num_categories} digits; "
            "labelling buttons by code index"
        )
    # the evaluation matches codes to classes one to one where there are no more codes
    # than the ten classes; a repeated class there means the file was changed by hand
    if num_categories <= 10 and len(set(mapping)) < num_categories:
        return None, (
            f"{path}: category_to_digit {mapping} gives two codes the same class; "
            "labelling buttons by code index"
        )
    return mapping, None


@dataclass(frozen=True)
class Endpoints:
    """The parameters of ``/api/generate`` and ``/api/grid`` for one model."""

    generate: dict[str, Param]
    grid: dict[str, Param]


def endpoint_params(num_categories: int) -> Endpoints:
    low, high = SLIDER_RANGE
    shared: dict[str, Param] = {
        "category": IntParam("category", 0, num_categories - 1, 0, "index of the categorical code"),
        "c1": FloatParam("c1", low, high, 0.0, "first continuous code"),
        "c2": FloatParam("c2", low, high, 0.0, "second continuous code"),
        "seed": IntParam("seed", 0, SEED_LIMIT - 1, 0, "seed of the noise vector z"),
    }
    generate = {
        **shared,
        "scale": IntParam("scale", 1, 16, 8, "nearest-neighbour upscaling factor"),
    }
    grid = {
        "vary": ChoiceParam(
            "vary",
            ("category", "c1", "c2"),
            "category",
            "what changes along the row: every categorical code (in the order of "
            "/api/info's order: by matched digit), or one continuous code swept over its "
            "slider range (the other values stay as given; the swept one's is not used)",
        ),
        **shared,
        "steps": IntParam("steps", 2, 16, 9, "number of images in a c1 or c2 sweep"),
        "scale": IntParam("scale", 1, 8, 1, "nearest-neighbour upscaling factor"),
    }
    return Endpoints(generate=generate, grid=grid)


class Explorer:
    """A trained model plus everything the page needs to label and draw it."""

    def __init__(
        self,
        model: InfoGANModel,
        *,
        source: Path,
        digit_mapping: list[int] | None = None,
    ):
        latent = model.config.latent
        if latent.num_continuous != 2:
            raise CheckpointError(
                f"the explorer needs exactly 2 continuous codes; this run has "
                f"{latent.num_continuous}"
            )
        self.model = model
        self.source = source
        self.digit_mapping = digit_mapping
        self.params = endpoint_params(latent.num_categories)
        # channels_last makes the transposed convolutions much faster on CPU at batch 1;
        # the weights are the same, only their memory layout changes.
        model.generator.to(memory_format=torch.channels_last)

    @classmethod
    def load(cls, path: Path | str) -> tuple[Explorer, list[str]]:
        """Load a run directory, checkpoint or exported folder; return the explorer and any
        warnings."""
        model = load_model(path)
        k = model.config.latent.num_categories
        mapping, warning = load_digit_mapping(path, k, model.step)
        explorer = cls(model, source=Path(path), digit_mapping=mapping)
        return explorer, [warning] if warning else []

    @property
    def labels(self) -> list[str]:
        k = self.model.config.latent.num_categories
        if self.digit_mapping is None:
            return [str(i) for i in range(k)]
        return [str(d) for d in self.digit_mapping]

    @property
    def noun(self) -> str:
        """What a category is matched to: a digit on MNIST, a class elsewhere."""
        return "digit" if self.model.config.data.dataset == "mnist" else "class"

    @property
    def class_names(self) -> list[str] | None:
        """Each code's matched class by name, where the dataset names its classes by more
        than their index (Fashion-MNIST); None otherwise."""
        known = IDX_DATASETS.get(self.model.config.data.dataset)
        if self.digit_mapping is None or known is None or known.name == "mnist":
            return None
        return [known.classes[d] for d in self.digit_mapping]

    @property
    def order(self) -> list[int]:
        """The codes from left to right in the category strip: by the digit the evaluation
        matched each to (then by code), or by code index without an evaluation."""
        codes = range(self.model.config.latent.num_categories)
        if self.digit_mapping is None:
            return list(codes)
        mapping = self.digit_mapping
        return sorted(codes, key=lambda code: (mapping[code], code))

    def info(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "preset": cfg.preset,
            "step": self.model.step,
            "image_size": cfg.data.image_size,
            "code": {
                "noise_dim": cfg.latent.noise_dim,
                "num_categories": cfg.latent.num_categories,
                "num_continuous": cfg.latent.num_continuous,
            },
            "slider_range": list(SLIDER_RANGE),
            "training_range": list(TRAINING_RANGE),
            "category_to_digit": self.digit_mapping,
            "labels": self.labels,
            "noun": self.noun,
            "class_names": self.class_names,
            "order": self.order,
            "grid_padding": GRID_PADDING,
            "parameters": {
                "generate": describe(self.params.generate),
                "grid": describe(self.params.grid),
            },
        }

    # --- model side: one batch per request ---------------------------------------------

    def _noise(self, seed: int, count: int) -> torch.Tensor:
        """The seed's noise vector, repeated: (count, noise_dim)."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(1, self.model.config.latent.noise_dim, generator=gen)
        return z.expand(count, -1)

    def _run(self, categories: list[int], continuous: list[list[float]], seed: int) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.generate(
                categories, continuous, noise=self._noise(seed, len(categories))
            )

    def single_pixels(self, *, category: int, c1: float, c2: float, seed: int) -> np.ndarray:
        """(H, W) uint8, or (H, W, 3) for an RGB model: one image."""
        pixels = to_uint8(self._run([category], [[c1, c2]], seed))[0]  # (H, W, C)
        return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels

    def grid_pixels(
        self, *, vary: str, category: int, c1: float, c2: float, seed: int, steps: int
    ) -> np.ndarray:
        """(H', W') uint8: one row of tiles with the same noise, varying one part of the code."""
        if vary == "category":
            order = self.order
            images = self._run(order, [[c1, c2]] * len(order), seed)
        else:
            values = sweep_values(steps)
            which = 0 if vary == "c1" else 1
            codes = [[c1, c2] for _ in values]
            for code, value in zip(codes, values, strict=True):
                code[which] = value
            images = self._run([category] * steps, codes, seed)
        return make_grid(images, nrow=images.shape[0], padding=GRID_PADDING)


def sweep_values(steps: int) -> list[float]:
    """``steps`` evenly spaced values over the slider range, ends included."""
    low, high = SLIDER_RANGE
    return [low + (high - low) * i / (steps - 1) for i in range(steps)]


def encode_png(pixels: np.ndarray, scale: int) -> bytes:
    """PNG bytes of a uint8 (H, W) or (H, W, 3) array, upscaled ``scale`` times by pixel
    repetition."""
    image = Image.fromarray(pixels)
    if scale != 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()

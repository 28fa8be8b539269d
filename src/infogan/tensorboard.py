"""TensorBoard logging for a training run: every metric as a scalar, and the sample grids.

A training callback (see :class:`infogan.training.loop.Callback`) that writes event files
with :class:`torch.utils.tensorboard.SummaryWriter` into ``RUN_DIR/tensorboard``.
It reads the grids the run's :class:`~infogan.training.writer.RunWriter` has just made
rather than generating its own, so logging costs no extra generator passes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from infogan.config.schema import RunConfig, continuous_loss_name
from infogan.errors import ConfigError
from infogan.grids import make_grid
from infogan.training.rundir import METRIC_NAMES
from infogan.training.writer import RunWriter

#: metric name -> TensorBoard tag; grouped so the loss and probability charts sit together.
#: ``info_cont`` is named by how the run's Q scores its continuous codes (:func:`scalar_tags`).
SCALAR_TAGS = {
    "d_loss": "loss/discriminator",
    "g_loss": "loss/generator",
    "info_loss": "loss/information",
    "info_cat": "information/categorical_ce",
    "info_cont": "information/continuous_mse",
    "d_real": "probability/D(x)",
    "d_fake_before": "probability/D(G(z))_before_G_update",
    "d_fake_after": "probability/D(G(z))_after_G_update",
}


def scalar_tags(config: RunConfig) -> dict[str, str]:
    """SCALAR_TAGS for this run: a Gaussian Q's continuous loss is an NLL, not an MSE."""
    name = continuous_loss_name(config).lower().replace(" ", "_")  # "mse" or "gaussian_nll"
    return {**SCALAR_TAGS, "info_cont": f"information/continuous_{name}"}


def summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "--tensorboard needs the tensorboard package: pip install 'infogan[tensorboard]'"
        ) from None
    return SummaryWriter


class TensorBoardLogger:
    """Logs scalars every time metrics are flushed and grids whenever the run writes them."""

    def __init__(self, log_dir: Path | str, run_writer: RunWriter):
        self.run_writer = run_writer
        # flush every 10 s (not 120): a run stopped early keeps nearly all of its events
        self.summary = summary_writer_class()(log_dir=str(log_dir), flush_secs=10)
        self.logged_grid_step = -1
        self.tags = scalar_tags(run_writer.config)
        config = json.dumps(run_writer.config.to_dict(), indent=2)
        # indented by four spaces, TensorBoard's text plugin shows it as a code block
        self.summary.add_text("config", "    " + config.replace("\n", "\n    "), 0)

    def on_metrics(self, rows: Sequence[tuple[int, int, list[float]]]) -> None:
        for step, _epoch, values in rows:
            for name, value in zip(METRIC_NAMES, values, strict=True):
                self.summary.add_scalar(self.tags[name], value, step)

    def on_step_end(self, step: int, epoch: int) -> None:
        if self.run_writer.last_grid_step == step and self.logged_grid_step != step:
            self._log_grids(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        self.on_step_end(step, epoch)
        self.summary.flush()
        self.summary.close()

    def _log_grids(self, step: int) -> None:
        for name, images in self.run_writer.last_grids.items():
            nrow = self.run_writer.config.latent.num_categories
            grid = make_grid(images, nrow=nrow)  # (H, W) uint8, or (H, W, 3)
            formats = "HW" if grid.ndim == 2 else "HWC"
            self.summary.add_image(f"grids/{name}", grid, step, dataformats=formats)
        self.logged_grid_step = step

"""The callback that writes a run's files: metrics.csv, the three sample grids, and the
checkpoints (``checkpoints/step_NNNNNN.pt``, the newest ``keep_checkpoints`` kept, and
``checkpoints/last.pt``, the newest, as a hard link or a copy)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from infogan import __version__
from infogan.checkpoint import save_checkpoint
from infogan.config import RunConfig
from infogan.grids import save_grid
from infogan.latent import LatentBatch, LatentCode
from infogan.training.average import GeneratorAverage
from infogan.training.loop import LoopState
from infogan.training.rundir import CSV_COLUMNS, replace_with_link, truncate_metrics


class RunWriter:
    """Writes metrics.csv, the three sample grids, and the checkpoints of one run.

    Checkpoints go to ``checkpoints/step_NNNNNN.pt`` (the newest ``keep`` are kept)
    and ``checkpoints/last.pt`` (the newest, as a hard link or a copy).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        config: RunConfig,
        generator: nn.Module,
        discriminator: nn.Module,
        opt_g: torch.optim.Optimizer,
        opt_d: torch.optim.Optimizer,
        code: LatentCode,
        fixed_noise: torch.Tensor,
        rng: torch.Generator,
        state: LoopState,
        resume_step: int | None = None,
        enabled: bool = True,
        average: GeneratorAverage | None = None,
        data_digest: str | None = None,
    ):
        self.run_dir = run_dir
        self.data_digest = data_digest  # a folder's images, to know them again on resume
        self.config = config
        self.generator = generator
        self.average = average
        # what draws the grids: the running average of G's weights where the run keeps one
        self.sampler = average.module if average is not None else generator
        self.discriminator = discriminator
        self.opt_g = opt_g
        self.opt_d = opt_d
        self.code = code
        self.fixed_noise = fixed_noise
        self.rng = rng
        self.state = state
        self.last_grid_step = -1
        self.last_grids: dict[str, torch.Tensor] = {}  # name -> (rows * K, C, H, W), K codes
        self.last_checkpoint_step = resume_step
        self.seconds: Callable[[], float] = lambda: 0.0  # training time so far, set by the run
        self.metrics_path = run_dir / "metrics.csv"
        if not enabled:  # a non-zero rank under torchrun: rank 0 writes the files
            return
        if resume_step is None:
            with open(self.metrics_path, "w", newline="") as fh:
                csv.writer(fh).writerow(CSV_COLUMNS)
        else:
            truncate_metrics(self.metrics_path, resume_step)

    def on_metrics(self, rows: Sequence[tuple[int, int, list[float]]]) -> None:
        with open(self.metrics_path, "a", newline="") as fh:
            writer = csv.writer(fh)
            for step, epoch, values in rows:
                writer.writerow([step, epoch, *(f"{v:.6g}" for v in values)])

    def on_step_end(self, step: int, epoch: int) -> None:
        t = self.config.train
        if step % t.sample_every == 0:
            self.write_grids(step)
        if step % t.checkpoint_every == 0:
            self.write_checkpoint()

    def on_train_end(self, step: int, epoch: int) -> None:
        if self.last_grid_step != step:
            self.write_grids(step)
        if self.last_checkpoint_step != step:
            self.write_checkpoint()

    def write_grids(self, step: int) -> None:
        device = self.fixed_noise.device
        batches = {
            "fixed": self.code.grid_fixed(self.fixed_noise),
            "varying_c1": self.code.grid_varying(0, device=device),
            "varying_c2": self.code.grid_varying(1, device=device),
        }
        if self.average is not None:
            self.average.calibrate()
        images = generate_images(self.sampler, self.code, batches.values())
        k = self.code.config.num_categories  # a row per noise vector, a column per code
        for name, batch_images in zip(batches, images, strict=True):
            save_grid(batch_images, self.run_dir / "images" / name / f"{step:06d}.png", nrow=k)
        self.last_grids = dict(zip(batches, images, strict=True))
        self.last_grid_step = step

    def checkpoint_state(self) -> dict:
        s = self.state
        average = {} if self.average is None else {"generator_average": self.average.state_dict()}
        return {
            "config": self.config.to_dict(),
            "step": s.step,
            "epoch": s.epoch,
            "position": s.position,
            "order": s.order.cpu() if s.order is not None else None,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(),
            "rng_state": self.rng.get_state(),
            "rng_device": str(self.rng.device),
            "torch_rng_state": torch.get_rng_state(),
            "seconds": float(self.seconds()),
            "version": __version__,
            "data_digest": self.data_digest,
            **average,
        }

    def write_checkpoint(self) -> Path:
        """Atomically write this step's checkpoint, point last.pt at it, prune old ones."""
        step = self.state.step
        folder = self.run_dir / "checkpoints"
        path = save_checkpoint(self.checkpoint_state(), folder / f"step_{step:06d}.pt")
        replace_with_link(path, folder / "last.pt")
        keep = self.config.train.keep_checkpoints
        for old in sorted(folder.glob("step_*.pt"))[:-keep]:
            old.unlink(missing_ok=True)
        self.last_checkpoint_step = step
        return path


@torch.no_grad()
def generate_images(
    generator: nn.Module, code: LatentCode, batches: Sequence[LatentBatch] | object
) -> list[torch.Tensor]:
    """Images for each latent batch, with G in inference mode (BatchNorm running stats)."""
    was_training = generator.training
    generator.eval()
    try:
        return [generator(code.assemble(b)).float().cpu() for b in batches]
    finally:
        generator.train(was_training)

"""The training loop: shuffled full batches, metrics kept on the device and flushed to
the callbacks in one transfer, SIGINT/SIGTERM honoured after a whole step.

The loop knows nothing of files: grids, metrics.csv and checkpoints are a callback
(:class:`~infogan.training.writer.RunWriter`).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from infogan.distributed import SINGLE, DistContext
from infogan.errors import ConfigError, InfoGANError
from infogan.latent import LatentBatch, LatentCode
from infogan.training.rundir import METRIC_NAMES


class Callback(Protocol):
    def on_metrics(self, rows: Sequence[tuple[int, int, list[float]]]) -> None: ...

    def on_step_end(self, step: int, epoch: int) -> None: ...

    def on_train_end(self, step: int, epoch: int) -> None: ...


@dataclass
class LoopState:
    """Where the loop is: enough, with the RNG state, to continue exactly."""

    step: int = 0  # iterations completed
    epoch: int = 0  # current epoch, 1-based once running
    position: int = 0  # batches of the current epoch already consumed
    order: torch.Tensor | None = None  # (N,) the current epoch's permutation of the data


class TrainingInterrupted(InfoGANError):
    """SIGINT or SIGTERM stopped the run after a completed step."""

    def __init__(self, step: int, signal_name: str):
        super().__init__(f"{signal_name} at step {step}")
        self.step = step
        self.signal_name = signal_name
        self.run_dir: Path | None = None  # the run it saved, once a run has saved it


def check_batch_size(batch_size: int, n_images: int, world_size: int = 1) -> int:
    """The steps of an epoch; a :class:`ConfigError` if a batch cannot be drawn from
    ``n_images`` or split evenly over ``world_size`` processes."""
    if n_images // batch_size == 0:
        raise ConfigError(
            f"--batch-size {batch_size} is larger than the dataset ({n_images:,} images)"
        )
    if batch_size % world_size:
        raise ConfigError(
            f"--batch-size {batch_size} must be divisible by the {world_size} processes"
        )
    return n_images // batch_size


class DivergenceError(InfoGANError):
    """A loss or output became NaN or infinite."""


class StopFlag:
    """Turns SIGINT/SIGTERM into a request the loop honours after the current step."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def train_loop(
    *,
    step_fn: Callable[[torch.Tensor, LatentBatch], torch.Tensor],
    images: torch.Tensor,
    code: LatentCode,
    batch_size: int,
    epochs: int,
    max_steps: int | None,
    rng: torch.Generator,
    callbacks: Sequence[Callback] = (),
    log_every: int = 25,
    sync_every: int | None = None,
    state: LoopState | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
    dist_ctx: DistContext = SINGLE,
) -> LoopState:
    """Run ``step_fn`` over shuffled full batches of ``images`` for ``epochs`` epochs.

    Metrics stay on the device and are handed to callbacks every ``log_every``
    steps (and every ``sync_every`` steps, before the callbacks run, so that a
    checkpoint never gets ahead of metrics.csv) in one transfer. Incomplete
    final batches are dropped so every step sees ``batch_size`` images.
    ``state`` continues an earlier loop; ``stop`` ends it early, after a whole step,
    with :class:`TrainingInterrupted`. A non-finite metric raises
    :class:`DivergenceError` before any callback sees it.

    Under ``torchrun`` (``dist_ctx``) every rank draws the same global batch of
    indices and codes and takes its own slice of it, so that the ranks together see
    exactly what one process would; metrics are averaged over ranks.
    """
    from tqdm.auto import tqdm

    n = images.shape[0]
    steps_per_epoch = check_batch_size(batch_size, n, dist_ctx.world_size)
    total = epochs * steps_per_epoch
    if max_steps is not None:
        total = min(total, max_steps)
    device = images.device
    state = state if state is not None else LoopState()
    pending: list[tuple[int, int, torch.Tensor]] = []
    bar = tqdm(
        total=total,
        initial=state.step,
        disable=not (progress and dist_ctx.is_main),
        unit="step",
        dynamic_ncols=True,
    )
    local = batch_size // dist_ctx.world_size
    mine = slice(dist_ctx.rank * local, (dist_ctx.rank + 1) * local)

    def flush() -> None:
        if not pending:
            return
        values = dist_ctx.mean(torch.stack([m for _, _, m in pending])).tolist()  # one sync
        rows = [(s, e, v) for (s, e, _), v in zip(pending, values, strict=True)]
        pending.clear()
        for step, _epoch, row in rows:
            bad = [name for name, v in zip(METRIC_NAMES, row, strict=True) if not math.isfinite(v)]
            if bad:
                raise DivergenceError(
                    f"training diverged at step {step}: {', '.join(bad)} not finite"
                )
        for cb in callbacks:
            cb.on_metrics(rows)
        last = rows[-1][2]
        bar.set_postfix(
            D=f"{last[0]:.3f}", G=f"{last[1]:.3f}", info=f"{last[2]:.3f}", Dx=f"{last[5]:.2f}"
        )

    try:
        while state.step < total:
            if state.order is None or state.position >= steps_per_epoch:
                state.epoch += 1
                state.position = 0
                state.order = torch.randperm(n, generator=rng, device=rng.device)
            start = state.position * batch_size
            indices = state.order[start : start + batch_size][mine]
            real = images[indices.to(device)]
            latent = code.sample(batch_size, generator=rng, device=rng.device)
            if dist_ctx.enabled or rng.device != device:
                latent = LatentBatch(*(t[mine].to(device) for t in vars(latent).values()))
            metrics = step_fn(real, latent)
            state.step += 1
            state.position += 1
            pending.append((state.step, state.epoch, metrics))
            if len(pending) >= log_every or (sync_every and state.step % sync_every == 0):
                flush()
            bar.update(1)
            for cb in callbacks:
                cb.on_step_end(state.step, state.epoch)
            stopping = stop is not None and stop.signal_name is not None
            if dist_ctx.enabled:
                stopping = dist_ctx.any(stopping, device)
            if stopping and state.step < total:
                flush()
                raise TrainingInterrupted(state.step, (stop and stop.signal_name) or "SIGTERM")
        flush()
    finally:
        bar.close()
    for cb in callbacks:
        cb.on_train_end(state.step, state.epoch)
    return state

"""``train`` and ``resume``: check the run directory, load and check the data
(:mod:`~infogan.training.preflight`), only then write the run directory, build the networks
and the step, and run the loop with the writer and the other callbacks, on one process or
under torchrun (only rank 0 writes files and logs). A new run that stops before its first
checkpoint removes what it wrote, so that running it again needs no --overwrite."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from infogan import distributed
from infogan.config import RunConfig, get_preset
from infogan.data import resolve_data_config
from infogan.distributed import DistContext
from infogan.errors import ConfigError
from infogan.fileio import as_path, atomic_open
from infogan.training.average import GeneratorAverage
from infogan.training.build import (
    TrainingParts,
    build_training,
    resolve_device,
    restore,
)
from infogan.training.decay import LearningRateDecay
from infogan.training.loop import (
    Callback,
    DivergenceError,
    LoopState,
    StopFlag,
    TrainingInterrupted,
    check_batch_size,
    train_loop,
)
from infogan.training.preflight import (
    check_arguments,
    check_images,
    check_same_images,
    check_tools,
    images_digest,
    is_folder,
    load_images,
    read_resumable,
)
from infogan.training.provenance import run_summary, start_line
from infogan.training.reseed import PROBE_IMAGES, CodeReseed
from infogan.training.rundir import (
    RunLock,
    discard_new_run,
    first_missing,
    prepare_run_dir,
)
from infogan.training.writer import RunWriter


def train(
    config: RunConfig | str,
    run_dir: Path | str,
    *,
    data_dir: Path | str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    images: torch.Tensor | None = None,
    tensorboard: bool = False,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    """Train ``config`` (a preset's name or a config) into a new run directory
    ``run_dir``; returns the run directory. It writes the run's grids, metrics and
    checkpoints; the report is :func:`infogan.report.write_report`'s (the command line's
    ``train`` calls it at the end).

    ``data_dir`` holds the IDX datasets' files, fetched on first use (default:
    ``$INFOGAN_DATA_DIR``, else ``./data``). ``overwrite`` replaces a run in ``run_dir``
    (the files a run writes, once the new run's data and settings pass their checks).
    ``progress`` shows a progress bar; ``log`` takes each line of news.
    ``images`` (N, C, S, S), floating point in [-1, 1] at the architecture's size S,
    replace the config's dataset (as float32; ``data.holdout`` does not apply to them:
    hold images out before passing the rest). ``tensorboard`` also logs scalars and grids
    to ``run_dir/tensorboard``. ``probes`` make extra callbacks from the built networks
    (on the main process), e.g. to measure the model as it trains.
    """
    if isinstance(config, str):
        config = get_preset(config)
    if not isinstance(config, RunConfig):
        raise ConfigError(f"train takes a RunConfig or a preset's name, got {config!r:.60}")
    run_dir = as_path(run_dir, "run_dir", kinds="the new run's directory")
    data_dir, probes = check_arguments(data_dir, log, probes)
    config = config.validate()
    images = None if images is None else check_images(config, images)
    # fix what the dataset's name leaves open (a folder's path, the channel count)
    config = resolve_data_config(config, images=images)
    return _run(
        config,
        run_dir,
        checkpoint=None,
        overwrite=overwrite,
        data_dir=data_dir,
        progress=progress,
        log=log,
        images=images,
        tensorboard=tensorboard,
        probes=probes,
    )


def resume(
    run_dir: Path | str,
    *,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str | None = None,
    data_dir: Path | str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    images: torch.Tensor | None = None,
    tensorboard: bool = False,
) -> Path:
    """Continue the run in ``run_dir`` from ``checkpoints/last.pt``, exactly where it stopped.

    Only the length (``epochs``, ``max_steps``) and the device may change; ``epochs``
    without ``max_steps`` makes the length that many epochs (the run's step limit goes).
    metrics.csv rows after the checkpoint are dropped and recomputed. A run that already
    has the steps its length asks for is a :class:`RunDirError`, and nothing is written.
    ``images`` are as for :func:`train`, and must be the run's own; without them the
    run's dataset is loaded again (from ``data_dir``). ``tensorboard`` logs to
    ``run_dir/tensorboard`` from here on; ``progress`` and ``log`` are as for train.
    """
    run_dir = as_path(run_dir, "run_dir", kinds="the directory of the run to continue")
    data_dir, _probes = check_arguments(data_dir, log)
    state, config = read_resumable(run_dir, epochs=epochs, max_steps=max_steps, device=device)
    images = None if images is None else check_images(config, images)
    return _run(
        config,
        run_dir,
        checkpoint=state,
        overwrite=False,
        data_dir=data_dir,
        progress=progress,
        log=log,
        images=images,
        tensorboard=tensorboard,
    )


def _run(
    config: RunConfig,
    run_dir: Path,
    *,
    checkpoint: dict | None,
    overwrite: bool,
    data_dir: Path | str | None,
    progress: bool,
    log: Callable[[str], None],
    images: torch.Tensor | None,
    tensorboard: bool,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    """Join the process group (under torchrun), load the data, prepare the directory on
    rank 0, train. What could refuse the run is checked before anything is written; a new
    run that fails before its first checkpoint takes its files with it (a retry is free)."""
    check_tools(config, tensorboard=tensorboard)
    t = config.train
    ctx = distributed.from_environment()
    device = distributed.setup(ctx, resolve_device(t.device))
    lock = RunLock(run_dir)  # rank 0's: one process at a time trains into a run directory
    try:
        log = log if ctx.is_main else (lambda _msg: None)
        if t.sync_bn and not ctx.enabled:
            log(
                "note: --sync-bn shares BatchNorm statistics between torchrun's processes; "
                "this run has one, so it changes nothing"
            )
        new = checkpoint is None
        step = None if new else checkpoint["step"]
        ctx.on_main(device, lambda: lock.claim(overwrite=overwrite, resumed_step=step))
        if images is None:
            images = load_images(config, data_dir, ctx=ctx, log=log)
        check_batch_size(t.batch_size, len(images), ctx.world_size)
        if not new:
            check_same_images(run_dir, checkpoint, images, config.data.dataset)
        created, prepared = first_missing(run_dir), False

        def write_config() -> None:
            nonlocal prepared
            if new:
                if not lock.held:  # the folder was not there: make it, then take the lock
                    with contextlib.suppress(OSError):  # prepare_run_dir says why
                        run_dir.mkdir(parents=True, exist_ok=True)
                    lock.acquire()
                prepare_run_dir(run_dir, overwrite=overwrite)  # checked again, under the lock
                prepared = True
            with atomic_open(run_dir / "config.json", "w") as fh:  # a reader sees all or none
                fh.write(json.dumps(config.to_dict(), indent=2) + "\n")

        try:
            ctx.on_main(device, write_config)
            return _run_on(
                config,
                run_dir,
                checkpoint=checkpoint,
                progress=progress,
                log=log,
                images=images,
                tensorboard=tensorboard,
                ctx=ctx,
                device=device,
                probes=probes,
            )
        except BaseException:
            if prepared and not (run_dir / "checkpoints" / "last.pt").exists():
                with contextlib.suppress(OSError):  # the error that stopped it is the news
                    discard_new_run(run_dir, created)
            raise
    finally:
        lock.release()
        distributed.teardown(ctx)


def _run_on(
    config: RunConfig,
    run_dir: Path,
    *,
    checkpoint: dict | None,
    progress: bool,
    log: Callable[[str], None],
    images: torch.Tensor,
    tensorboard: bool,
    ctx: DistContext,
    device: torch.device,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    t = config.train
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    images = images.to(device).contiguous(memory_format=memory_format)

    parts = build_training(config, device, ctx=ctx, log=log)
    generator, discriminator = parts.generator, parts.discriminator
    opt_g, opt_d, code, step_fn = parts.opt_g, parts.opt_d, parts.code, parts.step_fn
    rng = torch.Generator(device=device).manual_seed(t.seed)
    fixed_noise = torch.randn(
        config.latent.num_categories, config.latent.noise_dim, generator=rng, device=device
    )
    if checkpoint is None:
        state = LoopState()
        seconds_before = 0.0
    else:
        state = restore(
            checkpoint,
            generator=generator,
            discriminator=discriminator,
            opt_g=opt_g,
            opt_d=opt_d,
            rng=rng,
            device=device,
        )
        fixed_noise = checkpoint["fixed_noise"].to(device)
        seconds_before = float(checkpoint.get("seconds", 0.0))
    average = None
    if t.g_average and ctx.is_main:  # rank 0 alone samples and saves
        average = GeneratorAverage(generator, t.g_average, code)
        saved = None if checkpoint is None else checkpoint.get("generator_average")
        if saved is not None:
            average.load_state_dict(saved)
    writer = RunWriter(
        run_dir,
        config=config,
        generator=generator,
        discriminator=discriminator,
        opt_g=opt_g,
        opt_d=opt_d,
        code=code,
        fixed_noise=fixed_noise,
        rng=rng,
        state=state,
        resume_step=None if checkpoint is None else state.step,
        enabled=ctx.is_main,
        average=average,
        data_digest=images_digest(images) if is_folder(config.data.dataset) else None,
    )
    callbacks = _callbacks(
        config, run_dir, parts, writer, average, state, images, tensorboard, ctx, log, probes
    )
    log(start_line(config, device, ctx, run_dir, state.step if checkpoint is not None else None))
    started = time.time()
    writer.seconds = lambda: seconds_before + time.time() - started
    first_step = state.step
    try:
        with StopFlag() as stop:
            train_loop(
                step_fn=step_fn,
                images=images,
                code=code,
                batch_size=t.batch_size,
                epochs=t.epochs,
                max_steps=t.max_steps,
                rng=rng,
                callbacks=callbacks,
                log_every=t.log_every,
                sync_every=t.checkpoint_every,
                state=state,
                stop=stop,
                progress=progress,
                dist_ctx=ctx,
            )
    except TrainingInterrupted as exc:
        if ctx.is_main:
            writer.write_checkpoint()
        ctx.barrier()
        exc.run_dir = run_dir
        raise
    except DivergenceError as exc:
        last = writer.last_checkpoint_step
        if last is None:  # and the new run's files go (see _run)
            raise DivergenceError(f"{exc}; no checkpoint yet, so nothing was kept") from None
        raise DivergenceError(
            f"{exc}; last good checkpoint: step {last} in {run_dir / 'checkpoints'}"
        ) from None
    elapsed = time.time() - started
    summary = run_summary(
        config,
        state,
        device,
        step_fn.mode,
        first_step,
        checkpoint is not None,
        seconds_before + elapsed,
        elapsed,
    )
    if ctx.is_main:
        summary["processes"] = ctx.world_size
        with atomic_open(run_dir / "run.json", "w") as fh:
            fh.write(json.dumps(summary, indent=2) + "\n")
    ctx.barrier()  # the other ranks return once rank 0's files are complete
    log(
        f"done: {state.step} step{'s' if state.step != 1 else ''}, {_duration(elapsed)} "
        f"({summary['images_per_second']:.0f} images/s); grids in {run_dir / 'images'}"
    )
    return run_dir


def _callbacks(
    config: RunConfig,
    run_dir: Path,
    parts: TrainingParts,
    writer: RunWriter,
    average: GeneratorAverage | None,
    state: LoopState,
    images: torch.Tensor,
    tensorboard: bool,
    ctx: DistContext,
    log: Callable[[str], None],
    probes: Sequence[Callable[[TrainingParts], Callback]],
) -> list[Callback]:
    """What runs around each step, in order: the learning-rate decay, the code reseed and
    the average (each before the writer, whose checkpoints and grids hold their changes),
    the writer, TensorBoard, then the probes."""
    t = config.train
    callbacks: list[Callback] = [writer] if ctx.is_main else []
    if average is not None:  # before the writer, which draws grids and saves with it
        callbacks.insert(0, average)
    total = min(t.epochs * (len(images) // t.batch_size), t.max_steps or math.inf)
    if t.cluster_reseed:  # before the writer: a checkpoint holds the changed weights
        reseed = CodeReseed(
            generator=parts.generator,
            discriminator=parts.discriminator,
            probe=images[:PROBE_IMAGES],
            noise_dim=config.latent.noise_dim,
            every=t.cluster_reseed,
            last_step=int(0.75 * total),
            halves=t.reseed_halves,
            log=log,
            after=average.restart if average is not None else lambda: None,
        )
        callbacks.insert(0, reseed)
    if t.lr_decay_steps:
        decay = LearningRateDecay(
            [(parts.opt_g, t.lr_g), (parts.opt_d, t.lr_d)], total=total, steps=t.lr_decay_steps
        )
        decay.apply(state.step)  # a resumed run, perhaps to a new total, on its schedule
        callbacks.insert(0, decay)
    if tensorboard and ctx.is_main:
        from infogan.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir / "tensorboard", writer))
    if ctx.is_main:
        callbacks.extend(make(parts) for make in probes)
    return callbacks


def _duration(seconds: float) -> str:
    """ "42 s" under a minute, "3.5 min" above."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"

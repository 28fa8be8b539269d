"""``train`` and ``resume``: prepare the run directory, load the data, build the networks
and the step, and run the loop with the writer and the other callbacks, on one process or
under torchrun (only rank 0 writes files and logs)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from infogan import __version__, distributed
from infogan.checkpoint import load_checkpoint
from infogan.config import RunConfig, TrainConfig
from infogan.data import describe_dataset, load_dataset, prepare_dataset, resolve_data_config
from infogan.distributed import DistContext
from infogan.errors import CheckpointError, ConfigError, InfoGANError, RunDirError
from infogan.models import ARCHITECTURES
from infogan.training.average import GeneratorAverage
from infogan.training.build import (
    TrainingParts,
    build_training,
    check_compiler,
    resolve_device,
    resolve_precision,
    restore,
)
from infogan.training.decay import LearningRateDecay
from infogan.training.loop import (
    Callback,
    DivergenceError,
    LoopState,
    StopFlag,
    TrainingInterrupted,
    train_loop,
)
from infogan.training.provenance import hardware, source_commit
from infogan.training.reseed import PROBE_IMAGES, CodeReseed
from infogan.training.rundir import prepare_run_dir
from infogan.training.writer import RunWriter


def train(
    config: RunConfig,
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
    """Train ``config`` into a new run directory ``run_dir``; returns the run directory.

    ``images`` (N, C, S, S) in [-1, 1] replaces the dataset named by the config.
    ``tensorboard`` also logs scalars and grids to ``run_dir/tensorboard``.
    ``probes`` make extra callbacks from the built networks (on the main process),
    e.g. to measure the model as it trains.
    """
    # fix what the dataset's name leaves open (a folder's path, the channel count)
    config = resolve_data_config(config.validate(), images=images)
    return _run(
        config,
        Path(run_dir),
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

    Only the length (``epochs``, ``max_steps``) and the device may change; metrics.csv
    rows after the checkpoint are dropped and recomputed. A run that already has the
    steps its length asks for is a :class:`RunDirError`, and nothing is written.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise RunDirError(f"{run_dir}: not a run directory (no config.json); nothing to resume")
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.is_file():
        raise RunDirError(f"{run_dir}: no checkpoint yet (checkpoints/last.pt); cannot resume")
    state = load_checkpoint(ckpt_path)
    try:
        saved = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (ValueError, ConfigError) as exc:
        raise RunDirError(f"{run_dir / 'config.json'}: unreadable ({exc})") from None
    config = RunConfig.from_dict(state["config"])
    if (config.preset, config.model, config.latent) != (saved.preset, saved.model, saved.latent):
        raise CheckpointError(
            f"{ckpt_path}: checkpoint of preset {config.preset!r} ({config.model.arch}), "
            f"but the run is {saved.preset!r} ({saved.model.arch})"
        )
    for key in ("order", "position", "rng_state", "opt_g", "opt_d", "epoch"):
        if key not in state:
            raise CheckpointError(f"{ckpt_path}: checkpoint lacks {key!r}; cannot resume")
    config = config.with_train(epochs=epochs, max_steps=max_steps, device=device).validate()
    _check_steps_left(run_dir, state, config.train)
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


def _check_steps_left(run_dir: Path, state: dict, t: TrainConfig) -> None:
    """A RunDirError, before anything is written, if the run already has the steps its
    length (``t``: max_steps and epochs, an epoch being the checkpoint's data order over
    the batch) asks for."""
    step, order = int(state.get("step", 0)), state["order"]
    total = t.max_steps or math.inf
    if order is not None:
        total = min(total, t.epochs * (len(order) // t.batch_size))
    if step >= total:
        raise RunDirError(
            f"{run_dir}: already at step {step:,} of {total:,}; pass a larger --max-steps "
            "or --epochs to train on"
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
    """Join the process group (under torchrun), prepare the directory on rank 0, train."""
    if tensorboard:  # a missing package is said before anything is written
        from infogan.tensorboard import summary_writer_class

        summary_writer_class()
    t = config.train
    if t.compile:  # and so is a missing compiler
        check_compiler(resolve_device(t.device))
    ctx = distributed.from_environment()
    device = distributed.setup(ctx, resolve_device(t.device))
    try:
        problem = None
        if ctx.is_main:
            try:
                if checkpoint is None:
                    prepare_run_dir(run_dir, overwrite=overwrite)
                (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
            except InfoGANError as exc:
                if not ctx.enabled:
                    raise
                problem = str(exc)
        _raise_shared(ctx, problem, device)
        return _run_on(
            config,
            run_dir,
            checkpoint=checkpoint,
            data_dir=data_dir,
            progress=progress,
            log=log if ctx.is_main else (lambda _msg: None),
            images=images,
            tensorboard=tensorboard,
            ctx=ctx,
            device=device,
            probes=probes,
        )
    finally:
        distributed.teardown(ctx)


def _raise_shared(ctx: DistContext, problem: str | None, device: torch.device) -> None:
    """Raise rank 0's setup problem on every rank (so no rank waits for the others)."""
    if ctx.enabled:
        problem = ctx.first_error(problem, device)
    if problem is not None:
        raise RunDirError(problem)


def _run_on(
    config: RunConfig,
    run_dir: Path,
    *,
    checkpoint: dict | None,
    data_dir: Path | str | None,
    progress: bool,
    log: Callable[[str], None],
    images: torch.Tensor | None,
    tensorboard: bool,
    ctx: DistContext,
    device: torch.device,
    probes: Sequence[Callable[[TrainingParts], Callback]] = (),
) -> Path:
    t = config.train
    _builder, size = ARCHITECTURES[config.model.arch]
    if images is None:
        if ctx.is_main:
            # one download, then every rank reads the verified files
            prepare_dataset(config.data, data_dir, log=log)
        ctx.barrier()
        log(f"loading {describe_dataset(config.data.dataset)} ({size}x{size})")
        images = load_dataset(config.data, data_dir, image_size=size, log=log)
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
    )
    callbacks: list[Callback] = [writer] if ctx.is_main else []
    if average is not None:  # before the writer, which draws grids and saves with it
        callbacks.insert(0, average)
    total = min(t.epochs * (len(images) // t.batch_size), t.max_steps or math.inf)
    if t.cluster_reseed:  # before the writer: a checkpoint holds the changed weights
        reseed = CodeReseed(
            generator=generator,
            discriminator=discriminator,
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
            [(opt_g, t.lr_g), (opt_d, t.lr_d)], total=total, steps=t.lr_decay_steps
        )
        decay.apply(state.step)  # a resumed run, perhaps to a new total, on its schedule
        callbacks.insert(0, decay)
    if tensorboard and ctx.is_main:
        from infogan.tensorboard import TensorBoardLogger

        callbacks.append(TensorBoardLogger(run_dir / "tensorboard", writer))
    if ctx.is_main:
        callbacks.extend(make(parts) for make in probes)
    mode = "plain GAN (lambda = 0)" if t.is_plain_gan else "InfoGAN"
    where = f"from step {state.step} " if checkpoint is not None else ""
    ranks = f" x {ctx.world_size} processes" if ctx.enabled else ""
    precision = ""
    if resolve_precision(t.precision, device) == "bf16":
        precision = " (bf16 autocast)"
    elif t.precision == "auto" and device.type == "cpu":
        precision = " (fp32: this CPU has no native bfloat16)"
    log(f"training {config.preset} {mode} on {device}{precision}{ranks} {where}into {run_dir}")
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
    except TrainingInterrupted:
        if ctx.is_main:
            writer.write_checkpoint()
        ctx.barrier()
        raise
    except DivergenceError as exc:
        last = writer.last_checkpoint_step
        kept = f"last good checkpoint: step {last}" if last is not None else "no checkpoint yet"
        raise DivergenceError(f"{exc}; {kept} in {run_dir / 'checkpoints'}") from None
    elapsed = time.time() - started
    steps = state.step - first_step
    summary = {
        "steps": state.step,
        "epochs": state.epoch,
        "images_seen": state.step * t.batch_size,
        "seconds": round(seconds_before + elapsed, 2),
        "images_per_second": round(steps * t.batch_size / max(elapsed, 1e-9), 1),
        "resumed_from": first_step if checkpoint is not None else None,
        "device": str(device),
        "precision": resolve_precision(t.precision, device),
        "step": step_fn.mode,  # "graph": replayed as a CUDA graph (training/graph.py)
        "hardware": hardware(device),
        "torch": torch.__version__,
        "infogan": __version__,
        "commit": source_commit(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if ctx.is_main:
        summary["processes"] = ctx.world_size
        (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    ctx.barrier()  # the other ranks return once rank 0's files are complete
    log(
        f"done: {state.step} step{'s' if state.step != 1 else ''}, {elapsed / 60:.1f} min "
        f"({summary['images_per_second']:.0f} images/s); grids in {run_dir / 'images'}"
    )
    return run_dir

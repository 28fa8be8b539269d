"""Reseed a starved or redundant code in a stopped run's checkpoint, to continue the run.

What ``train.cluster_reseed`` does during training, done once on a checkpoint: the run's
step-N checkpoint is copied into a new run directory (with its config and metrics), the
categorical codes are measured on the probe images training uses (the first 2,048
training digits and a restyled copy of each, in eval mode), and a starved or redundant
code (:func:`infogan.training.reseed.redundant_code`; with ``--force``, the least used
one) gets the most used code's weights (:func:`infogan.training.reseed.reseed_code`).
``infogan train --resume NEW_RUN`` then continues it. This is how the reseeded run of
docs/experiments.md was made:

    python benchmarks/reseed_checkpoint.py runs/val-restyle15-s0/seed-0 --step 1000 \\
        --noise-seed 1 --out runs/val-restyle15-s0-reseeded
    infogan train --resume runs/val-restyle15-s0-reseeded
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from _cli import refused
from infogan.api import load_model
from infogan.checkpoint import load_checkpoint, save_checkpoint
from infogan.data import default_data_dir, load_dataset
from infogan.errors import InfoGANError
from infogan.training.reseed import (
    PROBE_IMAGES,
    cross_view,
    halves_of,
    q_reading,
    redundant_code,
    reseed_code,
)


def reseed_run(
    run: Path, step: int, out: Path, *, data_dir: Path, force: bool, noise_seed: int | None = None
) -> str:
    """Write ``out``, a resumable copy of ``run`` at ``step`` with a starved or redundant
    code reseeded; one line saying what was done."""
    checkpoint = run / "checkpoints" / f"step_{step:06d}.pt"
    if not checkpoint.is_file():
        raise InfoGANError(f"{checkpoint}: no such checkpoint (is --step a checkpointed step?)")
    if out.exists():
        raise InfoGANError(f"{out}: already exists; choose a new --out")
    state = load_checkpoint(checkpoint)
    model = load_model(checkpoint)
    generator, discriminator = model.generator, model.discriminator
    config = model.config
    probe = load_dataset(config.data, data_dir, image_size=config.data.image_size)[:PROBE_IMAGES]
    reading = q_reading(discriminator, probe) if config.train.reseed_halves else None
    categories = None if reading is None else reading[1]
    usage, ratio = cross_view(discriminator, probe, seed=step, categories=categories)
    shares = [f"{share:.1%}" for share in usage.tolist()]
    found = redundant_code(usage, ratio)
    if found is None and force:
        found = int(usage.argmin()), int(usage.argmax()), "is the least used (--force)"
    if found is not None:
        small, big, why = found
        reseed_code(
            generator,
            discriminator,
            small,
            big,
            noise_dim=config.latent.noise_dim,
            seed=step if noise_seed is None else noise_seed,
            halves=None if reading is None else halves_of(*reading, big),
        )
        state["generator"] = generator.state_dict()
        state["discriminator"] = discriminator.state_dict()
        if "generator_average" in state:  # restarted from G, as a run's reseed does
            state["generator_average"] = {"weights": generator.state_dict(), "updates": 0}
        action = f"code {small} {why}; gave it the weights of code {big}"
    else:
        action = "no code is starved or redundant; copied unchanged (--force to reseed anyway)"
    try:
        (out / "checkpoints").mkdir(parents=True)
        for name in ("config.json", "metrics.csv", "run.json"):
            if (run / name).is_file():
                shutil.copy(run / name, out / name)
        save_checkpoint(state, out / "checkpoints" / "last.pt")
    except (OSError, InfoGANError) as exc:  # no half-made run left: --out works next time
        shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, InfoGANError):
            raise
        raise InfoGANError(f"{out}: cannot write the new run ({exc.strerror or exc})") from None
    return f"step {step}: codes' shares {' '.join(shares)}; {action}; resume with --resume {out}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run directory with step_N.pt checkpoints")
    parser.add_argument("--step", type=int, required=True, help="the checkpoint's step")
    parser.add_argument("--out", type=Path, required=True, help="the new run directory")
    parser.add_argument("--force", action="store_true", help="reseed even if none is starved")
    parser.add_argument(
        "--noise-seed", type=int, default=None, help="seed of the merge noise (default: the step)"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        line = reseed_run(
            args.run,
            args.step,
            args.out,
            data_dir=args.data_dir or default_data_dir(),
            force=args.force,
            noise_seed=args.noise_seed,
        )
    except InfoGANError as exc:
        return refused("reseed_checkpoint.py", exc)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

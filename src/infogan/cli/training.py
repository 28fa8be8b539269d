"""``infogan train`` and ``infogan compare``: options -> a validated config -> the library.

Each option that sets a config field names it (:data:`TRAIN_FLAGS`); ``--set`` reaches
any field and ``--config`` a JSON file of them. What a resume may change is derived from
the config (``infogan.config.RESUMABLE``), not listed here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from infogan.cli.common import add_data_dir, show_progress
from infogan.config import PRESETS, RESUMABLE, get_preset
from infogan.errors import ConfigError

#: ``infogan train``'s options that set a config field: (flag, SECTION.FIELD, type, help)
TRAIN_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    (
        "--dataset",
        "data.dataset",
        str,
        "mnist (default), fashion-mnist or folder:PATH (every PNG/JPEG under PATH)",
    ),
    (
        "--epochs",
        "train.epochs",
        int,
        "passes over the training images; without --max-steps this is the run's length "
        "(the step limit of the preset or --config is dropped)",
    ),
    (
        "--max-steps",
        "train.max_steps",
        int,
        "stop after this many iterations (with --epochs: whichever ends first)",
    ),
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
    ("--compile", "train.compile", bool, "torch.compile the networks (slower on CPUs)"),
)


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train an InfoGAN (or a plain GAN) and write grids, metrics and a checkpoint",
        description="Train a preset on MNIST, Fashion-MNIST or a folder of images. Writes "
        "RUN_DIR/config.json, metrics.csv (one row per iteration), "
        "images/{fixed,varying_c1,varying_c2}/STEP.png and checkpoints/last.pt. An option "
        "left out keeps the value of the preset (or of --config).",
    )
    presets = ", ".join(PRESETS)
    train.add_argument("--preset", default=None, help=f"named configuration: {presets} (seed64)")
    train.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE.json",
        help="a run configuration as JSON (a run's config.json, or only the sections and "
        "fields to change), applied over the preset: the file's 'preset' without --preset, "
        "else --preset (a file naming another preset is refused)",
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
    add_data_dir(train)


def add_report_parsers(sub: argparse._SubParsersAction) -> None:
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
        "RUN_DIR/infogan/report.html shows the comparison. Ctrl-C or SIGTERM saves the arm in "
        "training and exits with status 130; the same command again continues: a finished arm "
        "is kept, a stopped one resumes from its checkpoint (--overwrite starts both anew). "
        "An option left out keeps the preset's value.",
    )
    compare.add_argument(
        "--preset", default="quick64", help=f"named configuration: {', '.join(PRESETS)} (quick64)"
    )
    compare.add_argument("--run-dir", type=Path, default=None, help="default: runs/compare-PRESET")
    compare.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the 60,000 digits; without --max-steps the arms' length",
    )
    compare.add_argument(
        "--max-steps", type=int, default=None, help="iterations of each arm (the first to end)"
    )
    compare.add_argument("--seed", type=int, default=None, help="seed of both arms")
    compare.add_argument("--batch-size", type=int, default=None, help="images per step")
    compare.add_argument("--sample-every", type=int, default=None, help="grids every N iterations")
    compare.add_argument(
        "--device", default=None, help="auto (CUDA if present), cpu, cuda or cuda:N"
    )
    compare.add_argument(
        "--overwrite", action="store_true", help="train both arms anew, replacing earlier ones"
    )
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_data_dir(compare)


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
    """The preset (--preset, else the --config file's, else seed64), then --config's
    sections, then the options, validated. --epochs without --max-steps is the length."""
    from infogan.config import SEED64
    from infogan.config.files import config_from_file

    config = get_preset(args.preset) if args.preset else SEED64
    from_file = None
    if args.config is not None:
        config = from_file = config_from_file(args.config, args.preset)
    if "train.epochs" in settings and "train.max_steps" not in settings:
        settings = {**settings, "train.max_steps": None}  # the length is in epochs
    try:
        return config.with_settings(settings).validate()
    except ConfigError as exc:
        if from_file is not None and str(exc) == _problem(from_file):
            raise ConfigError(f"{args.config}: {exc}") from None  # the file's own value
        raise


def _problem(config) -> str | None:
    """What validating ``config`` refuses, or None."""
    try:
        config.validate()
    except ConfigError as exc:
        return str(exc)
    return None


def cmd_train(args: argparse.Namespace) -> None:
    from infogan.training.loop import TrainingInterrupted
    from infogan.training.run import resume, train

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    settings, given = _settings(args)
    try:
        if args.resume is not None:
            fixed = [given[k] for k in settings if k not in RESUMABLE]
            fixed += [
                f"--{n.replace('_', '-')}"
                for n in ("preset", "config", "run_dir")
                if getattr(args, n)
            ]
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
                progress=show_progress(args),
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
            progress=show_progress(args),
            log=log,
            tensorboard=args.tensorboard,
        )
        _report_after_training(args, run_dir, log)
    except TrainingInterrupted as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun, said once
            log(
                f"infogan: stopped by {exc.signal_name} at step {exc.step}; checkpoint saved; "
                f"continue with: {_resume_command(run_dir, args.data_dir)}"
            )
        raise SystemExit(130) from None


def _resume_command(run_dir: Path, data_dir: Path | None) -> str:
    """``infogan train --resume RUN_DIR`` (with the --data-dir the run was given), quoted."""
    words = ["infogan", "train", "--resume", str(run_dir)]
    if data_dir is not None:
        words += ["--data-dir", str(data_dir)]
    return shlex.join(words)


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


def cmd_report(args: argparse.Namespace) -> None:
    from infogan.report import write_report

    report = write_report(args.run, baseline=args.baseline)
    print(
        f"wrote {report.html} ({len(report.figures)} figures in {report.html.parent / 'figures'})"
    )
    if report.evaluation:  # what infogan eval found, as its last line says it
        print(evaluation_summary(report.evaluation, args.run))


def evaluation_summary(evaluation: dict, run: Path) -> str:
    """The last line of ``infogan eval`` for a run's ``eval.json``, or why there is none."""
    from infogan.evaluate.table import summary_line

    try:
        return summary_line(evaluation)
    except (KeyError, TypeError, ValueError):
        return f"{run / 'eval.json'}: incomplete; run infogan eval {run} again"


def cmd_compare(args: argparse.Namespace) -> None:
    from infogan.report import train_comparison
    from infogan.training.loop import TrainingInterrupted

    config = (
        get_preset(args.preset)
        .with_length(epochs=args.epochs, max_steps=args.max_steps)
        .with_train(
            seed=args.seed,
            batch_size=args.batch_size,
            sample_every=args.sample_every,
            device=args.device,
        )
        .validate()
    )
    run_dir = args.run_dir or Path("runs") / f"compare-{args.preset}"
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    try:
        result = train_comparison(
            config,
            run_dir,
            data_dir=args.data_dir,
            overwrite=args.overwrite,
            progress=show_progress(args),
            log=log,
        )
    except TrainingInterrupted as exc:
        log(_compare_stopped(exc))
        raise SystemExit(130) from None
    print(f"wrote {result.report.html} (GAN vs InfoGAN)")


def _compare_stopped(exc) -> str:
    """What to do after a signal stopped ``infogan compare`` (``exc``: TrainingInterrupted)."""
    saved = (Path(exc.run_dir) / "checkpoints" / "last.pt").is_file()
    return (
        f"infogan: stopped by {exc.signal_name} at step {exc.step} in {exc.run_dir}"
        f"{'; checkpoint saved' if saved else ''}; run the same infogan compare command "
        "again to continue"
    )

"""The commands that use a trained model: ``generate``, ``serve``, ``sample``, ``eval``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infogan.cli.common import add_data_dir
from infogan.errors import ConfigError

#: `generate --vary`'s default number of rows, as in a run's varying grids
SWEEP_ROWS = 10


def add_model_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run",
        type=Path,
        nargs="?",
        metavar="MODEL",
        help="a run directory, a checkpoint file or an exported model folder",
    )
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="use the model that ships with infogan (no training needed)",
    )


def model_source(args: argparse.Namespace) -> Path:
    """The model a command was given: MODEL, or the shipped one with --pretrained."""
    from infogan.api import PRETRAINED

    if args.pretrained and args.run is not None:
        raise ConfigError(f"give MODEL ({args.run}) or --pretrained, not both")
    if args.pretrained:
        return PRETRAINED
    if args.run is None:
        raise ConfigError(
            f"{args.command} needs a model: a run directory, checkpoint or exported folder, "
            "or --pretrained"
        )
    return args.run


def add_model_parsers(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser(
        "generate",
        help="generate digits from chosen codes with a trained run",
        description="Write a PNG grid of generated digits: one row per noise draw, one column "
        "per chosen category.",
    )
    add_model_source(gen)
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
    gen.add_argument(
        "--rows",
        type=int,
        default=None,
        help="number of rows: noise draws (default 1), or with --vary the sweep's steps "
        f"(default {SWEEP_ROWS})",
    )
    gen.add_argument("--seed", type=int, default=0, help="seed of the noise")

    serve = sub.add_parser(
        "serve",
        help="explore a trained run's latent code in the browser",
        description="Serve the latent explorer: a page with buttons for the categorical code, "
        "sliders for c1 and c2 and a noise seed, plus its JSON/PNG API (/api/info, "
        "/api/generate, /api/grid). Ctrl-C stops it.",
    )
    add_model_source(serve)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)"
    )
    add_eval_parsers(sub)


def add_eval_parsers(sub: argparse._SubParsersAction) -> None:
    sample = sub.add_parser(
        "sample",
        help="draw digits from a trained run's prior into an .npz file",
        description="Generate N digits for each value of the categorical code, with fresh noise "
        "and continuous codes from the prior. The .npz holds images (float32, (count, 1, H, W), "
        "in [-1, 1]), categories (int64), continuous (float32, (count, 2)) and noise.",
    )
    add_model_source(sample)
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
        "H(c), (5) the rotation and stroke width each continuous code controls. The "
        "classifier is the one that ships with infogan, so that everyone's numbers compare.",
    )
    add_model_source(ev)
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
    ev.add_argument(
        "--classifier",
        type=Path,
        default=None,
        help="judge with this file from infogan train-classifier instead of the shipped one",
    )
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_dir(ev)


def cmd_generate(args: argparse.Namespace) -> None:
    import math

    import torch

    from infogan.api import load_model
    from infogan.grids import save_grid

    source = model_source(args)
    model = load_model(source)
    k = model.config.latent.num_categories
    if args.categories == "all":
        cats = list(range(k))
    elif args.categories == "by-digit":
        cats = _codes_by_digit(source, k)
    else:
        try:
            cats = [int(c) for c in args.categories.split(",")]
        except ValueError:
            raise ConfigError(
                f"--categories must be comma-separated integers, got {args.categories!r}"
            ) from None
        if not cats or any(not 0 <= c < k for c in cats):
            raise ConfigError(f"--categories must be in [0, {k - 1}], got {args.categories!r}")
    rows = args.rows if args.rows is not None else (SWEEP_ROWS if args.vary else 1)
    if rows < 1 or rows > 100:
        raise ConfigError(f"--rows must be in [1, 100], got {rows}")
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {args.out}")
    for name, value in (("c1", args.c1), ("c2", args.c2)):
        if not math.isfinite(value):
            raise ConfigError(f"--{name} must be a finite number, got {value}")
    gen = torch.Generator().manual_seed(args.seed)
    noise = torch.randn(rows, model.config.latent.noise_dim, generator=gen)
    row_codes = torch.tensor([[args.c1, args.c2]]).repeat(rows, 1)
    if args.vary is not None:
        which = int(args.vary[1]) - 1
        if which >= model.config.latent.num_continuous:
            raise ConfigError(f"--vary {args.vary}: this run has no such continuous code")
        noise.zero_()
        row_codes[:, which] = torch.linspace(-1, 1, rows) if rows > 1 else 0.0
    noise = noise.repeat_interleave(len(cats), dim=0)
    categories = torch.tensor(cats).repeat(rows)
    continuous = row_codes.repeat_interleave(len(cats), dim=0)
    images = model.generate(
        categories, continuous[:, : model.config.latent.num_continuous], noise=noise
    )
    save_grid(images, args.out, nrow=len(cats))
    print(f"wrote {args.out} ({rows}x{len(cats)} digits)")


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


def cmd_serve(args: argparse.Namespace) -> None:
    from infogan.web import serve

    serve(
        model_source(args), host=args.host, port=args.port, log=lambda msg: print(msg, flush=True)
    )
    print("infogan: server stopped", file=sys.stderr)


def cmd_sample(args: argparse.Namespace) -> None:
    from infogan.api import load_model
    from infogan.evaluate import sample_prior, save_samples
    from infogan.evaluate.sampling import use_channels_last

    if args.out.suffix.lower() != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {args.out}")
    model = use_channels_last(load_model(model_source(args)))
    samples = sample_prior(model, per_category=args.per_category, seed=args.seed, progress=True)
    save_samples(samples, args.out)
    print(f"wrote {args.out} ({len(samples.categories):,} digits, {args.per_category:,} per code)")


def cmd_eval(args: argparse.Namespace) -> None:
    from infogan.evaluate import evaluate_run, format_table, to_json

    result, path = evaluate_run(
        model_source(args),
        data_dir=args.data_dir,
        per_category=args.per_category,
        test_digits=args.test_digits,
        sweep_draws=args.sweep_draws,
        sweep_values=args.sweep_values,
        seed=args.seed,
        classifier=args.classifier,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if args.json:
        print(to_json(result), end="")
    else:
        print(format_table(result))
    if path is not None:
        print(f"wrote {path}", file=sys.stderr)

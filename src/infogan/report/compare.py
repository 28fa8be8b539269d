"""The GAN-vs-InfoGAN comparison: both arms trained at the same budget, then reported.

The two arms share everything (preset, seed, so initial weights, data order,
sampled codes and the fixed noise, batch size, length) except the information
term and what else trains Q or ties G to the codes (:func:`plain_gan`).

The same comparison run again into the same folder continues it: an arm finished
earlier is kept, an arm stopped after a checkpoint resumes from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from infogan.config import RunConfig
from infogan.data import resolve_data_config
from infogan.distributed import SINGLE
from infogan.errors import ConfigError, RunDirError
from infogan.report.build import Report, write_report
from infogan.training.preflight import NothingLeftToTrain, load_images
from infogan.training.run import resume, train
from infogan.training.rundir import check_run_dir, is_run_dir


@dataclass(frozen=True)
class Comparison:
    infogan: Path  # RUN_DIR/infogan
    gan: Path  # RUN_DIR/gan
    report: Report  # the InfoGAN arm's report, with the GAN as its baseline


def plain_gan(config: RunConfig) -> RunConfig:
    """``config``'s plain GAN: the same networks, rates and budget with nothing that trains
    Q or ties G to the codes: no information term (lambda_cat = lambda_cont = 0, so no
    readings), no clustering term with its reseeds and over-clustering head, no turned
    pairs."""
    gan = config.with_train(
        lambda_cat=0.0,
        lambda_cont=0.0,
        lambda_cluster=0.0,
        cluster_reseed=0,
        reseed_halves=False,
        lambda_turn_pair=0.0,
        readings=(),
    ).with_model(overcluster=0)
    return gan.validate()


def train_comparison(
    config: RunConfig,
    run_dir: Path | str,
    *,
    data_dir: Path | str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    images: torch.Tensor | None = None,
) -> Comparison:
    """Train ``config`` and its plain-GAN twin into ``run_dir/{infogan,gan}``; report both.

    ``images`` replaces the dataset, as in :func:`infogan.training.run.train`; without it the
    config's dataset (with its holdout) is loaded once for both arms.
    """
    config.validate()
    if config.train.is_plain_gan:
        raise ConfigError(
            "compare needs an InfoGAN arm: --lambda-cat or --lambda-cont must be above 0"
        )
    run_dir = Path(run_dir)
    arms = {"gan": plain_gan(config), "infogan": config}
    earlier = {
        name: None if overwrite else _earlier_arm(run_dir / name, arm, images)
        for name, arm in arms.items()
    }
    for name in arms:  # refuse before training either arm, not after the first
        if earlier[name] is None and not overwrite and is_run_dir(run_dir / name):
            raise RunDirError(
                f"{run_dir / name}: holds a run with other settings than this comparison's; "
                "the same options continue it, --overwrite trains both arms anew"
            )
        if earlier[name] is None:
            check_run_dir(run_dir / name, overwrite=overwrite)
    if images is None and set(earlier.values()) != {"finished"}:
        images = load_images(resolve_data_config(config), data_dir, ctx=SINGLE, log=log)
    for name, arm in arms.items():
        arm_dir = run_dir / name
        if earlier[name] == "finished":
            log(f"{arm_dir}: finished by an earlier run of this comparison; kept")
            continue
        common = {"data_dir": data_dir, "progress": progress, "log": log, "images": images}
        if earlier[name] == "stopped":
            log(f"{arm_dir}: continuing from its checkpoint")
            try:
                resume(arm_dir, **common)
            except NothingLeftToTrain:  # stopped after its last step's checkpoint
                log(f"{arm_dir}: its checkpoint is at its full length already; kept")
        else:
            train(arm, arm_dir, overwrite=overwrite, **common)
    write_report(run_dir / "gan", log=log)
    report = write_report(run_dir / "infogan", baseline=run_dir / "gan", log=log)
    return Comparison(infogan=run_dir / "infogan", gan=run_dir / "gan", report=report)


def _earlier_arm(arm_dir: Path, arm: RunConfig, images: torch.Tensor | None) -> str | None:
    """ "finished" or "stopped" (with a checkpoint to resume) where ``arm_dir`` holds this
    very arm, trained by an earlier run of the same comparison; None otherwise."""
    try:
        saved = RunConfig.from_dict(json.loads((arm_dir / "config.json").read_text()))
    except (OSError, ValueError, ConfigError):
        return None
    if saved != resolve_data_config(arm, images=images):
        return None
    if (arm_dir / "run.json").is_file():
        return "finished"
    if (arm_dir / "checkpoints" / "last.pt").is_file():
        return "stopped"
    return None

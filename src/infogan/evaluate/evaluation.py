"""The five metric groups of a trained model, and the ``eval.json`` that records them.

1. Unsupervised test accuracy: Q's categorical code on the real test digits,
   matched one-to-one to the labels.
2. Generated-category accuracy: the dataset's classifier's labels of generated digits
   against the code that produced them, matched one-to-one; purity per code.
3. Sample quality: Fréchet distance in the classifier's feature space between
   generated and real test digits, and the classifier's inception-score analogue.
4. Information bound: L_I for the categorical code, beside H(c).
5. Continuous codes: Spearman correlation of each swept code with the digits'
   rotation and stroke width, and the factor each code controls.

Real digits go through the same resampling as the training data (28 -> model
resolution, then -> 28 for the classifier), so the comparison with generated
digits is like for like.

"Digits" stands for the run's labelled dataset: MNIST, or Fashion-MNIST with its
own classifier, where the categorical code is matched to the ten garment
classes. A run on a folder of images has no labels to measure against, and is
refused with a one-line error.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import infogan.evaluate.factors as factors
import infogan.evaluate.metrics as metrics
from infogan.api import InfoGANModel, find_checkpoint, load_model
from infogan.data import (
    IdxDataset,
    default_data_dir,
    fetch_dataset,
    load_idx_arrays,
    parse_dataset,
    to_training_tensor,
)
from infogan.errors import ConfigError, DataError, RunDirError
from infogan.evaljson import eval_json_path, run_dir_of
from infogan.evaluate.classifier import NUM_CLASSES, get_classifier, judge
from infogan.evaluate.sampling import (
    check_per_category,
    check_seed,
    check_sweep,
    sample_prior,
    sweep_code,
    use_channels_last,
)
from infogan.fileio import atomic_open

FORMAT = "infogan-eval"
FORMAT_VERSION = 1
Q_BATCH = 500

Log = Callable[[str], None]


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"--{name} must be a positive integer, got {value}")


def q_logits(model: InfoGANModel, images: torch.Tensor, *, progress: bool = False) -> np.ndarray:
    """Q's categorical logits (N, K) for (N, 1, H, W) images, in batches."""
    out = []
    with tqdm(
        total=len(images), desc="reading Q", unit="img", disable=not progress, leave=False
    ) as bar:
        for start in range(0, len(images), Q_BATCH):
            logits, _cont = model.q_predict(images[start : start + Q_BATCH])
            out.append(logits.double().numpy())
            bar.update(min(Q_BATCH, len(images) - start))
    return np.concatenate(out)


def _real_digits(
    dataset: IdxDataset, data_dir: Path, split: str, size: int, count: int | None = None
) -> tuple[torch.Tensor, np.ndarray]:
    """(images (N, 1, size, size) in [-1, 1], labels (N,)) as the model's training sees them."""
    images, labels = load_idx_arrays(dataset, data_dir, split)
    if count is not None:
        if count > len(images):
            raise ConfigError(
                f"--test-digits must be at most {len(images):,}, the size of the {split} set; "
                f"got {count:,}"
            )
        images, labels = images[:count], labels[:count]
    return to_training_tensor(images, size), labels


def continuous_code_report(sweep_images: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """Spearman rho of one swept code with each factor, the change it makes, its factor.

    ``sweep_images`` is (D, V, 1, H, W): D draws swept over the V ``values``.
    """
    draws, n_values = sweep_images.shape[:2]
    flat = sweep_images.reshape(draws * n_values, *sweep_images.shape[2:])
    measured = factors.measure_factors(flat)
    code_grid = np.broadcast_to(values, (draws, n_values))
    rho, change = {}, {}
    for name, per_image in measured.items():
        grid = per_image.reshape(draws, n_values)
        rho[name] = factors.sweep_correlation(code_grid, grid)
        change[name] = factors.mean_change(code_grid, grid)
    return {"spearman": rho, "change": change, "controls": factors.controlled_factor(rho)}


def labelled_dataset(name: str) -> IdxDataset:
    """The labelled dataset a run trained on; :class:`DataError` for a folder of images."""
    dataset = parse_dataset(name)
    if not isinstance(dataset, IdxDataset):
        raise DataError(
            f"eval needs labelled test images (mnist or fashion-mnist); this run "
            f"trained on {name}, which has no labels to match the categorical code against"
        )
    return dataset


def evaluate(
    model: InfoGANModel,
    *,
    data_dir: Path | str | None = None,
    per_category: int = 1000,
    test_digits: int | None = None,
    sweep_draws: int = 100,
    sweep_values: int = 9,
    seed: int = 0,
    classifier: Path | str | None = None,
    progress: bool = True,
    log: Log | None = None,
) -> dict[str, Any]:
    """Every metric group of ``model``, as a JSON-ready dict (see the module docstring).

    The judge of groups 2 and 3 is the package's classifier of the run's dataset, or the
    file ``classifier`` (from ``infogan train-classifier``).

    ``test_digits`` limits the real test digits to the first N (default: all 10,000);
    ``per_category`` digits per categorical code serve groups 2 to 4. The model's nets
    are switched to channels-last memory (:func:`use_channels_last`) for speed.
    """
    log = log or (lambda _msg: None)
    _positive("per-category", per_category)
    check_per_category(per_category)
    if test_digits is not None:
        _positive("test-digits", test_digits)
    _positive("sweep-draws", sweep_draws)
    check_seed(seed)
    if not isinstance(sweep_values, int) or sweep_values < 2:
        raise ConfigError(f"--sweep-values must be an integer >= 2, got {sweep_values}")
    check_sweep(sweep_draws, sweep_values)
    started = time.perf_counter()
    lat = model.config.latent
    size = model.config.data.image_size
    dataset = labelled_dataset(model.config.data.dataset)
    use_channels_last(model)

    judge_net = get_classifier(dataset, path=classifier)  # a bad --classifier before any download
    data_dir = fetch_dataset(dataset, data_dir if data_dir is not None else default_data_dir())
    test_images, test_labels = _real_digits(dataset, data_dir, "test", size, count=test_digits)

    # 1. Q's categorical code on real test digits
    items = "digits" if dataset.name == "mnist" else "images"
    log(f"1/5 reading Q's code on {len(test_images):,} test {items}")
    q_test = q_logits(model, test_images, progress=progress).argmax(axis=1)
    unsup_acc, category_to_digit, unsup_conf = metrics.hungarian_accuracy(
        q_test, test_labels, num_codes=lat.num_categories, num_labels=NUM_CLASSES
    )

    # 2. and 3. the classifier on generated digits, against real ones
    log(f"2/5 generating {per_category:,} {items} per categorical code")
    samples = sample_prior(model, per_category=per_category, seed=seed, progress=progress)
    gen_images = torch.from_numpy(samples.images)
    generated = judge(judge_net.model, gen_images)
    real = judge(judge_net.model, test_images)
    gen_acc, gen_mapping, gen_conf = metrics.hungarian_accuracy(
        samples.categories, generated.labels, num_codes=lat.num_categories, num_labels=NUM_CLASSES
    )
    agreement_with_q = metrics.matched_accuracy(gen_conf, category_to_digit)

    log("3/5 sample quality in the classifier's feature space")
    real_stats = metrics.feature_statistics(real.features)
    fid = metrics.frechet_distance(*metrics.feature_statistics(generated.features), *real_stats)
    train_ref, _ = _real_digits(dataset, data_dir, "train", size, count=len(test_images))
    train_feats = judge(judge_net.model, train_ref).features
    fid_real = metrics.frechet_distance(*metrics.feature_statistics(train_feats), *real_stats)

    # 4. the information bound, on the same generated digits
    log("4/5 the information bound L_I")
    q_gen = q_logits(model, gen_images, progress=progress)
    info_bound = metrics.information_bound(q_gen, samples.categories)
    entropy = metrics.code_entropy(samples.categories, lat.num_categories)

    # 5. continuous codes
    continuous = []
    for which in range(lat.num_continuous):
        log(f"5/5 sweeping c{which + 1} over {sweep_draws} noise draws x {sweep_values} values")
        sweep = sweep_code(
            model,
            which,
            draws=sweep_draws,
            values=sweep_values,
            seed=seed + 1 + which,
            progress=progress,
        )
        continuous.append(
            {"code": f"c{which + 1}", **continuous_code_report(sweep.images, sweep.values)}
        )

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "step": model.step,
        "preset": model.config.preset,
        "dataset": dataset.name,
        "image_size": size,
        "seed": seed,
        "counts": {
            "test_digits": len(test_images),
            "per_category": per_category,
            "generated": len(samples.categories),
            "reference_train_digits": len(train_ref),
            "sweep_draws": sweep_draws,
            "sweep_values": sweep_values,
        },
        "classifier": {
            "shipped": judge_net.shipped,
            "file": judge_net.path.name if judge_net.shipped else str(judge_net.path),
            "digest": judge_net.digest,
            "test_accuracy": judge_net.test_accuracy,
        },
        "unsupervised_accuracy": unsup_acc,
        "confusion_matrix": unsup_conf.tolist(),
        "category_to_digit": category_to_digit.tolist(),
        "generated_accuracy": gen_acc,
        "generated_accuracy_q_matching": agreement_with_q,
        "generated_confusion_matrix": gen_conf.tolist(),
        "generated_category_to_digit": gen_mapping.tolist(),
        "purity": metrics.purity(gen_conf).tolist(),
        "frechet_distance": fid,
        "frechet_distance_train_vs_test": fid_real,
        "inception_score": metrics.inception_score(generated.probs),
        "inception_score_test_digits": metrics.inception_score(real.probs),
        "inception_score_max": float(NUM_CLASSES),
        "info_bound_nats": info_bound,
        "entropy_nats": entropy,
        "continuous": continuous,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _json_ready(value: Any) -> Any:
    """NaN and infinities become null (JSON has no NaN); numpy scalars become numbers."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(_json_ready(result), indent=2, allow_nan=False) + "\n"


def write_eval_json(result: dict[str, Any], path: Path | str) -> Path:
    """Write ``result`` as JSON, atomically."""
    path = Path(path)
    text = to_json(result)
    try:
        with atomic_open(path, "w") as fh:
            fh.write(text)
    except OSError as exc:
        raise RunDirError(f"{path.parent}: cannot write {path.name} ({exc.strerror})") from None
    return path


def evaluate_run(
    run_or_checkpoint: Path | str, **options: Any
) -> tuple[dict[str, Any], Path | None]:
    """Load a run, checkpoint or exported folder, evaluate it and write its ``eval.json``.

    ``options`` are those of :func:`evaluate`. Returns the result and the JSON's path;
    None for the model that ships with the package, whose folder is not written to. An
    exported folder's card and figures are brought up to date with the result.
    """
    from infogan.api import PRETRAINED
    from infogan.export import is_exported, refresh_card

    source = Path(run_or_checkpoint)
    exported = is_exported(source)
    if not exported:
        source = find_checkpoint(source)
    model = load_model(source)
    result = {"checkpoint": str(source), **evaluate(model, **options)}
    if Path(run_or_checkpoint).resolve() == PRETRAINED.resolve():
        return result, None
    path = write_eval_json(result, eval_json_path(run_or_checkpoint))
    if exported:
        refresh_card(run_dir_of(source), model, json.loads(path.read_text(encoding="utf-8")))
    return result, path

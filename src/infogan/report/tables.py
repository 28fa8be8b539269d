"""The rows of the report's tables: values written as config.json and eval.json mean them.

:func:`flatten` turns a nested config or eval.json into (dotted key, text) rows,
:func:`run_rows` describes a run's budget and machine, and :func:`evaluation_headline`
puts each of eval.json's headline numbers beside the reference that gives it a scale
(the real digits' own score, H(c), the most an inception score can be).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infogan.report.rundata import RunData

#: training images of the IDX datasets (before --holdout): the length of an epoch
TRAIN_IMAGES = {"mnist": 60_000, "fashion-mnist": 60_000}


def fmt(value: Any) -> str:
    """A leaf value as config.json writes it (true, false, null); empty lists: "none"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if len(value) <= 12 and all(isinstance(v, int | float) for v in value):
            return ", ".join(fmt(v) for v in value)
        return f"[{len(value)} values]"
    return str(value)


def flatten(raw: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, text) for every leaf; lists and tuples of objects are numbered."""
    for key, value in raw.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        elif isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                yield from flatten(item, f"{prefix}{key}[{i}].")
        else:
            yield f"{prefix}{key}", fmt(value)


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def epochs_trained(run: RunData) -> str:
    """ "0.43 of 1 configured": the passes over the training images the run made."""
    t, data = run.config.train, run.config.data
    steps = int(run.summary.get("steps", run.steps[-1]))
    size = TRAIN_IMAGES.get(data.dataset)
    if size is None:  # a folder: its size is not in the run directory
        return f"epoch {run.summary.get('epochs', '?')} begun, of {t.epochs} configured"
    per_epoch = max(1, (size - data.holdout) // t.batch_size)  # full batches only
    done = steps / per_epoch
    if abs(done - round(done)) < 0.005 and done >= 1:
        shown = f"{done:.0f}"
    else:  # two significant digits below one epoch: 0.43, 0.0053
        shown = f"{done:.2g}" if done < 1 else f"{done:.2f}"
    return f"{shown} of {t.epochs} configured"


def run_rows(run: RunData) -> list[tuple[str, str]]:
    s = run.summary
    t = run.config.train
    rows = [
        ("preset", run.config.preset),
        ("dataset", run.config.data.dataset),
        (
            "objective",
            run.kind + (f" (lambda_cat {t.lambda_cat:g}, lambda_cont {t.lambda_cont:g})"),
        ),
        ("iterations logged", f"{int(run.steps[-1]):,}"),
        ("batch size", str(t.batch_size)),
    ]
    if s:
        rows += [
            ("epochs trained", epochs_trained(run)),
            ("images seen", f"{s.get('images_seen', 0):,}"),
            ("duration", duration(float(s.get("seconds", 0.0)))),
            ("throughput", f"{fmt(s.get('images_per_second'))} images/s"),
            ("device", fmt(s.get("device"))),
            ("hardware", fmt(s.get("hardware"))),
            ("torch / infogan", f"{s.get('torch')} / {s.get('infogan')}"),
            ("finished at", fmt(s.get("finished_at"))),
        ]
    return rows


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else fmt(value)


def evaluation_headline(result: dict[str, Any]) -> list[tuple[str, str]]:
    """eval.json's headline numbers, each with its scale: accuracies in percent, the
    Fréchet distance beside real digits' own, the inception score "of 10" beside the test
    digits', L_I beside H(c), and what each continuous code controls with its rho."""
    real = "digits" if result.get("dataset", "mnist") == "mnist" else "images"
    rows = []
    for key, label in (
        ("unsupervised_accuracy", f"unsupervised test accuracy (Q's code on test {real})"),
        ("generated_accuracy", "generated-category accuracy (classifier, matched)"),
        ("generated_accuracy_q_matching", f"generated {real} that follow Q's matching"),
    ):
        if key in result:
            rows.append((label, _number(result[key], ".1%")))
    if "frechet_distance" in result:
        text = _number(result["frechet_distance"], ".2f")
        if "frechet_distance_train_vs_test" in result:
            reference = _number(result["frechet_distance_train_vs_test"], ".2f")
            text += f" (real training vs test {real}: {reference}; lower is better)"
        rows.append((f"Fréchet distance to test {real} (classifier features)", text))
    if "inception_score" in result:
        most = result.get("inception_score_max", 10)
        text = f"{_number(result['inception_score'], '.2f')} of {_number(most, 'g')}"
        if "inception_score_test_digits" in result:
            text += f" (real test {real}: {_number(result['inception_score_test_digits'], '.2f')})"
        rows.append(("inception-score analogue", text))
    if "info_bound_nats" in result:
        text = _number(result["info_bound_nats"], ".3f")
        if "entropy_nats" in result:
            text += f" of at most H(c) = {_number(result['entropy_nats'], '.3f')}"
        rows.append(("information bound L_I (nats)", text))
    for code in result.get("continuous", []):
        if isinstance(code, dict) and "code" in code and "controls" in code:
            rows.append((f"{code['code']} controls", _controls(code)))
    return rows


def _controls(code: dict[str, Any]) -> str:
    """ "rotation (rho +0.76)"; "no clear factor (rho rotation +0.03, width -0.10)"."""
    rho = code.get("spearman")
    rho = rho if isinstance(rho, dict) else {}
    factor = code["controls"]
    if factor in rho:
        return f"{factor} (rho {_number(rho[factor], '+.2f')})"
    detail = ", ".join(f"{name} {_number(v, '+.2f')}" for name, v in rho.items())
    name = "no clear factor" if factor == "none" else str(factor)
    return name + (f" (rho {detail})" if detail else "")

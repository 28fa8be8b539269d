"""Honest metrics of a trained InfoGAN: the project's MNIST classifier and five metric groups.

Public API::

    from infogan import load_model
    from infogan.evaluate import evaluate, format_table
    result = evaluate(load_model("runs/quick64"), per_category=200)
    print(format_table(result))

``infogan eval`` runs :func:`evaluate_run`, which also writes ``RUN_DIR/eval.json``;
``infogan sample`` runs :func:`sample_prior` and :func:`save_samples`.
"""

from infogan.evaluate.classifier import MnistClassifier, get_classifier, judge
from infogan.evaluate.evaluation import (
    eval_json_path,
    evaluate,
    evaluate_run,
    to_json,
    write_eval_json,
)
from infogan.evaluate.sampling import Samples, sample_prior, save_samples, sweep_code
from infogan.evaluate.table import format_table

__all__ = [
    "MnistClassifier",
    "Samples",
    "eval_json_path",
    "evaluate",
    "evaluate_run",
    "format_table",
    "get_classifier",
    "judge",
    "sample_prior",
    "save_samples",
    "sweep_code",
    "to_json",
    "write_eval_json",
]

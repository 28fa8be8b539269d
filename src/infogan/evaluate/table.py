"""The plain-text table ``infogan eval`` prints: the five metric groups of one evaluation."""

from __future__ import annotations

import math
from typing import Any

from infogan.data import IDX_DATASETS

DIRECTIONS = {
    "rotation": ("clockwise", "counter-clockwise"),
    "width": ("thinner", "thicker"),
}


def _num(value: float | None, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def _percent(share: float | None) -> str:
    """A share as a percentage to 0.1, rounded as the table's three decimals round it
    (1911 of 2000: 0.956 and 95.6%, where 100 * 0.9555 alone would print 95.5%)."""
    return "n/a" if share is None or not math.isfinite(share) else f"{100 * round(share, 3):.1f}%"


def _matrix(rows: list[list[int]]) -> list[str]:
    """The confusion matrix, a row per categorical code ("code 3"; c1, c2 are the
    continuous codes), a column per class."""
    width = max(5, *(len(str(v)) + 1 for row in rows for v in row))
    labels = [f"  code {k}" for k in range(len(rows))]
    pad = max(len(label) for label in labels) + 1
    head = " " * pad + "".join(f"{d:>{width}}" for d in range(len(rows[0])))
    return [head] + [
        f"{label:<{pad}}" + "".join(f"{v:>{width}}" for v in row)
        for label, row in zip(labels, rows, strict=True)
    ]


def _controls(code: dict[str, Any]) -> str:
    factor = code["controls"]
    if factor == "none":
        return "no clear factor"
    rho = code["spearman"][factor]
    lower, higher = DIRECTIONS.get(factor, ("less", "more"))
    return f"{factor} ({higher if rho > 0 else lower} as {code['code']} grows)"


def _words(result: dict[str, Any]) -> tuple[str, str, str]:
    """The dataset's title, and what one of its classes and its images are called:
    ("MNIST", "digit", "digits"), or e.g. ("Fashion-MNIST", "class", "images")."""
    dataset = result.get("dataset", "mnist")  # results written before datasets were a choice
    known = IDX_DATASETS.get(dataset)
    title = known.title if known is not None else dataset
    return (title, "digit", "digits") if dataset == "mnist" else (title, "class", "images")


def format_table(result: dict[str, Any]) -> str:
    """Human-readable summary of an :func:`~infogan.evaluate.evaluate` result."""
    counts = result["counts"]
    clf = result["classifier"]
    k = len(result["category_to_digit"])
    title, noun, items = _words(result)
    known = IDX_DATASETS.get(result.get("dataset", "mnist"))
    legend = []
    if noun != "digit" and known is not None:
        names = ", ".join(f"{i} {name}" for i, name in enumerate(known.classes))
        legend = [f"{title}'s classes: {names}"]
    out = [
        f"checkpoint {result.get('checkpoint', '?')} ({result['preset']}, {title}, step "
        f"{result['step']:,}, {result['image_size']}x{result['image_size']})",
        f"classifier: {title} CNN "
        f"{'shipped with infogan' if clf.get('shipped', True) else 'from ' + str(clf.get('file'))}"
        f", test accuracy {_num(clf['test_accuracy'], '.2%')}",
        *legend,
        "",
        f"1. Unsupervised test accuracy (Q's code on {counts['test_digits']:,} test {items}, "
        "Hungarian-matched)",
        f"   accuracy          {_num(result['unsupervised_accuracy'])}",
        f"   code -> {noun:<10}"
        + "  ".join(f"{i}->{d}" for i, d in enumerate(result["category_to_digit"])),
        f"   confusion matrix (rows: code, columns: true {noun})",
        *("   " + line for line in _matrix(result["confusion_matrix"])),
        "",
        f"2. Generated-category accuracy (classifier on {counts['generated']:,} generated "
        f"{items}, {counts['per_category']:,} per code)",
        f"   accuracy          {_num(result['generated_accuracy'])}   (under group 1's "
        f"code -> {noun} matching: {_num(result['generated_accuracy_q_matching'])})",
        "   code          " + "".join(f"{i:>6}" for i in range(k)),
        f"   matched {noun:<6}" + "".join(f"{d:>6}" for d in result["generated_category_to_digit"]),
        "   purity        " + "".join(f"{_num(p, '.2f'):>6}" for p in result["purity"]),
        "",
        f"3. Sample quality (classifier features, generated vs {counts['test_digits']:,} "
        f"real test {items})",
        f"   Frechet distance  {_num(result['frechet_distance'], '.2f')}   (real: "
        f"{counts['reference_train_digits']:,} training {items} vs test "
        f"{_num(result['frechet_distance_train_vs_test'], '.2f')})",
        f"   inception score   {_num(result['inception_score'], '.2f')} of at most "
        f"{result['inception_score_max']:.0f}   (real test {items} "
        f"{_num(result['inception_score_test_digits'], '.2f')})",
        "",
        f"4. Information bound (categorical code, on the generated {items})",
        f"   L_I               {_num(result['info_bound_nats'])} nats   "
        f"(H(c) = ln {k} = {_num(result['entropy_nats'])} nats)",
        "",
        f"5. Continuous codes (swept -1..1, {counts['sweep_draws']} noise draws x "
        f"{counts['sweep_values']} values; Spearman rho within sweeps)",
    ]
    if not result["continuous"]:
        out.append("   (this model has no continuous codes)")
    else:
        out.append("   code  rho rotation  rho width   rotation change  width change   controls")
        for code in result["continuous"]:
            rho, change = code["spearman"], code["change"]
            out.append(
                f"   {code['code']:<5} {_num(rho['rotation'], '+.3f'):>12} "
                f"{_num(rho['width'], '+.3f'):>10}   {_num(change['rotation'], '+.1f'):>11} deg"
                f"  {_num(change['width'], '+.2f'):>8} px   {_controls(code)}"
            )
    out += ["", summary_line(result)]
    return "\n".join(out)


def summary_line(result: dict[str, Any]) -> str:
    """One line: how often the categorical code names the class, and what each continuous
    code controls (the last line of ``infogan eval`` and of the quick start)."""
    title, noun, items = _words(result)
    parts = [
        f"summary: categorical code = {noun} on "
        f"{_percent(result['unsupervised_accuracy'])} of "
        f"{result['counts']['test_digits']:,} {title} test {items}"
    ]
    for code in result["continuous"]:
        factor = code["controls"]
        if factor == "none":
            parts.append(f"{code['code']} controls no clear factor")
        else:
            rho = code["spearman"][factor]
            parts.append(f"{code['code']} controls {factor} (rho {_num(rho, '+.2f')})")
    return "; ".join(parts)

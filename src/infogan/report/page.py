"""The content of ``report.html``: its tables, observations and sections.

:func:`render_page` turns a run's logs (and optionally a baseline run's) plus
the paths of the figures drawn by :mod:`infogan.report.draw` into the HTML page;
the HTML building blocks themselves are in :mod:`infogan.report.html`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import infogan.report.figures as fig
import infogan.report.html as html
from infogan.config import continuous_loss_name
from infogan.report.rundata import EVALUATION_FILE, RunData

EVALUATION_HEADLINE = (
    ("unsupervised_accuracy", "unsupervised test accuracy (Q's code, matched to labels)"),
    ("generated_accuracy", "generated-category accuracy (classifier, matched)"),
    ("frechet_distance", "Fréchet distance to test digits (classifier features)"),
    ("inception_score", "inception-score analogue"),
    ("info_bound_nats", "information bound L_I (nats)"),
    ("entropy_nats", "H(c) (nats)"),
)
AT_A_GLANCE = (
    ("d_loss", "D loss"),
    ("g_loss", "G loss"),
    ("info_loss", "information loss"),
    ("info_cat", "categorical CE"),
    ("info_cont", "continuous MSE"),
    ("d_real", "D(x)"),
    ("d_fake_before", "D(G(z)) before G update"),
    ("d_fake_after", "D(G(z)) after G update"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        if len(value) <= 12 and all(isinstance(v, int | float) for v in value):
            return ", ".join(_fmt(v) for v in value)
        return f"[{len(value)} values]"
    return str(value)


def _flatten(raw: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, text) for every leaf; lists of objects are numbered."""
    for key, value in raw.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                yield from _flatten(item, f"{prefix}{key}[{i}].")
        else:
            yield f"{prefix}{key}", _fmt(value)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _run_rows(run: RunData) -> list[tuple[str, str]]:
    s = run.summary
    t = run.config.train
    rows = [
        ("preset", run.config.preset),
        (
            "objective",
            run.kind + (f" (lambda_cat {t.lambda_cat:g}, lambda_cont {t.lambda_cont:g})"),
        ),
        ("iterations logged", f"{int(run.steps[-1]):,}"),
        ("batch size", str(t.batch_size)),
    ]
    if s:
        rows += [
            ("epochs", _fmt(s.get("epochs"))),
            ("images seen", f"{s.get('images_seen', 0):,}"),
            ("duration", _duration(float(s.get("seconds", 0.0)))),
            ("throughput", f"{_fmt(s.get('images_per_second'))} images/s"),
            ("device", _fmt(s.get("device"))),
            ("hardware", _fmt(s.get("hardware"))),
            ("torch / infogan", f"{s.get('torch')} / {s.get('infogan')}"),
            ("finished at", _fmt(s.get("finished_at"))),
        ]
    return rows


def _glance_rows(run: RunData) -> list[tuple[str, str, str]]:
    """Each metric's mean over the first 5% and the last 10% of the run."""
    n = len(run.steps)
    head, tail = max(1, n // 20), max(1, n // 10)
    return [
        (label, f"{run.metrics[key][:head].mean():.3f}", f"{run.metrics[key][-tail:].mean():.3f}")
        for key, label in _glance_labels(run)
    ]


def _glance_labels(run: RunData) -> list[tuple[str, str]]:
    """AT_A_GLANCE, with the continuous loss named as this run's Q scores it."""
    name = f"continuous {continuous_loss_name(run.config)}"
    return [(key, name if key == "info_cont" else label) for key, label in AT_A_GLANCE]


def _observations(run: RunData) -> list[str]:
    """Sentences that read the curves the way SPEC section 6 asks."""
    n = len(run.steps)
    tail = max(1, n // 10)
    m = run.metrics
    entropy = math.log(run.config.latent.num_categories)
    smooth = fig.moving_average(m["info_cat"], fig.smoothing_window(n))
    reached = fig.first_step_below(run.steps, smooth, 0.1 * entropy)
    gap = m["d_fake_after"][-tail:].mean() - m["d_fake_before"][-tail:].mean()
    lines = [
        f"The categorical cross-entropy starts near H(c) = ln {run.config.latent.num_categories}"
        f" = {entropy:.2f}; its moving average "
        + (
            f"falls below 10% of that ({0.1 * entropy:.2f}) at iteration {reached}."
            if reached is not None
            else f"has not fallen below 10% of that ({0.1 * entropy:.2f}) yet."
        ),
        f"Over the last 10% of iterations D(x) averages {m['d_real'][-tail:].mean():.2f} and "
        f"D(G(z)) {m['d_fake_before'][-tail:].mean():.2f} before the G update, "
        f"{m['d_fake_after'][-tail:].mean():.2f} after it ({gap:+.2f}).",
    ]
    if run.is_plain_gan:
        lines.append(
            "This is a plain GAN (lambda = 0): Q is never trained, so its losses are shown "
            "only as a reference."
        )
    return lines


def _overview(run: RunData) -> str:
    parts = [
        html.table(_run_rows(run), caption="Run"),
        html.table(
            _glance_rows(run),
            caption="Metrics at a glance (mean)",
            headers=("metric", "first 5%", "last 10%"),
        ),
    ]
    body = "".join(html.paragraph(line) for line in _observations(run))
    if not run.summary:
        body += html.paragraph(
            "No run.json: the run has not finished (or was interrupted); the report shows "
            "what it had logged and its last checkpoint.",
            note=True,
        )
    return body + html.tables(parts)


def _evaluation_headline(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(label, _fmt(result[key])) for key, label in EVALUATION_HEADLINE if key in result]
    for code in result.get("continuous", []):
        if isinstance(code, dict) and "code" in code and "controls" in code:
            rows.append((f"{code['code']} controls", str(code["controls"])))
    return rows


def _evaluation(run: RunData) -> html.Section | None:
    """eval.json's headline numbers, and every field in a fold-out table."""
    if run.stale_evaluation:
        note = html.paragraph(run.stale_evaluation + ".", note=True)
        return html.Section("evaluation", "Evaluation", note)
    if not run.evaluation:
        return None
    result = run.evaluation
    intro = html.paragraph(
        f"From {EVALUATION_FILE} (infogan eval)"
        + (f", at iteration {result['step']:,}." if isinstance(result.get("step"), int) else ".")
    )
    body = intro + html.table(_evaluation_headline(result), caption="Headline metrics")
    body += html.details("All fields", html.table(list(_flatten(result))))
    return html.Section("evaluation", "Evaluation", body)


def _configuration(run: RunData, base: RunData | None) -> html.Section:
    mine = dict(_flatten(run.config.to_dict()))
    if base is None:
        body = html.table(list(mine.items()), headers=("field", "value"))
    else:
        theirs = dict(_flatten(base.config.to_dict()))
        rows = [(k, theirs.get(k, ""), v) for k, v in mine.items()]
        differ = [k for k, base_value, value in rows if base_value != value]
        body = html.table(
            rows,
            headers=("field", f"{base.name} (baseline)", run.name),
            caption=f"Fields that differ: {', '.join(differ) or 'none'}",
        )
    return html.Section("configuration", "Configuration", body)


def _figure_sections(run: RunData, paths: dict[str, Path]) -> list[html.Section]:
    def spec(name: str, alt: str, caption: str, max_width: int | None = None) -> html.FigureSpec:
        return html.FigureSpec(f"figures/{paths[name].name}", alt, caption, max_width)

    k = run.config.latent.num_continuous
    varying = [
        spec(
            f"grid_c{i + 1}",
            f"c{i + 1} varied",
            f"c{i + 1} from -1 (top row) to +1 (bottom row), noise 0, other codes 0: "
            "what changes down a column is what this code controls.",
        )
        for i in range(k)
    ]
    gifs = [
        spec(
            f"traversal_c{i + 1}",
            f"c{i + 1} traversal",
            f"c{i + 1} swept from -2 to +2 and back (the prior covers [-1, 1]); rows are the "
            "first noise vectors of the random-noise grid, columns the categorical code.",
        )
        for i in range(k)
    ]
    return [
        html.Section(
            "losses",
            "1. Loss curves",
            html.paragraph(
                "The information loss should drop fast and stay low: Q recovers the code "
                "from the image. D and G losses need not fall; they trade off."
            )
            + html.figure(spec("loss_curves", "loss curves", "Losses against iteration.")),
        ),
        html.Section(
            "probabilities",
            "2. Discriminator outputs",
            html.paragraph(
                "D keeps separating real from fake (D(x) high, D(G(z)) low) while samples "
                "improve; D(G(z)) after the G update sits above the value before it."
            )
            + html.figure(
                spec(
                    "d_probabilities",
                    "discriminator probabilities",
                    "Batch means of D's probability of 'real'.",
                )
            ),
        ),
        html.Section(
            "final",
            "3. The final model",
            html.paragraph(
                "Each column is one value of the categorical code. In a trained InfoGAN a "
                "column holds one digit whatever the noise."
            )
            + html.figure(
                spec(
                    "grid_random",
                    "random noise grid",
                    "Ten random noise vectors (rows) with each categorical value (columns); "
                    "continuous codes at 0.",
                    max_width=760,
                )
            )
            + html.figure_row(varying),
        ),
        html.Section(
            "progression",
            "4. Progression",
            html.paragraph(
                "The same fixed noise at evenly spaced iterations: the columns separate into "
                "categories early, before the digits look real."
            )
            + html.figure(spec("progression", "progression", "Iteration under each grid.")),
        ),
        html.Section("traversals", "5. Latent traversals", html.figure_row(gifs)),
    ]


def _side_by_side_rows(base: RunData, run: RunData) -> list[tuple[str, str, str]]:
    """The two runs' budgets and end-of-run metrics (means over the last 10%)."""

    def last(r: RunData, key: str) -> str:
        return f"{r.metrics[key][-max(1, len(r.steps) // 10) :].mean():.3f}"

    def seconds(r: RunData) -> str:
        return _duration(float(r.summary["seconds"])) if "seconds" in r.summary else "unfinished"

    pair = (base, run)
    rows = [
        ("objective", *(r.kind for r in pair)),
        ("iterations", *(f"{int(r.steps[-1]):,}" for r in pair)),
        ("batch size", *(str(r.config.train.batch_size) for r in pair)),
        ("seed", *(str(r.config.train.seed) for r in pair)),
        ("duration", *(seconds(r) for r in pair)),
    ]
    rows += [(label, *(last(r, key) for r in pair)) for key, label in _glance_labels(pair[0])]
    return rows


def _comparison_section(run: RunData, base: RunData, paths: dict[str, Path]) -> html.Section:
    def src(name: str) -> str:
        return f"figures/{paths[name].name}"

    body = html.paragraph(
        "The same noise with and without the information term. Once an InfoGAN has trained "
        "long enough, its categorical code selects the digit (each column one digit); the "
        "plain GAN's code has nothing to select, so its columns look alike."
    )
    budgets = {(r.config.train.batch_size, int(r.steps[-1])) for r in (run, base)}
    if len(budgets) > 1:
        body += html.paragraph(
            "The two runs did not train at the same budget (iterations and batch size differ).",
            note=True,
        )
    body += html.table(
        _side_by_side_rows(base, run),
        headers=("", f"{base.name} (baseline)", run.name),
        caption="The two runs (metrics: mean over the last 10% of iterations)",
    )
    body += html.figure(
        html.FigureSpec(
            src("compare_grids"),
            "GAN vs InfoGAN grids",
            f"Left: {base.kind} {base.name}; right: {run.kind} {run.name}. Row r uses the same "
            "noise vector in both.",
        )
    )
    body += html.figure(
        html.FigureSpec(
            src("compare_losses"),
            "GAN vs InfoGAN losses",
            "Both runs' losses against iteration."
            + (
                " The plain GAN never trains Q, so its information loss only shows how little "
                "of the code an untrained Q reads back."
                if base.is_plain_gan
                else ""
            ),
        )
    )
    return html.Section("comparison", "6. GAN vs InfoGAN", body)


def render_page(run: RunData, base: RunData | None, paths: dict[str, Path]) -> str:
    """The whole ``report.html``: the run, its evaluation, figures, comparison and config."""
    sections = [html.Section("overview", "Overview", _overview(run))]
    evaluation = _evaluation(run)
    if evaluation is not None:
        sections.append(evaluation)
    sections += _figure_sections(run, paths)
    if base is not None:
        sections.append(_comparison_section(run, base, paths))
    sections.append(_configuration(run, base))
    subtitle = f"{run.kind} · preset {run.config.preset} · {int(run.steps[-1]):,} iterations"
    if run.summary:
        subtitle += f" · {_duration(float(run.summary.get('seconds', 0.0)))}"
        subtitle += f" on {run.summary.get('hardware', run.summary.get('device', '?'))}"
    return html.page(f"Run report: {run.name}", subtitle, sections)

"""The run report: every figure of a finished run, and ``report.html`` that shows them.

:func:`write_report` reads a run directory (and optionally a baseline run, for
the GAN-vs-InfoGAN comparison), draws the figures into ``RUN_DIR/figures/``
and writes ``RUN_DIR/report.html`` beside them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from infogan.api import InfoGANModel, load_model
from infogan.config import continuous_loss_name
from infogan.errors import RunDirError
from infogan.grids import make_grid
from infogan.latent import LatentBatch
from infogan.report import figures as fig
from infogan.report import html
from infogan.report.rundata import EVALUATION_FILE, RunData, load_run
from infogan.report.traversal import save_traversal_gif

EVALUATION_HEADLINE = (
    ("unsupervised_accuracy", "unsupervised test accuracy (Q's code, matched to labels)"),
    ("generated_accuracy", "generated-category accuracy (classifier, matched)"),
    ("frechet_distance", "Fréchet distance to test digits (classifier features)"),
    ("inception_score", "inception-score analogue"),
    ("info_bound_nats", "information bound L_I (nats)"),
    ("entropy_nats", "H(c) (nats)"),
)
PROGRESSION_PANELS = 6
TRAVERSAL_ROWS = 3
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


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote."""

    html: Path
    figures: dict[str, Path]  # figure name -> file in RUN_DIR/figures


def write_report(
    run_dir: Path | str,
    *,
    baseline: Path | str | None = None,
    traversal_frames: int = 17,
    log: Callable[[str], None] = lambda _msg: None,
) -> Report:
    """Draw every figure of ``run_dir`` and write ``run_dir/report.html``.

    ``baseline`` is a second run (usually the plain GAN trained at the same
    budget) shown side by side with this one.
    """
    run = load_run(run_dir)
    if not run.grid_steps["fixed"]:
        raise RunDirError(f"{run.run_dir}: no images/fixed grids in this run directory")
    model = load_model(run.run_dir)
    base = _load_baseline(baseline, model) if baseline is not None else None
    out = run.run_dir / "figures"
    log(f"drawing the report's figures into {out}")
    paths = _run_figures(run, model, out, traversal_frames=traversal_frames)
    if base is not None:
        paths |= _comparison_figures(run, model, *base, out)
    page = _page(run, base[0] if base else None, paths)
    target = run.run_dir / "report.html"
    target.write_text(page, encoding="utf-8")
    log(f"wrote {target}")
    return Report(html=target, figures=paths)


# --- figures ------------------------------------------------------------------------------


def report_noise(model: InfoGANModel, rows: int = 10) -> torch.Tensor:
    """(rows, noise_dim) noise for the random-noise grid, from the run's seed plus one.

    The fixed grid's noise comes from the run's seed itself; this grid shows new digits.
    """
    seed = (model.config.train.seed + 1) % 2**63
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, model.config.latent.noise_dim, generator=gen)


@dataclass(frozen=True)
class Columns:
    """Which categorical code each grid column shows, its label and the axis title."""

    order: list[int]
    labels: list[str]
    title: str


def grid_columns(run: RunData, model: InfoGANModel) -> Columns:
    """Code order, or, once ``infogan eval`` has matched every code to its own class
    (eval.json's ``category_to_digit``), class order: column k shows the code matched
    to class k, labelled with both."""
    k = model.config.latent.num_categories
    mapping = run.evaluation.get("category_to_digit")
    if not isinstance(mapping, list) or sorted(mapping) != list(range(k)):
        return Columns(list(range(k)), [str(c) for c in range(k)], CODE_ORDER_TITLE)
    order = sorted(range(k), key=lambda code: mapping[code])
    noun = "digit" if run.evaluation.get("dataset", "mnist") == "mnist" else "class"
    return Columns(
        order,
        [f"{mapping[c]} (c{c})" for c in order],
        f"{noun} (categorical code c), as matched by infogan eval",
    )


CODE_ORDER_TITLE = "categorical code c (one value per column)"


def _grid(model: InfoGANModel, batch: LatentBatch, order: list[int] | None = None) -> np.ndarray:
    """The batch's images as a grid of rows of every code; ``order`` picks the columns."""
    images = model.generate(batch.categories, batch.continuous, noise=batch.noise)
    k = model.config.latent.num_categories
    if order is not None:
        images = images.reshape(-1, k, *images.shape[1:])[:, order].flatten(0, 1)
    return make_grid(images, nrow=k)


def _codes_at_zero(model: InfoGANModel, *, varied: int | None = None) -> str:
    """ "c1 = c2 = 0", leaving out the code that is ``varied``."""
    names = [f"c{i + 1}" for i in range(model.config.latent.num_continuous) if i != varied]
    return " = ".join(names) + " = 0" if names else ""


def _run_figures(
    run: RunData, model: InfoGANModel, out: Path, *, traversal_frames: int
) -> dict[str, Path]:
    paths = {
        "loss_curves": fig.plot_losses([run], out / "loss_curves.png"),
        "d_probabilities": fig.plot_probabilities(run, out / "d_probabilities.png"),
    }
    noise = report_noise(model)
    cols = grid_columns(run, model)
    grid = _grid(model, model.code.grid_fixed(noise), cols.order)
    paths["grid_random"] = fig.plot_grid_panels(
        [fig.GridPanel(grid, _codes_at_zero(model))],
        out / "grid_random.png",
        title=f"{run.name}, iteration {model.step}: random noise, continuous codes at 0",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"z{r + 1}" for r in range(noise.shape[0])],
        row_title="noise vector z (one per row)",
    )
    for which in range(model.config.latent.num_continuous):
        paths[f"grid_c{which + 1}"] = _varying_grid(run, model, which, out)
    paths["progression"] = _progression(run, out)
    for which in range(model.config.latent.num_continuous):
        paths[f"traversal_c{which + 1}"] = save_traversal_gif(
            model,
            which,
            out / f"traversal_c{which + 1}.gif",
            noise=noise[:TRAVERSAL_ROWS],
            frames=traversal_frames,
        )
    return paths


def _varying_grid(run: RunData, model: InfoGANModel, which: int, out: Path) -> Path:
    rows = 10
    values = np.linspace(-1.0, 1.0, rows)
    name = f"c{which + 1}"
    held = _codes_at_zero(model, varied=which)
    batch = model.code.grid_varying(which, rows=rows)
    cols = grid_columns(run, model)
    grid = _grid(model, batch, cols.order)
    return fig.plot_grid_panels(
        [fig.GridPanel(grid, "noise z = 0" + (f", {held}" if held else ""))],
        out / f"grid_{name}.png",
        title=f"{run.name}, iteration {model.step}: {name} varied from -1 (top) to +1 (bottom)",
        col_labels=cols.labels,
        col_title=cols.title,
        row_labels=[f"{v:+.2f}" for v in values],
        row_title=f"continuous code {name}",
    )


def _progression(run: RunData, out: Path) -> Path:
    steps = fig.evenly_spaced(run.grid_steps["fixed"], PROGRESSION_PANELS)
    panels = []
    for step in steps:
        with Image.open(run.grid_path("fixed", step)) as img:
            panels.append(fig.GridPanel(np.asarray(img.convert("L")), f"iteration {step}"))
    k = run.config.latent.num_categories
    return fig.plot_grid_panels(
        panels,
        out / "progression.png",
        title=f"{run.name}: the fixed-noise grid through training "
        "(row = one fixed noise vector, column = categorical code)",
        col_labels=[str(c) for c in range(k)],
        col_title="categorical code c",
        row_labels=[f"z{r + 1}" for r in range(k)],  # the fixed noise has one row per category
        row_title="fixed noise vector",
        panel_inches=4.8,
    )


def _load_baseline(baseline: Path | str, model: InfoGANModel) -> tuple[RunData, InfoGANModel]:
    """The baseline run and its model, checked before anything is drawn."""
    try:
        base = load_run(baseline)
    except RunDirError as exc:
        raise RunDirError(f"baseline {exc}") from None
    base_model = load_model(base.run_dir)
    if base_model.config.latent != model.config.latent:
        raise RunDirError(
            f"baseline {base.run_dir}: its latent code differs from the run's; "
            "the comparison needs the same code layout"
        )
    return base, base_model


def _comparison_figures(
    run: RunData, model: InfoGANModel, base: RunData, base_model: InfoGANModel, out: Path
) -> dict[str, Path]:
    noise = model.fixed_noise.cpu() if model.fixed_noise is not None else report_noise(model)
    batch = model.code.grid_fixed(noise)
    panels = [
        fig.GridPanel(_grid(m, batch), f"{r.kind}: {r.name} (iteration {m.step})")
        for r, m in ((base, base_model), (run, model))
    ]
    grids = fig.plot_grid_panels(
        panels,
        out / "compare_grids.png",
        title="The same fixed noise through both generators (continuous codes at 0)",
        col_labels=[str(c) for c in range(model.config.latent.num_categories)],
        col_title="categorical code c",
        row_labels=[f"z{r + 1}" for r in range(noise.shape[0])],
        row_title="fixed noise vector",
        panel_inches=5.6,
    )
    losses = fig.plot_losses([base, run], out / "compare_losses.png")
    return {"compare_grids": grids, "compare_losses": losses}


# --- the page -----------------------------------------------------------------------------


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


def _page(run: RunData, base: RunData | None, paths: dict[str, Path]) -> str:
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

"""The content of ``report.html``: its tables, observations and sections.

:func:`render_page` turns a run's logs (and optionally a baseline run's) plus
the paths of the figures drawn by :mod:`infogan.report.draw` into the HTML page.
Captions say what to look for (in a working InfoGAN, or what a plain GAN shows on a
plain GAN's page) and state only what the run's own numbers show. The tables' rows
are in :mod:`infogan.report.tables`, the HTML building blocks in
:mod:`infogan.report.html`.
"""

from __future__ import annotations

import math
from pathlib import Path

import infogan.report.figures as fig
import infogan.report.html as html
from infogan.config import continuous_loss_name
from infogan.report.columns import Columns, columns_for
from infogan.report.rundata import EVALUATION_FILE, RunData
from infogan.report.tables import duration, evaluation_headline, flatten, run_rows

COMPARISON_TITLE = "6. GAN vs InfoGAN"
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


def _head_tail(run: RunData, key: str) -> tuple[float, float]:
    """``key``'s mean over the first 5% and over the last 10% of the run."""
    n = len(run.steps)
    values = run.metrics[key]
    return float(values[: max(1, n // 20)].mean()), float(values[-max(1, n // 10) :].mean())


def _glance_rows(run: RunData) -> list[tuple[str, str, str]]:
    """Each metric's mean over the first 5% and the last 10% of the run."""
    return [
        (label, *(f"{v:.3f}" for v in _head_tail(run, key))) for key, label in _glance_labels(run)
    ]


def _glance_labels(run: RunData) -> list[tuple[str, str]]:
    """AT_A_GLANCE, with the continuous loss named as this run's Q scores it."""
    name = f"continuous {continuous_loss_name(run.config)}"
    return [(key, name if key == "info_cont" else label) for key, label in AT_A_GLANCE]


def _nouns(run: RunData) -> tuple[str, str]:
    """What one class of the run's images is called, and the images: ("digit", "digits")
    on MNIST, ("class", "images") on Fashion-MNIST or a folder of images."""
    return ("digit", "digits") if run.config.data.dataset == "mnist" else ("class", "images")


def _observations(run: RunData) -> list[str]:
    """Sentences that read the curves as docs/infogan.md, 'What a run shows' reads them (the
    loss curves and D's outputs), from the measured values."""
    n = len(run.steps)
    m = run.metrics
    k = run.config.latent.num_categories
    entropy = math.log(k)
    start, end = _head_tail(run, "info_cat")
    smooth = fig.moving_average(m["info_cat"], fig.smoothing_window(n))
    reached = fig.first_step_below(run.steps, smooth, 0.1 * entropy)
    d_real, before = _head_tail(run, "d_real")[1], _head_tail(run, "d_fake_before")[1]
    after = _head_tail(run, "d_fake_after")[1]
    lines = [
        f"The categorical cross-entropy starts at {start:.2f} (mean of the first 5% of "
        f"iterations; a uniform guess scores H(c) = ln {k} = {entropy:.2f}) and averages "
        f"{end:.2f} over the last 10%; its moving average "
        + (
            f"falls below 10% of H(c) ({0.1 * entropy:.2f}) at iteration {reached}."
            if reached is not None
            else f"has not fallen below 10% of H(c) ({0.1 * entropy:.2f})."
        ),
        f"Over the last 10% of iterations D(x) averages {d_real:.2f} and "
        f"D(G(z)) {before:.2f} before the G update, {after:.2f} after it ({after - before:+.2f}).",
    ]
    if run.is_plain_gan:
        lines.append(
            "This is a plain GAN (lambda = 0): Q is never trained, so its losses are shown "
            "only as a reference."
        )
    return lines


def _overview(run: RunData, base: RunData | None) -> str:
    parts = [
        html.table(run_rows(run), caption="Run"),
        html.table(
            _glance_rows(run),
            caption="Metrics at a glance (mean)",
            headers=("metric", "first 5%", "last 10%"),
        ),
    ]
    body = ""
    if base is not None:
        body += html.paragraph(
            f"This report compares the run with the baseline {base.name} ({base.kind}) on "
            "the same noise: see",
            link=(COMPARISON_TITLE, "#comparison"),
        )
    body += "".join(html.paragraph(line) for line in _observations(run))
    if not run.summary:
        body += html.paragraph(
            "No run.json: the run has not finished (or was interrupted); the report shows "
            "what it had logged and its last checkpoint.",
            note=True,
        )
    return body + html.tables(parts)


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
    body = intro + html.table(evaluation_headline(result), caption="Headline metrics")
    body += html.details("All fields", html.table(list(flatten(result))))
    return html.Section("evaluation", "Evaluation", body)


def _configuration(run: RunData, base: RunData | None) -> html.Section:
    mine = dict(flatten(run.config.to_dict()))
    if base is None:
        body = html.table(list(mine.items()), headers=("field", "value"))
    else:
        theirs = dict(flatten(base.config.to_dict()))
        keys = list(mine) + [k for k in theirs if k not in mine]  # a field only one run has
        rows = [(k, theirs.get(k, ""), mine.get(k, "")) for k in keys]
        differ = [k for k, base_value, value in rows if base_value != value]
        body = html.table(
            rows,
            headers=("field", f"{base.name} (baseline)", run.name),
            caption=f"Fields that differ: {', '.join(differ) or 'none'}",
        )
    return html.Section("configuration", "Configuration", body)


def _figure_sections(run: RunData, paths: dict[str, Path], cols: Columns) -> list[html.Section]:
    """The figures of the run, each with what to look for (in a working InfoGAN, or in a
    plain GAN on a plain GAN's page) rather than what it is assumed to show."""

    def spec(name: str, alt: str, caption: str, max_width: int | None = None) -> html.FigureSpec:
        wide = name in ("loss_curves", "d_probabilities", "progression")
        return html.FigureSpec(f"figures/{paths[name].name}", alt, caption, max_width, wide)

    plain = run.is_plain_gan
    k = run.config.latent.num_continuous
    one, many = _nouns(run)
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
            "first noise vectors of the random-noise grid, columns as in the grids above.",
        )
        for i in range(k)
    ]
    return [
        html.Section(
            "losses",
            "1. Loss curves",
            html.paragraph(_losses_text(run))
            + html.figure(spec("loss_curves", "loss curves", "Losses against iteration.")),
        ),
        html.Section(
            "probabilities",
            "2. Discriminator outputs",
            html.paragraph(
                "What to look for: D(x) above 0.5 and D(G(z)) below it, D still telling real "
                "from fake while the samples improve; D(G(z)) after the G update above the "
                "value before it (the update fooled D a little more). The overview gives "
                "this run's values."
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
                "Each column is one value of the categorical code. "
                + (
                    "A plain GAN is not rewarded for using the code, so expect no column to "
                    f"hold one {one}: the {many} change with the noise (rows), not by column."
                    if plain
                    else f"In a working InfoGAN a column holds one {one} whatever the noise."
                )
            )
            + html.paragraph(cols.caption)
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
                "The same fixed noise from the first saved grid to the last, columns as in "
                "the final grids. "
                + (
                    f"In a plain GAN the {many} change with training, but nothing ties them "
                    "to the columns."
                    if plain
                    else "In a working InfoGAN the columns separate into categories early, "
                    f"before the {many} look real."
                )
            )
            + html.figure(spec("progression", "progression", "Iteration under each grid.")),
        ),
        html.Section(
            "traversals",
            "5. Latent traversals",
            (
                html.paragraph(
                    "A plain GAN is not rewarded for using c1 and c2: a sweep may change the "
                    f"{many}, but nothing makes one code one factor."
                )
                if plain
                else ""
            )
            + html.figure_row(gifs),
        ),
    ]


def _losses_text(run: RunData) -> str:
    trade = "D and G losses need not fall; they trade off."
    if not run.is_plain_gan:
        return (
            "In a working InfoGAN the information loss drops fast and stays low: Q recovers "
            f"the code from the image. {trade}"
        )
    k = run.config.latent.num_categories
    end = _head_tail(run, "info_cat")[1]
    return (
        "A plain GAN never trains Q, so the information loss only shows how little of the "
        f"code an untrained Q reads back: the categorical CE averages {end:.2f} over the "
        f"last 10% of iterations, against H(c) = ln {k} = {math.log(k):.2f} for a uniform "
        f"guess. {trade}"
    )


def _side_by_side_rows(base: RunData, run: RunData) -> list[tuple[str, str, str]]:
    """The two runs' budgets and end-of-run metrics (means over the last 10%)."""

    def last(r: RunData, key: str) -> str:
        return f"{r.metrics[key][-max(1, len(r.steps) // 10) :].mean():.3f}"

    def seconds(r: RunData) -> str:
        return duration(float(r.summary["seconds"])) if "seconds" in r.summary else "unfinished"

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

    def who(r: RunData) -> str:
        return f"the plain GAN ({r.name})" if r.is_plain_gan else f"InfoGAN ({r.name})"

    one, many = _nouns(run)
    body = html.paragraph(
        "The same noise with and without the information term. Once an InfoGAN has trained "
        f"long enough, its categorical code selects the {one} (each column one {one}); "
        f"nothing ties a plain GAN's {many} to its code, so its columns need not differ."
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
            f"Left: {who(base)}; right: {who(run)}. Row r uses the same noise vector in both; "
            f"the columns are those of {run.name}'s own grids, the same code values in both.",
            wide=True,
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
            wide=True,
        )
    )
    return html.Section("comparison", COMPARISON_TITLE, body)


def render_page(run: RunData, base: RunData | None, paths: dict[str, Path]) -> str:
    """The whole ``report.html``: the run, its evaluation, figures, comparison and config."""
    sections = [html.Section("overview", "Overview", _overview(run, base))]
    evaluation = _evaluation(run)
    if evaluation is not None:
        sections.append(evaluation)
    cols = columns_for(run.evaluation, run.config.latent.num_categories, run.config.data.dataset)
    sections += _figure_sections(run, paths, cols)
    if base is not None:
        sections.append(_comparison_section(run, base, paths))
    sections.append(_configuration(run, base))
    subtitle = f"{run.kind} · preset {run.config.preset} · {int(run.steps[-1]):,} iterations"
    if run.summary:  # no line break inside "93 s" or "AVX-512" on a narrow screen
        seconds = duration(float(run.summary.get("seconds", 0.0))).replace(" ", "\u00a0")
        hardware = str(run.summary.get("hardware", run.summary.get("device", "?")))
        subtitle += f" · {seconds} on " + hardware.replace("-", "\u2011")
    if base is not None:
        subtitle += f" · compared with the baseline {base.name} ({base.kind})"
    return html.page(f"Run report: {run.name}", subtitle, sections)

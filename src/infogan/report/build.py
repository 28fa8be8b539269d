"""The run report: every figure of a finished run, and ``report.html`` that shows them.

:func:`write_report` reads a run directory (and optionally a baseline run, for
the GAN-vs-InfoGAN comparison), draws the figures into ``RUN_DIR/figures/``
and writes ``RUN_DIR/report.html`` beside them.

The figures are assembled in :mod:`infogan.report.draw` and the page's content
in :mod:`infogan.report.page`; this module runs them in order and owns what the
rest of the code imports: :class:`Report` and :func:`write_report`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infogan.api import InfoGANModel, load_model
from infogan.errors import RunDirError
from infogan.fileio import atomic_open
from infogan.report.draw import comparison_figures, grid_columns, run_figures
from infogan.report.page import render_page
from infogan.report.rundata import RunData, load_run

__all__ = ["Report", "grid_columns", "write_report"]


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote."""

    html: Path
    figures: dict[str, Path]  # figure name -> file in RUN_DIR/figures
    evaluation: dict  # the run's eval.json, shown in the report ({} if unevaluated)


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
    paths = run_figures(run, model, out, traversal_frames=traversal_frames)
    if base is not None:
        paths |= comparison_figures(run, model, *base, out)
    page = render_page(run, base[0] if base else None, paths)
    target = run.run_dir / "report.html"
    with atomic_open(target, "w", encoding="utf-8") as fh:  # a browser never loads half
        fh.write(page)
    log(f"wrote {target}")
    return Report(html=target, figures=paths, evaluation=run.evaluation)


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

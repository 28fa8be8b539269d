"""examples/explore.ipynb runs top to bottom on the shipped model, in a real kernel."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "explore.ipynb"


def _text(cell) -> str:
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream"
    )


def test_the_notebook_runs_and_shows_what_it_says(mnist_dir, monkeypatch):
    monkeypatch.setenv("INFOGAN_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={
        "metadata": {"path": str(NOTEBOOK.parent)}
    }).execute()  # fmt: skip
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o["output_type"] != "error" for c in code for o in c.outputs)
    # the grids are images, as wide as ten digits
    pictures = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 3
    out = "\n".join(_text(c) for c in code)
    assert re.search(r"quick28 trained for \d+ iterations", out)
    q = float(re.search(r"Q names the digit of ([\d.]+)%", out).group(1))
    assert q > 90
    accuracy = float(re.search(r"unsupervised accuracy\s+([\d.]+)", out).group(1))
    assert accuracy > 0.9
    assert "c1 controls rotation" in out

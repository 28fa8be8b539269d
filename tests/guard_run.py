"""The first 30 steps of seed64, paper28 and tilt28 (fp32, seed 0, batch 16 for seed64 and
32 for the 28x28 presets, the first 1,024 MNIST training digits), as metrics.csv writes
them: the data of the equivalence test, which keeps a change of the step honest. They were
recorded by the step as it was before its rewrite (commit b76e7ca, its src/ on PYTHONPATH),
and seed64's again when its fp32 convolutions on 4x4 maps became matrix products (the
first step agreed with the earlier record to 4e-6; later steps move as any change of
summation order moves them), and when those products' outputs became dense in memory
(BatchNorm then sums in another order; the first step is unchanged), and when D came to
judge each phase's batches in one pass (every first-step value the same to the 6 digits
kept but tilt28's D(G(z)) after the G update, 0.507722 -> 0.50772), and when BatchNorm and
the activation after it became one operator (models/fused.py: the D phase's values the
same; those read after D's first update within 1.2e-4, seed64's g_loss 6.2415 -> 6.24074),
and when the float32 convolutions went through Winograd's algorithm (models/winograd.py;
the D phase's values the same, those after D's first update within 1e-5 for paper28 and
1e-4 for tilt28, seed64's within 9.4e-4: its info_cont 0.0471551 -> 0.047111; each path
is as far from the same step in float64, 4.8e-4 and 5.0e-4 of that value).
``python tests/guard_run.py DATA_DIR`` re-records them into tests/data/first_steps.json,
only on purpose: the file is what the step must reproduce."""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from pathlib import Path

import torch

from infogan import get_preset, train
from infogan.data import load_mnist_arrays, to_training_tensor

PRESETS = ("seed64", "paper28", "tilt28")
STEPS = 30
#: the batch of each (tilt28 copies 32 digits a batch; seed64 is the costly one)
BATCH = {"seed64": 16, "paper28": 32, "tilt28": 32}
#: CPU threads of the recorded runs: a reduction split over another number of threads
#: sums in another order
THREADS = 1
RECORD = Path(__file__).with_name("data") / "first_steps.json"


def first_steps(preset: str, data_dir: Path, steps: int = STEPS) -> list[list[str]]:
    """metrics.csv's rows (header first) of the first ``steps`` steps of ``preset`` (none of
    PRESETS changes its rates with the run's length: its first step is the same in a run
    of 1 step as in one of 30)."""
    config = get_preset(preset).with_train(
        max_steps=steps,
        batch_size=BATCH[preset],
        precision="fp32",
        seed=0,
        log_every=1,
        sample_every=1000,
        checkpoint_every=1000,
        device="cpu",
    )
    size = 64 if config.model.arch == "seed64" else 28
    images = to_training_tensor(load_mnist_arrays(data_dir, "train")[0][:1024], size)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run = train(config, Path(tmp) / "run", images=images, progress=False, log=lambda _m: 0)
            with open(run / "metrics.csv", newline="") as fh:
                return list(csv.reader(fh))
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    record = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "rows": {p: first_steps(p, Path(sys.argv[1])) for p in PRESETS},
    }
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RECORD}")

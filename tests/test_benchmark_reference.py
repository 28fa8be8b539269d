"""The throughput benchmark compares like with like: same losses for the same inputs and weights."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from infogan.config import SEED64
from infogan.models import build_models
from infogan.training.build import build_training
from infogan.training.rundir import METRIC_NAMES
from reference_loop import MnistPilDataset, ReferenceStep, textbook_layers


def test_reference_dataset_matches_the_in_memory_tensor(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    ours = to_training_tensor(digits[:16], 64)
    theirs = torch.stack([MnistPilDataset(digits[:16], 64)[i] for i in range(16)])
    assert theirs.shape == ours.shape
    # PIL and torch bilinear resizes differ slightly at edges; the images are the same digits
    assert (ours - theirs).abs().mean() < 0.05
    assert np.corrcoef(ours.flatten(), theirs.flatten())[0, 1] > 0.98


@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_step_and_reference_step_compute_the_same_losses(mnist_train_64, channels_last):
    images, _ = mnist_train_64
    real = images[:16].clone()
    config = SEED64.with_train(channels_last=channels_last, precision="fp32")
    parts = build_training(config)  # the project's trainer, as `infogan train` builds it
    fast, code = parts.step_fn, parts.code
    g2, d2 = map(textbook_layers, build_models(SEED64))  # PyTorch's layers
    g2.load_state_dict(parts.generator.state_dict())
    d2.load_state_dict(parts.discriminator.state_dict())
    latent = code.sample(16, generator=torch.Generator().manual_seed(1))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    reference = ReferenceStep(g2, d2, num_categories=10)
    # PyTorch's layers sum in another order than the project's (matrix products on small
    # maps, channels_last); Adam's first, sign-like update amplifies those last-bit
    # differences, so only the first step is compared (its losses after each update
    # show the two optimizers' updates agree).
    metrics = fast(real.contiguous(memory_format=fmt), latent).tolist()
    ours = dict(zip(METRIC_NAMES, metrics, strict=True))
    theirs = reference(real, latent.noise, latent.categories, latent.continuous)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=2e-3, abs=2e-4), key


def test_bf16_step_computes_the_reference_losses_to_bfloat16_precision(mnist_train_64):
    """Where ``--precision auto`` picks bf16 (CPUs with native bfloat16), the benchmark's
    project side runs under bf16 autocast: its losses for the same inputs and weights are
    the fp32 reference's to within bfloat16's rounding (8 bits of mantissa), and they do
    differ from fp32's, so the autocast is really on."""
    images, _ = mnist_train_64
    real = images[:4].clone()  # where bf16 is emulated (no AVX-512 BF16): 39 s at 16, 19 at 8
    parts = build_training(SEED64.with_train(precision="bf16"))
    g2, d2 = map(textbook_layers, build_models(SEED64))  # PyTorch's layers
    g2.load_state_dict(parts.generator.state_dict())
    d2.load_state_dict(parts.discriminator.state_dict())
    latent = parts.code.sample(len(real), generator=torch.Generator().manual_seed(1))
    reference = ReferenceStep(g2, d2, num_categories=10)
    ours = dict(
        zip(
            METRIC_NAMES,
            parts.step_fn(real.contiguous(memory_format=torch.channels_last), latent).tolist(),
            strict=True,
        )
    )
    theirs = reference(real, latent.noise, latent.categories, latent.continuous)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, rel=2e-2, abs=1e-3), key
    assert any(ours[key] != pytest.approx(value, rel=1e-5) for key, value in theirs.items())


def test_the_textbook_networks_are_pytorchs_layers_with_the_same_results():
    from torch import nn

    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    torch.manual_seed(0)
    ours = build_models(SEED64)
    theirs = [textbook_layers(net) for net in build_models(SEED64)]
    inputs = (torch.randn(8, 64), torch.randn(8, 1, 64, 64))  # G's codes, D's images
    for mine, plain, x in zip(ours, theirs, inputs, strict=True):
        plain.load_state_dict(mine.state_dict())
        layers = [m for m in plain.modules() if isinstance(m, kinds)]
        assert len(layers) == len([m for m in mine.modules() if isinstance(m, kinds)])
        assert all(type(m) in kinds for m in layers)  # no subclass left
        assert any(type(m) not in kinds for m in mine.modules() if isinstance(m, kinds))
        a, b = mine.eval()(x), plain.eval()(x)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert all(torch.allclose(u, v, atol=1e-5) for u, v in zip(a, b, strict=True))


def test_run_as_a_script_it_says_what_it_is_and_points_to_the_benchmark():
    import subprocess

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "reference_loop.py"
    shown = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "textbook way" in shown.stdout
    assert "throughput.py" in shown.stdout
    bare = subprocess.run([sys.executable, script], capture_output=True, text=True)
    assert bare.returncode == 2 and bare.stderr.strip() == (
        "reference_loop.py: run benchmarks/throughput.py, which times this loop"
    )

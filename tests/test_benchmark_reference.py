"""The throughput benchmark compares like with like: same losses for the same inputs and weights."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from infogan.config import SEED64
from infogan.latent import LatentBatch, LatentCode
from infogan.models import build_models
from infogan.train import METRIC_NAMES, InfoGANStep
from reference_loop import MnistPilDataset, ReferenceStep


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
    torch.manual_seed(0)
    g1, d1 = build_models(SEED64)
    g2, d2 = build_models(SEED64)
    g2.load_state_dict(g1.state_dict())
    d2.load_state_dict(d1.state_dict())
    code = LatentCode(SEED64.latent)
    latent = code.sample(16, generator=torch.Generator().manual_seed(1))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g1.to(memory_format=fmt)
    d1.to(memory_format=fmt)
    opt_g = torch.optim.Adam(g1.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d1.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fast = InfoGANStep(
        generator=g1,
        discriminator=d1,
        opt_g=opt_g,
        opt_d=opt_d,
        code=code,
        lambda_cat=1.0,
        lambda_cont=1.0,
    )
    reference = ReferenceStep(g2, d2, num_categories=10)
    # In the same memory layout two steps agree (so do the optimizers' updates). In
    # channels_last the convolutions sum in another order; Adam's first, sign-like update
    # amplifies those last-bit differences, so only the first step is compared exactly.
    for _ in range(1 if channels_last else 2):
        ours = dict(
            zip(
                METRIC_NAMES, fast(real.contiguous(memory_format=fmt), latent).tolist(), strict=True
            )
        )
        theirs = reference(real, latent.noise, latent.categories, latent.continuous)
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, rel=2e-3, abs=2e-4), key
    assert isinstance(latent, LatentBatch)

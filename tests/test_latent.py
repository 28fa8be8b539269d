import math

import pytest
import torch

from infogan.config import SEED64
from infogan.latent import LatentBatch, LatentCode


@pytest.fixture
def code():
    return LatentCode(SEED64.latent)


def test_prior_distributions(code):
    gen = torch.Generator().manual_seed(0)
    b = code.sample(100_000, generator=gen)
    assert b.noise.shape == (100_000, 52) and b.continuous.shape == (100_000, 2)
    assert abs(b.noise.mean().item()) < 0.01 and abs(b.noise.std().item() - 1) < 0.01
    counts = torch.bincount(b.categories, minlength=10).float()
    expected = 10_000
    chi2 = ((counts - expected) ** 2 / expected).sum().item()
    assert chi2 < 30  # 9 degrees of freedom: p < 0.001 beyond ~27.9
    assert b.continuous.min() >= -1 and b.continuous.max() <= 1
    assert abs(b.continuous.mean().item()) < 0.01
    assert abs(b.continuous.var().item() - 1 / 3) < 0.01  # Var U(-1, 1) = 1/3


def test_sampling_is_reproducible_from_the_generator(code):
    a = code.sample(8, generator=torch.Generator().manual_seed(7))
    b = code.sample(8, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))


def test_assemble_lays_out_noise_onehot_continuous(code):
    batch = LatentBatch(
        noise=torch.full((2, 52), 0.5),
        categories=torch.tensor([3, 9]),
        continuous=torch.tensor([[-1.0, 0.25], [0.5, 1.0]]),
    )
    z = code.assemble(batch)
    assert z.shape == (2, 64)
    assert torch.all(z[:, :52] == 0.5)
    assert z[0, 52:62].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert z[1, 52:62].argmax().item() == 9 and z[1, 52:62].sum().item() == 1
    assert z[:, 62:].tolist() == [[-1.0, 0.25], [0.5, 1.0]]


def test_fixed_grid_shares_noise_along_rows_and_category_along_columns(code):
    rows = torch.randn(10, 52)
    g = code.grid_fixed(rows)
    assert g.noise.shape == (100, 52)
    assert torch.equal(g.noise[13], rows[1])  # row 1, column 3
    assert g.categories.view(10, 10)[4].tolist() == list(range(10))
    assert torch.all(g.continuous == 0)


@pytest.mark.parametrize("which", [0, 1])
def test_varying_grid_sweeps_one_code_top_to_bottom(code, which):
    g = code.grid_varying(which)
    values = g.continuous[:, which].view(10, 10)
    assert values[0, 0].item() == -1 and values[-1, 0].item() == 1
    assert torch.all(values == values[:, :1])  # constant along a row
    assert math.isclose(values[1, 0].item(), -1 + 2 / 9, rel_tol=1e-6)
    assert torch.all(g.continuous[:, 1 - which] == 0) and torch.all(g.noise == 0)
    assert g.categories.view(10, 10)[0].tolist() == list(range(10))

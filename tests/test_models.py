import torch

from infogan.config import SEED64
from infogan.models import Discriminator64, Generator64, build_models


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_exact_parameter_counts():
    g, d = build_models(SEED64)
    assert _count(g) == 3_279_744
    assert _count(d) == 2_861_836
    # Q head: Linear(8192, 12); D head: Conv2d(512, 1, 4)
    assert _count(d.q_head) == 8192 * 12 + 12
    assert _count(d.d_head) == 512 * 16


def test_generator_shapes_and_range():
    torch.manual_seed(0)
    g = Generator64(latent_dim=64)
    x = g(torch.randn(5, 64) * 3)
    assert x.shape == (5, 1, 64, 64)
    assert x.min() >= -1 and x.max() <= 1
    assert x.std() > 0.01  # not a constant image


def test_discriminator_outputs():
    torch.manual_seed(0)
    d = Discriminator64(num_categories=10, num_continuous=2)
    logit, cat, cont = d(torch.rand(6, 1, 64, 64) * 2 - 1)
    assert logit.shape == (6,) and cat.shape == (6, 10) and cont.shape == (6, 2)
    assert torch.isfinite(logit).all()


def test_q_shares_the_trunk_with_d():
    d = Discriminator64()
    x = torch.randn(4, 1, 64, 64)
    _logit, cat, _cont = d(x)
    cat.sum().backward()
    assert d.trunk[0].weight.grad is not None and d.trunk[0].weight.grad.abs().sum() > 0
    assert d.d_head.weight.grad is None


def test_channels_last_gives_the_same_outputs():
    torch.manual_seed(0)
    g, d = build_models(SEED64)
    g.eval()
    d.eval()
    z = torch.randn(3, 64)
    ref = g(z)
    ref_d = d(ref)[0]
    g.to(memory_format=torch.channels_last)
    d.to(memory_format=torch.channels_last)
    assert torch.allclose(g(z), ref, atol=1e-5)
    assert torch.allclose(d(ref.contiguous(memory_format=torch.channels_last))[0], ref_d, atol=1e-4)

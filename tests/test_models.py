import pytest
import torch

from infogan.config import PAPER28, RESTYLE28, SEED64, get_preset
from infogan.errors import ConfigError
from infogan.models import Discriminator28, Discriminator64, Generator28, Generator64, build_models


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


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper28_layers_have_the_papers_sizes():
    g, d = build_models(PAPER28)
    assert isinstance(g, Generator28) and isinstance(d, Discriminator28)
    # G: Linear 74->1024 (no bias: BN follows), BN, Linear 1024->7*7*128, BN,
    #    ConvT 128->64 4x4, BN, ConvT 64->1 4x4 with bias
    assert count(g) == 74 * 1024 + 2 * 1024 + 1024 * 6272 + 2 * 6272 + 128 * 64 * 16 + 2 * 64 + (
        64 * 16 + 1
    )
    # D trunk: Conv 1->64 (bias), Conv 64->128, BN, Linear 6272->1024, BN; D head Linear 1;
    # Q: Linear 1024->128, BN, Linear 128->(10 logits + 2 means + 2 log-stds)
    trunk = (16 * 64 + 64) + 64 * 128 * 16 + 2 * 128 + 6272 * 1024 + 2 * 1024
    q = 1024 * 128 + 2 * 128 + 128 * 14 + 14
    assert count(d) == trunk + 1025 + q
    assert PAPER28.latent.dim == 74 and PAPER28.data.image_size == 28


def test_paper28_shapes_and_ranges():
    g, d = build_models(PAPER28)
    images = g(torch.randn(8, 74))
    assert images.shape == (8, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    logit, cat, cont = d(images)
    assert logit.shape == (8,) and cat.shape == (8, 10) and cont.shape == (8, 4)
    log_std = cont[:, 2:]
    assert (log_std >= -5).all() and (log_std <= 2).all()


def test_separate_q_gives_the_categories_a_hidden_layer_of_their_own():
    torch.manual_seed(0)
    _g, d = build_models(RESTYLE28)
    _g, shared = build_models(RESTYLE28.with_model(separate_q=False))
    # one more Q hidden layer (Linear 1024->128 and its BN); the outputs split 10 / 4
    assert count(d) - count(shared) == 1024 * 128 + 2 * 128
    assert d.q_head[-1].out_features == 10 and d.q_cont_head[-1].out_features == 4
    d.eval()
    logit, cat, cont = d(torch.randn(6, 1, 28, 28))
    assert logit.shape == (6,) and cat.shape == (6, 10) and cont.shape == (6, 4)
    # the categorical loss reaches only the categories' layer, the continuous only theirs
    cat.sum().backward(retain_graph=True)

    def reached(layer):
        return layer.weight.grad is not None and bool(layer.weight.grad.any())

    assert reached(d.q_head[0]) and not reached(d.q_cont_head[0])
    d.zero_grad(set_to_none=True)
    cont.sum().backward()
    assert reached(d.q_cont_head[0]) and not reached(d.q_head[0])


def test_seed64_with_separate_q_reads_the_categories_through_a_hidden_layer():
    seed = get_preset("seed64")
    torch.manual_seed(0)
    g, d = build_models(
        seed.with_model(separate_q=True, overcluster=50).with_train(lambda_cluster=1)
    )
    _g, plain = build_models(seed)
    assert count(g) == 3_279_744 and count(plain) == 2_861_836
    # Linear 8192->128 and its BN, Linear 128->10, Linear 8192->2, minus the seed's
    # Linear 8192->12; then the 50-way head on the hidden layer
    assert count(d) - count(plain) == (8192 * 128 + 256 + 1290) + 16386 - 98316 + 6450
    assert count(d) == 3_836_478
    d.eval()
    logit, cat, cont, over = d(torch.randn(3, 1, 64, 64), overcluster=True)
    assert logit.shape == (3,) and cat.shape == (3, 10) and cont.shape == (3, 2)
    assert over.shape == (3, 50) and len(d(torch.randn(3, 1, 64, 64))) == 3
    cat.sum().backward()
    assert d.q_head[0].weight.grad.any() and d.q_cont_head.weight.grad is None
    with pytest.raises(ValueError, match="no over-clustering head"):
        plain(torch.randn(2, 1, 64, 64), overcluster=True)


def test_overcluster_head_is_trained_by_the_clustering_term(digits_28, tiny_config):
    from infogan.training.build import build_training

    real = digits_28[0][:32]
    torch.manual_seed(0)
    parts = build_training(tiny_config("restyle28", batch_size=32, channels_last=False))
    D = parts.discriminator
    before = D.over_head.weight.detach().clone()
    latent = parts.code.sample(32, generator=torch.Generator().manual_seed(1))
    parts.step_fn(real, latent)
    assert (D.over_head.weight - before).abs().max() > 0
    D.eval()
    outputs = D(real[:4], overcluster=True)
    assert len(outputs) == 4 and outputs[3].shape == (4, 50) and len(D(real[:4])) == 3
    with pytest.raises(ValueError, match="no over-clustering head"):
        build_models(PAPER28)[1](real[:4], overcluster=True)
    for bad, message in (
        (RESTYLE28.with_model(overcluster=1), "model.overcluster must be 0 .none. or an integer"),
        (get_preset("seed64").with_model(overcluster=20), "model.overcluster needs a Q with a"),
        (PAPER28.with_model(overcluster=20), "model.overcluster needs the clustering term"),
    ):
        with pytest.raises(ConfigError, match=message):
            bad.validate()

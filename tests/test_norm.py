"""BatchNorm over several batches in one pass: the same as a pass for each batch."""

from __future__ import annotations

import copy

import pytest
import torch

from infogan.config import get_preset
from infogan.distributed import convert_batchnorm
from infogan.models import build_models
from infogan.models.norm import BatchNorm1d, BatchNorm2d, separate_statistics, splits_batches

SIZES = (6, 6, 3)


def _grads(layer, x):
    return [x.grad, *(p.grad for p in layer.parameters())]


@pytest.mark.parametrize(
    "layer, shape",
    [(BatchNorm2d(5), (15, 5, 4, 3)), (BatchNorm1d(7), (15, 7))],
    ids=["2d", "1d"],
)
def test_one_pass_normalises_each_batch_as_its_own_pass(layer, shape):
    torch.manual_seed(0)
    with torch.no_grad():
        layer.weight.normal_(1.0, 0.3)
        layer.bias.normal_(0.0, 0.3)
    x = torch.randn(shape) * torch.arange(1, shape[0] + 1).view(-1, *[1] * (len(shape) - 1))
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    weights = torch.randn(shape)
    apart = copy.deepcopy(layer)

    x_joined = x.clone().requires_grad_()
    with separate_statistics(layer, SIZES):
        out = layer(x_joined)
    (out * weights).sum().backward()

    x_apart = x.clone().requires_grad_()
    outs = [apart(part) for part in x_apart.split(SIZES)]
    (torch.cat(outs) * weights).sum().backward()

    torch.testing.assert_close(out, torch.cat(outs), rtol=0, atol=1e-6)
    # each batch has mean 0 before the affine map: not the joined batch's statistics
    first = (out[:6] - layer.bias.view(1, -1, *[1] * (len(shape) - 2))).detach()
    assert first.transpose(0, 1).reshape(shape[1], -1).mean(1).abs().max() < 1e-5
    for mine, theirs in zip(_grads(layer, x_joined), _grads(apart, x_apart), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)
    # three updates of the running statistics, as three passes make
    assert layer.num_batches_tracked.item() == apart.num_batches_tracked.item() == 3
    torch.testing.assert_close(layer.running_mean, apart.running_mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(layer.running_var, apart.running_var, rtol=1e-6, atol=1e-6)
    if x.dim() == 4:
        assert out.is_contiguous(memory_format=torch.channels_last)
    assert layer.batches is None  # only within the context
    assert torch.equal(layer(x), apart(x))


@pytest.mark.parametrize("preset", ["tilt64", "quick28"])
def test_a_discriminator_judges_batches_together_as_it_judges_them_apart(preset):
    config = get_preset(preset)
    torch.manual_seed(1)
    _, D = build_models(config)
    D_apart = copy.deepcopy(D)
    size = config.data.image_size
    batches = [torch.randn(n, 1, size, size) for n in (8, 8, 4)]
    with separate_statistics(D, [len(b) for b in batches]):
        joined = D(torch.cat(batches), overcluster=True)
    apart = [D_apart(b, overcluster=True) for b in batches]
    for mine, *theirs in zip(joined, *apart, strict=True):
        torch.testing.assert_close(mine, torch.cat(theirs), rtol=1e-4, atol=1e-5)
    theirs = D_apart.state_dict()
    for name, mine in D.state_dict().items():
        torch.testing.assert_close(mine, theirs[name], rtol=1e-5, atol=1e-6, msg=name)


def test_global_batchnorm_is_not_split():
    _, D = build_models(get_preset("quick28"))
    assert splits_batches(D)
    assert not splits_batches(convert_batchnorm(D, torch.device("cpu")))


def test_the_split_ends_with_the_context_even_on_an_error():
    layer = BatchNorm1d(3)
    with pytest.raises(RuntimeError), separate_statistics(layer, (2, 2)):
        raise RuntimeError("in the pass")
    assert layer.batches is None

"""models/fused.py: BatchNorm and its activation as one CPU operator (bfloat16 and
float32), checked against the same arithmetic done by hand in float64 on the same inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from infogan.config import PRESETS
from infogan.models import build_models, fused, kernels
from infogan.models.norm import BatchNorm1d, BatchNorm2d, separate_statistics

pytestmark = pytest.mark.skipif(
    not kernels.has_avx512(),
    reason="the fused operator needs AVX-512, which this CPU lacks",
)

BF16_STEP = 2.0**-7  # one step of bfloat16's 8-bit significand, relative


def _maps(shape, seed=0, dtype=torch.bfloat16) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=gen) * 1.5 + 0.7).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _by_hand(x, gamma, beta, slope, batches, grad, eps=1e-5):
    """act(BatchNorm(x)) and its gradients in float64, each batch by its own statistics."""
    x = x.double().requires_grad_()
    gamma = gamma.double().requires_grad_()
    beta = beta.double().requires_grad_()
    dims = [0, 2, 3] if x.dim() == 4 else [0]
    shape = [1, -1] + [1] * (x.dim() - 2)
    outs, stats = [], []
    for part in x.split(list(batches)):
        mean = part.mean(dims)
        var = part.var(dims, unbiased=False)
        z = (part - mean.view(shape)) / (var.view(shape) + eps).sqrt()
        z = z * gamma.view(shape) + beta.view(shape)
        outs.append(torch.where(z > 0, z, slope * z))
        count = part.numel() // part.shape[1]
        stats.append((mean, var * count / (count - 1)))
    y = torch.cat(outs)
    y.backward(grad.double())
    return y.detach(), x.grad, gamma.grad, beta.grad, stats


@pytest.mark.parametrize(
    ("shape", "norm_class", "act", "batches"),
    [
        ((64, 64, 16, 16), nn.BatchNorm2d, nn.ReLU(), (64,)),  # G's layers
        ((48, 128, 8, 8), BatchNorm2d, nn.LeakyReLU(0.2), (16, 16, 16)),  # D's, joined
        ((40, 24, 5, 5), BatchNorm2d, nn.LeakyReLU(0.1), (8, 32)),  # channels not 16k
        ((80, 1024), BatchNorm1d, nn.LeakyReLU(0.1), (16, 32, 32)),  # paper28's trunk
        ((64, 6272), nn.BatchNorm1d, nn.ReLU(), (64,)),  # paper28's G
    ],
)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_matches_float64_by_hand(shape, norm_class, act, batches, dtype):
    channels = shape[1]
    norm = norm_class(channels)
    with torch.no_grad():
        norm.weight.normal_(1.0, 0.3, generator=torch.Generator().manual_seed(1))
        norm.bias.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(2))
        norm.running_var.fill_(2.0)
    x = _maps(shape, dtype=dtype).requires_grad_()
    grad = _maps(shape, seed=3, dtype=dtype)
    norm.batches = batches if len(batches) > 1 else None
    y = fused.batch_norm_act(norm, act, x)
    assert y is not None and y.dtype == dtype
    if x.dim() == 4:
        assert y.is_contiguous(memory_format=torch.channels_last)
    y.backward(grad)
    slope = getattr(act, "negative_slope", 0.0)
    want, grad_x, grad_gamma, grad_beta, stats = _by_hand(
        x.detach(), norm.weight.detach(), norm.bias.detach(), slope, batches, grad
    )
    # in bfloat16 each output is the exact value rounded once, with float32's rounding on
    # top (which only shows near zero); in float32, float32's rounding
    step, near_zero = (BF16_STEP / 2, 1e-6) if dtype == torch.bfloat16 else (1e-5, 1e-5)
    assert ((y.double() - want).abs() <= want.abs() * step + near_zero).all()
    # the input's gradient, up to float32 sums
    assert ((x.grad.double() - grad_x).abs() <= grad_x.abs() * step + 1e-4).all()
    scale = grad_gamma.abs().max()
    torch.testing.assert_close(norm.weight.grad.double(), grad_gamma, atol=1e-5 * scale, rtol=0)
    torch.testing.assert_close(norm.bias.grad.double(), grad_beta, atol=1e-5 * scale, rtol=0)
    # the running statistics moved once per batch, in order, as separate passes move them
    mean, var = torch.zeros(channels, dtype=torch.float64), torch.full((channels,), 2.0).double()
    for batch_mean, batch_var in stats:
        mean = 0.9 * mean + 0.1 * batch_mean.detach()
        var = 0.9 * var + 0.1 * batch_var.detach()
    torch.testing.assert_close(norm.running_mean.double(), mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(norm.running_var.double(), var, atol=1e-6, rtol=1e-6)
    assert norm.num_batches_tracked.item() == len(batches)


def test_statistics_without_tracking_leave_the_running_ones():
    """The step's measuring pass turns tracking off: batch statistics, nothing moved."""
    norm = nn.BatchNorm2d(32)
    norm.track_running_stats = False
    y = fused.batch_norm_act(norm, nn.ReLU(), _maps((16, 32, 8, 8)))
    assert y is not None
    assert norm.running_mean.abs().max() == 0 and norm.num_batches_tracked.item() == 0


@pytest.mark.parametrize(
    ("norm", "act", "x"),
    [
        (nn.BatchNorm2d(8), nn.ReLU(), torch.randn(4, 8, 3, 3).double()),
        (nn.BatchNorm2d(8), nn.ReLU(), torch.randn(4, 8, 3, 3).half()),
        (nn.BatchNorm2d(8).eval(), nn.ReLU(), _maps((4, 8, 3, 3))),  # running statistics
        (nn.BatchNorm2d(8), nn.Tanh(), _maps((4, 8, 3, 3))),  # another activation
        (nn.BatchNorm2d(8), nn.LeakyReLU(-0.5), _maps((4, 8, 3, 3))),  # not a max
        (nn.BatchNorm2d(8, affine=False), nn.ReLU(), _maps((4, 8, 3, 3))),
        (nn.BatchNorm2d(8, momentum=None), nn.ReLU(), _maps((4, 8, 3, 3))),
        (nn.BatchNorm2d(8).to(torch.bfloat16), nn.ReLU(), _maps((4, 8, 3, 3))),
        (nn.Linear(8, 8), nn.ReLU(), _maps((4, 8))),
        (nn.BatchNorm1d(8), nn.ReLU(), _maps((1, 8))),  # one value a channel
        (nn.BatchNorm2d(8), nn.ReLU(), _maps((0, 8, 3, 3))),  # no rows
    ],
)
def test_other_layers_are_left_to_pytorch(norm, act, x):
    assert fused.batch_norm_act(norm, act, x) is None


def _fused_nodes(node) -> int:
    seen, todo, count = set(), [node], 0
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        count += type(node).__name__ == "_BatchNormActBackward"
        todo.extend(next_node for next_node, _ in node.next_functions)
    return count


def test_sequential_runs_a_discriminator_as_its_layers_do():
    """seed64's D under bf16 autocast: the fused trunk against its layers one by one,
    three batches in one pass; the same modules, keys and running statistics."""
    torch.manual_seed(0)
    _, d = build_models(PRESETS["tilt64"])
    d = d.to(memory_format=torch.channels_last)
    images = torch.rand(48, 1, 64, 64).mul(2).sub(1).contiguous(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in d.state_dict().items()}
    outputs = []
    for fuse in (True, False):
        d.load_state_dict(before)
        d.zero_grad()
        with torch.autocast("cpu", torch.bfloat16), separate_statistics(d, [16, 16, 16]):
            if fuse:
                logit, cat, cont = d(images)
            else:
                features = images
                for layer in d.trunk:
                    features = layer(features)
                logit = d.d_head(features).flatten()
                flat = d.flatten(features)
                hidden = flat
                for layer in d.q_head[:3]:
                    hidden = layer(hidden)
                cat, cont = d.q_head[3](hidden), d.q_cont_head(flat)
        assert _fused_nodes(logit.grad_fn) == (3 if fuse else 0)  # the trunk's BatchNorms
        (logit.float().sum() + cat.float().square().sum() + cont.float().sum()).backward()
        grads = [p.grad.clone() for p in d.parameters() if p.grad is not None]
        outputs.append((logit, cat, grads, {k: v.clone() for k, v in d.state_dict().items()}))
    (logit_f, cat_f, grads_f, state_f), (logit_p, cat_p, grads_p, state_p) = outputs
    assert state_f.keys() == state_p.keys() == before.keys()
    torch.testing.assert_close(logit_f.float(), logit_p.float(), atol=0.1, rtol=0.05)
    torch.testing.assert_close(cat_f.float(), cat_p.float(), atol=0.1, rtol=0.05)
    for a, b in zip(grads_f, grads_p, strict=True):
        assert (a - b).norm() <= 0.05 * b.norm() + 1e-6
    for key in before:
        if "running" in key or "num_batches" in key:
            torch.testing.assert_close(state_f[key], state_p[key], atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("layer", [nn.LeakyReLU(0.2), nn.ReLU()])
def test_an_activation_alone(layer):
    """D's first layer has no BatchNorm: its activation runs alone, in the input's layout,
    with a gradient of another layout made to match."""
    x = _maps((8, 64, 6, 6)).requires_grad_()
    y = fused.act(layer, x)
    assert y is not None and y.is_contiguous(memory_format=torch.channels_last)
    slope = getattr(layer, "negative_slope", 0.0)
    want = torch.where(x > 0, x.double(), slope * x.double())
    assert ((y.double() - want).abs() <= want.abs() * BF16_STEP / 2).all()
    grad = _maps((8, 64, 6, 6), seed=5).contiguous()  # NCHW, unlike y
    y.backward(grad)
    want_grad = torch.where(x > 0, grad.double(), slope * grad.double())
    assert ((x.grad.double() - want_grad).abs() <= want_grad.abs() * BF16_STEP / 2).all()
    assert fused.act(layer, x.detach().double()) is None  # float64 stays with PyTorch

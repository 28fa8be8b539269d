"""``--compile``: torch.compile traces each network whole. The hand-made CPU paths (C
kernels called through ctypes, weights cast once and kept by id()) step aside while it
traces (:func:`infogan.models.kernels.compiling`), so it sees only PyTorch's operators:
no graph break, no recompiles, and the numbers of those operators run eagerly. Traced
with the "eager" backend, which needs no C++ compiler."""

from __future__ import annotations

import copy

import pytest
import torch

from infogan.config import get_preset
from infogan.models import build_models, fused, kernels
from infogan.models.cast import CastOnce
from infogan.models.norm import separate_statistics


def _pass(g, d, z, bf16: bool):
    """G's images for ``z`` and D's outputs on them (two batches, each by its own
    BatchNorm statistics, as the step asks), then the backward of a fixed random mixture
    of them (a plain sum would have next to no gradient through BatchNorm)."""
    with CastOnce(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        images = g(z)
        with separate_statistics(d, (8, 8)):
            outputs = d(images)
    weights = torch.Generator().manual_seed(1)
    loss = sum((out.float() * torch.randn(out.shape, generator=weights)).sum() for out in outputs)
    loss.backward()
    return [images, *outputs]


def _compiled(module):
    # fullgraph: a graph break (a ctypes call, a dict keyed by id()) raises
    return torch.compile(module, backend="eager", fullgraph=True)


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("preset", ["seed64", "paper28", "start28", "tilt64"])
def test_each_network_compiles_whole_to_pytorchs_own_operators(preset, bf16, monkeypatch):
    config = get_preset(preset)
    torch.manual_seed(0)
    g, d = build_models(config)
    g2, d2 = copy.deepcopy(g), copy.deepcopy(d)
    z = torch.randn(16, config.latent.dim)
    torch._dynamo.reset()
    compiled = _pass(_compiled(g2), _compiled(d2), z, bf16)
    with monkeypatch.context() as m:
        m.setattr(kernels, "compiling", lambda: True)  # the same layers, eagerly
        eager = _pass(g, d, z, bf16)
    tol = {"rtol": 0.02, "atol": 0.02} if bf16 else {"rtol": 1e-4, "atol": 1e-5}
    for a, b in zip(eager, compiled, strict=True):
        torch.testing.assert_close(b, a, **tol)
    for module, twin in ((g, g2), (d, d2)):
        for p, q in zip(module.parameters(), twin.parameters(), strict=True):
            assert (p.grad is None) == (q.grad is None)
            if p.grad is not None:  # None: a part these outputs do not reach
                torch.testing.assert_close(q.grad, p.grad, **tol)
        for s, t in zip(module.buffers(), twin.buffers(), strict=True):  # running statistics
            torch.testing.assert_close(t, s, **tol)


@pytest.mark.skipif(fused.library() is None, reason="the C kernels need AVX-512 and cc")
def test_the_eager_pass_takes_the_kernels_the_traced_one_steps_around(monkeypatch):
    calls = []
    real = fused._BatchNormAct.apply
    monkeypatch.setattr(fused._BatchNormAct, "apply", lambda *a: calls.append(1) or real(*a))
    config = get_preset("start28")
    g, d = build_models(config)
    _pass(g, d, torch.randn(16, config.latent.dim), False)
    eager_calls = len(calls)
    torch._dynamo.reset()
    _pass(_compiled(g), _compiled(d), torch.randn(16, config.latent.dim), False)
    assert eager_calls > 0 and len(calls) == eager_calls

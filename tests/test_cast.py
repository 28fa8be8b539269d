"""Weights cast once a step under bf16 autocast (models/cast.py): the same training
steps, bitwise, as autocast casting every weight in every pass, with fewer casts."""

from __future__ import annotations

import collections

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from infogan.config import get_preset
from infogan.models import cast, kernels
from infogan.models.cast import CastOnce, Linear, autocast_weight
from infogan.training.build import build_training

CONVERT = cast.convert


class Casts(TorchDispatchMode):
    """Counts the float32 -> bfloat16 copies of each tensor, by its memory's address:
    autocast's (PyTorch's operator) and :func:`cast.convert`'s (the C kernel or the
    operator; the module's name for it is patched to count)."""

    def __init__(self):
        super().__init__()
        self.count = collections.Counter()
        self.converting = False

    def convert(self, t, dtype):
        if t.dtype == torch.float32 and dtype == torch.bfloat16:
            self.count[t.data_ptr()] += 1
        self.converting = True
        try:
            return CONVERT(t, dtype)
        finally:
            self.converting = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        cast = func.overloadpacket.__name__ == "_to_copy" and kwargs.get("dtype") == torch.bfloat16
        if cast and args[0].dtype == torch.float32 and not self.converting:
            self.count[args[0].data_ptr()] += 1
        return func(*args, **kwargs)


#: steps of each preset: start28's second step reads the copies made after the first
#: step's updates; one step of tilt64 makes and drops every copy a step makes (where bf16
#: is emulated, without AVX-512 BF16, a step of tilt64 takes 9 s at batch 2)
STEPS = {"start28": 2, "tilt64": 1}


def _steps(preset, images, tiny_config, *, once: bool, monkeypatch):
    batch = 2
    with monkeypatch.context() as patch:
        if not once:  # no cache opens: the layers pass their float32 weights to autocast
            patch.setattr(CastOnce, "__enter__", lambda self: self)
        config = tiny_config(preset, batch_size=batch, precision="bf16")
        parts = build_training(config)
        draw = torch.Generator().manual_seed(0)
        rows, casts = [], Casts()
        patch.setattr(cast, "convert", casts.convert)
        with casts:
            for _ in range(STEPS[preset]):
                rows.append(parts.step_fn(images[:batch], parts.code.sample(batch, generator=draw)))
        weights = [*parts.generator.parameters(), *parts.discriminator.parameters()]
        counts = [
            {casts.count[p.data_ptr()] for p in net.parameters() if p.dim() > 1}
            for net in (parts.generator, parts.discriminator)
        ]
        return torch.stack(rows), weights, counts


@pytest.mark.parametrize("preset", STEPS)
def test_casting_once_gives_the_same_steps_with_fewer_casts(
    preset, digits_28, mnist_train_64, tiny_config, monkeypatch
):
    images = (digits_28 if preset == "start28" else mnist_train_64)[0]
    torch.manual_seed(0)  # the terms' random copies
    every, weights_every, casts_every = _steps(
        preset, images, tiny_config, once=False, monkeypatch=monkeypatch
    )
    torch.manual_seed(0)
    once, weights_once, casts_once = _steps(
        preset, images, tiny_config, once=True, monkeypatch=monkeypatch
    )
    assert torch.equal(every, once)
    assert all(torch.equal(a, b) for a, b in zip(weights_every, weights_once, strict=True))
    # in each step: G's weights in its pass, the turned pairs' pass (start28) and the
    # measuring pass, cast once before G's update and once after; D's, with autocast
    # casting, in the three passes of D (D's phase, G's, the measuring pass; the
    # over-clustering head's in the first two), cast once, in D's phase and once more
    # after D's update
    g_passes = 3 if get_preset(preset).train.lambda_turn_pair else 2
    steps = STEPS[preset]
    assert casts_every[0] == {steps * g_passes}
    assert 3 * steps in casts_every[1] and casts_every[1] <= {2 * steps, 3 * steps}
    assert casts_once == [{2 * steps}, {2 * steps}]


def test_a_copy_lasts_until_its_optimizer_steps():
    torch.manual_seed(0)
    layer = Linear(4, 3)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(5, 4)
    with CastOnce() as casts, torch.autocast("cpu", dtype=torch.bfloat16):
        first = autocast_weight(layer.weight)
        assert first.dtype == torch.bfloat16 and first.requires_grad
        assert first.data_ptr() == autocast_weight(layer.weight).data_ptr()  # one copy
        layer(x).sum().backward()
        assert layer.weight.grad.dtype == torch.float32  # the gradient reaches float32
        opt.step()
        stale = autocast_weight(layer.weight).float()
        casts.forget(opt)
        fresh = autocast_weight(layer.weight).float()
    assert torch.equal(stale, first.float()) and not torch.equal(fresh, stale)
    assert torch.equal(fresh, layer.weight.detach().to(torch.bfloat16).float())
    # outside the context, or without autocast, a layer passes its own weight
    assert autocast_weight(layer.weight) is layer.weight
    with CastOnce():
        assert autocast_weight(layer.weight) is layer.weight


@pytest.mark.skipif(not kernels.has_avx512(), reason="csrc/convert.c needs AVX-512")
@pytest.mark.parametrize("channels_last", [False, True])
def test_convert_gives_pytorchs_bits(channels_last):
    """csrc/convert.c against ``Tensor.to``: float32 -> bfloat16 rounds to nearest even
    (ties, infinities, NaN, subnormals included) and bfloat16 -> float32 is exact, in the
    tensor's own layout."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 64, 4, 4, generator=gen) * 10.0 ** torch.randint(-40, 38, (1,)).item()
    bits = x.view(torch.int32).flatten()
    bits[:8] = torch.tensor([0x3F808000, 0x3F818000, 0x7F800000, -8388608, 0x7FC00000,
                             0x7F800001, 0x00000001, 0x3F80FFFF], dtype=torch.int32)  # fmt: skip
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    narrow = cast.convert(x, torch.bfloat16)
    assert "convert" in kernels.loaded()  # the kernel, not the operator, made it
    want = x.to(torch.bfloat16)
    assert narrow.stride() == want.stride()
    same = narrow.view(torch.int16) == want.view(torch.int16)
    assert (same | (narrow.isnan() & want.isnan())).all()  # a NaN may keep other bits
    wide = cast.convert(narrow, torch.float32)
    assert wide.stride() == narrow.stride()
    assert torch.equal(wide.view(torch.int32), narrow.to(torch.float32).view(torch.int32))

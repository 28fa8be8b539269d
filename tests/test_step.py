"""The training step: the paper's objective against a textbook loop, and every preset's step."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from infogan.config import PAPER28, PRESETS
from infogan.models import build_models
from infogan.training.build import build_training, resolve_precision
from infogan.training.rundir import METRIC_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from reference_loop import ReferenceStep


def test_paper28_step_matches_the_textbook_loop(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    config = PAPER28.with_train(channels_last=False, precision="fp32")
    parts = build_training(config)
    g2, d2 = build_models(config)
    g2.load_state_dict(parts.generator.state_dict())
    d2.load_state_dict(parts.discriminator.state_dict())
    reference = ReferenceStep(g2, d2, num_categories=10, lambda_cont=0.1)
    latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
    for _ in range(2):
        ours = dict(zip(METRIC_NAMES, parts.step_fn(real, latent).tolist(), strict=True))
        theirs = reference(real, latent.noise, latent.categories, latent.continuous)
        for key in ("d_loss", "g_loss", "d_real", "d_fake_before", "d_fake_after"):
            assert ours[key] == pytest.approx(theirs[key], rel=2e-3, abs=2e-4), key
        weighted = ours["info_cat"] + 0.1 * ours["info_cont"]
        assert weighted == pytest.approx(theirs["info_loss"], rel=2e-3, abs=2e-4)


def test_auto_precision_is_bf16_exactly_on_cpus_that_multiply_bfloat16_natively():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    assert flags, "no CPU flags in /proc/cpuinfo"
    native = bool(flags & {"avx512_bf16", "amx_bf16"})
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert resolve_precision("auto", cuda) == "fp32"  # launch-bound there: bf16 no faster
    for name in ("fp32", "bf16"):
        assert resolve_precision(name, cpu) == resolve_precision(name, cuda) == name
    assert all(c.train.precision == "auto" for c in PRESETS.values())


class HostReads(TorchDispatchMode):
    """Counts the operators that read a tensor's value back to the host (``.item()``,
    ``bool(t)``, a boolean mask's indices): on a GPU each one waits for every kernel
    queued before it, and none can be captured in a CUDA graph."""

    READS = frozenset(
        {"_local_scalar_dense", "is_nonzero", "equal", "nonzero", "masked_select", "_unique2"}
    )

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.READS:
            self.reads.append(name)
        elif name in ("index", "index_put", "index_put_") and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]
        ):
            self.reads.append(f"{name} with a boolean mask")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_presets_step_trains_both_networks(preset, digits_28, mnist_train_64, tiny_config):
    config = tiny_config(preset, batch_size=32, precision="fp32")
    real = (digits_28 if config.model.arch == "paper28" else mnist_train_64)[0][:32]
    parts = build_training(config)
    g0 = [p.detach().clone() for p in parts.generator.parameters()]
    d0 = [p.detach().clone() for p in parts.discriminator.parameters()]
    latent = parts.code.sample(32, generator=torch.Generator().manual_seed(0))
    with HostReads() as host:
        out = parts.step_fn(real, latent)
    # the step never waits for the device: its metrics stay there until the loop reads
    # a batch of steps at once
    assert host.reads == []
    metrics = dict(zip(METRIC_NAMES, out.tolist(), strict=True))
    assert all(torch.isfinite(torch.tensor(list(metrics.values()))))
    assert 0 < metrics["d_real"] < 1 and metrics["info_cat"] > 0

    def moved(before, net):
        return [not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True)]

    assert all(moved(g0, parts.generator)) and any(moved(d0, parts.discriminator))


def test_measuring_passes_leave_batchnorm_statistics_alone():
    from infogan.training.step import frozen_batchnorm_stats

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.BatchNorm1d(12).eval())
    x = torch.randn(8, 3, 2, 2) * 3 + 1
    net[0](x)  # running statistics away from their initial values
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with frozen_batchnorm_stats(net):
        y = net[0](x)
        z = net[1](x.flatten(1))
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # counts included
    # training mode: the batch's own statistics; eval mode: the running ones, as ever
    mean, var = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), unbiased=False, keepdim=True)
    assert torch.allclose(y, (x - mean) / torch.sqrt(var + 1e-5), atol=1e-5)
    eval_ref = torch.nn.functional.batch_norm(
        x.flatten(1), net[1].running_mean, net[1].running_var, training=False
    )
    assert torch.equal(z, eval_ref)
    assert net[0].track_running_stats and net[1].track_running_stats
    net[0](x)
    assert net[0].num_batches_tracked.item() == 2  # tracking again afterwards


class DPasses(TorchDispatchMode):
    """Counts the passes through D's first convolution (a pass reads a 1-channel image)."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        x = args[0] if args else None
        if func.overloadpacket.__name__ == "convolution" and x.dim() == 4 and x.shape[1] == 1:
            self.batches.append(x.shape[0])
        return func(*args, **(kwargs or {}))


def test_d_judges_all_of_a_phases_batches_in_one_pass_as_it_would_one_by_one(
    digits_28, tiny_config, monkeypatch
):
    """quick28's D phase judges the real digits, the fakes, the clustering term's restyled
    copies and the readings' copies (16 + 16 + 16 + 32 rows) in one pass, its G phase the
    fakes and their copies (16 + 32); the step is the one that judges them one by one."""
    import infogan.training.step as step_module

    config = tiny_config("quick28", batch_size=16, precision="fp32").with_train(channels_last=False)
    real = digits_28[0][:16]
    steps = {}
    for joined in (True, False):
        if not joined:
            monkeypatch.setattr(step_module, "splits_batches", lambda _module: False)
        parts = build_training(config)
        latent = parts.code.sample(16, generator=torch.Generator().manual_seed(3))
        torch.manual_seed(4)
        with DPasses() as passes:
            metrics = parts.step_fn(real, latent)
        steps[joined] = metrics, parts.discriminator, passes.batches
    (ours, D, batches), (theirs, D_apart, one_by_one) = steps[True], steps[False]
    # D phase, G phase, measuring pass; one by one: 4 + 2 + 1
    assert batches == [80, 48, 16] and one_by_one == [16, 16, 16, 32, 16, 32, 16]
    # the same sums in another order; the G phase's and the measuring pass's after the
    # Adam step, which moves a weight by about the learning rate whatever its gradient
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    # D's gradients (of its phase), to float32's rounding of the largest (a few units of
    # 1e-6 through the float32 convolutions' Winograd transforms), and its running
    # statistics (G's phase updates them too, after D's step): every batch counted
    for (name, a), b in zip(D.named_parameters(), D_apart.parameters(), strict=True):
        assert (a.grad - b.grad).abs().max() <= 3e-5 * b.grad.abs().max(), name
    # (G's phase runs after D's first Adam step, which moves a weight whose gradient is
    # about 0 by +-lr either way: a statistic moves by up to about 1e-4 of the largest)
    for (name, a), b in zip(D.named_buffers(), D_apart.buffers(), strict=True):
        assert (a - b).abs().max() <= 3e-4 * b.abs().max(), name
    assert D.trunk[3].num_batches_tracked.item() == 6  # 4 batches in D's phase, 2 in G's

"""What a CUDA graph of the step relies on, held on the CPU with real steps: everything
the step keeps between steps stays in its memory, :class:`StepState` puts back all of
it (random generator included), and the check against the eager step keeps a graph
that agrees and refuses one that does not. (The capture itself needs a GPU:
``benchmarks/gpu_speed.py`` times it against the eager step.)"""

from __future__ import annotations

import pytest
import torch

from infogan.training.build import build_training
from infogan.training.decay import LearningRateDecay
from infogan.training.graph import TOLERANCE, StepState, check_against_eager

BATCH = 32


@pytest.fixture
def start28(digits_28, tiny_config):
    """start28's step (readings and the clustering term: random numbers in the step)."""
    config = tiny_config("start28", batch_size=BATCH, precision="fp32")
    parts = build_training(config)
    real = digits_28[0][:BATCH]
    latent = parts.code.sample(BATCH, generator=torch.Generator().manual_seed(1))
    parts.step_fn(real, latent)  # Adam's moments exist from the first step on
    return parts, real, latent


def _state(parts, generator=torch.default_generator) -> StepState:
    return StepState((parts.generator, parts.discriminator), (parts.opt_g, parts.opt_d), generator)


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _one_step(parts, real, latent):
    """(the step's state, what it held before, the step's metrics, what it holds after)
    for one step of ``parts`` on the batch."""
    state = _state(parts)
    before = state.save()
    metrics = parts.step_fn(real, latent)
    return state, before, metrics, state.save()


def test_a_step_keeps_everything_in_the_same_memory(start28):
    parts, real, latent = start28
    decay = LearningRateDecay([(parts.opt_g, 1e-3), (parts.opt_d, 2e-4)], total=6, steps=4)
    kept = _state(parts)
    rates = [g["lr"] for opt in (parts.opt_g, parts.opt_d) for g in opt.param_groups]
    where = [t.data_ptr() for t in kept.tensors + rates]
    before = [t.clone() for t in kept.tensors]
    for step in range(1, 5):
        parts.step_fn(real, latent)
        decay.on_step_end(step, 1)
    now = _state(parts)
    assert len(now.tensors) == len(kept.tensors)
    rates_now = [g["lr"] for opt in (parts.opt_g, parts.opt_d) for g in opt.param_groups]
    assert [t.data_ptr() for t in now.tensors + rates_now] == where
    # ... and changed there: weights, moments, step counts, BN statistics, rates
    assert sum(not torch.equal(a, b) for a, b in zip(before, now.tensors, strict=True)) > 0.9 * len(
        before
    )
    assert [float(r) for r in rates_now] == pytest.approx([1e-3 / 2, 2e-4 / 2])


def test_step_state_puts_back_all_a_step_changes(start28):
    parts, real, latent = start28
    state, saved, first, after_first = _one_step(parts, real, latent)
    state.load(saved)
    again = parts.step_fn(real, latent)
    assert torch.equal(first, again)  # the same random copies, the same losses
    assert _same(after_first[0], state.save()[0])
    # without the generator put back, the copies differ and so do the losses
    state.load((saved[0], after_first[1]))
    assert not torch.equal(first, parts.step_fn(real, latent))


def test_the_check_keeps_an_agreeing_graph_and_refuses_one_that_is_not(start28):
    parts, real, latent = start28
    state, start, reference, reference_state = _one_step(parts, real, latent)
    tolerance = TOLERANCE["fp32"]

    state.load(start)
    metrics, problem = check_against_eager(
        parts.step_fn, lambda: parts.step_fn(real, latent), state, real, latent, tolerance
    )
    assert problem is None and torch.equal(metrics, reference)
    assert _same(state.save()[0], reference_state[0])

    # a replay that reads stale inputs (the flipped batch): refused, the eager step kept
    state.load(start)
    flipped = real.flip(-1)
    metrics, problem = check_against_eager(
        parts.step_fn, lambda: parts.step_fn(flipped, latent), state, real, latent, tolerance
    )
    assert problem is not None and "differed from the eager step's by up to" in problem
    assert torch.equal(metrics, reference)
    assert _same(state.save()[0], reference_state[0])

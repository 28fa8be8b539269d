"""A running average of the generator's weights (``train.g_average``), the generator that
samples, grids, evaluations and exports use.

A GAN's generator moves with every step of the game against D: the weights at one step
draw digits a little off in ways that the next step corrects. Their exponential moving
average over the last few hundred steps draws sharper, more MNIST-like digits, at the
cost of one pass over G's weights a step; training itself is unchanged (the average never
feeds back). BatchNorm's running statistics are copied from G, not averaged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


class GeneratorAverage:
    """A training callback: after each step, the copy ``module`` moves towards the
    generator by ``1 - decay`` (by more over the first steps after a start: the weight is
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the average is not held to
    the initial weights)."""

    def __init__(self, generator: nn.Module, decay: float):
        self.generator = generator
        self.decay = decay
        self.module = copy.deepcopy(generator).requires_grad_(False)
        self.updates = 0

    def restart(self) -> None:
        """Start again from the generator as it is (after a reseed changed its weights)."""
        self.module.load_state_dict(self.generator.state_dict())
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        n = self.updates
        keep = min(self.decay, (1 + n) / (10 + n))
        mine = list(self.module.parameters())
        torch._foreach_lerp_(mine, [p.detach() for p in self.generator.parameters()], 1 - keep)
        for own, source in zip(self.module.buffers(), self.generator.buffers(), strict=True):
            own.copy_(source)
        self.updates = n + 1

    def state_dict(self) -> dict:
        return {"weights": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["weights"], strict=True)
        self.updates = int(state["updates"])

    def on_metrics(self, rows: Sequence) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        self.update()

    def on_train_end(self, step: int, epoch: int) -> None:
        pass

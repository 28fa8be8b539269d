"""Both learning rates falling linearly to zero over a run's last steps
(``train.lr_decay_steps``).

Adam at a constant rate keeps Q's reading of real digits moving by a point or two of
accuracy from one check to the next, however long the run; bringing the rates down at the
end lets both networks settle. The rate for the next step is set from the step count alone,
so a resumed run follows the same schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def set_learning_rate(group: dict, value: float) -> None:
    """Set an optimizer parameter group's rate; a tensor rate (fused Adam's, see
    :func:`~infogan.training.build.make_adam`) is filled in place, keeping its memory."""
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(value)
    else:
        group["lr"] = value


class LearningRateDecay:
    """A training callback: after step ``s``, each optimizer's rate is its base rate times
    ``min(1, (total - s) / steps)``. ``rates`` pairs each optimizer with its base rate (the
    config's, not the optimizer's current one, which a checkpoint may have lowered)."""

    def __init__(
        self, rates: Sequence[tuple[torch.optim.Optimizer, float]], *, total: int, steps: int
    ):
        self.rates = rates
        self.total = total
        self.steps = steps

    def factor(self, step: int) -> float:
        return min(1.0, max(0.0, (self.total - step) / self.steps))

    def apply(self, step: int) -> None:
        """Set the rates for the step after ``step`` (0: the first)."""
        scale = self.factor(step)
        for opt, rate in self.rates:
            for group in opt.param_groups:
                set_learning_rate(group, rate * scale)

    def on_metrics(self, rows: Sequence) -> None:
        pass

    def on_step_end(self, step: int, epoch: int) -> None:
        self.apply(step)

    def on_train_end(self, step: int, epoch: int) -> None:
        pass

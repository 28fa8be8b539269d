"""BatchNorm that can judge several batches in one pass, each by its own statistics.

A step of the trainer asks D about several batches (the real digits, the generated ones,
the copies the added terms read) and, as in the paper, each is normalised by its own
statistics. One pass over all of them, with BatchNorm split at the batches' borders, does
the same arithmetic as a pass for each in larger, faster products: on 2 Xeon cores with
AMX, start28's four D passes of its D phase took 77 ms in bf16 one by one and 56 ms as
one (docs/speed.md). :func:`separate_statistics` says where the borders are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn


class _PerBatch:
    """The forward the two layers share: PyTorch's, or PyTorch's on each of ``batches``
    (rows of the input, in order) with the outputs joined. Each part updates the running
    statistics as a pass of its own would."""

    batches: tuple[int, ...] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = super().forward
        if self.batches is None:
            return norm(x)
        return torch.cat([norm(part) for part in x.split(self.batches)])


class BatchNorm1d(_PerBatch, nn.BatchNorm1d):
    """``nn.BatchNorm1d``, with :func:`separate_statistics`."""


class BatchNorm2d(_PerBatch, nn.BatchNorm2d):
    """``nn.BatchNorm2d``, with :func:`separate_statistics`."""


def splits_batches(module: nn.Module) -> bool:
    """Whether every BatchNorm layer of ``module`` can keep batches apart (not so once
    torchrun's ``sync_bn`` has replaced them by global ones)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return all(isinstance(m, _PerBatch) for m in norms)


@contextlib.contextmanager
def separate_statistics(module: nn.Module, batches: Sequence[int]) -> Iterator[None]:
    """Within it, ``module``'s BatchNorm layers normalise each of ``batches`` (row counts
    of their input, in order) by its own statistics, as separate passes would."""
    norms = [m for m in module.modules() if isinstance(m, _PerBatch)]
    for m in norms:
        m.batches = tuple(batches)
    try:
        yield
    finally:
        for m in norms:
            m.batches = None

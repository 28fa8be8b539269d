"""Process-group helpers for ``torchrun``: every one is a no-op in a single process.

Launched by ``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK in the environment), the
trainer joins a process group (NCCL on GPUs, gloo on CPUs), wraps both networks in
DistributedDataParallel and gives each rank its slice of every global batch. Only
rank 0 writes files and logs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from infogan.errors import ConfigError, InfoGANError, RunDirError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def mean(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``tensor`` over ranks (``tensor`` itself in one process)."""
        if not self.enabled:
            return tensor
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out / self.world_size

    def sum_over_ranks(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of ``tensor`` over ranks, for a loss computed from the whole global
        batch. Its gradient reaches this rank's ``tensor`` alone, times the world size:
        DDP then averages the ranks' gradients into the gradient of the whole sum."""
        if not self.enabled:
            return tensor
        total = tensor.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total + (tensor - tensor.detach()) * self.world_size

    def rows(self, local_rows: int) -> slice:
        """This rank's rows of a global batch split into slices of ``local_rows``."""
        return slice(self.rank * local_rows, (self.rank + 1) * local_rows)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def first_error(self, message: str | None, device: torch.device) -> str | None:
        """Share one rank's error so that every rank stops with the same message."""
        if not self.enabled:
            return message
        failed = self.any(message is not None, device)
        if not failed:
            return None
        messages: list[str | None] = [None] * self.world_size
        dist.all_gather_object(messages, message)
        return next(m for m in messages if m is not None)

    def on_main(self, device: torch.device, action: Callable[[], None]) -> None:
        """Run ``action`` on rank 0 alone; its InfoGANError is raised on every rank (so no
        rank waits for the others)."""
        problem = None
        if self.is_main:
            try:
                action()
            except InfoGANError as exc:
                if not self.enabled:
                    raise
                problem = str(exc)
        problem = self.first_error(problem, device)
        if problem is not None:
            raise RunDirError(problem)


SINGLE = DistContext()


class BatchRandom:
    """Uniform random numbers for this rank's rows of a global batch of ``global_rows``:
    every rank draws those of the whole batch (from the global torch generator, seeded
    alike on every rank) and keeps its rows ``mine``, so that a row gets the same numbers
    however many processes share the batch. Called as ``rand(n, *shape)`` with ``n`` the
    number of rows in ``mine``; in one process it is ``torch.rand``."""

    def __init__(self, global_rows: int, mine: slice, device: torch.device):
        self.global_rows = global_rows
        self.mine = mine
        self.device = device

    def __call__(self, rows: int, *shape: int) -> torch.Tensor:
        values = torch.rand(self.global_rows, *shape, device=self.device)[self.mine]
        if len(values) != rows:
            raise ValueError(f"asked for {rows} rows, this rank holds {len(values)}")
        return values


def from_environment() -> DistContext:
    """The context torchrun's environment describes (single process when absent)."""
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    if world_size <= 1:
        return SINGLE
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank)


def setup(ctx: DistContext, device: torch.device) -> torch.device:
    """Join the process group; return this rank's device (cuda:LOCAL_RANK on GPUs)."""
    if not ctx.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)
    if device.type == "cpu":
        # torchrun starts each rank with one OpenMP thread; share the cores out evenly
        local = int(os.environ.get("LOCAL_WORLD_SIZE", ctx.world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return device


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics cover the global batch of all ranks.

    PyTorch's SyncBatchNorm runs on GPUs only; this one works with any backend
    (gloo on CPUs): each rank sums its slice, one differentiable all-reduce adds
    the sums up, and gradients flow back through it to every rank's inputs.
    Outside a process group, or in eval mode, it is plain BatchNorm.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        count = x.new_tensor([x.numel() / c])
        with warnings.catch_warnings():  # PyTorch 2.13 calls this all_reduce deprecated
            warnings.filterwarnings("ignore", message=".*all_reduce is deprecated")
            totals = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))  # (2C + 1,)
        n = totals[-1]
        mean = totals[:c] / n
        var = (totals[c : 2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.momentum is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                unbiased = var.detach() * (n / (n - 1).clamp_min(1))
                self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm by a global one: SyncBatchNorm on CUDA, GlobalBatchNorm else."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        new = GlobalBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
        )
        new.load_state_dict(module.state_dict())
        return new
    for name, child in module.named_children():
        module.add_module(name, convert_batchnorm(child, device))
    return module

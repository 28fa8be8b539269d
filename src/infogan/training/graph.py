"""The whole training step as one CUDA graph (``train.cuda_graph``, on by default on a GPU).

On a GPU a step of these small networks is a few hundred short kernels (both phases,
their backward passes, fused Adam, the measuring pass), and the host launching them one
by one is what bounds it: seed64's eager step measured 11.9 ms on an H200. Captured once
as a CUDA graph, the step is replayed with one launch.

A replay repeats the captured kernels on the captured memory, so the step reads its batch
from fixed input tensors (each step's batch is copied into them) and everything it keeps
from one step to the next stays where it was: the weights, Adam's moments and step
counts (fused Adam keeps them on the device), the learning rates (tensors, which
:class:`~infogan.training.decay.LearningRateDecay` fills in place) and BatchNorm's
statistics. Random numbers drawn inside the step (the copies' transforms) come from the
device's default generator, which a graph advances on each replay. The step never reads
a value back to the host (``tests/test_step.py``), so nothing in it needs the CPU.

The first :data:`WARMUP` steps run eagerly on a side stream (the allocator and the
libraries settle); the next one is captured, and :func:`check_against_eager` runs that
step both ways from the same state on the same batch. If the capture fails or the two
disagree, the run goes on eagerly and says why in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from infogan.latent import LatentBatch

#: eager steps before the capture (PyTorch asks for a few, on a side stream)
WARMUP = 3
#: how far the captured step's metrics may stray from the eager step's (relative,
#: absolute): the two differ only by the order of the GPU's floating-point sums
TOLERANCE = {"fp32": (1e-3, 1e-4), "bf16": (3e-2, 3e-3)}


class StepState:
    """Every tensor a training step changes, and the random generator it draws from:
    saved aside and put back in place (the same memory, as a graph needs). Made after the
    optimizers' first step, when their moments exist."""

    def __init__(
        self,
        modules: Iterable[nn.Module],
        optimizers: Iterable[torch.optim.Optimizer],
        generator: torch.Generator,
    ):
        tensors: list[torch.Tensor] = []
        for module in modules:
            tensors += [*module.parameters(), *module.buffers()]
        for opt in optimizers:
            for state in opt.state.values():
                tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
        self.tensors = tensors
        self.generator = generator

    def save(self) -> tuple[list[torch.Tensor], torch.Tensor]:
        return [t.detach().clone() for t in self.tensors], self.generator.get_state()

    @torch.no_grad()
    def load(self, saved: tuple[list[torch.Tensor], torch.Tensor]) -> None:
        values, rng = saved
        for t, v in zip(self.tensors, values, strict=True):
            t.copy_(v)
        self.generator.set_state(rng)


def check_against_eager(
    step: Callable[[torch.Tensor, LatentBatch], torch.Tensor],
    replay: Callable[[], torch.Tensor],
    state: StepState,
    real: torch.Tensor,
    latent: LatentBatch,
    tolerance: tuple[float, float],
) -> tuple[torch.Tensor, str | None]:
    """Run one step eagerly (``step`` on ``real`` and ``latent``) and by ``replay`` (the
    graph, its inputs already holding the same batch) from the same state. Returns the
    step's metrics and ``None`` when they agree within ``tolerance``; otherwise the eager
    step's metrics, with the state it leaves, and what differed."""
    before = state.save()
    eager = step(real, latent).clone()
    after_eager = state.save()
    state.load(before)
    graphed = replay().clone()
    rtol, atol = tolerance
    if torch.allclose(graphed, eager, rtol=rtol, atol=atol):
        return graphed, None
    state.load(after_eager)
    worst = float((graphed - eager).abs().max())
    return eager, f"its metrics differed from the eager step's by up to {worst:.3g}"


class CapturedStep:
    """``step`` (an :class:`~infogan.training.step.InfoGANStep` on a GPU) run eagerly for
    :data:`WARMUP` steps, then captured and replayed as one CUDA graph. Returns what the
    step returns (a copy: a replay overwrites the graph's output)."""

    def __init__(
        self,
        step: Callable[[torch.Tensor, LatentBatch], torch.Tensor],
        *,
        modules: Iterable[nn.Module],
        optimizers: Iterable[torch.optim.Optimizer],
        precision: str,
        device: torch.device,
        log: Callable[[str], None] = lambda _msg: None,
    ):
        self.step = step
        self.modules, self.optimizers = tuple(modules), tuple(optimizers)
        self.tolerance = TOLERANCE[precision]
        self.device = device
        self.log = log
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager_only = False  # after a failed capture or check
        self.inputs: tuple[torch.Tensor, LatentBatch] | None = None
        self.output: torch.Tensor | None = None
        # the warm-up and the capture on one stream: libraries set up per stream
        # (cuBLAS's workspaces) do so before the capture, not in it
        self.stream: torch.cuda.Stream | None = None

    @property
    def mode(self) -> str:
        """How the step runs: as a "graph" once captured and checked, else "eager"."""
        return "graph" if self.graph is not None else "eager"

    def __call__(self, real: torch.Tensor, latent: LatentBatch) -> torch.Tensor:
        self.calls += 1
        if self.graph is not None:
            self._fill(real, latent)
            self.graph.replay()
            return self.output.clone()
        if self.eager_only:
            return self.step(real, latent)
        if self.calls <= WARMUP:
            return self._on_side_stream(real, latent)
        return self._capture(real, latent)

    def _fill(self, real: torch.Tensor, latent: LatentBatch) -> None:
        static_real, static_latent = self.inputs
        static_real.copy_(real)
        for mine, given in zip(vars(static_latent).values(), vars(latent).values(), strict=True):
            mine.copy_(given)

    def _on_side_stream(self, real: torch.Tensor, latent: LatentBatch) -> torch.Tensor:
        if self.stream is None:
            self.stream = torch.cuda.Stream(self.device)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            out = self.step(real, latent)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return out

    def _capture(self, real: torch.Tensor, latent: LatentBatch) -> torch.Tensor:
        self.inputs = (real.clone(), LatentBatch(*(t.clone() for t in vars(latent).values())))
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self.stream):
                output = self.step(*self.inputs)
        except Exception as exc:  # any failure to capture: train on eagerly
            self.eager_only = True
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            self.log(f"CUDA graph capture failed ({first}); training on without it")
            return self.step(real, latent)
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        generator = torch.cuda.default_generators[index]
        state = StepState(self.modules, self.optimizers, generator)

        def replay() -> torch.Tensor:
            graph.replay()
            return output

        metrics, problem = check_against_eager(
            self.step, replay, state, real, latent, self.tolerance
        )
        if problem is not None:
            self.eager_only = True
            self.log(f"the CUDA graph of the step was not used: {problem}")
            return metrics
        self.graph, self.output = graph, output
        self.log("training step captured as a CUDA graph (checked against the eager step)")
        return metrics

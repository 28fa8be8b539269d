"""Everything a run is built from: the device and precision, fresh networks and their
Adam optimizers (DDP-wrapped and compiled where asked), the step with its objective
terms, and a checkpoint's state put back into them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from infogan import distributed
from infogan.config import RunConfig
from infogan.distributed import SINGLE, DistContext
from infogan.errors import CheckpointError, ConfigError
from infogan.latent import LatentCode
from infogan.models import build_models
from infogan.training.decay import set_learning_rate
from infogan.training.graph import CapturedStep
from infogan.training.loop import LoopState
from infogan.training.memory import keep_freed_memory
from infogan.training.objectives import build_terms
from infogan.training.step import InfoGANStep


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX tiles), where
    bf16 autocast runs paper28's step about 2.5x faster than fp32; without them oneDNN
    emulates bfloat16 and it is slower than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` made concrete for ``device``: bf16 on a CPU with native bfloat16, fp32
    elsewhere (on a GPU a step of these small nets is bound by kernel launches, and
    bf16 measured no faster); ``fp32`` and ``bf16`` as they are."""
    if name != "auto":
        return name
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


@dataclass
class TrainingParts:
    """Everything one training iteration needs, built the way ``infogan train`` builds it."""

    generator: nn.Module  # the plain modules (what checkpoints hold)
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    code: LatentCode
    step_fn: InfoGANStep | CapturedStep  # DDP wrappers under torchrun; a graph on a GPU


#: devices whose Adam has a fused implementation: one pass over each parameter's
#: memory instead of about ten (measured 5x faster per step on CPU for paper28's
#: 6.4M-weight layers, where it was 13% of a step of paper28 with the paired clustering
#: term; docs/speed.md, 'Fused Adam')
FUSED_ADAM_DEVICES = ("cpu", "cuda")


def make_adam(params, *, lr: float, betas: tuple[float, float], device: torch.device):
    """Adam, fused where ``device`` has the fused implementation. Same update rule as
    the default implementation; only the order of floating-point operations differs.
    The fused one keeps its learning rate in a tensor on ``device``, changed in place
    (:func:`set_learning_rate`), and may be captured in a CUDA graph."""
    if device.type not in FUSED_ADAM_DEVICES:
        return torch.optim.Adam(params, lr=lr, betas=betas)
    # float64 on a CPU: the update is then bitwise the one a plain-number rate gives;
    # CUDA's fused kernel reads a float32 rate
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    rate = torch.tensor(float(lr), dtype=dtype, device=device)
    return torch.optim.Adam(params, lr=rate, betas=betas, fused=True, capturable=True)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state, keeping this optimizer's implementation (fused or
    not, its rate a tensor or a number): that is a property of the machine resuming the
    run, not of the checkpoint."""
    keep = ("fused", "foreach", "capturable", "differentiable", "lr")
    mine = [{k: g[k] for k in keep if k in g} for g in optimizer.param_groups]
    saved_groups = state["param_groups"]
    if len(saved_groups) != len(mine):
        raise ValueError(
            f"the checkpoint's optimizer has {len(saved_groups)} parameter groups, "
            f"this one {len(mine)}"
        )
    groups = [{**saved, **flags} for saved, flags in zip(saved_groups, mine, strict=True)]
    optimizer.load_state_dict({**state, "param_groups": groups})
    for group, saved in zip(optimizer.param_groups, saved_groups, strict=True):
        set_learning_rate(group, float(saved["lr"]))


def check_compiler(device: torch.device) -> None:
    """A ConfigError if ``torch.compile`` cannot build for ``device``: on a CPU it compiles
    C++ with g++ (or the compiler $CXX names)."""
    cxx = os.environ.get("CXX") or "g++"
    if device.type == "cpu" and shutil.which(cxx) is None:
        raise ConfigError(
            f"--compile on a CPU needs the C++ compiler torch.compile builds with ({cxx}, "
            "or one named by $CXX): install it (Debian: apt-get install g++) or drop --compile"
        )


def build_training(
    config: RunConfig,
    device: torch.device | str = "cpu",
    *,
    ctx: DistContext = SINGLE,
    log: Callable[[str], None] = lambda _msg: None,
) -> TrainingParts:
    """Fresh networks (seeded by the config), Adam optimizers, the code and the step.
    On a CPU, malloc is told to keep the memory the step frees for the next step
    (:mod:`infogan.training.memory`); on a GPU cuDNN picks its convolutions by timing
    them (as ``benchmarks/gpu_speed.py`` did) and the step is captured as a CUDA graph
    (:mod:`infogan.training.graph`; ``log`` hears whether it was)."""
    t = config.train
    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_memory()
    if device.type == "cuda":  # every step has the same shapes: let cuDNN time its choices
        torch.backends.cudnn.benchmark = True
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    torch.manual_seed(t.seed)
    generator, discriminator = build_models(config)
    if ctx.enabled and t.sync_bn:
        generator = distributed.convert_batchnorm(generator, device)
        discriminator = distributed.convert_batchnorm(discriminator, device)
    generator.to(device, memory_format=memory_format)
    discriminator.to(device, memory_format=memory_format)
    betas = (t.beta1, t.beta2)
    opt_g = make_adam(generator.parameters(), lr=t.lr_g, betas=betas, device=device)
    opt_d = make_adam(discriminator.parameters(), lr=t.lr_d, betas=betas, device=device)
    code = LatentCode(config.latent)
    g_train, d_train = generator, discriminator
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index] if device.type == "cuda" else None
        g_train = DDP(generator, device_ids=ids)
        d_train = DDP(discriminator, device_ids=ids)
    g_plain, d_plain = generator, discriminator
    if t.compile:
        g_plain, d_plain = torch.compile(generator), torch.compile(discriminator)
        if ctx.enabled:
            g_train, d_train = torch.compile(g_train), torch.compile(d_train)
        else:
            g_train, d_train = g_plain, d_plain
    info, terms = build_terms(config)
    step_fn = InfoGANStep(
        generator=g_train,
        discriminator=d_train,
        opt_g=opt_g,
        opt_d=opt_d,
        code=code,
        info=info,
        terms=terms,
        plain_generator=g_plain,
        plain_discriminator=d_plain,
        precision=resolve_precision(t.precision, device),
        ctx=ctx,
    )
    if device.type == "cuda" and t.cuda_graph and not ctx.enabled and not t.compile:
        step_fn = CapturedStep(
            step_fn,
            modules=(generator, discriminator),
            optimizers=(opt_g, opt_d),
            precision=step_fn.precision,
            device=device,
            log=log,
        )
    return TrainingParts(generator, discriminator, opt_g, opt_d, code, step_fn)


def restore(state: dict, *, generator, discriminator, opt_g, opt_d, rng, device) -> LoopState:
    try:
        generator.load_state_dict(state["generator"], strict=True)
        discriminator.load_state_dict(state["discriminator"], strict=True)
        load_optimizer_state(opt_g, state["opt_g"])
        load_optimizer_state(opt_d, state["opt_d"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise CheckpointError(f"checkpoint does not fit this run's networks: {first}") from None
    if state.get("rng_device", "cpu").split(":")[0] == device.type:
        rng.set_state(state["rng_state"])
    else:  # RNG streams differ between devices: continue, but not bit-identically
        rng.manual_seed(int(state["config"]["train"]["seed"]) + int(state["step"]))
    if isinstance(state.get("torch_rng_state"), torch.Tensor):
        torch.set_rng_state(state["torch_rng_state"])
    order = state["order"]
    return LoopState(
        step=int(state["step"]),
        epoch=int(state["epoch"]),
        position=int(state["position"]),
        order=order.to(rng.device) if isinstance(order, torch.Tensor) else None,
    )

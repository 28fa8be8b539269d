"""One InfoGAN step through the library, in one process or under torchrun (used by tests).

In float64, with SGD instead of Adam: its update is linear in the gradient, so the
change of each parameter compares the gradients themselves (Adam's first, sign-like step
would turn last-bit differences of near-zero gradients into full-size ones). The file
holds the networks before and after the step.

    python tests/ddp_one_step.py OUT_DIR DATA_DIR PRESET...
    torchrun --standalone --nproc_per_node=2 tests/ddp_one_step.py OUT_DIR DATA_DIR PRESET...

writes OUT_DIR/PRESET.pt for each preset.
"""

import sys

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from infogan import distributed
from infogan.config import get_preset
from infogan.data import load_mnist
from infogan.latent import LatentCode
from infogan.models import build_models
from infogan.training.loop import train_loop
from infogan.training.objectives import build_terms
from infogan.training.step import InfoGANStep


def _copy(state: dict) -> dict:
    return {k: v.detach().clone() for k, v in state.items()}


def main(out_dir: str, data_dir: str, presets: list[str]) -> None:
    torch.set_default_dtype(torch.float64)  # rounding out of the way: compare the maths
    torch.set_num_threads(1)
    ctx = distributed.from_environment()
    device = distributed.setup(ctx, torch.device("cpu"))
    for preset in presets:
        one_step(f"{out_dir}/{preset}.pt", data_dir, preset, ctx, device)
    distributed.teardown(ctx)


def one_step(out: str, data_dir: str, preset: str, ctx, device) -> None:
    # batch 64 with the clustering term: smaller, some of the 50x50 over-clustering joint's
    # entries sit at its 1e-12 floor, whose gradient flips with the last bit
    batch = 64 if get_preset(preset).train.lambda_cluster else 32
    config = get_preset(preset).with_train(batch_size=batch, seed=5)
    images, _ = load_mnist(data_dir, split="test", image_size=config.data.image_size)
    torch.manual_seed(5)
    g, d = build_models(config)
    g_train, d_train = g, d
    if ctx.enabled:
        g = distributed.convert_batchnorm(g, device)
        d = distributed.convert_batchnorm(d, device)
        g_train, d_train = DDP(g), DDP(d)
    info, terms = build_terms(config)
    step = InfoGANStep(
        generator=g_train,
        discriminator=d_train,
        opt_g=torch.optim.SGD(g.parameters(), lr=0.01),
        opt_d=torch.optim.SGD(d.parameters(), lr=0.01),
        code=LatentCode(config.latent),
        info=info,
        terms=terms,
        plain_generator=g,
        plain_discriminator=d,
        ctx=ctx,
    )
    before = {"generator": _copy(g.state_dict()), "discriminator": _copy(d.state_dict())}
    train_loop(
        step_fn=step,
        images=images,
        code=step.code,
        batch_size=batch,
        epochs=1,
        max_steps=1,
        rng=torch.Generator().manual_seed(5),
        progress=False,
        dist_ctx=ctx,
    )
    if ctx.is_main:
        after = {"generator": g.state_dict(), "discriminator": d.state_dict()}
        torch.save({"before": before, "after": after}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])

"""Screen settings of the paired clustering term alone, on the validation split.

A full cluster28 run costs about 20 minutes on 2 CPU cores; this trains only what the
term trains (D's trunk and Q's categorical head, paper28's discriminator, D's Adam
settings) on the first 55,000 training digits, with no generator, at about 0.45 s a
step on one core. Every ``--eval-every`` steps it prints the Hungarian-matched accuracy
of Q's category on the last 5,000 training digits. It ranks settings of the term (how
far each paired copy is turned, moved, scaled and thickened, and the balance weight)
before they are tried in full: the GAN's own contribution is not in it, so its
accuracies are lower than a full run's at the same step.

    python benchmarks/cluster_screen.py --steps 600                      # mild, balance 1
    python benchmarks/cluster_screen.py --steps 600 --degrees 25 --shift 0.12 \\
        --scale 0.15 --thickness 0.7 --balance 1.5                      # cluster28's
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from infogan.augment import RESLANT, random_affine, random_thickness
from infogan.data import default_data_dir, fetch_dataset, load_idx_arrays, to_training_tensor
from infogan.data import parse_dataset
from infogan.errors import InfoGANError
from infogan.evaluate import metrics
from infogan.losses import paired_cluster_loss
from infogan.models.paper28 import Discriminator28


def val_codes(D: Discriminator28, images: torch.Tensor) -> np.ndarray:
    """Q's category of each of ``images`` (N, 1, 28, 28)."""
    D.eval()
    try:
        with torch.no_grad():
            codes = torch.cat(
                [D(images[i : i + 1000])[1].argmax(1) for i in range(0, len(images), 1000)]
            )
    finally:
        D.train()
    return codes.numpy()


def val_accuracy(D: Discriminator28, images: torch.Tensor, labels) -> float:
    """Hungarian-matched accuracy of Q's category on labelled ``images`` (N, 1, 28, 28)."""
    codes = val_codes(D, images)
    return metrics.hungarian_accuracy(codes, labels, num_codes=10, num_labels=10)[0]


def code_table(codes: np.ndarray, labels: np.ndarray) -> list[str]:
    """One line per category: how many digits it holds and its three commonest labels."""
    lines = []
    for k in range(10):
        counts = np.bincount(labels[codes == k], minlength=10)
        top = [f"{d}:{counts[d]}" for d in np.argsort(-counts, kind="stable")[:3] if counts[d]]
        lines.append(f"code {k}: {int(counts.sum()):4d} digits, {' '.join(top)}")
    return lines


def head_table(D, subs, probe, val, val_labels, args) -> str:
    """Each head's validation accuracy beside its label-free scores on ``probe``: the
    mutual information of the categories of an image and a changed copy, and the
    largest cross-view ratio of two codes (see :mod:`infogan.resplit`)."""
    D.eval()
    gen = torch.Generator().manual_seed(0)
    try:
        with torch.no_grad():
            moved = random_affine(
                probe, degrees=args.degrees, shift=args.shift, scale=args.scale, generator=gen
            )
            if args.thickness > 0:
                moved = random_thickness(moved, amount=args.thickness, generator=gen)

            def all_heads(x):
                hidden = D.q_head[:3](D.trunk(x))
                return [D.q_head[3](hidden)[:, :10]] + [s(hidden) for s in subs]

            pa, pb = all_heads(probe), all_heads(moved)
            hv = D.q_head[:3](D.trunk(val))
            val_heads = [D.q_head[3](hv)[:, :10]] + [s(hv) for s in subs]
    finally:
        D.train()
    rows = []
    for h, (a, b, v) in enumerate(zip(pa, pb, val_heads, strict=True)):
        acc = metrics.hungarian_accuracy(
            v.argmax(1).numpy(), val_labels, num_codes=10, num_labels=10
        )[0]
        joint = a.softmax(1).T @ b.softmax(1) / len(a)
        joint = ((joint + joint.T) / 2).clamp_min(1e-12)
        m = joint.sum(1)
        mi = float((joint * (joint.log() - (m[:, None] * m[None, :]).log())).sum())
        diag = joint.diagonal()
        ratio = (joint / torch.minimum(diag[:, None], diag[None, :])).fill_diagonal_(0)
        rows.append(f"  head {h}: acc {acc:.3f}  MI {mi:.3f}  max ratio {float(ratio.max()):.3f}")
    return "\n".join(rows)


def screen(args: argparse.Namespace) -> list[tuple[int, float]]:
    """Train with the term alone; the (step, validation accuracy) curve."""
    torch.manual_seed(args.seed)
    dataset = parse_dataset("mnist")
    data_dir = fetch_dataset(dataset, args.data_dir or default_data_dir())
    raw, labels = load_idx_arrays(dataset, data_dir, "train")
    images = to_training_tensor(raw, 28)
    train, val, val_labels = (
        images[: -args.holdout],
        images[-args.holdout :],
        labels[-args.holdout :],
    )
    D = Discriminator28()
    # IIC's over-clustering head: more categories than digits, on Q's hidden layer
    over = torch.nn.Linear(128, args.overcluster) if args.overcluster else None
    # IIC's sub-heads: more 10-way heads on Q's hidden layer, each trained by the term
    subs = torch.nn.ModuleList(torch.nn.Linear(128, 10) for _ in range(args.subheads - 1))
    params = list(D.parameters()) + (list(over.parameters()) if over else [])
    params += list(subs.parameters())
    opt = torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

    def heads(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden = D.q_head[:3](D.trunk(images))  # (B, 128)
        cat = D.q_head[3](hidden)[:, : D.num_categories]
        return cat, (over(hidden) if over else None), [s(hidden) for s in subs]

    curve = []
    for step in range(1, args.steps + 1):
        real = train[torch.randint(len(train), (args.batch_size,))]  # (B, 1, 28, 28)
        cat_a, over_a, subs_a = heads(real)
        loss = 0.0
        for _copy in range(args.copies):  # each a separately moved copy of the batch
            moved = random_affine(
                real,
                degrees=args.degrees,
                shift=args.shift,
                scale=args.scale,
                shear=args.shear,
                squeeze=args.squeeze,
                reslant=RESLANT if args.reslant else None,
            )
            if args.thickness > 0:
                moved = random_thickness(moved, amount=args.thickness)
            cat_b, over_b, subs_b = heads(moved)
            loss = loss + paired_cluster_loss(cat_a, cat_b, balance=args.balance) / args.copies
            for sa, sb in zip(subs_a, subs_b, strict=True):
                loss = loss + paired_cluster_loss(sa, sb, balance=args.balance) / args.copies
            if over:
                over_loss = paired_cluster_loss(over_a, over_b, balance=args.balance)
                loss = loss + args.overcluster_weight * over_loss / args.copies
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            curve.append((step, round(val_accuracy(D, val, val_labels), 4)))
            print(f"step {step}: validation accuracy {curve[-1][1]:.4f}", flush=True)
            if subs:
                print(head_table(D, subs, train[:2048], val, val_labels, args), flush=True)
    print("\n".join(code_table(val_codes(D, val), np.asarray(val_labels))))
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--degrees", type=float, default=10.0, help="largest turn")
    parser.add_argument("--shift", type=float, default=0.1, help="largest move, of the size")
    parser.add_argument("--scale", type=float, default=0.1, help="largest change of size")
    parser.add_argument("--shear", type=float, default=0.0, help="largest slant (x per y)")
    parser.add_argument("--squeeze", type=float, default=0.0, help="largest change of width")
    parser.add_argument(
        "--reslant", action="store_true", help="give each copy a random slant (not --shear)"
    )
    parser.add_argument("--thickness", type=float, default=0.0, help="largest stroke change")
    parser.add_argument("--balance", type=float, default=1.0, help="weight of equal use")
    parser.add_argument(
        "--overcluster", type=int, default=0, help="categories of an extra head (0: none)"
    )
    parser.add_argument("--overcluster-weight", type=float, default=1.0)
    parser.add_argument("--subheads", type=int, default=1, help="10-way heads (IIC sub-heads)")
    parser.add_argument("--copies", type=int, default=1, help="moved copies of each image")
    parser.add_argument("--holdout", type=int, default=5000, help="validation digits")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: run several)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="append the result as a line")
    args = parser.parse_args(argv)
    positive = (args.steps, args.batch_size - 1, args.holdout, args.eval_every, args.threads)
    if min(*positive, args.copies, args.subheads) < 1:
        parser.error(
            "--steps, --holdout, --eval-every, --threads, --copies and --subheads must be "
            "positive, --batch-size >= 2"
        )
    sizes = (args.degrees, args.shift, args.scale, args.shear, args.squeeze, args.thickness)
    if args.balance <= 0 or min(sizes) < 0 or max(args.scale, args.squeeze) >= 1:
        parser.error("--balance must be positive, the change sizes >= 0, --scale and --squeeze < 1")
    if args.overcluster == 1 or args.overcluster < 0 or args.overcluster_weight < 0:
        parser.error("--overcluster must be 0 or at least 2, its weight >= 0")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    try:
        curve = screen(args)
    except InfoGANError as exc:
        print(f"cluster_screen.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cluster_screen.py: interrupted", file=sys.stderr)
        return 130
    settings = {
        k: getattr(args, k)
        for k in ("seed", "batch_size", "degrees", "shift", "scale", "thickness", "balance")
    }
    settings.update(
        {k: getattr(args, k) for k in ("shear", "squeeze", "reslant") if getattr(args, k)}
    )
    if args.copies > 1:
        settings["copies"] = args.copies
    if args.subheads > 1:
        settings["subheads"] = args.subheads
    if args.overcluster:
        settings.update(overcluster=args.overcluster, overcluster_weight=args.overcluster_weight)
    result = {"settings": settings, "curve": curve, "seconds": round(time.perf_counter() - started)}
    print(json.dumps(result))
    if args.json:
        with args.json.open("a") as f:
            f.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The paper's 28x28 network, its Gaussian Q, the clustering term and the cluster28 preset."""

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infogan.augment import (
    AUGMENTS,
    RESLANT,
    augment,
    random_affine,
    random_thickness,
    slant,
    turn,
)
from infogan.config import (
    CLUSTER28,
    CLUSTER_AUGMENTS,
    FACTORS28,
    PAPER28,
    RESTYLE28,
    TILT28,
    TILTWIDTH28,
    get_preset,
)
from infogan.data import load_dataset
from infogan.errors import ConfigError
from infogan.losses import (
    cluster_loss,
    continuous_loss_per_code,
    gaussian_nll,
    info_loss,
    paired_cluster_loss,
)
from infogan.models import Discriminator28, Generator28, build_models
from infogan.train import METRIC_NAMES, build_training, resolve_precision
from tests_helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference_loop import ReferenceStep  # noqa: E402
from sweep import accuracy_at  # noqa: E402


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def record_inputs(module: torch.nn.Module) -> list[torch.Tensor]:
    """From now on, a copy of the input of each of ``module``'s forward calls."""
    seen = []
    original = module.forward

    def recording_forward(inputs, *args, **kwargs):
        seen.append(inputs.detach().clone())
        return original(inputs, *args, **kwargs)

    module.forward = recording_forward
    return seen


def real_batch_and_parts(mnist_dir: Path, **train):
    """16 real test digits at 28x28, and restyle28's training parts with ``train`` changed."""
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    config = RESTYLE28.with_train(channels_last=False, precision="fp32", **train).validate()
    return to_training_tensor(digits[:16], 28), build_training(config)


def record_calls(monkeypatch, name: str) -> list:
    """Has the training step's ``name`` (a change of images by per-image amounts, such
    as ``turn``) also record (input, amounts, output) of each call in the list returned."""
    original = getattr(sys.modules["infogan.train"], name)
    calls = []

    def recording(images, amounts):
        out = original(images, amounts)
        calls.append((images.detach().clone(), amounts.clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(sys.modules["infogan.train"], name, recording)
    return calls


def copies_read_by_q(mnist_dir: Path, **train):
    """One restyle28 step with ``train`` changed and 4 copies of each kind: the batch's
    first 4 generated images, D's two inputs of 8 copies (D's step, then G's), the
    training parts and the step's codes."""
    real, parts = real_batch_and_parts(mnist_dir, turn_samples=4, **train)
    shown = record_inputs(parts.discriminator)
    made = []
    parts.generator.register_forward_hook(lambda m, i, out: made.append(out.detach().clone()))
    latent = parts.code.sample(16, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(parts.step_fn(real, latent)).all()
    copies = [x for x in shown if len(x) == 8]
    assert len(copies) == 2
    return made[0][:4], copies, parts, latent


def test_paper28_layers_have_the_papers_sizes():
    g, d = build_models(PAPER28)
    assert isinstance(g, Generator28) and isinstance(d, Discriminator28)
    # G: Linear 74->1024 (no bias: BN follows), BN, Linear 1024->7*7*128, BN,
    #    ConvT 128->64 4x4, BN, ConvT 64->1 4x4 with bias
    assert count(g) == 74 * 1024 + 2 * 1024 + 1024 * 6272 + 2 * 6272 + 128 * 64 * 16 + 2 * 64 + (
        64 * 16 + 1
    )
    # D trunk: Conv 1->64 (bias), Conv 64->128, BN, Linear 6272->1024, BN; D head Linear 1;
    # Q: Linear 1024->128, BN, Linear 128->(10 logits + 2 means + 2 log-stds)
    trunk = (16 * 64 + 64) + 64 * 128 * 16 + 2 * 128 + 6272 * 1024 + 2 * 1024
    q = 1024 * 128 + 2 * 128 + 128 * 14 + 14
    assert count(d) == trunk + 1025 + q
    assert PAPER28.latent.dim == 74 and PAPER28.data.image_size == 28


def test_paper28_shapes_and_ranges():
    g, d = build_models(PAPER28)
    images = g(torch.randn(8, 74))
    assert images.shape == (8, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    logit, cat, cont = d(images)
    assert logit.shape == (8,) and cat.shape == (8, 10) and cont.shape == (8, 4)
    log_std = cont[:, 2:]
    assert (log_std >= -5).all() and (log_std <= 2).all()


def test_gaussian_nll_is_the_normal_log_likelihood():
    gen = torch.Generator().manual_seed(0)
    mean, log_std, target = (torch.randn(32, 2, generator=gen) for _ in range(3))
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(target).mean()
    assert gaussian_nll(mean, log_std, target).item() == pytest.approx(expected.item(), rel=1e-6)
    cats = torch.randint(10, (32,), generator=gen)
    logits = torch.randn(32, 10, generator=gen)
    # the width of Q's output picks the continuous loss: 2C columns = Gaussian, C = MSE
    total, ce, cont = info_loss(
        logits, cats, torch.cat([mean, log_std], 1), target, lambda_cont=0.1
    )
    assert cont.item() == pytest.approx(expected.item(), rel=1e-6)
    assert total.item() == pytest.approx(ce.item() + 0.1 * expected.item(), rel=1e-6)
    _, _, mse = info_loss(logits, cats, mean, target)
    assert mse.item() == pytest.approx(((mean - target) ** 2).mean().item(), rel=1e-6)


def test_cluster_losses_reach_minus_ln_k_only_for_confident_balanced_agreeing_views():
    k = 10
    confident = torch.eye(k).repeat(8, 1) * 30  # each category equally often, sure of each
    assert cluster_loss(confident).item() == pytest.approx(-math.log(k), abs=1e-4)
    assert cluster_loss(torch.zeros(80, k)).item() == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.zeros(80, k)
    collapsed[:, 3] = 30  # everything in one category: no information
    assert cluster_loss(collapsed).item() == pytest.approx(0.0, abs=1e-4)
    assert paired_cluster_loss(confident, confident).item() == pytest.approx(-math.log(k), abs=1e-3)
    shuffled = confident[torch.randperm(80, generator=torch.Generator().manual_seed(0))]
    # views that disagree at random share little information
    assert paired_cluster_loss(confident, shuffled).item() > -0.5


def test_random_affine_moves_digits_but_keeps_the_background(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:64], 28)
    same = random_affine(x, degrees=0, shift=0, scale=0)
    assert (same - x).abs().max() < 1e-5
    moved = random_affine(x, generator=torch.Generator().manual_seed(0))
    assert moved.shape == x.shape
    assert (moved - x).abs().mean() > 0.01  # the digits moved
    corners = moved[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners < -0.99).all()  # the border repeats MNIST's black background


def test_random_affine_slants_and_squeezes_a_vertical_bar():
    bar = torch.full((1, 1, 28, 28), -1.0)
    bar[..., 4:24, 13:15] = 1.0  # a vertical stroke, 2 pixels wide, 20 high
    ink = lambda img: img > 0  # noqa: E731

    def columns(img):  # the leftmost and rightmost inked column in the top and bottom rows
        top, bottom = ink(img)[0, 0, 6], ink(img)[0, 0, 21]
        return top.nonzero().flatten(), bottom.nonzero().flatten()

    plain = dict(degrees=0, shift=0, scale=0)
    slanted = random_affine(bar, **plain, shear=0.3, generator=torch.Generator().manual_seed(1))
    top, bottom = columns(slanted)
    assert abs(top.float().mean() - bottom.float().mean()) >= 2  # top and bottom moved apart
    assert ink(slanted).sum() == pytest.approx(ink(bar).sum(), rel=0.25)  # same stroke

    box = torch.full((1, 1, 28, 28), -1.0)
    box[..., 4:24, 9:19] = 1.0  # 10 pixels wide, 20 high
    widths = set()
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        squeezed = ink(random_affine(box, **plain, squeeze=0.25, generator=g))[0, 0]
        assert squeezed[:, 14].sum() == 20  # the height is kept
        assert squeezed[6].sum() == squeezed[21].sum()  # upright: the same width everywhere
        widths.add(squeezed[14].sum().item())
    assert min(widths) < 10 < max(widths) and max(widths) <= 13  # narrower and wider

    # shear and squeeze draw their own random numbers, so the named strengths without
    # them change exactly as before
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(random_affine(bar, generator=g1), random_affine(bar, generator=g2))


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


def test_cluster28_is_paper28_plus_the_paired_clustering_term():
    assert get_preset("cluster28") is CLUSTER28
    assert (CLUSTER28.model, CLUSTER28.latent, CLUSTER28.data) == (
        PAPER28.model,
        PAPER28.latent,
        PAPER28.data,
    )
    assert CLUSTER28.train.lambda_cluster > 0 and CLUSTER28.train.cluster_pairs
    assert PAPER28.train.lambda_cluster == 0  # paper28 stays the paper's


def test_restyle28_is_cluster28_plus_the_fourth_rounds_changes():
    assert get_preset("restyle28") is RESTYLE28
    assert (RESTYLE28.latent, RESTYLE28.data) == (CLUSTER28.latent, CLUSTER28.data)
    assert RESTYLE28.model == dataclasses.replace(CLUSTER28.model, overcluster=50, separate_q=True)
    changed = {
        f.name
        for f in dataclasses.fields(RESTYLE28.train)
        if getattr(RESTYLE28.train, f.name) != getattr(CLUSTER28.train, f.name)
    }
    assert changed == {"cluster_augment", "cluster_balance", "cluster_reseed"}
    t = RESTYLE28.train
    assert (t.cluster_augment, t.cluster_balance, t.cluster_reseed) == ("restyle", 1.5, 500)
    assert CLUSTER28.train.cluster_augment == "mild" and CLUSTER28.model.overcluster == 0


def test_holdout_keeps_the_last_training_digits_out(mnist_dir):
    data = PAPER28.with_data(holdout=5000).data
    images = load_dataset(data, mnist_dir, image_size=28)
    assert images.shape == (55000, 1, 28, 28)
    every = load_dataset(PAPER28.data, mnist_dir, image_size=28)
    assert torch.equal(images, every[:55000])
    with pytest.raises(ConfigError, match="holdout"):
        load_dataset(PAPER28.with_data(holdout=60000).data, mnist_dir, image_size=28)


def test_config_refuses_a_size_the_architecture_cannot_make():
    with pytest.raises(ConfigError, match="28x28"):
        PAPER28.with_data(image_size=64).validate()
    with pytest.raises(ConfigError, match="precision"):
        PAPER28.with_train(precision="fp16").validate()


def test_cluster28_trains_from_the_cli_and_its_q_reads_real_digits(tmp_path, mnist_dir):
    run = tmp_path / "run"
    result = run_cli(
        "train",
        "--preset",
        "cluster28",
        "--max-steps",
        "4",
        "--holdout",
        "1000",
        "--run-dir",
        str(run),
        "--data-dir",
        str(mnist_dir),
        "--no-progress",
        "--no-report",
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["lambda_cluster"] == 3.0 and config["data"]["holdout"] == 1000
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5
    from infogan.api import load_model

    model = load_model(run)
    cat, cont = model.q_predict(torch.zeros(3, 1, 28, 28))
    assert cat.shape == (3, 10) and cont.shape == (3, 2)  # the Gaussian's means only
    assert model.generate([0, 1, 2]).shape == (3, 1, 28, 28)

    # columns ordered by the digit each code was matched to
    args = ("generate", str(run), "--rows", "3", "--vary", "c1")
    refused = run_cli(*args, "--categories", "by-digit", "--out", str(tmp_path / "a.png"))
    assert refused.returncode == 1 and "run `infogan eval" in refused.stderr
    mapping = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # code -> digit
    (run / "eval.json").write_text(json.dumps({"category_to_digit": mapping}))
    by_digit = run_cli(*args, "--categories", "by-digit", "--out", str(tmp_path / "a.png"))
    assert by_digit.returncode == 0, by_digit.stderr
    order = ",".join(str(mapping.index(d)) for d in range(10))  # 3,1,6,0,2,4,7,9,8,5
    explicit = run_cli(*args, "--categories", order, "--out", str(tmp_path / "b.png"))
    assert explicit.returncode == 0, explicit.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    from PIL import Image

    grid = np.asarray(Image.open(tmp_path / "a.png").convert("L"), dtype=np.float64)
    assert grid.shape[0] < grid.shape[1]  # 3 rows of 10
    rows = [grid[2 + i * 30 : 30 + i * 30] for i in range(3)]
    assert not np.array_equal(rows[0], rows[2])  # only c1 differs (-1 vs +1), noise is 0


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
    assert PAPER28.train.precision == RESTYLE28.train.precision == "auto"


def test_cli_rejects_an_unknown_precision_in_one_line(tmp_path):
    result = run_cli(
        "train", "--preset", "paper28", "--precision", "fp8", "--run-dir", str(tmp_path / "r")
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "infogan: error: --precision must be one of auto, fp32, bf16, got 'fp8'"
    )


def test_quality_script_reports_each_seed_and_the_summary(tmp_path, mnist_dir):
    out = tmp_path / "q"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "quality.py"),
            "--preset",
            "cluster28",
            "--seeds",
            "1",
            "--split",
            "val",
            "--holdout",
            "500",
            "--max-steps",
            "4",
            "--eval-every",
            "2",
            "--out",
            str(out),
            "--data-dir",
            str(mnist_dir),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "seed 0: acc " in result.stdout
    assert "cluster28 (val, 1 seeds): accuracy median" in result.stdout
    report = json.loads((out / "quality.json").read_text())
    seed = report["seeds"][0]
    assert [p["step"] for p in seed["curve"]] == [2, 4]
    assert 0 <= seed["unsupervised_accuracy"] <= 1
    assert set(seed["codes"]) == {"c1", "c2"}
    assert accuracy_at(seed["curve"], 3) == seed["curve"][0]["accuracy"]
    assert accuracy_at(seed["curve"], 5) is None

    # --merge joins the seeds of reports of one setting, also one written before an
    # option existed (it ran with the option's default), and refuses another setting
    older = json.loads(json.dumps(report))
    older["seeds"][0]["seed"] = 1
    del older["config"]["train"]["tilt_code"]
    other = json.loads(json.dumps(older))
    other["config"]["train"]["lambda_cluster"] += 1
    for name, data in (("older", older), ("other", other)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))

    def merge(*names):
        paths = [str(out / "quality.json"), *(str(tmp_path / f"{n}.json") for n in names)]
        command = [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--merge", *paths]
        command += ["--json", str(tmp_path / "all.json")]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    merged = merge("older")
    assert merged.returncode == 0, merged.stderr
    assert "cluster28 (val, 2 seeds)" in merged.stdout
    assert [s["seed"] for s in json.loads((tmp_path / "all.json").read_text())["seeds"]] == [0, 1]
    refused = merge("other")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("other.json: another preset, split or setting")


def test_random_thickness_thickens_and_thins_strokes_only(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:64], 28)
    assert torch.equal(random_thickness(x, amount=0.0), x)
    changed = random_thickness(x, amount=1.0, generator=torch.Generator().manual_seed(0))
    ink_change = (changed - x).sum(dim=(1, 2, 3))
    assert (ink_change > 1).any() and (ink_change < -1).any()  # both directions drawn
    assert changed.min() >= -1 and changed.max() <= 1
    corners = changed[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners < -0.99).all()  # the background stays black


def test_named_augments_keep_shape_and_differ_in_strength(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:256], 28)
    assert set(AUGMENTS) == set(CLUSTER_AUGMENTS)
    change = {}
    for name in AUGMENTS:
        out = augment(x, name, generator=torch.Generator().manual_seed(0))
        assert out.shape == x.shape
        change[name] = (out - x).abs().mean().item()
    assert change["shape"] > change["strong"] > change["geometric"] > change["mild"] > 0.01
    assert change["restyle"] > change["strong"]


def test_slant_reads_a_leaning_bar_and_reslant_forgets_the_original_slant(mnist_dir):
    from infogan.augment import RESLANT, slant
    from infogan.data import load_mnist_arrays, to_training_tensor

    bar = -torch.ones(3, 1, 28, 28)
    for i, lean in enumerate((0.0, 0.25, -0.4)):  # x moves by `lean` per unit of y
        for row in range(4, 24):
            col = round(13.5 + lean * (row - 13.5))
            bar[i, 0, row, col : col + 2] = 1.0
    assert slant(bar).tolist() == pytest.approx([0.0, 0.25, -0.4], abs=0.03)
    digits, _ = load_mnist_arrays(mnist_dir, "test")
    x = to_training_tensor(digits[:512], 28)
    before = slant(x)
    moved = random_affine(
        x, degrees=0, shift=0, scale=0, reslant=RESLANT, generator=torch.Generator().manual_seed(0)
    )
    after = slant(moved)
    # each copy's slant is drawn from the range, whatever the digit's own was
    assert (
        before.std() > 0.2 and abs(float(torch.corrcoef(torch.stack([before, after]))[0, 1])) < 0.15
    )
    assert RESLANT[0] - 0.1 < after.min() and after.max() < RESLANT[1] + 0.1
    assert (moved - x).abs().mean() > 0.01
    assert (moved[:, :, [0, 0, -1, -1], [0, -1, 0, -1]] < -0.99).all()  # background stays


def test_cluster_balance_weighs_equal_use_of_the_categories():
    k = 10
    confident = torch.eye(k).repeat(8, 1) * 30.0  # every category used equally, confidently
    for balance in (1.0, 2.0):
        expected = -(2 * balance - 1) * math.log(k)
        loss = paired_cluster_loss(confident, confident, balance=balance)
        assert loss.item() == pytest.approx(expected, abs=1e-3)
    # two categories merged into one: the stronger balance penalises it more
    merged = confident.clone()
    merged[merged[:, 1] > 0, 0] = 30.0
    merged[:, 1] = 0.0
    gap = {}
    for b in (1.0, 2.0):
        worse = paired_cluster_loss(merged, merged, balance=b)
        gap[b] = (worse - paired_cluster_loss(confident, confident, balance=b)).item()
    assert gap[2.0] > gap[1.0] > 0


def test_cluster_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="--cluster-augment must be one of mild, geometric"):
        CLUSTER28.with_train(cluster_augment="wild").validate()
    with pytest.raises(ConfigError, match="--cluster-balance must be a positive"):
        CLUSTER28.with_train(cluster_balance=0.0).validate()


def test_cluster_options_from_the_cli_are_recorded_and_fixed_on_resume(tmp_path, mnist_dir):
    run = tmp_path / "run"
    common = ("--run-dir", str(run), "--data-dir", str(mnist_dir), "--no-progress", "--no-report")
    first = run_cli(
        "train",
        "--preset",
        "paper28",
        "--batch-size",
        "16",
        "--max-steps",
        "2",
        "--lambda-cluster",
        "1",
        "--cluster-pairs",
        "--cluster-augment",
        "strong",
        "--cluster-balance",
        "2",
        *common,
    )
    assert first.returncode == 0, first.stderr
    train = json.loads((run / "config.json").read_text())["train"]
    assert (train["cluster_augment"], train["cluster_balance"]) == ("strong", 2.0)
    changed = run_cli(
        "train", "--resume", str(run), "--cluster-balance", "1", "--data-dir", str(mnist_dir)
    )
    assert changed.returncode != 0
    assert "cluster-balance" in changed.stderr and "Traceback" not in changed.stderr


def test_cluster_screen_trains_the_term_alone_and_measures_on_validation(tmp_path, mnist_dir):
    from cluster_screen import main as screen

    out = tmp_path / "screen.jsonl"
    common = ["--data-dir", str(mnist_dir), "--json", str(out), "--eval-every", "2"]
    assert screen(["--steps", "3", "--thickness", "0.7", "--balance", "1.5", *common]) == 0
    result = json.loads(out.read_text())
    assert [step for step, _ in result["curve"]] == [2, 3]
    assert all(0.1 <= acc <= 1 for _, acc in result["curve"])  # ten codes: at least chance
    assert result["settings"]["thickness"] == 0.7 and result["settings"]["balance"] == 1.5
    assert "copies" not in result["settings"] and "overcluster" not in result["settings"]
    # an over-clustering head and two moved copies per digit: trained, recorded, measured
    assert screen(["--steps", "2", "--overcluster", "20", "--copies", "2", *common]) == 0
    result = json.loads(out.read_text().splitlines()[-1])
    assert result["settings"]["overcluster"] == 20 and result["settings"]["copies"] == 2
    assert all(0.1 <= acc <= 1 for _, acc in result["curve"])
    for bad in (["--balance", "0"], ["--overcluster", "1"], ["--copies", "0"]):
        with pytest.raises(SystemExit):
            screen([*bad, *common])


def test_q_cat_off_fakes_leaves_the_categorical_head_to_real_digits(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    heads = {}
    for on_fakes in (True, False):
        torch.manual_seed(0)
        config = CLUSTER28.with_train(channels_last=False, q_cat_on_fakes=on_fakes)
        parts = build_training(config.validate())
        latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
        torch.manual_seed(2)  # the same random copies of the real digits
        parts.step_fn(real, latent)
        heads[on_fakes] = parts.discriminator.q_head[-1].weight.detach().clone()  # (K + 2C, 128)
    k = CLUSTER28.latent.num_categories
    # the continuous rows see the same gradient either way (Adam's first step is its sign)
    assert torch.allclose(heads[True][k:], heads[False][k:], atol=1e-7)
    assert not torch.allclose(heads[True][:k], heads[False][:k], atol=1e-7)
    with pytest.raises(ConfigError, match="--no-q-cat-on-fakes needs --lambda-cluster"):
        PAPER28.with_train(q_cat_on_fakes=False).validate()


def test_cluster_copies_pair_each_real_image_with_several_changed_copies(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    config = CLUSTER28.with_train(channels_last=False, cluster_augment="strong").validate()
    parts = build_training(config)
    step = parts.step_fn
    D = parts.discriminator
    moved = []
    original = D.forward

    def counting_forward(images):
        moved.append(images.shape[0])
        return original(images)

    D.forward = counting_forward
    latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
    step.cluster_copies = 3
    step(real, latent)
    # D sees the real batch, the fakes, three changed copies, the G phase's fakes and the
    # measuring pass's
    assert len(moved) == 2 + 3 + 2
    with pytest.raises(ConfigError, match="--cluster-copies must be a positive integer"):
        CLUSTER28.with_train(cluster_copies=0).validate()
    with pytest.raises(ConfigError, match="--cluster-copies needs --cluster-pairs"):
        PAPER28.with_train(lambda_cluster=1.0, cluster_copies=2).validate()


def test_augment_fakes_teaches_q_the_code_of_changed_generated_digits(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    heads, seen = {}, {}
    for on in (False, True):
        torch.manual_seed(0)
        config = CLUSTER28.with_train(
            channels_last=False, cluster_augment="strong", augment_fakes=on
        ).validate()
        parts = build_training(config)
        D = parts.discriminator
        seen[on] = record_inputs(D)
        latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
        torch.manual_seed(2)
        parts.step_fn(real, latent)
        heads[on] = D.q_head[-1].weight.detach().clone()  # (K + 2C, 128)
    # one more batch in D's step: the fakes (the second batch), changed
    assert len(seen[True]) == len(seen[False]) + 1
    fakes, changed = seen[True][1], seen[True][3]
    assert changed.shape == fakes.shape and (changed - fakes).abs().mean() > 0.01
    k = CLUSTER28.latent.num_categories
    assert torch.allclose(heads[True][k:], heads[False][k:], atol=1e-7)  # continuous rows
    assert not torch.allclose(heads[True][:k], heads[False][:k], atol=1e-7)
    for bad in (dict(lambda_cat=0.0), dict(q_cat_on_fakes=False)):
        with pytest.raises(ConfigError, match="--augment-fakes needs Q's categories"):
            CLUSTER28.with_train(augment_fakes=True, **bad).validate()


def test_separate_q_gives_the_categories_a_hidden_layer_of_their_own():
    config = CLUSTER28.with_model(separate_q=True).validate()
    torch.manual_seed(0)
    _g, d = build_models(config)
    _g, shared = build_models(CLUSTER28)
    # one more Q hidden layer (Linear 1024->128 and its BN); the outputs split 10 / 4
    assert count(d) - count(shared) == 1024 * 128 + 2 * 128
    assert d.q_head[-1].out_features == 10 and d.q_cont_head[-1].out_features == 4
    d.eval()
    logit, cat, cont = d(torch.randn(6, 1, 28, 28))
    assert logit.shape == (6,) and cat.shape == (6, 10) and cont.shape == (6, 4)
    # the categorical loss reaches only the categories' layer, the continuous only theirs
    cat.sum().backward(retain_graph=True)

    def reached(layer):
        return layer.weight.grad is not None and bool(layer.weight.grad.any())

    assert reached(d.q_head[0]) and not reached(d.q_cont_head[0])
    d.zero_grad(set_to_none=True)
    cont.sum().backward()
    assert reached(d.q_cont_head[0]) and not reached(d.q_head[0])
    with pytest.raises(ConfigError, match="--separate-q needs the paper28 architecture"):
        get_preset("seed64").with_model(separate_q=True).validate()
    with pytest.raises(ConfigError, match="--separate-q must be true or false"):
        CLUSTER28.with_model(separate_q="yes").validate()


def test_separate_q_and_overcluster_runs_save_and_reload_their_network(mnist_dir, tmp_path):
    from infogan.api import load_model

    run = tmp_path / "run"
    args = ["--max-steps", "2", "--sample-every", "2", "--checkpoint-every", "2"]
    result = run_cli(
        "train", "--preset", "cluster28", "--separate-q", "--overcluster", "20", *args,
        "--run-dir", str(run), "--data-dir", str(mnist_dir), "--no-progress", "--no-report",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    model_config = json.loads((run / "config.json").read_text())["model"]
    assert model_config["separate_q"] is True and model_config["overcluster"] == 20
    model = load_model(run)
    assert hasattr(model.discriminator, "q_cont_head")
    assert model.discriminator.over_head.out_features == 20
    for flag in (["--separate-q"], ["--overcluster", "30"], ["--overcluster-weight", "1"]):
        result = run_cli("train", "--resume", str(run), *flag, "--max-steps", "3")
        assert result.returncode == 1 and f"drop {flag[0]}" in result.stderr


def test_overcluster_head_is_trained_by_the_paired_term_alone(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:32], 28)
    config = CLUSTER28.with_model(overcluster=20).with_train(channels_last=False)
    after = {}
    for weight in (0.0, 0.5):
        torch.manual_seed(0)
        parts = build_training(config.with_train(overcluster_weight=weight).validate())
        D = parts.discriminator
        before = D.over_head.weight.detach().clone()
        latent = parts.code.sample(32, generator=torch.Generator().manual_seed(1))
        torch.manual_seed(2)
        parts.step_fn(real, latent)
        after[weight] = D.q_head[0].weight.detach().clone()
        moved = (D.over_head.weight - before).abs().max().item()
        assert (moved > 0) == (weight > 0)  # at weight 0 the head is left alone
    # the term on the extra head reaches Q's hidden layer too
    assert not torch.allclose(after[0.0], after[0.5])
    D.eval()
    outputs = D(real[:4], overcluster=True)
    assert len(outputs) == 4 and outputs[3].shape == (4, 20) and len(D(real[:4])) == 3
    with pytest.raises(ValueError, match="no over-clustering head"):
        build_models(CLUSTER28)[1](real[:4], overcluster=True)
    for bad, message in (
        (CLUSTER28.with_model(overcluster=1), "--overcluster must be 0 .none. or an integer"),
        (get_preset("seed64").with_model(overcluster=20), "--overcluster needs the paper28"),
        (PAPER28.with_model(overcluster=20), "--overcluster needs the paired clustering term"),
        (config.with_train(overcluster_weight=-1.0), "--overcluster-weight must be a number"),
    ):
        with pytest.raises(ConfigError, match=message):
            bad.validate()


def test_lambda_orth_moves_each_continuous_code_alone_in_the_generators_batch(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    weights, inputs = {}, {}
    for weight in (0.0, 1.0):
        config = RESTYLE28.with_train(
            channels_last=False, lambda_orth=weight, orth_samples=4
        ).validate()
        parts = build_training(config)
        inputs[weight] = record_inputs(parts.generator)
        batch = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
        assert torch.isfinite(parts.step_fn(real, batch)).all()
        weights[weight] = [p.detach().clone() for p in parts.generator.parameters()]
    assert inputs[0.0][0].shape == (16, 74)
    codes = inputs[1.0][0]  # the batch, then code 1 moved in its first 4, then code 2
    assert codes.shape == (16 + 2 * 4, 74)
    assert torch.equal(codes[:16], inputs[0.0][0])
    for k in range(2):
        moved = codes[16 + 4 * k : 20 + 4 * k]
        change = moved - codes[:4]
        others = [i for i in range(74) if i != 72 + k]
        assert torch.equal(change[:, others], torch.zeros(4, 73))
        assert torch.allclose(change[:, 72 + k].abs(), torch.ones(4))
        assert moved[:, 72 + k].abs().max() <= 1
    assert any(not torch.equal(a, b) for a, b in zip(weights[0.0], weights[1.0], strict=True))
    for bad, message in (
        (dict(lambda_orth=-1.0), "--lambda-orth must be a finite number >= 0"),
        (dict(lambda_orth=float("nan")), "--lambda-orth must be a finite number >= 0"),
        (dict(lambda_orth=1.0, orth_samples=0), "--orth-samples must be a positive integer"),
        (dict(lambda_orth=1.0, orth_samples=65), r"--orth-samples \(65\) must not exceed"),
    ):
        with pytest.raises(ConfigError, match=message):
            RESTYLE28.with_train(**bad).validate()
    one_code = dataclasses.replace(
        RESTYLE28, latent=dataclasses.replace(RESTYLE28.latent, num_continuous=1)
    )
    with pytest.raises(ConfigError, match="--lambda-orth needs at least 2 continuous codes"):
        one_code.with_train(lambda_orth=1.0).validate()


def test_q_fixed_std_scores_the_continuous_codes_by_the_means_squared_error(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor
    from infogan.models import continuous_loss_name

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = to_training_tensor(digits[:16], 28)
    gaussian = torch.randn(16, 4)  # Q's means, then its log-stds
    mean, log_std = gaussian[:, :2], gaussian[:, 2:]
    for fixed in (False, True):
        config = RESTYLE28.with_train(channels_last=False, q_fixed_std=fixed).validate()
        parts = build_training(config)
        latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
        assert continuous_loss_name(config) == ("MSE" if fixed else "Gaussian NLL")
        _, _, cont = parts.step_fn._info(torch.zeros(16, 10), gaussian, latent)
        if fixed:  # the log-stds play no part
            expected = torch.nn.functional.mse_loss(mean, latent.continuous)
        else:
            expected = gaussian_nll(mean, log_std, latent.continuous)
        assert torch.allclose(cont, expected)
        assert torch.isfinite(parts.step_fn(real, latent)).all()
    with pytest.raises(ConfigError, match="--q-fixed-std must be true or false"):
        RESTYLE28.with_train(q_fixed_std="yes").validate()


def test_turn_code_reads_that_code_from_turned_copies_of_the_generated_images(
    mnist_dir, monkeypatch
):
    real, parts = real_batch_and_parts(mnist_dir, turn_code=2, turn_degrees=30.0, turn_samples=4)
    calls = []  # (input, output, arguments) of each turn the step makes

    def recording_affine(images, **kwargs):
        out = random_affine(images, **kwargs)
        calls.append((images.detach().clone(), out.detach().clone(), kwargs))
        return out

    monkeypatch.setattr(sys.modules["infogan.train"], "random_affine", recording_affine)
    fakes = record_inputs(parts.discriminator)
    made = []  # what the generator made
    parts.generator.register_forward_hook(lambda m, i, out: made.append(out.detach().clone()))
    latent = parts.code.sample(16, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(parts.step_fn(real, latent)).all()
    assert len(calls) == 2  # one turned copy in D's step, one in G's
    for images, turned, kwargs in calls:
        assert kwargs == {"degrees": 30.0, "shift": 0.0, "scale": 0.0}
        assert torch.equal(images, made[0][:4])  # the batch's first 4 generated images
        assert not torch.allclose(turned, images, atol=1e-3)  # really turned
        assert any(torch.equal(turned, seen) for seen in fakes)  # and what Q was shown
    # a turn moves ink, it does not add or remove much of it
    ink = lambda x: (x + 1).clamp_min(0).sum((1, 2, 3))  # noqa: E731
    assert torch.allclose(ink(calls[0][1]), ink(calls[0][0]), rtol=0.1)

    # the information term scores code 2 on the turned reading, code 1 on the batch's
    step = parts.step_fn
    batch, turned = torch.randn(16, 4), torch.randn(4, 4)
    _, _, cont = step._info(torch.zeros(16, 10), batch, latent, {2: (turned, 0.0)})
    first = continuous_loss_per_code(batch, latent.continuous)[0]
    second = continuous_loss_per_code(turned, latent.continuous[:4])[1]
    assert torch.allclose(cont, (first + second) / 2)
    _, _, plain = step._info(torch.zeros(16, 10), batch, latent)
    assert torch.allclose(plain, continuous_loss_per_code(batch, latent.continuous).mean())
    assert not torch.allclose(cont, plain)

    # --turn-restyle: each copy is first given a slant from MNIST's range and squeezed, then turned
    parts = build_training(
        RESTYLE28.with_train(
            channels_last=False, turn_code=1, turn_samples=4, turn_restyle=True
        ).validate()
    )
    calls.clear()
    assert torch.isfinite(parts.step_fn(real, latent)).all()
    assert len(calls) == 4
    for (images, slanted, first), (again, _, second) in (calls[:2], calls[2:]):
        assert first == dict(degrees=0.0, shift=0.0, scale=0.0, squeeze=0.2, reslant=RESLANT)
        assert second == {"degrees": 45.0, "shift": 0.0, "scale": 0.0}
        assert images.shape == (4, 1, 28, 28) and torch.equal(again, slanted)
        assert ((slant(slanted) >= RESLANT[0] - 0.05) & (slant(slanted) <= RESLANT[1] + 0.05)).all()
    with pytest.raises(ConfigError, match="--turn-restyle must be true or false"):
        RESTYLE28.with_train(turn_restyle="yes").validate()

    for bad, message in (
        (dict(turn_code=3), "--turn-code 3 names a continuous code that does not exist"),
        (dict(turn_code=-1), "--turn-code must be an integer >= 0"),
        (dict(turn_code=True), "--turn-code must be an integer >= 0"),
        (dict(turn_degrees=0.0), r"--turn-degrees must be in \(0, 180\]"),
        (dict(turn_degrees=float("nan")), r"--turn-degrees must be in \(0, 180\]"),
        (dict(turn_samples=0), "--turn-samples must be a positive integer"),
        (dict(turn_code=1, turn_samples=65), r"--turn-samples \(65\) must not exceed"),
        (dict(thicken_code=1, turn_samples=65), r"--turn-samples \(65\) must not exceed"),
        (dict(thicken_code=3), "--thicken-code 3 names a continuous code that does not exist"),
        (dict(thicken_code=-2), "--thicken-code must be an integer >= 0"),
        (dict(thicken_code=2, turn_code=2), "--turn-code and --thicken-code both name code 2"),
        (dict(squeeze_code=1, thicken_code=1), "--thicken-code and --squeeze-code both name"),
        (dict(squeeze_code=3), "--squeeze-code 3 names a continuous code that does not exist"),
        (dict(squeeze_code=1, turn_samples=65), r"--turn-samples \(65\) must not exceed"),
    ):
        with pytest.raises(ConfigError, match=message):
            RESTYLE28.with_train(**bad).validate()


def test_continuous_loss_per_code_averages_to_the_information_terms():
    target = torch.rand(32, 3) * 2 - 1
    for pred in (torch.randn(32, 6), torch.randn(32, 3)):  # Gaussian, then point estimates
        per_code = continuous_loss_per_code(pred, target)
        assert per_code.shape == (3,)
        _, _, cont = info_loss(torch.zeros(32, 10), torch.zeros(32, dtype=torch.long), pred, target)
        assert torch.allclose(per_code.mean(), cont)
    exact = torch.cat([target, torch.full((32, 3), -2.0)], dim=1)  # the truth, narrow
    assert torch.allclose(
        continuous_loss_per_code(exact, target), torch.full((3,), -2 + 0.5 * math.log(2 * math.pi))
    )
    assert torch.equal(continuous_loss_per_code(target.clone(), target), torch.zeros(3))


def test_thicken_code_reads_that_code_from_thickened_or_thinned_copies(mnist_dir):
    # D's step and G's: 4 turned, 4 thickened
    first, copies, parts, latent = copies_read_by_q(mnist_dir, turn_code=2, thicken_code=1)
    dilated = torch.nn.functional.max_pool2d(first, 3, 1, 1)
    eroded = -torch.nn.functional.max_pool2d(-first, 3, 1, 1)
    for seen in copies:
        thick = seen[4:]
        assert ((thick >= eroded - 1e-6) & (thick <= dilated + 1e-6)).all()
        assert not torch.allclose(thick, first, atol=1e-3)
        assert not torch.allclose(seen[:4], first, atol=1e-3)  # turned
    # each code is scored on its own copies, the categorical code on the batch
    step = parts.step_fn
    batch, turned, thick = torch.randn(16, 4), torch.randn(4, 4), torch.randn(4, 4)
    weighted, cat, cont = step._info(
        torch.zeros(16, 10), batch, latent, {2: (turned, 0.0), 1: (thick, 0.0)}
    )
    targets = latent.continuous[:4]
    expected = (
        continuous_loss_per_code(thick, targets)[0] + continuous_loss_per_code(turned, targets)[1]
    ) / 2
    assert torch.allclose(cont, expected)
    assert torch.allclose(cat, torch.tensor(math.log(10)))
    assert torch.allclose(weighted, cat + RESTYLE28.train.lambda_cont * cont)


def test_thicken_squeeze_also_makes_those_copies_narrower_or_wider(mnist_dir):
    from infogan.train import _squeezed

    with pytest.raises(ConfigError, match="--thicken-squeeze changes the copies"):
        RESTYLE28.with_train(thicken_squeeze=True).validate()
    real, _ = real_batch_and_parts(mnist_dir)
    # on real digits: each row keeps its ink (the height is kept), the width changes by
    # up to 20%, and a leaning digit leans the same way
    torch.manual_seed(3)
    out = _squeezed(real)
    ink, ink_out = (real + 1) / 2, (out + 1) / 2
    rows, rows_out = ink.sum(-1).flatten(1), ink_out.sum(-1).flatten(1)
    for a, b in zip(rows, rows_out, strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.97
    x = torch.arange(28.0)

    def spread(i):
        mass = i.sum((1, 2, 3))
        mean = (i * x).sum((1, 2, 3)) / mass
        return ((i * (x - mean[:, None, None, None]) ** 2).sum((1, 2, 3)) / mass).sqrt()

    ratio = spread(ink_out) / spread(ink)
    assert ((ratio > 0.75) & (ratio < 1.3)).all()
    assert (ratio - 1).abs().max() > 0.05  # not left as they were
    leaning = slant(real).abs() > 0.15
    assert leaning.any()
    assert (torch.sign(slant(out)) == torch.sign(slant(real)))[leaning].all()
    # in the step: the thickened copies are no longer inside the originals' erosion and
    # dilation, since they were squeezed first
    first, copies, _, _ = copies_read_by_q(
        mnist_dir, turn_code=2, thicken_code=1, thicken_squeeze=True
    )
    dilated = torch.nn.functional.max_pool2d(first, 3, 1, 1)
    eroded = -torch.nn.functional.max_pool2d(-first, 3, 1, 1)
    for seen in copies:
        inside = (seen[4:] >= eroded - 1e-3) & (seen[4:] <= dilated + 1e-3)
        assert not inside.all()


def changed_settings(base, preset) -> dict:
    """{training setting: its value in ``preset``} for each that differs from ``base``'s."""
    return {
        f.name: getattr(preset.train, f.name)
        for f in dataclasses.fields(preset.train)
        if getattr(preset.train, f.name) != getattr(base.train, f.name)
    }


def test_factors28_is_restyle28_with_a_turned_copy_for_c2_and_plain_squared_error():
    assert get_preset("factors28") is FACTORS28
    # the same network, code and data: only the training settings differ
    assert dataclasses.replace(FACTORS28, preset="restyle28", train=RESTYLE28.train) == RESTYLE28
    assert changed_settings(RESTYLE28, FACTORS28) == {
        "q_fixed_std": True,
        "lambda_cont": 1.0,
        "turn_code": 2,
        "turn_degrees": 180.0,
        "turn_restyle": True,
    }
    # the step it builds reads c2 from turned copies and scores the codes by their means
    step = build_training(FACTORS28.with_train(channels_last=False)).step_fn
    assert (step.turn_code, step.turn_degrees, step.turn_restyle) == (2, 180.0, True)
    assert step.q_fixed_std and step.lambda_cont == 1.0 and step.thicken_code == 0


def test_tilt28_is_factors28_with_c1_read_from_copies_turned_by_a_known_angle():
    assert get_preset("tilt28") is TILT28
    assert dataclasses.replace(TILT28, preset="factors28", train=FACTORS28.train) == FACTORS28
    assert changed_settings(FACTORS28, TILT28) == {"tilt_code": 1, "tilt_degrees": 30.0}
    step = build_training(TILT28.with_train(channels_last=False)).step_fn
    assert (step.tilt_code, step.tilt_degrees, step.tilt_from) == (1, 30.0, 0)
    assert (step.turn_code, step.turn_samples) == (2, 32)


def test_tiltwidth28_is_tilt28_with_c2_copies_thickened_by_a_known_amount():
    assert get_preset("tiltwidth28") is TILTWIDTH28
    assert dataclasses.replace(TILTWIDTH28, preset="tilt28", train=TILT28.train) == TILT28
    assert changed_settings(TILT28, TILTWIDTH28) == {"turn_thicken": 0.5}
    step = build_training(TILTWIDTH28.with_train(channels_last=False)).step_fn
    assert (step.turn_code, step.turn_thicken, step.tilt_code) == (2, 0.5, 1)


def test_squeeze_code_reads_that_code_from_narrower_or_wider_copies(mnist_dir):
    # D's step and G's: 4 turned, 4 squeezed
    first, copies, _, _ = copies_read_by_q(mnist_dir, turn_code=2, squeeze_code=1)
    for seen in copies:
        squeezed = seen[4:]
        assert not torch.allclose(squeezed, first, atol=1e-3)
        # a squeeze moves ink only along the rows: each row keeps its ink to within the
        # width change (up to 20%) and the resampling
        rows, rows_first = (squeezed + 1).sum(-1), (first + 1).sum(-1)
        assert ((rows - rows_first).abs() <= 0.25 * rows_first + 0.5).all()


def test_turn_turns_ink_counter_clockwise_by_the_angle_that_rotation_measures(mnist_dir):
    from infogan.data import load_mnist_arrays
    from infogan.evaluate.factors import rotation_degrees

    bar = -torch.ones(3, 1, 28, 28)
    bar[:, :, 4:24, 13:15] = 1  # an upright bar: tilt 0
    angles = torch.tensor([-30.0, 0.0, 25.0])
    measured = rotation_degrees(turn(bar, angles).numpy())
    assert np.allclose(measured, angles.numpy(), atol=0.5)
    assert torch.allclose(turn(bar, torch.zeros(3)), bar, atol=1e-5)
    # real digits: each one's tilt moves by its own angle
    digits, _ = load_mnist_arrays(mnist_dir, "test")
    real = torch.from_numpy(digits[:8].astype(np.float32) / 127.5 - 1)[:, None]
    angles = torch.linspace(-20, 20, 8)
    moved = rotation_degrees(turn(real, angles).numpy()) - rotation_degrees(real.numpy())
    assert np.allclose(moved, angles.numpy(), atol=4.0)


def test_tilt_code_reads_that_code_from_copies_turned_by_a_known_angle(mnist_dir, monkeypatch):
    calls = record_calls(monkeypatch, "turn")  # (input, angles, output) of each turn
    first, copies, parts, latent = copies_read_by_q(
        mnist_dir, turn_code=2, tilt_code=1, tilt_degrees=25.0
    )
    assert len(calls) == 2  # D's step and G's
    for (images, degrees, out), seen in zip(calls, copies, strict=True):
        assert torch.equal(images, first)  # the batch's first 4 generated images
        assert torch.equal(seen[4:], out)  # and those copies are what Q read for code 1
        assert (degrees.abs() <= 25.0).all() and degrees.abs().max() > 1.0
    assert not torch.equal(calls[0][1], calls[1][1])  # new angles each time
    # the step's own pass over those copies: code 1's reading is moved by angle / 25
    step = parts.step_fn
    readings = step._read_copies(parts.discriminator, first)
    assert set(readings) == {1, 2}
    angles = calls[-1][1]
    assert torch.allclose(readings[1][1], angles / 25.0) and readings[2][1] == 0.0
    batch, turned, tilted = torch.randn(16, 2), torch.randn(4, 2), torch.randn(4, 2)
    moved = torch.tensor([0.5, -1.0, 0.0, 0.25])
    _, _, cont = step._info(
        torch.zeros(16, 10), batch, latent, {2: (turned, 0.0), 1: (tilted, moved)}
    )
    target = latent.continuous[:4, 0] + moved
    expected = (
        (tilted[:, 0] - target).square().mean()
        + (continuous_loss_per_code(turned, latent.continuous[:4])[1])
    ) / 2
    assert torch.allclose(cont, expected)
    assert not torch.allclose(latent.continuous[:4, 0], target)  # the codes are left alone
    for bad, message in (
        (dict(tilt_code=3), "--tilt-code 3 names a continuous code that does not exist"),
        (dict(tilt_code=-1), "--tilt-code must be an integer >= 0"),
        (dict(tilt_code=2, turn_code=2), "--turn-code and --tilt-code both name code 2"),
        (dict(tilt_degrees=0.0), r"--tilt-degrees must be in \(0, 90\]"),
        (dict(tilt_degrees=float("inf")), r"--tilt-degrees must be in \(0, 90\]"),
        (dict(tilt_degrees=True), r"--tilt-degrees must be in \(0, 90\]"),
        (dict(tilt_code=1, turn_samples=65), r"--turn-samples \(65\) must not exceed"),
    ):
        with pytest.raises(ConfigError, match=message):
            RESTYLE28.with_train(**bad).validate()


def test_tilt_from_starts_the_tilted_copies_at_that_step_also_after_a_resume(
    tmp_path, mnist_dir, monkeypatch
):
    import shutil

    from infogan.train import resume, train

    real, parts = real_batch_and_parts(mnist_dir, turn_samples=4, tilt_code=1, tilt_from=2)
    turns = record_calls(monkeypatch, "turn")
    latent = parts.code.sample(16, generator=torch.Generator().manual_seed(2))
    for expected in (0, 0, 2, 4):  # D's step and G's, from the third step on
        assert torch.isfinite(parts.step_fn(real, latent)).all()
        assert len(turns) == expected
    assert parts.step_fn.steps_done == 4
    with pytest.raises(ConfigError, match="--tilt-from must be an integer >= 0"):
        RESTYLE28.with_train(tilt_from=-5).validate()

    # a run resumed from its step-2 checkpoint starts the copies at step 4 as well, and
    # ends with the same weights as the run that went straight through
    config = FACTORS28.with_train(
        tilt_code=1, tilt_from=3, max_steps=5, checkpoint_every=2, sample_every=5
    )
    quiet = dict(data_dir=mnist_dir, progress=False, log=lambda _m: None)
    whole = train(config, tmp_path / "whole", **quiet)
    again = tmp_path / "again"
    shutil.copytree(whole, again)
    shutil.copy(again / "checkpoints" / "step_000002.pt", again / "checkpoints" / "last.pt")
    turns.clear()
    resume(again, **quiet)
    assert len(turns) == 2 * 2  # steps 4 and 5
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(again / "checkpoints" / "last.pt", weights_only=True)
    for part in ("generator", "discriminator"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)


def test_turn_thicken_moves_the_turn_codes_reading_by_a_known_stroke_change(mnist_dir, monkeypatch):
    calls = record_calls(monkeypatch, "thicken")  # (input, amounts, output) of each
    first, copies, parts, _ = copies_read_by_q(
        mnist_dir, turn_code=2, turn_thicken=0.5, tilt_code=1
    )
    assert len(calls) == 2  # D's step and G's
    for (turned, amounts, out), seen in zip(calls, copies, strict=True):
        assert torch.equal(seen[:4], out)  # the thickened turned copies are what Q read
        assert not torch.allclose(turned, first, atol=1e-3)  # turned before
        assert (amounts.abs() <= 0.5).all() and amounts.abs().max() > 0.01
        dilated = torch.nn.functional.max_pool2d(turned, 3, 1, 1)
        eroded = -torch.nn.functional.max_pool2d(-turned, 3, 1, 1)
        assert ((out >= eroded - 1e-6) & (out <= dilated + 1e-6)).all()
    # thicker copies have more ink, thinner ones less, in order of their amounts
    ink = (calls[0][2] + 1).sum((1, 2, 3)) - (calls[0][0] + 1).sum((1, 2, 3))
    assert torch.equal(torch.sign(ink), torch.sign(calls[0][1]))
    # both codes' readings move: c2's by the amount over 0.5, c1's by the angle over 20
    readings = parts.step_fn._read_copies(parts.discriminator, first)
    assert torch.allclose(readings[2][1], calls[-1][1] / 0.5)
    assert readings[1][1].shape == (4,) and (readings[1][1].abs() <= 1).all()

    for bad, message in (
        (dict(turn_code=2, turn_thicken=1.5), r"--turn-thicken must be in \[0, 1\]"),
        (dict(turn_code=2, turn_thicken=-0.1), r"--turn-thicken must be in \[0, 1\]"),
        (dict(turn_code=2, turn_thicken=float("nan")), r"--turn-thicken must be in \[0, 1\]"),
        (dict(turn_thicken=0.5), "--turn-thicken changes the copies of --turn-code"),
    ):
        with pytest.raises(ConfigError, match=message):
            RESTYLE28.with_train(**bad).validate()

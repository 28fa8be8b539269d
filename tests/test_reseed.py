"""Finding a starved code and reseeding it with the most used code's weights
(infogan.training.reseed), in training and on a stopped run's checkpoint."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from infogan.config import PAPER28, RESTYLE28
from infogan.errors import ConfigError
from infogan.models import build_models
from infogan.training.reseed import (
    LINK_RATIO,
    STARVED_SHARE,
    CodeReseed,
    code_usage,
    cross_view,
    merge_codes,
    redundant_code,
)


@pytest.fixture(scope="module")
def probe(mnist_dir):
    from infogan.data import load_mnist_arrays, to_training_tensor

    digits, _ = load_mnist_arrays(mnist_dir, "test")
    return to_training_tensor(digits[:2048], 28)


@pytest.fixture(scope="module")
def digit_reader():
    from infogan.evaluate import classifier as clf

    return clf.get_classifier().model.eval()


def slant(images: torch.Tensor) -> torch.Tensor:
    """(B,) how far each digit leans right: minus the ink's x-y covariance over y's variance."""
    w = (images[:, 0] + 1) / 2
    size = images.shape[-1]
    ys, xs = torch.meshgrid(torch.arange(size * 1.0), torch.arange(size * 1.0), indexing="ij")
    mass = w.sum((1, 2))
    mx = (w * xs).sum((1, 2)) / mass
    my = (w * ys).sum((1, 2)) / mass
    dx, dy = xs - mx[:, None, None], ys - my[:, None, None]
    return -(w * dx * dy).sum((1, 2)) / (w * dy * dy).sum((1, 2))


class DigitQ(nn.Module):
    """A stand-in for D with Q: the MNIST classifier's logits as Q's categories, with some
    digits sent elsewhere: ``by_lean`` {digit: (code if it leans left of the digit's
    median slant in the batch, code if right)},
    ``moved`` {digit: code}. As in stuck runs, ``by_lean={1: (1, 7)}, moved={7: 9}``
    splits the 1s over two codes by their lean and puts the 7s with the 9s, and
    ``by_lean={4: (4, 9), 9: (4, 9)}`` mixes 4s and 9s in two codes by a trait of the
    handwriting."""

    def __init__(self, reader: nn.Module, *, by_lean=None, moved=None):
        super().__init__()
        self.reader = reader
        self.q_head = reader.head  # the categories' layer, for merge_codes
        self.by_lean = by_lean or {}
        self.moved = moved or {}

    def forward(self, images: torch.Tensor):
        logits = self.reader(images)
        digit = logits.argmax(1)
        code = digit.clone()
        lean = slant(images)
        for d, (left_code, right_code) in self.by_lean.items():
            these = digit == d
            right = lean > lean[these].median() if these.any() else lean > 0
            code[these] = torch.where(right, right_code, left_code)[these]
        for d, c in self.moved.items():
            code[digit == d] = c
        changed = code != digit
        logits = torch.where(changed[:, None], F.one_hot(code, 10).float() * 20.0, logits)
        return logits[:, 0], logits, logits[:, :0]


def test_merged_codes_are_drawn_alike_and_nothing_else_moves():
    torch.manual_seed(0)
    G, D = build_models(PAPER28)
    torch.manual_seed(0)
    G2, D2 = build_models(PAPER28)
    noise_dim, k, l = PAPER28.latent.noise_dim, 2, 7  # noqa: E741
    merge_codes(G, D, k, l, noise_dim=noise_dim, seed=1)
    q, w = D.q_head[-1], G.fc[0].weight  # Q's last layer (K + 2C, 128); G's first (1024, 74)
    with torch.no_grad():
        # the two rows (columns) now differ by the merge's noise only: about a quarter of
        # what two independent ones differ by, and not by nothing
        def apart(x, y):
            return float((x - y).abs().mean())

        q2, w2 = D2.q_head[-1].weight, G2.fc[0].weight
        for after, before in (
            (apart(q.weight[k], q.weight[l]), apart(q2[k], q2[l])),
            (
                apart(w[:, noise_dim + k], w[:, noise_dim + l]),
                apart(w2[:, noise_dim + k], w2[:, noise_dim + l]),
            ),
        ):
            assert 0.1 * before < after < 0.4 * before
        assert q.bias[k] == q.bias[l]
        untouched = [i for i in range(q.weight.shape[0]) if i not in (k, l)]
        assert torch.equal(q.weight[untouched], D2.q_head[-1].weight[untouched])
        columns = [i for i in range(w.shape[1]) if i not in (noise_dim + k, noise_dim + l)]
        assert torch.equal(w[:, columns], G2.fc[0].weight[:, columns])
        # the same noise under the two codes draws much the same digit
        code = torch.zeros(2, w.shape[1])
        code[0, noise_dim + k] = code[1, noise_dim + l] = 1
        G.eval()
        a, b = G(code)
        a2, b2 = G2.eval()(code)
    assert (a - b).abs().mean() < 0.5 * (a2 - b2).abs().mean()


def test_a_starved_code_is_given_the_most_used_codes_weights(probe, digit_reader):
    fair = code_usage(DigitQ(digit_reader), probe)
    assert fair.sum().item() == pytest.approx(1.0, abs=1e-4)
    assert fair.min() * 10 > STARVED_SHARE  # one digit per code: none starved
    # the classifier with code 6 all but switched off: its 6s go to other codes
    D = DigitQ(copy.deepcopy(digit_reader))
    with torch.no_grad():
        D.q_head.bias[6] -= 30.0
    before = code_usage(D, probe)
    big = int(before.argmax())
    assert before[6] * 10 < 0.01 and big != 6
    torch.manual_seed(0)
    G, _ = build_models(PAPER28)
    noise_dim = PAPER28.latent.noise_dim
    g_before = G.fc[0].weight.detach().clone()
    q_before = D.q_head.weight.detach().clone()
    messages = []
    callback = CodeReseed(
        generator=G,
        discriminator=D,
        probe=probe,
        noise_dim=noise_dim,
        every=100,
        last_step=600,
        log=messages.append,
    )
    for step in (100, 150, 700):  # before 2 * every, between checks, after the last step
        callback.on_step_end(step, 1)
    assert messages == [] and torch.equal(D.q_head.weight, q_before)
    callback.on_step_end(200, 1)
    assert [r[:3] for r in callback.reseeded] == [(200, 6, big)]
    assert messages[0].startswith("step 200: code 6 holds 0% of an equal share")
    after = code_usage(D, probe)
    # the two codes now share the crowded code's digits (the term, in training, evens
    # the split out); the others keep theirs
    assert after[6] > 10 * before[6] and after[6] > 0.01 and after[big] < before[big]
    assert (after[6] + after[big]).item() == pytest.approx(
        (before[6] + before[big]).item(), abs=0.02
    )
    others = [k for k in range(10) if k not in (6, big)]
    assert torch.equal(D.q_head.weight[others], q_before[others])
    w = G.fc[0].weight.detach()
    columns = [i for i in range(w.shape[1]) if i not in (noise_dim + 6, noise_dim + big)]
    assert torch.equal(w[:, columns], g_before[:, columns])
    gap = (w[:, noise_dim + 6] - w[:, noise_dim + big]).abs().mean()
    assert gap < 0.5 * (g_before[:, noise_dim + 6] - g_before[:, noise_dim + big]).abs().mean()
    assert D.training  # measured in eval mode, then put back


def test_a_digit_split_over_two_codes_gives_the_smaller_one_the_crowded_codes_weights(
    probe, digit_reader
):
    # sorted: restyled copies keep their code
    usage, ratio = cross_view(DigitQ(digit_reader), probe, seed=0)
    assert float(ratio.max()) < LINK_RATIO and redundant_code(usage, ratio) is None
    # 4s and 9s mixed in two codes by their lean: restyling moves digits between the
    # two, but they hold two digits' shares, so neither is redundant
    mixed = DigitQ(digit_reader, by_lean={4: (4, 9), 9: (4, 9)})
    usage, ratio = cross_view(mixed, probe, seed=0)
    assert float(ratio[4, 9]) > LINK_RATIO and redundant_code(usage, ratio) is None
    # the 1s split in codes 1 and 7 by their lean, the 7s with the 9s in code 9
    split = DigitQ(copy.deepcopy(digit_reader), by_lean={1: (1, 7)}, moved={7: 9})
    usage, ratio = cross_view(split, probe, seed=200)  # as the check at step 200
    assert float(ratio[1, 7]) > LINK_RATIO and float(ratio.max()) == float(ratio[1, 7])
    assert min(usage[1], usage[7]) * 10 >= STARVED_SHARE  # not starved: the pair rule acts
    small, big, why = redundant_code(usage, ratio)
    assert small == int(usage[[1, 7]].argmin() * 6 + 1) and big == 9
    assert why.startswith("is the least used of codes 1, 7, which restyled digits move")
    torch.manual_seed(0)
    G, _ = build_models(PAPER28)
    messages = []
    callback = CodeReseed(
        generator=G,
        discriminator=split,
        probe=probe,
        noise_dim=PAPER28.latent.noise_dim,
        every=100,
        last_step=600,
        log=messages.append,
    )
    callback.on_step_end(200, 1)
    assert [r[:3] for r in callback.reseeded] == [(200, small, 9)]
    assert messages == [
        f"step 200: code {small} {why}; gave it the weights of code 9 (the most used) to split"
    ]


def test_split_by_halves_gives_the_starved_code_one_of_the_crowded_codes_digits(
    probe, digit_reader, mnist_dir
):
    """A digit switched off (five in turn): its digits join another code, the most used; the
    reseed by halves then gives the two codes one of the two digits each (by the labels,
    90% of each or more), where the reseed by noise leaves the starved code next to
    empty in most cases."""
    from infogan.data import load_mnist_arrays

    labels = torch.from_numpy(load_mnist_arrays(mnist_dir, "test")[1][:2048].astype("int64"))
    torch.manual_seed(0)
    G, _ = build_models(PAPER28)
    empty_by_noise = 0
    for off in (1, 4, 5, 7, 8):
        held = {}
        switched_off = DigitQ(copy.deepcopy(digit_reader))
        with torch.no_grad():
            switched_off.q_head.bias[off] -= 30.0
        big = int(code_usage(switched_off, probe).argmax())
        for halves in (False, True):
            D = copy.deepcopy(switched_off)
            callback = CodeReseed(
                generator=copy.deepcopy(G),
                discriminator=D,
                probe=probe,
                noise_dim=PAPER28.latent.noise_dim,
                every=100,
                last_step=600,
                halves=halves,
            )
            callback.on_step_end(200, 1)
            assert [r[:3] for r in callback.reseeded] == [(200, off, big)]
            codes = torch.cat([D(probe[i : i + 512])[1] for i in range(0, len(probe), 512)])
            held[halves] = [labels[codes.argmax(1) == c] for c in (off, big)]
        empty_by_noise += len(held[False][0]) < 0.02 * len(probe)
        # by halves: the two codes hold two digits, one of them the digit switched off
        majority = [int(digits.mode().values) for digits in held[True]]
        assert off in majority and majority[0] != majority[1], (off, majority)
        for digits, digit in zip(held[True], majority, strict=True):
            assert len(digits) > 50 and float((digits == digit).float().mean()) >= 0.9
    assert empty_by_noise >= 4  # by noise, the starved code holds under 2% of the digits


@pytest.mark.parametrize("halves", [False, True])
def test_reseed_runs_in_training_and_a_resume_makes_the_same_changes(
    tmp_path, mnist_dir, monkeypatch, halves
):
    import shutil

    from infogan.training import reseed, run
    from infogan.training.run import resume, train

    # a few steps from random weights: no code is starved yet; let the callback act anyway
    monkeypatch.setattr(reseed, "STARVED_SHARE", 1.5)
    monkeypatch.setattr(run, "PROBE_IMAGES", 512)  # a quarter of the probe: 4x faster checks
    marker = "to split"

    config = RESTYLE28.with_train(
        batch_size=32,
        max_steps=8,
        checkpoint_every=4,
        sample_every=8,
        channels_last=False,
        cluster_reseed=2,
        reseed_halves=halves,
    )
    logs = []
    whole = train(config, tmp_path / "whole", data_dir=mnist_dir, progress=False, log=logs.append)
    merges = [m for m in logs if marker in m]
    assert merges and merges[0].startswith("step 4: code")  # checks from 2 * every to 6
    assert all(m.endswith("to split along the two halves of its digits") == halves for m in merges)
    # the step-4 checkpoint was written after that step's merge: resuming from it
    # makes the later merges again and ends with the same weights
    again = tmp_path / "again"
    shutil.copytree(whole, again)
    shutil.copy(again / "checkpoints" / "step_000004.pt", again / "checkpoints" / "last.pt")
    logs_again = []
    resume(again, data_dir=mnist_dir, progress=False, log=logs_again.append)
    assert [m for m in logs_again if marker in m] == merges[1:]
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(again / "checkpoints" / "last.pt", weights_only=True)
    for part in ("generator", "discriminator"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), (part, name)


def test_reseed_needs_the_clustering_term():
    with pytest.raises(ConfigError, match=r"train.cluster_reseed needs the clustering term"):
        PAPER28.with_train(cluster_reseed=200).validate()
    with pytest.raises(ConfigError, match=r"train.cluster_reseed must be an integer >= 0"):
        RESTYLE28.with_train(cluster_reseed=-1).validate()
    RESTYLE28.with_train(cluster_reseed=200).validate()
    with pytest.raises(ConfigError, match=r"train.reseed_halves needs the reseed check"):
        RESTYLE28.with_train(cluster_reseed=0, reseed_halves=True).validate()
    RESTYLE28.with_train(reseed_halves=True).validate()


def test_reseed_checkpoint_writes_a_resumable_copy(tmp_path, mnist_dir, capsys, benchmark_script):
    import subprocess

    from infogan.training.run import resume, train

    config = RESTYLE28.with_train(max_steps=4, checkpoint_every=2, sample_every=4, batch_size=16)
    run = train(config, tmp_path / "run", data_dir=mnist_dir, progress=False, log=lambda _m: None)
    module = benchmark_script("reseed_checkpoint")

    def reseed(*args):  # the tool's main, in this process
        code = module.main([str(run), "--data-dir", str(mnist_dir), *args])
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    # a few steps in, no code is starved or redundant: copied unchanged unless forced
    plain = reseed("--step", "2", "--out", str(tmp_path / "plain"))
    assert (
        plain.returncode == 0
        and "no code is starved or redundant; copied unchanged" in plain.stdout
    )
    forced = reseed("--step", "2", "--out", str(tmp_path / "forced"), "--force")
    assert forced.returncode == 0 and "the weights of code" in forced.stdout
    original = torch.load(run / "checkpoints" / "step_000002.pt", weights_only=True)
    copies = {
        name: torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=True)
        for name in ("plain", "forced")
    }
    q = "q_head.3.weight"
    assert torch.equal(copies["plain"]["discriminator"][q], original["discriminator"][q])
    assert not torch.equal(copies["forced"]["discriminator"][q], original["discriminator"][q])
    resume(tmp_path / "forced", data_dir=mnist_dir, progress=False, log=lambda _m: None)
    assert (
        torch.load(tmp_path / "forced" / "checkpoints" / "last.pt", weights_only=True)["step"] == 4
    )
    # bad input: one line naming the problem, nothing written
    missing = reseed("--step", "3", "--out", str(tmp_path / "x"))
    assert missing.returncode == 1 and "step_000003.pt: no such checkpoint" in missing.stderr
    taken = reseed("--step", "2", "--out", str(tmp_path / "plain"))
    assert taken.returncode == 1 and "already exists" in taken.stderr
    assert not (tmp_path / "x").exists()
    # a new run that cannot be written: one line (it was a traceback), nothing left behind
    (tmp_path / "a-file").write_text("")
    blocked = reseed("--step", "2", "--out", str(tmp_path / "a-file" / "new"))
    assert blocked.returncode == 1 and "Traceback" not in blocked.stderr
    assert blocked.stderr.strip() == (
        f"reseed_checkpoint.py: error: {tmp_path / 'a-file' / 'new'}: cannot write the new run "
        "(Not a directory)"
    )

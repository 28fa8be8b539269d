"""The information term with codes read from transformed copies, and the clustering term:
their values against the losses worked out by hand, on a real discriminator."""

from __future__ import annotations

import contextlib

import pytest
import torch

from infogan.augment import restyle_copy, thicken, transform, turn
from infogan.config import CodeReading, Transform, get_preset
from infogan.distributed import SINGLE, DistContext
from infogan.latent import LatentBatch, LatentCode
from infogan.losses import continuous_loss_per_row, paired_cluster_loss
from infogan.models import build_models
from infogan.training.objectives import (
    CLUSTER_BALANCE,
    OVERCLUSTER_WEIGHT,
    ClusteringTerm,
    CopyReadings,
    DOutputs,
    InformationTerm,
    StepBatch,
    TurnPairTerm,
    build_terms,
)

TILT = CodeReading(1, (Transform("turn", 30.0, known=True),))
TURN = CodeReading(2, (Transform("restyle"), Transform("turn", 180.0)))


def judge(D, x):
    """D and Q's outputs for ``x``, over-clustering head included."""
    return DOutputs(*(t.float() for t in D(x, overcluster=True)))


def batch_for(images, latent, D):
    """A StepBatch over ``images``, with D (in eval mode: same in, same out) judging them."""
    D.eval()
    return StepBatch(
        images, images, latent, contextlib.nullcontext, SINGLE, real_out=judge(D, images)
    )


@pytest.fixture
def parts(digits_28):
    config = get_preset("tilt28")
    torch.manual_seed(0)
    _, D = build_models(config)
    latent = LatentCode(config.latent).sample(64, generator=torch.Generator().manual_seed(1))
    return digits_28[0][:64], latent, D


def test_a_read_code_is_scored_on_its_copies_and_the_known_turn_moves_its_target(parts):
    images, latent, D = parts
    b = batch_for(images, latent, D)
    info = InformationTerm(lambda_cat=1.0, lambda_cont=2.0, cont_loss="mse", readings=[TURN, TILT])
    torch.manual_seed(5)
    copies = info.copies.make(b, images)
    total, cat, cont = info(b.real_out, latent, b, copies, judge(D, copies.images))

    # by hand: every second row of the 64 is copied; c2's copies restyled, then turned;
    # c1's turned by a known angle, its target moved by the angle over 30 degrees
    torch.manual_seed(5)
    rows = images[0:64:2]
    restyled, _ = transform(rows, "restyle", 0.0, known=False)
    turned, _ = transform(restyled, "turn", 180.0, known=False)
    tilted, units = transform(rows, "turn", 30.0, known=True)
    assert torch.equal(copies.images, torch.cat([turned, tilted]))
    assert copies.codes == (2, 1) and copies.sizes == (32, 32)
    reading = judge(D, torch.cat([turned, tilted])).cont
    target = latent.continuous[0:64:2].clone()
    c2 = (reading[:32, 1] - target[:, 1]).square().mean()
    c1 = (reading[32:, 0] - (target[:, 0] + units)).square().mean()
    assert cont.item() == pytest.approx(((c1 + c2) / 2).item(), rel=1e-5)
    assert cat.item() == pytest.approx(
        torch.nn.functional.cross_entropy(b.real_out.cat, latent.categories).item(), rel=1e-6
    )
    assert total.item() == pytest.approx((cat + 2.0 * cont).item(), rel=1e-6)

    # without readings each code is read from the images themselves
    plain = InformationTerm(lambda_cat=1.0, lambda_cont=1.0, cont_loss="mse", readings=())
    assert plain.copies.make(b, images) is None
    _, _, own = plain(b.real_out, latent, b)
    by_row = continuous_loss_per_row(b.real_out.cont, latent.continuous, "mse")
    assert own.item() == pytest.approx(by_row.mean().item(), rel=1e-6)
    assert own.item() != pytest.approx(cont.item(), rel=1e-3)


def test_gaussian_loss_is_the_negative_log_likelihood_of_the_paper(parts):
    images, latent, D = parts
    b = batch_for(images, latent, D)
    info = InformationTerm(lambda_cat=1.0, lambda_cont=1.0, cont_loss="gaussian", readings=())
    _, _, cont = info(b.real_out, latent, b)
    mean, log_std = b.real_out.cont[:, :2], b.real_out.cont[:, 2:]
    normal = torch.distributions.Normal(mean, log_std.exp())
    assert cont.item() == pytest.approx(-normal.log_prob(latent.continuous).mean().item(), 1e-5)


def test_copies_are_the_same_rows_in_one_process_as_in_several():
    local, copies, mine = CopyReadings.rows(64, SINGLE)
    assert (local, copies, mine) == (slice(0, 64, 2), 32, slice(0, 32))
    assert CopyReadings.rows(32, SINGLE)[:2] == (slice(0, 32, 1), 32)  # the whole batch
    assert CopyReadings.rows(16, SINGLE)[:2] == (slice(0, 16, 1), 16)
    rows = torch.arange(64)
    for world in (2, 4):
        picked, positions = [], []
        for rank in range(world):
            ctx = DistContext(rank=rank, world_size=world)
            local, copies, mine = CopyReadings.rows(64 // world, ctx)
            assert copies == 32
            picked.append(rows[rank * 64 // world :][: 64 // world][local])
            positions.extend(range(32)[mine])
        assert torch.equal(torch.cat(picked), rows[0:64:2])
        assert positions == list(range(32))


def test_clustering_term_adds_the_paired_term_on_the_code_and_the_overclustering_head(parts):
    images, latent, D = parts
    b = batch_for(images, latent, D)
    term = ClusteringTerm(3.0, overcluster=True)
    torch.manual_seed(9)
    wanted = term.d_images(b)
    loss = term.d_loss(b, judge(D, wanted))
    torch.manual_seed(9)
    assert torch.equal(wanted, restyle_copy(images))
    moved = judge(D, restyle_copy(images))
    on_code = paired_cluster_loss(b.real_out.cat, moved.cat, balance=CLUSTER_BALANCE)
    on_head = paired_cluster_loss(b.real_out.over, moved.over, balance=CLUSTER_BALANCE)
    expected = 3.0 * (on_code + OVERCLUSTER_WEIGHT * on_head)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert term.g_loss(b) is None  # the term trains D and Q only


def test_terms_are_built_from_the_config():
    info, terms = build_terms(get_preset("tilt28"))
    assert info.copies.readings == get_preset("tilt28").train.readings and len(terms) == 1
    _, terms = build_terms(get_preset("tilt28").with_train(lambda_turn_pair=0.5))
    assert [type(t) for t in terms] == [ClusteringTerm, TurnPairTerm]
    assert (terms[1].weight, terms[1].code, terms[1].degrees) == (0.5, 1, 30.0)
    info, terms = build_terms(get_preset("paper28"))
    assert not info.copies and terms == [] and info.cont_loss == "gaussian"
    info, terms = build_terms(get_preset("seed64").with_train(lambda_cat=0.0, lambda_cont=0.0))
    assert not info.on  # a plain GAN


def test_turn_pair_term_is_the_redrawn_digit_against_the_first_turned(parts):
    images, latent, _ = parts
    config = get_preset("tilt28")
    torch.manual_seed(0)
    G, _ = build_models(config)
    G.eval()  # same in, same out
    code = LatentCode(config.latent)

    def generate(lat):
        return G(code.assemble(lat))

    with torch.no_grad():
        fake = generate(latent)
        b = StepBatch(images, fake, latent, contextlib.nullcontext, SINGLE, generate=generate)
        torch.manual_seed(3)
        loss = TurnPairTerm(2.0, code=1, degrees=30.0).g_loss(b)

        # by hand: every second row of the 64, c1 drawn anew, the first digit and the
        # second turned towards each other by half the change times 30 degrees
        torch.manual_seed(3)
        rows = slice(0, 64, 2)
        moved = latent.continuous[rows].clone()
        moved[:, 0] = torch.rand(32) * 2 - 1
        again = generate(LatentBatch(latent.noise[rows], latent.categories[rows], moved))
        half = (moved[:, 0] - latent.continuous[rows, 0]) * 15.0
        expected = 2.0 * (turn(again, -half) - turn(fake[rows], half)).square().mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert TurnPairTerm(1.0, code=1, degrees=30.0).d_images(b) is None  # G's alone


def test_turn_pair_term_is_small_only_for_a_code_that_turns_the_digit(digits_28):
    """Generators made of real digits: c1 turning each by 30 degrees a unit scores a small
    fraction of c1 doing nothing, thickening the strokes, or turning the other way."""
    base = digits_28[0][:32]
    latent = LatentCode(get_preset("tilt28").latent).sample(
        32, generator=torch.Generator().manual_seed(2)
    )
    ways = {
        "turns": lambda c: turn(base, c * 30.0),
        "the other way": lambda c: turn(base, -c * 30.0),
        "nothing": lambda c: base,
        "thickens": lambda c: thicken(base, c * 0.5),
    }
    scores = {}
    for name, way in ways.items():

        def generate(lat, way=way):
            return way(lat.continuous[:, 0])

        b = StepBatch(base, generate(latent), latent, contextlib.nullcontext, SINGLE,
                      generate=generate)  # fmt: skip
        torch.manual_seed(4)
        scores[name] = TurnPairTerm(1.0, code=1, degrees=30.0).g_loss(b).item()
    others = min(scores[name] for name in ways if name != "turns")
    assert scores["turns"] < 0.1 * others, scores

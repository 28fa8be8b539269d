import math

import pytest
import torch

from infogan.losses import (
    continuous_loss_per_row,
    d_loss,
    g_nonsaturating_loss,
    info_loss,
    paired_cluster_loss,
)


def test_d_loss_at_chance_is_two_ln2():
    zeros = torch.zeros(8)
    assert math.isclose(d_loss(zeros, zeros).item(), 2 * math.log(2), rel_tol=1e-6)


def test_d_loss_by_hand():
    # real logit 2 -> -log sigmoid(2); fake logit -1 -> -log(1 - sigmoid(-1))
    expected = -math.log(1 / (1 + math.exp(-2))) - math.log(1 - 1 / (1 + math.exp(1)))
    got = d_loss(torch.tensor([2.0]), torch.tensor([-1.0])).item()
    assert math.isclose(got, expected, rel_tol=1e-6)


def test_generator_loss_is_non_saturating():
    assert math.isclose(g_nonsaturating_loss(torch.zeros(4)).item(), math.log(2), rel_tol=1e-6)
    # D confident the fake is fake (logit -10): loss large, gradient still strong
    logit = torch.tensor([-10.0], requires_grad=True)
    loss = g_nonsaturating_loss(logit)
    loss.backward()
    assert loss.item() > 9.9 and abs(logit.grad.item()) > 0.99


def test_information_loss_by_hand():
    cats = torch.tensor([0, 3])
    uniform = torch.zeros(2, 10)  # Q knows nothing: CE = ln 10 = H(c)
    pred = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    target = torch.tensor([[0.5, 0.0], [1.0, 0.0]])
    total, cat, cont = info_loss(uniform, cats, pred, target, lambda_cat=1.0, lambda_cont=0.5)
    assert math.isclose(cat.item(), math.log(10), rel_tol=1e-6)
    assert math.isclose(cont.item(), (0.25 + 0 + 0 + 1) / 4, rel_tol=1e-6)
    assert math.isclose(total.item(), math.log(10) + 0.5 * 0.3125, rel_tol=1e-6)


def test_information_loss_of_a_certain_q_is_zero():
    cats = torch.tensor([1, 2])
    sure = torch.full((2, 10), -1e4)
    sure[0, 1] = sure[1, 2] = 1e4
    c = torch.rand(2, 2)
    total, cat, cont = info_loss(sure, cats, c, c)
    assert total.item() == 0 and cat.item() == 0 and cont.item() == 0


def test_plain_gan_weights_switch_the_term_off():
    total, cat, _ = info_loss(
        torch.zeros(3, 10),
        torch.zeros(3, dtype=torch.long),
        torch.ones(3, 2),
        torch.zeros(3, 2),
        lambda_cat=0,
        lambda_cont=0,
    )
    assert total.item() == 0 and cat.item() > 0


def test_gaussian_nll_is_the_normal_log_likelihood():
    gen = torch.Generator().manual_seed(0)
    mean, log_std, target = (torch.randn(32, 2, generator=gen) for _ in range(3))
    expected = -torch.distributions.Normal(mean, log_std.exp()).log_prob(target).mean()
    per_row = continuous_loss_per_row(torch.cat([mean, log_std], 1), target, "gaussian")
    assert per_row.mean().item() == pytest.approx(expected.item(), rel=1e-6)
    cats = torch.randint(10, (32,), generator=gen)
    logits = torch.randn(32, 10, generator=gen)
    gaussian = torch.cat([mean, log_std], 1)
    total, ce, cont = info_loss(
        logits, cats, gaussian, target, cont_loss="gaussian", lambda_cont=0.1
    )
    assert cont.item() == pytest.approx(expected.item(), rel=1e-6)
    assert total.item() == pytest.approx(ce.item() + 0.1 * expected.item(), rel=1e-6)
    for pred in (mean, gaussian):  # "mse" scores the estimates, or the Gaussian's means
        _, _, mse = info_loss(logits, cats, pred, target, cont_loss="mse")
        assert mse.item() == pytest.approx(((mean - target) ** 2).mean().item(), rel=1e-6)


def test_paired_cluster_loss_reaches_minus_ln_k_only_for_confident_balanced_agreeing_views():
    k = 10
    confident = torch.eye(k).repeat(8, 1) * 30  # each category equally often, sure of each
    collapsed = torch.zeros(80, k)
    collapsed[:, 3] = 30  # everything in one category: no information
    assert paired_cluster_loss(collapsed, collapsed).item() == pytest.approx(0.0, abs=1e-4)
    assert paired_cluster_loss(confident, confident).item() == pytest.approx(-math.log(k), abs=1e-3)
    shuffled = confident[torch.randperm(80, generator=torch.Generator().manual_seed(0))]
    # views that disagree at random share little information
    assert paired_cluster_loss(confident, shuffled).item() > -0.5


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

import math

import torch

from infogan.losses import d_loss, g_nonsaturating_loss, info_loss


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

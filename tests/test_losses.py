import math

import pytest
import torch

from infogan.losses import d_loss, effect_overlap, g_nonsaturating_loss, info_loss


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


def test_effect_overlap_is_the_squared_cosine_between_two_codes_changes():
    base = torch.zeros(3, 1, 2, 2)
    right = torch.tensor([1.0, 0, 0, 0]).reshape(1, 2, 2).expand(3, 1, 2, 2)
    down = torch.tensor([0, 0, 2.0, 0]).reshape(1, 2, 2).expand(3, 1, 2, 2)
    diagonal = torch.tensor([1.0, 0, 1.0, 0]).reshape(1, 2, 2).expand(3, 1, 2, 2)
    # the same change, or its reverse, at any size: 1; orthogonal changes: 0
    assert effect_overlap(base, torch.stack([right, 5 * right])).item() == pytest.approx(1)
    assert effect_overlap(base, torch.stack([right, -right])).item() == pytest.approx(1)
    assert effect_overlap(base, torch.stack([right, down])).item() == pytest.approx(0)
    # 45 degrees apart: cos^2 = 1/2; three codes average their three pairs
    assert effect_overlap(base, torch.stack([right, diagonal])).item() == pytest.approx(0.5)
    three = effect_overlap(base, torch.stack([right, down, diagonal])).item()
    assert three == pytest.approx((0 + 0.5 + 0.5) / 3)
    # measured from the base, not from zero
    shifted = base + 7
    assert effect_overlap(shifted, torch.stack([right, down]) + 7).item() == pytest.approx(0)
    # a code that changes nothing adds nothing (and no NaN)
    assert effect_overlap(base, torch.stack([right, base])).item() == pytest.approx(0)
    with pytest.raises(ValueError, match="C >= 2"):
        effect_overlap(base, right[None])


def test_effect_overlap_gradient_turns_the_changes_apart():
    torch.manual_seed(0)
    base = torch.randn(4, 16)
    changes = torch.randn(2, 4, 16)
    changes[1] = changes[0] + 0.1 * torch.randn(4, 16)  # nearly the same change
    changes.requires_grad_(True)
    optimizer = torch.optim.Adam([changes], lr=0.05)
    before = effect_overlap(base, base + changes).item()
    for _ in range(100):
        optimizer.zero_grad()
        effect_overlap(base, base + changes).backward()
        optimizer.step()
    assert before > 0.9 and effect_overlap(base, base + changes).item() < 0.05

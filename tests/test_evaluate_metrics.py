"""The pure metric functions on small inputs whose answers are worked out by hand."""

import math

import numpy as np
import pytest
from scipy import linalg

from infogan.evaluate import metrics


def test_confusion_matrix_counts_by_hand():
    codes = [0, 0, 1, 2, 2, 2]
    labels = [1, 1, 0, 2, 2, 0]
    expected = [[0, 2, 0], [1, 0, 0], [1, 0, 2]]
    assert metrics.confusion_matrix(codes, labels, 3, 3).tolist() == expected


def test_confusion_matrix_rejects_out_of_range():
    with pytest.raises(ValueError, match="labels"):
        metrics.confusion_matrix([0, 1], [0, 3], 2, 3)
    with pytest.raises(ValueError, match="codes"):
        metrics.confusion_matrix([0, 2], [0, 1], 2, 3)


def test_hungarian_beats_the_greedy_choice():
    # Greedy per row: code 0 -> label 0 (5), then code 1 has only zeros left: 5 + 0 + 3 = 8.
    # The best one-to-one matching: 0 -> 1 (4), 1 -> 0 (4), 2 -> 2 (3) = 11 of 16.
    confusion = np.array([[5, 4, 0], [4, 0, 0], [0, 0, 3]])
    mapping = metrics.hungarian_match(confusion)
    assert mapping.tolist() == [1, 0, 2]
    assert metrics.matched_accuracy(confusion, mapping) == pytest.approx(11 / 16)


def test_hungarian_recovers_a_permutation_of_labels():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    relabel = np.array([3, 7, 0, 9, 1, 5, 2, 8, 6, 4])  # code given to each digit
    acc, mapping, confusion = metrics.hungarian_accuracy(relabel[labels], labels)
    assert acc == 1.0
    assert all(relabel[mapping[k]] == k for k in range(10))  # mapping inverts the relabelling
    assert confusion.sum() == 500 and np.count_nonzero(confusion) == len(np.unique(labels))


def test_more_codes_than_labels_leave_a_code_unmatched():
    confusion = np.array([[4, 0], [1, 3], [2, 2]])
    mapping = metrics.hungarian_match(confusion)
    assert mapping.tolist() == [0, 1, -1]
    assert metrics.matched_accuracy(confusion, mapping) == pytest.approx(7 / 12)


def test_purity_by_hand():
    confusion = np.array([[5, 4, 0], [4, 0, 0], [0, 0, 3], [0, 0, 0]])
    p = metrics.purity(confusion)
    assert p[:3] == pytest.approx([5 / 9, 1.0, 1.0])
    assert math.isnan(p[3])  # a code that produced nothing has no purity


def test_frechet_distance_of_a_distribution_to_itself_is_zero():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    mu, sigma = metrics.feature_statistics(x)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_one_dimensional_by_hand():
    # N(1, 4) vs N(3, 1): (1 - 3)^2 + 4 + 1 - 2 * sqrt(4 * 1) = 4 + 5 - 4 = 5
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(5.0)


def test_frechet_distance_diagonal_by_hand():
    # |mu1 - mu2|^2 = 2; sum (sqrt(a) - sqrt(b))^2 = (2 - 1)^2 + (3 - 1)^2 = 5
    fd = metrics.frechet_distance(np.zeros(2), np.diag([4.0, 9.0]), np.ones(2), np.eye(2))
    assert fd == pytest.approx(7.0)


def test_frechet_distance_matches_the_textbook_formula_on_full_matrices():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    textbook = (
        np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real
    )
    fd = metrics.frechet_distance(mu1, s1, mu2, s2)
    assert fd == pytest.approx(textbook, rel=1e-7)
    assert metrics.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(fd, rel=1e-9)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))  # distances survive a rotation
    rotated = metrics.frechet_distance(
        rotation @ mu1, rotation @ s1 @ rotation.T, rotation @ mu2, rotation @ s2 @ rotation.T
    )
    assert rotated == pytest.approx(fd, rel=1e-7)


def test_inception_score_extremes_and_a_hand_example():
    one_hot = np.eye(10)[np.arange(1000) % 10]
    assert metrics.inception_score(one_hot) == pytest.approx(10.0)  # sure and diverse: K
    assert metrics.inception_score(np.eye(10)[np.zeros(50, int)]) == pytest.approx(1.0)
    assert metrics.inception_score(np.full((20, 10), 0.1)) == pytest.approx(1.0)
    # p = [[1, 0], [0.5, 0.5]]; marginal [0.75, 0.25];
    # KL_1 = ln(4/3), KL_2 = 0.5 ln(2/3) + 0.5 ln 2; IS = exp of their mean
    expected = math.exp((math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2)
    assert metrics.inception_score(np.array([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(expected)


def test_code_entropy_by_hand():
    assert metrics.code_entropy([0, 0, 1, 1], 2) == pytest.approx(math.log(2))
    assert metrics.code_entropy(np.arange(1000) % 10, 10) == pytest.approx(math.log(10))
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert metrics.code_entropy([0, 0, 0, 1], 2) == pytest.approx(expected)


def test_information_bound_by_hand():
    codes = np.arange(1000) % 10
    assert metrics.information_bound(np.zeros((1000, 10)), codes) == pytest.approx(0.0, abs=1e-12)
    certain = 50.0 * np.eye(10)[codes]
    assert metrics.information_bound(certain, codes) == pytest.approx(math.log(10), abs=1e-9)
    # K = 2, codes [0, 1]: Q gives 3/4 and 1/2 to the right code.
    # L_I = ln 2 - (ln(4/3) + ln 2) / 2 = ln(1.5) / 2
    logits = np.array([[math.log(3), 0.0], [0.0, 0.0]])
    assert metrics.information_bound(logits, [0, 1]) == pytest.approx(0.5 * math.log(1.5))
    # confidently wrong: the bound goes negative, below what Q at chance would give
    assert metrics.information_bound(50.0 * np.eye(10)[(codes + 1) % 10], codes) < -10

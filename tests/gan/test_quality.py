"""Tests for upsampling.gan.quality: Fréchet distance, KID, class coverage."""
import math

import numpy as np
import pytest

from upsampling.gan.quality import (
    class_coverage,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
)


def _random_spd(rng, d, jitter=0.1):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + jitter * np.eye(d)


# --------------------------------------------------------------------------- Fréchet distance


def test_frechet_same_set_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 16))
    assert abs(frechet_distance(x, x)) < 1e-6


def test_frechet_same_set_singular_covariance_is_zero():
    # N < D: the covariance is singular; the eigen-based square root must stay stable.
    x = np.random.default_rng(1).normal(size=(10, 32))
    assert abs(frechet_distance(x, x)) < 1e-6


def test_frechet_from_stats_diagonal_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.1, 3.0, size=5), rng.uniform(0.1, 3.0, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_frechet_from_stats_commuting_covariances():
    # Same eigenbasis: tr sqrt(S1 S2) = sum sqrt(l1 * l2).
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    l1, l2 = rng.uniform(0.1, 2.0, size=6), rng.uniform(0.1, 2.0, size=6)
    s1, s2 = (q * l1) @ q.T, (q * l2) @ q.T
    mu = np.zeros(6)
    expected = np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2)
    assert frechet_distance_from_stats(mu, s1, mu, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_from_stats_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(4)
    for d in (1, 3, 12):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
        covmean = linalg.sqrtm(s1 @ s2)
        covmean = np.real(covmean)
        expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        got = frechet_distance_from_stats(mu1, s1, mu2, s2)
        assert got == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_frechet_matches_closed_form_on_samples():
    # Large N: sample statistics close to the true ones.
    rng = np.random.default_rng(5)
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, -1.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([0.5, 2.0, 1.5])
    a = mu1 + rng.normal(size=(50_000, 3)) * np.sqrt(s1)
    b = mu2 + rng.normal(size=(50_000, 3)) * np.sqrt(s2)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.05)


def test_frechet_symmetric_and_shift():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(300, 8))
    b = rng.normal(size=(250, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 0.3
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    c = rng.normal(size=8)
    assert frechet_distance(a, a + c) == pytest.approx(float(c @ c), rel=1e-9)
    # Shifting both sets by the same vector changes nothing.
    assert frechet_distance(a + c, b + c) == pytest.approx(frechet_distance(a, b), rel=1e-9)


def test_frechet_one_dimensional_features():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(100, 1))
    b = 2.0 * a + 3.0
    # 1-D: (mu diff)^2 + (sd_a - sd_b)^2 with sd_b = 2 sd_a.
    sd = a.std(ddof=1)
    assert frechet_distance(a, b) == pytest.approx((a.mean() - b.mean()) ** 2 + sd**2, rel=1e-9)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros(5), np.zeros((5, 2)), r"frechet_distance: `features_a` must be a 2-D"),
        (np.zeros((5, 2)), np.zeros((5, 3)), r"same feature dimension.*Received: shapes"),
        (np.zeros((1, 2)), np.zeros((5, 2)), r"at least 2 rows.*Received: shape=\(1, 2\)"),
        (np.full((3, 2), np.nan), np.zeros((5, 2)), r"finite"),
    ],
)
def test_frechet_bad_inputs(a, b, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(a, b)


def test_frechet_from_stats_bad_shapes():
    match = r"frechet_distance_from_stats: `sigma2` must be a \(2, 2\)"
    with pytest.raises(ValueError, match=match):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match=r"`mu1` and `mu2` must have the same shape"):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(3), np.eye(2))


# --------------------------------------------------------------------------- KID


def test_kid_same_set_near_zero_and_shift_positive():
    rng = np.random.default_rng(10)
    a = rng.normal(size=(400, 16))
    b = rng.normal(size=(400, 16))
    same_mean, same_std = kernel_inception_distance(a, b, subsets=5, subset_size=200, rng=0)
    near_mean, _ = kernel_inception_distance(a, b + 0.5, subsets=5, subset_size=200, rng=0)
    far_mean, _ = kernel_inception_distance(a, b + 1.5, subsets=5, subset_size=200, rng=0)
    assert abs(same_mean) < 0.05
    assert same_std >= 0.0
    assert near_mean > 0.1 > abs(same_mean)
    assert far_mean > near_mean


def test_kid_unbiased_mean_close_to_zero():
    # Many independent pairs of samples of one Gaussian: the average estimate is ~0, and some
    # single estimates are negative (an unbiased estimator of a zero quantity).
    rng = np.random.default_rng(11)
    estimates = []
    for _ in range(40):
        a = rng.normal(size=(50, 4))
        b = rng.normal(size=(50, 4))
        estimates.append(kernel_inception_distance(a, b, subsets=1, subset_size=50, rng=rng)[0])
    estimates = np.array(estimates)
    assert abs(estimates.mean()) < 3 * estimates.std() / math.sqrt(len(estimates))
    assert (estimates < 0).any()


def test_kid_matches_direct_formula_and_is_reproducible():
    rng = np.random.default_rng(12)
    a = rng.normal(size=(6, 3))
    b = rng.normal(size=(6, 3)) + 1.0
    # subset_size >= N: each subset is a permutation of the whole set -> identical estimates.
    mean, std = kernel_inception_distance(a, b, subsets=3, subset_size=100, rng=1)
    d, m = 3, 6

    def k(x, y):
        return (x @ y / d + 1.0) ** 3

    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-10)
    big_a, big_b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    first = kernel_inception_distance(big_a, big_b, subsets=4, subset_size=30, rng=7)
    second = kernel_inception_distance(big_a, big_b, subsets=4, subset_size=30, rng=7)
    assert first == second


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"subsets": 0}, r"kernel_inception_distance: `subsets` must be an integer >= 1"),
        ({"subset_size": 1}, r"`subset_size` must be an integer >= 2. Received: subset_size=1"),
        ({"rng": "seed"}, r"`rng` must be None, an integer seed"),
    ],
)
def test_kid_bad_arguments(kwargs, match):
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match=match):
        kernel_inception_distance(x, x, **kwargs)


def test_kid_bad_shapes():
    with pytest.raises(ValueError, match=r"kernel_inception_distance: `features_b` must be a 2-D"):
        kernel_inception_distance(np.zeros((5, 2)), np.zeros((5, 2, 1)))


# --------------------------------------------------------------------------- class coverage


def test_class_coverage_all_in_one_class():
    result = class_coverage(np.full(20, 3), num_classes=10)
    assert result["classes_covered"] == 1
    assert result["histogram"] == [0, 0, 0, 20, 0, 0, 0, 0, 0, 0]
    assert result["entropy_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert result["kl_to_uniform"] == pytest.approx(math.log(10))


def test_class_coverage_uniform():
    result = class_coverage(np.repeat(np.arange(10), 7))
    assert result["classes_covered"] == 10
    assert result["histogram"] == [7] * 10
    assert result["entropy_ratio"] == pytest.approx(1.0)
    assert result["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)


def test_class_coverage_from_probabilities_hand_computed():
    # argmax -> classes 0, 0, 1, 2 of K = 4: histogram [2, 1, 1, 0].
    probs = np.array(
        [[0.9, 0.1, 0.0, 0.0], [0.6, 0.3, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [0.2, 0.2, 0.5, 0.1]]
    )
    result = class_coverage(probs, num_classes=4)
    p = np.array([0.5, 0.25, 0.25])
    entropy = -np.sum(p * np.log(p))
    assert result["classes_covered"] == 3
    assert result["histogram"] == [2, 1, 1, 0]
    assert result["entropy_ratio"] == pytest.approx(entropy / math.log(4))
    assert result["kl_to_uniform"] == pytest.approx(math.log(4) - entropy)
    assert isinstance(result["classes_covered"], int)
    assert all(isinstance(c, int) for c in result["histogram"])


@pytest.mark.parametrize(
    "x, k, match",
    [
        (np.zeros((3, 5)), 10,
         r"class_coverage: .*K == num_classes \(10\). Received: shape=\(3, 5\)"),
        (np.zeros((2, 2, 2)), 2, r"must be \(N,\) hard labels or \(N, K\).*Received: shape"),
        (np.array([0, 10]), 10, r"in \[0, num_classes\).*Received: label 10"),
        (np.array([0.5, 1.0]), 10, r"whole numbers"),
        (np.array([], dtype=int), 10, r"at least one sample"),
        (np.array([0, 1]), 0, r"`num_classes` must be a positive integer"),
    ],
)
def test_class_coverage_bad_inputs(x, k, match):
    with pytest.raises(ValueError, match=match):
        class_coverage(x, num_classes=k)

"""The gradient checker itself must catch a wrong gradient."""
import numpy as np
import pytest

from tests.gradcheck import check_vjp


def test_accepts_a_correct_gradient():
    w = np.random.default_rng(1).standard_normal((3, 4))
    x = np.random.default_rng(2).standard_normal((5, 3))
    check_vjp(lambda x, w: np.tanh(x @ w), lambda r: [(r * (1 - np.tanh(x @ w) ** 2)) @ w.T,
                                                       x.T @ (r * (1 - np.tanh(x @ w) ** 2))], [x, w])


def test_catches_a_wrong_gradient():
    x = np.random.default_rng(2).standard_normal((5, 3))
    with pytest.raises(AssertionError):
        # d/dx sin(x) is cos(x), not -cos(x)
        check_vjp(lambda x: np.sin(x), lambda r: [-r * np.cos(x)], [x])


def test_catches_a_gradient_off_by_a_small_factor():
    x = np.random.default_rng(3).standard_normal((4, 4))
    with pytest.raises(AssertionError):
        check_vjp(lambda x: x ** 2, lambda r: [r * 2 * x * 1.001], [x])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_catches_a_gradient_with_non_finite_values(bad):
    # NaN compares False with everything: a tolerance test written as `err > tol` would pass it
    x = np.random.default_rng(4).standard_normal((3, 4))

    def backward(r):
        g = np.cos(x) * r
        g[1, 2] = bad
        return [g]

    with pytest.raises(AssertionError, match="non-finite"):
        check_vjp(lambda x: np.sin(x), backward, [x])


def test_catches_a_numeric_gradient_that_is_not_a_number():
    # sqrt at 0: the central difference reads sqrt(-eps) = NaN; an analytic 0 there must not pass
    x = np.array([[0.0, 1.0], [4.0, 9.0]])

    def forward(x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def backward(r):
        return [r * np.where(x > 0, 0.5 / np.sqrt(np.where(x > 0, x, 1.0)), 0.0)]

    with pytest.raises(AssertionError, match="max"):
        check_vjp(forward, backward, [x])

"""Every activation's backward pass: float64 finite differences (no oracle needed) and Keras 3.

Parametrized over `ACTIVATIONS`, so an activation added there is checked here without a new test.
Settings take non-default values (slopes, alpha, approximate, axis, max_value, threshold).
"""
import numpy as np
import pytest

from tests.gradcheck import check_vjp
from tests.keras_oracle import keras, torch_module
from upsampling.ops import activations as A

# name -> list of settings (the first is the default); kinks: points where the derivative jumps
SETTINGS = {
    "relu": [{}, dict(negative_slope=0.1), dict(max_value=0.7), dict(threshold=0.5, negative_slope=0.3),
             dict(max_value=2.0, threshold=0.25)],
    "leaky_relu": [{}, dict(negative_slope=0.01), dict(negative_slope=0.3), dict(negative_slope=1.5)],
    "elu": [{}, dict(alpha=0.4), dict(alpha=2.5)],
    "gelu": [{}, dict(approximate=True)],
    "softmax": [{}, dict(axis=0)],
}
KINKS = {"relu": [0.0, 0.5, 0.7, 2.0, 0.25], "leaky_relu": [0.0], "relu6": [0.0, 6.0],
         "hard_sigmoid": [-3.0, 3.0], "elu": [0.0], "selu": [0.0]}
CASES = [(name, kw) for name in sorted(A.ACTIVATIONS) for kw in SETTINGS.get(name, [{}])]


def _input(name, shape=(3, 8), seed=0):
    rng = np.random.default_rng(seed)
    if name in ("relu6", "hard_sigmoid"):  # every piece: below 0 / -3, between, above 6 / 3
        x = rng.uniform(-9.0, 9.0, shape)
    else:
        x = rng.standard_normal(shape) * 1.5
    for point in KINKS.get(name, []):
        x[np.abs(x - point) < 0.05] += 0.1
    return x


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_activation_backward_matches_finite_differences(name, kw):
    fwd, bwd = A.ACTIVATIONS[name]
    x = _input(name)
    y = fwd(x, **kw)
    assert y.dtype == np.float64 and y.shape == x.shape
    check_vjp(lambda x: fwd(x, **kw), lambda dy: [bwd(dy, x, fwd(x, **kw), **kw)], [x])


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_activation_forward_and_backward_match_keras(name, kw):
    k, torch = keras(), torch_module()
    fwd, bwd = A.ACTIVATIONS[name]
    x = _input(name, seed=1)
    r = np.random.default_rng(2).standard_normal(x.shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(k.activations, name)(xt, **kw)
    (yt * torch.tensor(r)).sum().backward()
    y = fwd(x, **kw)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bwd(r, x, y, **kw), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,x,dydx", [
    # derivative values written out from the definitions, a few points each
    ("softplus", [-2.0, 0.0, 3.0], [1 / (1 + np.e ** 2), 0.5, 1 / (1 + np.e ** -3)]),
    ("relu6", [-1.0, 2.0, 5.5, 7.0], [0.0, 1.0, 1.0, 0.0]),
    ("hard_sigmoid", [-4.0, 0.0, 2.9, 3.5], [0.0, 1 / 6, 1 / 6, 0.0]),
    ("softsign", [-1.0, 0.0, 3.0], [0.25, 1.0, 1 / 16]),
    ("exponential", [-1.0, 0.0, 2.0], [np.exp(-1.0), 1.0, np.exp(2.0)]),
    ("tanh", [0.0, 1.0], [1.0, 1 - np.tanh(1.0) ** 2]),
    ("sigmoid", [0.0], [0.25]),
])
def test_activation_derivatives_at_known_points(name, x, dydx):
    fwd, bwd = A.ACTIVATIONS[name]
    x = np.asarray(x)
    np.testing.assert_allclose(bwd(np.ones_like(x), x, fwd(x)), dydx, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("slope", [0.01, 0.2, 0.3, 1.5])
def test_leaky_relu_backward_uses_the_slope(slope):
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    dy = np.array([1.0, 3.0, 5.0, 7.0])
    np.testing.assert_array_equal(A.leaky_relu(x, slope), [-2 * slope, -0.5 * slope, 0.5, 2.0])
    np.testing.assert_array_equal(A.leaky_relu_backward(dy, x, None, slope), [slope, 3 * slope, 5.0, 7.0])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_activations_keep_the_dtype_in_both_directions(name, kw, dtype):
    fwd, bwd = A.ACTIVATIONS[name]
    x = _input(name).astype(dtype)
    y = fwd(x, **kw)
    assert y.dtype == x.dtype
    assert bwd(np.ones_like(y), x, y, **kw).dtype == x.dtype


# (name, settings, the kink, the derivative there): Keras (and TF, PyTorch) take the left piece's
# slope at the kink for each of these
AT_KINKS = [
    ("relu", {}, 0.0, 0.0),
    ("relu", dict(negative_slope=0.1), 0.0, 0.1),
    ("leaky_relu", {}, 0.0, 0.2),
    ("leaky_relu", dict(negative_slope=0.3), 0.0, 0.3),
    ("relu6", {}, 0.0, 0.0),
    ("relu6", {}, 6.0, 0.0),
    ("hard_sigmoid", {}, -3.0, 0.0),
    ("hard_sigmoid", {}, 3.0, 0.0),
    ("elu", dict(alpha=0.4), 0.0, 0.4),
]


@pytest.mark.parametrize("name,kw,x,dydx", AT_KINKS, ids=[f"{n}-{kw}-{x}" for n, kw, x, _ in AT_KINKS])
def test_derivative_exactly_at_a_kink_is_the_left_slope(name, kw, x, dydx):
    fwd, bwd = A.ACTIVATIONS[name]
    x = np.array([x])
    assert bwd(np.ones(1), x, fwd(x, **kw), **kw)[0] == dydx


@pytest.mark.parametrize("name,kw,x,dydx", AT_KINKS, ids=[f"{n}-{kw}-{x}" for n, kw, x, _ in AT_KINKS])
def test_derivative_exactly_at_a_kink_matches_keras(name, kw, x, dydx):
    k, torch = keras(), torch_module()
    xt = torch.tensor([x], dtype=torch.float64, requires_grad=True)
    getattr(k.activations, name)(xt, **kw).sum().backward()
    assert xt.grad.numpy()[0] == dydx


def test_relu_threshold_passes_only_values_above_it():
    # Keras: x if x > threshold, else negative_slope * (x - threshold); at the threshold, 0
    x = np.array([0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(A.relu(x, threshold=1.0), [0.0, 0.0, 0.0, 1.5])
    np.testing.assert_allclose(A.relu(x, threshold=1.0, negative_slope=0.5), [-0.5, -0.25, 0.0, 1.5])
    np.testing.assert_array_equal(A.relu_backward(np.ones(4), x, None, threshold=1.0, negative_slope=0.5),
                                  [0.5, 0.5, 0.5, 1.0])


def test_relu_threshold_at_integer_inputs_matches_keras():
    k = keras()
    x = np.arange(-2.0, 4.0).reshape(2, 3)
    for kw in (dict(threshold=1.0), dict(threshold=2.0, negative_slope=0.25, max_value=3.0)):
        np.testing.assert_array_equal(A.relu(x, **kw), k.ops.convert_to_numpy(k.activations.relu(x, **kw)))


def test_softmax_is_stable_for_large_and_very_different_rows():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0], [0.0, 1.0, -1.0]])
    y = A.softmax(x)
    expected = np.exp([0.0, 1.0, -1.0]) / np.exp([0.0, 1.0, -1.0]).sum()
    np.testing.assert_allclose(y[0], expected, rtol=1e-12)
    np.testing.assert_allclose(y[1], np.exp([-1.0, -2.0, 0.0]) / np.exp([-1.0, -2.0, 0.0]).sum(), rtol=1e-12)
    np.testing.assert_allclose(y[2], expected, rtol=1e-12)
    np.testing.assert_allclose(A.softmax(x.T, axis=0), y.T, rtol=1e-12)

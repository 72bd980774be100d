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
    "celu": [{}, dict(alpha=0.6), dict(alpha=2.0)],
    "gelu": [{}, dict(approximate=True)],
    "softmax": [{}, dict(axis=0)],
    "log_softmax": [{}, dict(axis=0)],
    "sparsemax": [{}, dict(axis=0)],
    "glu": [{}, dict(axis=0)],
    "hard_shrink": [{}, dict(threshold=0.2), dict(threshold=1.3)],
    "soft_shrink": [{}, dict(threshold=0.2), dict(threshold=1.3)],
    "squareplus": [{}, dict(b=0.5), dict(b=9.0)],
    # no defaults in Keras: settings always given
    "threshold": [dict(threshold=0.3, default_value=-2.0), dict(threshold=-0.5, default_value=0.0)],
}
KINKS = {"relu": [0.0, 0.5, 0.7, 2.0, 0.25], "leaky_relu": [0.0], "relu6": [0.0, 6.0],
         "hard_sigmoid": [-3.0, 3.0], "elu": [0.0], "selu": [0.0], "hard_silu": [-3.0, 3.0],
         "hard_swish": [-3.0, 3.0], "hard_tanh": [-1.0, 1.0], "sparse_sigmoid": [-1.0, 1.0],
         "sparse_plus": [-1.0, 1.0], "hard_shrink": [-1.3, -0.5, -0.2, 0.2, 0.5, 1.3],
         "soft_shrink": [-1.3, -0.5, -0.2, 0.2, 0.5, 1.3], "threshold": [0.3, -0.5]}
# ones whose pieces span a wide range: inputs drawn over all of it
WIDE = ("relu6", "hard_sigmoid", "hard_silu", "hard_swish")
ALL = {**A.ACTIVATIONS, **A.NEEDS_ARGUMENTS}
CASES = [(name, kw) for name in sorted(ALL) for kw in SETTINGS.get(name, [{}])]


def _input(name, shape=(4, 8), seed=0):
    rng = np.random.default_rng(seed)
    if name in WIDE:  # every piece: below 0 / -3, between, above 6 / 3
        x = rng.uniform(-9.0, 9.0, shape)
    else:
        x = rng.standard_normal(shape) * 1.5
    for point in KINKS.get(name, []):
        x[np.abs(x - point) < 0.05] += 0.1
    return x


def _output_shape(name, shape, kw):
    if name != "glu":
        return shape
    axis = kw.get("axis", -1) % len(shape)
    return tuple(n // 2 if i == axis else n for i, n in enumerate(shape))


def sparsemax_reference(torch, x, axis):
    """The published algorithm (Martins & Astudillo 2016, Algorithm 1), one slice at a time, in
    torch so that autograd gives the gradient: sort decreasingly, find the largest k with
    1 + k z_(k) > z_(1) + ... + z_(k), tau = (z_(1) + ... + z_(k) - 1) / k, y = max(z - tau, 0).
    Keras 3.15's sparsemax is not an oracle: its tau sums the running sums (keras-team/keras#23425),
    which differs from the definition whenever the support has two or more entries."""
    xs = torch.movedim(x, axis, -1)
    rows = []
    for z in xs.reshape(-1, xs.shape[-1]):
        top = torch.sort(z, descending=True).values
        k = max(j for j in range(1, len(z) + 1) if 1 + j * top[j - 1] > top[:j].sum())
        tau = (top[:k].sum() - 1) / k
        rows.append(torch.clamp(z - tau, min=0))
    return torch.movedim(torch.stack(rows).reshape(xs.shape), -1, axis)


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_activation_backward_matches_finite_differences(name, kw):
    fwd, bwd = ALL[name]
    x = _input(name)
    y = fwd(x, **kw)
    assert y.dtype == np.float64 and y.shape == _output_shape(name, x.shape, kw)
    check_vjp(lambda x: fwd(x, **kw), lambda dy: [bwd(dy, x, fwd(x, **kw), **kw)], [x])


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_activation_forward_and_backward_match_keras(name, kw):
    k, torch = keras(), torch_module()
    fwd, bwd = ALL[name]
    x = _input(name, seed=1)
    r = np.random.default_rng(2).standard_normal(_output_shape(name, x.shape, kw))
    xt = torch.tensor(x, requires_grad=True)
    if name == "sparsemax":
        yt = sparsemax_reference(torch, xt, kw.get("axis", -1))
    else:
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
    ("log_sigmoid", [-2.0, 0.0, 3.0], [1 / (1 + np.e ** -2), 0.5, 1 / (1 + np.e ** 3)]),
    ("tanh_shrink", [0.0, 1.0], [0.0, np.tanh(1.0) ** 2]),
    ("mish", [0.0], [np.tanh(np.log(2.0))]),
    ("squareplus", [-2.0, 0.0, 2.0], [0.5 - 1 / np.sqrt(8), 0.5, 0.5 + 1 / np.sqrt(8)]),
    ("sparse_plus", [-2.0, 0.0, 0.5, 2.0], [0.0, 0.5, 0.75, 1.0]),
    ("sparse_sigmoid", [-2.0, 0.0, 2.0], [0.0, 0.5, 0.0]),
    ("hard_silu", [-4.0, 0.0, 1.5, 4.0], [0.0, 0.5, 1.0, 1.0]),
    ("hard_tanh", [-2.0, 0.3, 2.0], [0.0, 1.0, 0.0]),
    ("celu", [-1.0, 2.0], [np.exp(-1.0), 1.0]),
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
    fwd, bwd = ALL[name]
    x = _input(name).astype(dtype)
    y = fwd(x, **kw)
    assert y.dtype == x.dtype
    assert bwd(np.ones_like(y), x, y, **kw).dtype == x.dtype


# (name, settings, the kink, the derivative there): what Keras's torch backend (PyTorch autograd)
# takes at the kink. For most that is the left piece's slope; where a piece is a constant (the
# clips, the shrinks, threshold) it is 0; hard_silu takes 0 at -3 and 1 (the right piece) at 3.
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
    ("celu", dict(alpha=0.5), 0.0, 1.0),  # both pieces have slope 1 there
    ("hard_silu", {}, -3.0, 0.0),
    ("hard_silu", {}, 3.0, 1.0),
    ("hard_swish", {}, 3.0, 1.0),
    ("hard_tanh", {}, -1.0, 0.0),
    ("hard_tanh", {}, 1.0, 0.0),
    ("hard_shrink", {}, 0.5, 0.0),
    ("hard_shrink", dict(threshold=1.3), -1.3, 0.0),
    ("soft_shrink", {}, -0.5, 0.0),
    ("soft_shrink", dict(threshold=0.2), 0.2, 0.0),
    ("sparse_sigmoid", {}, -1.0, 0.0),
    ("sparse_sigmoid", {}, 1.0, 0.0),
    ("sparse_plus", {}, -1.0, 0.0),
    ("sparse_plus", {}, 1.0, 1.0),
    ("threshold", dict(threshold=0.3, default_value=-2.0), 0.3, 0.0),
]


@pytest.mark.parametrize("name,kw,x,dydx", AT_KINKS, ids=[f"{n}-{kw}-{x}" for n, kw, x, _ in AT_KINKS])
def test_derivative_exactly_at_a_kink_is_the_one_keras_takes(name, kw, x, dydx):
    fwd, bwd = ALL[name]
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


def test_log_activations_and_mish_stay_finite_and_exact_for_large_inputs():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    np.testing.assert_allclose(A.log_sigmoid(x), [-800.0, -40.0, -np.log(2.0), -np.exp(-40.0), 0.0], rtol=1e-12)
    np.testing.assert_allclose(A.log_sigmoid_backward(np.ones(5), x, None), [1.0, 1.0, 0.5, np.exp(-40.0), 0.0],
                               rtol=1e-12)
    assert np.all(np.isfinite(A.mish(x))) and A.mish(x)[-1] == 800.0 and abs(A.mish(x)[0]) < 1e-300
    rows = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]])
    expected = np.array([0.0, 1.0, -1.0]) - np.log(np.exp([0.0, 1.0, -1.0]).sum())
    np.testing.assert_allclose(A.log_softmax(rows)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(np.exp(A.log_softmax(rows)), A.softmax(rows), rtol=1e-12)


def test_squareplus_does_not_cancel_for_large_negative_inputs():
    x = np.array([-1e8, -1e4, 1e8])
    # (x + sqrt(x^2 + 4)) / 2 rounds to 0 at -1e8; the true value is about 1 / |x|
    np.testing.assert_allclose(A.squareplus(x), [1e-8, 2 / (np.sqrt(1e8 + 4) + 1e4), 1e8], rtol=1e-12)
    assert A.squareplus(np.array([-1e8], np.float32)).dtype == np.float32


def _sparsemax_naive(z):
    """One slice, straight from the paper's Algorithm 1."""
    top = sorted(z, reverse=True)
    k = max(j for j in range(1, len(z) + 1) if 1 + j * top[j - 1] > sum(top[:j]))
    tau = (sum(top[:k]) - 1) / k
    return np.maximum(np.asarray(z) - tau, 0)


def test_sparsemax_is_a_sparse_distribution_matching_the_published_algorithm():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 9)) * 2
    x[0] = 3.0  # all tied: uniform
    x[1] = [5.0] + [0.0] * 8  # one far ahead: one-hot
    y = A.sparsemax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(y, np.stack([_sparsemax_naive(list(row)) for row in x]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(y[0], 1 / 9, rtol=1e-12)
    np.testing.assert_array_equal(y[1], [1.0] + [0.0] * 8)
    assert (y == 0).any()
    np.testing.assert_allclose(A.sparsemax(x + 100.0), y, atol=1e-12)  # shift-invariant
    np.testing.assert_allclose(A.sparsemax(x.T, axis=0), y.T, rtol=1e-12)


def test_glu_halves_its_axis_and_refuses_an_odd_length():
    x = np.arange(12.0).reshape(2, 6)
    np.testing.assert_allclose(A.glu(x), x[:, :3] * A.sigmoid(x[:, 3:]))
    assert A.glu(x.reshape(2, 2, 3), axis=1).shape == (2, 1, 3)
    with pytest.raises(ValueError, match=r"glu: the activation axis \(-1\) must have an even length.*\(2, 3\)"):
        A.glu(np.ones((2, 3)))


def test_threshold_replaces_values_at_or_below_it():
    x = np.array([-1.0, 0.3, 0.5], np.float32)
    y = A.threshold(x, 0.3, -2.0)
    np.testing.assert_array_equal(y, [-2.0, -2.0, 0.5])
    assert y.dtype == np.float32

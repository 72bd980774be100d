"""Loss kernels (upsampling.ops.losses): float64 finite differences, dtypes, corner cases."""
import numpy as np
import pytest

from tests.gradcheck import check_vjp
from upsampling.ops import losses as K

RNG = np.random.default_rng(1234)


def _probs(shape, lo=0.05, hi=0.95):
    return RNG.uniform(lo, hi, size=shape)


def _binary(shape):
    return (RNG.random(shape) > 0.5).astype(np.float64)


def _onehot(n, c):
    return np.eye(c)[RNG.integers(0, c, size=n)]


def _check(fwd, bwd, y_true, y_pred, **settings):
    check_vjp(
        lambda p: fwd(y_true, p, **settings),
        lambda d: [bwd(y_true, y_pred, d, **settings)],
        [y_pred],
    )


# --- finite differences, float64, every option ---------------------------------------------

@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("axis", [-1, 1])
def test_bce_gradcheck(from_logits, label_smoothing, axis):
    y_pred = RNG.normal(0, 3, (3, 4, 2)) if from_logits else _probs((3, 4, 2))
    _check(K.binary_crossentropy, K.binary_crossentropy_grad, _binary((3, 4, 2)), y_pred,
           from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cce_gradcheck(from_logits, label_smoothing):
    # unnormalised probabilities exercise the gradient through p / sum(p)
    y_pred = RNG.normal(0, 2, (4, 5)) if from_logits else _probs((4, 5), 0.1, 1.0)
    _check(K.categorical_crossentropy, K.categorical_crossentropy_grad, _onehot(4, 5), y_pred,
           from_logits=from_logits, label_smoothing=label_smoothing)


@pytest.mark.parametrize("from_logits", [False, True])
def test_cce_axis1_gradcheck(from_logits):
    y_true = np.moveaxis(np.eye(3)[RNG.integers(0, 3, size=(2, 4))], -1, 1)  # (2, 3, 4)
    y_pred = RNG.normal(0, 2, (2, 3, 4)) if from_logits else _probs((2, 3, 4), 0.1, 1.0)
    _check(K.categorical_crossentropy, K.categorical_crossentropy_grad, y_true, y_pred,
           from_logits=from_logits, axis=1, label_smoothing=0.1)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("axis", [-1, 1])
def test_sparse_cce_gradcheck(from_logits, axis):
    shape = (3, 4, 2) if axis == 1 else (3, 2, 4)
    y_pred = RNG.normal(0, 2, shape) if from_logits else _probs(shape, 0.1, 1.0)
    labels = RNG.integers(0, 4, size=(3, 2))
    _check(K.sparse_categorical_crossentropy, K.sparse_categorical_crossentropy_grad, labels,
           y_pred, from_logits=from_logits, axis=axis)


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error", "hinge"])
def test_regression_and_hinge_gradcheck(name):
    fwd, bwd = getattr(K, name), getattr(K, name + "_grad")
    y_pred = RNG.normal(0, 1, (3, 5))
    y_true = _binary((3, 5)) if name == "hinge" else RNG.normal(0, 1, (3, 5))
    _check(fwd, bwd, y_true, y_pred)


# --- dtypes and shapes ---------------------------------------------------------------------

@pytest.mark.parametrize("name,settings", [
    ("binary_crossentropy", {}), ("binary_crossentropy", {"from_logits": True}),
    ("categorical_crossentropy", {}), ("categorical_crossentropy", {"from_logits": True}),
    ("mean_squared_error", {}), ("mean_absolute_error", {}), ("hinge", {}),
])
def test_float32_stays_float32(name, settings):
    fwd, bwd = getattr(K, name), getattr(K, name + "_grad")
    y_pred = _probs((4, 3)).astype(np.float32)
    y_true = _onehot(4, 3)  # float64 labels must not promote the result
    values = fwd(y_true, y_pred, **settings)
    grad = bwd(y_true, y_pred, np.ones(4, np.float32), **settings)
    assert values.dtype == np.float32 and values.shape == (4,)
    assert grad.dtype == np.float32 and grad.shape == (4, 3)


def test_sparse_float32_and_unit_axis_labels():
    y_pred = _probs((4, 3)).astype(np.float32)
    labels = np.array([[0], [2], [1], [1]])
    v1 = K.sparse_categorical_crossentropy(labels, y_pred)
    v2 = K.sparse_categorical_crossentropy(labels[:, 0].astype(np.float32), y_pred)
    assert v1.dtype == np.float32 and v1.shape == (4,)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_allclose(v1, -np.log(y_pred[np.arange(4), labels[:, 0]]
                                           / y_pred.sum(-1)), rtol=1e-6)


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match="same shape"):
        K.binary_crossentropy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 3\)"):
        K.sparse_categorical_crossentropy(np.array([0, 3]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="integer class ids"):
        K.sparse_categorical_crossentropy(np.array([0.5, 1.0]), np.ones((2, 3)))
    with pytest.raises(ValueError, match="axis"):
        K.binary_crossentropy(np.zeros((2, 3)), np.zeros((2, 3)), axis=2)


# --- corner cases of the Keras math ---------------------------------------------------------

def test_bce_clip_passes_gradient_on_the_boundary_only():
    eps32 = np.float32(1e-7)
    hi32 = np.float32(1) - eps32
    y_pred = np.array([[0.0, 1e-9, eps32, hi32, 1.0, 0.5]], np.float32)
    y_true = np.array([[1, 0, 1, 0, 0, 1]], np.float32)
    g = K.binary_crossentropy_grad(y_true, y_pred, np.ones(1, np.float32))
    assert g[0, 0] == 0 and g[0, 1] == 0 and g[0, 4] == 0  # strictly outside: no gradient
    assert g[0, 2] < -1e5 and g[0, 3] > 1e5  # on the boundary: full gradient
    # the loss is finite and equals -log(eps) for a fully wrong prediction
    v = K.binary_crossentropy(np.array([[1.0]], np.float32), np.array([[0.0]], np.float32))
    np.testing.assert_allclose(v, [-np.log(eps32)], rtol=1e-6)


def test_bce_from_logits_is_stable_for_huge_logits():
    x = np.array([[-1e4, 1e4, 0.0]], np.float32)
    t = np.array([[1.0, 0.0, 1.0]], np.float32)
    v = K.binary_crossentropy(t, x, from_logits=True)
    np.testing.assert_allclose(v, [(1e4 + 1e4 + np.log(2)) / 3], rtol=1e-6)
    g = K.binary_crossentropy_grad(t, x, np.ones(1, np.float32), from_logits=True)
    np.testing.assert_allclose(g, [[-1 / 3, 1 / 3, -1 / 6]], rtol=1e-6)


def test_hinge_label_conversion_and_tie():
    y_pred = np.array([[1.0, -0.5, 0.3]])
    # 0/1 labels become -1/1; at the tie 1 - y*p == 0 the gradient is halved (torch.maximum)
    g = K.hinge_grad(np.array([[1.0, 0.0, 1.0]]), y_pred, np.ones(1))
    np.testing.assert_allclose(g, [[-0.5 / 3, 1 / 3, -1 / 3]])
    np.testing.assert_allclose(K.hinge(np.array([[1.0, 0.0, 1.0]]), y_pred), [(0 + 0.5 + 0.7) / 3])
    # labels already in {-1, 1} are left alone; mixed labels (not all 0/1) are not converted
    np.testing.assert_allclose(K.hinge(np.array([[1.0, -1.0, 0.0]]), y_pred), [(0 + 0.5 + 1) / 3])


def test_mae_gradient_is_zero_where_equal():
    g = K.mean_absolute_error_grad(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]), np.ones(1))
    np.testing.assert_array_equal(g, [[0.0, 0.5]])

"""upsampling.losses against Keras 3 (values) and torch autograd through Keras (gradients)."""
import warnings

import numpy as np
import pytest

from tests.gradcheck import assert_grad_close, numeric_grad
from upsampling import losses as L

RNG = np.random.default_rng(7)
EPS32 = np.float32(1e-7)


def _assert_grad(ours, ref, what=""):
    scale = float(np.abs(ref).max(initial=0.0))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * scale, err_msg=what)


def _extreme_probs(shape):
    """Probabilities with values beyond, on and inside the clip range [eps, 1 - eps]."""
    p = RNG.uniform(0.02, 0.98, size=shape).astype(np.float32)
    flat = p.reshape(-1)
    special = [0.0, 1.0, 1e-9, 1 - 1e-9, EPS32, np.float32(1) - EPS32, 3e-7, 1 - 3e-7]
    n = min(len(special), flat.size)
    flat[:n] = special[:n]
    return p


def _binary(shape):
    return (RNG.random(shape) > 0.5).astype(np.float32)


def _onehot(n, c):
    return np.eye(c, dtype=np.float32)[RNG.integers(0, c, size=n)]


# each case: (our class, keras class name, kwargs, y_true, y_pred, sample_weight)
def _cases():
    cases = []
    for fl in (False, True):
        for ls in (0.0, 0.1):
            yp = RNG.normal(0, 8, (6, 4)).astype(np.float32) if fl else _extreme_probs((6, 4))
            cases.append((L.BinaryCrossentropy, dict(from_logits=fl, label_smoothing=ls),
                          _binary((6, 4)), yp, None))
    cases.append((L.BinaryCrossentropy, dict(axis=1), _binary((3, 4, 2)), _extreme_probs((3, 4, 2)),
                  None))
    # (N,) labels against (N, 1) predictions; sample weights; "sum" reduction
    cases.append((L.BinaryCrossentropy, dict(), _binary((5,)), _extreme_probs((5, 1)),
                  RNG.random(5).astype(np.float32)))
    cases.append((L.BinaryCrossentropy, dict(reduction="sum", from_logits=True), _binary((5, 1)),
                  RNG.normal(0, 3, (5,)).astype(np.float32), None))
    for fl in (False, True):
        for ls in (0.0, 0.2):
            if fl:
                yp = RNG.normal(0, 4, (6, 5)).astype(np.float32)
            else:
                yp = RNG.uniform(0.0, 1.0, (6, 5)).astype(np.float32)
                yp[0] = [1.0, 0.0, 0.0, 0.0, 0.0]  # normalised prob 1 and 0: both clipped
                yp[1, 2] = 1e-9
            cases.append((L.CategoricalCrossentropy, dict(from_logits=fl, label_smoothing=ls),
                          _onehot(6, 5), yp, None))
    # class axis 1 with label smoothing (Keras counts classes on the LAST axis regardless)
    yt = np.moveaxis(np.eye(3, dtype=np.float32)[RNG.integers(0, 3, size=(2, 4))], -1, 1)
    cases.append((L.CategoricalCrossentropy, dict(axis=1, label_smoothing=0.1), yt,
                  RNG.uniform(0.05, 1, (2, 3, 4)).astype(np.float32), None))
    cases.append((L.CategoricalCrossentropy, dict(reduction="mean_with_sample_weight"),
                  _onehot(4, 3), RNG.uniform(0.05, 1, (4, 3)).astype(np.float32),
                  np.array([1.0, 0.0, 2.0, 0.5], np.float32)))
    for fl in (False, True):
        yp = (RNG.normal(0, 3, (6, 4)) if fl else RNG.uniform(0, 1, (6, 4))).astype(np.float32)
        if not fl:
            yp[0] = [0.0, 1.0, 0.0, 0.0]
        labels = RNG.integers(0, 4, size=(6,))
        labels[0] = 0
        cases.append((L.SparseCategoricalCrossentropy, dict(from_logits=fl), labels, yp, None))
        cases.append((L.SparseCategoricalCrossentropy, dict(from_logits=fl),
                      labels[:, None].astype(np.float32), yp, None))
    cases.append((L.MeanSquaredError, dict(), RNG.normal(size=(5, 3)).astype(np.float32),
                  RNG.normal(size=(5, 3)).astype(np.float32), RNG.random(5).astype(np.float32)))
    cases.append((L.MeanSquaredError, dict(), RNG.normal(size=(5,)).astype(np.float32),
                  RNG.normal(size=(5, 1)).astype(np.float32), None))
    yt = RNG.normal(size=(5, 3)).astype(np.float32)
    yp = RNG.normal(size=(5, 3)).astype(np.float32)
    yp[0, 0] = yt[0, 0]  # |0| has zero gradient
    cases.append((L.MeanAbsoluteError, dict(reduction="sum"), yt, yp, None))
    yp = RNG.normal(size=(5, 3)).astype(np.float32)
    yp[0, :2] = [1.0, -1.0]  # ties of max(1 - y*p, 0)
    yt = _binary((5, 3))
    yt[0, :2] = [1.0, 0.0]
    cases.append((L.Hinge, dict(), yt, yp, None))
    cases.append((L.Hinge, dict(), np.where(_binary((5, 3)) > 0, 1, -1).astype(np.float32),
                  RNG.normal(size=(5, 3)).astype(np.float32), None))
    cases.append((L.Hinge, dict(reduction="none"), _binary((5, 3)),
                  RNG.normal(size=(5, 3)).astype(np.float32), None))
    return cases


CASES = _cases()


def _id(case):
    cls, kw, yt, yp, sw = case
    return f"{cls.__name__}-{kw}-{yt.shape}-{yp.shape}-{'sw' if sw is not None else ''}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_keras_values_and_autograd(case):
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    cls, kw, y_true, y_pred, sw = case
    ours = cls(**kw)
    theirs = getattr(keras.losses, cls.__name__)(**kw)

    yp_t = torch.tensor(y_pred, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = theirs(torch.tensor(y_true), yp_t,
                     sample_weight=None if sw is None else torch.tensor(sw))
    value = ours(y_true, y_pred, sample_weight=sw)
    if kw.get("reduction") == "none":
        np.testing.assert_allclose(value, ref.detach().numpy(), rtol=1e-5)
        assert value.dtype == np.float32
        return
    np.testing.assert_allclose(value, ref.item(), rtol=1e-5)
    ref.backward()
    v2, grad = ours.value_and_grad(y_true, y_pred, sample_weight=sw)
    assert v2 == value
    assert grad.shape == y_pred.shape and grad.dtype == np.float32
    _assert_grad(grad, yp_t.grad.numpy(), _id(case))


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy",
                                  "mean_squared_error", "mean_absolute_error", "hinge"])
def test_functions_match_keras(name):
    keras = pytest.importorskip("keras")
    yt = _onehot(4, 3)
    yp = RNG.uniform(0.01, 1, (4, 3)).astype(np.float32)
    ours = getattr(L, name)(yt, yp)
    ref = np.asarray(getattr(keras.losses, name)(yt, yp))
    assert ours.shape == (4,) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_sparse_function_matches_keras():
    keras = pytest.importorskip("keras")
    yp = RNG.uniform(0.01, 1, (4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    ref = np.asarray(keras.losses.sparse_categorical_crossentropy(labels, yp))
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(labels, yp), ref, rtol=1e-5)


# --- float64 finite differences through the whole Loss object ------------------------------

@pytest.mark.parametrize("loss,y_true,y_pred,sw", [
    (L.BinaryCrossentropy(label_smoothing=0.1), _binary((4, 3)), RNG.uniform(0.1, 0.9, (4, 3)),
     None),
    (L.BinaryCrossentropy(from_logits=True, reduction="sum"), _binary((4, 1)),
     RNG.normal(0, 2, (4,)), RNG.random(4)),
    (L.CategoricalCrossentropy(), _onehot(4, 3), RNG.uniform(0.1, 1, (4, 3)), RNG.random((4, 1))),
    (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), _onehot(4, 3),
     RNG.normal(0, 2, (4, 3)), None),
    (L.SparseCategoricalCrossentropy(from_logits=True), np.array([[0], [2], [1], [1]]),
     RNG.normal(0, 2, (4, 3)), None),
    (L.MeanSquaredError(reduction="mean_with_sample_weight"), RNG.normal(size=(4, 2)),
     RNG.normal(size=(4, 2)), RNG.random(4)),
    (L.MeanAbsoluteError(), RNG.normal(size=(2, 3, 2)), RNG.normal(size=(2, 3, 2)),
     RNG.random((2, 3))),
    (L.Hinge(), _binary((4, 3)), RNG.normal(size=(4, 3)), None),
])
def test_value_and_grad_finite_differences_float64(loss, y_true, y_pred, sw):
    y_pred = np.array(y_pred, dtype=np.float64)
    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw)
    assert grad.dtype == np.float64 and isinstance(value, float)
    assert value == loss(y_true, y_pred, sample_weight=sw)
    num = numeric_grad(lambda: loss(y_true, y_pred, sample_weight=sw), y_pred)
    assert_grad_close(grad, num, rtol=1e-6, atol=1e-8, what=repr(loss))


# --- get / config / errors -----------------------------------------------------------------

@pytest.mark.parametrize("name,cls", [
    ("binary_crossentropy", L.BinaryCrossentropy), ("BinaryCrossentropy", L.BinaryCrossentropy),
    ("bce", L.BinaryCrossentropy), ("mse", L.MeanSquaredError), ("MSE", L.MeanSquaredError),
    ("mean_squared_error", L.MeanSquaredError), ("MeanSquaredError", L.MeanSquaredError),
    ("mae", L.MeanAbsoluteError), ("mean_absolute_error", L.MeanAbsoluteError),
    ("categorical_crossentropy", L.CategoricalCrossentropy),
    ("CategoricalCrossentropy", L.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", L.SparseCategoricalCrossentropy),
    ("SparseCategoricalCrossentropy", L.SparseCategoricalCrossentropy),
    ("hinge", L.Hinge), ("Hinge", L.Hinge),
])
def test_get_by_name(name, cls):
    assert type(L.get(name)) is cls


def test_get_objects_functions_and_errors():
    obj = L.BinaryCrossentropy(from_logits=True)
    assert L.get(obj) is obj
    assert L.get(None) is None
    assert isinstance(L.get(L.Hinge), L.Hinge)
    assert isinstance(L.get(L.mse), L.MeanSquaredError)
    assert isinstance(L.get(L.binary_crossentropy), L.BinaryCrossentropy)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'crossentropyy'"):
        L.get("crossentropyy")
    assert isinstance(L.get(lambda y_true, y_pred: (y_true - y_pred) ** 2), L.LossFunctionWrapper)
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="no scalar"):
        L.MeanSquaredError(reduction="none").value_and_grad(np.zeros((2, 1)), np.zeros((2, 1)))


def test_custom_loss_subclass_trains_and_plain_subclass_explains():
    class Quartic(L.Loss):
        def call(self, y_true, y_pred):
            return np.mean((y_pred - y_true) ** 4, axis=-1)

        def call_and_vjp(self, y_true, y_pred):
            diff = y_pred - y_true
            n = diff.shape[-1]
            return self.call(y_true, y_pred), lambda d: d[..., None] * 4 * diff ** 3 / n

    yt, yp = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    value, grad = L.get(Quartic()).value_and_grad(yt, yp)
    assert_grad_close(grad, numeric_grad(lambda: Quartic()(yt, yp), yp), what="custom")

    class NoGrad(L.Loss):
        def call(self, y_true, y_pred):
            return np.mean(y_pred, axis=-1)

    assert NoGrad()(yt, yp) == pytest.approx(np.mean(yp))
    with pytest.raises(TypeError, match="cannot be differentiated.*upsampling.ops"):
        NoGrad().value_and_grad(yt, yp)


def test_config_roundtrip_and_keras_config():
    keras = pytest.importorskip("keras")
    ours = L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="b")
    again = L.deserialize(L.serialize(ours))
    assert again.get_config() == ours.get_config()
    # configs written by Keras load here
    for k in (keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2),
              keras.losses.CategoricalCrossentropy(axis=1),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              keras.losses.MeanSquaredError(), keras.losses.Hinge()):
        cfg = k.get_config()
        ours = getattr(L, type(k).__name__).from_config(cfg)
        assert {key: ours.get_config()[key] for key in cfg} == cfg

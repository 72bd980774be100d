"""upsampling.metrics against Keras 3 metrics, and the 'accuracy' resolution rule."""
import numpy as np
import pytest

from upsampling import losses as L
from upsampling import metrics as M

RNG = np.random.default_rng(99)


def _batches(kind):
    out = []
    for n in (6, 4):
        if kind == "binary":
            yt = (RNG.random((n, 1)) > 0.5).astype(np.float32)
            yp = RNG.random((n, 1)).astype(np.float32)
            yp[0, 0] = 0.5  # exactly at the threshold: Keras uses `>`
        elif kind == "binary_multi":
            yt = (RNG.random((n, 3)) > 0.5).astype(np.float32)
            yp = RNG.random((n, 3)).astype(np.float32)
        elif kind == "categorical":
            yt = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, n)]
            yp = RNG.random((n, 4)).astype(np.float32)
        elif kind == "sparse":
            yt = RNG.integers(0, 4, (n, 1)).astype(np.float32)
            yp = RNG.random((n, 4)).astype(np.float32)
        elif kind == "sparse_flat":
            yt = RNG.integers(0, 4, (n,))
            yp = RNG.random((n, 4)).astype(np.float32)
        elif kind == "exact":
            yt = RNG.integers(0, 3, (n, 2)).astype(np.float32)
            yp = RNG.integers(0, 3, (n, 2)).astype(np.float32)
        sw = RNG.random(n).astype(np.float32)
        out.append((yt, yp, sw))
    return out


CASES = [
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary_multi"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_flat"),
    ("Accuracy", {}, "exact"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_matches_keras(name, kwargs, kind, weighted):
    keras = pytest.importorskip("keras")
    ours = getattr(M, name)(**kwargs)
    theirs = getattr(keras.metrics, name)(**kwargs)
    for yt, yp, sw in _batches(kind):
        ours.update_state(yt, yp, sample_weight=sw if weighted else None)
        theirs.update_state(yt, yp, sample_weight=sw if weighted else None)
    assert isinstance(ours.result(), float)
    np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    assert ours.result() == 0.0 == float(theirs.result())
    yt, yp, _ = _batches(kind)[0]
    ours.update_state(yt, yp)
    theirs.update_state(yt, yp)
    np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-6)


@pytest.mark.parametrize("fn", ["binary_accuracy", "categorical_accuracy",
                                "sparse_categorical_accuracy"])
def test_functions_match_keras(fn):
    keras = pytest.importorskip("keras")
    kind = {"binary_accuracy": "binary_multi", "categorical_accuracy": "categorical",
            "sparse_categorical_accuracy": "sparse"}[fn]
    yt, yp, _ = _batches(kind)[0]
    ours = getattr(M, fn)(yt, yp)
    ref = np.asarray(getattr(keras.metrics, fn)(yt, yp))
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_mean_matches_keras_with_rank2_values_and_weights():
    keras = pytest.importorskip("keras")
    ours, theirs = M.Mean(), keras.metrics.Mean()
    for values, sw in [(RNG.random((4, 3)), RNG.random(4)), (RNG.random(5), None),
                       (RNG.random((2, 3)), RNG.random((2, 3)))]:
        ours.update_state(values, sample_weight=sw)
        theirs.update_state(values, sample_weight=sw)
    np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-6)


# --- 'accuracy' resolution -----------------------------------------------------------------

SHAPES = [((8, 1), (8, 1)), ((8,), (8, 1)), ((8, 3), (8, 3)), ((8,), (8, 3)), ((8, 1), (8, 3)),
          ((2, 5, 5, 1), (2, 5, 5, 1)), ((2, 5, 5), (2, 5, 5, 4))]


@pytest.mark.parametrize("yt_shape,yp_shape", SHAPES)
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_accuracy_resolution_by_shapes_matches_keras_compile(identifier, yt_shape, yp_shape):
    pytest.importorskip("keras")
    from keras.src.trainers.compile_utils import get_metric

    yt, yp = np.zeros(yt_shape, np.float32), np.zeros(yp_shape, np.float32)
    ref = get_metric(identifier, yt, yp)
    ours = M.get(identifier, y_true=yt, y_pred=yp)
    assert type(ours).__name__ == type(ref).__name__
    assert ours.name == ref.name == identifier
    # without the shapes the metric decides on its first batch, the same way
    lazy = M.get(identifier)
    lazy.update_state(yt, yp)
    assert type(lazy.resolved).__name__ == type(ref).__name__


@pytest.mark.parametrize("loss,expected", [
    ("binary_crossentropy", M.BinaryAccuracy), ("BinaryCrossentropy", M.BinaryAccuracy),
    (L.BinaryCrossentropy(from_logits=True), M.BinaryAccuracy),
    (L.binary_crossentropy, M.BinaryAccuracy),
    ("categorical_crossentropy", M.CategoricalAccuracy),
    (L.CategoricalCrossentropy(), M.CategoricalAccuracy),
    ("sparse_categorical_crossentropy", M.SparseCategoricalAccuracy),
    (L.SparseCategoricalCrossentropy, M.SparseCategoricalAccuracy),
])
def test_accuracy_resolution_by_loss(loss, expected):
    assert type(M.get("accuracy", loss=loss)) is expected
    assert type(M.get("acc", loss=loss)) is expected
    # tf.keras rule: binary crossentropy means binary accuracy whatever the shapes say
    if expected is M.BinaryAccuracy:
        yt = np.zeros((4, 3))
        assert type(M.get("accuracy", loss=loss, y_true=yt, y_pred=yt)) is M.BinaryAccuracy


def test_accuracy_with_other_loss_waits_for_shapes():
    m = M.get("accuracy", loss="mse")
    m.update_state(np.array([[1.0], [0.0]]), np.array([[0.9], [0.8]]))
    assert type(m.resolved) is M.BinaryAccuracy and m.result() == 0.5
    m.reset_state()
    assert m.result() == 0.0


def test_get_other_identifiers():
    assert type(M.get("Accuracy")) is M.Accuracy  # exact class name: keras.metrics.Accuracy
    assert type(M.get("binary_accuracy")) is M.BinaryAccuracy
    assert type(M.get("BinaryAccuracy")) is M.BinaryAccuracy
    assert type(M.get("categorical_accuracy")) is M.CategoricalAccuracy
    assert type(M.get("SparseCategoricalAccuracy")) is M.SparseCategoricalAccuracy
    assert type(M.get("mean")) is M.Mean
    m = M.BinaryAccuracy(threshold=0.2)
    assert M.get(m) is m
    assert type(M.get(M.CategoricalAccuracy)) is M.CategoricalAccuracy
    mse = M.get("mse")
    assert mse.name == "mean_squared_error"
    mse.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    assert mse.result() == 1.0
    custom = M.get(lambda yt, yp: np.abs(yt - yp).max(axis=-1))
    custom.update_state(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]]))
    assert custom.result() == 2.5
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'accuracyy'"):
        M.get("accuracyy")
    with pytest.raises(ValueError, match="None"):
        M.get(None)


def test_config_roundtrip():
    m = M.BinaryAccuracy(name="ba", threshold=0.3)
    again = M.BinaryAccuracy.from_config(m.get_config())
    assert again.threshold == 0.3 and again.name == "ba"

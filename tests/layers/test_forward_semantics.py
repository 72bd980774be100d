"""Forward semantics a backward test could hide: Dropout's scale, BatchNormalization's two modes and
moving-average update, and the `training` flag through nested models. Every expected number is
computed here from the definition, not by the code under test."""
import numpy as np
import pytest

from tests.keras_oracle import keras
from upsampling import layers
from upsampling.models import Model, Sequential

rng = np.random.default_rng(3)


# ---------------------------------------------------------------------------- Dropout
@pytest.mark.parametrize("rate", [0.1, 0.4, 0.75])
def test_dropout_in_training_zeroes_a_fraction_rate_and_scales_the_rest_by_one_over_keep(rate):
    x = rng.uniform(1.0, 2.0, (400, 50))
    y = layers.Dropout(rate, seed=5, dtype="float64")(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-12)
    # 20,000 Bernoulli draws: the dropped fraction is within 4 standard deviations of `rate`
    sd = np.sqrt(rate * (1 - rate) / x.size)
    assert abs((~kept).mean() - rate) < 4 * sd
    # and so the expectation is kept: E[y] = x
    assert abs(y.sum() / x.sum() - 1) < 4 * sd / (1 - rate) * 1.5


def test_dropout_is_the_identity_outside_training_and_rate_one_drops_everything():
    x = rng.standard_normal((5, 6))
    layer = layers.Dropout(0.5, seed=1)
    np.testing.assert_array_equal(layer(x), x.astype(np.float32))
    np.testing.assert_array_equal(layer(x, training=False), x.astype(np.float32))
    np.testing.assert_array_equal(layers.Dropout(1.0)(x, training=True), np.zeros_like(x))


def test_dropout_backward_is_the_forward_mask_with_its_scale():
    layer = layers.Dropout(0.3, seed=2, dtype="float64")
    x = rng.uniform(1.0, 2.0, (20, 30))
    y, backward = layer.forward(x, True)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_allclose(backward(dy, None), dy * (y / x), rtol=1e-12)


def test_dropout_noise_shape_shares_the_mask_along_axes_of_size_one():
    x = rng.uniform(1.0, 2.0, (8, 5, 6))
    y = layers.Dropout(0.5, noise_shape=(None, 1, 6), seed=4, dtype="float64")(x, training=True)
    dropped = y == 0
    assert (dropped == dropped[:, :1, :]).all()  # same columns dropped in every row of a sample
    np.testing.assert_allclose(y[~dropped], 2 * x[~dropped], rtol=1e-12)


# ---------------------------------------------------------------------------- BatchNormalization
def _bn(axis=-1, momentum=0.9, epsilon=0.01, shape=(6, 3, 4, 5)):
    layer = layers.BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, dtype="float64")
    layer.forward(np.zeros(shape), False)
    c = shape[axis]
    gamma, beta = rng.uniform(0.5, 2, c), rng.standard_normal(c)
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    layer.set_weights([gamma, beta, mean, var])
    return layer, gamma, beta, mean, var


def _on_axis(v, axis, ndim):
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_normalization_inference_uses_the_moving_statistics(axis):
    layer, gamma, beta, mean, var = _bn(axis)
    x = rng.standard_normal((6, 3, 4, 5)) * 3 + 1
    b = lambda v: _on_axis(v, axis, 4)  # noqa: E731
    expected = b(gamma) * (x - b(mean)) / np.sqrt(b(var) + 0.01) + b(beta)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    np.testing.assert_allclose(layer(x, training=False), expected, rtol=1e-12)
    # inference leaves the moving statistics alone
    np.testing.assert_array_equal(layer.moving_mean.value, mean)
    np.testing.assert_array_equal(layer.moving_variance.value, var)


@pytest.mark.parametrize("axis,momentum", [(-1, 0.9), (1, 0.6)])
def test_batch_normalization_training_uses_batch_statistics_and_updates_with_momentum(axis, momentum):
    layer, gamma, beta, mean, var = _bn(axis, momentum)
    x = rng.standard_normal((6, 3, 4, 5)) * 3 + 1
    axes = tuple(a for a in range(4) if a != axis % 4)
    b = lambda v: _on_axis(v, axis, 4)  # noqa: E731
    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)  # biased variance, as Keras
    expected = b(gamma) * (x - b(batch_mean)) / np.sqrt(b(batch_var) + 0.01) + b(beta)
    # atol: an output near zero is the difference of two O(1) numbers, exact only to ~1e-16
    np.testing.assert_allclose(layer(x, training=True), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.moving_mean.value, momentum * mean + (1 - momentum) * batch_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.value, momentum * var + (1 - momentum) * batch_var,
                               rtol=1e-12)


def test_batch_normalization_moving_statistics_converge_to_the_data_statistics():
    layer = layers.BatchNormalization(momentum=0.5, dtype="float64")
    x = rng.standard_normal((64, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([3.0, -1.0, 0.0])
    for _ in range(40):
        layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.value, x.mean(0), rtol=1e-9)
    np.testing.assert_allclose(layer.moving_variance.value, x.var(0), rtol=1e-9)


# ---------------------------------------------------------------------------- training= through models
def _stack():
    """Dropout then BatchNormalization, so both modes show in the output."""
    inner = Sequential([layers.Input((4,)), layers.Dropout(0.5, seed=3, dtype="float64"),
                        layers.BatchNormalization(momentum=0.5, dtype="float64")], name="inner")
    inputs = layers.Input((4,))
    middle = Model(inputs, inner(inputs), name="middle")
    outer = Sequential([layers.Input((4,)), middle], name="outer")
    return outer, inner.layers[-1]


def test_training_flag_reaches_layers_inside_nested_models():
    outer, bn = _stack()
    x = rng.uniform(1.0, 2.0, (32, 4))
    # inference: dropout off, moving statistics (0 and 1 at start): y = x / sqrt(1 + eps)
    # (float32: the Input layers run the models in float32)
    np.testing.assert_allclose(outer(x), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_allclose(outer.predict(x, verbose=0), x / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.value, 0)
    # training: zeros from dropout, then per-column normalisation to mean 0 / variance ~1
    y = outer(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=0), 1, rtol=1e-2)
    assert (bn.moving_mean.value > 0.3).all()  # updated: half of the batch mean of ~1.5 (dropout kept)


def test_frozen_nested_model_keeps_inference_batch_norm_inside_a_training_step():
    outer, bn = _stack()
    middle = outer.layers[-1]
    middle.trainable = False
    x = rng.uniform(1.0, 2.0, (32, 4))
    y = outer(x, training=True)
    # Keras: a frozen BatchNormalization runs in inference mode even when training=True (the
    # frozen-discriminator pattern); Dropout still drops, since it has no weights to freeze.
    kept = y != 0
    np.testing.assert_allclose(y[kept], 2 * x[kept] / np.sqrt(1 + 1e-3), rtol=1e-6)
    assert 0.3 < (~kept).mean() < 0.7
    np.testing.assert_array_equal(bn.moving_mean.value, 0)


def test_train_on_batch_runs_in_training_mode_and_predict_in_inference():
    outer, bn = _stack()
    outer.compile(optimizer="sgd", loss="mse")
    x = rng.uniform(1.0, 2.0, (32, 4))
    outer.predict(x, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.value, 0)
    outer.train_on_batch(x, np.zeros_like(x))
    assert (bn.moving_mean.value > 0.3).all()


def test_nested_frozen_batch_norm_matches_keras_in_training():
    k = keras()
    x = rng.standard_normal((8, 3)).astype(np.float32)
    weights = [rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 2, 3)]

    def build(mod, seq):
        inner = seq([mod.Input((3,)), mod.BatchNormalization(momentum=0.7, epsilon=0.05)])
        return seq([mod.Input((3,)), inner, mod.Dense(2)]), inner

    ours, ours_inner = build(layers, Sequential)
    theirs, their_inner = build(k.layers, k.Sequential)
    ours.predict(x, verbose=0)
    dense = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    ours.set_weights(weights + dense)
    theirs.set_weights(weights + dense)
    for frozen in (False, True):
        ours_inner.trainable = their_inner.trainable = not frozen
        y_o = ours(x, training=True)
        y_k = k.ops.convert_to_numpy(theirs(x, training=True))
        np.testing.assert_allclose(y_o, y_k, rtol=1e-5, atol=1e-6, err_msg=f"frozen={frozen}")
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_relu_validation_matches_keras():
    k = keras()
    for kw in (dict(threshold=-0.5), dict(negative_slope=-0.1), dict(max_value=-1.0)):
        with pytest.raises(ValueError):
            k.layers.ReLU(**kw)
        with pytest.raises(ValueError, match=next(iter(kw))):
            layers.ReLU(**kw)


# ---------------------------------------------------------------------------- from mutation testing
def test_dropout_seed_fixes_the_mask_and_rate_one_has_a_zero_gradient():
    x = rng.uniform(1.0, 2.0, (6, 7))
    a = layers.Dropout(0.5, seed=11, dtype="float64")(x, training=True)
    b = layers.Dropout(0.5, seed=11, dtype="float64")(x, training=True)
    c = layers.Dropout(0.5, seed=12, dtype="float64")(x, training=True)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    y, backward = layers.Dropout(1.0, dtype="float64").forward(x, True)
    np.testing.assert_array_equal(backward(np.ones_like(x), None), np.zeros_like(x))


@pytest.mark.parametrize("make,match", [
    (lambda: layers.Dropout(True), "rate"),
    (lambda: layers.LeakyReLU(negative_slope=None), "negative_slope"),
    (lambda: layers.LeakyReLU(negative_slope="0.2"), "negative_slope"),
    (lambda: layers.ReLU(max_value="6"), r"ReLU.*max_value"),
    (lambda: layers.ReLU(threshold=True), r"ReLU.*threshold"),
])
def test_bad_arguments_name_the_layer_and_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()

"""Same weights, same input: our layers against Keras 3 over a grid of configurations."""
import itertools

import numpy as np
import pytest

from tests.keras_oracle import compare_layer, keras
from upsampling import layers

rng = np.random.default_rng(0)

TRANSPOSE_GRID = [
    (k, s, padding, op, d)
    for k, s, padding, d in itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"], [1, 2])
    if not (s > 1 and d > 1)
    for op in [None] + list(range(s))
]


@pytest.mark.parametrize("k,s,padding,op,d", TRANSPOSE_GRID)
def test_conv2d_transpose_matches_keras(k, s, padding, op, d):
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    kw = dict(filters=2, kernel_size=k, strides=s, padding=padding, output_padding=op, dilation_rate=d)
    compare_layer(layers.Conv2DTranspose, keras().layers.Conv2DTranspose, kw, x)


@pytest.mark.parametrize("k,s,padding", [(3, 2, "same"), (4, 2, "same"), (2, 1, "valid"), ((3, 2), (2, 1), "same")])
def test_conv2d_transpose_channels_first_matches_keras(k, s, padding):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    kw = dict(filters=2, kernel_size=k, strides=s, padding=padding, data_format="channels_first", activation="relu")
    compare_layer(layers.Conv2DTranspose, keras().layers.Conv2DTranspose, kw, x)


CONV_GRID = [
    (k, s, padding, d, g)
    for k, s, padding, d in itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"], [1, 2])
    if not (s > 1 and d > 1)
    for g in (1, 2)
]


@pytest.mark.parametrize("k,s,padding,d,g", CONV_GRID)
def test_conv2d_matches_keras(k, s, padding, d, g):
    x = rng.standard_normal((2, 11, 10, 4)).astype(np.float32)
    kw = dict(filters=4, kernel_size=k, strides=s, padding=padding, dilation_rate=d, groups=g)
    compare_layer(layers.Conv2D, keras().layers.Conv2D, kw, x)


def test_conv2d_channels_first_matches_keras():
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    kw = dict(filters=5, kernel_size=(3, 2), strides=(2, 1), padding="same", data_format="channels_first")
    compare_layer(layers.Conv2D, keras().layers.Conv2D, kw, x)


@pytest.mark.parametrize("size", [2, (2, 3), (3, 1)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_upsampling2d_matches_keras(size, interpolation, data_format):
    # Keras's torch backend computes bicubic with PyTorch's a=-0.75 and has no lanczos, so those
    # are checked against Keras's published numbers and PyTorch's antialiased bicubic in tests/ops.
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    compare_layer(layers.UpSampling2D, keras().layers.UpSampling2D,
                  dict(size=size, interpolation=interpolation, data_format=data_format), x)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
                                        "gelu", "swish", "softplus", "softsign", "relu6", "leaky_relu"])
def test_dense_with_every_activation_matches_keras(activation):
    x = (3 * rng.standard_normal((4, 7))).astype(np.float32)
    compare_layer(layers.Dense, keras().layers.Dense, dict(units=5, activation=activation), x)


def test_dense_on_rank3_input_matches_keras():
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    compare_layer(layers.Dense, keras().layers.Dense, dict(units=4, use_bias=False), x)


@pytest.mark.parametrize("kw", [dict(), dict(negative_slope=0.1), dict(max_value=1.0), dict(threshold=0.5, negative_slope=0.2)])
def test_relu_matches_keras(kw):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    compare_layer(layers.ReLU, keras().layers.ReLU, kw, x)


@pytest.mark.parametrize("slope", [0.3, 0.2, 0.0])
def test_leaky_relu_matches_keras(slope):
    x = rng.standard_normal((3, 8)).astype(np.float32)
    compare_layer(layers.LeakyReLU, keras().layers.LeakyReLU, dict(negative_slope=slope), x)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("axis,shape", [(-1, (6, 4, 4, 3)), (1, (6, 3, 4, 4)), (-1, (8, 5))])
def test_batch_normalization_matches_keras(training, axis, shape):
    k = keras()
    x = (2 * rng.standard_normal(shape) + 1).astype(np.float32)
    kl = k.layers.BatchNormalization(axis=axis, momentum=0.9)
    km = k.Sequential([k.Input(shape[1:]), kl])
    init = [rng.uniform(0.5, 1.5, shape[axis]).astype(np.float32) for _ in range(4)]
    km.set_weights(init)
    y_keras = k.ops.convert_to_numpy(km(x, training=training))
    ours = layers.BatchNormalization(axis=axis, momentum=0.9)
    from upsampling.models import Sequential
    m = Sequential([ours])
    m.build((None,) + shape[1:])
    m.set_weights(init)
    y = ours(x, training=training)
    np.testing.assert_allclose(y, y_keras, rtol=1e-4, atol=1e-5)
    for a, b in zip(m.get_weights(), km.get_weights()):  # moving statistics updated alike
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target,shape", [((3, 4), (2, 12)), ((-1, 2), (2, 3, 4)), ((5, 5, 128), (1, 3200))])
def test_reshape_matches_keras(target, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    compare_layer(layers.Reshape, keras().layers.Reshape, dict(target_shape=target), x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_matches_keras(data_format):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    compare_layer(layers.Flatten, keras().layers.Flatten, dict(data_format=data_format), x)


def test_parameter_counts_and_weight_shapes_match_keras():
    k = keras()
    x_shape = (5, 5, 128)
    pairs = [
        (layers.Conv2DTranspose(64, 4, strides=2, padding="same"), k.layers.Conv2DTranspose(64, 4, strides=2, padding="same")),
        (layers.Conv2D(64, 3, groups=2), k.layers.Conv2D(64, 3, groups=2)),
        (layers.BatchNormalization(), k.layers.BatchNormalization()),
    ]
    from upsampling.models import Sequential
    for ours, theirs in pairs:
        km = k.Sequential([k.Input(x_shape), theirs])
        m = Sequential([ours])
        m.build((None,) + x_shape)
        assert [w.shape for w in m.get_weights()] == [w.shape for w in km.get_weights()]
        assert m.count_params() == km.count_params()
        assert len(m.non_trainable_weights) == len(km.non_trainable_weights)

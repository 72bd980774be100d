"""Backward passes against Keras 3 (torch backend) and PyTorch autograd.

For every layer: the same random, non-zero weights in both frameworks, non-default
hyper-parameters, float64 on our side; the input gradient and every trainable weight's gradient of
<layer(x), r> for a random r must agree. Forward outputs are compared too (a backward that agrees
with a wrong forward would hide nothing).

Tolerances are float32-sized: Keras's torch backend computes some float64 layers (Dense's matmul)
with float32 rounding, about 1e-7 relative. Every bug this file exists to catch moves numbers by
far more than that.
"""
import numpy as np
import pytest

from tests.keras_oracle import keras, torch_module
from tests.ops.test_activations import KINKS as ACTIVATION_KINKS
from tests.ops.test_activations import WIDE as ACTIVATION_WIDE
from upsampling import layers
from upsampling.autograd import Gradients
from upsampling.ops import activations as act_ops

F64 = "float64"


def assert_close(ours, theirs, what, tol=1e-6):
    """|ours - theirs| <= tol * max(1, max|theirs|): float32-sized, relative to the array's scale."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    err = float(np.abs(ours - theirs).max(initial=0.0))
    assert err <= tol * scale, f"{what}: max |ours - oracle| = {err:.3e} (scale {scale:.3e})"


def _random_weights(layer, rng):
    """Random, non-zero values for every weight (variances and gammas kept positive)."""
    values = []
    for var in layer.weights:
        if var.name in ("gamma", "moving_variance"):
            values.append(rng.uniform(0.5, 2.0, var.shape))
        else:
            values.append(rng.uniform(-1.0, 1.0, var.shape) + 0.1 * np.sign(rng.standard_normal(var.shape)))
    return values


def ours_value_and_grads(layer, x, r, training):
    """(y, dx, [grad of each trainable weight]) of <layer(x), r> with our backward pass."""
    y, backward = layer.forward(x, training)
    grads = Gradients()
    dx = backward(r, grads)
    return y, dx, [grads.get(v) for v in layer.trainable_weights]


def keras_value_and_grads(klayer, x, r, training):
    """(y, dx, [grad of each trainable weight]) from Keras's layer differentiated by torch autograd."""
    torch = torch_module()
    xt = torch.tensor(x, requires_grad=True)
    y = klayer(xt, training=training)
    (y * torch.tensor(r)).sum().backward()
    wgrads = [v.value.grad for v in klayer.trainable_weights]
    return (y.detach().numpy(), xt.grad.numpy(),
            [None if g is None else g.numpy() for g in wgrads])


def check_against_keras(ours, theirs, shape, training=False, seed=0, kink=None):
    """Build `ours` and `theirs` on `shape`, give both the same random weights, compare everything.

    kink: a point (or list of points) of non-differentiability to keep x away from.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    for point in ([] if kink is None else np.atleast_1d(kink)):
        near = np.abs(x - point) < 0.05
        x[near] += 0.2
    ours.forward(x, False)
    theirs(x[:1])  # build Keras's layer on a torch-less numpy batch
    weights = _random_weights(ours, rng)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    y_ref = ours.forward(x, False)[0]  # shape of the output for r (inference never changes state)
    r = rng.standard_normal(y_ref.shape)
    y_k, dx_k, g_k = keras_value_and_grads(theirs, x, r, training)
    y_o, dx_o, g_o = ours_value_and_grads(ours, x, r, training)
    assert y_o.shape == y_k.shape
    assert_close(y_o, y_k, "forward")
    assert_close(dx_o, dx_k, "input gradient")
    names = [v.name for v in ours.trainable_weights]
    assert len(g_o) == len(g_k) == len(names)
    for name, a, b in zip(names, g_o, g_k):
        assert a is not None and b is not None, name
        assert_close(a, b, f"gradient of {name}")
    # state the layers updated during training (BatchNormalization's moving statistics)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, "weights after the step")
    return dx_o, g_o


def _pair(name, **kw):
    """The same layer class with the same arguments in both frameworks."""
    return getattr(layers, name)(dtype=F64, **kw), getattr(keras().layers, name)(dtype=F64, **kw)


# ------------------------------------------------------------------------ Dense
@pytest.mark.parametrize("activation,shape,use_bias", [
    ("tanh", (3, 4), True), ("linear", (2, 3, 4), True), ("sigmoid", (4, 5), False), ("softplus", (3, 4), True),
])
def test_dense_backward_matches_keras(activation, shape, use_bias):
    ours, theirs = _pair("Dense", units=3, activation=activation, use_bias=use_bias)
    check_against_keras(ours, theirs, shape)


# ------------------------------------------------------------------------ Conv2D
CONV2D_CASES = [
    dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="same"),
    dict(filters=4, kernel_size=3, strides=2, padding="valid", activation="relu6"),
    dict(filters=4, kernel_size=(2, 3), dilation_rate=(2, 1), padding="same", groups=2),
    dict(filters=6, kernel_size=3, dilation_rate=2, padding="valid", groups=2, activation="elu"),
    dict(filters=4, kernel_size=(3, 2), strides=(1, 2), padding="same", data_format="channels_first",
         activation="swish"),
    dict(filters=2, kernel_size=4, strides=3, padding="same", data_format="channels_first", use_bias=False),
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_conv2d_backward_matches_keras(kw):
    channels_first = kw.get("data_format") == "channels_first"
    shape = (2, 4, 7, 6) if channels_first else (2, 7, 6, 4)
    ours, theirs = _pair("Conv2D", **kw)
    check_against_keras(ours, theirs, shape, kink=0.0 if kw.get("activation") == "relu6" else None)


# ------------------------------------------------------------------------ Conv2DTranspose
TRANSPOSE_CASES = [
    dict(filters=3, kernel_size=4, strides=2, padding="same"),
    dict(filters=3, kernel_size=3, strides=2, padding="same"),
    dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="valid", output_padding=(1, 2)),
    dict(filters=2, kernel_size=5, strides=3, padding="same", output_padding=2, activation="tanh"),
    dict(filters=2, kernel_size=1, strides=3, padding="valid"),
    dict(filters=3, kernel_size=3, dilation_rate=2, padding="same"),
    dict(filters=3, kernel_size=(2, 3), dilation_rate=(1, 2), padding="valid", data_format="channels_first"),
    dict(filters=2, kernel_size=4, strides=2, padding="same", data_format="channels_first",
         activation="sigmoid", use_bias=False),
]


@pytest.mark.parametrize("kw", TRANSPOSE_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_conv2d_transpose_backward_matches_keras(kw):
    channels_first = kw.get("data_format") == "channels_first"
    shape = (2, 3, 4, 5) if channels_first else (2, 4, 5, 3)
    ours, theirs = _pair("Conv2DTranspose", **kw)
    check_against_keras(ours, theirs, shape)


# ------------------------------------------------------------------------ UpSampling2D
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("interpolation,size", [("nearest", (2, 3)), ("nearest", 3), ("bilinear", (2, 3)),
                                                ("bilinear", 4)])
def test_upsampling2d_backward_matches_keras(interpolation, size, data_format):
    ours, theirs = _pair("UpSampling2D", size=size, interpolation=interpolation, data_format=data_format)
    check_against_keras(ours, theirs, (2, 3, 4, 5))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("size", [2, (3, 2)])
def test_upsampling2d_bicubic_backward_matches_pytorch_keys_half(size, data_format):
    # Keras's torch backend resizes bicubic with PyTorch's a=-0.75; Keras's own numbers (JAX, NumPy)
    # use Keys a=-0.5 with weights renormalised over in-range taps, which is exactly PyTorch's
    # antialiased bicubic when upsampling.
    torch = torch_module()
    ours = layers.UpSampling2D(size=size, interpolation="bicubic", data_format=data_format, dtype=F64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 5))
    y, dx, _ = ours_value_and_grads(ours, x, r := rng.standard_normal(ours.forward(x)[0].shape), False)
    xt = torch.tensor(x, requires_grad=True)
    nchw = xt if data_format == "channels_first" else xt.permute(0, 3, 1, 2)
    sh, sw = (size, size) if isinstance(size, int) else size
    out = torch.nn.functional.interpolate(nchw, size=(nchw.shape[2] * sh, nchw.shape[3] * sw), mode="bicubic",
                                          align_corners=False, antialias=True)
    out = out if data_format == "channels_first" else out.permute(0, 2, 3, 1)
    (out * torch.tensor(r)).sum().backward()
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"])
def test_upsampling2d_backward_is_the_adjoint_of_the_forward(interpolation):
    # Resizing is linear: <up(x), r> == <x, up^T(r)> for every x, r. No oracle needed, and it holds
    # for lanczos, which neither Keras's torch backend nor PyTorch computes.
    ours = layers.UpSampling2D(size=(3, 2), interpolation=interpolation, dtype=F64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 3, 2))
    r = rng.standard_normal(ours.forward(x)[0].shape)
    y, dx, _ = ours_value_and_grads(ours, x, r, False)
    assert np.isclose(np.sum(y * r), np.sum(x * dx), rtol=1e-12)
    # and the transpose must be the transpose: the matrix built column by column from the forward
    basis = np.eye(x.size).reshape((x.size,) + x.shape)
    matrix = np.stack([ours.forward(b)[0].ravel() for b in basis], axis=1)  # (out, in)
    np.testing.assert_allclose(dx.ravel(), matrix.T @ r.ravel(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ activation layers
@pytest.mark.parametrize("slope", [0.0, 0.01, 0.2, 0.3, 1.7])
def test_leaky_relu_backward_matches_keras(slope):
    ours, theirs = _pair("LeakyReLU", negative_slope=slope)
    dx, _ = check_against_keras(ours, theirs, (4, 6), kink=0.0)


def test_leaky_relu_layer_default_slope_is_keras_default():
    ours = layers.LeakyReLU(dtype=F64)
    check_against_keras(ours, keras().layers.LeakyReLU(dtype=F64), (4, 6), kink=0.0)


@pytest.mark.parametrize("kw", [dict(), dict(max_value=0.8), dict(negative_slope=0.25),
                                dict(threshold=0.4, negative_slope=0.1), dict(max_value=6.0, threshold=1.0)],
                         ids=str)
def test_relu_layer_backward_matches_keras(kw):
    kinks = [0.0, kw.get("threshold", 0.0)] + ([kw["max_value"]] if "max_value" in kw else [])
    ours, theirs = _pair("ReLU", **kw)
    check_against_keras(ours, theirs, (5, 6), kink=kinks)


# Keras 3.15's sparsemax is wrong (keras-team/keras#23425); tests/ops/test_activations.py checks ours
# against the published algorithm instead
KERAS_ACTIVATIONS = sorted(set(act_ops.ACTIVATIONS) - {"sparsemax"})


@pytest.mark.parametrize("name", KERAS_ACTIVATIONS)
def test_activation_layer_backward_matches_keras(name):
    ours, theirs = _pair("Activation", activation=name)
    rng = np.random.default_rng(5)
    if name in ACTIVATION_WIDE:  # inputs spread over every piece (kinks at 0, 6 and -3, 3)
        x = rng.uniform(-9.0, 9.0, (4, 8))
    else:
        x = rng.standard_normal((4, 8)) * 1.5
    for point in ACTIVATION_KINKS.get(name, []):
        x[np.abs(x - point) < 0.05] += 0.2
    r = rng.standard_normal(ours.compute_output_shape(x.shape))
    y_k, dx_k, _ = keras_value_and_grads(theirs, x, r, False)
    y_o, dx_o, _ = ours_value_and_grads(ours, x, r, False)
    assert_close(y_o, y_k, "forward")
    assert_close(dx_o, dx_k, "input gradient")


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "glu"])
@pytest.mark.parametrize("layer", ["Conv2D", "Conv2DTranspose"])
def test_channels_first_conv_applies_axis_activations_along_the_last_axis_as_keras(layer, name):
    # Keras applies `activation` to the output in its final layout: with channels_first, the width
    ours, theirs = _pair(layer, filters=3, kernel_size=3, padding="same", data_format="channels_first",
                         activation=name)
    check_against_keras(ours, theirs, (2, 2, 5, 6))


# ------------------------------------------------------------------------ BatchNormalization
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
@pytest.mark.parametrize("kw,shape", [
    (dict(momentum=0.9, epsilon=1e-2), (6, 3, 4, 2)),
    (dict(axis=1, momentum=0.5, epsilon=0.3), (5, 3, 2, 4)),
    (dict(momentum=0.75, epsilon=1e-4, center=False), (8, 3)),
    (dict(momentum=0.6, epsilon=0.05, scale=False), (4, 2, 3)),
], ids=["nhwc", "axis1", "no_center", "no_scale"])
def test_batch_normalization_backward_and_moving_stats_match_keras(kw, shape, training):
    ours, theirs = _pair("BatchNormalization", **kw)
    # after the step the moving statistics (updated with `momentum` in training) must agree too
    check_against_keras(ours, theirs, shape, training=training)


def test_frozen_batch_normalization_uses_moving_statistics_in_training_like_keras():
    ours, theirs = _pair("BatchNormalization", momentum=0.7, epsilon=0.01)
    ours.trainable = False
    theirs.trainable = False
    check_against_keras(ours, theirs, (6, 5), training=True)


# ------------------------------------------------------------------------ reshaping layers
@pytest.mark.parametrize("name,kw,shape", [
    ("Reshape", dict(target_shape=(3, -1)), (2, 4, 3)),
    ("Flatten", dict(data_format="channels_first"), (2, 3, 2, 4)),
    ("Flatten", dict(), (2, 3, 2, 4)),
])
def test_reshaping_layers_backward_match_keras(name, kw, shape):
    ours, theirs = _pair(name, **kw)
    check_against_keras(ours, theirs, shape)


# ------------------------------------------------------------------------ a whole model
def test_dcgan_composite_gradients_match_keras():
    """Generator (Dense, BN, LeakyReLU, Reshape, Conv2DTranspose, Conv2D tanh) through a frozen
    discriminator (Conv2D, LeakyReLU 0.3, Dropout off, Flatten, Dense sigmoid), in training mode."""
    k = keras()
    torch = torch_module()
    from upsampling.models import Sequential

    def build(mod, seq):
        return seq([
            mod.Input((6,)), mod.Dense(2 * 2 * 4, dtype=F64), mod.BatchNormalization(momentum=0.8, dtype=F64),
            mod.LeakyReLU(negative_slope=0.2, dtype=F64), mod.Reshape((2, 2, 4), dtype=F64),
            mod.Conv2DTranspose(3, 4, strides=2, padding="same", dtype=F64),
            mod.BatchNormalization(momentum=0.8, epsilon=0.01, dtype=F64), mod.LeakyReLU(dtype=F64),
            mod.UpSampling2D(interpolation="bilinear", dtype=F64),
            mod.Conv2D(2, 3, padding="same", activation="tanh", dtype=F64),
            mod.Conv2D(2, 3, strides=2, padding="same", dtype=F64), mod.LeakyReLU(dtype=F64),
            mod.Dropout(0.0, dtype=F64), mod.Flatten(dtype=F64), mod.Dense(1, activation="sigmoid", dtype=F64),
        ])

    ours = build(layers, Sequential)
    theirs = build(k.layers, k.Sequential)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 6))
    ours.predict(x, verbose=0)
    weights = []
    for layer in ours.layers:
        weights += _random_weights(layer, rng)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    r = rng.standard_normal((5, 1))
    y_o, backward = ours.forward(x, True)
    grads = Gradients()
    dx_o = backward(r, grads)
    xt = torch.tensor(x, requires_grad=True)
    y_k = theirs(xt, training=True)
    (y_k * torch.tensor(r)).sum().backward()
    assert_close(y_o, y_k.detach().numpy(), "forward")
    assert_close(dx_o, xt.grad.numpy(), "input gradient", tol=1e-5)
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    for a, b in zip(ours.trainable_weights, theirs.trainable_weights):
        assert_close(grads.get(a), b.value.grad.numpy(), a.path, tol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, "weights after the step")

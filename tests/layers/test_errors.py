"""Every bad argument or misfitting input: a ValueError/TypeError naming the layer, the argument,
the rule and what was received - never a NumPy error from deep inside."""
import numpy as np
import pytest

from upsampling import layers
from upsampling.models import Model, Sequential

CTOR_CASES = [
    (layers.UpSampling2D, dict(size=0), ValueError, r"UpSampling2D.*`size`.*positive.*Received: size=0"),
    (layers.UpSampling2D, dict(size=2.5), ValueError, r"`size`.*Received: size=2.5"),
    (layers.UpSampling2D, dict(size=(2, 2, 2)), ValueError, r"`size`.*tuple of 2"),
    (layers.UpSampling2D, dict(interpolation="area"), ValueError, r"UpSampling2D.*`interpolation`.*Received: interpolation='area'"),
    (layers.UpSampling2D, dict(data_format="nhwc"), ValueError, r"`data_format`.*Received: data_format='nhwc'"),
    (layers.Conv2DTranspose, dict(filters=0, kernel_size=3), ValueError, r"Conv2DTranspose.*`filters`.*Received filters=0"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=0), ValueError, r"`kernel_size`.*Received: kernel_size=0"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, padding="causal"), ValueError, r"`padding`.*Received: padding='causal'"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, strides=2, output_padding=2), ValueError,
     r"`output_padding` must be strictly less than `strides`.*dimension 0.*Received: output_padding=\(2, 2\), strides=\(2, 2\)"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, strides=2, dilation_rate=2), ValueError,
     r"`strides > 1` not supported in conjunction with `dilation_rate > 1`"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, output_padding=-1), ValueError, r"`output_padding`.*>= 0"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, activation="nope"), ValueError, r"`activation`.*Received: activation='nope'"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, kernel_initializer="nope"), ValueError, r"nope"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, activity_regularizer="l2"), NotImplementedError, r"activity_regularizer"),
    (layers.Conv2DTranspose, dict(filters=1, kernel_size=3, kernel_regularizer="l3"), ValueError, r"regularizer.*'l3'"),
    (layers.Dense, dict(units=1, kernel_constraint="squash"), ValueError, r"constraint.*'squash'"),
    (layers.Conv2D, dict(filters=4, kernel_size=3, groups=3), ValueError, r"divisible by `groups`.*groups=3, filters=4"),
    (layers.Conv2D, dict(filters=4, kernel_size=3, strides=(1, 0)), ValueError, r"`strides`.*Received: strides=\(1, 0\)"),
    (layers.Dense, dict(units=0), ValueError, r"Dense.*`units`.*positive integer.*Received: units=0"),
    (layers.Dense, dict(units=3.5), ValueError, r"`units`.*Received: units=3.5"),
    (layers.Dense, dict(units=3, foo=1), TypeError, r"Unrecognized keyword arguments passed to Dense: \{'foo': 1\}"),
    (layers.Dense, dict(units=3, input_shape=(0,)), ValueError, r"`input_shape`.*Received: input_shape=\(0,\)"),
    (layers.Reshape, dict(target_shape=(-1, -1)), ValueError, r"at most one unknown dimension.*\(-1, -1\)"),
    (layers.Reshape, dict(target_shape=(0, 2)), ValueError, r"`target_shape`"),
    (layers.LeakyReLU, dict(negative_slope=-1), ValueError, r"negative_slope.*cannot be None or negative.*-1"),
    (layers.ReLU, dict(max_value=-1), ValueError, r"`max_value`.*non-negative.*-1"),
    (layers.Dropout, dict(rate=1.5), ValueError, r"Dropout.*`rate`.*between 0 and 1.*Received: rate=1.5"),
    (layers.BatchNormalization, dict(momentum=2), ValueError, r"`momentum`.*Received: momentum=2"),
    (layers.BatchNormalization, dict(axis="x"), ValueError, r"`axis`.*Received: axis='x'"),
    (layers.Activation, dict(activation=lambda x: x), TypeError, r"`activation`"),
]


@pytest.mark.parametrize("cls,kwargs,exc,pattern", CTOR_CASES)
def test_constructor_rejects_bad_arguments(cls, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        cls(**kwargs)


def _raises(exc, pattern, fn):
    with pytest.raises(exc, match=pattern) as info:
        fn()
    assert "layer" in str(info.value) or "Sequential" in str(info.value) or "Model" in str(info.value)


def test_wrong_rank_is_named():
    _raises(ValueError, r"UpSampling2D layer 'up'.*rank 4.*\(2, 3, 4\)",
            lambda: layers.UpSampling2D(name="up")(np.zeros((2, 3, 4))))
    _raises(ValueError, r"Conv2DTranspose.*rank 4", lambda: layers.Conv2DTranspose(1, 2)(np.zeros((2, 3))))
    _raises(ValueError, r"Dense.*rank >= 2", lambda: layers.Dense(2)(np.zeros(3)))


def test_channel_mismatch_after_build_is_named():
    conv = layers.Conv2D(2, 3, name="c")
    conv(np.zeros((1, 5, 5, 3)))
    _raises(ValueError, r"Conv2D layer 'c'.*axis -1 was 3.*\(1, 5, 5, 4\)", lambda: conv(np.zeros((1, 5, 5, 4))))
    dense = layers.Dense(2)
    dense(np.zeros((1, 4)))
    _raises(ValueError, r"Dense.*axis -1 was 4", lambda: dense(np.zeros((1, 5))))
    bn = layers.BatchNormalization()
    bn(np.zeros((2, 3)))
    _raises(ValueError, r"BatchNormalization", lambda: bn(np.zeros((2, 4))))


def test_kernel_larger_than_valid_input():
    _raises(ValueError, r"Conv2D.*zero or negative.*kernel_size=\(5, 5\).*\(1, 3, 3, 1\)",
            lambda: layers.Conv2D(1, 5)(np.zeros((1, 3, 3, 1), np.float32)))
    with pytest.raises(ValueError, match=r"zero or negative"):
        Sequential([layers.Input((3, 3, 1)), layers.Conv2D(1, 4)])


def test_reshape_size_mismatch():
    _raises(ValueError, r"Reshape.*total size.*input_shape=\(2, 8\), target_shape=\(3, 4\)",
            lambda: layers.Reshape((3, 4))(np.zeros((2, 8))))
    with pytest.raises(ValueError, match=r"total size"):
        Sequential([layers.Input((8,)), layers.Reshape((3, -1))])


def test_groups_must_divide_input_channels():
    _raises(ValueError, r"input channels must be divisible by `groups`", lambda: layers.Conv2D(4, 1, groups=2)(np.zeros((1, 2, 2, 3))))


def test_set_weights_count_and_shapes():
    d = layers.Dense(3, name="d")
    d(np.zeros((1, 4)))
    _raises(ValueError, r"Dense layer 'd'.*list of 1 arrays.*has 2 weights \(kernel, bias",
            lambda: d.set_weights([np.zeros((4, 3))]))
    _raises(ValueError, r"Dense layer 'd'.*`bias` has shape \(3,\).*\(4,\)",
            lambda: d.set_weights([np.zeros((4, 3)), np.zeros(4)]))
    _raises(TypeError, r"Dense layer 'd'.*list of arrays", lambda: d.set_weights(np.zeros(3)))
    m = Sequential([layers.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"expects a list of 2 arrays.*Received: 1"):
        m.set_weights([np.zeros((4, 2))])


def test_non_numeric_data():
    _raises(TypeError, r"Dense.*numeric.*", lambda: layers.Dense(2)(np.array([["a", "b"]])))
    _raises(TypeError, r"Dense.*numeric", lambda: layers.Dense(2)([[None, 1.0]]))
    m = Sequential([layers.Input((2,)), layers.Dense(1)])
    with pytest.raises(TypeError, match=r"numeric"):
        m.predict(np.array([["a", "b"]]), verbose=0)


def test_empty_axes_and_complex_data_are_refused():
    _raises(ValueError, r"Conv2DTranspose.*non-empty.*\(1, 0, 4, 1\)", lambda: layers.Conv2DTranspose(2, 3)(np.zeros((1, 0, 4, 1))))
    _raises(ValueError, r"Dense.*non-empty", lambda: layers.Dense(3)(np.zeros((2, 0))))
    _raises(TypeError, r"Dense.*must be real.*complex", lambda: layers.Dense(2)(np.array([[1 + 2j, 3]])))


def test_model_input_shape_mismatch():
    m = Sequential([layers.Input((28, 28, 1)), layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"Sequential '.*': expected input shape \(None, 28, 28, 1\).*\(2, 27, 28, 1\)"):
        m.predict(np.zeros((2, 27, 28, 1)), verbose=0)
    i = layers.Input((3,))
    f = Model(i, layers.Dense(1)(i))
    with pytest.raises(ValueError, match=r"Model '.*': expected input shape \(None, 3\)"):
        f.predict(np.zeros((2, 4)), verbose=0)


def test_sequential_add_rejects_non_layers_and_rolls_back_bad_layers():
    m = Sequential([layers.Input((8,))])
    with pytest.raises(TypeError, match=r"only layers can be added.*int"):
        m.add(3)
    with pytest.raises(ValueError, match=r"rank 4"):
        m.add(layers.UpSampling2D())
    assert m.layers == []

"""Every bad argument or misfitting input: a ValueError/TypeError naming the layer, the argument,
the rule and what was received - never a NumPy error from deep inside."""
import re

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
    (layers.Embedding, dict(input_dim=0, output_dim=2), ValueError, r"Embedding.*`input_dim`.*positive integer.*Received: input_dim=0"),
    (layers.Embedding, dict(input_dim=3, output_dim=2.0), ValueError, r"`output_dim`.*Received: output_dim=2.0"),
    (layers.Embedding, dict(input_dim=3, output_dim=2, mask_zero=True), NotImplementedError, r"Embedding.*`mask_zero=True`.*not supported"),
    (layers.Embedding, dict(input_dim=3, output_dim=2, weights=[np.zeros((3, 3))]), ValueError, r"`embeddings` has shape \(3, 2\).*\(3, 3\)"),
    (layers.ZeroPadding2D, dict(padding=-1), ValueError, r"ZeroPadding2D.*`padding`.*non-negative.*Received: padding=-1"),
    (layers.ZeroPadding2D, dict(padding=(1, 2, 3)), ValueError, r"`padding`.*Received: padding=\(1, 2, 3\)"),
    (layers.Cropping2D, dict(cropping=((1, 2), (3,))), ValueError, r"Cropping2D.*`cropping`.*Received: cropping=\(\(1, 2\), \(3,\)\)"),
    (layers.MaxPooling2D, dict(pool_size=0), ValueError, r"MaxPooling2D.*`pool_size`.*positive.*Received: pool_size=0"),
    (layers.AveragePooling2D, dict(strides=(2, -1)), ValueError, r"AveragePooling2D.*`strides`.*Received: strides=\(2, -1\)"),
    (layers.MaxPooling2D, dict(padding="full"), ValueError, r"`padding`.*Received: padding='full'"),
    (layers.GlobalMaxPooling2D, dict(keepdims="yes"), ValueError, r"GlobalMaxPooling2D.*`keepdims`.*Received: keepdims='yes'"),
    (layers.GlobalAveragePooling2D, dict(data_format="NCHW"), ValueError, r"`data_format`.*Received: data_format='NCHW'"),
    (layers.LayerNormalization, dict(axis="last"), TypeError, r"LayerNormalization.*`axis`.*Received: axis='last'"),
    (layers.LayerNormalization, dict(epsilon=0), ValueError, r"`epsilon`.*positive.*Received: epsilon=0"),
    (layers.LayerNormalization, dict(rms_scaling=True), NotImplementedError, r"rms_scaling"),
    (layers.GroupNormalization, dict(groups=0), ValueError, r"GroupNormalization.*`groups`.*-1.*Received: groups=0"),
    (layers.InstanceNormalization, dict(groups=2), TypeError, r"InstanceNormalization.*`groups` is fixed"),
    (layers.GaussianNoise, dict(stddev=-0.1), ValueError, r"GaussianNoise.*`stddev`.*between 0 and 1.*Received: stddev=-0.1"),
    (layers.SpatialDropout2D, dict(rate=-0.5), ValueError, r"SpatialDropout2D.*`rate`.*Received: rate=-0.5"),
    (layers.SpatialDropout2D, dict(rate=0.5, noise_shape=(1, 1)), TypeError, r"`noise_shape` is fixed"),
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


@pytest.mark.parametrize("kernel,shape", [((3, 1), (1, 2, 5, 1)), ((1, 3), (1, 5, 2, 1))])
def test_kernel_larger_than_valid_input_known_only_at_call_time(kernel, shape):
    """Built on unknown sizes, the check happens when the input arrives, on each axis."""
    model = Sequential([layers.Input((None, None, 1)), layers.Conv2D(1, kernel)])
    received = re.escape(str(shape))
    with pytest.raises(ValueError, match=rf"Conv2D.*zero or negative.*Received input_shape={received}"):
        model.predict(np.zeros(shape, np.float32), verbose=0)


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


def test_new_layers_refuse_inputs_that_do_not_fit():
    _raises(ValueError, r"Embedding layer 'e'.*\[0, 4\).*index 4", lambda: layers.Embedding(4, 2, name="e")(np.array([[1, 4]])))
    _raises(ValueError, r"Embedding.*\[0, 4\).*index -1", lambda: layers.Embedding(4, 2)(np.array([-1, 0])))
    _raises(ValueError, r"Embedding.*integer indices.*1.5", lambda: layers.Embedding(4, 2)(np.array([[1.0, 1.5]])))
    _raises(TypeError, r"Embedding.*numeric", lambda: layers.Embedding(4, 2)(np.array(["a"])))
    _raises(ValueError, r"MaxPooling2D.*zero or negative.*pool_size=\(3, 3\).*\(1, 2, 5, 1\)",
            lambda: layers.MaxPooling2D(3)(np.zeros((1, 2, 5, 1))))
    _raises(ValueError, r"AveragePooling2D.*rank 4", lambda: layers.AveragePooling2D()(np.zeros((1, 4, 4))))
    _raises(ValueError, r"Cropping2D.*`cropping` must leave.*removes 4 of the 4.*axis 1",
            lambda: layers.Cropping2D(((2, 2), (0, 0)))(np.zeros((1, 4, 5, 1))))
    crop = layers.Cropping2D(1)
    crop(np.zeros((1, 5, 5, 1)))
    _raises(ValueError, r"Cropping2D.*`cropping` must leave", lambda: crop(np.zeros((1, 2, 5, 1))))
    _raises(ValueError, r"GroupNormalization.*6 channels.*split evenly.*groups=4",
            lambda: layers.GroupNormalization(4)(np.zeros((1, 3, 6))))
    _raises(ValueError, r"GroupNormalization.*split evenly.*groups=8", lambda: layers.GroupNormalization(8)(np.zeros((1, 3, 6))))
    _raises(ValueError, r"LayerNormalization.*non-batch axis.*axis=3", lambda: layers.LayerNormalization(axis=3)(np.zeros((2, 3, 4))))
    _raises(ValueError, r"LayerNormalization.*non-batch axis.*axis=0", lambda: layers.LayerNormalization(axis=0)(np.zeros((2, 3))))
    _raises(ValueError, r"LayerNormalization.*same axis twice", lambda: layers.LayerNormalization(axis=[1, -1])(np.zeros((2, 3))))
    ln = layers.LayerNormalization()
    ln(np.zeros((2, 3)))
    _raises(ValueError, r"LayerNormalization.*\[3\].*\(2, 4\)", lambda: ln(np.zeros((2, 4))))
    _raises(ValueError, r"GlobalAveragePooling2D.*rank 4", lambda: layers.GlobalAveragePooling2D()(np.zeros((2, 3))))


def test_integer_inputs_refuse_fractions_and_float_layers_refuse_integer_dtypes():
    i = layers.Input((2,), dtype="int32")
    m = Model(i, layers.Embedding(5, 2)(i))
    with pytest.raises(TypeError, match=r"InputLayer.*integers \(dtype int32\).*non-integer"):
        m.predict(np.array([[0.5, 1.0]]), verbose=0)
    with pytest.raises(ValueError, match=r"Dense.*`dtype` must be a floating type.*Received: dtype='int32'"):
        layers.Dense(2, dtype="int32")
    with pytest.raises(ValueError, match=r"InputLayer.*floating or integer type.*Received: dtype='str'"):
        layers.Input((2,), dtype="str")


@pytest.mark.parametrize("name", ["Conv3D", "LSTM", "Bidirectional", "SeparableConv2D", "PReLU", "Conv1D"])
def test_keras_layers_we_do_not_have_are_named_as_not_supported(name):
    import upsampling.layers as module
    with pytest.raises(NotImplementedError, match=rf"^{name} is not supported by upsampling$"):
        getattr(module, name)
    with pytest.raises(NotImplementedError, match=rf"{name} is not supported by upsampling"):
        exec(f"from upsampling.layers import {name}", {})
    with pytest.raises(AttributeError, match=r"no attribute 'NoSuchLayer'"):
        module.NoSuchLayer


def test_the_list_of_keras_layer_names_is_keras_own():
    keras = pytest.importorskip("keras")
    import upsampling.layers as module
    theirs = {n for n in dir(keras.layers) if n[:1].isupper()}
    assert theirs <= module.KERAS_LAYER_NAMES
    assert {n for n in module.KERAS_LAYER_NAMES if n[:1].isupper()} <= theirs

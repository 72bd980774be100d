"""get_config / from_config round-trips for every layer, and Keras-compatible config keys."""
import numpy as np
import pytest

from upsampling import layers

LAYERS = [
    lambda: layers.Dense(5, activation="relu", use_bias=False, kernel_initializer="he_normal"),
    lambda: layers.Dense(3, kernel_regularizer="l1_l2", bias_regularizer="l2", kernel_constraint="max_norm",
                         bias_constraint="non_neg"),
    lambda: layers.Conv2D(2, 3, kernel_regularizer="l1", kernel_constraint="unit_norm"),
    lambda: layers.Conv2D(4, (3, 2), strides=2, padding="same", dilation_rate=1, groups=2, activation="tanh"),
    lambda: layers.Conv2DTranspose(3, 4, strides=2, padding="same", output_padding=1, data_format="channels_first"),
    lambda: layers.UpSampling2D((2, 3), interpolation="lanczos3"),
    lambda: layers.Reshape((4, -1)),
    lambda: layers.Flatten(data_format="channels_first"),
    lambda: layers.Activation("gelu"),
    lambda: layers.ReLU(max_value=6.0, negative_slope=0.1),
    lambda: layers.LeakyReLU(0.2),
    lambda: layers.Dropout(0.25, seed=3),
    lambda: layers.BatchNormalization(axis=1, momentum=0.8, epsilon=1e-5, center=False),
    lambda: layers.Embedding(10, 4, embeddings_initializer="random_normal", embeddings_regularizer="l2",
                             input_length=3),
    lambda: layers.ZeroPadding2D(((1, 2), (0, 3)), data_format="channels_first"),
    lambda: layers.Cropping2D((2, 1)),
    lambda: layers.MaxPooling2D(3, strides=2, padding="same"),
    lambda: layers.AveragePooling2D((2, 3), data_format="channels_first"),
    lambda: layers.GlobalAveragePooling2D(keepdims=True),
    lambda: layers.GlobalMaxPooling2D(data_format="channels_first"),
    lambda: layers.LayerNormalization(axis=[1, 2], epsilon=1e-5, center=False, gamma_regularizer="l2"),
    lambda: layers.GroupNormalization(groups=-1, axis=1, beta_constraint="non_neg"),
    lambda: layers.InstanceNormalization(scale=False),
    lambda: layers.InstanceNormalization(axis=None),
    lambda: layers.GaussianNoise(0.1, seed=4),
    lambda: layers.SpatialDropout2D(0.3, data_format="channels_first", seed=1),
]


@pytest.mark.parametrize("make", LAYERS)
def test_from_config_rebuilds_an_equal_layer(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert clone.name == layer.name


@pytest.mark.parametrize("ours,theirs", [
    (lambda L: L.Conv2DTranspose(3, 4, strides=2, padding="same", kernel_initializer="he_normal"), None),
    (lambda L: L.Conv2D(3, 4, kernel_initializer="he_normal", bias_initializer="ones"), None),
    (lambda L: L.UpSampling2D((2, 3), interpolation="bilinear"), None),
    (lambda L: L.Dense(5, kernel_initializer="orthogonal"), None),
])
def test_config_keys_cover_keras_arguments(ours, theirs):
    """The keys Keras writes (no extra ones: a file we write must load in Keras), and the
    initializers serialized as Keras serializes them."""
    keras = pytest.importorskip("keras")
    mine = ours(layers).get_config()
    kconf = ours(keras.layers).get_config()
    unsupported = {"kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                   "bias_constraint", "lora_rank", "lora_alpha", "quantization_config"}
    missing = set(kconf) - set(mine) - unsupported
    assert not missing, missing
    assert not set(mine) - set(kconf), set(mine) - set(kconf)
    for key in ("kernel_initializer", "bias_initializer"):
        assert mine.get(key) == kconf.get(key), key
    for key in ("filters", "kernel_size", "strides", "padding", "data_format", "size", "interpolation", "units",
                "use_bias", "output_padding"):
        if key in kconf:
            assert (tuple(mine[key]) if isinstance(mine[key], (list, tuple)) else mine[key]) == \
                   (tuple(kconf[key]) if isinstance(kconf[key], (list, tuple)) else kconf[key]), key


def test_layer_built_from_config_computes_the_same_output():
    layer = layers.Conv2DTranspose(2, 3, strides=2, padding="same")
    x = np.random.default_rng(0).standard_normal((1, 3, 3, 2)).astype(np.float32)
    y = layer(x)
    clone = layers.Conv2DTranspose.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


def test_keras2_alpha_spelling_of_leaky_relu_warns_and_works():
    with pytest.warns(DeprecationWarning, match="`alpha` is deprecated"):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2
    np.testing.assert_allclose(layer(np.array([[-1.0, 2.0]])), [[-0.2, 2.0]])

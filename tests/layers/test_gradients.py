"""float64 finite-difference checks of every layer's backward pass (input and weights)."""
import numpy as np
import pytest

from tests.gradcheck import assert_grad_close, numeric_grad
from upsampling import layers
from upsampling.autograd import Gradients
from upsampling.models import Model, Sequential

rng = np.random.default_rng(7)


def check_layer_gradients(layer, x, training=False):
    """Compare backward() with central differences of <forward(x), r> for x and every trainable weight."""
    x = np.asarray(x, np.float64)
    layer.forward(x, training)  # build
    y, _ = layer.forward(x, training)
    r = rng.standard_normal(y.shape)

    def f():
        return float(np.sum(layer.forward(x, training)[0] * r))

    y, backward = layer.forward(x, training)
    grads = Gradients()
    dx = backward(r, grads)
    assert_grad_close(dx, numeric_grad(f, x), what=f"{layer.name} input")
    for var in layer.trainable_weights:
        assert_grad_close(grads.get(var), numeric_grad(f, var.value), what=f"{layer.name} {var.name}")


F64 = dict(dtype="float64")

LAYER_CASES = [
    ("dense", lambda: layers.Dense(3, activation="tanh", **F64), (2, 4)),
    ("dense_rank3", lambda: layers.Dense(2, **F64), (2, 3, 4)),
    ("conv2d_same_s2", lambda: layers.Conv2D(2, 3, strides=2, padding="same", activation="elu", **F64), (2, 5, 6, 3)),
    ("conv2d_dilated_groups", lambda: layers.Conv2D(4, 2, dilation_rate=2, groups=2, **F64), (1, 5, 5, 2)),
    ("conv2d_channels_first", lambda: layers.Conv2D(2, (2, 3), data_format="channels_first", **F64), (1, 3, 4, 5)),
    ("conv2d_transpose_k3s2_same", lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same", **F64), (2, 3, 3, 2)),
    ("conv2d_transpose_k4s2_op1", lambda: layers.Conv2DTranspose(2, 4, strides=2, output_padding=1, **F64), (1, 3, 2, 2)),
    ("conv2d_transpose_k1s3_valid", lambda: layers.Conv2DTranspose(1, 1, strides=3, activation="sigmoid", **F64), (1, 2, 2, 2)),
    ("conv2d_transpose_dilated_cf", lambda: layers.Conv2DTranspose(2, 2, dilation_rate=2, data_format="channels_first", **F64), (1, 2, 3, 3)),
    ("upsampling_nearest", lambda: layers.UpSampling2D((2, 3), **F64), (2, 2, 3, 2)),
    ("upsampling_bilinear_cf", lambda: layers.UpSampling2D(2, interpolation="bilinear", data_format="channels_first", **F64), (1, 2, 3, 3)),
    ("upsampling_bicubic", lambda: layers.UpSampling2D(2, interpolation="bicubic", **F64), (1, 3, 3, 1)),
    ("upsampling_lanczos5", lambda: layers.UpSampling2D(3, interpolation="lanczos5", **F64), (1, 3, 2, 1)),
    ("reshape", lambda: layers.Reshape((2, -1), **F64), (2, 6)),
    ("flatten_cf", lambda: layers.Flatten(data_format="channels_first", **F64), (2, 2, 3, 2)),
    ("leaky_relu", lambda: layers.LeakyReLU(negative_slope=0.2, **F64), (3, 5)),
    ("relu_variants", lambda: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, **F64), (3, 5)),
    ("activation_softmax", lambda: layers.Activation("softmax", **F64), (3, 5)),
    ("activation_gelu", lambda: layers.Activation("gelu", **F64), (3, 5)),
    ("activation_selu", lambda: layers.Activation("selu", **F64), (3, 5)),
    ("activation_swish", lambda: layers.Activation("swish", **F64), (3, 5)),
    ("max_pool_same_s2", lambda: layers.MaxPooling2D(3, 2, padding="same", **F64), (2, 5, 4, 2)),
    ("max_pool_overlap_cf", lambda: layers.MaxPooling2D((2, 3), (1, 2), data_format="channels_first", **F64), (1, 2, 4, 5)),
    ("avg_pool_same_uneven", lambda: layers.AveragePooling2D(2, 1, padding="same", **F64), (2, 3, 4, 2)),
    ("avg_pool_valid_cf", lambda: layers.AveragePooling2D(2, data_format="channels_first", **F64), (1, 2, 5, 4)),
    ("global_avg_pool", lambda: layers.GlobalAveragePooling2D(**F64), (2, 3, 4, 2)),
    ("global_max_pool_keepdims_cf", lambda: layers.GlobalMaxPooling2D(data_format="channels_first", keepdims=True, **F64), (2, 2, 3, 4)),
    ("zero_padding", lambda: layers.ZeroPadding2D(((1, 0), (2, 1)), **F64), (2, 2, 3, 2)),
    ("cropping_cf", lambda: layers.Cropping2D(((1, 0), (0, 2)), data_format="channels_first", **F64), (1, 2, 3, 4)),
    ("layer_norm", lambda: layers.LayerNormalization(gamma_initializer="random_normal", beta_initializer="random_normal", **F64), (2, 3, 4)),
    ("layer_norm_axes", lambda: layers.LayerNormalization(axis=[1, 3], gamma_initializer="random_normal", **F64), (2, 3, 2, 4)),
    ("group_norm", lambda: layers.GroupNormalization(2, gamma_initializer="random_normal", beta_initializer="random_normal", **F64), (2, 3, 2, 4)),
    ("group_norm_cf", lambda: layers.GroupNormalization(3, axis=1, epsilon=0.1, gamma_initializer="random_normal", **F64), (2, 6, 2, 2)),
    ("instance_norm", lambda: layers.InstanceNormalization(gamma_initializer="random_normal", beta_initializer="random_normal", **F64), (2, 3, 3, 2)),
    ("instance_norm_whole_sample", lambda: layers.InstanceNormalization(axis=None, gamma_initializer="random_normal", **F64), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("name,make,shape", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_gradients(name, make, shape):
    x = rng.standard_normal(shape)
    x[np.abs(x) < 0.05] += 0.2  # keep away from kinks of relu-like functions
    check_layer_gradients(make(), x)


@pytest.mark.parametrize("axis,shape", [(-1, (5, 3, 3, 2)), (1, (4, 3, 2, 2)), (-1, (6, 4))])
def test_batch_normalization_gradients_in_training_and_inference(axis, shape):
    x = rng.standard_normal(shape)
    for training in (True, False):
        layer = layers.BatchNormalization(axis=axis, momentum=1.0, **F64)  # momentum 1: stats stay fixed
        layer.forward(x, False)
        layer.gamma.assign(rng.uniform(0.5, 2, layer.gamma.shape))
        layer.beta.assign(rng.standard_normal(layer.beta.shape))
        layer.moving_variance.assign(rng.uniform(0.5, 2, layer.beta.shape))
        check_layer_gradients(layer, x, training=training)


def test_dropout_backward_uses_the_same_mask():
    layer = layers.Dropout(0.5, seed=1, **F64)
    x = rng.standard_normal((4, 6))
    y, backward = layer.forward(x, training=True)
    dx = backward(np.ones_like(y), Gradients())
    np.testing.assert_array_equal(dx == 0, y == 0)
    np.testing.assert_allclose(dx[dx != 0], 2.0)
    np.testing.assert_array_equal(layer(x, training=False), x)


def _generator(dtype="float64"):
    return Sequential([
        layers.Input((6,), dtype=dtype),
        layers.Dense(2 * 3 * 3, dtype=dtype),
        layers.LeakyReLU(0.2, dtype=dtype),
        layers.Reshape((3, 3, 2), dtype=dtype),
        layers.Conv2DTranspose(2, 4, strides=2, padding="same", dtype=dtype),
        layers.BatchNormalization(dtype=dtype),
        layers.UpSampling2D(dtype=dtype, interpolation="bilinear"),
        layers.Conv2D(1, 3, padding="same", activation="tanh", dtype=dtype),
    ])


def check_model_gradients(model, x, training=True):
    r = rng.standard_normal(model.forward(x, training)[0].shape)

    def f():
        return float(np.sum(model.forward(x, training)[0] * r))

    y, backward = model.forward(x, training)
    grads = Gradients()
    dx = backward(r, grads)
    assert_grad_close(dx, numeric_grad(f, x), what="model input")
    for var in model.trainable_weights:
        assert_grad_close(grads.get(var), numeric_grad(f, var.value), what=var.path)
    return grads


def test_sequential_generator_gradients_reach_every_weight_and_the_input():
    model = _generator()
    grads = check_model_gradients(model, rng.standard_normal((3, 6)))
    assert len(grads) == len(model.trainable_weights) == 8


def test_nested_functional_model_gradients_including_a_shared_layer():
    gen = _generator()
    shared = layers.Dense(4, activation="tanh", dtype="float64")
    inp = layers.Input((6,), dtype="float64")
    h = shared(inp)
    h = shared(layers.Dense(6, dtype="float64")(h))  # the same layer used twice
    img = gen(layers.Dense(6, dtype="float64")(h))
    disc = Sequential([layers.Flatten(dtype="float64"), layers.Dense(1, activation="sigmoid", dtype="float64")])
    out = disc(img)
    model = Model(inp, out)
    check_model_gradients(model, rng.standard_normal((2, 6)))


def test_composite_of_two_sequentials_differentiates_through_both():
    gen = _generator()
    disc = Sequential([layers.Input((12, 12, 1), dtype="float64"), layers.Conv2D(2, 3, strides=2, padding="same", dtype="float64"),
                       layers.Flatten(dtype="float64"), layers.Dense(1, dtype="float64")])
    gan = Sequential([gen, disc])
    check_model_gradients(gan, rng.standard_normal((2, 6)))


def test_value_and_grad_gives_the_loss_and_every_gradient_of_a_model():
    from upsampling.autograd import value_and_grad
    from upsampling.losses import MeanSquaredError
    model = _generator()
    x = rng.standard_normal((2, 6))
    y = rng.standard_normal(model.forward(x, False)[0].shape)
    loss = MeanSquaredError()
    value, grads, dx, _ = value_and_grad(model.forward, loss.value_and_grad, x, y, training=False)
    assert value == pytest.approx(loss(y, model.forward(x, False)[0]), rel=1e-12)

    def f():
        return loss(y, model.forward(x, False)[0])

    assert_grad_close(dx, numeric_grad(f, x), what="input")
    for var in model.trainable_weights:
        assert_grad_close(grads.get(var), numeric_grad(f, var.value), what=var.path)


def test_embedding_table_gradient_against_finite_differences():
    layer = layers.Embedding(5, 3, embeddings_initializer="random_normal", **F64)
    idx = np.array([[0, 3, 3], [4, 0, 3]])  # repeated rows add up; rows 1 and 2 get nothing
    y, backward = layer.forward(idx)
    r = rng.standard_normal(y.shape)
    grads = Gradients()
    dx = backward(r, grads)
    numeric = numeric_grad(lambda: float(np.sum(layer.forward(idx)[0] * r)), layer.embeddings.value)
    assert_grad_close(grads.get(layer.embeddings), numeric, what="embeddings")
    assert not numeric[1:3].any() and dx.shape == idx.shape and not dx.any()


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout_drops_whole_feature_maps_and_scales_the_rest(data_format):
    layer = layers.SpatialDropout2D(0.25, data_format=data_format, seed=3, **F64)
    x = rng.uniform(1, 2, (64, 3, 4, 8) if data_format == "channels_last" else (64, 8, 3, 4))
    y, backward = layer.forward(x, training=True)
    spatial = (1, 2) if data_format == "channels_last" else (2, 3)
    kept = (y != 0).all(axis=spatial)  # (N, C): a map is kept or dropped as a whole
    np.testing.assert_array_equal(kept, (y != 0).any(axis=spatial))
    assert 0.6 < kept.mean() < 0.9  # about 1 - rate of the 512 maps
    np.testing.assert_allclose(y[y != 0], (x / 0.75)[y != 0])
    dx = backward(np.ones_like(y), Gradients())
    np.testing.assert_array_equal(dx, (y != 0) / 0.75)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_gaussian_noise_only_in_training_with_the_given_spread():
    layer = layers.GaussianNoise(0.3, seed=2, **F64)
    x = rng.standard_normal((200, 50))
    y, backward = layer.forward(x, training=True)
    noise = y - x
    assert abs(noise.std() - 0.3) < 0.01 and abs(noise.mean()) < 0.01
    np.testing.assert_array_equal(backward(x, Gradients()), x)  # d(x + noise)/dx = 1
    np.testing.assert_array_equal(layer(x), x)
    assert not np.array_equal(layer(x, training=True), y)  # a fresh draw per call

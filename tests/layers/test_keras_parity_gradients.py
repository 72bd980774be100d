"""Embedding, padding/cropping, pooling, normalization and noise layers against Keras 3 (torch backend):
outputs, input gradients and weight gradients with the same random non-zero weights, both data formats."""
import numpy as np
import pytest

from tests.keras_oracle import compare_layer, compare_layer_and_gradients, keras
from upsampling import layers

rng = np.random.default_rng(5)


def _image(data_format, shape=(2, 7, 6, 3)):
    x = rng.standard_normal(shape).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if data_format == "channels_first" else x


def _same_pads_symmetric(length, k, s):
    total = max((-(-length // s) - 1) * s + k - length, 0)
    return total % 2 == 0


POOL_CASES = [(2, None, "valid"), (3, 2, "valid"), ((2, 3), (1, 2), "valid"), (3, 1, "same"), (2, 2, "same"),
              (3, 2, "same"), ((3, 2), (2, 1), "same"), (2, 1, "same")]


def _even_size(kind, pool_size, strides, padding, size=(7, 6)):
    """The image size to test: (7, 6), or for a 'same' average the nearest one padded evenly (None if none).

    Keras's torch backend pads an uneven 'same' average by replicating edge pixels; TensorFlow (and
    upsampling) leave the padding out of the count, which tests/ops checks against loops.
    """
    if kind == "MaxPooling2D" or padding == "valid":
        return size
    k = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    s = k if strides is None else (strides, strides) if isinstance(strides, int) else strides
    found = tuple(next((n for n in range(start, start + 8) if _same_pads_symmetric(n, kk, ss)), None)
                  for start, kk, ss in zip(size, k, s))
    return None if None in found else found


POOL_GRID = [(kind,) + case for kind in ("MaxPooling2D", "AveragePooling2D") for case in POOL_CASES
             if _even_size(kind, *case) is not None]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kind,pool_size,strides,padding", POOL_GRID)
def test_pooling_matches_keras(kind, pool_size, strides, padding, data_format):
    kw = dict(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format)
    x = _image(data_format, (2,) + _even_size(kind, pool_size, strides, padding) + (3,))
    compare_layer_and_gradients(getattr(layers, kind), getattr(keras().layers, kind), kw, x)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kind", ["GlobalAveragePooling2D", "GlobalMaxPooling2D"])
def test_global_pooling_matches_keras(kind, data_format, keepdims):
    compare_layer_and_gradients(getattr(layers, kind), getattr(keras().layers, kind),
                                dict(data_format=data_format, keepdims=keepdims), _image(data_format))


def test_tied_maxima_share_the_gradient_as_in_keras():
    x = np.zeros((2, 3, 4, 3), np.float32)  # channel 0: all zeros, as after a ReLU
    x[:, :2, 1, 1] = 2.0                    # channel 1: two tied maxima
    x[:, :, :, 2] = rng.standard_normal((2, 3, 4))
    compare_layer_and_gradients(layers.GlobalMaxPooling2D, keras().layers.GlobalMaxPooling2D, {}, x)
    x = np.zeros((1, 2, 2, 1), np.float32)
    compare_layer_and_gradients(layers.MaxPooling2D, keras().layers.MaxPooling2D, {}, x)  # first one wins


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("amount", [1, (2, 0), ((1, 2), (0, 3)), ((0, 0), (2, 1))])
@pytest.mark.parametrize("kind,arg", [("ZeroPadding2D", "padding"), ("Cropping2D", "cropping")])
def test_padding_and_cropping_match_keras(kind, arg, amount, data_format):
    compare_layer_and_gradients(getattr(layers, kind), getattr(keras().layers, kind),
                                {arg: amount, "data_format": data_format}, _image(data_format))


@pytest.mark.parametrize("kw,shape", [
    (dict(), (2, 4, 5, 3)),
    (dict(axis=[1, 2, 3], epsilon=1e-5), (2, 4, 5, 3)),
    (dict(axis=[-2, -1], center=False), (2, 3, 4, 5)),
    (dict(axis=-1, scale=False), (3, 6)),
    (dict(axis=[2, 3], gamma_initializer="zeros"), (2, 3, 4, 5)),  # channels_first images
])
def test_layer_normalization_matches_keras(kw, shape):
    x = (2 * rng.standard_normal(shape) + 0.5).astype(np.float32)
    compare_layer_and_gradients(layers.LayerNormalization, keras().layers.LayerNormalization, kw, x, atol=2e-5)


@pytest.mark.parametrize("kw,shape", [
    (dict(groups=2), (2, 4, 5, 6)),
    (dict(groups=3, epsilon=1e-5, center=False), (2, 4, 5, 6)),
    (dict(groups=-1), (2, 4, 5, 6)),
    (dict(groups=1, scale=False), (2, 4, 5, 6)),
    (dict(groups=2, axis=1), (2, 6, 4, 5)),  # channels_first
    (dict(groups=4), (3, 5, 8)),
])
def test_group_normalization_matches_keras(kw, shape):
    x = (2 * rng.standard_normal(shape) + 0.5).astype(np.float32)
    compare_layer_and_gradients(layers.GroupNormalization, keras().layers.GroupNormalization, kw, x, atol=2e-5)


@pytest.mark.parametrize("kw,shape", [(dict(), (2, 4, 5, 6)), (dict(axis=1, epsilon=1e-5), (2, 3, 4, 5))])
def test_instance_normalization_is_keras_group_normalization_with_one_channel_per_group(kw, shape):
    x = (2 * rng.standard_normal(shape) + 0.5).astype(np.float32)
    theirs = lambda **kw: keras().layers.GroupNormalization(groups=-1, **kw)  # noqa: E731
    compare_layer_and_gradients(layers.InstanceNormalization, theirs, kw, x, atol=2e-5)


def test_whole_sample_instance_normalization_is_keras_layer_normalization_with_constant_weights():
    """keras-contrib's axis=None: one scalar gamma/beta; equal to LayerNormalization over every non-batch
    axis whose gamma/beta are filled with those scalars, and its weight gradients are their sums."""
    import torch
    k = keras()
    x = (2 * rng.standard_normal((3, 4, 5, 2)) + 1).astype(np.float32)
    g, b = np.float32(1.7), np.float32(-0.4)
    klayer = k.layers.LayerNormalization(axis=[1, 2, 3])
    kmodel = k.Sequential([k.Input(x.shape[1:]), klayer])
    kmodel.set_weights([np.full(x.shape[1:], g), np.full(x.shape[1:], b)])
    xt = torch.tensor(x, requires_grad=True)
    yt = kmodel(xt)
    r = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(r)).sum().backward()
    ours = layers.InstanceNormalization(axis=None)
    ours(x)
    ours.set_weights([np.array([g]), np.array([b])])
    from upsampling.autograd import Gradients
    y, backward = ours.forward(x)
    grads = Gradients()
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=2e-5)
    np.testing.assert_allclose(backward(r, grads), xt.grad.numpy(), atol=2e-5)
    np.testing.assert_allclose(grads.get(ours.gamma), [klayer.gamma.value.grad.sum().item()], rtol=1e-4)
    np.testing.assert_allclose(grads.get(ours.beta), [klayer.beta.value.grad.sum().item()], rtol=1e-4)


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 2)])
def test_embedding_matches_keras_and_its_table_gradient(shape, dtype):
    idx = rng.integers(0, 5, shape)  # few rows, so repeats add up in the gradient
    x = idx.astype(dtype)
    kw = dict(input_dim=7, output_dim=3)
    if dtype == "float32":  # Keras casts float indices; compare against it with an integer input
        y = compare_layer_and_gradients(layers.Embedding, keras().layers.Embedding, kw, idx.astype(np.int32))[0]
        layer = layers.Embedding(**kw)
        layer(x)
        layer.set_weights([np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)])
        np.testing.assert_array_equal(layer(x), y)
    else:
        compare_layer_and_gradients(layers.Embedding, keras().layers.Embedding, kw, x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_noise_and_spatial_dropout_are_the_identity_at_inference_as_in_keras(data_format):
    x = _image(data_format)
    compare_layer(layers.GaussianNoise, keras().layers.GaussianNoise, dict(stddev=0.5), x)
    compare_layer(layers.SpatialDropout2D, keras().layers.SpatialDropout2D,
                  dict(rate=0.4, data_format=data_format), x)


@pytest.mark.parametrize("make", [
    lambda L: L.Embedding(7, 3), lambda L: L.MaxPooling2D(3, 2, "same"), lambda L: L.AveragePooling2D(2),
    lambda L: L.GlobalAveragePooling2D(keepdims=True), lambda L: L.GlobalMaxPooling2D(),
    lambda L: L.ZeroPadding2D(((1, 2), (3, 4))), lambda L: L.Cropping2D((1, 2)),
    lambda L: L.LayerNormalization(axis=[1, 2]), lambda L: L.GroupNormalization(4, epsilon=1e-4),
    lambda L: L.GaussianNoise(0.2, seed=1), lambda L: L.SpatialDropout2D(0.3, data_format="channels_first"),
])
def test_config_keys_and_values_match_keras(make):
    def plain(v):
        return [plain(e) for e in v] if isinstance(v, (list, tuple)) else v

    theirs, mine = make(keras().layers).get_config(), make(layers).get_config()
    skipped = {"dtype", "trainable", "name"}  # Keras 3 writes dtype as a policy dict
    unsupported = {"embeddings_regularizer", "embeddings_constraint", "activity_regularizer", "lora_rank",
                   "quantization_config",
                   "lora_alpha", "quantization_config", "beta_regularizer", "gamma_regularizer",
                   "beta_constraint", "gamma_constraint"}
    missing = set(theirs) - set(mine) - skipped - {"activity_regularizer", "quantization_config"}
    assert not missing, missing
    for key in set(theirs) - skipped - unsupported:
        if not isinstance(theirs[key], dict):
            assert plain(mine[key]) == plain(theirs[key]), key

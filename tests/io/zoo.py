"""Models covering every layer (both data formats, Sequential, functional, nested) for the file
format and export tests. Weights and BatchNormalization statistics are randomised so that a
weight in the wrong place changes the output."""
from __future__ import annotations

import numpy as np

from upsampling import layers
from upsampling.models import Model, Sequential


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for v in model.weights:
        w = v.numpy()
        if v.name in ("gamma", "moving_variance"):  # keep them positive
            w = 0.5 + rng.random(w.shape)
        else:
            scale = 0.3 if w.ndim == 1 else 1.0 / np.sqrt(np.prod(w.shape[:-1]))  # keeps activations O(1)
            w = rng.standard_normal(w.shape) * scale
        out.append(w.astype(v.dtype))
    model.set_weights(out)
    return model


def dense_stack():
    return Sequential([layers.Input((6,)), layers.Dense(5, activation="relu"), layers.BatchNormalization(),
                       layers.Dense(4, activation="tanh", use_bias=False), layers.Dropout(0.2),
                       layers.Dense(3, activation="sigmoid"), layers.Activation("softmax")], name="dense_stack")


def activations():
    return Sequential([layers.Input((7,)), layers.Dense(6), layers.LeakyReLU(0.2), layers.Dense(6, activation="elu"),
                       layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2), layers.Dense(6, activation="selu"),
                       layers.Dense(6, activation="softplus"), layers.Dense(6, activation="softsign"),
                       layers.Dense(6, activation="swish"), layers.Dense(6, activation="gelu"),
                       layers.Dense(6, activation="relu6"), layers.Dense(6, activation="hard_sigmoid"),
                       layers.Dense(6, activation="leaky_relu"), layers.Dense(6, activation="exponential"),
                       layers.ReLU()], name="activations")


# The activations Keras 3 added (threshold needs arguments, so no layer takes it by name; Keras's
# sparsemax is wrong, keras-team/keras#23425). glu comes last: it halves the axis and Keras's
# Dense does not know it, so a layer after it would be built for the wrong width.
NEWER_ACTIVATIONS = ("celu", "hard_shrink", "soft_shrink", "tanh_shrink", "hard_silu", "hard_swish", "hard_tanh",
                     "log_sigmoid", "log_softmax", "mish", "sparse_plus", "sparse_sigmoid", "squareplus")


def newer_activations():
    return Sequential([layers.Input((8,))] + [layers.Dense(8, activation=a) for a in NEWER_ACTIVATIONS] +
                      [layers.Dense(8, activation="glu")], name="newer_activations")


def convs(data_format="channels_last"):
    shape = (9, 8, 3) if data_format == "channels_last" else (3, 9, 8)
    kw = dict(data_format=data_format)
    return Sequential([
        layers.Input(shape),
        layers.Conv2D(4, 3, padding="same", **kw),
        layers.Conv2D(6, (2, 3), strides=2, padding="same", activation="relu", **kw),
        layers.Conv2D(6, 3, dilation_rate=2, padding="same", groups=2, **kw),
        layers.BatchNormalization(axis=-1 if data_format == "channels_last" else 1),
        layers.Conv2DTranspose(5, 4, strides=2, padding="same", **kw),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, **kw),
        layers.Conv2DTranspose(2, 3, strides=(2, 1), padding="valid", activation="tanh", **kw),
        layers.Conv2DTranspose(2, 3, dilation_rate=2, padding="same", **kw),
        layers.Conv2D(2, 3, padding="valid", **kw),
        layers.Flatten(**kw),
        layers.Dense(3)], name=f"convs_{data_format}")


def upsamplers(data_format="channels_last", interpolations=("nearest", "bilinear")):
    shape = (5, 4, 2) if data_format == "channels_last" else (2, 5, 4)
    out = [layers.Input(shape)]
    for i, interp in enumerate(interpolations):
        size = (2, 3) if i % 2 else 2
        out.append(layers.UpSampling2D(size=size, interpolation=interp, data_format=data_format))
        out.append(layers.Conv2D(2, 3, strides=size, padding="same", data_format=data_format))
    return Sequential(out, name=f"upsamplers_{data_format}_{len(interpolations)}")


def more_layers(data_format="channels_last"):
    """Poolings, padding/cropping, Layer/Group normalization and the training-only noise layers."""
    last = data_format == "channels_last"
    kw = dict(data_format=data_format)
    i = layers.Input((9, 10, 4) if last else (4, 9, 10))
    h = layers.Conv2D(6, 3, padding="same", **kw)(i)
    h = layers.MaxPooling2D(3, strides=2, padding="same", **kw)(h)
    h = layers.ZeroPadding2D(((1, 2), (0, 1)), **kw)(h)
    h = layers.AveragePooling2D(2, strides=1, padding="same", **kw)(h)
    h = layers.Cropping2D(((1, 0), (2, 1)), **kw)(h)
    h = layers.GroupNormalization(groups=3, axis=-1 if last else 1)(h)
    h = layers.SpatialDropout2D(0.3, **kw)(h)
    h = layers.GaussianNoise(0.5)(h)
    h = layers.LayerNormalization(axis=[1, 2, 3] if last else -1)(h)
    a = layers.GlobalAveragePooling2D(**kw)(h)
    b = layers.GlobalMaxPooling2D(keepdims=True, **kw)(layers.AveragePooling2D(2, **kw)(h))
    return Model(i, [layers.Dense(3)(a), b], name=f"more_layers_{data_format}")


def embedding():
    return Sequential([layers.Input((5,)), layers.Embedding(12, 4), layers.Flatten(), layers.Dense(2)],
                      name="embedding")


def functional():
    i = layers.Input((8,), name="z")
    h = layers.Dense(6, name="stem")(i)
    shared = layers.Dense(6, activation="relu", name="shared")
    a = shared(shared(h))
    b = layers.Dense(6, name="branch")(h)
    c = layers.Dense(6, activation="tanh", name="after_a")(a)
    inner_in = layers.Input((6,))
    inner = Model(inner_in, layers.Dense(2, name="inner_dense")(layers.BatchNormalization()(inner_in)), name="inner")
    out1 = inner(c)
    out2 = inner(b)
    return Model(i, [out1, out2], name="functional")


def dcgan_generator(upsampler="transpose"):
    from upsampling.gan.dcgan import make_generator
    return make_generator(latent_dim=16, upsampler=upsampler, filters=16)


def nested():
    g = Sequential([layers.Input((10,)), layers.Dense(7 * 7 * 4), layers.LeakyReLU(0.2), layers.Reshape((7, 7, 4)),
                    layers.Conv2DTranspose(4, 4, strides=2, padding="same"), layers.BatchNormalization(),
                    layers.UpSampling2D(interpolation="bilinear"),
                    layers.Conv2D(1, 3, padding="same", activation="tanh")], name="generator")
    d = Sequential([layers.Input((28, 28, 1)), layers.Conv2D(4, 3, strides=2, padding="same"), layers.LeakyReLU(0.2),
                    layers.Flatten(), layers.Dense(1, activation="sigmoid")], name="discriminator")
    return Sequential([g, d], name="gan")


ZOO = {
    "dense_stack": (dense_stack, (4, 6)),
    "activations": (activations, (4, 7)),
    "newer_activations": (newer_activations, (4, 8)),
    "convs_last": (convs, (2, 9, 8, 3)),
    "convs_first": (lambda: convs("channels_first"), (2, 3, 9, 8)),
    "upsamplers_last": (upsamplers, (2, 5, 4, 2)),
    "upsamplers_first": (lambda: upsamplers("channels_first"), (2, 2, 5, 4)),
    "functional": (functional, (3, 8)),
    "nested": (nested, (2, 10)),
    "dcgan": (dcgan_generator, (2, 16)),
    "more_layers_last": (more_layers, (2, 9, 10, 4)),
    "more_layers_first": (lambda: more_layers("channels_first"), (2, 4, 9, 10)),
    "embedding": (embedding, (3, 5)),  # integer indices (see `build`)
}
# InstanceNormalization is not a Keras 3 layer.
OTHER = {
    "instance_norm": (lambda: Sequential([layers.Input((5, 6, 4)), layers.InstanceNormalization(),
                                          layers.InstanceNormalization(axis=None)]), (2, 5, 6, 4)),
}
# Keras's torch backend has no Lanczos resize and computes bicubic with PyTorch's a=-0.75 (Keras's
# own numbers use a=-0.5, as we do): these are checked against ONNX Runtime only.
NOT_ON_KERAS_TORCH = {
    "bicubic_lanczos_last": (lambda: upsamplers(interpolations=("bicubic", "lanczos3", "lanczos5")), (2, 5, 4, 2)),
    "bicubic_lanczos_first": (lambda: upsamplers("channels_first", ("lanczos5", "bicubic", "lanczos3")),
                              (2, 2, 5, 4)),
}


def build(name, seed=0):
    builder, shape = {**ZOO, **NOT_ON_KERAS_TORCH, **OTHER}[name]
    model = randomize(builder(), seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(0, 12, shape).astype(np.float32) if name == "embedding" else \
        rng.standard_normal(shape).astype(np.float32)
    return model, x


def outputs(y):
    return [np.asarray(a) for a in (y if isinstance(y, (list, tuple)) else [y])]

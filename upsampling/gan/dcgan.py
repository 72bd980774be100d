"""DCGAN recipes: a generator that upsamples with Conv2DTranspose ('transpose' 4x4, 'transpose3'
3x3), UpSampling2D + Conv2D ('nearest' / 'bilinear' / 'bicubic'), a sub-pixel convolution ('subpixel'
with random init, 'subpixel_icnr' with ICNR) or BlurUpSampling2D + Conv2D ('blur', StyleGAN2's
filtered upsampling), a compiled discriminator, and the composite model that trains the generator
through a frozen discriminator.

Two architectures (ARCHITECTURES):
- 'dcgan' (the default): Radford et al.'s DCGAN as PyTorch's reference example builds it: ReLU and
  BatchNormalization (no bias before it) in the generator, whose second upsampler makes the image
  itself; BatchNormalization and LeakyReLU in a 4x4-kernel discriminator; weights from N(0, 0.02)
  and BatchNormalization scales from N(1, 0.02); PyTorch's BatchNorm momentum (0.1, Keras's 0.9)
  and epsilon (1e-5).
- 'tutorial': the tutorial author's Keras recipe: LeakyReLU and BatchNormalization(momentum=0.8) in
  the generator, a final 5x5 Conv2D at full resolution, a 3x3 discriminator with Dropout(0.4), Keras's
  default (Glorot) initialisers.

Measured on MNIST-5k, seed 0, 930 steps (README): the 'dcgan' architecture reaches the PyTorch
reference's quality step for step, and a step costs less (no convolution at full resolution).
"""
from __future__ import annotations

from upsampling import initializers, layers
from upsampling.models import Sequential
from upsampling.optimizers import Adam

ARCHITECTURES = ("dcgan", "tutorial")
UPSAMPLERS = ("transpose", "transpose3", "nearest", "bilinear", "bicubic", "subpixel", "subpixel_icnr", "blur")
UPSAMPLER_HELP = {
    "transpose": "Conv2DTranspose 4x4, stride 2 (kernel a multiple of the stride)",
    "transpose3": "Conv2DTranspose 3x3, stride 2 (uneven overlap: Odena et al.'s checkerboard case)",
    "nearest": "UpSampling2D (nearest) + Conv2D 3x3",
    "bilinear": "UpSampling2D (bilinear) + Conv2D 3x3",
    "bicubic": "UpSampling2D (bicubic) + Conv2D 3x3",
    "subpixel": "SubPixelConv2D 3x3 (conv to 4x channels + depth-to-space), Glorot init",
    "subpixel_icnr": "SubPixelConv2D 3x3 with ICNR init (starts as nearest + conv)",
    "blur": "BlurUpSampling2D (zero insertion + [1,3,3,1] binomial) + Conv2D 3x3",
}


def _dcgan_weights() -> initializers.Initializer:
    return initializers.RandomNormal(mean=0.0, stddev=0.02)


def _batch_norm(architecture: str) -> layers.BatchNormalization:
    if architecture == "dcgan":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                         gamma_initializer=initializers.RandomNormal(mean=1.0, stddev=0.02))
    # momentum 0.8 (not Keras's 0.99): moving statistics must keep up within a few hundred steps,
    # because the saved generator runs in inference mode.
    return layers.BatchNormalization(momentum=0.8)


def add_upsampler(model: Sequential, upsampler: str, filters: int, *, activation=None, use_bias: bool = True,
                  kernel_initializer="glorot_uniform") -> None:
    """The layer(s) that double height and width for `upsampler` (see UPSAMPLER_HELP), ending in a
    convolution with `filters` outputs, `activation`, `use_bias` and `kernel_initializer` (ICNR for
    'subpixel_icnr' regardless)."""
    conv = dict(activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer)
    if upsampler == "transpose":
        # 4x4 kernel, stride 2: the kernel size is a multiple of the stride (even overlap).
        model.add(layers.Conv2DTranspose(filters, (4, 4), strides=(2, 2), padding="same", **conv))
    elif upsampler == "transpose3":
        model.add(layers.Conv2DTranspose(filters, (3, 3), strides=(2, 2), padding="same", **conv))
    elif upsampler in ("subpixel", "subpixel_icnr"):
        if upsampler == "subpixel_icnr":
            conv["kernel_initializer"] = "icnr"
        model.add(layers.SubPixelConv2D(filters, (3, 3), scale=2, **conv))
    else:
        if upsampler == "blur":
            model.add(layers.BlurUpSampling2D())
        else:
            model.add(layers.UpSampling2D(interpolation=upsampler))
        model.add(layers.Conv2D(filters, (3, 3), padding="same", **conv))


def _check_choice(owner: str, name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{owner}: `{name}` must be one of {choices}. Received: {name}={value!r}")


def make_generator(latent_dim: int = 100, image_shape=(28, 28, 1), upsampler: str = "transpose",
                   filters: int = 64, batchnorm: bool = True, architecture: str = "dcgan") -> Sequential:
    """latent (N, latent_dim) -> images (N, H, W, C) in [-1, 1]; H and W must be multiples of 4.

    'dcgan': Dense -> Reshape to (H/4, W/4, 2*filters) -> upsampler(filters) -> upsampler(C, tanh),
    BatchNormalization + ReLU after the first two. 'tutorial': Dense -> Reshape -> two upsampling
    blocks (filters, filters/2; BatchNormalization + LeakyReLU(0.2)) -> Conv2D(C, 5x5, tanh).
    """
    _check_choice("make_generator", "upsampler", upsampler, UPSAMPLERS)
    _check_choice("make_generator", "architecture", architecture, ARCHITECTURES)
    h, w, c = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"make_generator: image height and width must be multiples of 4 (two 2x "
                         f"upsamplings). Received: image_shape={tuple(image_shape)}")
    base = (h // 4, w // 4)
    model = Sequential(name=f"generator_{upsampler}")
    model.add(layers.Input((latent_dim,)))
    if architecture == "tutorial":
        model.add(layers.Dense(2 * filters * base[0] * base[1]))
        if batchnorm:
            model.add(_batch_norm(architecture))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Reshape((base[0], base[1], 2 * filters)))
        for width in (filters, filters // 2):
            add_upsampler(model, upsampler, width)
            if batchnorm:
                model.add(_batch_norm(architecture))
            model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Conv2D(c, (5, 5), activation="tanh", padding="same"))
        return model
    # 'dcgan': a bias before BatchNormalization would be cancelled by its mean, so there is none.
    init = _dcgan_weights()
    model.add(layers.Dense(2 * filters * base[0] * base[1], use_bias=not batchnorm, kernel_initializer=init))
    if batchnorm:
        model.add(_batch_norm(architecture))
    model.add(layers.ReLU())
    model.add(layers.Reshape((base[0], base[1], 2 * filters)))
    add_upsampler(model, upsampler, filters, use_bias=not batchnorm, kernel_initializer=init)
    if batchnorm:
        model.add(_batch_norm(architecture))
    model.add(layers.ReLU())
    add_upsampler(model, upsampler, c, activation="tanh", kernel_initializer=init)
    return model


def make_discriminator(image_shape=(28, 28, 1), filters: int = 64, learning_rate: float = 0.0002,
                       dropout: float = 0.4, architecture: str = "dcgan") -> Sequential:
    """image -> probability of being real; compiled with Adam(lr, beta_1=0.5) and binary cross-entropy.

    'dcgan': Conv2D(filters, 4x4, s2) -> LeakyReLU -> Conv2D(2*filters, 4x4, s2) -> BatchNormalization ->
    LeakyReLU -> Dense(1, sigmoid) (`dropout` unused). 'tutorial': two Conv2D(filters, 3x3, s2) ->
    LeakyReLU -> Dropout(dropout) blocks -> Dense(1, sigmoid)."""
    _check_choice("make_discriminator", "architecture", architecture, ARCHITECTURES)
    model = Sequential(name="discriminator")
    model.add(layers.Input(tuple(image_shape)))
    if architecture == "tutorial":
        for _ in range(2):
            model.add(layers.Conv2D(filters, (3, 3), strides=(2, 2), padding="same"))
            model.add(layers.LeakyReLU(negative_slope=0.2))
            model.add(layers.Dropout(dropout))
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation="sigmoid"))
    else:
        init = _dcgan_weights()
        model.add(layers.Conv2D(filters, (4, 4), strides=(2, 2), padding="same", kernel_initializer=init))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Conv2D(2 * filters, (4, 4), strides=(2, 2), padding="same", use_bias=False,
                                kernel_initializer=init))
        model.add(_batch_norm(architecture))
        model.add(layers.LeakyReLU(negative_slope=0.2))
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation="sigmoid", kernel_initializer=init))
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=learning_rate, beta_1=0.5),
                  metrics=["accuracy"])
    return model


def make_gan(generator: Sequential, discriminator: Sequential, learning_rate: float = 0.0002) -> Sequential:
    """The composite: generator then a frozen discriminator, compiled to train the generator only."""
    discriminator.trainable = False
    model = Sequential([generator, discriminator], name="gan")
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=learning_rate, beta_1=0.5))
    return model

"""DCGAN recipes in the style of the tutorial's author: a generator that upsamples with
Conv2DTranspose ('transpose' 4x4, 'transpose3' 3x3), UpSampling2D + Conv2D ('nearest' / 'bilinear' /
'bicubic'), a sub-pixel convolution ('subpixel' with random init, 'subpixel_icnr' with ICNR) or
BlurUpSampling2D + Conv2D ('blur', StyleGAN2's filtered upsampling), a compiled discriminator, and
the composite model that trains the generator through a frozen discriminator.
"""
from __future__ import annotations

from upsampling import layers
from upsampling.models import Sequential
from upsampling.optimizers import Adam

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


def add_upsampler(model: Sequential, upsampler: str, filters: int) -> None:
    """The layer(s) that double height and width for `upsampler` (see UPSAMPLER_HELP)."""
    if upsampler == "transpose":
        # 4x4 kernel, stride 2: the kernel size is a multiple of the stride (even overlap).
        model.add(layers.Conv2DTranspose(filters, (4, 4), strides=(2, 2), padding="same"))
    elif upsampler == "transpose3":
        model.add(layers.Conv2DTranspose(filters, (3, 3), strides=(2, 2), padding="same"))
    elif upsampler in ("subpixel", "subpixel_icnr"):
        init = "icnr" if upsampler == "subpixel_icnr" else "glorot_uniform"
        model.add(layers.SubPixelConv2D(filters, (3, 3), scale=2, kernel_initializer=init))
    else:
        if upsampler == "blur":
            model.add(layers.BlurUpSampling2D())
        else:
            model.add(layers.UpSampling2D(interpolation=upsampler))
        model.add(layers.Conv2D(filters, (3, 3), padding="same"))


def _upsample_block(model: Sequential, upsampler: str, filters: int, batchnorm: bool = True) -> None:
    """Double height and width with `upsampler`, then BatchNorm and LeakyReLU."""
    add_upsampler(model, upsampler, filters)
    if batchnorm:
        model.add(layers.BatchNormalization(momentum=0.8))
    model.add(layers.LeakyReLU(negative_slope=0.2))


def make_generator(latent_dim: int = 100, image_shape=(28, 28, 1), upsampler: str = "transpose",
                   filters: int = 64, batchnorm: bool = True) -> Sequential:
    """latent (N, latent_dim) -> images (N, H, W, C) in [-1, 1]; H and W must be multiples of 4.

    Dense -> Reshape to (H/4, W/4, 2*filters) -> two upsampling blocks -> Conv2D(C, 5x5, tanh).
    """
    if upsampler not in UPSAMPLERS:
        raise ValueError(f"make_generator: `upsampler` must be one of {UPSAMPLERS}. Received: upsampler={upsampler!r}")
    h, w, c = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"make_generator: image height and width must be multiples of 4 (two 2x "
                         f"upsamplings). Received: image_shape={tuple(image_shape)}")
    base = (h // 4, w // 4)
    model = Sequential(name=f"generator_{upsampler}")
    model.add(layers.Input((latent_dim,)))
    model.add(layers.Dense(2 * filters * base[0] * base[1]))
    # momentum 0.8 (not Keras's 0.99): moving statistics must keep up within a few hundred steps,
    # because the saved generator runs in inference mode.
    if batchnorm:
        model.add(layers.BatchNormalization(momentum=0.8))
    model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Reshape((base[0], base[1], 2 * filters)))
    _upsample_block(model, upsampler, filters, batchnorm)
    _upsample_block(model, upsampler, filters // 2, batchnorm)
    model.add(layers.Conv2D(c, (5, 5), activation="tanh", padding="same"))
    return model


def make_discriminator(image_shape=(28, 28, 1), filters: int = 64, learning_rate: float = 0.0002,
                       dropout: float = 0.4) -> Sequential:
    """image -> probability of being real; compiled with Adam(lr, beta_1=0.5) and binary cross-entropy."""
    model = Sequential(name="discriminator")
    model.add(layers.Input(tuple(image_shape)))
    model.add(layers.Conv2D(filters, (3, 3), strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Dropout(dropout))
    model.add(layers.Conv2D(filters, (3, 3), strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU(negative_slope=0.2))
    model.add(layers.Dropout(dropout))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=learning_rate, beta_1=0.5),
                  metrics=["accuracy"])
    return model


def make_gan(generator: Sequential, discriminator: Sequential, learning_rate: float = 0.0002) -> Sequential:
    """The composite: generator then a frozen discriminator, compiled to train the generator only."""
    discriminator.trainable = False
    model = Sequential([generator, discriminator], name="gan")
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=learning_rate, beta_1=0.5))
    return model

"""`upsampling demo`: every example of the tutorial on UpSampling2D and Conv2DTranspose, run for real.

Each example prints its input, the model summary and the output, and writes a PNG that shows the
input and output grids with their values.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from upsampling import layers
from upsampling.layers.base import clear_session
from upsampling.models import Sequential
from upsampling.random import set_random_seed

SEED_INPUT = np.array([[1, 2], [3, 4]], dtype=np.float32)


def _grid(a) -> np.ndarray:
    return np.asarray(a).reshape(np.asarray(a).shape[1:3]) if np.ndim(a) == 4 else np.asarray(a)


def _examples():
    """(slug, title, explanation, build(), input batch, panels(x, y, model)) for each example."""
    x2 = SEED_INPUT.reshape(1, 2, 2, 1)

    def upsample(**kw):
        return lambda: Sequential([layers.UpSampling2D(input_shape=(2, 2, 1), **kw)])

    def transpose_1x1():
        model = Sequential([layers.Conv2DTranspose(1, (1, 1), strides=(2, 2), input_shape=(2, 2, 1))])
        model.set_weights([np.array([[[[1.0]]]]), np.array([0.0])])
        return model

    def transpose_3x3_valid():
        model = Sequential([layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), input_shape=(5, 5, 1))])
        model.set_weights([np.ones((3, 3, 1, 1)), np.zeros(1)])
        return model

    def transpose_2x2():
        model = Sequential([layers.Conv2DTranspose(1, (2, 2), strides=(2, 2), padding="valid", input_shape=(2, 2, 1))])
        model.set_weights([np.array([[0.5, -1.0], [2.0, 0.25]]).reshape(2, 2, 1, 1), np.zeros(1)])
        return model

    def generator(upsampler):
        def build():
            model = Sequential()
            model.add(layers.Dense(128 * 5 * 5, input_dim=100))
            model.add(layers.Reshape((5, 5, 128)))
            if upsampler == "upsample":
                model.add(layers.UpSampling2D())
                model.add(layers.Conv2D(1, (3, 3), padding="same"))
            else:
                model.add(layers.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="same"))
            return model
        return build

    latent = np.random.default_rng(0).standard_normal((1, 100)).astype(np.float32)
    x5 = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    plain = lambda x, y, m: [(f"input {x.shape[1]}x{x.shape[2]}", _grid(x)), (f"output {y.shape[1]}x{y.shape[2]}", _grid(y))]  # noqa: E731
    latent_panels = lambda x, y, m: [("latent point (100 values as 10x10)", x.reshape(10, 10)),  # noqa: E731
                                     ("generated 10x10 image", _grid(y))]

    def kernel_panels(x, y, m):
        kernel = m.layers[0].kernel.value[:, :, 0, 0]
        return [("input 2x2", _grid(x)), ("kernel 2x2", kernel), ("output 4x4", _grid(y))]

    return [
        ("01_upsampling2d", "UpSampling2D doubles rows and columns",
         "Each value is repeated into a 2x2 block: no weights, nothing learned.", upsample(), x2, plain),
        ("02_upsampling2d_size_2x3", "UpSampling2D with size=(2, 3)",
         "Rows are doubled and columns tripled: 2x2 -> 4x6.", upsample(size=(2, 3)), x2, plain),
        ("03_upsampling2d_bilinear", "UpSampling2D with interpolation='bilinear'",
         "New values are interpolated between neighbours (Keras 3 half-pixel numbers).",
         upsample(interpolation="bilinear"), x2, plain),
        ("04_generator_upsampling", "Generator: Dense -> Reshape -> UpSampling2D -> Conv2D",
         "A 100-element latent vector becomes 128 maps of 5x5, upsampled to 10x10 and read by a Conv2D.",
         generator("upsample"), latent, latent_panels),
        ("05_conv2dtranspose_1x1_stride2", "Conv2DTranspose: one 1x1 filter, stride 2, weight 1, bias 0",
         "The stride spaces the input out: zeros appear where no input pixel lands.", transpose_1x1, x2, plain),
        ("06_conv2dtranspose_3x3_valid", "Conv2DTranspose: 3x3 kernel of ones, stride 2, padding 'valid'",
         "5x5 -> 11x11 = (5-1)*2 + 3: overlapping kernel copies add up (the checkerboard's origin).",
         transpose_3x3_valid, x5, plain),
        ("07_generator_transpose", "Generator: Dense -> Reshape -> Conv2DTranspose (3x3, stride 2, 'same')",
         "padding='same' crops the 11x11 scatter to exactly 10x10.", generator("transpose"), latent, latent_panels),
        ("08_conv2dtranspose_2x2_tiles", "Reader's question: a 2x2 kernel with stride 2",
         "Each input value lays down a scaled copy of the kernel, tiled without overlap: "
         "[[a, b, 2a, 2b], [c, d, 2c, 2d], [3a, 3b, 4a, 4b], [3c, 3d, 4c, 4d]].", transpose_2x2, x2, kernel_panels),
    ]


def run_demo(out_dir="runs/demo", *, images: bool = True, print_fn=print) -> Path:
    """Run every example, print what it shows and write one PNG per example into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.set_printoptions(precision=4, suppress=True, linewidth=120)
    for slug, title, note, build, x, panels in _examples():
        clear_session()
        set_random_seed(1)
        model = build()
        print_fn(f"\n=== {title} ===")
        print_fn(note)
        if x.shape[-1] == 1 and x.ndim == 4:
            print_fn(f"input {x.shape[1]}x{x.shape[2]}:\n{_grid(x)}")
        else:
            print_fn(f"input: latent vector of {x.shape[1]} values")
        model.summary(print_fn=lambda text: print_fn(text.rstrip("\n")))
        y = model.predict(x, verbose=0)
        print_fn(f"output {y.shape[1]}x{y.shape[2]}:\n{_grid(y)}")
        if images:
            from upsampling.plots import value_grids
            path = value_grids(panels(x, y, model), out / f"{slug}.png", title=title)
            print_fn(f"picture: {path}")
    print_fn(f"\nAll pictures are in {out.resolve()}")
    return out

"""Shared checks for the Keras-style example scripts: load one here, or as Keras code with only its
imports swapped, and compare the two (summary text, losses of one train_on_batch)."""
from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    """The script `examples/<name>.py` as a module running on upsampling."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keras_source(name: str) -> str:
    """The script with only its imports changed to Keras (and Keras 3's `learning_rate=` for `lr=`)."""
    source = (EXAMPLES / f"{name}.py").read_text()
    source = re.sub(r"from upsampling\.(\w+(?:\.\w+)*) import", r"from keras.\1 import", source)
    return source.replace("Adam(lr=", "Adam(learning_rate=")


def keras_example(name: str) -> dict:
    """The Keras version of the script, executed: its functions by name."""
    namespace = {"__name__": f"keras_{name}"}
    exec(compile(keras_source(name), f"keras_{name}", "exec"), namespace)
    return namespace


def fresh_names():
    """Restart layer numbering in both frameworks, so the same script gives the same names."""
    import keras

    from upsampling.backend import clear_session
    clear_session()
    keras.backend.clear_session()


def build_both(ours, theirs, build):
    """`build(functions)` run on upsampling and on Keras with the same layer names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lr= and alpha= are Keras 2 spellings
        fresh_names()
        a = build(ours)
        fresh_names()
        b = build(theirs)
    return a, b


def summary_text(model) -> str:
    lines = []
    model.summary(print_fn=lambda s, line_break=None: lines.append(s))
    return "".join(lines).strip()


def without_dropout(*models):
    """Dropout rate 0 everywhere (its random masks differ between frameworks)."""
    for model in models:
        stack = list(model.layers)
        while stack:
            layer = stack.pop()
            stack.extend(getattr(layer, "layers", []))
            if type(layer).__name__ == "Dropout":
                layer.rate = 0.0


def assert_losses_equal(ours, theirs, tol=1e-5):
    ours, theirs = np.atleast_1d(np.asarray(ours, float)), np.atleast_1d(np.asarray(theirs, float))
    assert ours.shape == theirs.shape, (ours, theirs)
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


def script_functions(module) -> dict:
    """The script's model builders by name (the form `keras_example` returns)."""
    return {k: getattr(module, k) for k in ("define_discriminator", "define_generator", "define_gan")}


def build_labelled_gan(f, latent_dim=100):
    """(discriminator, generator, composite) of a class-conditional script (cGAN, AC-GAN)."""
    d_model = f["define_discriminator"]()
    g_model = f["define_generator"](latent_dim)
    return d_model, g_model, f["define_gan"](g_model, d_model)


def labelled_images(n=16, seed=0):
    """[images in [-1, 1] of shape (n, 28, 28, 1), class labels 0-9]: Fashion-MNIST's form."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n, 28, 28, 1)).astype("float32"), rng.integers(0, 10, n)]

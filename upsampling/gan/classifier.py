"""Small classifiers trained by this project on the same dataset, used as the feature networks of
the quality metrics (no downloaded Inception network needed).

There are two, and they differ in everything that can be chosen, so that one can check the other:

* ``selection`` - Conv(32, 3x3, s2) -> Conv(64, 3x3, s2) -> Dense(128) 'features' -> softmax, seed 0,
  no augmentation. The trainer scores its epochs with it (`TrainingScorer`).
* ``independent`` - Conv(16, 5x5) -> MaxPool -> Conv(32, 3x3) -> MaxPool -> Conv(64, 3x3, valid) ->
  global average pooling 'features' (64, as Inception's pool features) -> softmax, seed 1009, trained
  on images shifted by up to 2 pixels. It is never used to choose anything, so its scores are an
  unbiased second opinion on a generator that was chosen by the first.

Each is trained once per dataset and cached (default ~/.cache/upsampling/classifiers/).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from upsampling import layers
from upsampling import random as urandom
from upsampling.models import Model, load_model
from upsampling.optimizers import Adam

FEATURES = 128
EXTRACTORS = ("selection", "independent")


def cache_dir() -> Path:
    root = os.environ.get("UPSAMPLING_CACHE") or Path.home() / ".cache" / "upsampling"
    return Path(root) / "classifiers"


def make_classifier(image_shape, num_classes: int = 10) -> Model:
    """The selection extractor: Conv(32, s2) -> Conv(64, s2) -> Dense(128) 'features' -> Dense(classes, softmax)."""
    inp = layers.Input(tuple(image_shape))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inp)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    features = layers.Dense(FEATURES, activation="relu", name="features")(h)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(layers.Dropout(0.3)(features))
    model = Model(inp, out, name="quality_classifier")
    model.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def make_independent_classifier(image_shape, num_classes: int = 10) -> Model:
    """The independent extractor: full-resolution 5x5 convolutions with max pooling (the selection
    extractor strides instead), ELU, and globally pooled 64 features (not a dense layer)."""
    inp = layers.Input(tuple(image_shape))
    h = layers.Conv2D(16, 5, padding="same", activation="elu")(inp)
    h = layers.MaxPooling2D(2, padding="same")(h)
    h = layers.Conv2D(32, 3, padding="same", activation="elu")(h)
    h = layers.MaxPooling2D(2, padding="same")(h)
    h = layers.Conv2D(64, 3, padding="same" if min(image_shape[:2]) < 12 else "valid", activation="elu")(h)
    features = layers.GlobalAveragePooling2D(name="features")(h)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(features)
    model = Model(inp, out, name="independent_classifier")
    model.compile(optimizer=Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def shift_images(images: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Each image (N, H, W, C) moved by its own random whole-pixel offset in [-max_shift, max_shift]
    on both axes; the uncovered border repeats the edge pixels (the background)."""
    n, h, w = images.shape[:3]
    m = int(max_shift)
    padded = np.pad(images, ((0, 0), (m, m), (m, m), (0, 0)), mode="edge")  # (N, H+2m, W+2m, C)
    dy, dx = rng.integers(0, 2 * m + 1, size=(2, n))
    out = np.empty_like(images)
    for oy in range(2 * m + 1):
        for ox in range(2 * m + 1):
            pick = np.flatnonzero((dy == oy) & (dx == ox))
            out[pick] = padded[pick, oy:oy + h, ox:ox + w]
    return out


def train_classifier(x, y, *, epochs: int = 4, seed: int = 0, verbose: int = 0, kind: str = "selection") -> Model:
    """Train the `kind` extractor on (x, y); the independent one sees freshly shifted images each epoch."""
    _check_kind(kind)
    if kind == "selection":
        urandom.set_random_seed(seed)
        model = make_classifier(x.shape[1:], int(y.max()) + 1)
        model.fit(x, y, batch_size=64, epochs=epochs, verbose=verbose)
        return model
    urandom.set_random_seed(seed)
    model = make_independent_classifier(x.shape[1:], int(y.max()) + 1)
    shifts = np.random.default_rng(seed)
    for _ in range(epochs):
        model.fit(shift_images(x, shifts), y, batch_size=32, epochs=1, verbose=verbose)
    return model


# kind -> (cache file suffix, training seed, epochs); a new suffix when the recipe changes invalidates old caches
_RECIPES = {"selection": ("", 0, 4), "independent": ("-independent-v1", 1009, 6)}


def _check_kind(kind) -> None:
    if kind not in EXTRACTORS:
        raise ValueError(f"classifier: `kind` must be one of {', '.join(EXTRACTORS)}. Received: {kind!r}")


def get_classifier(dataset: str = "mnist5k", *, verbose: int = 1, directory=None, kind: str = "selection") -> Model:
    """The cached `kind` extractor for `dataset`, training (under a minute) and caching it first if needed."""
    from upsampling.data import load_data
    _check_kind(kind)
    suffix, seed, epochs = _RECIPES[kind]
    path = Path(directory or cache_dir()) / f"{dataset}{suffix}.model"
    if path.exists():
        return load_model(path)
    if verbose:
        print(f"Training the {kind} quality classifier for {dataset} (once; cached at {path}) ...", flush=True)
    x, y = load_data(dataset, split="train", scale="tanh")
    model = train_classifier(x, y, verbose=0, kind=kind, seed=seed, epochs=epochs)
    model.save(path)
    if verbose:
        xt, yt = load_data(dataset, split="test", scale="tanh")
        acc = float((model.predict(xt, verbose=0).argmax(-1) == yt).mean())
        print(f"  held-out accuracy {acc:.3f}", flush=True)
    return model


def features_and_probabilities(classifier: Model, images: np.ndarray, batch_size: int = 256):
    """(features (N, D), class probabilities (N, K)) of `images` in the classifier's scale."""
    feature_model = Model(classifier.inputs[0], [_features_tensor(classifier), classifier.outputs[0]])
    feats, probs = feature_model.predict(images, batch_size=batch_size, verbose=0)
    return feats.astype(np.float64), probs


def _features_tensor(classifier: Model):
    for t in classifier._nodes:
        if t.node.layer.name == "features":
            return t
    raise ValueError("the classifier has no layer named 'features'")

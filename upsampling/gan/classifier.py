"""A small classifier trained by this project on the same dataset, used as the feature network
of the quality metrics (no downloaded Inception network needed).

It is trained once per dataset and cached (default ~/.cache/upsampling/classifiers/).
Features are the 128 activations of its penultimate Dense layer.
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


def cache_dir() -> Path:
    root = os.environ.get("UPSAMPLING_CACHE") or Path.home() / ".cache" / "upsampling"
    return Path(root) / "classifiers"


def make_classifier(image_shape, num_classes: int = 10) -> Model:
    """Conv(32, s2) -> Conv(64, s2) -> Dense(128) 'features' -> Dense(classes, softmax)."""
    inp = layers.Input(tuple(image_shape))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inp)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    features = layers.Dense(FEATURES, activation="relu", name="features")(h)
    out = layers.Dense(num_classes, activation="softmax", name="probabilities")(layers.Dropout(0.3)(features))
    model = Model(inp, out, name="quality_classifier")
    model.compile(optimizer=Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_classifier(x, y, *, epochs: int = 4, seed: int = 0, verbose: int = 0) -> Model:
    urandom.set_random_seed(seed)
    model = make_classifier(x.shape[1:], int(y.max()) + 1)
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=verbose)
    return model


def get_classifier(dataset: str = "mnist5k", *, verbose: int = 1, directory=None) -> Model:
    """The cached classifier for `dataset`, training (about half a minute) and caching it first if needed."""
    from upsampling.data import load_data
    path = Path(directory or cache_dir()) / f"{dataset}.model"
    if path.exists():
        return load_model(path)
    if verbose:
        print(f"Training the quality classifier for {dataset} (once; cached at {path}) ...", flush=True)
    x, y = load_data(dataset, split="train", scale="tanh")
    model = train_classifier(x, y, verbose=0)
    model.save(path)
    if verbose:
        xt, yt = load_data(dataset, split="test", scale="tanh")
        acc = float((model.predict(xt, verbose=0).argmax(-1) == yt).mean())
        print(f"  held-out accuracy {acc:.3f}", flush=True)
    return model


def features_and_probabilities(classifier: Model, images: np.ndarray, batch_size: int = 256):
    """(features (N, 128), class probabilities (N, K)) of `images` in the classifier's scale."""
    feature_model = Model(classifier.inputs[0], [_features_tensor(classifier), classifier.outputs[0]])
    feats, probs = feature_model.predict(images, batch_size=batch_size, verbose=0)
    return feats.astype(np.float64), probs


def _features_tensor(classifier: Model):
    for t in classifier._nodes:
        if t.node.layer.name == "features":
            return t
    raise ValueError("the classifier has no layer named 'features'")

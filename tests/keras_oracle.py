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


def compare_layer_and_gradients(ours_cls, keras_cls, kwargs: dict, x: np.ndarray, *, training=False,
                                weights=None, atol=1e-5, rtol=1e-5, seed=0):
    """Forward and backward against Keras (torch backend) with the same non-zero weights.

    Both layers get `weights` (default: standard normal draws of Keras's weight shapes); the
    backward pass is the VJP with a random cotangent r: d<y, r>/dx and d<y, r>/dw for every
    trainable weight, from torch's autograd on Keras's side. Integer `x` (Embedding) gets no dx check.
    Returns (y_ours, y_keras).
    """
    import torch

    from upsampling.autograd import Gradients
    from upsampling.models import Sequential
    k = keras()
    rng = np.random.default_rng(seed)
    integer = np.issubdtype(x.dtype, np.integer)
    klayer = keras_cls(**kwargs)
    kmodel = k.Sequential([k.Input(x.shape[1:], dtype="int32" if integer else "float32"), klayer])
    if weights is None:
        weights = [rng.standard_normal(w.shape).astype(np.float32) for w in kmodel.get_weights()]
    kmodel.set_weights(weights)
    xt = torch.tensor(x, requires_grad=not integer)
    yt = kmodel(xt, training=training)
    r = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (yt * torch.tensor(r)).sum().backward()
    y_keras = yt.detach().numpy()

    layer = ours_cls(**kwargs)
    model = Sequential([layer])
    model.build((None,) + x.shape[1:])
    model.set_weights(weights)
    y, backward = layer.forward(x, training)
    grads = Gradients()
    dx = backward(r, grads)
    assert y.shape == y_keras.shape, (y.shape, y_keras.shape)
    assert tuple(model.output_shape) == tuple(kmodel.output_shape)
    np.testing.assert_allclose(y, y_keras, atol=atol, rtol=rtol, err_msg="output")
    if not integer:
        np.testing.assert_allclose(dx, xt.grad.numpy(), atol=atol, rtol=rtol, err_msg="input gradient")
    kvars = {v.path.split("/")[-1]: v for v in klayer.trainable_weights}
    assert sorted(kvars) == sorted(v.name for v in layer.trainable_weights)
    for var in layer.trainable_weights:
        kgrad = kvars[var.name].value.grad
        np.testing.assert_allclose(grads.get(var), kgrad.numpy(), atol=atol, rtol=rtol, err_msg=var.name)
    return y, y_keras

"""Activation functions with Keras 3 names and numbers, each a forward/backward pair.

`forward(x, **settings) -> y`; `backward(dy, x, y, **settings) -> dx` (given both x and y so each
derivative uses whichever is cheaper). Computation stays in the input's dtype.
"""
from __future__ import annotations

import math

import numpy as np

from upsampling.ops.parallel import blockwise

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _erf(x: np.ndarray) -> np.ndarray:
    # Vectorised erf through math.erf keeps full precision without SciPy.
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    # x above the threshold passes; at the threshold itself Keras gives 0 (the negative side)
    y = np.where(x > threshold, x, negative_slope * (x - threshold)) if (
        negative_slope or threshold) else np.maximum(x, 0)
    if max_value is not None:
        y = np.minimum(y, max_value)
    return y.astype(x.dtype, copy=False)


def relu_backward(dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
    slope = np.where(x > threshold, 1.0, negative_slope) if (negative_slope or threshold) else (x > 0)
    if max_value is not None:
        slope = slope * (x < max_value)
    return (dy * slope).astype(dy.dtype, copy=False)


def leaky_relu(x, negative_slope=0.2):
    slope = np.asarray(negative_slope, x.dtype)
    if not 0 <= negative_slope <= 1:
        return np.where(x >= 0, x, x * slope)
    # max(x, slope * x), in cache-sized blocks over the threads (two passes in cache, not memory)
    y = np.empty_like(x, order="C")
    xf, yf = _flat(x), y.reshape(-1)

    def block(lo, hi):
        out = yf[lo:hi]
        np.multiply(xf[lo:hi], slope, out=out)
        np.maximum(xf[lo:hi], out, out=out)

    blockwise(block, yf.size)
    return y


def leaky_relu_backward(dy, x, y, negative_slope=0.2):
    # dx = dy where x > 0, slope * dy elsewhere (slope at 0 itself, as TF, PyTorch and Keras): exact,
    # blocked like the forward pass
    slope = np.asarray(negative_slope, dy.dtype)
    dx = np.empty(np.broadcast_shapes(dy.shape, x.shape), dtype=dy.dtype)
    if dx.shape != dy.shape or dx.shape != x.shape:
        return np.where(x > 0, dy, dy * slope).astype(dy.dtype, copy=False)
    df, xf, of = _flat(dy), _flat(x), dx.reshape(-1)

    def block(lo, hi):
        out = of[lo:hi]
        np.multiply(df[lo:hi], slope, out=out)
        np.copyto(out, df[lo:hi], where=xf[lo:hi] > 0)

    blockwise(block, of.size)
    return dx


def _flat(a: np.ndarray) -> np.ndarray:
    """A 1-D C-order view of `a` (a copy only if `a` is not C-contiguous)."""
    return np.ascontiguousarray(a).reshape(-1)


def linear(x):
    return x


def linear_backward(dy, x, y):
    return dy


def sigmoid(x):
    # Stable for both signs: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dy, x, y):
    return dy * y * (1 - y)


def tanh(x):
    return np.tanh(x)


def tanh_backward(dy, x, y):
    return dy * (1 - y * y)


def softmax(x, axis=-1):
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


def softmax_backward(dy, x, y, axis=-1):
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_backward(dy, x, y, alpha=1.0):
    return np.where(x > 0, dy, dy * alpha * np.exp(np.minimum(x, 0))).astype(dy.dtype, copy=False)


def selu(x):
    return (SELU_SCALE * elu(x, SELU_ALPHA)).astype(x.dtype, copy=False)


def selu_backward(dy, x, y):
    return (SELU_SCALE * elu_backward(dy, x, None, SELU_ALPHA)).astype(dy.dtype, copy=False)


def gelu(x, approximate=False):
    if approximate:
        c = math.sqrt(2 / math.pi)
        return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype, copy=False)
    return (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)


def gelu_backward(dy, x, y, approximate=False):
    if approximate:
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
    else:
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        d = 0.5 * (1 + _erf(x / math.sqrt(2))) + x * pdf
    return (dy * d).astype(dy.dtype, copy=False)


def swish(x):
    return x * sigmoid(x)


def swish_backward(dy, x, y):
    s = sigmoid(x)
    return dy * (s + x * s * (1 - s))


def softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


def softplus_backward(dy, x, y):
    return dy * sigmoid(x)


def softsign(x):
    return x / (1 + np.abs(x))


def softsign_backward(dy, x, y):
    return dy / (1 + np.abs(x)) ** 2


def relu6(x):
    return np.clip(x, 0, 6).astype(x.dtype, copy=False)


def relu6_backward(dy, x, y):
    return dy * ((x > 0) & (x < 6))


def hard_sigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)


def hard_sigmoid_backward(dy, x, y):
    return dy * ((x > -3) & (x < 3)) / np.asarray(6, dy.dtype)


def exponential(x):
    return np.exp(x)


def exponential_backward(dy, x, y):
    return dy * y


# name -> (forward, backward); Keras aliases included
ACTIVATIONS = {
    "linear": (linear, linear_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "softmax": (softmax, softmax_backward),
    "elu": (elu, elu_backward),
    "selu": (selu, selu_backward),
    "gelu": (gelu, gelu_backward),
    "swish": (swish, swish_backward),
    "silu": (swish, swish_backward),
    "softplus": (softplus, softplus_backward),
    "softsign": (softsign, softsign_backward),
    "relu6": (relu6, relu6_backward),
    "hard_sigmoid": (hard_sigmoid, hard_sigmoid_backward),
    "exponential": (exponential, exponential_backward),
}

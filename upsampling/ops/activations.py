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
    # dx = dy where x > 0, slope * dy elsewhere (slope at 0 itself, as TF, PyTorch and Keras), blocked
    # like the forward pass. The factor is max(x > 0, slope), exactly 1 or the slope for 0 <= slope <= 1:
    # three branch-free passes in cache, about ten times faster than a masked copy (random signs
    # defeat the branch predictor there).
    slope = np.asarray(negative_slope, dy.dtype)
    dx = np.empty(np.broadcast_shapes(dy.shape, x.shape), dtype=dy.dtype)
    if dx.shape != dy.shape or dx.shape != x.shape or not 0 <= negative_slope <= 1:
        return np.where(x > 0, dy, dy * slope).astype(dy.dtype, copy=False)
    df, xf, of = _flat(dy), _flat(x), dx.reshape(-1)

    def block(lo, hi):
        out = of[lo:hi]
        np.greater(xf[lo:hi], 0, out=out, casting="unsafe")  # 1.0 or 0.0
        np.maximum(out, slope, out=out)
        out *= df[lo:hi]

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


def celu(x, alpha=1.0):
    """x above 0, alpha * (exp(x / alpha) - 1) at or below it (ELU with the input scaled by 1/alpha)."""
    neg = alpha * np.expm1(np.minimum(x, 0) / alpha)
    return np.where(x > 0, x, neg).astype(x.dtype, copy=False)


def celu_backward(dy, x, y, alpha=1.0):
    # both pieces have slope 1 at 0, so the kink has a single derivative
    return np.where(x > 0, dy, dy * np.exp(np.minimum(x, 0) / alpha)).astype(dy.dtype, copy=False)


def _halves(x, axis):
    """The two halves (a, b) of `x` along `axis`; ValueError for an odd length."""
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the activation axis ({axis}) must have an even length, as it is split in "
                         f"two halves. Received an input of shape {x.shape}")
    return np.split(x, 2, axis=axis)


def glu(x, axis=-1):
    """Gated linear unit: a * sigmoid(b) for the halves a, b of `x` along `axis` (that axis halves)."""
    a, b = _halves(x, axis)
    return (a * sigmoid(b)).astype(x.dtype, copy=False)


def glu_backward(dy, x, y, axis=-1):
    a, b = _halves(x, axis)
    s = sigmoid(b)
    da, db = dy * s, dy * a * s * (1 - s)
    return np.concatenate([da, db], axis=axis).astype(dy.dtype, copy=False)


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, 0 elsewhere (the threshold itself included)."""
    return np.where(np.abs(x) > threshold, x, 0).astype(x.dtype, copy=False)


def hard_shrink_backward(dy, x, y, threshold=0.5):
    # at +-threshold the derivative is 0, as in PyTorch
    return (dy * (np.abs(x) > threshold)).astype(dy.dtype, copy=False)


def soft_shrink(x, threshold=0.5):
    """x moved toward 0 by `threshold`, and 0 within [-threshold, threshold]."""
    return (np.sign(x) * np.maximum(np.abs(x) - threshold, 0)).astype(x.dtype, copy=False)


def soft_shrink_backward(dy, x, y, threshold=0.5):
    return hard_shrink_backward(dy, x, y, threshold)


def tanh_shrink(x):
    return (x - np.tanh(x)).astype(x.dtype, copy=False)


def tanh_shrink_backward(dy, x, y):
    t = np.tanh(x)
    return dy * t * t


def hard_silu(x):
    """x * hard_sigmoid(x): 0 below -3, x above 3, x (x + 3) / 6 between."""
    return (x * hard_sigmoid(x)).astype(x.dtype, copy=False)


def hard_silu_backward(dy, x, y):
    # PyTorch's choice at the kinks: 0 at -3 (the left piece), 1 at 3 (the right piece)
    d = np.where(x <= -3, 0, np.where(x >= 3, 1, x / 3 + 0.5))
    return (dy * d).astype(dy.dtype, copy=False)


def hard_tanh(x):
    return np.clip(x, -1, 1).astype(x.dtype, copy=False)


def hard_tanh_backward(dy, x, y):
    return (dy * ((x > -1) & (x < 1))).astype(dy.dtype, copy=False)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), finite for every x."""
    return (-softplus(-x)).astype(x.dtype, copy=False)


def log_sigmoid_backward(dy, x, y):
    return dy * sigmoid(-x)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`, shifted by the maximum so that exp never overflows."""
    z = x - x.max(axis=axis, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=axis, keepdims=True))).astype(x.dtype, copy=False)


def log_softmax_backward(dy, x, y, axis=-1):
    return (dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)).astype(dy.dtype, copy=False)


def mish(x):
    """x * tanh(softplus(x))."""
    return (x * np.tanh(softplus(x))).astype(x.dtype, copy=False)


def mish_backward(dy, x, y):
    t = np.tanh(softplus(x))
    return (dy * (t + x * (1 - t * t) * sigmoid(x))).astype(dy.dtype, copy=False)


def sparse_plus(x):
    """0 up to -1, (x + 1)^2 / 4 on (-1, 1), x from 1 on: a softplus with a compact bend."""
    return np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)).astype(x.dtype, copy=False)


def sparse_plus_backward(dy, x, y):
    d = np.where(x <= -1, 0, np.where(x < 1, (x + 1) / 2, 1))
    return (dy * d).astype(dy.dtype, copy=False)


def sparse_sigmoid(x):
    """(x + 1) / 2 clipped to [0, 1]."""
    return np.clip((x + 1) / 2, 0, 1).astype(x.dtype, copy=False)


def sparse_sigmoid_backward(dy, x, y):
    # 0 at -1 and 1 themselves, as Keras (whose pieces there are the constants)
    return (dy * ((x > -1) & (x < 1)) / np.asarray(2, dy.dtype)).astype(dy.dtype, copy=False)


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2; for x < 0 as b / (2 (sqrt(x^2 + b) - x)), which does not cancel."""
    root = np.sqrt(x * x + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = b / (2 * (root - x))
    return np.where(x < 0, left, (x + root) / 2).astype(x.dtype, copy=False)


def squareplus_backward(dy, x, y, b=4):
    return (dy * (1 + x / np.sqrt(x * x + b)) / 2).astype(dy.dtype, copy=False)


def sparsemax(x, axis=-1):
    """Euclidean projection onto the probability simplex along `axis` (Martins & Astudillo, 2016):
    max(x - tau, 0) with tau chosen so that each slice sums to 1; many outputs are exactly 0."""
    z = np.moveaxis(x, axis, -1)  # (..., n): the slices along `axis` last
    top = -np.sort(-z, axis=-1)  # each slice in decreasing order
    cums = np.cumsum(top, axis=-1)
    k = np.arange(1, z.shape[-1] + 1, dtype=x.dtype)
    size = (1 + k * top > cums).sum(axis=-1, keepdims=True)  # the support: the k largest entries
    tau = (np.take_along_axis(cums, size - 1, axis=-1) - 1) / size.astype(x.dtype)
    return np.moveaxis(np.maximum(z - tau, 0), -1, axis).astype(x.dtype, copy=False)


def sparsemax_backward(dy, x, y, axis=-1):
    # on the support S (y > 0): dy minus its mean over S; 0 off it (and at a tie x == tau)
    support = (y > 0).astype(dy.dtype)
    mean = (dy * support).sum(axis=axis, keepdims=True) / support.sum(axis=axis, keepdims=True)
    return (support * (dy - mean)).astype(dy.dtype, copy=False)


def threshold(x, threshold, default_value):
    """x where x > threshold, else `default_value` (no defaults: Keras requires both)."""
    return np.where(x > threshold, x, default_value).astype(x.dtype, copy=False)


def threshold_backward(dy, x, y, threshold, default_value):
    return (dy * (x > threshold)).astype(dy.dtype, copy=False)


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
    "celu": (celu, celu_backward),
    "glu": (glu, glu_backward),
    "hard_shrink": (hard_shrink, hard_shrink_backward),
    "soft_shrink": (soft_shrink, soft_shrink_backward),
    "tanh_shrink": (tanh_shrink, tanh_shrink_backward),
    "hard_silu": (hard_silu, hard_silu_backward),
    "hard_swish": (hard_silu, hard_silu_backward),
    "hard_tanh": (hard_tanh, hard_tanh_backward),
    "log_sigmoid": (log_sigmoid, log_sigmoid_backward),
    "log_softmax": (log_softmax, log_softmax_backward),
    "mish": (mish, mish_backward),
    "sparse_plus": (sparse_plus, sparse_plus_backward),
    "sparse_sigmoid": (sparse_sigmoid, sparse_sigmoid_backward),
    "sparsemax": (sparsemax, sparsemax_backward),
    "squareplus": (squareplus, squareplus_backward),
}

# Activations whose settings have no defaults in Keras: functions only, never an `activation=` name
NEEDS_ARGUMENTS = {
    "threshold": (threshold, threshold_backward),
}

# Activations that act along an axis (the others act on each element alone); glu halves that axis
ALONG_AN_AXIS = ("softmax", "log_softmax", "sparsemax", "glu")

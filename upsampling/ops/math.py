"""Elementwise, reduction and shape kernels, each a forward/backward pair.

These are the pieces user code is written with (`upsampling.ops`, `upsampling.backend`: custom
losses, `Lambda` layers, `Layer` subclasses) and the merging layers' arithmetic. Every forward
``f(*arrays, **settings) -> y`` has a gradient ``f_grad(dy, *arrays, y, **settings) -> tuple``
with one entry per array argument, already summed back onto that argument's shape (NumPy
broadcasting undone). Ties of `maximum`/`minimum`/`max`/`min` share the gradient evenly, as
PyTorch (Keras's torch backend) does.
"""
from __future__ import annotations

import numpy as np


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` over the axes NumPy broadcasting added or stretched, to get back `shape`."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# ------------------------------------------------------------------ binary, broadcasting
def _binary(fwd, da, db):
    """A broadcasting binary op from its two partial derivatives ``d(a, b, y) -> dy/da``."""

    def grad(dy, a, b, y):
        return (unbroadcast(dy * da(a, b, y), np.shape(a)), unbroadcast(dy * db(a, b, y), np.shape(b)))

    return fwd, grad


def _tie_share(a, b, pick):
    """1 where `pick` chose `a`, 0.5 at ties, 0 elsewhere (dy/da of maximum/minimum)."""
    return np.where(a == b, 0.5, pick(a, b).astype(np.result_type(a, b, np.float32)))


add, add_grad = _binary(np.add, lambda a, b, y: 1.0, lambda a, b, y: 1.0)
subtract, subtract_grad = _binary(np.subtract, lambda a, b, y: 1.0, lambda a, b, y: -1.0)
multiply, multiply_grad = _binary(np.multiply, lambda a, b, y: b, lambda a, b, y: a)
divide, divide_grad = _binary(np.divide, lambda a, b, y: 1.0 / b, lambda a, b, y: -y / b)
maximum, maximum_grad = _binary(np.maximum, lambda a, b, y: _tie_share(a, b, np.greater),
                                lambda a, b, y: _tie_share(b, a, np.greater))
minimum, minimum_grad = _binary(np.minimum, lambda a, b, y: _tie_share(a, b, np.less),
                                lambda a, b, y: _tie_share(b, a, np.less))


def _power_db(a, b, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, y * np.log(np.where(a > 0, a, 1)), 0.0)


power, power_grad = _binary(np.power, lambda a, b, y: b * np.power(a, b - 1), _power_db)


# ------------------------------------------------------------------ unary
def _unary(fwd, d):
    """An elementwise op from its derivative ``d(x, y) -> dy/dx``."""

    def grad(dy, x, y):
        return (dy * d(x, y),)

    return fwd, grad


def _sigmoid(x):
    x = np.asarray(x)
    return np.exp(-np.logaddexp(0, -x)).astype(np.result_type(x, np.float32), copy=False)


def _softplus(x):
    return np.logaddexp(0, x).astype(np.result_type(x, np.float32), copy=False)


negative, negative_grad = _unary(np.negative, lambda x, y: -1.0)
absolute, absolute_grad = _unary(np.abs, lambda x, y: np.sign(x))
square, square_grad = _unary(np.square, lambda x, y: 2 * x)
sqrt, sqrt_grad = _unary(np.sqrt, lambda x, y: 0.5 / y)
exp, exp_grad = _unary(np.exp, lambda x, y: y)
log, log_grad = _unary(np.log, lambda x, y: 1.0 / x)
log1p, log1p_grad = _unary(np.log1p, lambda x, y: 1.0 / (1 + x))
expm1, expm1_grad = _unary(np.expm1, lambda x, y: y + 1)
tanh, tanh_grad = _unary(np.tanh, lambda x, y: 1 - y * y)
sin, sin_grad = _unary(np.sin, lambda x, y: np.cos(x))
cos, cos_grad = _unary(np.cos, lambda x, y: -np.sin(x))
sigmoid, sigmoid_grad = _unary(_sigmoid, lambda x, y: y * (1 - y))
softplus, softplus_grad = _unary(_softplus, lambda x, y: _sigmoid(x))
relu, relu_grad = _unary(lambda x: np.maximum(x, 0), lambda x, y: (x > 0).astype(y.dtype))


def clip(x, *, lo, hi):
    """`x` limited to [lo, hi]; the gradient passes where lo <= x <= hi (as torch.clamp)."""
    return np.clip(x, lo, hi)


def clip_grad(dy, x, y, *, lo, hi):
    return (dy * ((x >= lo) & (x <= hi)),)


def cast(x, *, dtype):
    return np.asarray(x).astype(dtype)


def cast_grad(dy, x, y, *, dtype):
    return (np.asarray(dy).astype(np.asarray(x).dtype) if np.issubdtype(np.asarray(x).dtype, np.floating)
            else None,)


def identity(x):
    return np.array(x, copy=True)


def identity_grad(dy, x, y):
    return (dy,)


# ------------------------------------------------------------------ reductions
def _expand_reduced(g, x_shape, axis, keepdims):
    """`g` of a reduction's output shape, given back the reduced axes (size 1) of `x_shape`."""
    if axis is None:
        return np.reshape(g, (1,) * len(x_shape))
    if not keepdims:
        axes = (axis,) if np.isscalar(axis) else tuple(axis)
        axes = sorted(a % len(x_shape) for a in axes)
        g = np.expand_dims(g, tuple(axes))
    return g


def sum(x, *, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return np.sum(x, axis=axis, keepdims=keepdims)


def sum_grad(dy, x, y, *, axis=None, keepdims=False):
    return (np.broadcast_to(_expand_reduced(dy, np.shape(x), axis, keepdims), np.shape(x)),)


def mean(x, *, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def mean_grad(dy, x, y, *, axis=None, keepdims=False):
    count = np.size(x) // max(np.size(y), 1) if np.size(x) else 1
    return (np.broadcast_to(_expand_reduced(dy, np.shape(x), axis, keepdims), np.shape(x)) / count,)


def amax(x, *, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


def amin(x, *, axis=None, keepdims=False):
    return np.min(x, axis=axis, keepdims=keepdims)


def _extreme_grad(dy, x, y, *, axis=None, keepdims=False):
    y_full = _expand_reduced(y, np.shape(x), axis, keepdims)
    hits = (x == y_full).astype(np.result_type(x, np.float32))
    hits /= np.sum(hits, axis=axis, keepdims=True)  # ties share evenly
    return (hits * _expand_reduced(dy, np.shape(x), axis, keepdims),)


amax_grad = amin_grad = _extreme_grad


# ------------------------------------------------------------------ shapes
def reshape(x, *, shape):
    return np.reshape(x, shape)


def reshape_grad(dy, x, y, *, shape):
    return (np.reshape(dy, np.shape(x)),)


def transpose(x, *, axes=None):
    return np.transpose(x, axes)


def transpose_grad(dy, x, y, *, axes=None):
    return (np.transpose(dy, None if axes is None else np.argsort(axes)),)


def expand_dims(x, *, axis):
    return np.expand_dims(x, axis)


def squeeze(x, *, axis=None):
    return np.squeeze(x, axis)


def broadcast_to(x, *, shape):
    return np.broadcast_to(x, shape)


def broadcast_to_grad(dy, x, y, *, shape):
    return (unbroadcast(dy, np.shape(x)),)


def _back_to_shape(dy, x, y, **_):
    return (np.reshape(dy, np.shape(x)),)


expand_dims_grad = squeeze_grad = _back_to_shape


def take(x, *, index):
    """``x[index]`` (basic or advanced indexing)."""
    return np.asarray(x)[index]


def take_grad(dy, x, y, *, index):
    g = np.zeros(np.shape(x), dtype=np.result_type(dy, np.float32))
    np.add.at(g, index, dy)  # repeated indices add up
    return (g,)


def concatenate(*xs, axis=-1):
    return np.concatenate(xs, axis=axis)


def concatenate_grad(dy, *xs_and_y, axis=-1):
    xs = xs_and_y[:-1]
    bounds = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return tuple(np.split(dy, bounds, axis=axis))


def stack(*xs, axis=0):
    return np.stack(xs, axis=axis)


def stack_grad(dy, *xs_and_y, axis=0):
    n = len(xs_and_y) - 1
    return tuple(np.take(dy, i, axis=axis) for i in range(n))


def matmul(a, b):
    return np.matmul(a, b)


def matmul_grad(dy, a, b, y):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1 and b.ndim == 1:
        return dy * b, dy * a
    a2 = a[None, :] if a.ndim == 1 else a   # (.., n, k)
    b2 = b[:, None] if b.ndim == 1 else b   # (.., k, m)
    dy2 = np.reshape(dy, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    da = unbroadcast(np.matmul(dy2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
    db = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), dy2), b2.shape).reshape(b.shape)
    return da, db


def where(condition, x, y):
    return np.where(condition, x, y)


def where_grad(dy, condition, x, y, out):
    c = np.asarray(condition, dtype=bool)
    return (None, unbroadcast(np.where(c, dy, 0), np.shape(x)), unbroadcast(np.where(c, 0, dy), np.shape(y)))

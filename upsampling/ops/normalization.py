"""Batch normalization over all axes but the feature axis, with its backward pass."""
from __future__ import annotations

import numpy as np


def batch_norm_train(x, gamma, beta, *, axis: int, epsilon: float):
    """Normalise with the batch's mean and biased variance (Keras training mode).

    Returns (y, mean, var, cache); mean/var have the feature axis' length.
    """
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    xhat, mean, var, std_cache = standardize(x, axes=axes, epsilon=epsilon)
    y = xhat * (1 if gamma is None else _bcast(gamma, x, axis))
    if beta is not None:
        y = y + _bcast(beta, x, axis)
    return y, mean.reshape(-1), var.reshape(-1), (xhat, axes, axis, gamma, std_cache)


def batch_norm_train_backward(dy, cache):
    """(dx, dgamma, dbeta) of `batch_norm_train` (dgamma/dbeta None when absent)."""
    xhat, axes, axis, gamma, std_cache = cache
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    dxhat = dy if gamma is None else dy * _bcast(gamma, dy, axis)
    return standardize_backward(dxhat, std_cache), dgamma, dbeta


def batch_norm_infer(x, gamma, beta, mean, var, *, axis: int, epsilon: float):
    """Normalise with fixed (moving) statistics.

    Returns (y, scale, xhat): dy/dx = scale, and xhat = (x - mean) / sqrt(var + eps) for dgamma.
    """
    inv = 1 / np.sqrt(_bcast(var, x, axis) + np.asarray(epsilon, x.dtype))
    xhat = (x - _bcast(mean, x, axis)) * inv
    scale = inv if gamma is None else inv * _bcast(gamma, x, axis)
    y = xhat if gamma is None else xhat * _bcast(gamma, x, axis)
    if beta is not None:
        y = y + _bcast(beta, x, axis)
    return y, scale, xhat


def _bcast(v, x, axis):
    """Reshape a per-feature vector to broadcast against x along `axis`."""
    shape = [1] * x.ndim
    shape[axis % x.ndim] = -1
    return v.reshape(shape)


def standardize(x, *, axes: tuple, epsilon: float):
    """(x - mean) / sqrt(var + eps), mean and biased variance over `axes` of each remaining index.

    The kernel of LayerNormalization and GroupNormalization (and InstanceNormalization, its
    one-channel-per-group case). Returns (xhat, cache); scale and offset are applied by the caller.
    """
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + np.asarray(epsilon, x.dtype))
    xhat = xc * inv
    return xhat, mean, var, (xhat, inv, axes)


def standardize_backward(dxhat, cache):
    """dx of `standardize` given d(loss)/d(xhat) of the same shape."""
    xhat, inv, axes = cache
    m = int(np.prod([xhat.shape[a] for a in axes]))
    # d/dx of (x - mean) / sqrt(var + eps) with the statistics depending on x
    dx = (inv / m) * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                      - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
    return dx.astype(dxhat.dtype, copy=False)

"""Batch normalization over all axes but the feature axis, with its backward pass."""
from __future__ import annotations

import numpy as np


def batch_norm_train(x, gamma, beta, *, axis: int, epsilon: float):
    """Normalise with the batch's mean and biased variance (Keras training mode).

    Returns (y, mean, var, cache); mean/var have the feature axis' length.
    """
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + np.asarray(epsilon, x.dtype))
    xhat = xc * inv
    y = xhat * (1 if gamma is None else _bcast(gamma, x, axis))
    if beta is not None:
        y = y + _bcast(beta, x, axis)
    return y, mean.reshape(-1), var.reshape(-1), (xhat, inv, axes, axis, gamma)


def batch_norm_train_backward(dy, cache):
    """(dx, dgamma, dbeta) of `batch_norm_train` (dgamma/dbeta None when absent)."""
    xhat, inv, axes, axis, gamma = cache
    m = dy.size // dy.shape[axis]
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    g = 1 if gamma is None else _bcast(gamma, dy, axis)
    dxhat = dy * g
    # d/dx of (x - mean) / sqrt(var + eps) with batch statistics
    dx = (inv / m) * (m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                      - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True))
    return dx.astype(dy.dtype, copy=False), dgamma, dbeta


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

"""Dense (fully connected) kernel on the last axis: y = x @ W + b, W of shape (in, units)."""
from __future__ import annotations

import numpy as np


def dense(x: np.ndarray, kernel: np.ndarray, bias=None) -> np.ndarray:
    """x (..., in) -> (..., units)."""
    y = x @ kernel
    if bias is not None:
        y += bias
    return y


def dense_backward(dy: np.ndarray, x: np.ndarray, kernel: np.ndarray, *, need_dx=True, need_dkernel=True,
                   need_dbias=True):
    """(dx, dkernel, dbias) for y = x @ W + b; dy (..., units). Each is None when not needed."""
    units = kernel.shape[1]
    x2 = x.reshape(-1, kernel.shape[0])  # (..., in) -> (M, in)
    dy2 = dy.reshape(-1, units)          # (..., units) -> (M, units)
    dkernel = x2.T @ dy2 if need_dkernel else None
    dbias = dy2.sum(axis=0) if need_dbias else None
    dx = dy @ kernel.T if need_dx else None
    return dx, dkernel, dbias

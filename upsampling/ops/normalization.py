"""Batch normalization over all axes but the feature axis, with its backward pass."""
from __future__ import annotations

import numpy as np

from upsampling.ops.parallel import MIN_PARALLEL, split

ROW_BLOCK_BYTES = 1 << 18  # rows per block of the fused channels-last passes: about 256 KB
# channels-last arrays of fewer elements take whole-array passes with the column sums as BLAS
# matrix-vector products: below this size the blocked passes' per-block overhead cost more than
# their cache reuse saved (measured 0.7 vs 1.6 ms at 64x7x7x128; blocked faster at 128x14x14x128)
BLOCKED_MIN = 1 << 21
# the whole-array path sums columns this many rows per BLAS call, the partial sums in float64: one
# matrix-vector product over all rows would add them one after another in float32, and its error
# would grow with the row count (0.07 in the mean of 131k rows offset by 1000)
SUM_BLOCK_ROWS = 1024


def _blas_column_sums(rows: np.ndarray) -> np.ndarray:
    """Sums over the rows of (M, C), float64: BLAS ones @ block per SUM_BLOCK_ROWS rows."""
    ones = np.ones(min(len(rows), SUM_BLOCK_ROWS), dtype=rows.dtype)
    total = np.zeros(rows.shape[1], dtype=np.float64)
    for start in range(0, len(rows), SUM_BLOCK_ROWS):
        block = rows[start:start + SUM_BLOCK_ROWS]
        total += ones[:len(block)] @ block
    return total


def _row_blocks(rows: np.ndarray) -> list:
    step = max(1, ROW_BLOCK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    return [slice(i, min(i + step, len(rows))) for i in range(0, len(rows), step)]


def _fast(x, axis) -> bool:
    """The fused row-block passes serve contiguous channels-last arrays of some size."""
    return (axis % x.ndim == x.ndim - 1 and x.flags.c_contiguous and x.size >= MIN_PARALLEL // 4
            and x.dtype in (np.float32, np.float64))


def _column_sums(rows: np.ndarray, blocks: list, fn) -> np.ndarray:
    """Sum over blocks of fn(block slice) -> (k, C) partial sums, blocks split across threads."""
    partial = [None] * len(blocks)

    def run(share):
        for i in range(share.start, share.stop):
            partial[i] = fn(blocks[i])

    split(run, len(blocks), work=rows.size)
    return np.sum(partial, axis=0)


def batch_norm_train(x, gamma, beta, *, axis: int, epsilon: float):
    """Normalise with the batch's mean and biased variance (Keras training mode).

    Returns (y, mean, var, cache); mean/var have the feature axis' length.
    """
    if _fast(x, axis):
        if x.size < BLOCKED_MIN:
            return _batch_norm_train_whole(x, gamma, beta, axis, epsilon)
        return _batch_norm_train_rows(x, gamma, beta, axis, epsilon)
    axes = tuple(a for a in range(x.ndim) if a != axis % x.ndim)
    xhat, mean, var, std_cache = standardize(x, axes=axes, epsilon=epsilon)
    y = xhat * (1 if gamma is None else _bcast(gamma, x, axis))
    if beta is not None:
        y = y + _bcast(beta, x, axis)
    return y, mean.reshape(-1), var.reshape(-1), (xhat, axes, axis, gamma, std_cache)


def _batch_norm_train_whole(x, gamma, beta, axis, epsilon):
    """`batch_norm_train` for a contiguous channels-last x of moderate size: the column sums by BLAS
    (`_blas_column_sums`), then whole-array passes (the variance still from the centred values)."""
    rows = x.reshape(-1, x.shape[-1])  # (..., C) -> (M, C)
    m = len(rows)
    mean = (_blas_column_sums(rows) / m).astype(x.dtype)
    xhat = np.subtract(rows, mean)
    y = np.multiply(xhat, xhat)  # the squares, in the output's buffer
    var = (_blas_column_sums(y) / m).astype(x.dtype)
    inv = (1 / np.sqrt(var + np.asarray(epsilon, x.dtype))).astype(x.dtype, copy=False)
    xhat *= inv
    if gamma is not None:
        np.multiply(xhat, gamma, out=y)
    else:
        y[...] = xhat
    if beta is not None:
        y += beta
    xhat = xhat.reshape(x.shape)
    inv = inv.reshape((1,) * (x.ndim - 1) + (-1,))
    axes = tuple(range(x.ndim - 1))
    return y.reshape(x.shape), mean, var, (xhat, axes, axis, gamma, (xhat, inv, axes))


def _batch_norm_train_rows(x, gamma, beta, axis, epsilon):
    """`batch_norm_train` for a contiguous channels-last x as rows (M, C): two reductions, then
    one blocked pass writes xhat and y (instead of eight whole-array passes)."""
    rows = x.reshape(-1, x.shape[-1])  # (..., C) -> (M, C)
    m = len(rows)
    blocks = _row_blocks(rows)
    mean = _column_sums(rows, blocks, lambda b: rows[b].sum(axis=0, keepdims=True)) / x.dtype.type(m)

    def squares(b):
        xc = rows[b] - mean
        xc *= xc
        return xc.sum(axis=0, keepdims=True)

    var = _column_sums(rows, blocks, squares) / x.dtype.type(m)
    inv = (1 / np.sqrt(var + np.asarray(epsilon, x.dtype))).astype(x.dtype, copy=False)
    xhat = np.empty_like(rows)
    y = np.empty_like(rows)

    def normalise(share):
        for b in blocks[share]:
            xh = xhat[b]
            np.subtract(rows[b], mean, out=xh)
            xh *= inv
            if gamma is not None:
                np.multiply(xh, gamma, out=y[b])
            else:
                y[b] = xh
            if beta is not None:
                y[b] += beta

    split(normalise, len(blocks), work=rows.size)
    axes = tuple(range(x.ndim - 1))
    xhat = xhat.reshape(x.shape)
    inv = inv.reshape((1,) * (x.ndim - 1) + (-1,))
    return y.reshape(x.shape), mean.reshape(-1), var.reshape(-1), (xhat, axes, axis, gamma, (xhat, inv, axes))


def _batch_norm_train_backward_rows(dy, cache):
    """Backward of `batch_norm_train` for channels last: one blocked pass for dbeta and dgamma,
    one for dx. With g = gamma, sum(dy * g) = g * dbeta and sum(dy * g * xhat) = g * dgamma, so
    dx = inv * g / m * (m * dy - dbeta - xhat * dgamma)."""
    xhat, axes, axis, gamma, (_, inv, _) = cache
    c = dy.shape[-1]
    d = np.ascontiguousarray(dy).reshape(-1, c)
    xh = xhat.reshape(-1, c)
    m = len(d)
    blocks = _row_blocks(d)

    def sums(b):
        return np.stack([d[b].sum(axis=0), (d[b] * xh[b]).sum(axis=0)])

    dbeta, dgamma = _column_sums(d, blocks, sums)
    scale = inv.reshape(-1) / dy.dtype.type(m)
    if gamma is not None:
        scale = scale * gamma
    dx = np.empty_like(d)
    mdt = dy.dtype.type(m)

    def grad(share):
        for b in blocks[share]:
            out = dx[b]
            np.multiply(d[b], mdt, out=out)
            out -= dbeta
            out -= xh[b] * dgamma
            out *= scale

    split(grad, len(blocks), work=d.size)
    return dx.reshape(dy.shape), dgamma, dbeta


def _batch_norm_train_backward_whole(dy, cache):
    """Backward of `_batch_norm_train_whole`: the sums by BLAS (`_blas_column_sums`), dx as in the blocked
    version, dx = inv * g / m * (m * dy - dbeta - xhat * dgamma), in whole-array passes."""
    xhat, axes, axis, gamma, (_, inv, _) = cache
    c = dy.shape[-1]
    d = np.ascontiguousarray(dy).reshape(-1, c)
    xh = xhat.reshape(-1, c)
    m = len(d)
    dbeta = _blas_column_sums(d).astype(dy.dtype)
    dx = np.multiply(d, xh)
    dgamma = _blas_column_sums(dx).astype(dy.dtype)
    scale = inv.reshape(-1) / dy.dtype.type(m)
    if gamma is not None:
        scale = scale * gamma
    np.multiply(xh, dgamma, out=dx)
    dx += dbeta
    dx -= d * dy.dtype.type(m)  # -(m * dy - dbeta - xhat * dgamma)
    dx *= -scale
    return dx.reshape(dy.shape), dgamma, dbeta


def batch_norm_train_backward(dy, cache):
    """(dx, dgamma, dbeta) of `batch_norm_train` (dgamma/dbeta None when absent)."""
    if cache[0].shape == dy.shape and _fast(cache[0], cache[2]):
        if dy.size < BLOCKED_MIN:
            return _batch_norm_train_backward_whole(dy, cache)
        return _batch_norm_train_backward_rows(dy, cache)
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

"""2-D max and average pooling kernels (NHWC arrays), each a forward/backward pair.

Padding follows TensorFlow (the rule Keras documents): for ``'same'`` the output length is
ceil(i / s) and the total padding max((o - 1) * s + k - i, 0) is split with the extra pixel after
(bottom/right). Padded positions never win a max and are left out of an average's count.

Both kernels walk the k_h * k_w offsets of the window and combine strided views of the padded
input, so the work is k_h * k_w vectorised passes over the output, whatever the batch size.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class PoolCache(NamedTuple):
    x_shape: tuple        # (N, H, W, C) of the unpadded input
    pool_size: tuple      # (kh, kw)
    strides: tuple        # (sh, sw)
    pads: tuple           # ((top, bottom), (left, right))
    out_hw: tuple         # (Ho, Wo)
    choice: np.ndarray | None   # max: flat window offset of the winner, (N, Ho, Wo, C)
    count: np.ndarray | None    # average: valid elements per window, (1, Ho, Wo, 1)


def _out_len(i: int, k: int, s: int, pad: tuple) -> int:
    return (i + pad[0] + pad[1] - k) // s + 1


def _window(xp: np.ndarray, di: int, dj: int, strides: tuple, out_hw: tuple) -> tuple:
    """Index of the window element at offset (di, dj) for every output position: (N, Ho, Wo, C) view."""
    return (slice(None), slice(di, di + strides[0] * (out_hw[0] - 1) + 1, strides[0]),
            slice(dj, dj + strides[1] * (out_hw[1] - 1) + 1, strides[1]), slice(None))


def _pad(x: np.ndarray, pads: tuple, value) -> np.ndarray:
    if not any(pads[0]) and not any(pads[1]):
        return x
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def max_pool2d(x: np.ndarray, *, pool_size: tuple, strides: tuple, pads: tuple):
    """x (N, H, W, C) -> (y (N, Ho, Wo, C), cache). Ties go to the first offset in row-major order."""
    kh, kw = pool_size
    out_hw = (_out_len(x.shape[1], kh, strides[0], pads[0]), _out_len(x.shape[2], kw, strides[1], pads[1]))
    xp = _pad(x, pads, -np.inf)
    y = choice = None
    for di in range(kh):
        for dj in range(kw):
            v = xp[_window(xp, di, dj, strides, out_hw)]
            if y is None:
                y = v.copy()
                choice = np.zeros(y.shape, np.int32)
            else:
                better = v > y
                np.copyto(y, v, where=better)
                choice[better] = di * kw + dj
    return y, PoolCache(x.shape, pool_size, strides, pads, out_hw, choice, None)


def max_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx (N, H, W, C): each output's gradient goes to the input that won its window."""
    (n, h, w, c), (kh, kw), pads = cache.x_shape, cache.pool_size, cache.pads
    dxp = np.zeros((n, h + sum(pads[0]), w + sum(pads[1]), c), dy.dtype)
    for di in range(kh):
        for dj in range(kw):
            dxp[_window(dxp, di, dj, cache.strides, cache.out_hw)] += np.where(
                cache.choice == di * kw + dj, dy, 0)
    return dxp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w, :]


def avg_pool2d(x: np.ndarray, *, pool_size: tuple, strides: tuple, pads: tuple):
    """x (N, H, W, C) -> (y (N, Ho, Wo, C), cache); each window averages only its in-image elements."""
    kh, kw = pool_size
    h, w = x.shape[1], x.shape[2]
    out_hw = (_out_len(h, kh, strides[0], pads[0]), _out_len(w, kw, strides[1], pads[1]))
    xp = _pad(x, pads, 0)
    ones = _pad(np.ones((1, h, w, 1), x.dtype), pads, 0)  # 1 inside the image, 0 on padding
    total = np.zeros((x.shape[0],) + out_hw + (x.shape[3],), x.dtype)
    count = np.zeros((1,) + out_hw + (1,), x.dtype)
    for di in range(kh):
        for dj in range(kw):
            index = _window(xp, di, dj, strides, out_hw)
            total += xp[index]
            count += ones[index]
    return total / count, PoolCache(x.shape, pool_size, strides, pads, out_hw, None, count)


def avg_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx (N, H, W, C): each output's gradient shared equally by the in-image elements of its window."""
    (n, h, w, c), (kh, kw), pads = cache.x_shape, cache.pool_size, cache.pads
    share = dy / cache.count
    dxp = np.zeros((n, h + sum(pads[0]), w + sum(pads[1]), c), dy.dtype)
    for di in range(kh):
        for dj in range(kw):
            dxp[_window(dxp, di, dj, cache.strides, cache.out_hw)] += share
    return dxp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w, :]

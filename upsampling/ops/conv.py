"""2-D convolution (cross-correlation, as Keras and PyTorch compute it) and its backward pass.

Layout: x (N, H, W, C), kernel (kh, kw, C // groups, F) as Keras stores it, y (N, Ho, Wo, F).
One GEMM per group: patches (N*Ho*Wo, kh*kw*Cg) @ kernel (kh*kw*Cg, Fg).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from upsampling.ops.im2col import im2col, pad2d


class ConvCache(NamedTuple):
    cols: list          # per group: patches (N*Ho*Wo, kh*kw*Cg)
    kernel: np.ndarray
    padded_shape: tuple  # (N, Hp, Wp, C) after padding
    pads: tuple
    strides: tuple
    dilation: tuple
    groups: int


def conv2d(x: np.ndarray, kernel: np.ndarray, *, strides=(1, 1), pads=((0, 0), (0, 0)),
           dilation=(1, 1), groups: int = 1):
    """y = conv(x, kernel) with explicit pads ((top, bottom), (left, right)).

    Returns (y (N, Ho, Wo, F), cache for `conv2d_backward`).
    """
    kh, kw, cg, f = kernel.shape
    xp = pad2d(x, pads)
    fg = f // groups
    n = x.shape[0]
    outs, cols = [], []
    for g in range(groups):
        xg = xp if groups == 1 else xp[..., g * cg:(g + 1) * cg]
        patches = im2col(xg, (kh, kw), strides, dilation)
        ho, wo = patches.shape[1], patches.shape[2]
        # (N, Ho, Wo, kh, kw, Cg) -> (N*Ho*Wo, kh*kw*Cg); copies the gather once
        col = patches.reshape(n * ho * wo, kh * kw * cg)
        wg = kernel[..., g * fg:(g + 1) * fg].reshape(kh * kw * cg, fg)
        outs.append(col @ wg)
        cols.append(col)
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=1)
    y = y.reshape(n, ho, wo, f)  # (N*Ho*Wo, F) -> (N, Ho, Wo, F)
    return y, ConvCache(cols, kernel, xp.shape, pads, tuple(strides), tuple(dilation), groups)


def conv2d_backward(dy: np.ndarray, cache: ConvCache, *, need_dx: bool = True):
    """Gradients (dx, dkernel) of conv2d given dy (N, Ho, Wo, F). dx is None if not needed.

    dx is the transposed convolution of dy with the same kernel array (the adjoint): its full
    scatter covers the padded input (N, Hp, Wp, C) up to the rows the strides never reached, so
    the crops are the pads at the front and whatever is left at the back (negative: zeros).
    """
    # imported here: conv_transpose builds its stride-1 path on conv2d (module cycle)
    from upsampling.ops.conv_transpose import conv_transpose2d

    kernel, groups = cache.kernel, cache.groups
    kh, kw, cg, f = kernel.shape
    fg = f // groups
    n, ho, wo, _ = dy.shape
    dy2 = dy.reshape(n * ho * wo, f)  # (N, Ho, Wo, F) -> (N*Ho*Wo, F)
    dkernel = np.empty_like(kernel)
    for g in range(groups):
        dyg = dy2[:, g * fg:(g + 1) * fg]
        # (kh*kw*Cg, N*Ho*Wo) @ (N*Ho*Wo, Fg) -> (kh, kw, Cg, Fg)
        dkernel[..., g * fg:(g + 1) * fg] = (cache.cols[g].T @ dyg).reshape(kh, kw, cg, fg)
    dx = None
    if need_dx:
        crops = []
        for padded, (before, after), k, s, d, out in zip(cache.padded_shape[1:3], cache.pads, (kh, kw),
                                                          cache.strides, cache.dilation, (ho, wo)):
            full = (out - 1) * s + (k - 1) * d + 1  # <= padded: trailing rows no window reached
            crops.append((before, full - before - (padded - before - after)))
        dx, _ = conv_transpose2d(dy, kernel, strides=cache.strides, crops=tuple(crops),
                                 dilation=cache.dilation, groups=groups)
    return dx, dkernel

"""2-D convolution (cross-correlation, as Keras and PyTorch compute it) and its backward pass.

Layout: x (N, H, W, C), kernel (kh, kw, C // groups, F) as Keras stores it, y (N, Ho, Wo, F).
One GEMM per group and batch chunk: patches (n*Ho*Wo, kh*kw*Cg) @ kernel (kh*kw*Cg, Fg). The
patch copy is made a few images at a time (about CHUNK_BYTES each), so it stays in cache and a
large convolution never allocates its whole im2col matrix (160 MB for a 5x5 kernel over a batch
of 64 28x28x32 maps); the backward pass gathers the same chunks again for the kernel gradient.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from upsampling.ops.im2col import im2col, pad2d


CHUNK_BYTES = 8 << 20


class ConvCache(NamedTuple):
    xp: np.ndarray       # the padded input (N, Hp, Wp, C)
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
    outs = []
    for g in range(groups):
        xg = xp if groups == 1 else xp[..., g * cg:(g + 1) * cg]
        patches = im2col(xg, (kh, kw), strides, dilation)  # view (N, Ho, Wo, kh, kw, Cg)
        n, ho, wo = patches.shape[:3]
        wg = kernel[..., g * fg:(g + 1) * fg].reshape(kh * kw * cg, fg)
        yg = np.empty((n, ho, wo, fg), dtype=np.result_type(x, kernel))
        for part in _batch_chunks(patches):
            # (n, Ho, Wo, kh, kw, Cg) -> (n*Ho*Wo, kh*kw*Cg): one cache-sized copy of the gather
            cols = patches[part].reshape(-1, kh * kw * cg)
            np.matmul(cols, wg, out=yg[part].reshape(-1, fg))
        outs.append(yg)
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=-1)
    return y, ConvCache(xp, kernel, xp.shape, pads, tuple(strides), tuple(dilation), groups)


def _batch_chunks(patches: np.ndarray) -> list:
    """Slices of the batch axis whose patch matrices hold about CHUNK_BYTES each."""
    n = patches.shape[0]
    per_image = patches[:1].size * patches.itemsize
    step = max(1, CHUNK_BYTES // max(per_image, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


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
    dkernel = np.zeros_like(kernel)
    for g in range(groups):
        xg = cache.xp if groups == 1 else cache.xp[..., g * cg:(g + 1) * cg]
        patches = im2col(xg, (kh, kw), cache.strides, cache.dilation)
        dk = np.zeros((kh * kw * cg, fg), dtype=kernel.dtype)
        for part in _batch_chunks(patches):
            cols = patches[part].reshape(-1, kh * kw * cg)
            dyg = dy[part].reshape(-1, f)[:, g * fg:(g + 1) * fg]
            # (kh*kw*Cg, n*Ho*Wo) @ (n*Ho*Wo, Fg), summed over the chunks
            dk += cols.T @ dyg
        dkernel[..., g * fg:(g + 1) * fg] = dk.reshape(kh, kw, cg, fg)
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

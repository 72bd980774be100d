"""2-D transposed convolution: the adjoint of `conv2d`, computed as one GEMM plus a col2im scatter.

Layout: x (N, H, W, C), kernel (kh, kw, F // groups, C) as Keras stores it (filters before input
channels), y (N, Ho, Wo, F). Each input pixel lays down a scaled copy of the kernel at stride s,
no kernel flip, no multiplications by inserted zeros:

    full[i*s + a*d, f] += sum_c x[i, c] * K[a, f, c]     full length (i - 1) * s + ke

and the output is `full` cropped by ((top, bottom), (left, right)); a negative crop appends zeros.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from upsampling.ops.im2col import col2im, im2col, pad2d, unpad2d


class ConvTransposeCache(NamedTuple):
    x2: np.ndarray  # input as (N*H*W, C)
    kernel: np.ndarray
    input_shape: tuple
    crops: tuple
    strides: tuple
    dilation: tuple
    groups: int


def full_shape(input_shape: tuple, kernel_shape: tuple, strides, dilation, groups: int) -> tuple:
    """(N, Hf, Wf, F) of the uncropped scatter."""
    n, h, w, _ = input_shape
    kh, kw, fg, _ = kernel_shape
    (sh, sw), (dh, dw) = strides, dilation
    return (n, (h - 1) * sh + (kh - 1) * dh + 1, (w - 1) * sw + (kw - 1) * dw + 1, fg * groups)


def conv_transpose2d(x: np.ndarray, kernel: np.ndarray, *, strides=(1, 1),
                     crops=((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1):
    """Transposed convolution. Returns (y, cache for `conv_transpose2d_backward`)."""
    n, h, w, c = x.shape
    kh, kw, fg, _ = kernel.shape
    cg = c // groups
    x2 = x.reshape(n * h * w, c)  # (N, H, W, C) -> (N*H*W, C)
    fshape = full_shape(x.shape, kernel.shape, strides, dilation, groups)
    parts = []
    for g in range(groups):
        xg = x2 if groups == 1 else x2[:, g * cg:(g + 1) * cg]
        kg = kernel[..., g * cg:(g + 1) * cg].reshape(kh * kw * fg, cg)
        # (N*H*W, Cg) @ (Cg, kh*kw*Fg) -> one kernel copy per pixel: (N, H, W, kh, kw, Fg)
        cols = (xg @ kg.T).reshape(n, h, w, kh, kw, fg)
        parts.append(col2im(cols, fshape[:3] + (fg,), strides, dilation))
    full = parts[0] if groups == 1 else np.concatenate(parts, axis=-1)
    y = unpad2d(full, crops)
    return y, ConvTransposeCache(x2, kernel, x.shape, crops, tuple(strides), tuple(dilation), groups)


def conv_transpose2d_backward(dy: np.ndarray, cache: ConvTransposeCache, *, need_dx: bool = True):
    """Gradients (dx, dkernel) given dy (N, Ho, Wo, F): dx is a plain convolution of dy."""
    kernel, groups = cache.kernel, cache.groups
    kh, kw, fg, c = kernel.shape
    cg = c // groups
    n, h, w, _ = cache.input_shape
    dfull = pad2d(dy, cache.crops)  # back to the uncropped scatter (N, Hf, Wf, F)
    dkernel = np.empty_like(kernel)
    dxs = []
    for g in range(groups):
        dg = dfull if groups == 1 else dfull[..., g * fg:(g + 1) * fg]
        # (N, H, W, kh, kw, Fg) -> (N*H*W, kh*kw*Fg)
        dcols = im2col(dg, (kh, kw), cache.strides, cache.dilation).reshape(n * h * w, kh * kw * fg)
        xg = cache.x2 if groups == 1 else cache.x2[:, g * cg:(g + 1) * cg]
        dkernel[..., g * cg:(g + 1) * cg] = (dcols.T @ xg).reshape(kh, kw, fg, cg)
        if need_dx:
            dxs.append(dcols @ kernel[..., g * cg:(g + 1) * cg].reshape(kh * kw * fg, cg))
    dx = None
    if need_dx:
        dx = (dxs[0] if groups == 1 else np.concatenate(dxs, axis=1)).reshape(n, h, w, c)
    return dx, dkernel

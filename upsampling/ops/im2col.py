"""im2col / col2im on NHWC arrays: the gather and scatter-add that turn convolutions into GEMMs.

The two are exact adjoints: <im2col(x), c> == <x, col2im(c)>.
Patch layout: (N, Ho, Wo, kh, kw, C), so that a reshape to (N*Ho*Wo, kh*kw*C) lines up with a
Keras kernel (kh, kw, C, F) reshaped to (kh*kw*C, F).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def patch_count(length: int, ke: int, s: int) -> int:
    """How many windows of extent `ke` fit at stride `s` in `length`."""
    return (length - ke) // s + 1


def im2col(x: np.ndarray, kernel: tuple, strides: tuple, dilation: tuple) -> np.ndarray:
    """Gather every receptive field of a (N, H, W, C) array.

    Returns a read-only strided *view* of shape (N, Ho, Wo, kh, kw, C); reshape it (which copies)
    to feed a GEMM.
    """
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    ho = patch_count(h, (kh - 1) * dh + 1, sh)
    wo = patch_count(w, (kw - 1) * dw + 1, sw)
    bn, bh, bw, bc = x.strides
    # axes: (N, Ho, Wo, kh, kw, C); Ho/Wo step by the stride, kh/kw by the dilation
    return as_strided(x, shape=(n, ho, wo, kh, kw, c),
                      strides=(bn, bh * sh, bw * sw, bh * dh, bw * dw, bc), writeable=False)


def col2im(cols: np.ndarray, shape: tuple, strides: tuple, dilation: tuple) -> np.ndarray:
    """Scatter-add patches (N, Ho, Wo, kh, kw, C) back into a zero array of `shape` (N, H, W, C).

    One strided slice-add per kernel tap (kh*kw of them), each over all pixels and channels.
    """
    n, ho, wo, kh, kw, c = cols.shape
    (sh, sw), (dh, dw) = strides, dilation
    out = np.zeros(shape, dtype=cols.dtype)
    for a in range(kh):
        rows = slice(a * dh, a * dh + sh * (ho - 1) + 1, sh)
        for b in range(kw):
            out[:, rows, b * dw: b * dw + sw * (wo - 1) + 1: sw, :] += cols[:, :, :, a, b, :]
    return out


def pad2d(x: np.ndarray, pads: tuple) -> np.ndarray:
    """Zero-pad (N, H, W, C) by pads ((top, bottom), (left, right)); negative values crop."""
    (t, b), (l, r) = pads
    if max(t, b, l, r) > 0:
        x = np.pad(x, ((0, 0), (max(t, 0), max(b, 0)), (max(l, 0), max(r, 0)), (0, 0)))
    if min(t, b, l, r) < 0:
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(-t, 0): h - max(-b, 0), max(-l, 0): w - max(-r, 0), :]
    return x


def unpad2d(x: np.ndarray, pads: tuple) -> np.ndarray:
    """The adjoint of `pad2d`: crop what was padded, zero-fill what was cropped."""
    (t, b), (l, r) = pads
    return pad2d(x, ((-t, -b), (-l, -r)))

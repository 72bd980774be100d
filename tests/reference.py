"""Naive loop references, written straight from the definitions (slow, obviously right)."""
from __future__ import annotations

import numpy as np


def conv2d_naive(x, k, strides, pads, dilation, groups=1):
    """Cross-correlation of x (N,H,W,C) with k (kh,kw,C/g,F); pads ((t,b),(l,r)), may be negative."""
    n, h, w, c = x.shape
    kh, kw, cg, f = k.shape
    (sh, sw), (dh, dw), ((t, b), (l, r)) = strides, dilation, pads
    hp, wp = h + t + b, w + l + r
    ho = (hp - (kh - 1) * dh - 1) // sh + 1
    wo = (wp - (kw - 1) * dw - 1) // sw + 1
    fg = f // groups
    y = np.zeros((n, ho, wo, f), dtype=np.float64)

    def at(bi, yy, xx, ch):
        yy, xx = yy - t, xx - l
        return x[bi, yy, xx, ch] if 0 <= yy < h and 0 <= xx < w else 0.0

    for bi in range(n):
        for oy in range(ho):
            for ox in range(wo):
                for fo in range(f):
                    g = fo // fg
                    acc = 0.0
                    for a in range(kh):
                        for bb in range(kw):
                            for ci in range(cg):
                                acc += at(bi, oy * sh + a * dh, ox * sw + bb * dw, g * cg + ci) * k[a, bb, ci, fo]
                    y[bi, oy, ox, fo] = acc
    return y


def conv_transpose2d_naive(x, k, strides, out_shape, crop_before, dilation, groups=1):
    """Scatter: every input pixel lays down a scaled kernel copy; keep rows/cols from crop_before.

    k (kh, kw, F/g, C) (all C input channels, as PyTorch's (C, F/g, kh, kw)); output (N, out_h, out_w, F), zero where the scatter does not reach.
    """
    n, h, w, c = x.shape
    kh, kw, fg, _ = k.shape
    cg = c // groups
    (sh, sw), (dh, dw) = strides, dilation
    oh, ow = out_shape
    ct, cl = crop_before
    y = np.zeros((n, oh, ow, fg * groups), dtype=np.float64)
    for bi in range(n):
        for iy in range(h):
            for ix in range(w):
                for ci in range(c):
                    g = ci // cg
                    for a in range(kh):
                        for bb in range(kw):
                            oy, ox = iy * sh + a * dh - ct, ix * sw + bb * dw - cl
                            if 0 <= oy < oh and 0 <= ox < ow:
                                for fo in range(fg):
                                    y[bi, oy, ox, g * fg + fo] += x[bi, iy, ix, ci] * k[a, bb, fo, ci]
    return y


# ---------------------------------------------------------------------------------------------
# Shape arithmetic from the published formulas, written out here so that tests never check
# `upsampling.shapes` against itself. One spatial axis: i input length, k kernel, s stride,
# d dilation, ke = (k - 1) * d + 1 the dilated kernel's extent.
#   [conv]   V. Dumoulin, F. Visin, "A guide to convolution arithmetic for deep learning" (2016),
#            and TensorFlow's "same" rule: out = ceil(i / s), total padding
#            max((out - 1) * s + ke - i, 0), the smaller half before (top/left).
#   [tconv]  Keras 2 `conv_utils.deconv_length` (which Keras 3 keeps): valid -> (i-1)s + max(ke, s),
#            same -> i*s; with output_padding op: valid -> (i-1)s + ke + op, same ->
#            (i-1)s + (ke mod 2) + op ... written as its source writes it, from a padding p.
#   [torch]  torch.nn.Conv2d / ConvTranspose2d docs: floor((i + 2p - d(k-1) - 1) / s) + 1 and
#            (i - 1)s - 2p + d(k - 1) + op + 1.

def ref_conv_length(i, k, s, d, padding):
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (i - ke) // s + 1
    return -(-i // s)


def ref_conv_pads(i, k, s, d, padding):
    """(before, after) zero padding of a Keras/TF convolution."""
    if padding == "valid":
        return (0, 0)
    ke = (k - 1) * d + 1
    total = max((ref_conv_length(i, k, s, d, "same") - 1) * s + ke - i, 0)
    return (total // 2, total - total // 2)


def ref_conv_transpose_length(i, k, s, d, padding, op):
    """Keras's deconv_length, as its source computes it: from the padding p it implies."""
    ke = (k - 1) * d + 1
    if op is None:
        if padding == "valid":
            return i * s + max(ke - s, 0)
        return i * s
    p = ke // 2 if padding == "same" else 0
    return (i - 1) * s + ke - 2 * p + op


def ref_conv_transpose_crops(i, k, s, d, padding, op):
    """(crop_before, crop_after) taken from the full scatter of length (i - 1)s + ke.

    A transposed convolution is the adjoint of the convolution that maps its output back to its
    input: that convolution pads its input of length L (the output here) by `before`, the
    TF/Keras rule for a conv of L -> i, total = max((i - 1)s + ke - L, 0) for 'same'. The adjoint
    then drops `before` leading rows of the scatter; whatever is left over after the output is
    dropped at the end (negative: zeros appended).
    """
    ke = (k - 1) * d + 1
    full = (i - 1) * s + ke
    length = ref_conv_transpose_length(i, k, s, d, padding, op)
    before = max(full - length, 0) // 2 if padding == "same" else 0
    return (before, full - before - length)


def ref_torch_conv_length(i, k, s, d, p):
    return (i + 2 * p - d * (k - 1) - 1) // s + 1


def ref_torch_conv_transpose_length(i, k, s, d, p, op):
    return (i - 1) * s - 2 * p + d * (k - 1) + op + 1

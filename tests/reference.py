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

"""im2col / col2im on NHWC arrays: the gather and scatter-add that turn convolutions into GEMMs.

The two are exact adjoints: <im2col(x), c> == <x, col2im(c)>.
Patch layout: (N, Ho, Wo, kh, kw, C), so that a reshape to (N*Ho*Wo, kh*kw*C) lines up with a
Keras kernel (kh, kw, C, F) reshaped to (kh*kw*C, F).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from upsampling.ops.parallel import split
from upsampling.ops.workspace import scratch

# col2im_cropped scatters the batch in blocks of about this many bytes of output (cache-sized)
SCATTER_BLOCK_BYTES = 1 << 20


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


def _tap_range(length: int, out_len: int, s: int, offset: int) -> tuple:
    """Input indices [lo, hi) whose target i*s + offset lands inside [0, out_len)."""
    lo = max(0, -(offset // s))  # smallest i with i*s + offset >= 0
    hi = min(length, (out_len - 1 - offset) // s + 1)  # <= 0 when no target is below out_len
    return lo, max(lo, hi)


def col2im_cropped(cols: np.ndarray, crops: tuple, strides: tuple, dilation: tuple, *,
                   out: np.ndarray | None = None, block_bytes: int | None = None) -> np.ndarray:
    """`unpad2d(col2im(cols, full, ...), crops)` without the full-size detour.

    cols (N, H, W, kh, kw, C) -> contiguous (N, Ho, Wo, C), the window of the full scatter
    (length (H - 1) * s + (kh - 1) * d + 1 per axis) cropped by ((top, bottom), (left, right));
    negative crops append zeros as in `unpad2d`. Taps landing in the cropped border are skipped.
    `out`, if given, must be zero and of that shape (e.g. a channel slice of a larger array).

    The batch is processed in blocks of about `block_bytes` (default SCATTER_BLOCK_BYTES) of
    output, so the kh*kw read-add-write passes over each block stay in the core's cache.
    """
    n, h, w, kh, kw, c = cols.shape
    (sh, sw), (dh, dw) = strides, dilation
    (ct, cb), (cl, cr) = crops
    ho = (h - 1) * sh + (kh - 1) * dh + 1 - ct - cb
    wo = (w - 1) * sw + (kw - 1) * dw + 1 - cl - cr
    if out is None:
        out = np.zeros((n, ho, wo, c), dtype=cols.dtype)
    # per tap: the input rows/cols it reads and the first output row/col it writes
    taps = []
    for a in range(kh):
        i0, i1 = _tap_range(h, ho, sh, a * dh - ct)
        for b in range(kw):
            j0, j1 = _tap_range(w, wo, sw, b * dw - cl)
            if i0 < i1 and j0 < j1:
                o0, p0 = i0 * sh + a * dh - ct, j0 * sw + b * dw - cl
                rows = slice(o0, o0 + sh * (i1 - i0 - 1) + 1, sh)
                cols_ = slice(p0, p0 + sw * (j1 - j0 - 1) + 1, sw)
                taps.append((a, b, slice(i0, i1), slice(j0, j1), rows, cols_))
    block_bytes = SCATTER_BLOCK_BYTES if block_bytes is None else block_bytes
    step = max(1, block_bytes // max(1, ho * wo * c * cols.itemsize))
    blocks = [slice(n0, n0 + step) for n0 in range(0, n, step)]

    def scatter(share):
        for batch in blocks[share]:
            for a, b, ins, jns, rows, cols_ in taps:
                # out[n, o, p, :] += cols[n, i, j, a, b, :] with o = i*sh + a*dh - ct, p likewise
                out[batch, rows, cols_, :] += cols[batch, ins, jns, a, b, :]

    # the blocks are independent (distinct images): split them across the threads
    split(scatter, len(blocks), work=cols.size)
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


def pad2d_scratch(x: np.ndarray, pads: tuple, name: str) -> np.ndarray:
    """`pad2d` into a reused scratch buffer (see `workspace.scratch`: valid until the next call
    with the same `name`); only the border is zeroed. Negative pads fall back to `pad2d`."""
    (t, b), (l, r) = pads
    if min(t, b, l, r) < 0 or max(t, b, l, r) == 0:
        return pad2d(x, pads)
    n, h, w, c = x.shape
    out = scratch(name, (n, h + t + b, w + l + r, c), x.dtype)
    out[:, :t] = 0
    out[:, t + h:] = 0
    out[:, t:t + h, :l] = 0
    out[:, t:t + h, l + w:] = 0

    def copy(part):
        out[part, t:t + h, l:l + w] = x[part]

    split(copy, n, work=x.size)
    return out


def unpad2d(x: np.ndarray, pads: tuple) -> np.ndarray:
    """The adjoint of `pad2d`: crop what was padded, zero-fill what was cropped."""
    (t, b), (l, r) = pads
    return pad2d(x, ((-t, -b), (-l, -r)))

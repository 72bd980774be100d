"""2-D convolution (cross-correlation, as Keras and PyTorch compute it) and its backward pass.

Layout: x (N, H, W, C), kernel (kh, kw, C // groups, F) as Keras stores it, y (N, Ho, Wo, F).
One GEMM per group and batch chunk: patches (n*Ho*Wo, kh*kw*Cg) @ kernel (kh*kw*Cg, Fg). The
patch copy is made a few images at a time (about CHUNK_BYTES each) into a reused buffer, so a
large convolution never allocates its whole im2col matrix (160 MB for a 5x5 kernel over a batch
of 64 28x28x32 maps); the backward pass gathers the same chunks again for the kernel gradient.

Few output channels (stride 1, F <= C / 2, e.g. a generator's 5x5 or 7x7 convolution to one image
channel): the im2col copy of kh*kw*C values per pixel would dwarf a GEMM that is almost a
matrix-vector product, so the taps are summed directly instead (`_taps_forward`): one GEMM of the
input against all taps at once, z = x @ K (C, kh*kw*F), then y = sum over taps (a, b) of z
shifted by (a, b), clipped at the border (no padded copy). The kernel gradient is the adjoint: dy
spread onto the taps, then one GEMM.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from upsampling.ops.im2col import im2col, pad2d_scratch
from upsampling.ops.parallel import split
from upsampling.ops.workspace import scratch


# Patch / product matrices are built this many bytes at a time, in reused buffers: small enough
# to bound memory, large enough that few BLAS calls (each a thread barrier) are made.
CHUNK_BYTES = 32 << 20
# per-tap sums run over blocks of about this many bytes of products, so they stay in L2
TAP_BLOCK_BYTES = 1 << 20
# sum taps directly (no im2col) for stride 1, groups 1 while F <= TAPS_MAX_OUT_PER_IN * C
TAPS_MAX_OUT_PER_IN = 0.5


class ConvCache(NamedTuple):
    x: np.ndarray        # the input (N, H, W, C); backward pads it again (into a reused buffer)
    kernel: np.ndarray
    padded_shape: tuple  # (N, Hp, Wp, C) after padding
    pads: tuple
    strides: tuple
    dilation: tuple
    groups: int
    patches: np.ndarray | None = None  # the forward pass's patch matrix, if it kept it (keep_patches)


def conv2d(x: np.ndarray, kernel: np.ndarray, *, strides=(1, 1), pads=((0, 0), (0, 0)),
           dilation=(1, 1), groups: int = 1, bias=None,
           keep_patches: bool | Callable[[int], bool] = False):
    """y = conv(x, kernel) (+ bias (F,)) with explicit pads ((top, bottom), (left, right)).

    Returns (y (N, Ho, Wo, F), cache for `conv2d_backward`). The bias is added chunk by chunk
    while the output is still in cache; its gradient is dy summed over (N, Ho, Wo).

    `keep_patches`: the backward pass will want the kernel gradient, so keep the patch matrix
    for it instead of gathering it again, if it is one chunk (groups 1, the im2col path, at most
    CHUNK_BYTES): the same products, so the same numbers, one gather fewer per training step. A
    callable is asked `keep_patches(nbytes)` first and keeps them only if it returns True (a
    memory allowance).
    """
    kh, kw, cg, f = kernel.shape
    fg = f // groups
    n, h, w, _ = x.shape
    padded = (n, h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1], x.shape[3])
    cache = ConvCache(x, kernel, padded, pads, tuple(strides), tuple(dilation), groups)
    if use_taps(cg, f, strides, groups):
        return _taps_forward(x, kernel, pads, tuple(dilation), bias), cache
    xp = pad2d_scratch(x, pads, "conv_pad")
    outs = []
    for g in range(groups):
        xg = xp if groups == 1 else xp[..., g * cg:(g + 1) * cg]
        patches = im2col(xg, (kh, kw), strides, dilation)
        n, ho, wo = patches.shape[:3]
        kept = None
        if keep_patches and groups == 1 and len(_batch_chunks(patches)) == 1 and (
                not callable(keep_patches) or keep_patches(patches.size * xp.dtype.itemsize)):
            kept = np.empty(patches.shape, dtype=xp.dtype)
            cache = cache._replace(patches=kept)
        yg = np.empty((n, ho, wo, fg), dtype=np.result_type(x, kernel))
        patch_gemm(xg, (kh, kw), strides, dilation, weight=kernel[..., g * fg:(g + 1) * fg].reshape(-1, fg),
                   out=yg, bias=None if bias is None else bias[g * fg:(g + 1) * fg], cols_into=kept)
        outs.append(yg)
    y = outs[0] if groups == 1 else np.concatenate(outs, axis=-1)
    return y, cache


def use_taps(c: int, f: int, strides, groups: int) -> bool:
    """Whether conv2d sums per-tap products (few output channels) instead of an im2col GEMM."""
    return groups == 1 and tuple(strides) == (1, 1) and f <= TAPS_MAX_OUT_PER_IN * c


def batch_slices(n: int, per_image: int, budget: int) -> list:
    """Slices of range(n) holding about `budget` bytes at `per_image` bytes each."""
    step = max(1, budget // max(per_image, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _tap_spans(length: int, out_len: int, before: int, k: int, d: int) -> list:
    """Per tap a: (output slice, input slice) of the rows where input i + a*d - before is inside
    [0, length) (None if none is), for output rows i in [0, out_len); negative `before` crops."""
    spans = []
    for a in range(k):
        off = a * d - before
        i0, i1 = max(0, -off), min(out_len, length - off)
        spans.append((slice(i0, i1), slice(i0 + off, i1 + off)) if i1 > i0 else None)
    return spans


def _taps_setup(x: np.ndarray, kernel: np.ndarray, pads: tuple, dilation: tuple):
    """Output size and the per-tap row and column spans of a stride-1 convolution."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    (t, b), (l, r) = pads
    (dh, dw) = dilation
    ho, wo = h + t + b - (kh - 1) * dh, w + l + r - (kw - 1) * dw
    return ho, wo, _tap_spans(h, ho, t, kh, dh), _tap_spans(w, wo, l, kw, dw)


def _taps_forward(x: np.ndarray, kernel: np.ndarray, pads: tuple, dilation: tuple, bias=None) -> np.ndarray:
    """Stride-1 convolution as z = x @ K(C, kh*kw*F), then y[i, j] = sum over taps (a, b) of
    z[i + a*dh - top, j + b*dw - left, a, b] where that pixel exists (the padding is never built)."""
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    ho, wo, rows, cols = _taps_setup(x, kernel, pads, dilation)
    dtype = np.result_type(x, kernel)
    # (kh, kw, C, F) -> (C, kh, kw, F) -> (C, kh*kw*F)
    wt = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3), dtype=dtype).reshape(c, kh * kw * f)
    y = np.empty((n, ho, wo, f), dtype=dtype)
    per_image = h * w * kh * kw * f * dtype.itemsize
    for part in batch_slices(n, per_image, CHUNK_BYTES):
        m = part.stop - part.start
        z = scratch("conv_taps", (m, h, w, kh, kw, f), dtype)
        # (m*H*W, C) @ (C, kh*kw*F): every pixel's contribution to every tap
        np.matmul(x[part].reshape(-1, c), wt, out=z.reshape(-1, kh * kw * f))
        blocks = batch_slices(m, per_image, TAP_BLOCK_BYTES)
        yp = y[part]

        def tap_sums(share, z=z, yp=yp, blocks=blocks):
            for block in blocks[share]:
                out, zb = yp[block], z[block]
                out[...] = 0 if bias is None else bias
                for a, row in enumerate(rows):
                    for b, col in enumerate(cols):
                        if row is not None and col is not None:
                            out[:, row[0], col[0], :] += zb[:, row[1], col[1], a, b, :]

        split(tap_sums, len(blocks), work=z.size)
    return y


def _taps_kernel_grad(dy: np.ndarray, cache) -> np.ndarray:
    """dkernel of `_taps_forward`: dy spread onto (n, H, W, kh, kw, F) (the adjoint of the tap
    sums), then x^T @ it."""
    x, kernel = cache.x, cache.kernel
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    _, _, rows, cols = _taps_setup(x, kernel, cache.pads, cache.dilation)
    dk = np.zeros((c, kh * kw * f), dtype=kernel.dtype)
    per_image = h * w * kh * kw * f * dk.itemsize
    for part in batch_slices(n, per_image, CHUNK_BYTES):
        m = part.stop - part.start
        d = scratch("conv_taps", (m, h, w, kh, kw, f), dk.dtype)
        d.fill(0)
        dyp = dy[part]
        for a, row in enumerate(rows):
            for b, col in enumerate(cols):
                if row is not None and col is not None:
                    d[:, row[1], col[1], a, b, :] = dyp[:, row[0], col[0], :]
        # (C, m*H*W) @ (m*H*W, kh*kw*F), summed over the chunks
        dk += x[part].reshape(-1, c).T @ d.reshape(-1, kh * kw * f)
    # (C, kh, kw, F) -> (kh, kw, C, F)
    return np.ascontiguousarray(dk.reshape(c, kh, kw, f).transpose(1, 2, 0, 3))


def patch_gemm(xp: np.ndarray, ksize: tuple, strides, dilation, *, weight=None, out=None, rhs=None,
               bias=None, cols_into=None):
    """The GEMMs of an im2col convolution, a batch chunk at a time.

    xp (N, Hp, Wp, C) already padded. Each chunk's patch matrix (n*Ho*Wo, kh*kw*C) is copied once
    into a reused scratch buffer (or into `cols_into` (N, Ho, Wo, kh, kw, C), to be kept); then
    `out[chunk] = cols @ weight` (weight (kh*kw*C, F), out (N, Ho, Wo, F), plus `bias` if given)
    if `weight` is given, and `cols^T @ rhs[chunk]` (rhs (N, Ho, Wo, F')) is summed over the
    chunks and returned (kh*kw*C, F') if `rhs` is given (else None).
    """
    patches = im2col(xp, ksize, strides, dilation)  # view (N, Ho, Wo, kh, kw, C)
    _, ho, wo, kh, kw, c = patches.shape
    total = None
    for part in _batch_chunks(patches):
        if cols_into is None:
            cols = scratch("conv_cols", (part.stop - part.start, ho, wo, kh, kw, c), xp.dtype)
        else:
            cols = cols_into[part]
        src = patches[part]
        split(lambda share: np.copyto(cols[share], src[share]), len(cols), work=cols.size)
        cols = cols.reshape(-1, kh * kw * c)  # (n, Ho, Wo, kh, kw, C) -> (n*Ho*Wo, kh*kw*C), a view
        if weight is not None:
            chunk = out[part].reshape(-1, weight.shape[1])
            np.matmul(cols, weight, out=chunk)
            if bias is not None:
                chunk += bias
        if rhs is not None:
            # (kh*kw*C, n*Ho*Wo) @ (n*Ho*Wo, F')
            prod = cols.T @ rhs[part].reshape(-1, rhs.shape[-1])
            total = prod if total is None else np.add(total, prod, out=total)
    return total


def _batch_chunks(patches: np.ndarray) -> list:
    """Slices of the batch axis whose patch matrices hold about CHUNK_BYTES each."""
    return batch_slices(patches.shape[0], patches[:1].size * patches.itemsize, CHUNK_BYTES)


def conv2d_backward(dy: np.ndarray, cache: ConvCache, *, need_dx: bool = True, need_dkernel: bool = True):
    """Gradients (dx, dkernel) of conv2d given dy (N, Ho, Wo, F); each is None if not needed.

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
    if not need_dkernel:
        dkernel, groups_left = None, 0
    elif cache.patches is not None:
        # the forward pass's one-chunk patch matrix: (kh*kw*C, N*Ho*Wo) @ (N*Ho*Wo, F)
        dk = cache.patches.reshape(-1, kh * kw * cg).T @ dy.reshape(-1, f)
        dkernel = dk.reshape(kernel.shape).astype(kernel.dtype, copy=False)
        groups_left = 0
    elif use_taps(cg, f, cache.strides, groups):
        dkernel = _taps_kernel_grad(dy, cache)
        groups_left = 0
    else:
        dkernel = np.zeros_like(kernel)
        groups_left = groups
    xp = pad2d_scratch(cache.x, cache.pads, "conv_pad") if groups_left else None
    for g in range(groups_left):
        xg = xp if groups == 1 else xp[..., g * cg:(g + 1) * cg]
        dk = patch_gemm(xg, (kh, kw), cache.strides, cache.dilation, rhs=dy[..., g * fg:(g + 1) * fg])
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

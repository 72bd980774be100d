"""2-D convolution (cross-correlation, as Keras and PyTorch compute it) and its backward pass.

Layout: x (N, H, W, C), kernel (kh, kw, C // groups, F) as Keras stores it, y (N, Ho, Wo, F).
One GEMM per group and batch chunk: patches (n*Ho*Wo, kh*kw*Cg) @ kernel (kh*kw*Cg, Fg). The
patch copy is made a few images at a time (about CHUNK_BYTES each) into a reused buffer, so a
large convolution never allocates its whole im2col matrix (160 MB for a 5x5 kernel over a batch
of 64 28x28x32 maps); the backward pass gathers the same chunks again for the kernel gradient.

Few output channels (stride 1, F <= C / 2, e.g. a generator's 5x5 or 7x7 convolution to one image
channel): the im2col copy of kh*kw*C values per pixel would dwarf a GEMM that is almost a
matrix-vector product, so the taps are summed directly instead (`_taps_forward`): one GEMM of the
padded input against all taps at once, z = xp @ K (C, kh*kw*F), then y = sum over taps (a, b) of
z shifted by (a, b). The kernel gradient is the adjoint: dy spread onto the taps, then one GEMM.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from numpy.lib.stride_tricks import as_strided

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


def conv2d(x: np.ndarray, kernel: np.ndarray, *, strides=(1, 1), pads=((0, 0), (0, 0)),
           dilation=(1, 1), groups: int = 1, bias=None):
    """y = conv(x, kernel) (+ bias (F,)) with explicit pads ((top, bottom), (left, right)).

    Returns (y (N, Ho, Wo, F), cache for `conv2d_backward`). The bias is added chunk by chunk
    while the output is still in cache; its gradient is dy summed over (N, Ho, Wo).
    """
    kh, kw, cg, f = kernel.shape
    xp = pad2d_scratch(x, pads, "conv_pad")
    fg = f // groups
    cache = ConvCache(x, kernel, xp.shape, pads, tuple(strides), tuple(dilation), groups)
    if use_taps(cg, f, strides, groups):
        return _taps_forward(xp, kernel, tuple(dilation), bias), cache
    outs = []
    for g in range(groups):
        xg = xp if groups == 1 else xp[..., g * cg:(g + 1) * cg]
        n, ho, wo = im2col(xg, (kh, kw), strides, dilation).shape[:3]
        yg = np.empty((n, ho, wo, fg), dtype=np.result_type(x, kernel))
        patch_gemm(xg, (kh, kw), strides, dilation, weight=kernel[..., g * fg:(g + 1) * fg].reshape(-1, fg),
                   out=yg, bias=None if bias is None else bias[g * fg:(g + 1) * fg])
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


def _tap_view(z: np.ndarray, out_hw: tuple, dilation: tuple) -> np.ndarray:
    """z (n, Hp, Wp, kh, kw, F) seen as (n, Ho, Wo, kh, kw, F): entry [i, j, a, b] = z[i + a*dh, j + b*dw, a, b].

    Distinct (i, j, a, b) address distinct elements, so the view may be written through.
    """
    n, _, _, kh, kw, f = z.shape
    sn, sh, sw, sa, sb, sf = z.strides
    (dh, dw) = dilation
    return as_strided(z, shape=(n, out_hw[0], out_hw[1], kh, kw, f),
                      strides=(sn, sh, sw, sh * dh + sa, sw * dw + sb, sf))


def _taps_forward(xp: np.ndarray, kernel: np.ndarray, dilation: tuple, bias=None) -> np.ndarray:
    """Stride-1 convolution as z = xp @ K(C, kh*kw*F) followed by a sum of the shifted taps."""
    n, hp, wp, c = xp.shape
    kh, kw, _, f = kernel.shape
    (dh, dw) = dilation
    ho, wo = hp - (kh - 1) * dh, wp - (kw - 1) * dw
    dtype = np.result_type(xp, kernel)
    # (kh, kw, C, F) -> (C, kh, kw, F) -> (C, kh*kw*F)
    wt = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3), dtype=dtype).reshape(c, kh * kw * f)
    y = np.empty((n, ho, wo, f), dtype=dtype)
    per_image = hp * wp * kh * kw * f * dtype.itemsize
    for part in batch_slices(n, per_image, CHUNK_BYTES):
        m = part.stop - part.start
        z = scratch("conv_taps", (m, hp, wp, kh, kw, f), dtype)
        # (m*Hp*Wp, C) @ (C, kh*kw*F): every padded pixel's contribution to every tap
        np.matmul(xp[part].reshape(-1, c), wt, out=z.reshape(-1, kh * kw * f))
        blocks = batch_slices(m, per_image, TAP_BLOCK_BYTES)
        yp = y[part]

        def tap_sums(share, z=z, yp=yp, blocks=blocks):
            for block in blocks[share]:
                taps = _tap_view(z[block], (ho, wo), dilation)
                out = yp[block]
                np.copyto(out, taps[:, :, :, 0, 0, :])
                for a in range(kh):
                    for b in range(kw):
                        if a or b:
                            out += taps[:, :, :, a, b, :]
                if bias is not None:
                    out += bias

        split(tap_sums, len(blocks), work=z.size)
    return y


def _taps_kernel_grad(dy: np.ndarray, cache) -> np.ndarray:
    """dkernel of `_taps_forward`: dy spread onto (n, Hp, Wp, kh, kw, F), then xp^T @ it."""
    kernel = cache.kernel
    xp = pad2d_scratch(cache.x, cache.pads, "conv_pad")
    n, hp, wp, c = xp.shape
    kh, kw, _, f = kernel.shape
    ho, wo = dy.shape[1:3]
    dk = np.zeros((c, kh * kw * f), dtype=kernel.dtype)
    per_image = hp * wp * kh * kw * f * dk.itemsize
    for part in batch_slices(n, per_image, CHUNK_BYTES):
        m = part.stop - part.start
        d = scratch("conv_taps", (m, hp, wp, kh, kw, f), dk.dtype)
        d.fill(0)
        # d[i + a*dh, j + b*dw, a, b, :] = dy[i, j, :] for every tap (a, b)
        _tap_view(d, (ho, wo), cache.dilation)[...] = dy[part][:, :, :, None, None, :]
        # (C, m*Hp*Wp) @ (m*Hp*Wp, kh*kw*F), summed over the chunks
        dk += xp[part].reshape(-1, c).T @ d.reshape(-1, kh * kw * f)
    # (C, kh, kw, F) -> (kh, kw, C, F)
    return np.ascontiguousarray(dk.reshape(c, kh, kw, f).transpose(1, 2, 0, 3))


def patch_gemm(xp: np.ndarray, ksize: tuple, strides, dilation, *, weight=None, out=None, rhs=None,
               bias=None):
    """The GEMMs of an im2col convolution, a batch chunk at a time.

    xp (N, Hp, Wp, C) already padded. Each chunk's patch matrix (n*Ho*Wo, kh*kw*C) is copied once
    into a reused scratch buffer; then `out[chunk] = cols @ weight` (weight (kh*kw*C, F), out
    (N, Ho, Wo, F), plus `bias` if given) if `weight` is given, and `cols^T @ rhs[chunk]` (rhs (N, Ho, Wo, F')) is summed
    over the chunks and returned (kh*kw*C, F') if `rhs` is given (else None).
    """
    patches = im2col(xp, ksize, strides, dilation)  # view (N, Ho, Wo, kh, kw, C)
    _, ho, wo, kh, kw, c = patches.shape
    total = None
    for part in _batch_chunks(patches):
        cols = scratch("conv_cols", (part.stop - part.start, ho, wo, kh, kw, c), xp.dtype)
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
    if use_taps(cg, f, cache.strides, groups):
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

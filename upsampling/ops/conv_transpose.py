"""2-D transposed convolution: the adjoint of `conv2d`, computed as one GEMM plus a col2im scatter.

Layout: x (N, H, W, C), kernel (kh, kw, F // groups, C) as Keras stores it (filters before input
channels), y (N, Ho, Wo, F). Each input pixel lays down a scaled copy of the kernel at stride s,
no kernel flip, no multiplications by inserted zeros:

    full[i*s + a*d, f] += sum_c x[i, c] * K[a, f, c]     full length (i - 1) * s + ke

and the output is `full` cropped by ((top, bottom), (left, right)); a negative crop appends zeros.

Two ways to compute it (same numbers up to float rounding):
- scatter (any stride): one GEMM gives every pixel's kernel copy, then `col2im_cropped` adds the
  kh*kw taps straight into the cropped output, in cache-sized batch blocks.
- phases (groups 1, dilation 1, a stride above 1: the DCGAN's 4x4 at stride 2, the 3x3 at stride 2
  of `conv2d`'s input gradient): along a row, the taps t*s .. t*s + s - 1 of input column j fill
  output columns (j + t)*s .. (j + t)*s + s - 1 of the uncropped scatter, a contiguous run. One
  GEMM per kernel row a and column group t, x @ K[a, group t] (C, s*F), gives every pixel's run
  for that group as a contiguous (n, H, W, s*F) block, which lands in the uncropped output
  (n, Hf, ceil(Wf / s), s*F) as one slice-add with W*s*F-long contiguous runs (the scatter's adds
  run over F values at a time, and its inner-loop overhead dominated). A kernel width that is
  not a multiple of s leaves the last group short: its GEMM is narrower and its adds fill the
  front of each run. The output is then cropped out of it in one copy.
- gather (stride 1, groups 1, C <= GATHER_MAX_IN_PER_OUT * F): a stride-1 transposed convolution
  is a plain correlation with the flipped kernel, so `conv2d` (im2col gather + GEMM) computes it
  with no scatter-add at all. The gather copies kh*kw*C values per output pixel, the scatter
  reads, adds and writes kh*kw*F, so it pays off while C is not much larger than F. conv2d's
  backward reaches this path too (its dx is this transposed convolution of dy).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from upsampling.ops.conv import CHUNK_BYTES, batch_slices, conv2d, patch_gemm
from upsampling.ops.im2col import col2im_cropped, im2col, pad2d_scratch
from upsampling.ops.parallel import split
from upsampling.ops.workspace import scratch


# use the stride-1 gather while C_in <= GATHER_MAX_IN_PER_OUT * F_out (measured break-even ~2)
GATHER_MAX_IN_PER_OUT = 2
# the phase path needs runs of at least this many values (s_w * F): for a single output channel
# its narrow GEMMs cost more than the scatter they save
PHASE_MIN_RUN = 64
# the phase path builds its uncropped output this many bytes at a time (its adds then run in L3;
# measured: 1-4 MB alike at 7x7, 2 MB best at 14x14)
PHASE_CHUNK_BYTES = 2 << 20


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
                     crops=((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1, bias=None):
    """Transposed convolution (+ bias (F,), added chunk by chunk while the output is in cache).

    Returns (y, cache for `conv_transpose2d_backward`).
    """
    n, h, w, c = x.shape
    kh, kw, fg, _ = kernel.shape
    cg = c // groups
    strides, dilation = tuple(strides), tuple(dilation)
    x2 = x.reshape(n * h * w, c)  # (N, H, W, C) -> (N*H*W, C)
    cache = ConvTransposeCache(x2, kernel, x.shape, crops, strides, dilation, groups)
    if strides == (1, 1) and groups == 1 and c <= GATHER_MAX_IN_PER_OUT * fg:
        return _stride1_gather(x, kernel, crops, dilation, bias), cache
    if use_phases(kernel.shape, strides, crops, dilation, groups):
        return _phase_forward(x, kernel, strides, crops, bias), cache
    _, hf, wf, f = full_shape(x.shape, kernel.shape, strides, dilation, groups)
    (ct, cb), (cl, cr) = crops
    dtype = np.result_type(x, kernel)
    y = np.zeros((n, hf - ct - cb, wf - cl - cr, f), dtype=dtype)
    kgs = [np.ascontiguousarray(kernel[..., g * cg:(g + 1) * cg].reshape(kh * kw * fg, cg).T, dtype=dtype)
           for g in range(groups)]  # (Cg, kh*kw*Fg) each
    # a few images at a time: the per-pixel kernel copies of a chunk fit a reused buffer, so the
    # (N*H*W, kh*kw*F) matrix (205 MB for a DCGAN's 14->28 layer at batch 128) is never allocated
    for part in batch_slices(n, h * w * kh * kw * fg * dtype.itemsize, CHUNK_BYTES):
        rows = slice(part.start * h * w, part.stop * h * w)
        for g in range(groups):
            xg = x2[rows] if groups == 1 else x2[rows, g * cg:(g + 1) * cg]
            cols = scratch("convT_cols", (part.stop - part.start, h, w, kh, kw, fg), dtype)
            # (n*H*W, Cg) @ (Cg, kh*kw*Fg) -> one kernel copy per pixel: (n, H, W, kh, kw, Fg)
            np.matmul(xg, kgs[g], out=cols.reshape(-1, kh * kw * fg))
            # taps added straight into the cropped output (its channel slice for groups > 1)
            out = y[part] if groups == 1 else y[part][..., g * fg:(g + 1) * fg]
            col2im_cropped(cols, crops, strides, dilation, out=out)
        if bias is not None:
            y[part] += bias
    return y, cache


def use_phases(kernel_shape: tuple, strides, crops, dilation, groups: int) -> bool:
    """Whether conv_transpose2d takes the phase path (see the module docstring)."""
    kh, kw, fg, _ = kernel_shape
    sw = strides[1]
    return (groups == 1 and tuple(dilation) == (1, 1) and tuple(strides) != (1, 1)
            and sw * fg >= PHASE_MIN_RUN and min(min(crops[0]), min(crops[1])) >= 0)


def _phase_forward(x: np.ndarray, kernel: np.ndarray, strides: tuple, crops: tuple, bias=None) -> np.ndarray:
    """The phase path of `conv_transpose2d` (groups 1, dilation 1, crops >= 0)."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    sh, sw = strides
    groups_w = -(-kw // sw)  # tap column groups per kernel row; the last holds kw - (groups_w - 1) * sw taps
    (ct, cb), (cl, cr) = crops
    hf, wg = (h - 1) * sh + kh, w - 1 + groups_w  # uncropped rows; width in runs of sw*F
    ho, wo = hf - ct - cb, (w - 1) * sw + kw - cl - cr
    run = sw * f
    dtype = np.result_type(x, kernel)
    # (kh, kw, F, C), zero-padded to kw = groups_w * sw -> (kh, groups_w, sw, F, C)
    # -> (kh, groups_w, C, sw, F): K[a, t] maps a pixel's C values to the run of its taps
    # (a, t*sw .. t*sw + sw - 1)
    padded = np.zeros((kh, groups_w * sw, f, c), dtype=dtype)
    padded[:, :kw] = kernel
    kg = np.ascontiguousarray(padded.reshape(kh, groups_w, sw, f, c).transpose(0, 1, 4, 2, 3)).reshape(
        kh, groups_w, c, run)
    # the values of group t's run that real taps fill (the last group's run may be partly padding)
    widths = [min(sw, kw - t * sw) * f for t in range(groups_w)]
    first_writes = kh >= sh  # every row phase has a first tap row to copy in (see below)
    y = np.empty((n, ho, wo, f), dtype=dtype)
    for part in batch_slices(n, hf * wg * run * dtype.itemsize, PHASE_CHUNK_BYTES):
        m = part.stop - part.start
        full = scratch("convT_full", (m, hf, wg, run), dtype)
        if first_writes:
            # the first tap row of each of the sh row phases, group 0, is copied in (no zeroing, no
            # read): together they cover rows < sh*h, groups < w; zero the rest, which only adds see
            def zero_rest(share):
                full[share, sh * h:] = 0
                full[share, :sh * h, w:] = 0
                full[share, :sh * h, :w, widths[0]:] = 0
        else:
            def zero_rest(share):
                full[share] = 0
        split(zero_rest, m, work=full.size)
        xs = x[part].reshape(m * h * w, c)
        for a in range(kh):
            rows = slice(a, a + sh * (h - 1) + 1, sh)
            for t in range(groups_w):
                width = widths[t]
                z = scratch("convT_run", (m, h, w, width), dtype)
                np.matmul(xs, kg[a, t, :, :width], out=z.reshape(m * h * w, width))
                copy = first_writes and a < sh and t == 0

                def add(share, rows=rows, t=t, z=z, width=width, copy=copy):
                    target = full[share, rows, t:t + w, :width]
                    if copy:
                        target[...] = z[share]
                    else:
                        target += z[share]

                split(add, m, work=z.size)
        # crop: rows ct .. ct + ho, columns cl .. cl + wo of the (m, hf, wg * sw, F) scatter
        window = full.reshape(m, hf, wg * sw, f)[:, ct:ct + ho, cl:cl + wo]
        out = y[part]

        def crop(share, window=window, out=out):
            if bias is None:
                out[share] = window[share]
            else:
                np.add(window[share], bias, out=out[share])

        split(crop, m, work=out.size)
    return y


def _stride1_gather(x: np.ndarray, kernel: np.ndarray, crops: tuple, dilation: tuple, bias=None) -> np.ndarray:
    """Stride-1 transposed convolution as a correlation with the flipped kernel (groups 1).

    y[o] = sum_a x[o + crop_before - a*d] K[a] = sum_w xpad[o + w*d] K[k-1-w], with xpad = x padded
    by ke - 1 - crop on each side (negative pads crop).
    """
    kh, kw = kernel.shape[:2]
    (dh, dw) = dilation
    (ct, cb), (cl, cr) = crops
    eh, ew = (kh - 1) * dh, (kw - 1) * dw  # ke - 1 per axis
    # (kh, kw, F, C) flipped in space -> conv2d layout (kh, kw, C, F)
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    pads = ((eh - ct, eh - cb), (ew - cl, ew - cr))
    y, _ = conv2d(x, flipped, strides=(1, 1), pads=pads, dilation=dilation, bias=bias)
    return y


def conv_transpose2d_backward(dy: np.ndarray, cache: ConvTransposeCache, *, need_dx: bool = True,
                              need_dkernel: bool = True):
    """Gradients (dx, dkernel) given dy (N, Ho, Wo, F), each None if not needed: dx is a plain
    convolution of dy."""
    if not (need_dx or need_dkernel):
        return None, None
    kernel, groups = cache.kernel, cache.groups
    kh, kw, fg, c = kernel.shape
    cg = c // groups
    n, h, w, _ = cache.input_shape
    # back to the uncropped scatter (N, Hf, Wf, F), in a reused buffer
    dfull = pad2d_scratch(dy, cache.crops, "convT_pad")
    if groups == 1:
        # dx = conv2d(dfull, kernel as (kh, kw, F, C)) and dkernel = its patches^T @ x, one gather
        dx = np.empty((n, h, w, c), dtype=np.result_type(dy, kernel)) if need_dx else None
        dk = patch_gemm(dfull, (kh, kw), cache.strides, cache.dilation, out=dx,
                        rhs=cache.x2.reshape(n, h, w, c) if need_dkernel else None,
                        weight=kernel.reshape(kh * kw * fg, c) if need_dx else None)
        return dx, None if dk is None else dk.reshape(kh, kw, fg, c).astype(kernel.dtype, copy=False)
    dkernel = np.empty_like(kernel) if need_dkernel else None
    dxs = []
    for g in range(groups):
        dg = dfull[..., g * fg:(g + 1) * fg]
        # (N, H, W, kh, kw, Fg) -> (N*H*W, kh*kw*Fg)
        dcols = im2col(dg, (kh, kw), cache.strides, cache.dilation).reshape(n * h * w, kh * kw * fg)
        xg = cache.x2[:, g * cg:(g + 1) * cg]
        if need_dkernel:
            dkernel[..., g * cg:(g + 1) * cg] = (dcols.T @ xg).reshape(kh, kw, fg, cg)
        if need_dx:
            dxs.append(dcols @ kernel[..., g * cg:(g + 1) * cg].reshape(kh * kw * fg, cg))
    dx = None
    if need_dx:
        dx = np.concatenate(dxs, axis=1).reshape(n, h, w, c)
    return dx, dkernel

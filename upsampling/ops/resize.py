"""Resize kernels behind UpSampling2D, Resizing and BlurUpSampling2D (NHWC arrays, pure NumPy).

Every resize here is separable and linear: one (out, in) weight matrix per spatial axis, applied
as two matrix products (:func:`separable2d`); the backward pass multiplies by the transposes.

* :func:`resize_weights` / :func:`upsample2d`: Keras 3 / JAX ``scale_and_translate`` numbers with
  ``antialias=False`` (half-pixel sample positions, weights renormalised over in-range taps).
* :func:`resize_matrix`: the general matrix behind ``Resizing``: fractional scales or target
  sizes, ONNX-vocabulary coordinate modes (half_pixel, align_corners, asymmetric), nearest
  rounding modes, the cubic coefficient ``a``, edge handling (clamp, as PyTorch and ONNX's
  default, or renormalise, as Keras / TF) and antialiasing for downsampling.
* :func:`blur_upsample_matrix`: zero insertion followed by a fixed FIR low-pass (StyleGAN2's
  ``upfirdn2d`` with ``up=s``), which is also a depthwise transposed convolution.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


def _check_interpolation(interpolation: str) -> None:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected one of "
            f"{INTERPOLATIONS}. Received: interpolation={interpolation}"
        )


def _kernel(interpolation: str, x: np.ndarray, cubic_a: float = -0.5) -> np.ndarray:
    """Kernel K(x) for distances x >= 0 (float64 array, any shape).

    bicubic is Keys' kernel with coefficient a: (a+2)x^3 - (a+3)x^2 + 1 on [0, 1),
    a x^3 - 5a x^2 + 8a x - 4a on [1, 2), 0 beyond (a = -0.5 Keras/TF, -0.75 PyTorch/ONNX).
    """
    if interpolation == "bilinear":
        return np.maximum(0.0, 1.0 - x)
    if interpolation == "bicubic":
        a = cubic_a
        out = np.where(x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0, ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a)
        return np.where(x >= 2.0, 0.0, out)
    radius = float(interpolation[-1])  # lanczos3 / lanczos5
    safe = np.where(x > 1e-3, x, 1.0)  # avoid 0/0; the value 1 is used there
    out = np.where(x > 1e-3, radius * np.sin(np.pi * safe) * np.sin(np.pi * safe / radius) / (np.pi**2 * safe**2), 1.0)
    return np.where(x > radius, 0.0, out)


def resize_weights(in_len: int, out_len: int, interpolation: str, dtype=np.float32) -> np.ndarray:
    """(out_len, in_len) matrix W with ``out = W @ in`` along one axis.

    Sample u = (o + 0.5) * in_len / out_len - 0.5; weight of input j is K(|u - j|),
    divided by the row sum over j in [0, in_len) (row zeroed if |sum| <= 1000 * eps_f32);
    rows whose u lies outside [-0.5, in_len - 0.5] are zero. 'nearest' is the 0/1
    matrix selecting j = floor(o * in_len / out_len).
    """
    _check_interpolation(interpolation)
    o = np.arange(out_len)
    if interpolation == "nearest":
        w = np.zeros((out_len, in_len), dtype=dtype)
        w[o, (o * in_len) // out_len] = 1  # integer floor, no rounding issues
        return w
    u = (o + 0.5) * (in_len / out_len) - 0.5  # (out_len,)
    w = _kernel(interpolation, np.abs(u[:, None] - np.arange(in_len)[None, :]))  # (out_len, in_len)
    total = w.sum(axis=1, keepdims=True)  # (out_len, 1)
    ok = np.abs(total) > 1000.0 * np.finfo(np.float32).eps
    w = np.where(ok, w / np.where(total != 0, total, 1.0), 0.0)
    inside = (u >= -0.5) & (u <= in_len - 0.5)  # (out_len,)
    return np.where(inside[:, None], w, 0.0).astype(dtype)


class ResizeCache(NamedTuple):
    input_shape: tuple  # (N, H, W, C)
    size: tuple  # (sh, sw)
    interpolation: str
    wh: np.ndarray | None  # (H*sh, H), None for nearest
    ww: np.ndarray | None  # (W*sw, W), None for nearest


def upsample2d(x: np.ndarray, *, size: tuple[int, int], interpolation: str = "nearest"):
    """Upsample NHWC ``x`` (N, H, W, C) to y (N, H*sh, W*sw, C), same dtype.

    Returns ``(y, cache)``; ``cache`` feeds :func:`upsample2d_backward`.
    """
    _check_interpolation(interpolation)
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"upsample2d expects a 4-D (N, H, W, C) array. Received: shape={x.shape}")
    sh, sw = (int(s) for s in size)
    if sh <= 0 or sw <= 0:
        raise ValueError(f"upsample2d: `size` must be 2 positive integers. Received: size={size}")
    n, h, w, c = x.shape
    if interpolation == "nearest":
        y = np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)  # (N, H*sh, W*sw, C), exact copies
        return y, ResizeCache(x.shape, (sh, sw), interpolation, None, None)
    wh = resize_weights(h, h * sh, interpolation, dtype=x.dtype)  # (Ho, H)
    ww = resize_weights(w, w * sw, interpolation, dtype=x.dtype)  # (Wo, W)
    return separable2d(x, wh, ww), ResizeCache(x.shape, (sh, sw), interpolation, wh, ww)


def upsample2d_backward(dy: np.ndarray, cache: ResizeCache) -> np.ndarray:
    """dL/dx (N, H, W, C) from dL/dy (N, H*sh, W*sw, C); exact adjoint of upsample2d."""
    n, h, w, c = cache.input_shape
    sh, sw = cache.size
    dy = np.asarray(dy)
    if cache.interpolation == "nearest":
        # (N, Ho, Wo, C) -> (N, H, sh, W, sw, C); sum the sh and sw copies (axes 2, 4).
        return dy.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))
    return separable2d_backward(dy, cache.wh, cache.ww)


# ------------------------------------------------------------------------------------------------
# separable application shared by every resize
# ------------------------------------------------------------------------------------------------
def separable2d(x: np.ndarray, wh: np.ndarray, ww: np.ndarray) -> np.ndarray:
    """y[n, o, p, c] = sum_ij wh[o, i] ww[p, j] x[n, i, j, c] for NHWC x (N, H, W, C).

    wh (Ho, H), ww (Wo, W); returns (N, Ho, Wo, C) in x's dtype (the matrices are cast to it).
    """
    n, h, w, c = x.shape
    ho, wo = wh.shape[0], ww.shape[0]
    wh = wh.astype(x.dtype, copy=False)
    ww = ww.astype(x.dtype, copy=False)
    t = wh @ x.reshape(n, h, w * c)  # (N, H, W*C) -> (N, Ho, W*C)
    y = ww @ t.reshape(n * ho, w, c)  # (N*Ho, W, C) -> (N*Ho, Wo, C)
    return y.reshape(n, ho, wo, c)


def separable2d_backward(dy: np.ndarray, wh: np.ndarray, ww: np.ndarray) -> np.ndarray:
    """dL/dx (N, H, W, C) from dL/dy (N, Ho, Wo, C): the adjoint of :func:`separable2d`."""
    n, ho, wo, c = dy.shape
    h, w = wh.shape[1], ww.shape[1]
    wh = wh.astype(dy.dtype, copy=False)
    ww = ww.astype(dy.dtype, copy=False)
    t = ww.T @ dy.reshape(n * ho, wo, c)  # (N*Ho, Wo, C) -> (N*Ho, W, C)
    dx = wh.T @ t.reshape(n, ho, w * c)  # (N, Ho, W*C) -> (N, H, W*C)
    return dx.reshape(n, h, w, c)


# ------------------------------------------------------------------------------------------------
# general resize (the Resizing layer)
# ------------------------------------------------------------------------------------------------
COORDINATE_MODES = ("half_pixel", "align_corners", "asymmetric")
NEAREST_MODES = ("round_prefer_ceil", "round_prefer_floor", "floor", "ceil")
_RADIUS = {"bilinear": 1.0, "bicubic": 2.0, "lanczos3": 3.0, "lanczos5": 5.0}


def resized_length(in_len: int, scale: float) -> int:
    """Output length for a scale factor: floor(in_len * scale), as PyTorch's interpolate and ONNX."""
    return int(np.floor(in_len * scale + 1e-9))


def source_coordinates(in_len: int, out_len: int, coordinate_mode: str, scale: float | None = None) -> np.ndarray:
    """Input coordinate u(o) of every output pixel o (input pixel j sits at u = j), float64 (out_len,).

    half_pixel:    u = (o + 0.5) / scale - 0.5        (Keras, TF2, PyTorch align_corners=False)
    align_corners: u = o * (in - 1) / (out - 1)       (PyTorch align_corners=True; 0 if out == 1)
    asymmetric:    u = o / scale                      (PyTorch 'nearest', TF1)
    scale is out_len / in_len unless given: PyTorch and ONNX use a given scale factor as is,
    so in=5, scale=1.5 maps with 1/1.5, not 5/7.
    """
    o = np.arange(out_len, dtype=np.float64)
    if coordinate_mode == "align_corners":
        return o * ((in_len - 1) / (out_len - 1)) if out_len > 1 else np.zeros(out_len)
    inv = in_len / out_len if scale is None else 1.0 / scale
    if coordinate_mode == "half_pixel":
        return (o + 0.5) * inv - 0.5
    return o * inv


def resize_matrix(in_len: int, out_len: int, *, interpolation: str = "bilinear", scale: float | None = None,
                  coordinate_mode: str = "half_pixel", nearest_mode: str = "round_prefer_ceil",
                  cubic_a: float = -0.5, exclude_outside: bool = True, antialias: bool = False,
                  dtype=np.float32) -> np.ndarray:
    """(out_len, in_len) matrix W of a 1-D resize: ``out = W @ in``.

    nearest: W[o, j] = 1 for j = rounding(u(o)) clamped to [0, in - 1], the rounding given by
      ``nearest_mode`` (floor / ceil / round_prefer_ceil = floor(u + 0.5) / round_prefer_floor).
    other interpolations: tap j gets K(|u - j| * t) with t = scale when ``antialias`` and the axis
      shrinks (scale < 1, the kernel stretched to cover 1/scale input pixels), else t = 1. Taps
      outside [0, in) are dropped (``exclude_outside``, Keras/TF/JAX and PyTorch's antialias path)
      or moved to the nearest edge pixel (clamp, PyTorch's default path and ONNX's default); the
      row is then divided by its sum. Linear and Keys-cubic weights already sum to 1, so the
      division only matters at edges, for lanczos and for antialiasing.
    """
    _check_interpolation(interpolation)
    u = source_coordinates(in_len, out_len, coordinate_mode, scale)
    if interpolation == "nearest":
        eps = 1e-9  # ties computed as 1.9999999 must still count as 2
        idx = {"floor": np.floor(u + eps), "ceil": np.ceil(u - eps), "round_prefer_ceil": np.floor(u + 0.5 + eps),
               "round_prefer_floor": np.ceil(u - 0.5 - eps)}[nearest_mode]
        w = np.zeros((out_len, in_len))
        w[np.arange(out_len), np.clip(idx.astype(np.int64), 0, in_len - 1)] = 1.0
        return w.astype(dtype)
    stretch = 1.0
    if antialias:
        s = out_len / in_len if scale is None else scale
        stretch = min(1.0, s)
    reach = int(np.ceil(_RADIUS[interpolation] / stretch)) + 1
    j = np.arange(-reach, in_len + reach)  # taps beyond both edges, (J,)
    wt = _kernel(interpolation, np.abs(u[:, None] - j[None, :]) * stretch, cubic_a)  # (out, J)
    if exclude_outside:
        wt = np.where((j >= 0) & (j < in_len), wt, 0.0)[:, :]
    w = np.zeros((out_len, in_len))
    for col, jj in enumerate(np.clip(j, 0, in_len - 1)):  # fold clamped taps onto the edge pixels
        w[:, jj] += wt[:, col]
    total = w.sum(axis=1, keepdims=True)
    w = np.where(np.abs(total) > 1e-12, w / np.where(total != 0, total, 1.0), 0.0)
    return w.astype(dtype)


# ------------------------------------------------------------------------------------------------
# blur upsampling: zero insertion + FIR low-pass
# ------------------------------------------------------------------------------------------------
def blur_taps(taps, factor: int) -> np.ndarray:
    """The 1-D filter normalised to sum ``factor`` (so each output phase averages to gain 1)."""
    f = np.asarray(taps, dtype=np.float64)
    return f * (factor / f.sum())


def phase_gains(taps, factor: int) -> np.ndarray:
    """Interior gain of each of the `factor` output phases: sums of f[p::s] for f = blur_taps.

    All equal (to 1) means a constant input gives a constant interior (no checkerboard)."""
    f = blur_taps(taps, factor)
    return np.array([f[p::factor].sum() for p in range(factor)])


def blur_crop(taps_len: int, factor: int) -> int:
    """Rows cropped before the output: (L - s) // 2 of the full length (i - 1) * s + L."""
    return (taps_len - factor) // 2


def blur_upsample_matrix(in_len: int, factor: int, taps, dtype=np.float32) -> np.ndarray:
    """(in_len * factor, in_len) matrix of zero insertion followed by the FIR ``taps``.

    out[o] = sum_i in[i] * f[o - s*i + c] with f = :func:`blur_taps` (sum s), c = (L - s) // 2 and
    o in [0, in*s): the transposed convolution with kernel f at stride s, cropped to in*s. For
    taps (1, 3, 3, 1) and s = 2, interior rows are (3 in[i] + in[i -+ 1]) / 4, half-pixel bilinear
    interpolation; the edge rows see zeros beyond the border (upfirdn2d's zero padding).
    """
    f = blur_taps(taps, factor)
    crop = blur_crop(len(f), factor)
    w = np.zeros((in_len * factor, in_len))
    for i in range(in_len):
        for a, fa in enumerate(f):
            o = factor * i + a - crop
            if 0 <= o < in_len * factor:
                w[o, i] += fa
    return w.astype(dtype)

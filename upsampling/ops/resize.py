"""Resize kernels behind UpSampling2D (NHWC arrays, pure NumPy).

Numbers follow Keras 3 / JAX ``scale_and_translate`` with ``antialias=False``:
half-pixel sample positions, kernel weights renormalised over the in-range taps.
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


def _kernel(interpolation: str, x: np.ndarray) -> np.ndarray:
    """Kernel K(x) for distances x >= 0 (float64 array, any shape)."""
    if interpolation == "bilinear":
        return np.maximum(0.0, 1.0 - x)
    if interpolation == "bicubic":  # Keys, a = -0.5
        out = np.where(x < 1.0, (1.5 * x - 2.5) * x * x + 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0)
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
        raise ValueError(f"`size` must be 2 positive integers. Received: size={size}")
    n, h, w, c = x.shape
    if interpolation == "nearest":
        y = np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)  # (N, H*sh, W*sw, C), exact copies
        return y, ResizeCache(x.shape, (sh, sw), interpolation, None, None)
    wh = resize_weights(h, h * sh, interpolation, dtype=x.dtype)  # (Ho, H)
    ww = resize_weights(w, w * sw, interpolation, dtype=x.dtype)  # (Wo, W)
    t = wh @ x.reshape(n, h, w * c)  # (N, H, W*C) -> (N, Ho, W*C)
    y = ww @ t.reshape(n * h * sh, w, c)  # (N*Ho, W, C) -> (N*Ho, Wo, C)
    return y.reshape(n, h * sh, w * sw, c), ResizeCache(x.shape, (sh, sw), interpolation, wh, ww)


def upsample2d_backward(dy: np.ndarray, cache: ResizeCache) -> np.ndarray:
    """dL/dx (N, H, W, C) from dL/dy (N, H*sh, W*sw, C); exact adjoint of upsample2d."""
    n, h, w, c = cache.input_shape
    sh, sw = cache.size
    dy = np.asarray(dy)
    if cache.interpolation == "nearest":
        # (N, Ho, Wo, C) -> (N, H, sh, W, sw, C); sum the sh and sw copies (axes 2, 4).
        return dy.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))
    wh = cache.wh.astype(dy.dtype, copy=False)
    ww = cache.ww.astype(dy.dtype, copy=False)
    t = ww.T @ dy.reshape(n * h * sh, w * sw, c)  # (N*Ho, Wo, C) -> (N*Ho, W, C)
    dx = wh.T @ t.reshape(n, h * sh, w * c)  # (N, Ho, W*C) -> (N, H, W*C)
    return dx.reshape(n, h, w, c)

"""Finite-difference gradient checking in float64 (central differences)."""
from __future__ import annotations

import numpy as np


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f(x) / d x by central differences; `f` returns a scalar and may read `x` in place."""
    x = np.asarray(x)
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return grad


def assert_grad_close(analytic, numeric, rtol: float = 1e-5, atol: float = 1e-7, what: str = "") -> None:
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{what}: gradient shape {analytic.shape} != {numeric.shape}")
    if not np.isfinite(analytic).all():  # NaN would slip through the comparison below
        raise AssertionError(f"{what}: the analytic gradient has {np.count_nonzero(~np.isfinite(analytic))} "
                             "non-finite values")
    scale = max(1.0, float(np.abs(numeric).max(initial=0.0)))
    err = float(np.abs(analytic - numeric).max(initial=0.0))
    if not err <= atol + rtol * scale:
        raise AssertionError(f"{what}: max |analytic - numeric| = {err:.3e} (scale {scale:.3e})")


def check_vjp(forward, backward, inputs: list, rng=None, eps: float = 1e-6, rtol=1e-5, atol=1e-7):
    """Check `backward` against finite differences of a random projection of `forward`.

    forward(*inputs) -> y;  backward(dy) -> list of gradients, one per input (None to skip).
    The scalar checked is <forward(*inputs), r> for a fixed random r.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    y = forward(*inputs)
    r = rng.standard_normal(np.shape(y))
    grads = backward(r)
    for k, (x, g) in enumerate(zip(inputs, grads)):
        if g is None:
            continue
        num = numeric_grad(lambda: float(np.sum(forward(*inputs) * r)), x, eps)
        assert_grad_close(g, num, rtol=rtol, atol=atol, what=f"input {k}")

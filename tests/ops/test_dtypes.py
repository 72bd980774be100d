"""Every convolution path keeps its input's float dtype, forward and backward, and returns None
for a gradient it was not asked for.

float32 in must give float32 out (Keras's dtype, half the memory of float64), and float64 must stay
float64 (the gradient checks run in it). Each case picks one of the kernels' paths: the stride-1
tap sums and im2col GEMM of conv2d, grouped and dilated convolutions, and the transposed
convolution's phase path (forced on at these small sizes), stride-1 gather and scatter.
"""
import importlib

import numpy as np
import pytest

from upsampling.ops.conv import conv2d, conv2d_backward
from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward

ct_module = importlib.import_module("upsampling.ops.conv_transpose")

# name, op, backward, kernel (kh, kw, a, b), settings
CASES = [
    ("conv2d stride 1, one output channel (tap sums)", conv2d, conv2d_backward, (3, 3, 4, 1),
     dict(pads=((1, 1), (1, 1)))),
    ("conv2d stride 2 (im2col GEMM)", conv2d, conv2d_backward, (3, 3, 4, 6),
     dict(strides=(2, 2), pads=((0, 1), (0, 1)))),
    ("conv2d grouped", conv2d, conv2d_backward, (3, 3, 2, 6), dict(groups=2, pads=((1, 1), (1, 1)))),
    ("conv2d dilated", conv2d, conv2d_backward, (3, 3, 4, 6), dict(dilation=(2, 2), pads=((2, 2), (2, 2)))),
    ("conv_transpose2d k4 s2 (phase path)", conv_transpose2d, conv_transpose2d_backward, (4, 4, 6, 4),
     dict(strides=(2, 2), crops=((1, 1), (1, 1)))),
    ("conv_transpose2d k3 s1 (gather)", conv_transpose2d, conv_transpose2d_backward, (3, 3, 6, 4),
     dict(crops=((1, 1), (1, 1)))),
    ("conv_transpose2d dilated s2 (scatter)", conv_transpose2d, conv_transpose2d_backward, (3, 3, 6, 4),
     dict(strides=(2, 2), dilation=(2, 2), crops=((1, 1), (1, 1)))),
    ("conv_transpose2d grouped", conv_transpose2d, conv_transpose2d_backward, (4, 4, 3, 4),
     dict(strides=(2, 2), groups=2, crops=((1, 1), (1, 1)))),
]


@pytest.mark.parametrize("name,op,backward,kernel_shape,kw", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [False, True], ids=["no_bias", "bias"])
def test_convolutions_keep_the_input_dtype(name, op, backward, kernel_shape, kw, dtype, with_bias, monkeypatch):
    monkeypatch.setattr(ct_module, "PHASE_MIN_RUN", 1)  # the phase path at these small sizes
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((2, 5, 6, 4))
    k64 = rng.standard_normal(kernel_shape)
    f = kernel_shape[3] if op is conv2d else kernel_shape[2] * kw.get("groups", 1)
    b64 = rng.standard_normal(f) if with_bias else None
    cast = (lambda a: None if a is None else a.astype(dtype))
    y, cache = op(cast(x64), cast(k64), bias=cast(b64), **kw)
    dx, dk = backward(np.ones_like(y), cache)
    assert (y.dtype, dx.dtype, dk.dtype) == (dtype, dtype, dtype), name
    # and the float32 numbers are the float64 ones, rounded
    y_ref, cache_ref = op(x64, k64, bias=b64, **kw)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    for got, want in zip((dx, dk), backward(np.ones_like(y_ref), cache_ref)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    # a gradient not asked for is None, and the other one is unchanged
    only_dk, dk2 = backward(np.ones_like(y), cache, need_dx=False)
    dx2, only_dx = backward(np.ones_like(y), cache, need_dkernel=False)
    assert only_dk is None and only_dx is None
    np.testing.assert_array_equal(dk2, dk)
    np.testing.assert_array_equal(dx2, dx)

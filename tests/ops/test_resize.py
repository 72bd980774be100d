"""Tests for upsampling.ops.resize (UpSampling2D kernels)."""
import math

import numpy as np
import pytest

from tests.gradcheck import check_vjp
from upsampling.ops.resize import INTERPOLATIONS, resize_weights, upsample2d, upsample2d_backward

SIZES = [(1, 1), (2, 2), (2, 3), (3, 1), (4, 4)]


# ---------------------------------------------------------------- naive reference
def _k(interpolation, x):
    """Scalar kernel straight from the formulas (independent of the module)."""
    if interpolation == "bilinear":
        return max(0.0, 1.0 - x)
    if interpolation == "bicubic":
        if x < 1:
            return (1.5 * x - 2.5) * x * x + 1
        if x < 2:
            return ((-0.5 * x + 2.5) * x - 4) * x + 2
        return 0.0
    r = int(interpolation[-1])
    if x > r:
        return 0.0
    if x <= 1e-3:
        return 1.0
    return r * math.sin(math.pi * x) * math.sin(math.pi * x / r) / (math.pi**2 * x**2)


def _taps(interpolation, o, in_len, s):
    """[(j, weight)] for output o along an axis upsampled by integer factor s."""
    u = (o + 0.5) / s - 0.5
    taps = [(j, _k(interpolation, abs(u - j))) for j in range(in_len)]
    total = sum(wt for _, wt in taps)
    return [(j, wt / total) for j, wt in taps]


def naive_upsample(x, size, interpolation):
    n, h, w, c = x.shape
    sh, sw = size
    x64 = x.astype(np.float64)
    out = np.zeros((n, h * sh, w * sw, c))
    for oy in range(h * sh):
        for ox in range(w * sw):
            if interpolation == "nearest":
                out[:, oy, ox] = x64[:, oy // sh, ox // sw]
                continue
            for jy, wy in _taps(interpolation, oy, h, sh):
                for jx, wx in _taps(interpolation, ox, w, sw):
                    out[:, oy, ox] += wy * wx * x64[:, jy, jx]
    return out


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_matches_naive_reference(interpolation, size, dtype, rtol):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2)).astype(dtype)
    y, _ = upsample2d(x, size=size, interpolation=interpolation)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, naive_upsample(x, size, interpolation), rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- published numbers
X22 = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)


def test_published_bilinear():
    y, _ = upsample2d(X22, size=(2, 2), interpolation="bilinear")
    expected = [[1, 1.25, 1.75, 2], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3, 3.25, 3.75, 4]]
    np.testing.assert_allclose(y[0, :, :, 0], expected, atol=1e-12)


def test_published_bicubic():
    y, _ = upsample2d(X22, size=(2, 2), interpolation="bicubic")
    np.testing.assert_allclose(y[0, 0, :, 0], [0.7353, 1.0307, 1.6164, 1.9118], atol=1e-4)
    np.testing.assert_allclose(y[0, 3, :, 0], [3.0882, 3.3836, 3.9693, 4.2647], atol=1e-4)


def test_published_nearest():
    y, _ = upsample2d(X22, size=(2, 2))
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


def test_resize_weights_rows():
    w = resize_weights(2, 4, "bilinear", dtype=np.float64)
    np.testing.assert_allclose(w, [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]], atol=1e-15)
    np.testing.assert_array_equal(resize_weights(3, 6, "nearest"), np.repeat(np.eye(3), 2, axis=0))
    for interp in INTERPOLATIONS:
        np.testing.assert_allclose(resize_weights(5, 15, interp).sum(axis=1), 1.0, rtol=1e-6)


# ---------------------------------------------------------------- PyTorch oracle
@pytest.mark.parametrize("size", [(2, 2), (2, 3), (3, 1), (1, 4)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic"])
def test_matches_torch(size, interpolation):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 5, 4, 3)).astype(np.float32)
    kwargs = {"mode": interpolation}
    if interpolation != "nearest":
        kwargs.update(align_corners=False, antialias=(interpolation == "bicubic"))
    t = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC -> NCHW
    ref = torch.nn.functional.interpolate(t, scale_factor=size, **kwargs)
    ref = ref.permute(0, 2, 3, 1).numpy()  # NCHW -> NHWC
    y, _ = upsample2d(x, size=size, interpolation=interpolation)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- Keras 3 oracle
@pytest.mark.parametrize("size", [(2, 2), (2, 3), (3, 1)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_matches_keras(size, interpolation):
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(3).standard_normal((2, 4, 3, 2)).astype(np.float32)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.UpSampling2D(size, interpolation=interpolation)])
    ref = np.asarray(model.predict(x, verbose=0))
    y, _ = upsample2d(x, size=size, interpolation=interpolation)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("size", [(2, 3), (3, 1)])
def test_adjoint_identity(interpolation, size):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3, 2))
    y, cache = upsample2d(x, size=size, interpolation=interpolation)
    r = rng.standard_normal(y.shape)
    dx = upsample2d_backward(r, cache)
    lhs, rhs = np.sum(y * r), np.sum(x * dx)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_finite_differences(interpolation):
    x = np.random.default_rng(5).standard_normal((1, 3, 2, 2))
    cache = upsample2d(x, size=(2, 3), interpolation=interpolation)[1]
    check_vjp(
        lambda a: upsample2d(a, size=(2, 3), interpolation=interpolation)[0],
        lambda dy: [upsample2d_backward(dy, cache)],
        [x],
    )


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(interpolation, dtype):
    x = np.ones((1, 2, 3, 1), dtype=dtype)
    y, cache = upsample2d(x, size=(2, 2), interpolation=interpolation)
    assert y.dtype == dtype
    assert upsample2d_backward(np.ones_like(y), cache).dtype == dtype


# ---------------------------------------------------------------- errors
def test_unknown_interpolation():
    with pytest.raises(ValueError, match="interpolation") as info:
        upsample2d(np.zeros((1, 2, 2, 1)), size=(2, 2), interpolation="area")
    assert "area" in str(info.value) and "bilinear" in str(info.value)
    with pytest.raises(ValueError, match="Received: interpolation=area"):
        resize_weights(2, 4, "area")


def test_not_4d():
    with pytest.raises(ValueError, match=r"4-D.*Received: shape=\(2, 2, 1\)"):
        upsample2d(np.zeros((2, 2, 1)), size=(2, 2))


@pytest.mark.parametrize("size", [(0, 2), (2, 0), (-1, 2), (2, -3)])
def test_size_must_be_positive_on_each_axis(size):
    with pytest.raises(ValueError, match=r"upsample2d: `size` must be 2 positive integers. Received: size="):
        upsample2d(np.zeros((1, 2, 2, 1)), size=size, interpolation="bilinear")

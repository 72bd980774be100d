"""Kernels of the beyond-Keras upsamplers: general resize (against PyTorch's interpolate for every
option), blur upsampling (zero insertion + FIR) and depth-to-space (against PyTorch and loops)."""
import numpy as np
import pytest

from tests.gradcheck import check_vjp
from upsampling.ops.pixel_shuffle import depth_to_space, space_to_depth
from upsampling.ops.resize import (INTERPOLATIONS, blur_upsample_matrix, resize_matrix, resize_weights,
                                   resized_length, separable2d, separable2d_backward)

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _ours(x, size=None, scale=None, **kw):
    h, w = x.shape[1:3]
    if size is None:
        size = (resized_length(h, scale[0]), resized_length(w, scale[1]))
    sh, sw = (None, None) if scale is None else scale
    wh = resize_matrix(h, size[0], scale=sh, dtype=np.float64, **kw)
    ww = resize_matrix(w, size[1], scale=sw, dtype=np.float64, **kw)
    return separable2d(x, wh, ww)


def _torch(x, **kw):
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # NHWC -> NCHW
    return F.interpolate(t, **kw).numpy().transpose(0, 2, 3, 1)


X = np.random.default_rng(0).standard_normal((2, 7, 6, 3))

# (our geometry, torch geometry): target sizes up and down, fractional scales up and down
GEOMETRIES = [
    (dict(size=(13, 9)), dict(size=(13, 9))),
    (dict(size=(3, 4)), dict(size=(3, 4))),
    (dict(scale=(1.7, 2.5)), dict(scale_factor=(1.7, 2.5))),
    (dict(scale=(0.55, 0.7)), dict(scale_factor=(0.55, 0.7))),
    (dict(scale=(2.0, 3.0)), dict(scale_factor=(2.0, 3.0))),
]
# (our options, torch options): every PyTorch mode, alignment and antialias setting
OPTIONS = [
    (dict(interpolation="bilinear"), dict(mode="bilinear", align_corners=False)),
    (dict(interpolation="bilinear", coordinate_mode="align_corners"), dict(mode="bilinear", align_corners=True)),
    (dict(interpolation="bicubic", cubic_a=-0.75, exclude_outside=False), dict(mode="bicubic", align_corners=False)),
    (dict(interpolation="bicubic", cubic_a=-0.75, exclude_outside=False, coordinate_mode="align_corners"),
     dict(mode="bicubic", align_corners=True)),
    (dict(interpolation="bilinear", antialias=True), dict(mode="bilinear", antialias=True)),
    (dict(interpolation="bicubic", antialias=True), dict(mode="bicubic", antialias=True)),
    (dict(interpolation="nearest", coordinate_mode="asymmetric", nearest_mode="floor"), dict(mode="nearest")),
    (dict(interpolation="nearest"), dict(mode="nearest-exact")),
]


@pytest.mark.parametrize("ours_opts,torch_opts", OPTIONS, ids=[str(t) for _, t in OPTIONS])
@pytest.mark.parametrize("ours_geo,torch_geo", GEOMETRIES, ids=[str(t) for _, t in GEOMETRIES])
def test_resize_matches_torch_interpolate(ours_geo, torch_geo, ours_opts, torch_opts):
    if torch_opts.get("align_corners") and "scale_factor" in torch_geo:
        torch_geo = dict(size=tuple(resized_length(n, s) for n, s in zip(X.shape[1:3], torch_geo["scale_factor"])))
        ours_geo = dict(size=torch_geo["size"])
    got, want = _ours(X, **ours_geo, **ours_opts), _torch(X, **torch_geo, **torch_opts)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_general_matrix_reproduces_keras_upsampling_weights():
    """For integer upsampling the general matrix with Keras's defaults equals UpSampling2D's."""
    for interp in INTERPOLATIONS:
        for n, s in ((3, 2), (5, 3), (1, 4)):
            np.testing.assert_allclose(resize_matrix(n, n * s, interpolation=interp, dtype=np.float64),
                                       resize_weights(n, n * s, interp, dtype=np.float64), atol=1e-12)


def test_cubic_coefficient_changes_the_numbers():
    a5 = resize_matrix(6, 12, interpolation="bicubic", cubic_a=-0.5, dtype=np.float64)
    a75 = resize_matrix(6, 12, interpolation="bicubic", cubic_a=-0.75, dtype=np.float64)
    assert np.abs(a5 - a75).max() > 0.01
    np.testing.assert_allclose(a5.sum(axis=1), 1.0)
    # Keys' kernel at distance 0.25 and 0.75 from the formula: (a+2)x^3 - (a+3)x^2 + 1, a x^3 - 5a x^2 + 8a x - 4a
    a = -0.75
    k = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1 if x < 1 else ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # noqa: E731
    np.testing.assert_allclose(a75[5, 1:5], [k(1.25), k(0.25), k(0.75), k(1.75)], atol=1e-12)  # u = 2.25


def test_separable_resize_backward_is_the_adjoint():
    rng = np.random.default_rng(1)
    wh, ww = rng.standard_normal((5, 3)), rng.standard_normal((7, 4))
    x = rng.standard_normal((2, 3, 4, 2))
    check_vjp(lambda a: separable2d(a, wh, ww), lambda dy: [separable2d_backward(dy, wh, ww)], [x])


# ---------------------------------------------------------------- blur upsampling
def _blur_naive(x, s, taps):
    """Zero insertion, then the FIR filter along each axis, then the (L - s) // 2 crop, by loops."""
    f = np.asarray(taps, float) * s / np.sum(taps)
    n, h, w, c = x.shape
    L, crop = len(f), (len(f) - s) // 2
    z = np.zeros((n, (h - 1) * s + 1, (w - 1) * s + 1, c))
    z[:, ::s, ::s] = x
    full = np.zeros((n, z.shape[1] + L - 1, z.shape[2] + L - 1, c))
    for i in range(z.shape[1]):
        for j in range(z.shape[2]):
            for a in range(L):
                for b in range(L):
                    full[:, i + a, j + b] += z[:, i, j] * f[a] * f[b]
    return full[:, crop:crop + h * s, crop:crop + w * s]


@pytest.mark.parametrize("s,taps", [(2, (1, 3, 3, 1)), (2, (1, 2, 1)), (3, (1, 2, 3, 2, 1)), (2, (1, 1))])
def test_blur_matrix_is_zero_insertion_then_fir(s, taps):
    x = np.random.default_rng(2).standard_normal((1, 4, 3, 2))
    got = separable2d(x, blur_upsample_matrix(4, s, taps, np.float64), blur_upsample_matrix(3, s, taps, np.float64))
    np.testing.assert_allclose(got, _blur_naive(x, s, taps), atol=1e-12)


def test_blur_is_a_depthwise_transposed_convolution_in_torch():
    x = np.random.default_rng(3).standard_normal((2, 5, 4, 3))
    f = np.array([1, 3, 3, 1.0]) / 4
    w = torch.from_numpy(np.broadcast_to(np.outer(f, f), (3, 1, 4, 4)).copy())
    t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    want = F.conv_transpose2d(t, w, stride=2, padding=1, groups=3).numpy().transpose(0, 2, 3, 1)
    got = separable2d(x, blur_upsample_matrix(5, 2, (1, 3, 3, 1), np.float64),
                      blur_upsample_matrix(4, 2, (1, 3, 3, 1), np.float64))
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_binomial_blur_interior_is_half_pixel_bilinear():
    """[1,3,3,1] at stride 2 weights neighbours 3/4 and 1/4: bilinear upsampling away from the edge."""
    blur = blur_upsample_matrix(9, 2, (1, 3, 3, 1), np.float64)
    bilinear = resize_weights(9, 18, "bilinear", dtype=np.float64)
    np.testing.assert_allclose(blur[1:-1], bilinear[1:-1], atol=1e-12)
    assert blur[0].sum() == pytest.approx(0.75) and bilinear[0].sum() == pytest.approx(1.0)


# ---------------------------------------------------------------- depth to space
@pytest.mark.parametrize("r", [1, 2, 3])
def test_crd_is_torch_pixel_shuffle(r):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 2 * r * r))
    want = F.pixel_shuffle(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), r).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(depth_to_space(x, r, "CRD"), want)
    back = F.pixel_unshuffle(torch.from_numpy(want.transpose(0, 3, 1, 2).copy()), r).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(space_to_depth(want, r, "CRD"), back)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_loops_inverse_and_adjoint(mode):
    r, c = 2, 3
    x = np.random.default_rng(5).standard_normal((1, 2, 3, c * r * r))
    y = depth_to_space(x, r, mode)
    for h in range(2):
        for w in range(3):
            for i in range(r):
                for j in range(r):
                    for ch in range(c):
                        k = (i * r + j) * c + ch if mode == "DCR" else ch * r * r + i * r + j
                        assert y[0, h * r + i, w * r + j, ch] == x[0, h, w, k]
    np.testing.assert_array_equal(space_to_depth(y, r, mode), x)
    dy = np.random.default_rng(6).standard_normal(y.shape)
    assert np.sum(y * dy) == pytest.approx(np.sum(x * space_to_depth(dy, r, mode)))

import itertools

import numpy as np
import pytest

from tests.gradcheck import check_vjp
from tests.reference import conv2d_naive, ref_conv_pads
from upsampling.ops.conv import conv2d, conv2d_backward
from upsampling.ops.im2col import col2im, im2col

rng = np.random.default_rng(0)

CASES = [
    # (H, W, C, F, k, s, d, padding, groups)
    (5, 5, 2, 3, (3, 3), (1, 1), (1, 1), "valid", 1),
    (6, 7, 2, 3, (3, 3), (2, 2), (1, 1), "same", 1),
    (7, 6, 3, 2, (2, 4), (2, 3), (1, 1), "same", 1),
    (8, 8, 2, 2, (3, 3), (1, 1), (2, 2), "same", 1),
    (9, 8, 1, 2, (3, 2), (1, 1), (2, 3), "valid", 1),
    (6, 6, 4, 6, (3, 3), (1, 1), (1, 1), "same", 2),
    (5, 6, 4, 4, (2, 2), (2, 1), (1, 1), "valid", 4),
    (5, 5, 1, 1, (5, 5), (1, 1), (1, 1), "valid", 1),
    (4, 4, 2, 1, (1, 1), (3, 3), (1, 1), "same", 1),
]


def _pads(h, w, k, s, d, padding):
    return (ref_conv_pads(h, k[0], s[0], d[0], padding), ref_conv_pads(w, k[1], s[1], d[1], padding))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_naive_loops(case, dtype):
    h, w, c, f, k, s, d, padding, g = case
    x = rng.standard_normal((2, h, w, c)).astype(dtype)
    kern = rng.standard_normal((*k, c // g, f)).astype(dtype)
    pads = _pads(h, w, k, s, d, padding)
    y, _ = conv2d(x, kern, strides=s, pads=pads, dilation=d, groups=g)
    ref = conv2d_naive(x.astype(np.float64), kern.astype(np.float64), s, pads, d, g)
    assert y.dtype == dtype
    assert y.shape == ref.shape
    if padding == "same":
        assert y.shape[1:3] == (-(-h // s[0]), -(-w // s[1]))
    np.testing.assert_allclose(y, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("case", CASES)
def test_conv2d_gradients_by_finite_differences(case):
    h, w, c, f, k, s, d, padding, g = case
    x = rng.standard_normal((1, h, w, c))
    kern = rng.standard_normal((*k, c // g, f))
    pads = _pads(h, w, k, s, d, padding)

    def fwd(x, kern):
        return conv2d(x, kern, strides=s, pads=pads, dilation=d, groups=g)[0]

    def bwd(dy):
        return list(conv2d_backward(dy, conv2d(x, kern, strides=s, pads=pads, dilation=d, groups=g)[1]))

    check_vjp(fwd, bwd, [x, kern])


def test_im2col_col2im_are_adjoint():
    x = rng.standard_normal((2, 9, 8, 3))
    for k, s, d in [((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 3), (1, 1)), ((3, 2), (1, 2), (2, 3))]:
        cols = np.array(im2col(x, k, s, d))
        c = rng.standard_normal(cols.shape)
        lhs = np.sum(cols * c)
        rhs = np.sum(x * col2im(c, x.shape, s, d))
        assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_checker_would_catch_a_broken_conv_backward():
    x = rng.standard_normal((1, 4, 4, 1))
    kern = rng.standard_normal((3, 3, 1, 1))
    pads = ((1, 1), (1, 1))

    def fwd(x, kern):
        return conv2d(x, kern, pads=pads)[0]

    def wrong(dy):
        dx, dk = conv2d_backward(dy, conv2d(x, kern, pads=pads)[1])
        return [dx, dk[::-1, ::-1]]  # flipped kernel gradient: wrong

    with pytest.raises(AssertionError):
        check_vjp(fwd, wrong, [x, kern])


# Few output channels at stride 1 take the per-tap path (no im2col); these must agree with the
# naive loops and with the im2col path, forward and backward, including dilation and odd shapes.
TAP_CASES = [
    # (H, W, C, F, k, d, padding)
    (7, 6, 4, 1, (5, 5), (1, 1), "same"),
    (6, 8, 6, 2, (3, 4), (1, 1), "valid"),
    (9, 7, 5, 1, (3, 3), (2, 1), "same"),
    (5, 5, 8, 3, (7, 7), (1, 1), "same"),
]


@pytest.mark.parametrize("case", TAP_CASES)
def test_tap_path_matches_naive_loops_and_im2col(case, monkeypatch):
    from upsampling.ops import conv as conv_module

    h, w, c, f, k, d, padding = case
    assert conv_module.use_taps(c, f, (1, 1), 1)
    x = rng.standard_normal((3, h, w, c)).astype(np.float32)
    kern = rng.standard_normal((*k, c, f)).astype(np.float32)
    dy_shape = conv2d(x, kern, pads=_pads(h, w, k, (1, 1), d, padding), dilation=d)[0].shape
    dy = rng.standard_normal(dy_shape).astype(np.float32)
    pads = _pads(h, w, k, (1, 1), d, padding)
    # a tiny chunk budget: several batch chunks and tap blocks
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_module, "TAP_BLOCK_BYTES", 1)
    y, cache = conv2d(x, kern, pads=pads, dilation=d)
    dx, dk = conv2d_backward(dy, cache)
    ref = conv2d_naive(x.astype(np.float64), kern.astype(np.float64), (1, 1), pads, d)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(conv_module, "TAPS_MAX_OUT_PER_IN", 0.0)  # force the im2col path
    assert not conv_module.use_taps(c, f, (1, 1), 1)
    y2, cache2 = conv2d(x, kern, pads=pads, dilation=d)
    dx2, dk2 = conv2d_backward(dy, cache2)
    np.testing.assert_allclose(y, y2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, dx2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dk, dk2, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("case", TAP_CASES[:2])
def test_tap_path_gradients_by_finite_differences(case):
    h, w, c, f, k, d, padding = case
    x = rng.standard_normal((2, h, w, c))
    kern = rng.standard_normal((*k, c, f))
    pads = _pads(h, w, k, (1, 1), d, padding)
    check_vjp(lambda x, kern: conv2d(x, kern, pads=pads, dilation=d)[0],
              lambda dy: list(conv2d_backward(dy, conv2d(x, kern, pads=pads, dilation=d)[1])), [x, kern])


def test_tap_path_with_negative_pads_matches_naive():
    """The transposed convolution's stride-1 gather reaches conv2d with crops as negative pads."""
    from upsampling.ops import conv as conv_module

    x = rng.standard_normal((2, 7, 6, 4))
    kern = rng.standard_normal((3, 3, 4, 1))
    pads = ((-1, 2), (1, -2))
    assert conv_module.use_taps(4, 1, (1, 1), 1)
    y, cache = conv2d(x, kern, pads=pads)
    np.testing.assert_allclose(y, conv2d_naive(x, kern, (1, 1), pads, (1, 1)), rtol=1e-12, atol=1e-12)
    check_vjp(lambda x, kern: conv2d(x, kern, pads=pads)[0],
              lambda dy: list(conv2d_backward(dy, conv2d(x, kern, pads=pads)[1])), [x, kern])


@pytest.mark.parametrize("strides,groups", [((1, 1), 1), ((2, 2), 1), ((2, 1), 2)])
def test_backward_without_kernel_gradient_gives_the_same_dx(strides, groups):
    from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward
    x = rng.standard_normal((2, 6, 5, 4))
    kern = rng.standard_normal((3, 3, 4 // groups, 6))
    y, cache = conv2d(x, kern, strides=strides, pads=((1, 1), (1, 1)), groups=groups)
    dy = rng.standard_normal(y.shape)
    dx, dk = conv2d_backward(dy, cache)
    dx2, dk2 = conv2d_backward(dy, cache, need_dkernel=False)
    assert dk2 is None and dk is not None
    np.testing.assert_array_equal(dx2, dx)
    kt = rng.standard_normal((4, 4, 6 // groups, 4))
    yt, ct = conv_transpose2d(x, kt, strides=strides, crops=((1, 1), (1, 1)), groups=groups)
    dyt = rng.standard_normal(yt.shape)
    full = conv_transpose2d_backward(dyt, ct)
    dx_only = conv_transpose2d_backward(dyt, ct, need_dkernel=False)
    assert dx_only[1] is None and full[1] is not None
    np.testing.assert_array_equal(dx_only[0], full[0])


@pytest.mark.parametrize("pads", [((t, b), (l, r)) for t, b, l, r in itertools.product((-1, 0, 2), repeat=4)])
def test_pad2d_unpad2d_and_the_scratch_pad_against_a_naive_copy(pads):
    """Positive pads add zeros, negative ones crop, each side on its own; unpad2d is the adjoint."""
    from upsampling.ops.im2col import pad2d, pad2d_scratch, unpad2d

    (t, b), (l, r) = pads
    x = rng.standard_normal((2, 4, 5, 3))
    want = np.zeros((2, 4 + t + b, 5 + l + r, 3))
    for i, j in itertools.product(range(want.shape[1]), range(want.shape[2])):
        if 0 <= i - t < 4 and 0 <= j - l < 5:
            want[:, i, j] = x[:, i - t, j - l]
    np.testing.assert_array_equal(pad2d(x, pads), want)
    np.testing.assert_array_equal(pad2d_scratch(x, pads, "test_pad"), want)
    z = rng.standard_normal(want.shape)
    assert np.sum(pad2d(x, pads) * z) == pytest.approx(np.sum(x * unpad2d(z, pads)), rel=1e-12)


def test_tap_range_is_every_input_index_that_lands_inside_the_output():
    from upsampling.ops.im2col import _tap_range

    for length, out_len, s, offset in itertools.product(range(1, 5), range(0, 8), range(1, 4), range(-7, 9)):
        lo, hi = _tap_range(length, out_len, s, offset)
        want = [i for i in range(length) if 0 <= i * s + offset < out_len]
        assert list(range(lo, hi)) == want, (length, out_len, s, offset)


@pytest.mark.parametrize("crops", [((0, 0), (0, 0)), ((1, 2), (0, 1)), ((2, -1), (-2, 3)), ((6, 0), (0, 3))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_cropped_is_col2im_then_unpad2d(crops, dtype):
    """Its contract, on its own output buffer: the full scatter, cropped (negative crops append
    zeros), in the patches' dtype; crops larger than a tap's reach skip that tap."""
    from upsampling.ops.im2col import col2im_cropped, unpad2d

    (sh, sw), (dh, dw) = (2, 1), (1, 2)
    cols = rng.standard_normal((2, 4, 3, 3, 2, 5)).astype(dtype)  # (N, H, W, kh, kw, C)
    full = (2, (4 - 1) * sh + (3 - 1) * dh + 1, (3 - 1) * sw + (2 - 1) * dw + 1, 5)
    got = col2im_cropped(cols, crops, (sh, sw), (dh, dw))
    want = unpad2d(col2im(cols.astype(np.float64), full, (sh, sw), (dh, dw)), crops)
    assert got.dtype == dtype and got.shape == want.shape and got.size > 0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

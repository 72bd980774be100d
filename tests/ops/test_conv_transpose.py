import importlib
import itertools

import numpy as np
import pytest

from tests.gradcheck import check_vjp
from tests.reference import conv_transpose2d_naive, ref_conv_transpose_crops, ref_conv_transpose_length
from upsampling.ops.conv import conv2d
from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward

rng = np.random.default_rng(1)
# the module itself (`upsampling.ops.conv_transpose` as an attribute is Keras's ops name, unsupported)
ct_module = importlib.import_module("upsampling.ops.conv_transpose")


def _crops(h, w, k, s, d, padding, op):
    return (ref_conv_transpose_crops(h, k[0], s[0], d[0], padding, op[0]),
            ref_conv_transpose_crops(w, k[1], s[1], d[1], padding, op[1]))


GRID = [
    (k, s, padding, op)
    for k, s, padding in itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"])
    for op in ([None] + list(range(s)))
]


@pytest.mark.parametrize("k,s,padding,op", GRID)
def test_matches_naive_scatter_with_keras_shapes(k, s, padding, op):
    h, w, c, f = 3, 4, 2, 3
    x = rng.standard_normal((2, h, w, c))
    kern = rng.standard_normal((k, k, f, c))
    crops = _crops(h, w, (k, k), (s, s), (1, 1), padding, (op, op))
    y, _ = conv_transpose2d(x, kern, strides=(s, s), crops=crops)
    out_h = ref_conv_transpose_length(h, k, s, 1, padding, op)
    out_w = ref_conv_transpose_length(w, k, s, 1, padding, op)
    assert y.shape == (2, out_h, out_w, f)
    ref = conv_transpose2d_naive(x, kern, (s, s), (out_h, out_w), (crops[0][0], crops[1][0]), (1, 1))
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,d,g", [((3, 3), (1, 1), (2, 2), 1), ((2, 3), (1, 1), (3, 1), 1),
                                     ((3, 3), (2, 2), (1, 1), 2), ((4, 4), (2, 2), (1, 1), 4),
                                     ((3, 2), (3, 2), (1, 1), 2)])
def test_dilation_and_groups_match_naive(k, s, d, g):
    x = rng.standard_normal((1, 4, 3, 4)).astype(np.float32)
    kern = rng.standard_normal((*k, 2, 4)).astype(np.float32)  # F/g = 2 -> F = 2g
    crops = _crops(4, 3, k, s, d, "same", (None, None))
    y, _ = conv_transpose2d(x, kern, strides=s, crops=crops, dilation=d, groups=g)
    assert y.dtype == np.float32
    ref = conv_transpose2d_naive(x.astype(np.float64), kern.astype(np.float64), s, y.shape[1:3],
                                 (crops[0][0], crops[1][0]), d, g)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


# off the phase and gather paths: the per-pixel kernel copies scattered by col2im_cropped
SCATTER_CASES = [((3, 3), (2, 2), (2, 2), 1, ((1, 1), (1, 1))),     # dilated
                 ((4, 4), (2, 2), (1, 1), 2, ((1, 1), (1, 1))),     # grouped
                 ((4, 4), (2, 2), (1, 1), 1, ((1, -1), (0, 2))),    # a negative crop appends zeros
                 ((3, 3), (1, 1), (1, 1), 2, ((1, 1), (0, 2)))]     # stride 1, grouped


@pytest.mark.parametrize("k,s,d,g,crops", SCATTER_CASES)
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one_chunk", "image_per_chunk"])
@pytest.mark.parametrize("block_bytes", [None, 1], ids=["one_block", "image_per_block"])
def test_scatter_path_in_chunks_matches_naive(k, s, d, g, crops, chunk_bytes, block_bytes, monkeypatch):
    """The batch in chunks of kernel copies and the scatter in blocks of images, one image each
    or all at once: the same numbers as the naive loops. Each chunk and block must add into its
    own images only."""
    from upsampling.ops import im2col

    if chunk_bytes is not None:
        monkeypatch.setattr(ct_module, "CHUNK_BYTES", chunk_bytes)
    if block_bytes is not None:
        monkeypatch.setattr(im2col, "SCATTER_BLOCK_BYTES", block_bytes)
    x = rng.standard_normal((3, 4, 3, 4))
    kern = rng.standard_normal((*k, 3, 4))  # (kh, kw, F/g, C): F = 3g
    bias = rng.standard_normal(3 * g)
    assert not ct_module.use_phases(kern.shape, s, crops, d, g)
    y, _ = conv_transpose2d(x, kern, strides=s, crops=crops, dilation=d, groups=g, bias=bias)
    full = [(n - 1) * st + (kk - 1) * dd + 1 for n, st, kk, dd in zip((4, 3), s, k, d)]
    out = tuple(fl - sum(c) for fl, c in zip(full, crops))
    ref = conv_transpose2d_naive(x, kern, s, out, (crops[0][0], crops[1][0]), d, g) + bias
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,padding,op", [(3, 2, "same", None), (4, 2, "same", None), (3, 2, "valid", None),
                                            (1, 3, "valid", None), (5, 3, "same", 2), (2, 2, "valid", 1)])
def test_is_the_adjoint_of_conv2d(k, s, padding, op):
    """<conv_transpose(x), y> == <x, conv(y)> with the matching pads, in float64."""
    h, w = 4, 5
    crops = _crops(h, w, (k, k), (s, s), (1, 1), padding, (op, op))
    kern = rng.standard_normal((k, k, 3, 2))  # (kh, kw, F, C) for the transpose == (kh, kw, Cin, Fout) of conv
    x = rng.standard_normal((2, h, w, 2))
    y_t, _ = conv_transpose2d(x, kern, strides=(s, s), crops=crops)
    z = rng.standard_normal(y_t.shape)
    conv_z, _ = conv2d(z, kern, strides=(s, s), pads=crops)
    assert conv_z.shape == x.shape
    lhs, rhs = np.sum(y_t * z), np.sum(x * conv_z)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@pytest.mark.parametrize("k,s,padding,op,d,g", [(3, 2, "same", None, 1, 1), (4, 2, "same", None, 1, 1),
                                                (3, 2, "valid", 1, 1, 1), (1, 2, "valid", None, 1, 1),
                                                (3, 1, "same", None, 2, 1), (3, 2, "same", None, 1, 2)])
def test_gradients_by_finite_differences(k, s, padding, op, d, g):
    x = rng.standard_normal((1, 3, 3, 2))
    kern = rng.standard_normal((k, k, 2, 2))
    crops = _crops(3, 3, (k, k), (s, s), (d, d), padding, (op, op))
    kw = dict(strides=(s, s), crops=crops, dilation=(d, d), groups=g)

    def fwd(x, kern):
        return conv_transpose2d(x, kern, **kw)[0]

    def bwd(dy):
        return list(conv_transpose2d_backward(dy, conv_transpose2d(x, kern, **kw)[1]))

    check_vjp(fwd, bwd, [x, kern])


def test_seed_example_stride_two_unit_kernel_inserts_zeros():
    x = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    y, _ = conv_transpose2d(x, np.ones((1, 1, 1, 1), np.float32), strides=(2, 2), crops=((0, -1), (0, -1)))
    expected = np.array([[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


def test_two_by_two_stride_two_tiles_scaled_kernel_copies():
    x = np.array([[1, 2], [3, 4]], np.float64).reshape(1, 2, 2, 1)
    a, b, c, d = 0.5, -1.0, 2.0, 3.0
    kern = np.array([[a, b], [c, d]]).reshape(2, 2, 1, 1)
    y, _ = conv_transpose2d(x, kern, strides=(2, 2))
    expected = [[a, b, 2 * a, 2 * b], [c, d, 2 * c, 2 * d], [3 * a, 3 * b, 4 * a, 4 * b], [3 * c, 3 * d, 4 * c, 4 * d]]
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


PHASE_CASES = [  # (kh, kw), strides, crops ((top, bottom), (left, right))
    ((4, 4), (2, 2), ((1, 1), (1, 1))),      # the DCGAN's layer
    ((4, 4), (2, 2), ((0, 0), (0, 0))),      # 'valid'
    ((4, 4), (2, 2), ((1, 2), (2, 1))),      # output_padding-like uneven crops
    ((6, 3), (3, 3), ((2, 1), (0, 2))),      # stride 3, rectangular kernel
    ((4, 2), (2, 1), ((1, 0), (0, 1))),      # stride 1 along the width
    ((2, 6), (1, 2), ((0, 1), (3, 1))),      # stride 1 along the height
    # kernels that are not a whole number of strides: the last tap group of a row is short
    ((3, 3), (2, 2), ((0, 1), (0, 1))),      # conv2d k3 s2 'same' input gradient on an even input
    ((3, 3), (2, 2), ((1, 1), (1, 1))),
    ((5, 5), (2, 2), ((2, 1), (1, 2))),
    ((3, 5), (3, 2), ((1, 0), (2, 1))),      # stride 3 over 3 rows, two groups and a half per row
    ((2, 2), (3, 3), ((0, 0), (0, 0))),      # kernel narrower than the stride: gaps stay zero
    ((1, 1), (2, 2), ((0, 1), (1, 0))),
    ((3, 1), (2, 2), ((1, 0), (0, 1))),      # every row phase copied in, runs only partly filled
    ((2, 2), (2, 3), ((0, 1), (1, 0))),
]


@pytest.mark.parametrize("kernel,strides,crops", PHASE_CASES)
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 30], ids=["image_per_chunk", "one_chunk"])
@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no_bias"])
def test_phase_path_matches_naive_scatter(kernel, strides, crops, chunk_bytes, count, with_bias, monkeypatch):
    """The phase path: against the naive loops, with and without bias, one image per chunk or all
    in one, threads on and off, from scratch buffers holding garbage."""
    from upsampling.ops import parallel

    monkeypatch.setattr(ct_module, "PHASE_MIN_RUN", 1)
    monkeypatch.setattr(ct_module, "PHASE_CHUNK_BYTES", chunk_bytes)
    # buffers start as NaN, so a region the path neither zeroes nor writes shows up
    monkeypatch.setattr(ct_module, "scratch", lambda name, shape, dtype: np.full(shape, np.nan, dtype))
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    parallel.set_threads(count)
    try:
        x = rng.standard_normal((3, 4, 5, 3))
        kern = rng.standard_normal((*kernel, 2, 3))
        bias = rng.standard_normal(2) if with_bias else None
        assert ct_module.use_phases(kern.shape, strides, crops, (1, 1), 1)
        y, _ = conv_transpose2d(x, kern, strides=strides, crops=crops, bias=bias)
    finally:
        parallel.set_threads(None)
    hf, wf = (4 - 1) * strides[0] + kernel[0], (5 - 1) * strides[1] + kernel[1]
    out = (hf - sum(crops[0]), wf - sum(crops[1]))
    ref = conv_transpose2d_naive(x, kern, strides, out, (crops[0][0], crops[1][0]), (1, 1))
    ref = ref if bias is None else ref + bias
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_phase_path_serves_the_dcgan_layers_and_not_the_others():
    use_phases = ct_module.use_phases
    same = ((1, 1), (1, 1))
    # the generator's 7 -> 14 layer, and the discriminator's 64 -> 128 convolution's dx (same kernel shape)
    assert use_phases((4, 4, 64, 128), (2, 2), same, (1, 1), 1)
    assert not use_phases((4, 4, 1, 64), (2, 2), same, (1, 1), 1)     # one output channel: the scatter
    # conv2d k3 s2's input gradient: 3 is not a multiple of 2, the last tap group is short
    assert use_phases((3, 3, 64, 64), (2, 2), ((0, 1), (0, 1)), (1, 1), 1)
    assert not use_phases((4, 4, 64, 64), (2, 2), same, (2, 2), 1)    # dilated
    assert not use_phases((4, 4, 32, 64), (2, 2), same, (1, 1), 2)    # grouped
    assert not use_phases((4, 4, 64, 64), (2, 2), ((1, -1), (1, 1)), (1, 1), 1)  # appended zeros
    assert not use_phases((4, 4, 64, 64), (1, 1), same, (1, 1), 1)    # stride 1: gather or scatter

"""Max and average pooling kernels against naive loops (TensorFlow's padding rule), and their backward passes."""
import itertools

import numpy as np
import pytest

from tests.gradcheck import check_vjp
from upsampling import shapes
from upsampling.ops.pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward

rng = np.random.default_rng(11)


def _windows(length, k, s, padding):
    """[(start, stop)] of every window along one axis, clipped to the image (TF's rule, written out)."""
    if padding == "valid":
        n, before = (length - k) // s + 1, 0
    else:
        n = -(-length // s)
        before = max((n - 1) * s + k - length, 0) // 2
    return [(max(o * s - before, 0), min(o * s - before + k, length)) for o in range(n)]


def naive_pool(x, k, s, padding, kind):
    """Output, and dx for dy = ones weighted by `r` (the VJP), by explicit loops over every window."""
    n, h, w, c = x.shape
    rows, cols = _windows(h, k[0], s[0], padding), _windows(w, k[1], s[1], padding)
    y = np.zeros((n, len(rows), len(cols), c))
    winners = {}
    for b, (i, (r0, r1)), (j, (c0, c1)), ch in itertools.product(range(n), enumerate(rows), enumerate(cols), range(c)):
        patch = x[b, r0:r1, c0:c1, ch]
        if kind == "max":
            y[b, i, j, ch] = patch.max()
            pi, pj = np.unravel_index(np.argmax(patch), patch.shape)  # first maximum, row-major
            winners[b, i, j, ch] = [(r0 + pi, c0 + pj, 1.0)]
        else:
            y[b, i, j, ch] = patch.mean()
            winners[b, i, j, ch] = [(r, q, 1.0 / patch.size) for r in range(r0, r1) for q in range(c0, c1)]

    def vjp(dy):
        dx = np.zeros_like(x)
        for (b, i, j, ch), taps in winners.items():
            for r, q, wgt in taps:
                dx[b, r, q, ch] += wgt * dy[b, i, j, ch]
        return dx

    return y, vjp


CASES = [((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"), ((3, 3), (1, 1), "same"), ((2, 3), (1, 2), "valid"),
         ((3, 2), (3, 1), "same"), ((2, 2), (3, 3), "valid"), ((4, 4), (3, 3), "same"), ((1, 1), (2, 2), "same"),
         ((5, 5), (1, 1), "same")]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,s,padding", CASES)
def test_pooling_matches_naive_loops_forward_and_backward(kind, k, s, padding):
    x = rng.standard_normal((2, 7, 6, 3))
    pads = tuple(shapes.conv_padding(i, kk, ss, 1, padding) for i, kk, ss in zip(x.shape[1:3], k, s))
    forward, backward = (max_pool2d, max_pool2d_backward) if kind == "max" else (avg_pool2d, avg_pool2d_backward)
    y, cache = forward(x, pool_size=k, strides=s, pads=pads)
    y_ref, vjp = naive_pool(x, k, s, padding, kind)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(backward(dy, cache), vjp(dy), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_backward_against_finite_differences(kind):
    x = rng.permutation(4 * 5 * 2).reshape(1, 4, 5, 2) / 7.0  # distinct values: no ties for max
    pads = ((1, 1), (0, 1))
    forward, backward = (max_pool2d, max_pool2d_backward) if kind == "max" else (avg_pool2d, avg_pool2d_backward)

    def f(x):
        return forward(x, pool_size=(3, 2), strides=(2, 2), pads=pads)[0]

    cache = forward(x, pool_size=(3, 2), strides=(2, 2), pads=pads)[1]
    check_vjp(f, lambda dy: [backward(dy, cache)], [x])


def test_max_pool_ties_go_to_the_first_element_and_float32_is_kept():
    x = np.ones((1, 2, 2, 1), np.float32)
    y, cache = max_pool2d(x, pool_size=(2, 2), strides=(2, 2), pads=((0, 0), (0, 0)))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(max_pool2d_backward(np.full_like(y, 3.0), cache)[0, :, :, 0], [[3, 0], [0, 0]])


def test_average_over_same_padding_leaves_the_padding_out():
    x = np.arange(1, 5, dtype=np.float64).reshape(1, 2, 2, 1)
    y, _ = avg_pool2d(x, pool_size=(2, 2), strides=(1, 1), pads=((0, 1), (0, 1)))
    np.testing.assert_allclose(y[0, :, :, 0], [[2.5, 3.0], [3.5, 4.0]])  # not divided by 4 at the edges

"""The speed paths agree with the plain NumPy expressions they replace: threads on and off,
the thread setting's validation."""
import numpy as np
import pytest

from upsampling.ops import parallel
from upsampling.ops.activations import leaky_relu, leaky_relu_backward

rng = np.random.default_rng(7)


@pytest.fixture(params=[1, 2, 3], ids=lambda t: f"threads{t}")
def threads(request):
    parallel.set_threads(request.param)
    yield request.param
    parallel.set_threads(None)


def test_leaky_relu_is_exact_with_threads_and_blocks(threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 10)  # small arrays still split across threads
    x = rng.standard_normal((3, 5, 7, 11)).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, np.inf, -np.inf]
    dy = rng.standard_normal(x.shape).astype(np.float32)
    slope = np.float32(0.2)
    y = leaky_relu(x, 0.2)
    np.testing.assert_array_equal(y, np.where(x >= 0, x, x * slope))
    np.testing.assert_array_equal(leaky_relu_backward(dy, x, y, 0.2), np.where(x >= 0, dy, dy * slope))
    # a non-contiguous input (a channels-first view) gives the same numbers
    xt = x.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(leaky_relu(xt, 0.2), np.where(xt >= 0, xt, xt * slope))


def test_blockwise_covers_every_element_once(threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    hits = np.zeros(1000, np.int64)

    def mark(lo, hi):
        hits[lo:hi] += 1

    parallel.blockwise(mark, hits.size, block=7)
    assert (hits == 1).all()


def test_channel_sum_matches_numpy(threads, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 10)
    a = rng.standard_normal((4, 3, 5, 6))
    np.testing.assert_allclose(parallel.channel_sum(a), a.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_threads_refuses_bad_counts(bad):
    with pytest.raises(ValueError, match="set_threads: `count` must be a positive integer"):
        parallel.set_threads(bad)

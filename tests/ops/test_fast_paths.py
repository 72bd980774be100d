"""The speed paths agree with the plain NumPy expressions they replace: threads on and off,
fused bias, padding into reused buffers, the thread setting's validation."""
import numpy as np
import pytest

from upsampling.ops import parallel
from upsampling.ops.activations import leaky_relu, leaky_relu_backward
from upsampling.ops.conv import conv2d, conv2d_backward
from upsampling.ops.conv_transpose import conv_transpose2d
from upsampling.ops.im2col import pad2d, pad2d_scratch

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
    np.testing.assert_array_equal(leaky_relu_backward(dy, x, y, 0.2),
                                  np.where(x > 0, dy, dy * slope))  # the slope at 0, as Keras and PyTorch
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


@pytest.mark.parametrize("pads", [((1, 2), (0, 3)), ((0, 0), (0, 0)), ((2, -1), (1, 1))])
def test_pad2d_scratch_equals_pad2d_and_is_reused(pads):
    x = rng.standard_normal((2, 4, 5, 3))
    np.testing.assert_array_equal(pad2d_scratch(x, pads, "test_pad"), pad2d(x, pads))
    # a second call with other data overwrites the border too (nothing stale survives)
    x2 = rng.standard_normal(x.shape)
    first = pad2d_scratch(x2 + 100, pads, "test_pad")
    np.testing.assert_array_equal(first, pad2d(x2 + 100, pads))
    np.testing.assert_array_equal(pad2d_scratch(x2, pads, "test_pad"), pad2d(x2, pads))


@pytest.mark.parametrize("c,f,s", [(6, 2, (1, 1)), (2, 6, (1, 1)), (3, 4, (2, 2))])
def test_fused_bias_equals_adding_it_afterwards(c, f, s):
    x = rng.standard_normal((2, 6, 5, c)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)
    kern = rng.standard_normal((3, 3, c, f)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    y, cache = conv2d(x, kern, strides=s, pads=pads, bias=bias)
    np.testing.assert_allclose(y, conv2d(x, kern, strides=s, pads=pads)[0] + bias, rtol=1e-6, atol=1e-6)
    # the cache does not depend on the bias: the backward pass is that of the plain convolution
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for got, want in zip(conv2d_backward(dy, cache), conv2d_backward(dy, conv2d(x, kern, strides=s, pads=pads)[1])):
        np.testing.assert_array_equal(got, want)
    kt = rng.standard_normal((4, 4, f, c)).astype(np.float32)
    crops = ((1, 1), (1, 1))
    yt, _ = conv_transpose2d(x, kt, strides=s, crops=crops, bias=bias)
    np.testing.assert_allclose(yt, conv_transpose2d(x, kt, strides=s, crops=crops)[0] + bias, rtol=1e-6, atol=1e-6)


def test_convolutions_split_across_threads_match_one_thread(monkeypatch):
    """col2im blocks, patch copies, padding and tap sums split over threads and into one-image
    blocks: the same numbers as one thread with the default (whole-batch) blocks."""
    from upsampling.ops import conv as conv_module
    from upsampling.ops import im2col
    from upsampling.ops.conv_transpose import conv_transpose2d_backward

    x = rng.standard_normal((5, 6, 7, 8)).astype(np.float32)
    k_taps = rng.standard_normal((5, 5, 8, 2)).astype(np.float32)
    k_conv = rng.standard_normal((3, 3, 8, 6)).astype(np.float32)
    k_t = rng.standard_normal((4, 4, 3, 8)).astype(np.float32)

    def run():
        y1, c1 = conv2d(x, k_taps, pads=((2, 2), (2, 2)), bias=np.ones(2, np.float32))
        y2, c2 = conv2d(x, k_conv, strides=(2, 2), pads=((1, 1), (1, 1)))
        y3, c3 = conv_transpose2d(x, k_t, strides=(2, 2), crops=((1, 1), (1, 1)))
        grads = [*conv2d_backward(np.ones_like(y1), c1), *conv2d_backward(y2, c2),
                 *conv_transpose2d_backward(y3, c3)]
        return [y1, y2, y3, *grads]

    parallel.set_threads(1)
    try:
        reference = run()
    finally:
        parallel.set_threads(None)
    monkeypatch.setattr(conv_module, "TAP_BLOCK_BYTES", 1)  # one image per tap-sum block
    monkeypatch.setattr(im2col, "SCATTER_BLOCK_BYTES", 1)  # one image per scatter block
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    for count in (1, 3):
        parallel.set_threads(count)
        try:
            results = run()
        finally:
            parallel.set_threads(None)
        for got, want in zip(results, reference):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (40, 7)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("blocked", [True, False], ids=["blocked", "whole"])
def test_batch_norm_row_passes_match_the_plain_formulas(shape, affine, blocked, threads, monkeypatch):
    """Both channels-last paths (blocked row passes, whole-array passes with BLAS sums) against the
    general formulas."""
    from upsampling.ops import normalization as bn

    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    c = shape[-1]
    gamma = rng.standard_normal(c).astype(np.float32) if affine else None
    beta = rng.standard_normal(c).astype(np.float32) if affine else None
    monkeypatch.setattr(bn, "MIN_PARALLEL", 1)
    monkeypatch.setattr(bn, "ROW_BLOCK_BYTES", 16)  # many row blocks
    monkeypatch.setattr(bn, "BLOCKED_MIN", 0 if blocked else 1 << 30)
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    assert bn._fast(x, -1)
    fast = bn.batch_norm_train(x, gamma, beta, axis=-1, epsilon=1e-3)
    fast_grads = bn.batch_norm_train_backward(dy, fast[3])
    monkeypatch.setattr(bn, "_fast", lambda x, axis: False)
    plain = bn.batch_norm_train(x, gamma, beta, axis=-1, epsilon=1e-3)
    plain_grads = bn.batch_norm_train_backward(dy, plain[3])
    for got, want in zip([*fast[:3], *fast_grads], [*plain[:3], *plain_grads]):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("blocked", [True, False], ids=["blocked", "whole"])
def test_batch_norm_row_passes_gradients_by_finite_differences(blocked, monkeypatch):
    from tests.gradcheck import check_vjp
    from upsampling.ops import normalization as bn

    monkeypatch.setattr(bn, "BLOCKED_MIN", 0 if blocked else 1 << 30)
    monkeypatch.setattr(bn, "MIN_PARALLEL", 1)
    monkeypatch.setattr(bn, "ROW_BLOCK_BYTES", 64)
    x = rng.standard_normal((3, 4, 5, 2))
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    assert bn._fast(x, -1)
    check_vjp(lambda x, g, b: bn.batch_norm_train(x, g, b, axis=-1, epsilon=1e-3)[0],
              lambda dy: list(bn.batch_norm_train_backward(dy, bn.batch_norm_train(x, gamma, beta, axis=-1,
                                                                                  epsilon=1e-3)[3])),
              [x, gamma, beta])


@pytest.mark.parametrize("setting", ["0", "1"])
def test_keep_freed_memory_follows_the_environment(setting):
    import os
    import platform
    import subprocess
    import sys

    code = "from upsampling.ops import workspace; print(workspace.keep_freed_memory())"
    env = dict(os.environ, UPSAMPLING_KEEP_MEMORY=setting)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out.stdout.strip() == str(setting == "1" and glibc)


def test_nested_parallel_calls_run_inline_instead_of_deadlocking(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    parallel.set_threads(2)
    try:
        out = np.zeros(64)

        def outer(part):
            def inner(lo, hi):
                out[part][lo:hi] += 1
            parallel.blockwise(inner, part.stop - part.start, block=3)
            out[part] += parallel.channel_sum(np.ones((4, 1)))[0]

        parallel.split(outer, 64, work=64)
        np.testing.assert_array_equal(out, 5)
    finally:
        parallel.set_threads(None)


def test_a_forked_child_gets_its_own_pool(monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(parallel, "MIN_PARALLEL", 1)
    parallel.set_threads(2)
    try:
        parallel.split(lambda part: None, 4, work=4)  # the parent's pool exists
        ctx = mp.get_context("fork")
        with ctx.Pool(1) as pool:
            assert pool.apply_async(_split_in_child).get(timeout=60) == 10
    finally:
        parallel.set_threads(None)


def _split_in_child():
    parallel.MIN_PARALLEL = 1
    hits = np.zeros(10)

    def mark(part):
        hits[part] += 1

    parallel.split(mark, 10, work=10)
    return int(hits.sum())


def test_batch_norm_whole_path_sums_accurately_for_many_offset_rows():
    """The whole-array path's column sums (BLAS per block, partial sums in float64) stay accurate for
    131k rows offset by 1000, where one float32 matrix-vector product over all rows was off by 0.07."""
    from upsampling.ops import normalization as bn

    x = (rng.standard_normal((2047, 8, 8, 16)) * 0.6 + 1000).astype(np.float32)
    assert x.size < bn.BLOCKED_MIN and bn._fast(x, -1)
    rows = x.astype(np.float64).reshape(-1, 16)
    y, mean, var, cache = bn.batch_norm_train(x, None, None, axis=-1, epsilon=1e-3)
    np.testing.assert_allclose(mean, rows.mean(axis=0), rtol=0, atol=1e-3)
    np.testing.assert_allclose(var, rows.var(axis=0), rtol=1e-4)
    expected = (rows - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + 1e-3)
    np.testing.assert_allclose(y.reshape(-1, 16), expected, rtol=0, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_products_over_one_input_are_the_outer_product(dtype):
    """A Dense kernel with one input (forward) or one unit (the input gradient) is an outer
    product, computed as a broadcast multiply: the same numbers as the GEMM, shapes and dtype kept."""
    from upsampling.ops.dense import dense, dense_backward

    x = rng.standard_normal((4, 3, 1)).astype(dtype)
    kernel = rng.standard_normal((1, 5)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    y = dense(x, kernel, bias)
    assert y.shape == (4, 3, 5) and y.dtype == dtype
    np.testing.assert_array_equal(y, x @ kernel + bias)
    x2 = rng.standard_normal((6, 7)).astype(dtype)
    k2 = rng.standard_normal((7, 1)).astype(dtype)
    dy = rng.standard_normal((6, 1)).astype(dtype)
    dx, dk, db = dense_backward(dy, x2, k2)
    assert dx.shape == x2.shape and dx.dtype == dtype
    np.testing.assert_array_equal(dx, dy @ k2.T)
    naive = np.array([[dy[i, 0] * k2[j, 0] for j in range(7)] for i in range(6)])
    np.testing.assert_array_equal(dx, naive)
    np.testing.assert_allclose(dk, x2.T @ dy, rtol=1e-6)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-6)
    # anything else is still a matrix product, with its shape rules
    with pytest.raises(ValueError):
        dense(rng.standard_normal((3, 4)).astype(dtype), kernel[:, :4])
    assert dense(x[0], kernel[:, 0]).shape == (3,)


@pytest.mark.parametrize("groups,chunk_bytes,kept", [(1, 1 << 30, True), (1, 1, False), (2, 1 << 30, False)],
                         ids=["one_chunk", "several_chunks", "grouped"])
def test_kept_patches_give_the_same_kernel_gradient(groups, chunk_bytes, kept, monkeypatch):
    """conv2d(keep_patches=True) keeps the patch matrix when it is one chunk of an ungrouped
    convolution, and the kernel gradient from it is the one gathered again, to the bit."""
    from upsampling.ops import conv as conv_module

    monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk_bytes)
    x = rng.standard_normal((3, 7, 6, 4)).astype(np.float32)
    kernel = rng.standard_normal((3, 2, 4 // groups, 6)).astype(np.float32)
    settings = dict(strides=(2, 1), pads=((1, 1), (0, 1)), groups=groups)
    y, cache = conv2d(x, kernel, keep_patches=True, **settings)
    y0, cache0 = conv2d(x, kernel, **settings)
    assert (cache.patches is not None) == kept and cache0.patches is None
    np.testing.assert_array_equal(y, y0)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dk = conv2d_backward(dy, cache)
    dx0, dk0 = conv2d_backward(dy, cache0)
    np.testing.assert_array_equal(dk, dk0)
    np.testing.assert_array_equal(dx, dx0)
    assert dk.dtype == kernel.dtype and dk.shape == kernel.shape

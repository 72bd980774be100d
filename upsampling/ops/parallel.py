"""Cache-blocked, multi-threaded elementwise passes.

NumPy runs an elementwise expression one operation at a time over the whole array, on one core:
three operations on a 50 MB activation are three trips through memory, while BLAS uses every
core. `blockwise` instead hands each of `threads()` threads a contiguous share of the flat
array and walks it in blocks of BLOCK elements, so every operation of a block after the first
reads from the core's cache. NumPy releases the GIL inside its loops, so the threads overlap.

The thread count is the BLAS/OpenMP setting (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) if one is
set, else the number of usable cores; UPSAMPLING_NUM_THREADS overrides both (1 turns threads off).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BLOCK = 1 << 16          # elements per block (256 KB of float32: several operands fit in L2)
MIN_PARALLEL = 1 << 18   # below this many elements one thread does it all

_pool = None
_pool_pid = None
_threads = None
_worker = threading.local()  # .busy is set inside pool tasks: nested calls run inline


def threads() -> int:
    """How many threads elementwise passes use."""
    global _threads
    if _threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        count = cores
        for var in ("UPSAMPLING_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            value = os.environ.get(var, "")
            if value.strip().isdigit() and int(value) > 0:
                count = int(value) if var == "UPSAMPLING_NUM_THREADS" else min(int(value), cores)
                break
        _threads = max(1, count)
    return _threads


def set_threads(count: int | None) -> None:
    """Use `count` threads from now on (None: back to the environment's setting)."""
    global _threads, _pool
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"set_threads: `count` must be a positive integer or None. Received: count={count!r}")
    _threads = count
    if _pool is not None:
        _pool.shutdown(wait=False)
        _pool = None


def _get_pool(count: int) -> ThreadPoolExecutor:
    """The shared pool (a fresh one in a forked child, whose copy has no threads)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(max_workers=count - 1, thread_name_prefix="upsampling")
        _pool_pid = os.getpid()
    return _pool


def _serial() -> bool:
    """Inside a pool task: run nested parallel calls inline (the pool may have no free thread)."""
    return getattr(_worker, "busy", False)


def _task(fn, *args):
    _worker.busy = True
    try:
        return fn(*args)
    finally:
        _worker.busy = False


def _run_share(fn, lo: int, hi: int, block: int) -> None:
    for start in range(lo, hi, block):
        fn(start, min(start + block, hi))


def blockwise(fn, size: int, *, block: int = BLOCK) -> None:
    """Call fn(lo, hi) for consecutive blocks covering range(size), split across threads.

    `fn` must touch only elements [lo, hi) of its (flat) operands, so the blocks are independent.
    """
    count = threads() if size >= MIN_PARALLEL and not _serial() else 1
    if count == 1:
        _run_share(fn, 0, size, block)
        return
    pool = _get_pool(count)
    # contiguous shares, cut at block boundaries
    per = -(-size // count)
    per = -(-per // block) * block
    bounds = [(i, min(i + per, size)) for i in range(0, size, per)]
    futures = [pool.submit(_task, _run_share, fn, lo, hi, block) for lo, hi in bounds[1:]]
    _run_share(fn, *bounds[0], block)
    for f in futures:
        f.result()


def split(fn, n: int, *, work: int = 0) -> None:
    """Call fn(part) for contiguous parts of range(n), one per thread, and wait for all.

    `work` is the number of elements the whole call touches: below MIN_PARALLEL (or n < 2) it
    runs as a single fn(slice(0, n)) in the calling thread. fn must keep to its part.
    """
    count = min(threads(), n) if work >= MIN_PARALLEL and not _serial() else 1
    if count <= 1:
        fn(slice(0, n))
        return
    per = -(-n // count)
    parts = [slice(i, min(i + per, n)) for i in range(0, n, per)]
    pool = _get_pool(count)
    futures = [pool.submit(_task, fn, part) for part in parts[1:]]
    fn(parts[0])
    for f in futures:
        f.result()


def channel_sum(a: np.ndarray) -> np.ndarray:
    """a (..., C) summed over every axis but the last, rows split across the threads."""
    rows = np.ascontiguousarray(a).reshape(-1, a.shape[-1])  # (..., C) -> (M, C)
    count = threads() if rows.size >= MIN_PARALLEL and not _serial() else 1
    if count == 1:
        return rows.sum(axis=0)
    pool = _get_pool(count)
    per = -(-len(rows) // count)
    parts = [rows[i:i + per] for i in range(0, len(rows), per)]
    futures = [pool.submit(_task, np.sum, p, 0) for p in parts[1:]]
    total = parts[0].sum(axis=0)
    for f in futures:
        total += f.result()
    return total

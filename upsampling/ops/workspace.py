"""Reusable scratch buffers for the kernels' temporaries (patch matrices, per-tap products).

Fresh memory costs a page fault per 4 KiB on first touch, which for the tens of megabytes a
convolution's intermediates take is as slow as the arithmetic. Kernels therefore borrow their
temporaries from a per-thread pool, keyed by a name so two temporaries alive at once never share
memory. A borrowed array is only valid until the next `scratch` call with the same name on the
same thread: never return one to a caller, and never keep one in a cache for the backward pass.
"""
from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype`, reused across calls."""
    dtype = np.dtype(dtype)
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    count = 1
    for s in shape:
        count *= int(s)
    nbytes = count * dtype.itemsize
    buf = pool.get(name)
    if buf is None or buf.size < nbytes:
        buf = pool[name] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def release() -> None:
    """Drop this thread's buffers (they are reallocated on demand)."""
    _local.pool = {}

"""Reusable scratch buffers for the kernels' temporaries (patch matrices, per-tap products).

Fresh memory costs a page fault per 4 KiB on first touch, which for the tens of megabytes a
convolution's intermediates take is as slow as the arithmetic. Kernels therefore borrow their
temporaries from a per-thread pool, keyed by a name so two temporaries alive at once never share
memory. A borrowed array is only valid until the next `scratch` call with the same name on the
same thread: never return one to a caller, and never keep one in a cache for the backward pass.
"""
from __future__ import annotations

import ctypes
import os
import platform
import threading

import numpy as np

_local = threading.local()
_kept = None


def keep_freed_memory() -> bool:
    """Ask glibc to serve large arrays from its heap and keep what is freed for reuse.

    By default glibc maps every allocation over 32 MB (and many over 128 KB) fresh from the kernel
    and unmaps it on free, so each training step's activations (50 MB at a DCGAN's 28x28x128 layer,
    batch 128) page-fault all over again: here that doubled the time of an elementwise pass.
    With mmap off (M_MMAP_MAX = 0) and a 1 GB trim threshold, freed arrays stay in the process and
    the next step's arrays reuse them. Called once when the kernels are imported; set
    UPSAMPLING_KEEP_MEMORY=0 to leave malloc alone. Returns whether the setting was applied
    (only on Linux with glibc).
    """
    global _kept
    if _kept is not None:
        return _kept
    _kept = False
    if os.environ.get("UPSAMPLING_KEEP_MEMORY", "1").strip() == "0":
        return _kept
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return _kept
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # mallopt parameters from glibc's malloc.h
        _kept = bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        _kept = False
    return _kept


keep_freed_memory()


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

"""Read and write IDX files (the MNIST / Fashion-MNIST format), plain or gzipped, with NumPy.

An IDX file is a 4-byte magic number ``0x0000TTNN`` (``TT`` = element type, ``NN`` = number of
dimensions), ``NN`` big-endian uint32 dimension sizes, then the elements in C order. MNIST's image
files are ``0x00000803`` (uint8, 3 dims: count, rows, cols) and label files ``0x00000801``.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# IDX type code -> big-endian NumPy dtype.
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


def _read_bytes(path) -> bytes:
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"Corrupt IDX file {path}: not a valid gzip file ({e}).") from e


def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """Parse one IDX file (``.gz`` is decompressed) into a native-endian NumPy array.

    ``expected_magic`` (e.g. ``IMAGES_MAGIC``) is checked when given. Any malformed file raises
    ``ValueError`` naming the file and what is wrong with it.
    """
    data = _read_bytes(path)
    path = os.fspath(path)
    if len(data) < 4:
        raise ValueError(f"Corrupt IDX file {path}: {len(data)} bytes, too short for a header.")
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"Corrupt IDX file {path}: magic number 0x{magic:08x}, "
            f"expected 0x{expected_magic:08x}."
        )
    if magic >> 16 != 0 or type_code not in _DTYPES or ndim == 0:
        raise ValueError(f"Corrupt IDX file {path}: invalid magic number 0x{magic:08x}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"Corrupt IDX file {path}: header truncated ({len(data)} bytes).")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"Corrupt IDX file {path}: header says shape {shape} ({expected} data bytes) "
            f"but the file holds {len(data) - header} data bytes."
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends with ``.gz``)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX cannot store this dtype. Received: array.dtype={array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, _DTYPES[code]).tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)

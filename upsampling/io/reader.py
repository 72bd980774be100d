"""The one bounded, validating reader behind every file format in `upsampling.io`.

Every loader goes through here, so the same rules hold for `.keras`, legacy `.h5`,
`.weights.h5` and the older `.model` / `.npz` files:

- a path that is missing gives `FileNotFoundError`; a folder, a truncated or damaged zip or HDF5
  file, malformed or too deeply nested JSON give a `ValueError` that names the file and what is
  wrong (`LoadError`, a `ValueError` subclass);
- every zip member's declared size is checked against `Limits` before it is read, and it is then
  read with that cap (a member that expands far beyond its compressed size is refused as a zip
  bomb before anything is decompressed);
- every array's declared shape and dtype are checked before its data is read, and the weights a
  configuration asks a layer to create are checked (`weight_budget`) before they are allocated;
- nothing is unpickled or evaluated: `.npy` headers are parsed with `allow_pickle=False` rules
  (object arrays refused), JSON is data only.
"""
from __future__ import annotations

import contextlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class LoadError(ValueError):
    """A file could not be loaded; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Limits:
    """Bounds applied while loading (defaults fit any model this library can train on a CPU).

    max_member_bytes: largest uncompressed zip member, and largest single array in bytes.
    max_total_bytes: all members (or all arrays) of one file together.
    max_ratio / ratio_floor_bytes: a member larger than `ratio_floor_bytes` that expands more than
        `max_ratio` times its compressed size is refused as a zip bomb.
    max_json_depth: deepest nesting of `[` / `{` in a JSON document.
    max_json_bytes: largest JSON document (an architecture is a few KB to a few MB).
    max_weight_elements: largest weight a configuration may declare (elements).
    max_total_weight_elements: all weights of one model together (elements).
    """

    max_member_bytes: int = 2 << 30
    max_total_bytes: int = 4 << 30
    max_ratio: int = 200
    ratio_floor_bytes: int = 16 << 20
    max_json_depth: int = 64
    max_json_bytes: int = 64 << 20
    max_weight_elements: int = 1 << 28
    max_total_weight_elements: int = 1 << 29


DEFAULT_LIMITS = Limits()


def fail(path, what: str) -> LoadError:
    return LoadError(f"{path}: {what}")


def check_path(path) -> Path:
    """`path` as a Path that names an existing regular file (FileNotFoundError / LoadError)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise fail(path, "is a folder, not a model or weights file.")
    if not path.is_file():
        raise fail(path, "is not a regular file.")
    return path


def sniff(path) -> str:
    """'zip', 'hdf5' or 'unknown' from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head == HDF5_MAGIC:
        return "hdf5"
    return "unknown"


# ---------------------------------------------------------------------------------- zip members
class BoundedZip:
    """A zip archive opened for bounded reads: `read(name)` checks and caps every member."""

    def __init__(self, source, limits: Limits = DEFAULT_LIMITS, path=None, what: str = "it"):
        """`source`: a path, or bytes with `path` naming where they came from."""
        self.path, self.limits = (source if path is None else path), limits
        try:
            self._zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
            infos = self._zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise fail(self.path, f"{what} is not a readable zip archive (truncated or damaged): "
                                  f"{exc}") from None
        self._infos = {}
        total = 0
        for info in infos:
            if info.filename in self._infos:
                raise fail(self.path, f"holds the member {info.filename!r} twice.")
            self._infos[info.filename] = info
            total += info.file_size
        if total > limits.max_total_bytes:
            raise fail(self.path, f"its members declare {total} bytes in all, more than the limit of "
                                  f"{limits.max_total_bytes}.")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._zf.close()

    def names(self) -> list:
        return list(self._infos)

    def read(self, name: str) -> bytes:
        info = self._infos.get(name)
        if info is None:
            raise fail(self.path, f"has no member {name!r} (members: {sorted(self._infos)}).")
        lim = self.limits
        if info.file_size > lim.max_member_bytes:
            raise fail(self.path, f"member {name!r} declares {info.file_size} bytes, more than the limit "
                                  f"of {lim.max_member_bytes}.")
        if (info.file_size > lim.ratio_floor_bytes
                and info.file_size > lim.max_ratio * max(info.compress_size, 1)):
            raise fail(self.path, f"member {name!r} would expand from {info.compress_size} to "
                                  f"{info.file_size} bytes (more than {lim.max_ratio}x): refused as a "
                                  f"zip bomb.")
        try:
            with self._zf.open(info) as fh:
                # zipfile stops at the declared size; +1 proves the member is not longer
                data = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise fail(self.path, f"member {name!r} is damaged or truncated: {exc}") from None
        if len(data) != info.file_size:
            raise fail(self.path, f"member {name!r} holds {len(data)} bytes, but declares "
                                  f"{info.file_size}.")
        return data


# ---------------------------------------------------------------------------------------- JSON
def json_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in `text` (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constants(name):
    raise ValueError(f"the non-standard JSON constant {name} is not allowed")


def parse_json(data, path, what: str, limits: Limits = DEFAULT_LIMITS, expect=dict):
    """Decode JSON `data` (bytes or str) describing `what`, with a depth limit; LoadError if bad."""
    if len(data) > limits.max_json_bytes:
        raise fail(path, f"{what} is {len(data)} bytes long, more than the limit of {limits.max_json_bytes}.")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else str(data)
    except UnicodeDecodeError as exc:
        raise fail(path, f"{what} is not UTF-8 text: {exc}") from None
    depth = json_depth(text)
    if depth > limits.max_json_depth:
        raise fail(path, f"{what} nests {depth} levels deep, more than the limit of {limits.max_json_depth}.")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise fail(path, f"{what} is not valid JSON: {exc}") from None
    if expect is not None and not isinstance(value, expect):
        raise fail(path, f"{what} must be a JSON {'object' if expect is dict else expect.__name__}. "
                         f"Received: {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------- arrays
_ALLOWED_KINDS = "fiub"  # float, signed/unsigned int, bool: never object, string, complex, void


def check_array_header(shape, dtype, path, where: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse an array of a non-numeric dtype or larger than the limits, from its header alone."""
    dtype = np.dtype(dtype)
    if dtype.kind not in _ALLOWED_KINDS or dtype.hasobject or dtype.fields is not None:
        raise fail(path, f"{where} has dtype {dtype}; only real numeric arrays are allowed.")
    size = int(np.prod([int(d) for d in shape], dtype=object)) if len(shape) else 1
    if size * dtype.itemsize > limits.max_member_bytes:
        raise fail(path, f"{where} declares shape {tuple(shape)} ({size * dtype.itemsize} bytes), more "
                         f"than the limit of {limits.max_member_bytes}.")


def read_npz(data: bytes, path, what: str, limits: Limits = DEFAULT_LIMITS) -> dict:
    """{name: array} of an `.npz` archive held in `data`: headers checked before any data is read,
    `allow_pickle=False` rules (object arrays refused)."""
    out = {}
    with BoundedZip(data, limits, path=path, what=what) as inner:
        for name in inner.names():
            raw = inner.read(name)
            key = name[:-4] if name.endswith(".npy") else name
            out[key] = _read_npy(raw, path, f"{what} array {key!r}", limits)
    return out


def _read_npy(raw: bytes, path, where: str, limits: Limits) -> np.ndarray:
    fh = io.BytesIO(raw)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
    except ValueError as exc:
        raise fail(path, f"{where} has a malformed .npy header: {exc}") from None
    check_array_header(shape, dtype, path, where, limits)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    body = raw[fh.tell():]
    if len(body) != count * dtype.itemsize:
        raise fail(path, f"{where} declares shape {shape} of {dtype} ({count * dtype.itemsize} bytes) but "
                         f"holds {len(body)} bytes.")
    arr = np.frombuffer(body, dtype=dtype, count=count)
    return (arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)).copy()


# ---------------------------------------------------------------------------------------- HDF5
def h5py_module():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading and writing Keras .keras / .h5 files needs h5py: "
                          "pip install 'upsampling[keras]'") from None
    return h5py


@contextlib.contextmanager
def open_hdf5(source, path, what: str = "the file"):
    """Open an HDF5 file (a path or bytes) read-only; LoadError if it is truncated or damaged."""
    h5py = h5py_module()
    try:
        fobj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        f = h5py.File(fobj, "r")
    except (OSError, ValueError) as exc:
        raise fail(path, f"{what} is not a readable HDF5 file (truncated or damaged): {exc}") from None
    try:
        yield f
    except (OSError, KeyError, RuntimeError) as exc:  # damage found while reading
        raise fail(path, f"{what} is damaged: {exc}") from None
    finally:
        f.close()


def read_dataset(node, path, where: str, expected_shape=None, expected_kind="f",
                 limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Read an h5py dataset after checking (from its header) that it is one, its dtype kind is
    numeric (`expected_kind`: 'f' floating, 'i' integer or float), and its shape is `expected_shape`."""
    h5py = h5py_module()
    if not isinstance(node, h5py.Dataset):
        raise fail(path, f"{where} is not an array (found {type(node).__name__}).")
    dtype, shape = node.dtype, tuple(node.shape)
    check_array_header(shape, dtype, path, where, limits)
    if expected_kind == "f" and dtype.kind != "f":
        raise fail(path, f"{where} has dtype {dtype}; a floating-point array is expected.")
    if expected_shape is not None and shape != tuple(expected_shape):
        raise fail(path, f"{where} has shape {shape}; the model expects {tuple(expected_shape)}.")
    try:
        return np.asarray(node[()])
    except (OSError, ValueError, TypeError) as exc:
        raise fail(path, f"{where} cannot be read (damaged data): {exc}") from None


# --------------------------------------------------------------------- weights declared by a config
@contextlib.contextmanager
def weight_budget(path, limits: Limits = DEFAULT_LIMITS, max_bytes_per_weight=None):
    """While active, a layer built from a loaded configuration may not create a weight larger than
    the limits (or than `max_bytes_per_weight`, e.g. the size of the weights file that must hold
    it): the check runs before the weight is allocated."""
    from upsampling.layers import base
    total = [0]

    def guard(layer, name, shape, dtype):
        size = 1
        for d in shape:
            size *= int(d)
        nbytes = size * np.dtype(dtype).itemsize
        where = f"layer '{layer.name}' ({type(layer).__name__}) declares weight `{name}` of shape {tuple(shape)}"
        if size > limits.max_weight_elements:
            raise fail(path, f"{where}: {size} elements, more than the limit of {limits.max_weight_elements}.")
        if max_bytes_per_weight is not None and nbytes > max_bytes_per_weight:
            raise fail(path, f"{where}: {nbytes} bytes, more than the {max_bytes_per_weight} bytes of "
                             f"stored weights that should hold it.")
        total[0] += size
        if total[0] > limits.max_total_weight_elements:
            raise fail(path, f"{where}: the model's weights would exceed the limit of "
                             f"{limits.max_total_weight_elements} elements.")

    previous = base.weight_guard
    base.weight_guard = guard
    try:
        yield
    finally:
        base.weight_guard = previous

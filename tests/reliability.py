"""Shared pieces of the reliability tests: a tiny image folder, tiny training runs, file snapshots."""
from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def make_images(folder: Path, n: int = 16, size: int = 8, seed: int = 0) -> Path:
    """`n` random grayscale PNGs of size x size: 2 steps an epoch at --batch-size 8."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def train_args(images: Path, out: Path, epochs: int = 2, *extra: str) -> list:
    return ["train", "--data", str(images), "--filters", "4", "--latent-dim", "4", "--batch-size", "8",
            "--epochs", str(epochs), "--out", str(out), *extra]


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (its pixel data is a few bytes): a decompression bomb
    as far as a loader that trusts the header is concerned."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def snapshot(folder: Path) -> dict:
    """Every file under `folder`: its bytes' SHA-256 and its modification time."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


def checkpoint_arrays(path: Path) -> dict:
    """A checkpoint's arrays and its meta (JSON) for exact comparison."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    meta.pop("elapsed", None)  # the run's wall-clock time: differs between identical runs
    return {"meta": meta, **arrays}


def assert_same_checkpoint(a: Path, b: Path) -> None:
    x, y = checkpoint_arrays(a), checkpoint_arrays(b)
    assert x["meta"] == y["meta"], {k: (x["meta"].get(k), y["meta"].get(k)) for k in x["meta"] if x["meta"].get(k) != y["meta"].get(k)}
    assert sorted(x) == sorted(y)
    for k in x:
        if k != "meta":
            np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def cli(args: list, **kw) -> subprocess.Popen:
    """`python -m upsampling ARGS` in a child process, importing this checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "upsampling", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def python(code: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)

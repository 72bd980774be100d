"""Verified downloads of the MNIST / Fashion-MNIST IDX files (stdlib ``urllib`` only).

Every file is streamed into a temporary file inside the destination folder, its SHA-256 is
checked against the expected value, and only then is it renamed into place with ``os.replace``
(atomic), so a folder never holds a partial or unverified file under its real name.

The SHA-256 values below are those of the official ``.gz`` files. The MNIST ones are published
widely (torchvision mirrors, TensorFlow Datasets and many projects agree); the Fashion-MNIST ones
were cross-checked in two independent public sources (upstream publishes only MD5s). Debian's
``dataset-fashion-mnist`` package ships the same images re-gzipped, so its ``.gz`` files have other
hashes; that does not matter here because files found on disk are read, not hash-checked.
"""
from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from upsampling.atomic import atomic_target

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# SHA-256 of the official .gz files, in FILES order.
SHA256 = {
    "mnist": dict(zip(FILES, (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ))),
    "fashion_mnist": dict(zip(FILES, (
        "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    ))),
}

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion_mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

_CHUNK = 1 << 16


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download_files(files: dict, base_url: str, dest_dir, *, timeout: float = 60.0) -> list[Path]:
    """Download ``base_url + name`` for each ``name -> sha256`` in ``files`` into ``dest_dir``.

    Every file must come with its expected SHA-256: a missing hash raises ``ValueError`` before
    anything is fetched. A hash mismatch raises ``ValueError`` naming the file, the expected and
    the actual hash, and leaves nothing behind. Network failures propagate as ``OSError``
    (``urllib.error.URLError`` is one). Returns the installed paths.
    """
    unverified = [name for name, digest in files.items() if not digest]
    if unverified:
        raise ValueError(
            f"No SHA-256 given for {', '.join(unverified)}; refusing to download without "
            "verification. Pass files={name: sha256}."
        )
    dest_dir = Path(dest_dir).expanduser()
    dest_dir.mkdir(parents=True, exist_ok=True)
    if not base_url.endswith("/"):
        base_url += "/"
    return [_fetch_one(base_url + name, name, digest.lower(), dest_dir, timeout)
            for name, digest in files.items()]


def _fetch_one(url: str, name: str, expected: str, dest_dir: Path, timeout: float) -> Path:
    target = dest_dir / name
    with atomic_target(target, suffix=".part") as tmp:  # renamed into place only if the hash matches
        h = hashlib.sha256()
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(_CHUNK), b""):
                h.update(block)
                out.write(block)
        actual = h.hexdigest()
        if actual != expected:
            raise ValueError(
                f"SHA-256 mismatch for {name} downloaded from {url}: "
                f"expected {expected}, got {actual}. The file was discarded."
            )
    return target

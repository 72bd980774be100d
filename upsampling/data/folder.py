"""Load a folder of images (recursively) into one uint8 NHWC array with Pillow."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Limits that keep a folder from exhausting memory; both checked from image headers, before decoding.
MAX_IMAGE_PIXELS = 4096 * 4096  # one image (height x width)
MAX_FOLDER_BYTES = 2 ** 31  # all images as float32 (what the trainer holds): 2 GiB


def image_size_tuple(image_size):
    """``None`` | int | (height, width) -> ``None`` or an (height, width) tuple of positive ints."""
    if image_size is None:
        return None
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be a positive int or a (height, width) pair. "
            f"Received: image_size={image_size!r}"
        )
    return int(size[0]), int(size[1])


def _check_pixels(path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(
            f"Image {path} is {width}x{height} ({width * height:,} pixels), more than the limit of "
            f"{MAX_IMAGE_PIXELS:,} pixels an image (upsampling.data.folder.MAX_IMAGE_PIXELS); shrink it first."
        )


def list_images(folder) -> list[Path]:
    """Image files under ``folder`` (any depth), sorted by their path relative to it."""
    folder = Path(folder)
    files = [
        Path(root) / f
        for root, _, names in os.walk(folder)
        for f in names
        if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
    ]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def load_image_folder(folder, *, image_size=None, grayscale=True) -> np.ndarray:
    """Every image under ``folder`` as uint8 (N, H, W, C), C = 1 (grayscale) or 3 (RGB).

    Without ``image_size`` all images must have the size of the first one (in sorted path
    order); otherwise a ``ValueError`` names the first file that differs. With ``image_size``
    (int or (height, width)) every image is resized with Pillow's bilinear filter.

    Images over ``MAX_IMAGE_PIXELS`` (and decompression bombs), and folders whose images would
    take more than ``MAX_FOLDER_BYTES`` as float32, raise ``ValueError`` before decoding.
    """
    from PIL import Image

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder of images at {folder}.")
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(
            f"No images found under {folder} (looked for {', '.join(IMAGE_EXTENSIONS)})."
        )
    size = image_size_tuple(image_size)
    mode = "L" if grayscale else "RGB"
    channels = 1 if grayscale else 3
    out = []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as im:
                    _check_pixels(path, im.width, im.height)
                    im = im.convert(mode)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ValueError(f"Image {path} is a possible decompression bomb, with more than the limit of "
                             f"{MAX_IMAGE_PIXELS:,} pixels an image ({e}); shrink it first.") from None
        except (OSError, SyntaxError) as e:  # Pillow reports some broken files as SyntaxError
            raise ValueError(f"Cannot read image {path}: {e}") from e
        target = size or (im.height, im.width)
        need = len(files) * target[0] * target[1] * channels * 4
        if need > MAX_FOLDER_BYTES:
            raise ValueError(
                f"The {len(files)} images under {folder} at {target[0]}x{target[1]} would need "
                f"{need / 2**30:.1f} GiB as float32, more than the limit of {MAX_FOLDER_BYTES / 2**30:.0f} GiB; "
                "pass a smaller image_size or use fewer images.")
        if size is None:
            size = (im.height, im.width)
        if (im.height, im.width) != size:
            if image_size is None:
                raise ValueError(
                    f"Image {path} is {im.height}x{im.width} but the first image is "
                    f"{size[0]}x{size[1]}; pass image_size=(height, width) to resize all images."
                )
            im = im.resize((size[1], size[0]), getattr(Image, "Resampling", Image).BILINEAR)
        out.append(np.asarray(im, np.uint8).reshape(size[0], size[1], -1))
    return np.stack(out)

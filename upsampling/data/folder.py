"""Load a folder of images (recursively) into one uint8 NHWC array with Pillow."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


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
    out = []
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert(mode)
        except OSError as e:
            raise ValueError(f"Cannot read image {path}: {e}") from e
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

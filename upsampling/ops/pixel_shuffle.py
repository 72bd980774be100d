"""Depth-to-space (PixelShuffle) and space-to-depth, NHWC, pure NumPy; each is the other's adjoint.

Two channel orders, as ONNX names them (``DepthToSpace`` mode):

* ``"DCR"`` (depth-column-row; TensorFlow's ``tf.nn.depth_to_space``, ONNX's default): input
  channel ``(i * r + j) * C + c`` goes to output pixel ``(h * r + i, w * r + j)``, channel ``c``.
* ``"CRD"`` (column-row-depth; PyTorch's ``PixelShuffle``, ONNX mode CRD): input channel
  ``c * r * r + i * r + j`` goes to the same place.
"""
from __future__ import annotations

import numpy as np

MODES = ("DCR", "CRD")


def depth_to_space(x: np.ndarray, block: int, mode: str = "DCR") -> np.ndarray:
    """x (N, H, W, C*r*r) -> (N, H*r, W*r, C), a pure rearrangement (a copy)."""
    n, h, w, cr = x.shape
    r = int(block)
    c = cr // (r * r)
    if mode == "DCR":
        t = x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5)  # (N, H, i, W, j, C)
    else:
        t = x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3)  # (N, H, i, W, j, C)
    return t.reshape(n, h * r, w * r, c)


def space_to_depth(y: np.ndarray, block: int, mode: str = "DCR") -> np.ndarray:
    """y (N, H*r, W*r, C) -> (N, H, W, C*r*r): the inverse (and adjoint) of :func:`depth_to_space`."""
    n, hr, wr, c = y.shape
    r = int(block)
    h, w = hr // r, wr // r
    t = y.reshape(n, h, r, w, r, c)  # (N, H, i, W, j, C)
    if mode == "DCR":
        t = t.transpose(0, 1, 3, 2, 4, 5)  # (N, H, W, i, j, C)
    else:
        t = t.transpose(0, 1, 3, 5, 2, 4)  # (N, H, W, C, i, j)
    return t.reshape(n, h, w, c * r * r)

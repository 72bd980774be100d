"""ZeroPadding2D and Cropping2D (Keras 3 arguments); Reshape and Flatten live in `core` and are re-exported."""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import shapes
from upsampling.layers.base import Layer
from upsampling.layers.core import Flatten, Reshape

__all__ = ["Cropping2D", "Flatten", "Reshape", "ZeroPadding2D"]


def _amount(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0


def pairs2d(value, name: str, owner: str) -> tuple:
    """An int, (rows, cols) or ((top, bottom), (left, right)) of non-negative ints -> the last form."""
    if _amount(value):
        return ((int(value),) * 2,) * 2
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(_amount(v) for v in value):
            return tuple((int(v), int(v)) for v in value)
        if all(isinstance(v, (tuple, list)) and len(v) == 2 and all(_amount(e) for e in v) for v in value):
            return tuple((int(v[0]), int(v[1])) for v in value)
    raise ValueError(f"{owner}: `{name}` must be a non-negative integer, a tuple of 2 non-negative integers "
                     f"(rows, columns) or a tuple of 2 tuples of 2 non-negative integers ((top, bottom), "
                     f"(left, right)). Received: {name}={value!r}")


class _Spatial2D(Layer):
    """Shared shape bookkeeping: `amounts` ((top, bottom), (left, right)) added (sign +1) or removed (-1)."""

    input_ndim = 4
    _sign = 1

    def _axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for axis, (before, after) in zip(self._axes(), self._amounts):
            if out[axis] is not None:
                out[axis] += self._sign * (before + after)
        return tuple(out)


class ZeroPadding2D(_Spatial2D):
    """Adds rows and columns of zeros around an image batch."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = self._amounts = pairs2d(padding, "padding", self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)

    def call_forward(self, x, training):
        widths = [(0, 0)] * 4
        for axis, amount in zip(self._axes(), self.padding):
            widths[axis] = amount
        y = np.pad(x, widths)
        keep = tuple(slice(before, before + size) for (before, _), size in zip(widths, x.shape))
        return y, lambda dy, grads: dy[keep]  # the gradient of the input is its window in dy

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class Cropping2D(_Spatial2D):
    """Removes rows and columns from the edges of an image batch."""

    _sign = -1

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = self._amounts = pairs2d(cropping, "cropping", self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)

    def build(self, input_shape):
        for axis, (before, after) in zip(self._axes(), self.cropping):
            if input_shape[axis] is not None and before + after >= input_shape[axis]:
                raise self._error(f"`cropping` must leave at least one row and one column: it removes "
                                  f"{before + after} of the {input_shape[axis]} elements of axis {axis}. "
                                  f"Received: cropping={self.cropping}, input_shape={tuple(input_shape)}")

    def _check_built_compatible(self, shape):
        self.build(shape)  # every new input size must still be larger than the crop

    def call_forward(self, x, training):
        keep = [slice(None)] * 4
        for axis, (before, after) in zip(self._axes(), self.cropping):
            keep[axis] = slice(before, x.shape[axis] - after)
        keep = tuple(keep)

        def backward(dy, grads):
            dx = np.zeros(x.shape, dy.dtype)
            dx[keep] = dy
            return dx

        return x[keep], backward

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}

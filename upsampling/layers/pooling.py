"""MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D and GlobalMaxPooling2D (Keras 3 arguments).

Windowed pooling follows TensorFlow's padding rule (see `upsampling.ops.pooling`). Keras's torch
backend differs in one corner: for an average over 'same' padding that is uneven (the extra pixel
after), it replicates the edge pixels instead of leaving the padding out of the count.
"""
from __future__ import annotations

import numpy as np

from upsampling import shapes
from upsampling.layers.base import Layer
from upsampling.layers.convolutional import to_channels_first, to_channels_last
from upsampling.ops.pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward


class _Pooling2D(Layer):
    """pool_size, strides (None: pool_size), padding and data_format of the windowed poolings."""

    input_ndim = 4
    _kernels = None  # (forward, backward)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = shapes.pair(pool_size, "pool_size", self._owner)
        self.strides = self.pool_size if strides is None else shapes.pair(strides, "strides", self._owner)
        self.padding = shapes.normalize_padding(padding, self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)

    def _hw(self, input_shape):
        return input_shape[2:4] if self.data_format == "channels_first" else input_shape[1:3]

    def _lengths(self, input_shape):
        out = []
        for i, k, s in zip(self._hw(input_shape), self.pool_size, self.strides):
            length = shapes.conv_output_length(i, k, s, 1, self.padding)
            if length is not None and length <= 0:
                raise self._error(f"computed output size would be zero or negative: the pooling window "
                                  f"(pool_size={self.pool_size}) is larger than the 'valid' input. "
                                  f"Received input_shape={tuple(input_shape)}")
            out.append(length)
        return tuple(out)

    def build(self, input_shape):
        self._lengths(input_shape)

    def compute_output_shape(self, input_shape):
        lengths = self._lengths(input_shape)
        if self.data_format == "channels_first":
            return tuple(input_shape[:2]) + lengths
        return (input_shape[0],) + lengths + (input_shape[3],)

    def call_forward(self, x, training):
        forward, backward_kernel = self._kernels
        x = to_channels_last(x, self.data_format)
        pads = tuple(shapes.conv_padding(i, k, s, 1, self.padding)
                     for i, k, s in zip(x.shape[1:3], self.pool_size, self.strides))
        y, cache = forward(x, pool_size=self.pool_size, strides=self.strides, pads=pads)

        def backward(dy, grads):
            return to_channels_first(backward_kernel(to_channels_last(dy, self.data_format), cache),
                                     self.data_format)

        return to_channels_first(y, self.data_format), backward

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """The largest value of each pool_size window, windows `strides` apart."""

    _kernels = (staticmethod(max_pool2d), staticmethod(max_pool2d_backward))


class AveragePooling2D(_Pooling2D):
    """The mean of each pool_size window over its in-image elements, windows `strides` apart."""

    _kernels = (staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward))


class _GlobalPooling2D(Layer):
    """Reduce the two spatial axes; keepdims keeps them as length 1."""

    input_ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise self._error(f"`keepdims` must be True or False. Received: keepdims={keepdims!r}")
        self.keepdims = bool(keepdims)
        self._axes = (2, 3) if self.data_format == "channels_first" else (1, 2)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return tuple(1 if a in self._axes else v for a, v in enumerate(input_shape))
        return tuple(v for a, v in enumerate(input_shape) if a not in self._axes)

    def _expand(self, dy):
        """dy of the output -> shape broadcastable against the input."""
        return dy if self.keepdims else np.expand_dims(dy, self._axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width."""

    def call_forward(self, x, training):
        y = x.mean(axis=self._axes, keepdims=self.keepdims)
        count = x.shape[self._axes[0]] * x.shape[self._axes[1]]
        return y, lambda dy, grads: np.broadcast_to(self._expand(dy) / dy.dtype.type(count), x.shape).copy()


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over height and width. Tied maxima share the gradient equally, as in TensorFlow and
    PyTorch's `amax` (a feature map of ReLU zeros passes its gradient to all of its pixels)."""

    def call_forward(self, x, training):
        y = x.max(axis=self._axes, keepdims=True)

        def backward(dy, grads):
            winners = (x == y).astype(dy.dtype)
            return winners * (self._expand(dy) / winners.sum(axis=self._axes, keepdims=True))

        return (y if self.keepdims else np.squeeze(y, self._axes)), backward


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D

"""UpSampling2D: repeat rows and columns (nearest) or interpolate, with Keras 3's numbers."""
from __future__ import annotations

from upsampling import shapes
from upsampling.layers.base import Layer
from upsampling.layers.convolutional import to_channels_first, to_channels_last
from upsampling.ops.resize import INTERPOLATIONS, upsample2d, upsample2d_backward


class UpSampling2D(Layer):
    """Upsample rows by size[0] and columns by size[1]. No weights.

    interpolation: 'nearest' (repeat), 'bilinear', 'bicubic' (Keys a=-0.5), 'lanczos3', 'lanczos5';
    checked here in the constructor (Keras only fails at call time).
    """

    input_ndim = 4

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = shapes.pair(size, "size", self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
            raise self._error(f"invalid value for argument `interpolation`: expected one of "
                              f"{INTERPOLATIONS}. Received: interpolation={interpolation!r}")
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        n = input_shape[0]
        scale = lambda v, s: None if v is None else v * s  # noqa: E731
        if self.data_format == "channels_first":
            return (n, input_shape[1], scale(input_shape[2], self.size[0]), scale(input_shape[3], self.size[1]))
        return (n, scale(input_shape[1], self.size[0]), scale(input_shape[2], self.size[1]), input_shape[3])

    def call_forward(self, x, training):
        y, cache = upsample2d(to_channels_last(x, self.data_format), size=self.size,
                              interpolation=self.interpolation)

        def backward(dy, grads):
            dx = upsample2d_backward(to_channels_last(dy, self.data_format), cache)
            return to_channels_first(dx, self.data_format)

        return to_channels_first(y, self.data_format), backward

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}

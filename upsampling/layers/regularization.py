"""Regularization layers: GaussianNoise and SpatialDropout2D (Dropout lives in `core`, re-exported here).

All are the identity at inference; they act only when called with training=True (as `fit` and
`train_on_batch` do).
"""
from __future__ import annotations

import numbers

from upsampling import random as urandom
from upsampling import shapes
from upsampling.layers.base import Layer
from upsampling.layers.core import Dropout

__all__ = ["Dropout", "GaussianNoise", "SpatialDropout2D"]


class GaussianNoise(Layer):
    """Adds zero-mean normal noise of standard deviation `stddev` (Keras 3: 0 <= stddev <= 1) in training."""

    min_ndim = 1

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stddev, numbers.Real) or isinstance(stddev, bool) or not 0 <= stddev <= 1:
            raise self._error(f"`stddev` must be a float between 0 and 1. Received: stddev={stddev!r}")
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise self._error(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.stddev, self.seed = float(stddev), seed
        self._rng = urandom.generator(seed) if seed is not None else None

    def call_forward(self, x, training):
        if training and self.stddev > 0:
            rng = self._rng or urandom.generator()
            x = x + rng.normal(0.0, self.stddev, x.shape).astype(x.dtype, copy=False)
        return x, lambda dy, grads: dy  # the noise does not depend on x

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps: in training each (sample, channel) map is zeroed with
    probability `rate` and the kept maps are scaled by 1 / (1 - rate)."""

    input_ndim = 4

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        if "noise_shape" in kwargs:
            raise TypeError(f"SpatialDropout2D: `noise_shape` is fixed (one draw per feature map). "
                            f"Received: noise_shape={kwargs['noise_shape']!r}")
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        # keep the batch and channel axes, share one draw over the rows and columns
        self.noise_shape = (None, None, 1, 1) if self.data_format == "channels_first" else (None, 1, 1, None)

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        config.pop("noise_shape")
        return config

"""ReLU and LeakyReLU layers (Keras 3 defaults; Keras 2's `alpha=` accepted)."""
from __future__ import annotations

import numbers

from upsampling.layers.base import Layer, deprecated_alias
from upsampling.ops.activations import leaky_relu, leaky_relu_backward, relu, relu_backward


def _non_negative(value, name, owner, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}: `{name}` must be a non-negative number. Received: {name}={value!r}")
    return float(value)


class ReLU(Layer):
    """max(x, 0) with optional `max_value`, `negative_slope` below `threshold`."""

    min_ndim = 1

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _non_negative(max_value, "max_value", self._owner, allow_none=True)
        self.negative_slope = _non_negative(negative_slope, "negative_slope", self._owner)
        self.threshold = _non_negative(threshold, "threshold", self._owner)  # Keras refuses < 0 too

    def call_forward(self, x, training):
        kw = dict(negative_slope=self.negative_slope, max_value=self.max_value, threshold=self.threshold)
        y = relu(x, **kw)
        return y, lambda dy, grads: relu_backward(dy, x, y, **kw)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """x if x >= 0 else negative_slope * x (Keras layer default 0.3)."""

    min_ndim = 1

    def __init__(self, negative_slope=0.3, **kwargs):
        negative_slope = deprecated_alias(kwargs, "alpha", "negative_slope", "LeakyReLU", negative_slope)
        super().__init__(**kwargs)
        if negative_slope is None or not isinstance(negative_slope, numbers.Real) or negative_slope < 0:
            raise self._error(f"the `negative_slope` value of a Leaky ReLU layer cannot be None or "
                              f"negative. Received: negative_slope={negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def call_forward(self, x, training):
        y = leaky_relu(x, self.negative_slope)
        return y, lambda dy, grads: leaky_relu_backward(dy, x, y, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}

"""BatchNormalization with Keras 3 defaults and training/inference behaviour."""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import initializers
from upsampling.layers.base import Layer
from upsampling.ops.normalization import batch_norm_infer, batch_norm_train, batch_norm_train_backward


class BatchNormalization(Layer):
    """Normalise over every axis but `axis`.

    Training (``training=True`` and the layer trainable): batch mean and biased variance, and
    moving = moving * momentum + batch * (1 - momentum). Otherwise the moving statistics, which is
    what a frozen (trainable=False) layer uses even inside a training step, as in Keras.
    Weights: gamma, beta, moving_mean, moving_variance (the last two non-trainable).
    """

    min_ndim = 2

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        from upsampling.layers.core import weight_options
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise self._error(f"`axis` must be an integer. Received: axis={axis!r}")
        for name, value, lo, hi in (("momentum", momentum, 0.0, 1.0), ("epsilon", epsilon, 0.0, np.inf)):
            if not isinstance(value, numbers.Real) or not lo <= value <= hi or (name == "epsilon" and value <= 0):
                raise self._error(f"`{name}` must be a number in [{lo}, {hi}]"
                                  f"{' and positive' if name == 'epsilon' else ''}. Received: {name}={value!r}")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        weight_options(self, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                       beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self._weight_axis = self.axis

    def build(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape) or self.axis % len(input_shape) == 0:
            raise self._error(f"`axis` must name a non-batch axis of the input. Received: axis={self.axis}, "
                              f"input_shape={tuple(input_shape)}")
        c = input_shape[self.axis]
        if c is None:
            raise self._error(f"axis {self.axis} of the input must be known. Received input_shape={input_shape}")
        self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", (c,), self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (c,), self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (c,), self.moving_variance_initializer,
                                               trainable=False)

    def call_forward(self, x, training):
        gamma = None if self.gamma is None else self.gamma.value
        beta = None if self.beta is None else self.beta.value
        if training and self.trainable:
            y, mean, var, cache = batch_norm_train(x, gamma, beta, axis=self.axis, epsilon=self.epsilon)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance.value * m + var * (1 - m))

            def backward(dy, grads):
                dx, dgamma, dbeta = batch_norm_train_backward(dy, cache)
                if self.gamma is not None:
                    grads.add(self.gamma, dgamma)
                if self.beta is not None:
                    grads.add(self.beta, dbeta)
                return dx

            return y, backward
        y, scale, xhat = batch_norm_infer(x, gamma, beta, self.moving_mean.value,
                                          self.moving_variance.value, axis=self.axis, epsilon=self.epsilon)

        def backward_infer(dy, grads):
            axes = tuple(a for a in range(x.ndim) if a != self.axis % x.ndim)
            if self.gamma is not None:
                grads.add(self.gamma, (dy * xhat).sum(axis=axes))
            if self.beta is not None:
                grads.add(self.beta, dy.sum(axis=axes))
            return dy * scale

        return y, backward_infer

    def get_config(self):
        from upsampling.layers.core import weight_options_config
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **weight_options_config(self, ("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                               "gamma_constraint"))}

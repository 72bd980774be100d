"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, InstanceNormalization."""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import initializers
from upsampling.autograd import wants_gradient
from upsampling.layers.base import Layer
from upsampling.ops.normalization import (batch_norm_infer, batch_norm_train, batch_norm_train_backward,
                                          standardize, standardize_backward)


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
            if self.gamma is not None and wants_gradient(grads, self.gamma):
                grads.add(self.gamma, (dy * xhat).sum(axis=axes))
            if self.beta is not None and wants_gradient(grads, self.beta):
                grads.add(self.beta, dy.sum(axis=axes))
            return dy * scale

        return y, backward_infer

    def get_config(self):
        from upsampling.layers.core import weight_options_config
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **weight_options_config(self, ("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                               "gamma_constraint"))}


_AFFINE_OPTIONS = ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")


class _Standardize(Layer):
    """Shared by LayerNormalization and GroupNormalization: epsilon, center/scale and their weights.

    Subclasses say which axes the statistics run over (`_view`) and how gamma/beta broadcast.
    Weights, in Keras's order: gamma (if scale), beta (if center).
    """

    min_ndim = 2

    def __init__(self, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        from upsampling.layers.core import weight_options
        if not isinstance(epsilon, numbers.Real) or isinstance(epsilon, bool) or not 0 < epsilon < np.inf:
            raise self._error(f"`epsilon` must be a positive number. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        weight_options(self, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                       beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)

    def _axis_of(self, axis, input_shape) -> int:
        """`axis` as a positive index of a non-batch axis of known size."""
        rank = len(input_shape)
        if not -rank <= axis < rank or axis % rank == 0:
            raise self._error(f"`axis` must name a non-batch axis of the input. Received: axis={self.axis}, "
                              f"input_shape={tuple(input_shape)}")
        if input_shape[axis] is None:
            raise self._error(f"axis {axis} of the input must be known. Received input_shape={tuple(input_shape)}")
        return axis % rank

    def _add_affine(self, shape):
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None

    def _view(self, x):
        """(x reshaped so the statistics run over `axes`, axes, param_shape broadcasting against x)."""
        raise NotImplementedError

    def call_forward(self, x, training):
        xv, axes, param_shape = self._view(x)
        xhat_v, _, _, cache = standardize(xv, axes=axes, epsilon=self.epsilon)
        xhat = xhat_v.reshape(x.shape)
        gamma = None if self.gamma is None else self.gamma.value.reshape(param_shape)
        y = xhat if gamma is None else xhat * gamma
        if self.beta is not None:
            y = y + self.beta.value.reshape(param_shape)
        param_axes = tuple(a for a, n in enumerate(param_shape) if n == 1)  # axes gamma is broadcast over

        def backward(dy, grads):
            if self.gamma is not None:
                grads.add(self.gamma, (dy * xhat).sum(axis=param_axes).reshape(self.gamma.shape))
            if self.beta is not None:
                grads.add(self.beta, dy.sum(axis=param_axes).reshape(self.beta.shape))
            dxhat = dy if gamma is None else dy * gamma
            return standardize_backward(dxhat.reshape(xv.shape), cache).reshape(x.shape)

        return y, backward

    def get_config(self):
        from upsampling.layers.core import weight_options_config
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                **weight_options_config(self, _AFFINE_OPTIONS)}


class LayerNormalization(_Standardize):
    """Normalise each sample over `axis` (an int or a list of ints; Keras 3 default -1, epsilon 1e-3).

    gamma and beta have the shape of the normalised axes (in increasing axis order), as in Keras.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        super().__init__(epsilon=epsilon, center=center, scale=scale, **kwargs)
        if rms_scaling:
            raise NotImplementedError(f"{self._owner}: `rms_scaling=True` is not supported by upsampling "
                                      f"(Keras 3 deprecates it too). Received: rms_scaling={rms_scaling!r}")
        ok = lambda a: isinstance(a, numbers.Integral) and not isinstance(a, bool)  # noqa: E731
        if isinstance(axis, (list, tuple)) and axis and all(ok(a) for a in axis):
            self.axis = [int(a) for a in axis]
        elif ok(axis):
            self.axis = int(axis)
        else:
            raise TypeError(f"{self._owner}: `axis` must be an integer or a list of integers. "
                            f"Received: axis={axis!r}")

    def _axes(self, input_shape) -> tuple:
        axes = sorted({self._axis_of(a, input_shape) for a in np.atleast_1d(self.axis).tolist()})
        if isinstance(self.axis, list) and len(axes) != len(self.axis):
            raise self._error(f"`axis` names the same axis twice. Received: axis={self.axis}, "
                              f"input_shape={tuple(input_shape)}")
        return tuple(axes)

    def build(self, input_shape):
        self._norm_axes = self._axes(input_shape)
        self._add_affine(tuple(input_shape[a] for a in self._norm_axes))

    def _check_built_compatible(self, shape):
        for a in self._norm_axes:
            if a >= len(shape) or shape[a] != self.input_shape_[a]:
                raise self._error(f"the normalised axes had sizes {[self.input_shape_[a] for a in self._norm_axes]} "
                                  f"when the layer was built, but received an input of shape {tuple(shape)}.")

    def _view(self, x):
        param_shape = tuple(x.shape[a] if a in self._norm_axes else 1 for a in range(x.ndim))
        return x, self._norm_axes, param_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": False}


class GroupNormalization(_Standardize):
    """Split the channels of `axis` into `groups` and normalise each sample's group over it and the
    other non-batch axes (Keras 3 defaults groups=32, axis=-1, epsilon=1e-3). groups=-1: one channel
    per group, i.e. instance normalization. gamma and beta are per channel, shape (channels,).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(epsilon=epsilon, center=center, scale=scale, **kwargs)
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise self._error(f"`groups` must be a positive integer (or -1 for instance normalization). "
                              f"Received: groups={groups!r}")
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise self._error(f"`axis` must be an integer. Received: axis={axis!r}")
        self.groups, self.axis = int(groups), int(axis)
        self._weight_axis = self.axis

    def build(self, input_shape):
        self._channel_axis = self._axis_of(self.axis, input_shape)
        channels = input_shape[self._channel_axis]
        groups = channels if self.groups == -1 else self.groups
        if groups > channels or channels % groups:
            raise self._error(f"the {channels} channels of axis {self.axis} must split evenly into `groups` "
                              f"groups. Received: groups={self.groups}, input_shape={tuple(input_shape)}")
        self._groups = groups
        self._add_affine((channels,))

    def _view(self, x):
        a = self._channel_axis
        # (N, ..., C, ...) -> (N, ..., groups, C // groups, ...): statistics over all but N and groups
        xv = x.reshape(x.shape[:a] + (self._groups, x.shape[a] // self._groups) + x.shape[a + 1:])
        axes = tuple(i for i in range(1, xv.ndim) if i != a)
        param_shape = tuple(x.shape[a] if i == a else 1 for i in range(x.ndim))
        return xv, axes, param_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis}


class InstanceNormalization(GroupNormalization):
    """Normalise each sample's channels separately over the spatial axes: GroupNormalization with
    groups=-1, as tensorflow_addons defines it (and keras-contrib for an integer `axis`); per-channel
    gamma and beta, epsilon 1e-3.

    axis=None is keras-contrib's other mode: each sample normalised over all its axes at once, with
    one scalar gamma and beta of shape (1,). The default here is axis=-1 (channels_last images).
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        if "groups" in kwargs:
            raise TypeError(f"InstanceNormalization: `groups` is fixed (one channel per group); use "
                            f"GroupNormalization for other groupings. Received: groups={kwargs['groups']!r}")
        self._whole_sample = axis is None
        super().__init__(groups=-1, axis=-1 if axis is None else axis, epsilon=epsilon, center=center,
                         scale=scale, **kwargs)
        if self._whole_sample:
            self.axis = self._weight_axis = None

    def build(self, input_shape):
        if not self._whole_sample:
            return super().build(input_shape)
        self._add_affine((1,))

    def _view(self, x):
        if not self._whole_sample:
            return super()._view(x)
        return x.reshape(x.shape[0], -1), (1,), (1,) * x.ndim  # (N, everything else)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        return config

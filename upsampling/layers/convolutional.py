"""Conv2D and Conv2DTranspose with Keras 3 arguments, weight layouts and shape rules.

Kernels run in channels_last; channels_first inputs are transposed in and out.
Conv2D kernel (kh, kw, in // groups, filters); Conv2DTranspose kernel (kh, kw, filters, in).
"""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import activations as _activations
from upsampling import initializers, shapes
from upsampling.autograd import gradient_expected, input_gradient_needed, keep_bytes, wants_gradient
from upsampling.layers.base import Layer
from upsampling.layers.core import (WEIGHT_OPTIONS, apply_activation, check_positive_int, check_unsupported,
                                    weight_options, weight_options_config)
from upsampling.ops.conv import conv2d, conv2d_backward
from upsampling.ops.conv_transpose import conv_transpose2d, conv_transpose2d_backward
from upsampling.ops.parallel import channel_sum


def to_channels_last(x, data_format):
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x  # (N,C,H,W)->(N,H,W,C)


def to_channels_first(x, data_format):
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x  # (N,H,W,C)->(N,C,H,W)


class _Conv(Layer):
    """Shared arguments, validation and weights of the two convolution layers."""

    input_ndim = 4
    skips_input_gradient = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        owner = self._owner
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise self._error(f"invalid value for argument `filters`: expected a strictly positive "
                              f"integer. Received filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = shapes.pair(kernel_size, "kernel_size", owner)
        self.strides = shapes.pair(strides, "strides", owner)
        self.padding = shapes.normalize_padding(padding, owner)
        self.data_format = shapes.normalize_data_format(data_format, owner)
        self.dilation_rate = shapes.pair(dilation_rate, "dilation_rate", owner)
        self.groups = check_positive_int(groups, "groups", owner)
        if self.filters % self.groups:
            raise self._error(f"the number of filters must be divisible by `groups`. Received: "
                              f"groups={self.groups}, filters={self.filters}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise self._error(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                              f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = _activations.get(activation, owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        check_unsupported(owner, activity_regularizer=activity_regularizer)
        weight_options(self, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._channel_axis = 1 if self.data_format == "channels_first" else -1
        self._weight_axis = self._channel_axis

    def _spatial(self, input_shape):
        if self.data_format == "channels_first":
            return input_shape[2], input_shape[3], input_shape[1]
        return input_shape[1], input_shape[2], input_shape[3]

    def _build_weights(self, input_shape, kernel_shape):
        channels = self._spatial(input_shape)[2]
        if channels is None:
            raise self._error(f"the channel axis of the input must be known. Received input_shape={input_shape}")
        if channels % self.groups:
            raise self._error(f"the number of input channels must be divisible by `groups`. Received: "
                              f"groups={self.groups}, input_shape={input_shape}")
        self.kernel = self.add_weight("kernel", kernel_shape, self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _output(self, input_shape, lengths):
        n = input_shape[0]
        if self.data_format == "channels_first":
            return self.activation.output_shape((n, self.filters) + tuple(lengths))
        return self.activation.output_shape((n,) + tuple(lengths) + (self.filters,))

    def _bias(self):
        return None if self.bias is None else self.bias.value

    def _finish(self, x, y, backward_core):
        """Layout and activation for both conv layers (the kernels add the bias);
        backward_core(dz, need_dkernel, need_dx) -> (dx_nhwc or None, dkernel or None). The
        activation sees the output in its final layout, as in Keras: with channels_first, softmax
        & co. act along the last axis (width)."""
        y, act_back = apply_activation(self.activation, to_channels_first(y, self.data_format))

        def backward(dy, grads):
            dz = to_channels_last(act_back(dy), self.data_format)
            # a frozen layer inside a training step skips its weight gradients (each on its own: a
            # trainable bias beside a frozen kernel still gets one)
            need_dkernel = wants_gradient(grads, self.kernel)
            dx, dk = backward_core(dz, need_dkernel, input_gradient_needed(grads))
            if need_dkernel:
                grads.add(self.kernel, dk)
            if self.bias is not None and wants_gradient(grads, self.bias):
                grads.add(self.bias, channel_sum(dz))
            return None if dx is None else to_channels_first(dx, self.data_format)

        return y, backward

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **weight_options_config(self, WEIGHT_OPTIONS)}


class Conv2D(_Conv):
    """2-D convolution (cross-correlation); 'same' puts the extra padding pixel at the bottom/right."""

    def build(self, input_shape):
        h, w, c = self._spatial(input_shape)
        self._output_lengths(h, w, input_shape)
        self._build_weights(input_shape, self.kernel_size + (c // self.groups if c else c, self.filters))

    def _output_lengths(self, h, w, input_shape):
        out = []
        for i, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate):
            length = shapes.conv_output_length(i, k, s, d, self.padding)
            if length is not None and length <= 0:
                raise self._error(
                    f"computed output size would be zero or negative: the kernel (kernel_size="
                    f"{self.kernel_size}, dilation_rate={self.dilation_rate}) is larger than the "
                    f"'valid' input. Received input_shape={tuple(input_shape)}")
            out.append(length)
        return out

    def compute_output_shape(self, input_shape):
        h, w, _ = self._spatial(input_shape)
        return self._output(input_shape, self._output_lengths(h, w, input_shape))

    def call_forward(self, x, training):
        x = to_channels_last(x, self.data_format)
        h, w = x.shape[1], x.shape[2]
        self._output_lengths(h, w, x.shape)
        pads = tuple(shapes.conv_padding(i, k, s, d, self.padding) for i, k, s, d in
                     zip((h, w), self.kernel_size, self.strides, self.dilation_rate))
        # in a training step that will want the kernel gradient, the patches are kept for it
        # (within the step's allowance for kept arrays)
        y, cache = conv2d(x, self.kernel.value, strides=self.strides, pads=pads,
                          dilation=self.dilation_rate, groups=self.groups, bias=self._bias(),
                          keep_patches=keep_bytes if training and gradient_expected(self.kernel) else False)
        return self._finish(x, y, lambda dz, need_dk, need_dx: conv2d_backward(dz, cache, need_dkernel=need_dk,
                                                                               need_dx=need_dx))


class Conv2DTranspose(_Conv):
    """Transposed convolution: every input pixel lays down a scaled copy of the kernel at stride s.

    `output_padding` None and 0 differ for padding='same' exactly as in Keras (i*s versus
    (i-1)*s + ke % 2 + output_padding). `groups` is an extension (Keras has none).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias, **kwargs)
        if output_padding is not None:
            output_padding = shapes.pair(output_padding, "output_padding", self._owner, minimum=0)
            for dim, (op, s) in enumerate(zip(output_padding, self.strides)):
                if op >= s:
                    raise self._error(
                        f"`output_padding` must be strictly less than `strides` for all dimensions. "
                        f"At dimension {dim}, `output_padding` is {op} but `strides` is {s}. "
                        f"Received: output_padding={output_padding}, strides={self.strides}")
        self.output_padding = output_padding

    def _ops(self):
        return self.output_padding or (None, None)

    def build(self, input_shape):
        c = self._spatial(input_shape)[2]
        self._build_weights(input_shape, self.kernel_size + (self.filters // self.groups, c))

    def compute_output_shape(self, input_shape):
        h, w, _ = self._spatial(input_shape)
        lengths = [shapes.conv_transpose_output_length(i, k, s, d, self.padding, op) for i, k, s, d, op in
                   zip((h, w), self.kernel_size, self.strides, self.dilation_rate, self._ops())]
        return self._output(input_shape, lengths)

    def call_forward(self, x, training):
        x = to_channels_last(x, self.data_format)
        crops = tuple(shapes.conv_transpose_padding(i, k, s, d, self.padding, op) for i, k, s, d, op in
                      zip(x.shape[1:3], self.kernel_size, self.strides, self.dilation_rate, self._ops()))
        y, cache = conv_transpose2d(x, self.kernel.value, strides=self.strides, crops=crops,
                                    dilation=self.dilation_rate, groups=self.groups, bias=self._bias())
        return self._finish(x, y, lambda dz, need_dk, need_dx: conv_transpose2d_backward(
            dz, cache, need_dkernel=need_dk, need_dx=need_dx))

    def get_config(self):
        config = {**super().get_config(), "output_padding": self.output_padding}
        if self.groups == 1:
            config.pop("groups")
        return config

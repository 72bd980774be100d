"""Dense, Embedding, Activation, Dropout, Reshape and Flatten."""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import activations as _activations
from upsampling import constraints, initializers, regularizers
from upsampling import random as urandom
from upsampling.autograd import input_gradient_needed, wants_gradient
from upsampling.layers.base import Layer, whole_numbers
from upsampling.ops.dense import dense, dense_backward


def check_positive_int(value, name: str, owner: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_unsupported(owner: str, **args) -> None:
    """Arguments not implemented (activity regularizers): refuse them instead of ignoring them."""
    for name, value in args.items():
        if value is not None:
            raise NotImplementedError(f"{owner}: `{name}` is not supported yet. Received: {name}={value!r}")


def weight_options(layer, **kwargs) -> None:
    """Resolve `<weight>_regularizer` / `<weight>_constraint` arguments onto the layer."""
    for key, value in kwargs.items():
        module = regularizers if key.endswith("_regularizer") else constraints
        setattr(layer, key, module.get(value, layer._owner))


def weight_options_config(layer, names) -> dict:
    out = {}
    for key in names:
        module = regularizers if key.endswith("_regularizer") else constraints
        out[key] = module.serialize(getattr(layer, key))
    return out


def apply_activation(act, y):
    """Run activation `act` on y; returns (out, backward through the activation)."""
    if act.name == "linear":
        return y, lambda dy: dy
    out = act.forward(y)
    return out, lambda dy: act.backward(dy, y, out)


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis; kernel (in, units)."""

    min_ndim = 2
    skips_input_gradient = True
    _weight_axis = -1

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units", self._owner)
        self.activation = _activations.get(activation, self._owner)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        check_unsupported(self._owner, activity_regularizer=activity_regularizer)
        weight_options(self, kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise self._error(f"the last axis of the input must be known. Received input_shape={input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return self.activation.output_shape(tuple(input_shape[:-1]) + (self.units,))

    def call_forward(self, x, training):
        kernel = self.kernel.value
        bias = None if self.bias is None else self.bias.value
        y, act_back = apply_activation(self.activation, dense(x, kernel, bias))

        def backward(dy, grads):
            dz = act_back(dy)
            need_dbias = self.bias is not None and wants_gradient(grads, self.bias)
            dx, dk, db = dense_backward(dz, x, kernel, need_dkernel=wants_gradient(grads, self.kernel),
                                        need_dbias=need_dbias, need_dx=input_gradient_needed(grads))
            if dk is not None:
                grads.add(self.kernel, dk)
            if need_dbias:
                grads.add(self.bias, db)
            return dx

        return y, backward

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **weight_options_config(self, WEIGHT_OPTIONS)}


WEIGHT_OPTIONS = ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint")


class Embedding(Layer):
    """Row lookup in a trainable table `embeddings` of shape (input_dim, output_dim).

    Integer inputs of any shape (N, ...) -> (N, ..., output_dim). Float inputs holding whole
    numbers (a label fed through a float `Input`, as many Keras scripts do) are accepted; other
    values and indices outside [0, input_dim) are refused by name. The gradient reaches the rows
    that were looked up (summed over repeats); the integer input gets a zero gradient.
    Keras 2's `input_length=n` declares the input shape (None, n); `weights=[table]` sets the table.
    """

    min_ndim = 1

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None,
                 activity_regularizer=None, **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, "input_dim", self._owner)
        self.output_dim = check_positive_int(output_dim, "output_dim", self._owner)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        check_unsupported(self._owner, activity_regularizer=activity_regularizer, lora_rank=lora_rank)
        if mask_zero:
            raise NotImplementedError(f"{self._owner}: `mask_zero=True` is not supported by upsampling (it "
                                      f"has no masking). Received: mask_zero={mask_zero!r}")
        self.mask_zero = False
        weight_options(self, embeddings_regularizer=embeddings_regularizer,
                       embeddings_constraint=embeddings_constraint)
        self.embeddings = None
        if weights is not None:  # the table exists at once; the layer is built on its first input
            self.build(None)
            self.set_weights(list(weights) if isinstance(weights, (list, tuple)) else [weights])

    def build(self, input_shape):
        if self.embeddings is None:  # the table's shape does not depend on the input
            self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                              self.embeddings_initializer, regularizer=self.embeddings_regularizer,
                                              constraint=self.embeddings_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _indices(self, x) -> np.ndarray:
        arr = self._convert(x, cast=False)
        if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
            whole = whole_numbers(arr)
            if not whole.all():
                raise self._error(f"the input must hold integer indices. Received the value "
                                  f"{float(arr[~whole].flat[0])} in an array of {arr.dtype}.")
        idx = arr.astype(np.intp, copy=False)
        bad = (idx < 0) | (idx >= self.input_dim)
        if bad.any():
            raise self._error(f"every index must be in [0, input_dim) = [0, {self.input_dim}). Received the "
                              f"index {idx[bad].flat[0]}.")
        return idx

    def forward(self, x, training: bool = False):
        idx = self._indices(x)
        self._maybe_build(idx.shape)
        return self.call_forward(idx, training)

    def call_forward(self, idx, training):
        table = self.embeddings.value
        y = table[idx]  # (N, ...) -> (N, ..., output_dim)

        def backward(dy, grads):
            dtable = np.zeros(table.shape, dy.dtype)
            np.add.at(dtable, idx.reshape(-1), dy.reshape(-1, table.shape[1]))  # repeats add up
            grads.add(self.embeddings, dtable)
            return np.zeros(idx.shape, dy.dtype)

        return y, backward

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero,
                **weight_options_config(self, ("embeddings_regularizer", "embeddings_constraint"))}


class Activation(Layer):
    """Applies an activation function by name."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation, self._owner)

    def compute_output_shape(self, input_shape):
        return self.activation.output_shape(input_shape)

    def call_forward(self, x, training):
        y, back = apply_activation(self.activation, x)
        return y, lambda dy, grads: back(dy)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}


class Dropout(Layer):
    """Zeroes a fraction `rate` of the inputs during training and scales the rest by 1/(1-rate)."""

    min_ndim = 1

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise self._error(f"`rate` must be a float between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = urandom.generator(seed) if seed is not None else None

    def call_forward(self, x, training):
        if not training or self.rate == 0:
            return x, lambda dy, grads: dy
        if self.rate == 1:
            return np.zeros_like(x), lambda dy, grads: np.zeros_like(dy)
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if s is None else s for i, s in enumerate(self.noise_shape))
        rng = self._rng or urandom.generator()
        mask = (rng.random(shape) >= self.rate).astype(x.dtype) / x.dtype.type(1 - self.rate)
        return x * mask, lambda dy, grads: dy * mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Reshape(Layer):
    """Reshape to `target_shape` (batch axis excluded, at most one -1), in C order."""

    min_ndim = 1

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, numbers.Integral):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (tuple, list)) or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and (v > 0 or v == -1)
                for v in target_shape):
            raise self._error(f"`target_shape` must be a tuple of positive integers (one may be -1). "
                              f"Received: target_shape={target_shape!r}")
        if list(target_shape).count(-1) > 1:
            raise self._error(f"there must be at most one unknown dimension (-1) in `target_shape`. "
                              f"Received: target_shape={tuple(target_shape)}")
        self.target_shape = tuple(int(v) for v in target_shape)

    def _resolve(self, input_shape):
        size = input_shape[1:]
        if any(v is None for v in size):
            return self.target_shape
        total = int(np.prod(size))
        known = int(np.prod([v for v in self.target_shape if v != -1]))
        if -1 in self.target_shape:
            if total % known:
                raise self._error(f"the total size of the tensor must be unchanged. Received: "
                                  f"input_shape={tuple(input_shape)}, target_shape={self.target_shape}")
            return tuple(total // known if v == -1 else v for v in self.target_shape)
        if known != total:
            raise self._error(f"the total size of the tensor must be unchanged. Received: "
                              f"input_shape={tuple(input_shape)}, target_shape={self.target_shape}")
        return self.target_shape

    def build(self, input_shape):
        self._resolve(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(input_shape)

    def call_forward(self, x, training):
        shape = x.shape
        y = x.reshape((shape[0],) + self._resolve(shape))
        return y, lambda dy, grads: dy.reshape(shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Flatten(Layer):
    """Flatten all but the batch axis; channels_first inputs are flattened in (H, W, C) order as Keras does."""

    min_ndim = 1

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        from upsampling.shapes import normalize_data_format
        self.data_format = normalize_data_format(data_format, self._owner)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(v is None for v in rest) else int(np.prod(rest)))

    def call_forward(self, x, training):
        moved = self.data_format == "channels_first" and x.ndim > 2
        if moved:  # (N, C, ...) -> (N, ..., C)
            x = np.moveaxis(x, 1, -1)
        shape = x.shape
        y = x.reshape(shape[0], -1)

        def backward(dy, grads):
            dx = dy.reshape(shape)
            return np.moveaxis(dx, -1, 1) if moved else dx

        return y, backward

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

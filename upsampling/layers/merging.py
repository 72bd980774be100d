"""Merging layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum.

Each is called on a list of tensors. The elementwise ones follow Keras 3's `Merge`: shapes
(batch axis aside) must agree or be 1 where they differ, a lower-rank input is given unit axes
after its batch axis until the ranks agree, and the inputs are combined left to right with
the binary kernels of `upsampling.ops.math` (whose gradients undo the broadcasting).
"""
from __future__ import annotations

import numbers

import numpy as np

from upsampling.layers.base import Layer, _is_shape_list
from upsampling.ops import math as M


class Merge(Layer):
    """Base class of the elementwise merging layers (`keras.layers.Merge`)."""

    min_inputs = 1
    exact_inputs: int | None = None

    def _check_list(self, input_shape, what="input_shape"):
        if not _is_shape_list(input_shape):
            raise self._error(f"a merge layer should be called on a list of inputs. Received: "
                              f"{what}={input_shape} (not a list of shapes)")
        if len(input_shape) < self.min_inputs:
            raise self._error(f"a merge layer should be called on a list of at least {self.min_inputs} "
                              f"input{'s' if self.min_inputs > 1 else ''}. Received {len(input_shape)} "
                              f"inputs. Full input_shape received: {input_shape}")
        if self.exact_inputs is not None and len(input_shape) != self.exact_inputs:
            raise self._error(f"a `{type(self).__name__}` layer should be called on exactly "
                              f"{self.exact_inputs} inputs. Received: input_shape={input_shape}")
        for s in input_shape:
            if len(s) < 1 or any(v == 0 for v in s[1:]):
                raise self._error(f"every input needs a batch axis and non-empty axes. Received: "
                                  f"input_shape={input_shape}")

    def _elementwise_shape(self, shape1, shape2):
        """Keras's rule: right-aligned axes must be equal or 1 (None is unknown)."""
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1 or i == j:
                out.append(i)
            else:
                raise self._error(f"inputs have incompatible shapes. Received shapes {tuple(shape1)} "
                                  f"and {tuple(shape2)}")
        return tuple(out)

    def build(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape} - {None}
        if len(batch_sizes) > 1:
            raise self._error(f"cannot merge tensors with different batch sizes. Received tensors "
                              f"with shapes {input_shape}")
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        out = tuple(input_shape[0][1:])
        for s in input_shape[1:]:
            out = self._elementwise_shape(out, tuple(s[1:]))
        batch = {s[0] for s in input_shape} - {None}
        return (batch.pop() if len(batch) == 1 else None,) + out

    def forward(self, x, training: bool = False):
        if not isinstance(x, (list, tuple)):
            raise self._error(f"a merge layer should be called on a list of inputs. Received: an "
                              f"array of shape {np.shape(x)} (not a list of tensors)")
        xs = [self._convert(v) for v in x]
        shapes = [v.shape for v in xs]
        if not self.built:
            self._maybe_build(shapes)
        else:
            self.build(shapes)  # validates this call's shapes
        if len({s[0] for s in shapes}) > 1:
            raise self._error(f"cannot merge tensors with different batch sizes. Received tensors "
                              f"with shapes {shapes}")
        # Keras: a lower-rank input gets unit axes right after its batch axis.
        rank = max(v.ndim for v in xs)
        padded = [v.reshape(v.shape[:1] + (1,) * (rank - v.ndim) + v.shape[1:]) for v in xs]
        y, backward = self._merge(padded)

        def merged_backward(dy, grads):
            return [g.reshape(s) for g, s in zip(backward(dy), shapes)]

        return y, merged_backward

    def _merge(self, xs):
        """(y, backward(dy) -> [dx per input]) for inputs of equal rank."""
        raise NotImplementedError

    def _fold(self, xs, forward, gradient):
        """Combine left to right, y = f(f(x0, x1), x2) ..., and chain the gradients back."""
        partials, y = [], xs[0]
        for x in xs[1:]:
            partials.append((y, x, forward(y, x)))
            y = partials[-1][2]

        def backward(dy):
            grads = [None] * len(xs)
            for k in range(len(partials) - 1, -1, -1):
                a, b, out = partials[k]
                da, db = gradient(dy, a, b, out)
                grads[k + 1] = db
                dy = da
            grads[0] = dy
            return grads

        return y, backward


class Add(Merge):
    """Elementwise sum of a list of inputs (`keras.layers.Add`)."""

    def _merge(self, xs):
        return self._fold(xs, M.add, M.add_grad)


class Subtract(Merge):
    """The first input minus the second (`keras.layers.Subtract`); exactly two inputs."""

    exact_inputs = 2

    def _merge(self, xs):
        return self._fold(xs, M.subtract, M.subtract_grad)


class Multiply(Merge):
    """Elementwise product of a list of inputs (`keras.layers.Multiply`)."""

    def _merge(self, xs):
        return self._fold(xs, M.multiply, M.multiply_grad)


class Maximum(Merge):
    """Elementwise maximum (`keras.layers.Maximum`); ties share the gradient, as in torch."""

    def _merge(self, xs):
        return self._fold(xs, M.maximum, M.maximum_grad)


class Minimum(Merge):
    """Elementwise minimum (`keras.layers.Minimum`); ties share the gradient, as in torch."""

    def _merge(self, xs):
        return self._fold(xs, M.minimum, M.minimum_grad)


class Average(Merge):
    """Elementwise mean of a list of inputs (`keras.layers.Average`)."""

    def _merge(self, xs):
        total, backward = self._fold(xs, M.add, M.add_grad)
        n = len(xs)
        return total / np.asarray(n, total.dtype), lambda dy: backward(dy / np.asarray(n, dy.dtype))


class Concatenate(Merge):
    """Concatenation of a list of inputs along `axis` (`keras.layers.Concatenate`).

    Args:
        axis: the axis to join along (default -1, the channels of `channels_last` images);
            every other axis must agree (None, unknown, agrees with anything).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise self._error(f"`axis` must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def _resolve(self, input_shape):
        self._check_list(input_shape)
        ranks = {len(s) for s in input_shape}
        rank = max(ranks)
        if not -rank <= self.axis < rank:
            raise self._error(f"`axis` {self.axis} is out of range for inputs of rank {rank}. "
                              f"Received: input_shape={input_shape}")
        axis = self.axis % rank
        if axis == 0:
            raise self._error("cannot concatenate along the batch axis (axis 0).")
        mismatch = len(ranks) != 1 or any(
            len({s[i] for s in input_shape} - {None}) > 1 for i in range(1, rank) if i != axis)
        if mismatch:
            raise self._error(f"a `Concatenate` layer requires inputs with matching shapes except for "
                              f"the concatenation axis. Received: input_shape={input_shape}")
        return axis

    def build(self, input_shape):
        self._resolve(input_shape)

    def compute_output_shape(self, input_shape):
        axis = self._resolve(input_shape)
        out = []
        for i in range(len(input_shape[0])):
            sizes = [s[i] for s in input_shape]
            if i == axis:
                out.append(None if None in sizes else int(sum(sizes)))
            else:
                known = [v for v in sizes if v is not None]
                out.append(known[0] if known else None)
        return tuple(out)

    def forward(self, x, training: bool = False):
        if not isinstance(x, (list, tuple)):
            raise self._error(f"a `Concatenate` layer should be called on a list of inputs. Received: "
                              f"an array of shape {np.shape(x)}")
        xs = [self._convert(v) for v in x]
        shapes = [v.shape for v in xs]
        if not self.built:
            self._maybe_build(shapes)
        axis = self._resolve(shapes)
        if len({s[0] for s in shapes}) > 1:
            raise self._error(f"cannot merge tensors with different batch sizes. Received tensors "
                              f"with shapes {shapes}")
        y = M.concatenate(*xs, axis=axis)
        return y, lambda dy, grads: list(M.concatenate_grad(dy, *xs, y, axis=axis))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"Functional interface to `{cls.__name__}`: ``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to `Concatenate`: ``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


__all__ = ["Add", "Average", "Concatenate", "Maximum", "Merge", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract"]

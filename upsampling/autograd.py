"""The backprop engine: weights as `Variable`s and gradients gathered by reverse-mode VJPs.

Every op in `upsampling.ops` comes as a forward/backward pair. A layer's `forward(x, training)`
returns its output together with a *backward closure* ``backward(dy, grads) -> dx`` that knows
everything the forward pass saved. Models chain these closures: Sequential in reverse order,
functional models in reverse topological order, nested models by calling the inner model's
closure. Because each call makes its own closure, a layer used twice in one graph gets both of
its gradient contributions.

Weight gradients are accumulated into a `Gradients` mapping keyed by the `Variable` itself.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

__all__ = ["Variable", "Gradients", "Backward", "value_and_grad"]


class Variable:
    """A named, mutable weight array (what Keras calls a `keras.Variable`).

    Attributes:
        name: the weight's short name, e.g. ``"kernel"``.
        path: ``"<layer name>/<name>"`` once the owning layer sets it.
        trainable: whether optimizers update it.
    """

    def __init__(self, value: np.ndarray, name: str = "variable", trainable: bool = True):
        self._value = np.asarray(value)
        self.name = name
        self.path = name
        self.trainable = bool(trainable)
        self.regularizer = None  # penalty added to the training loss (upsampling.regularizers)
        self.constraint = None   # projection the optimizer applies after each update

    @property
    def value(self) -> np.ndarray:
        return self._value

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        return self._value.copy()

    def assign(self, value) -> None:
        """Overwrite the value in place; the shape must match exactly."""
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Variable `{self.path}`: cannot assign a value of shape {value.shape} to a "
                f"variable of shape {self._value.shape}."
            )
        self._value[...] = value

    def assign_sub(self, delta) -> None:
        self._value -= np.asarray(delta, dtype=self._value.dtype)

    def assign_add(self, delta) -> None:
        self._value += np.asarray(delta, dtype=self._value.dtype)

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


class Gradients:
    """Gradients of one scalar with respect to many variables, summed over every use."""

    def __init__(self):
        self._grads: dict[int, tuple[Variable, np.ndarray]] = {}

    def add(self, variable: Variable, grad: np.ndarray) -> None:
        key = id(variable)
        if key in self._grads:
            self._grads[key] = (variable, self._grads[key][1] + grad)
        else:
            self._grads[key] = (variable, grad)

    def get(self, variable: Variable):
        """The gradient of `variable`, or None if nothing reached it."""
        entry = self._grads.get(id(variable))
        return None if entry is None else entry[1]

    def __contains__(self, variable: Variable) -> bool:
        return id(variable) in self._grads

    def __len__(self) -> int:
        return len(self._grads)

    def items(self):
        return list(self._grads.values())

    def for_variables(self, variables: Iterable[Variable]) -> list:
        """Gradients in the order of `variables`; zeros for a variable nothing reached."""
        out = []
        for v in variables:
            g = self.get(v)
            out.append(np.zeros_like(v.value) if g is None else g)
        return out


# backward(dy, grads) -> dx  (dx is a list for multi-input layers)
Backward = Callable[[np.ndarray, Gradients], object]


def value_and_grad(forward: Callable, loss: Callable, x, y_true, *, training: bool = True):
    """Run a forward pass, a loss and the full backward pass.

    Args:
        forward: ``forward(x, training) -> (y_pred, backward)``, e.g. ``model.forward``.
        loss: ``loss(y_true, y_pred) -> (value, dvalue_dy_pred)``.
        x, y_true: the batch.

    Returns:
        ``(loss_value, grads, dx, y_pred)`` with `grads` a `Gradients` and `dx` the gradient of
        the loss with respect to the input.
    """
    y_pred, backward = forward(x, training)
    value, dy = loss(y_true, y_pred)
    grads = Gradients()
    dx = backward(dy, grads)
    return value, grads, dx, y_pred

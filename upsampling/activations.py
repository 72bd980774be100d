"""Keras activation functions by name: `get("relu")` returns a differentiable `Activation` spec."""
from __future__ import annotations

from typing import Callable, NamedTuple

from upsampling.ops import activations as _ops
from upsampling.ops.activations import (  # noqa: F401  (public functions, Keras names)
    elu, exponential, gelu, hard_sigmoid, leaky_relu, linear, relu, relu6, selu, sigmoid, softmax,
    softplus, softsign, swish, tanh,
)

silu = swish


class ActivationFn(NamedTuple):
    name: str
    forward: Callable
    backward: Callable


_BY_FUNCTION = {fwd: name for name, (fwd, _) in _ops.ACTIVATIONS.items()}


def get(identifier, owner: str = "Activation") -> ActivationFn:
    """Resolve None, a Keras name ('relu', 'leaky_relu', ...) or one of this module's functions."""
    if identifier is None:
        identifier = "linear"
    if callable(identifier) and not isinstance(identifier, str):
        name = _BY_FUNCTION.get(identifier)
        if name is None:
            raise TypeError(
                f"{owner}: `activation` must be a Keras activation name or a function from "
                f"`upsampling.activations` (its gradient must be known). "
                f"Received: activation={identifier!r}"
            )
        identifier = name
    if not isinstance(identifier, str) or identifier.lower() not in _ops.ACTIVATIONS:
        raise ValueError(
            f"{owner}: unknown `activation`; expected one of {sorted(_ops.ACTIVATIONS)}. "
            f"Received: activation={identifier!r}"
        )
    name = identifier.lower()
    fwd, bwd = _ops.ACTIVATIONS[name]
    return ActivationFn(name, fwd, bwd)


def serialize(fn: ActivationFn) -> str:
    return fn.name

"""Keras activation functions by name: `get("relu")` returns a differentiable `Activation` spec."""
from __future__ import annotations

from typing import Callable, NamedTuple

from upsampling.ops import activations as _ops
from upsampling.ops.activations import (  # noqa: F401  (public functions, Keras names)
    celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh, leaky_relu,
    linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, soft_shrink, softmax, softplus,
    softsign, sparse_plus, sparse_sigmoid, sparsemax, squareplus, swish, tanh, tanh_shrink, threshold,
)

silu = swish
hard_swish = hard_silu


class ActivationFn(NamedTuple):
    name: str
    forward: Callable
    backward: Callable

    def output_shape(self, shape) -> tuple:
        """The shape of forward(x) for an x of `shape`: the same, except glu halves its last axis."""
        shape = tuple(shape)
        if self.name != "glu" or shape[-1] is None:
            return shape
        if shape[-1] % 2:
            raise ValueError(f"glu: the last axis must have an even length, as it is split in two "
                             f"halves. Received shape {shape}")
        return shape[:-1] + (shape[-1] // 2,)


# a function maps to its Keras name (Keras's own functions are named silu and hard_silu)
_ALIASES = ("swish", "hard_swish")
_BY_FUNCTION = {fwd: name for name, (fwd, _) in {**_ops.ACTIVATIONS, **_ops.NEEDS_ARGUMENTS}.items()
                if name not in _ALIASES}


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
    if isinstance(identifier, str) and identifier.lower() in _ops.NEEDS_ARGUMENTS:
        raise ValueError(
            f"{owner}: activation {identifier!r} has arguments without defaults, so it cannot be "
            f"given by name; call `upsampling.activations.{identifier.lower()}(x, ...)` with its "
            f"arguments instead. Received: activation={identifier!r}"
        )
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

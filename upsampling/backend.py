"""Keras's `keras.backend` names that model code calls: `clear_session`, `epsilon`."""
from upsampling.layers.base import clear_session  # noqa: F401


def epsilon() -> float:
    """The fuzz factor used by losses and constraints (Keras's default, 1e-7)."""
    return 1e-7

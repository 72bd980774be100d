"""Weight penalties with Keras names and numbers: L1, L2, L1L2 (`kernel_regularizer='l2'` ...).

A regularizer is called on a weight array and returns a scalar added to the training loss; its
`gradient` gives that scalar's derivative (the training loop adds it to the weight's gradient).
"""
from __future__ import annotations

import numbers

import numpy as np


def _factor(value, name: str, owner: str) -> float:
    if value is None:
        return 0.0
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: `{name}` must be a non-negative number. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: subclasses implement `__call__(x) -> float` and `gradient(x) -> array`."""

    def __call__(self, x: np.ndarray) -> float:
        return 0.0

    def gradient(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement `gradient(x)` to be trained "
                                  f"with (there is no automatic differentiation of custom penalties).")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2); both factors default to 0 (Keras's class defaults)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", "L1L2")
        self.l2 = _factor(l2, "l2", "L1L2")

    def __call__(self, x):
        x = np.asarray(x)
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(x).sum(dtype=np.float64))
        if self.l2:
            total += self.l2 * float(np.square(x, dtype=np.float64).sum())
        return total

    def gradient(self, x):
        x = np.asarray(x)
        g = np.zeros_like(x)
        if self.l1:
            g += np.asarray(self.l1, x.dtype) * np.sign(x)  # d|x|/dx taken as 0 at 0, as autodiff does
        if self.l2:
            g += np.asarray(2 * self.l2, x.dtype) * x
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|x|), l1 = 0.01 by default."""

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(x**2), l2 = 0.01 by default."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2 = L1, L2


def l1_l2(l1=0.01, l2=0.01):
    """The string 'l1_l2' means both factors 0.01 (unlike the class defaults)."""
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": l1_l2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier, owner: str = "regularizer"):
    """None, 'l1' / 'l2' / 'l1_l2', a {'class_name', 'config'} dict, or a Regularizer."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"{owner}: could not interpret the regularizer; expected None, 'l1', 'l2', 'l1_l2' or "
                     f"a Regularizer. Received: {identifier!r}")


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}

"""Keras names that upsampling does not implement: asking for one raises NotImplementedError naming
it (``from upsampling.losses import Huber``), instead of a bare ImportError/AttributeError."""
from __future__ import annotations


def unsupported(module: str, keras_names: str):
    """A module-level ``__getattr__`` for `module` that refuses the Keras names listed (by spaces)."""
    names = frozenset(keras_names.split())

    def __getattr__(name):
        if name in names:
            raise NotImplementedError(f"{name} is not supported by upsampling (Keras's `{module.split('.')[-1]}."
                                      f"{name}` has no counterpart here yet).")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    __getattr__.names = names
    return __getattr__

"""One seeded random generator for initializers, dropout and shuffling (Keras: `utils.set_random_seed`)."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Make every later initializer, dropout mask and shuffle reproducible."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"`seed` must be an integer. Received: seed={seed!r}")
    _generator = np.random.default_rng(int(seed))


def generator(seed=None) -> np.random.Generator:
    """The shared generator, or a fresh one seeded with `seed` when given."""
    if seed is not None:
        return np.random.default_rng(seed)
    return _generator


def get_state():
    return _generator.bit_generator.state


def set_state(state) -> None:
    _generator.bit_generator.state = state

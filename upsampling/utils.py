"""Keras's `keras.utils.set_random_seed`: one seed for initializers, dropout and shuffling."""
from upsampling.random import set_random_seed  # noqa: F401

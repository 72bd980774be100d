"""Keras 2's `keras.backend` names that model code calls (`from keras import backend as K`).

The math functions are those of `upsampling.ops` under their Keras 2 names and signatures: a
custom loss such as ``K.mean(y_true * y_pred)`` is differentiated automatically when it trains,
and on plain arrays (a `Constraint`, a metric) every function is plain NumPy.
"""
from upsampling import ops as _ops
from upsampling.layers.base import clear_session  # noqa: F401
from upsampling.ops import (  # noqa: F401 - re-exported under their Keras 2 names
    abs, argmax, argmin, cast, concatenate, cos, equal, exp, expand_dims, greater, greater_equal,
    less, less_equal, log, maximum, minimum, not_equal, ones_like, relu, reshape, round, sigmoid,
    sign, sin, softplus, sqrt, square, stack, stop_gradient, tanh, transpose, zeros_like,
)


def epsilon() -> float:
    """The fuzz factor used by losses and constraints (Keras's default, 1e-7)."""
    return 1e-7


def floatx() -> str:
    return "float32"


def mean(x, axis=None, keepdims=False):
    return _ops.mean(x, axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return _ops.sum(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _ops.min(x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return _ops.std(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return _ops.var(x, axis=axis, keepdims=keepdims)


def clip(x, min_value, max_value):
    """`K.clip(x, min_value, max_value)`; as Keras 2, max_value below min_value is raised to it."""
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    return _ops.clip(x, min_value, max_value)


def pow(x, a):  # noqa: A001
    return _ops.power(x, a)


def dot(x, y):
    return _ops.matmul(x, y)


def softmax(x, axis=-1):
    return _ops.softmax(x, axis=axis)


def flatten(x):
    return _ops.flatten(x)


def batch_flatten(x):
    """(batch, ...) -> (batch, prod(...))."""
    return _ops.reshape(x, (_ops.shape(x)[0], -1))


def squeeze(x, axis):
    return _ops.squeeze(x, axis)


def binary_crossentropy(target, output, from_logits=False):
    return _ops.binary_crossentropy(target, output, from_logits=from_logits)


def shape(x):
    return _ops.shape(x)


def int_shape(x):
    return _ops.shape(x)


def ndim(x):
    return len(_ops.shape(x))


def constant(value, dtype=None, shape=None):
    import numpy as np
    value = np.asarray(value, dtype=dtype or floatx())
    return np.broadcast_to(value, shape).copy() if shape is not None else value


def image_data_format() -> str:
    """Layers default to ``"channels_last"``, as Keras."""
    return "channels_last"


def get_value(x):
    """The value of a weight (or array) as a NumPy array."""
    return _ops.convert_to_numpy(x.value if hasattr(x, "assign") else x)


def set_value(x, value) -> None:
    """Overwrite a weight's value in place (`K.set_value(model.optimizer.learning_rate, ...)` style)."""
    if not hasattr(x, "assign"):
        raise TypeError(f"set_value needs a weight (a Variable). Received: {type(x).__name__}")
    x.assign(value)


from upsampling.keras_names import unsupported as _unsupported  # noqa: E402

# Keras 2 `keras.backend` names not implemented here (graph-mode and TensorFlow-session machinery)
__getattr__ = _unsupported(__name__, """
batch_get_value batch_set_value bias_add conv2d conv2d_transpose count_params ctc_batch_cost eval eye foldl
function gather get_session gradients in_train_phase is_keras_tensor learning_phase map_fn moving_average_update
name_scope one_hot permute_dimensions placeholder pool2d random_binomial random_normal random_uniform
repeat_elements resize_images rnn set_floatx set_image_data_format set_learning_phase set_session switch tile
update update_add variable
""")

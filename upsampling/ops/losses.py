"""Loss kernels: forward values and their exact gradients, matching Keras 3 (torch backend).

Every loss comes as a pair:

* ``name(y_true, y_pred, **settings) -> values``: the per-sample (or per-position) loss, i.e. the
  input shape with the reduced axis removed -- exactly what ``keras.losses.name`` returns;
* ``name_grad(y_true, y_pred, dvalues, **settings) -> dy_pred``: the vector-Jacobian product,
  ``dvalues`` being the gradient of some scalar with respect to ``values``.

The gradients are the ones Keras's autodiff produces, including its corner cases: probabilities
are clipped to ``[eps, 1 - eps]`` (``eps = 1e-7``, `keras.config.epsilon()`) and the clip passes
a zero gradient strictly outside that range (a value exactly on the boundary still gets its
gradient, as ``torch.clamp`` does); ``max(z, 0)`` in the hinge splits the gradient in half at a tie.

Arithmetic is done in the dtype of ``y_pred`` (float32 stays float32, float64 stays float64;
integer predictions are computed in float32). ``y_true`` is cast to that dtype, except the
integer class ids of the sparse crossentropy. These kernels expect ``y_true`` and ``y_pred`` of
the same shape (sparse: ``y_pred`` with one more, class, axis); `upsampling.losses` does Keras's
squeeze/expand of a trailing unit axis before calling them.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "EPSILON",
    "binary_crossentropy",
    "binary_crossentropy_grad",
    "categorical_crossentropy",
    "categorical_crossentropy_grad",
    "sparse_categorical_crossentropy",
    "sparse_categorical_crossentropy_grad",
    "mean_squared_error",
    "mean_squared_error_grad",
    "mean_absolute_error",
    "mean_absolute_error_grad",
    "hinge",
    "hinge_grad",
]

EPSILON = 1e-7  # keras.config.epsilon()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _as_pred(y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    return y_pred


def _prepare(y_true, y_pred, what: str):
    y_pred = _as_pred(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype, copy=False)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{what}: `y_true` and `y_pred` must have the same shape. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    if y_pred.ndim < 1:
        raise ValueError(f"{what}: inputs must be at least rank 1. Received: shape={y_pred.shape}")
    return y_true, y_pred


def _axis(axis, ndim: int, what: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{what}: `axis` must be an int. Received: axis={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: `axis`={axis} is out of range for inputs of rank {ndim}.")
    return int(axis) % ndim


def _bounds(dtype):
    """The clip range [eps, 1 - eps] as the backend sees it, i.e. rounded to `dtype`."""
    t = np.dtype(dtype).type
    return t(EPSILON), t(1.0) - t(EPSILON)


def _clip_mask(x, lo, hi):
    """Where ``clip(x, lo, hi)`` lets the gradient through (boundaries included, as torch)."""
    return (x >= lo) & (x <= hi)


def _log_sigmoid(x):
    # min(x, 0) - log1p(exp(-|x|)): torch's stable log_sigmoid.
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _check_dvalues(dvalues, shape, dtype, what):
    d = np.asarray(dvalues, dtype=dtype)
    if d.shape != shape:
        try:
            d = np.broadcast_to(d, shape)
        except ValueError:
            raise ValueError(
                f"{what}: upstream gradient of shape {d.shape} does not match the loss values "
                f"of shape {shape}."
            ) from None
    return d


def _smooth_binary(y_true, label_smoothing):
    if label_smoothing:
        t = y_true.dtype.type
        y_true = y_true * t(1.0 - label_smoothing) + t(0.5 * label_smoothing)
    return y_true


def _smooth_categorical(y_true, label_smoothing):
    if label_smoothing:
        t = y_true.dtype.type
        # Keras uses the size of the LAST axis as the number of classes, whatever `axis` is.
        y_true = y_true * t(1.0 - label_smoothing) + t(label_smoothing) / t(y_true.shape[-1])
    return y_true


# --------------------------------------------------------------------------------------------
# binary crossentropy
# --------------------------------------------------------------------------------------------

def _bce_elementwise(y_true, y_pred, from_logits):
    """Elementwise BCE and what its gradient needs."""
    if from_logits:
        # torch.binary_cross_entropy_with_logits: (1 - t) * x - log_sigmoid(x)
        return (1 - y_true) * y_pred - _log_sigmoid(y_pred)
    lo, hi = _bounds(y_pred.dtype)
    p = np.clip(y_pred, lo, hi)
    # torch.binary_cross_entropy: (t - 1) * max(log(1 - p), -100) - t * max(log(p), -100)
    return (y_true - 1) * np.maximum(np.log(1 - p), -100) - y_true * np.maximum(np.log(p), -100)


def binary_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy, ``mean(bce, axis)`` -- `keras.losses.binary_crossentropy`.

    Args:
        y_true: targets in [0, 1], same shape as `y_pred`.
        y_pred: probabilities (clipped to ``[1e-7, 1 - 1e-7]``) or, with ``from_logits=True``,
            logits (computed with a stable log-sigmoid).
        label_smoothing: labels become ``y * (1 - s) + 0.5 * s``.
        axis: the axis averaged over.

    Returns:
        The loss with `axis` removed, dtype of `y_pred`.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "binary_crossentropy")
    ax = _axis(axis, y_pred.ndim, "binary_crossentropy")
    y_true = _smooth_binary(y_true, label_smoothing)
    return np.mean(_bce_elementwise(y_true, y_pred, from_logits), axis=ax)


def binary_crossentropy_grad(
    y_true, y_pred, dvalues, *, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Gradient of ``sum(binary_crossentropy(...) * dvalues)`` with respect to `y_pred`."""
    y_true, y_pred = _prepare(y_true, y_pred, "binary_crossentropy")
    ax = _axis(axis, y_pred.ndim, "binary_crossentropy")
    y_true = _smooth_binary(y_true, label_smoothing)
    out_shape = y_pred.shape[:ax] + y_pred.shape[ax + 1:]
    d = _check_dvalues(dvalues, out_shape, y_pred.dtype, "binary_crossentropy")
    d = np.expand_dims(d, ax) / y_pred.dtype.type(y_pred.shape[ax])
    if from_logits:
        return (d * (_sigmoid(y_pred) - y_true)).astype(y_pred.dtype, copy=False)
    lo, hi = _bounds(y_pred.dtype)
    p = np.clip(y_pred, lo, hi)
    # torch's binary_cross_entropy backward: (p - t) / max(p * (1 - p), 1e-12)
    dp = d * (p - y_true) / np.maximum((1 - p) * p, y_pred.dtype.type(1e-12))
    return np.where(_clip_mask(y_pred, lo, hi), dp, 0).astype(y_pred.dtype, copy=False)


# --------------------------------------------------------------------------------------------
# categorical crossentropy
# --------------------------------------------------------------------------------------------

def categorical_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical crossentropy -- `keras.losses.categorical_crossentropy`.

    Probabilities are first renormalised to sum to one along `axis`, then clipped to
    ``[1e-7, 1 - 1e-7]``; logits go through a log-softmax. Returns the loss with `axis` removed.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_crossentropy")
    ax = _axis(axis, y_pred.ndim, "categorical_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        log_prob = _log_softmax(y_pred, ax)
    else:
        lo, hi = _bounds(y_pred.dtype)
        q = y_pred / np.sum(y_pred, axis=ax, keepdims=True)
        log_prob = np.log(np.clip(q, lo, hi))
    return -np.sum(y_true * log_prob, axis=ax)


def categorical_crossentropy_grad(
    y_true, y_pred, dvalues, *, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Gradient of ``sum(categorical_crossentropy(...) * dvalues)`` with respect to `y_pred`.

    For probabilities this includes the gradient through the renormalisation ``p / sum(p)``.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_crossentropy")
    ax = _axis(axis, y_pred.ndim, "categorical_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing)
    out_shape = y_pred.shape[:ax] + y_pred.shape[ax + 1:]
    d = _check_dvalues(dvalues, out_shape, y_pred.dtype, "categorical_crossentropy")
    d = np.expand_dims(d, ax)
    if from_logits:
        softmax = np.exp(_log_softmax(y_pred, ax))
        g = d * (softmax * np.sum(y_true, axis=ax, keepdims=True) - y_true)
        return g.astype(y_pred.dtype, copy=False)
    lo, hi = _bounds(y_pred.dtype)
    s = np.sum(y_pred, axis=ax, keepdims=True)
    q = y_pred / s
    qc = np.clip(q, lo, hi)
    dq = np.where(_clip_mask(q, lo, hi), -d * y_true / qc, 0)
    # q = p / s:  dp = dq / s - sum(dq * p / s^2)
    g = dq / s - np.sum(dq * q / s, axis=ax, keepdims=True)
    return g.astype(y_pred.dtype, copy=False)


# --------------------------------------------------------------------------------------------
# sparse categorical crossentropy
# --------------------------------------------------------------------------------------------

def _sparse_prepare(y_true, y_pred, axis):
    what = "sparse_categorical_crossentropy"
    y_pred = _as_pred(y_pred)
    if y_pred.ndim < 1:
        raise ValueError(
            f"{what}: `y_pred` must be at least rank 1. Received: shape={y_pred.shape}"
        )
    ax = _axis(axis, y_pred.ndim, what)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[ax] == 1:
        labels = np.squeeze(labels, axis=ax)
    expected = y_pred.shape[:ax] + y_pred.shape[ax + 1:]
    if labels.shape != expected:
        raise ValueError(
            f"{what}: `y_true` must have the shape of `y_pred` without its class axis. "
            f"Received: y_true.shape={np.shape(y_true)}, y_pred.shape={y_pred.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        as_int = labels.astype(np.int64)
        if not np.array_equal(as_int, labels):
            raise ValueError(f"{what}: `y_true` must hold integer class ids. Received: {labels}")
        labels = as_int
    n_classes = y_pred.shape[ax]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{what}: class ids must be in [0, {n_classes}). "
            f"Received ids in [{labels.min()}, {labels.max()}]."
        )
    return labels.astype(np.int64, copy=False), np.moveaxis(y_pred, ax, -1), ax


def sparse_categorical_crossentropy(y_true, y_pred, *, from_logits=False, axis=-1):
    """Per-sample crossentropy with integer labels, as Keras's function of that name.

    `y_true` holds class ids with the shape of `y_pred` minus its class `axis` (a trailing unit
    axis is squeezed). Probabilities are renormalised and clipped as in the categorical loss.
    """
    labels, x, _ = _sparse_prepare(y_true, y_pred, axis)
    if from_logits:
        log_prob = _log_softmax(x, -1)
    else:
        lo, hi = _bounds(x.dtype)
        log_prob = np.log(np.clip(x / np.sum(x, axis=-1, keepdims=True), lo, hi))
    return -np.take_along_axis(log_prob, labels[..., None], axis=-1)[..., 0]


def sparse_categorical_crossentropy_grad(y_true, y_pred, dvalues, *, from_logits=False, axis=-1):
    """Gradient of ``sum(sparse_categorical_crossentropy(...) * dvalues)`` w.r.t. `y_pred`."""
    labels, x, ax = _sparse_prepare(y_true, y_pred, axis)
    d = _check_dvalues(dvalues, labels.shape, x.dtype, "sparse_categorical_crossentropy")[..., None]
    onehot = np.zeros_like(x)
    np.put_along_axis(onehot, labels[..., None], 1, axis=-1)
    if from_logits:
        g = d * (np.exp(_log_softmax(x, -1)) - onehot)
    else:
        lo, hi = _bounds(x.dtype)
        s = np.sum(x, axis=-1, keepdims=True)
        q = x / s
        qc = np.clip(q, lo, hi)
        dq = np.where(_clip_mask(q, lo, hi), -d * onehot / qc, 0)
        g = dq / s - np.sum(dq * q / s, axis=-1, keepdims=True)
    return np.moveaxis(g.astype(x.dtype, copy=False), -1, ax)


# --------------------------------------------------------------------------------------------
# regression losses and hinge (reduce over the last axis)
# --------------------------------------------------------------------------------------------

def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)`` -- `keras.losses.mean_squared_error`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_squared_error_grad(y_true, y_pred, dvalues):
    """Gradient of ``sum(mean_squared_error(...) * dvalues)`` with respect to `y_pred`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_error")
    d = _check_dvalues(dvalues, y_pred.shape[:-1], y_pred.dtype, "mean_squared_error")[..., None]
    n = y_pred.dtype.type(y_pred.shape[-1])
    return (d / n * 2 * (y_pred - y_true)).astype(y_pred.dtype, copy=False)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)`` -- `keras.losses.mean_absolute_error`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_error_grad(y_true, y_pred, dvalues):
    """Gradient of ``sum(mean_absolute_error(...) * dvalues)`` w.r.t. `y_pred` (0 where equal)."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_error")
    d = _check_dvalues(dvalues, y_pred.shape[:-1], y_pred.dtype, "mean_absolute_error")[..., None]
    n = y_pred.dtype.type(y_pred.shape[-1])
    return (d / n * np.sign(y_pred - y_true)).astype(y_pred.dtype, copy=False)


def _hinge_labels(y_true):
    # Keras: if every label is 0 or 1, map them to -1 / 1; otherwise use them unchanged.
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)`` -- `keras.losses.hinge`.

    Labels in {0, 1} are converted to {-1, 1} (only when *all* labels are 0 or 1, as Keras does).
    """
    y_true, y_pred = _prepare(y_true, y_pred, "hinge")
    y_true = _hinge_labels(y_true)
    return np.mean(np.maximum(1 - y_true * y_pred, 0), axis=-1)


def hinge_grad(y_true, y_pred, dvalues):
    """Gradient of ``sum(hinge(...) * dvalues)`` w.r.t. `y_pred`; half the gradient at a tie."""
    y_true, y_pred = _prepare(y_true, y_pred, "hinge")
    y_true = _hinge_labels(y_true)
    d = _check_dvalues(dvalues, y_pred.shape[:-1], y_pred.dtype, "hinge")[..., None]
    z = 1 - y_true * y_pred
    # torch.maximum backward: grad where z > 0, grad / 2 where z == 0, 0 elsewhere
    factor = np.where(z > 0, 1.0, np.where(z == 0, 0.5, 0.0)).astype(y_pred.dtype)
    n = y_pred.dtype.type(y_pred.shape[-1])
    return (-(d / n) * factor * y_true).astype(y_pred.dtype, copy=False)

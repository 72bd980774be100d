"""Keras 3 losses with exact gradients: `Loss` objects, the loss functions and `get`.

A `Loss` object is called like Keras's, ``loss(y_true, y_pred, sample_weight=None)``, and returns
the reduced loss. The training engine instead calls ``loss.value_and_grad(y_true, y_pred)``,
which returns the same scalar together with ``dL/dy_pred``.

Math follows Keras 3 on its torch backend exactly (see `upsampling.ops.losses`); one deliberate
difference: Keras casts inputs to ``floatx`` (float32) before computing, here the computation
runs in the dtype of `y_pred` (so float64 inputs give float64 losses and gradients, which is
what finite-difference checks need). Pass ``dtype="float32"`` to force Keras's casting.
"""
from __future__ import annotations

import inspect

import numpy as np

from upsampling.ops import losses as K
from upsampling.keras_names import unsupported as _unsupported

__all__ = [
    "Loss",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Hinge",
    "LossFunctionWrapper",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mean_squared_error",
    "mse",
    "mean_absolute_error",
    "mae",
    "hinge",
    "get",
    "serialize",
    "deserialize",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{list(_REDUCTIONS)}. Received: reduction={reduction!r}"
        )
    return reduction


def _squeeze_or_expand_to_same_rank(x1, x2):
    """Keras's rule: if ranks differ by one and the longer ends in a unit axis, reconcile them.

    A rank-1 partner is expanded (``(N,)`` vs ``(N, 1)`` -> both ``(N, 1)``); otherwise the
    unit axis is squeezed.
    """
    r1, r2 = np.ndim(x1), np.ndim(x2)
    if r1 == r2 + 1 and np.shape(x1)[-1] == 1:
        if r2 == 1:
            x2 = np.expand_dims(x2, -1)
        else:
            x1 = np.squeeze(x1, -1)
    elif r2 == r1 + 1 and np.shape(x2)[-1] == 1:
        if r1 == 1:
            x1 = np.expand_dims(x1, -1)
        else:
            x2 = np.squeeze(x2, -1)
    return x1, x2


class Loss:
    """Base class of losses (what `keras.losses.Loss` is).

    Subclasses implement ``call(y_true, y_pred) -> per-sample values`` and, to be trainable,
    ``call_and_vjp(y_true, y_pred) -> (values, vjp)`` where ``vjp(dvalues) -> dy_pred``
    (gradient with respect to `y_pred`, same shape and dtype). A subclass may instead override
    `value_and_grad` directly.

    Args:
        name: the loss's name.
        reduction: ``"sum_over_batch_size"`` (default; same as ``"mean"``: sum of the weighted
            values over their count), ``"sum"``, ``"mean_with_sample_weight"`` (divide by the
            sum of the sample weights) or ``"none"``/None (no reduction).
        dtype: compute dtype; None (default) computes in the dtype of `y_pred`.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = None if dtype is None else np.dtype(dtype)

    # -- to implement -----------------------------------------------------------------------
    def call(self, y_true, y_pred):
        """Per-sample loss values (no reduction)."""
        raise NotImplementedError(f"{type(self).__name__} must implement `call`.")

    def call_and_vjp(self, y_true, y_pred):
        """``(values, vjp)``: the per-sample values and ``vjp(dvalues) -> dL/dy_pred``.

        By default `call` is traced (`upsampling.autograd.trace`): a `call` written with
        `upsampling.ops` / `upsampling.backend` functions trains as it is, as in Keras.
        """
        from upsampling.autograd import trace
        shape = np.shape(y_pred)
        try:
            values, vjp = trace(lambda p: self.call(y_true, p), y_pred)
        except TypeError as exc:
            raise TypeError(f"Loss `{self.name}` cannot be differentiated: {exc} (Or implement "
                            f"`call_and_vjp(y_true, y_pred)` yourself.)") from None
        return values, lambda dvalues: np.reshape(vjp(dvalues), shape)

    # -- public API -------------------------------------------------------------------------
    def _cast(self, y_true, y_pred):
        y_pred = np.asarray(y_pred)
        if self.dtype is not None:
            y_pred = y_pred.astype(self.dtype, copy=False)
        elif not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float32)
        return np.asarray(y_true), y_pred

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss: a Python float, or the per-sample array for reduction ``"none"``."""
        y_true, y_pred = self._cast(y_true, y_pred)
        values = np.asarray(self.call(y_true, y_pred))
        out, _ = self._reduce(values, sample_weight)
        return out

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        """``(loss, dloss/dy_pred)``: the reduced loss as a Python float and its gradient.

        The gradient has the shape of `y_pred` and the compute dtype (that of `y_pred` unless
        the loss was given a `dtype`). Reduction ``"none"`` has no scalar, hence no gradient.
        """
        if self.reduction in ("none", None):
            raise ValueError(
                f"Loss `{self.name}` has reduction={self.reduction!r}: there is no scalar to "
                "differentiate. Use 'sum_over_batch_size' or 'sum' to train with it."
            )
        y_true, y_pred_c = self._cast(y_true, y_pred)
        values, vjp = self.call_and_vjp(y_true, y_pred_c)
        values = np.asarray(values)
        out, dvalues = self._reduce(values, sample_weight, want_grad=True)
        grad = np.asarray(vjp(dvalues))
        if grad.shape != np.shape(y_pred):
            grad = grad.reshape(np.shape(y_pred))
        in_dtype = np.asarray(y_pred).dtype
        if np.issubdtype(in_dtype, np.floating) and grad.dtype != in_dtype:
            grad = grad.astype(in_dtype)
        return out, grad

    def _reduce(self, values, sample_weight, want_grad=False):
        dtype = values.dtype if np.issubdtype(values.dtype, np.floating) else np.dtype(np.float32)
        values = values.astype(dtype, copy=False)
        v_shape = values.shape
        weighted = values
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=dtype)
            v, sw_b = _squeeze_or_expand_to_same_rank(values, sw)
            weighted = v * sw_b
        if self.reduction in ("none", None) or weighted.shape == () or weighted.shape == (0,):
            # Keras returns unreduced values here (including a scalar loss).
            out = weighted if self.reduction in ("none", None) else float(np.sum(weighted))
            if not want_grad:
                return out, None
            d = np.ones(weighted.shape, dtype)
        else:
            total = np.sum(weighted)
            if self.reduction == "sum":
                divisor = None
            elif self.reduction == "mean_with_sample_weight" and sw is not None:
                divisor = np.sum(sw, dtype=dtype)
            else:
                divisor = dtype.type(weighted.size)
            if divisor is None:
                out, scale = total, dtype.type(1)
            elif divisor == 0:
                out, scale = dtype.type(0), dtype.type(0)
            else:
                out, scale = total / divisor, dtype.type(1) / divisor
            out = float(out)
            if not want_grad:
                return out, None
            d = np.full(weighted.shape, scale, dtype)
        # Back through the weighting and any squeeze/expand: d(values) = sum over broadcast.
        if sw is not None:
            v, sw_b = _squeeze_or_expand_to_same_rank(np.zeros(v_shape, dtype), sw)
            d = d * sw_b
            # reduce broadcast axes back onto the (possibly expanded/squeezed) values
            d = _unbroadcast(d, v.shape).reshape(v_shape)
        return out, d.astype(dtype, copy=False)

    def get_config(self) -> dict:
        """The constructor arguments (Keras's loss config)."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild a loss from `get_config()`."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _unbroadcast(d, shape):
    while d.ndim > len(shape):
        d = d.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and d.shape[i] != 1:
            d = d.sum(axis=i, keepdims=True)
    return d


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class _KernelLoss(Loss):
    """A loss computed by a forward/backward kernel pair from `upsampling.ops.losses`."""

    _forward = None
    _backward = None
    _sparse = False

    def __init__(self, name, reduction, dtype, **settings):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._settings = settings

    def _align(self, y_true, y_pred):
        if self._sparse:
            return y_true, y_pred, None
        y_true2, y_pred2 = _squeeze_or_expand_to_same_rank(y_true, y_pred)
        reshaped = np.shape(y_pred2) != np.shape(y_pred)
        return y_true2, y_pred2, (np.shape(y_pred) if reshaped else None)

    def call(self, y_true, y_pred):
        y_true, y_pred, _ = self._align(y_true, y_pred)
        return type(self)._forward(y_true, y_pred, **self._settings)

    def call_and_vjp(self, y_true, y_pred):
        y_true, y_pred2, orig_shape = self._align(y_true, y_pred)
        values = type(self)._forward(y_true, y_pred2, **self._settings)

        def vjp(dvalues):
            g = type(self)._backward(y_true, y_pred2, dvalues, **self._settings)
            return g if orig_shape is None else g.reshape(orig_shape)

        return values, vjp

    def get_config(self):
        config = super().get_config()
        config.update(self._settings)
        return config


class BinaryCrossentropy(_KernelLoss):
    """Binary crossentropy, `keras.losses.BinaryCrossentropy`.

    Args:
        from_logits: whether `y_pred` holds logits (else probabilities, clipped to
            ``[1e-7, 1 - 1e-7]``).
        label_smoothing: in [0, 1]; labels become ``y * (1 - s) + 0.5 * s``.
        axis: the axis the elementwise loss is averaged over (per-sample value).
        reduction, name, dtype: see `Loss`.
    """

    _forward = staticmethod(K.binary_crossentropy)
    _backward = staticmethod(K.binary_crossentropy_grad)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        _check_smoothing(label_smoothing, type(self).__name__)
        super().__init__(name, reduction, dtype, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing), axis=axis)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis


class CategoricalCrossentropy(_KernelLoss):
    """Categorical crossentropy on one-hot (or soft) labels, `keras.losses.CategoricalCrossentropy`.

    Args:
        from_logits: whether `y_pred` holds logits (log-softmax) or probabilities (renormalised
            along `axis`, then clipped to ``[1e-7, 1 - 1e-7]``).
        label_smoothing: in [0, 1]; labels become ``y * (1 - s) + s / num_classes``.
        axis: the class axis.
        reduction, name, dtype: see `Loss`.
    """

    _forward = staticmethod(K.categorical_crossentropy)
    _backward = staticmethod(K.categorical_crossentropy_grad)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        _check_smoothing(label_smoothing, type(self).__name__)
        super().__init__(name, reduction, dtype, from_logits=bool(from_logits),
                         label_smoothing=float(label_smoothing), axis=axis)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis


class SparseCategoricalCrossentropy(_KernelLoss):
    """Crossentropy with integer class ids, `keras.losses.SparseCategoricalCrossentropy`.

    Args:
        from_logits: whether `y_pred` holds logits or probabilities.
        ignore_class: not supported (must be None).
        reduction, axis, name, dtype: see `Loss`; `axis` is the class axis of `y_pred`.
    """

    _forward = staticmethod(K.sparse_categorical_crossentropy)
    _backward = staticmethod(K.sparse_categorical_crossentropy_grad)
    _sparse = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None:
            raise ValueError(
                "SparseCategoricalCrossentropy: `ignore_class` is not supported. "
                f"Received: ignore_class={ignore_class!r}"
            )
        super().__init__(name, reduction, dtype, from_logits=bool(from_logits), axis=axis)
        self.from_logits = bool(from_logits)
        self.axis = axis

    def get_config(self):
        config = super().get_config()
        config["ignore_class"] = None
        return config


class MeanSquaredError(_KernelLoss):
    """``mean(square(y_true - y_pred), axis=-1)``, `keras.losses.MeanSquaredError`."""

    _forward = staticmethod(K.mean_squared_error)
    _backward = staticmethod(K.mean_squared_error_grad)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)


class MeanAbsoluteError(_KernelLoss):
    """``mean(abs(y_true - y_pred), axis=-1)``, `keras.losses.MeanAbsoluteError`."""

    _forward = staticmethod(K.mean_absolute_error)
    _backward = staticmethod(K.mean_absolute_error_grad)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)


class Hinge(_KernelLoss):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``, `keras.losses.Hinge`.

    Labels that are all in {0, 1} are converted to {-1, 1} first, as Keras does.
    """

    _forward = staticmethod(K.hinge)
    _backward = staticmethod(K.hinge_grad)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name, reduction, dtype)


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_true, y_pred, **kwargs) -> values`` as a `Loss` (Keras's class).

    The function is written with `upsampling.ops` or `upsampling.backend` (``K.mean``,
    ``K.square``, ``K.clip``, ...) and is differentiated by tracing it (`upsampling.autograd`).
    As in Keras, `y_true` and `y_pred` are first brought to the same rank when they differ by a
    trailing unit axis, then the returned values are reduced like any other loss's.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: `fn` must be callable. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None) or "loss_function_wrapper",
                         reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = _squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        raise NotImplementedError(f"Loss function `{self.name}` is Python code: it cannot be saved "
                                  f"in a model file. Pass it again to `compile()` after loading.")

    def __repr__(self):
        return f"LossFunctionWrapper({self.fn!r})"


def _check_smoothing(label_smoothing, owner):
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(
            f"{owner}: `label_smoothing` must be in [0, 1]. "
            f"Received: label_smoothing={label_smoothing!r}"
        )


# ---------------------------------------------------------------------------------------------
# functions (per-sample values, like keras.losses.<name>)
# ---------------------------------------------------------------------------------------------

def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy (`keras.losses.binary_crossentropy`)."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical crossentropy (`keras.losses.categorical_crossentropy`)."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample crossentropy with integer class ids (Keras's function of the same name)."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample ``mean(square(y_true - y_pred), axis=-1)`` (`keras.losses.mean_squared_error`)."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample ``mean(abs(y_true - y_pred), axis=-1)`` (`keras.losses.mean_absolute_error`)."""
    return MeanAbsoluteError().call(y_true, y_pred)


def hinge(y_true, y_pred):
    """Per-sample hinge loss (`keras.losses.hinge`); 0/1 labels are mapped to -1/1."""
    return Hinge().call(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy

# function -> the Loss class computing it with default settings
_FUNCTION_TO_CLASS = {
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    hinge: Hinge,
}

_CLASSES = {
    cls.__name__: cls
    for cls in (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
                MeanSquaredError, MeanAbsoluteError, Hinge)
}


def _key(name: str) -> str:
    return name.replace("_", "").lower()


# Keras names (class names, function names, "mse"/"mae"/"bce"), matched ignoring case and "_".
_NAMES = {_key(n): c for n, c in _CLASSES.items()}
_NAMES.update({_key(f.__name__): c for f, c in _FUNCTION_TO_CLASS.items()})
_NAMES.update({"mse": MeanSquaredError, "mae": MeanAbsoluteError, "bce": BinaryCrossentropy})


def get(identifier):
    """Resolve a loss identifier to a `Loss` object (or None for None).

    Accepts a `Loss` instance (returned as is), a `Loss` subclass (instantiated), a Keras name
    -- class or function, e.g. ``"BinaryCrossentropy"``, ``"binary_crossentropy"``, ``"bce"``,
    ``"mse"``, matched ignoring case and underscores --, one of this module's loss functions,
    or a config dict ``{"class_name": ..., "config": {...}}``.

    Any other callable ``fn(y_true, y_pred) -> values`` becomes a `LossFunctionWrapper`,
    differentiated by tracing (write it with `upsampling.ops` / `upsampling.backend`).

    Raises:
        ValueError: unknown name.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _NAMES.get(_key(identifier))
        if cls is None and (identifier in __getattr__.names or identifier in ("kld", "msle", "mape", "logcosh")):
            raise NotImplementedError(f"The Keras loss {identifier!r} is not supported by upsampling.")
        if cls is None:
            known = set(_CLASSES) | {f.__name__ for f in _FUNCTION_TO_CLASS} | {"mse", "mae", "bce"}
            raise ValueError(
                f"Could not interpret loss identifier: {identifier!r}. "
                f"Known losses: {sorted(known)}"
            )
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTION_TO_CLASS:
        return _FUNCTION_TO_CLASS[identifier]()
    if callable(identifier):
        # A function (y_true, y_pred) -> values written with upsampling.ops / upsampling.backend.
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss) -> dict:
    """``{"class_name": ..., "config": ...}`` for a `Loss` (or one of this module's functions)."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict, custom_objects=None):
    """Inverse of `serialize`; `custom_objects` maps extra class names to `Loss` subclasses."""
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name")
    classes = dict(_CLASSES)
    classes.update(custom_objects or {})
    cls = classes.get(name)
    if cls is None:
        raise ValueError(f"Could not interpret loss identifier: unknown class_name {name!r}")
    return cls.from_config(config.get("config", {}))


# Keras 3 `keras.losses` names not implemented here (see upsampling.keras_names)
__getattr__ = _unsupported(__name__, """
BinaryFocalCrossentropy CTC CategoricalFocalCrossentropy CategoricalGeneralizedCrossEntropy
CategoricalHinge Circle CosineSimilarity Dice Huber KLDivergence LogCosh MeanAbsolutePercentageError
MeanSquaredLogarithmicError Poisson SquaredHinge Tversky binary_focal_crossentropy
categorical_focal_crossentropy categorical_generalized_cross_entropy categorical_hinge circle
cosine_similarity ctc dice huber kl_divergence log_cosh mean_absolute_percentage_error
mean_squared_logarithmic_error poisson squared_hinge tversky
""")

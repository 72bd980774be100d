"""Keras 3 metrics on NumPy: stateful `Metric` objects, the accuracy functions and `get`.

A metric accumulates over batches: ``update_state(y_true, y_pred, sample_weight=None)``,
``result()`` (a Python float), ``reset_state()``. Accumulators are float32, as Keras's.

`get("accuracy")` (or ``"acc"``) follows Keras's ``compile`` rule: with the batch shapes known,
a ``y_pred`` whose last axis is 1 means binary accuracy, a ``y_true`` of lower rank than
``y_pred`` (or with a last axis of 1 while ``y_pred``'s is larger) means sparse categorical
accuracy, anything else categorical accuracy. Keras 3 decides from those shapes alone; as in
``tf.keras`` a crossentropy `loss` passed to `get` also decides it (binary / categorical /
sparse). With neither, the returned metric decides from the shapes of its first batch.
"""
from __future__ import annotations

import inspect

import numpy as np

from upsampling import losses as _losses
from upsampling.keras_names import unsupported as _unsupported

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "get",
]

_FLOATX = np.float32


def _squeeze_or_expand(y_true, y_pred):
    return _losses._squeeze_or_expand_to_same_rank(y_true, y_pred)


# ---------------------------------------------------------------------------------------------
# functions: per-sample match arrays (float32), like keras.metrics.<name>
# ---------------------------------------------------------------------------------------------

def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` exactly, else 0.0 (`keras.metrics.Accuracy`'s function)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).astype(y_pred.dtype, copy=False)
    y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
    return (y_true == y_pred).astype(_FLOATX)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``(y_pred > threshold) == y_true``, else 0.0 (`keras.metrics.binary_accuracy`)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
    y_pred = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == y_pred).astype(_FLOATX)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true) == argmax(y_pred)`` on the last axis, else 0.0."""
    y_true = np.argmax(np.asarray(y_true), axis=-1)
    y_pred = np.asarray(y_pred)
    org_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim:
        y_true = np.squeeze(y_true, -1)
        reshape = True
    matches = (y_true == np.argmax(y_pred, axis=-1)).astype(_FLOATX)
    return matches.reshape(org_shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals ``argmax(y_pred)`` on the last axis, else 0.0."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    org_shape = y_true.shape
    reshape = False
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = np.squeeze(y_true, -1)
        reshape = True
    matches = (y_true == np.argmax(y_pred, axis=-1)).astype(_FLOATX)
    if reshape:
        matches = matches.reshape(org_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


# ---------------------------------------------------------------------------------------------
# stateful metrics
# ---------------------------------------------------------------------------------------------

class Metric:
    """Base class of stateful metrics (`keras.metrics.Metric`).

    Subclasses implement `update_state`, `result` and `reset_state`.
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or _losses._snake(type(self).__name__)
        self.dtype = np.dtype(dtype or _FLOATX)

    def update_state(self, *args, **kwargs):
        """Accumulate one batch."""
        raise NotImplementedError

    def result(self) -> float:
        """The metric over everything accumulated since the last reset."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget everything accumulated."""
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> float:
        """`update_state` then `result`."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild a metric (without its state) from `get_config()`."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """Weighted mean of values over batches (`keras.metrics.Mean`).

    ``update_state(values, sample_weight=None)``: values of rank > 1 are first averaged per
    sample; each sample counts with its weight (default 1).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = self.dtype.type(0)
        self.count = self.dtype.type(0)

    def update_state(self, values, sample_weight=None):
        dt = self.dtype
        values = np.asarray(values).astype(dt, copy=False)
        if sample_weight is not None:
            sw = np.asarray(sample_weight).astype(dt, copy=False)
            values, sw = _squeeze_or_expand(values, sw)
            w_nd = sw.ndim
            if values.ndim > w_nd:
                values = np.mean(values, axis=tuple(range(w_nd, values.ndim)))
            sw = np.broadcast_to(sw, values.shape)
            values = values * sw
            if w_nd > 1:
                sw = np.mean(sw, axis=tuple(range(1, w_nd)))
        if values.ndim > 1:
            values = np.mean(values, axis=tuple(range(1, values.ndim)))
        self.total = dt.type(self.total + np.sum(values, dtype=dt))
        if sample_weight is not None:
            n = np.sum(sw, dtype=dt)
        elif values.ndim >= 1:
            n = values.shape[0]
        else:
            n = 1
        self.count = dt.type(self.count + dt.type(n))

    def result(self) -> float:
        if self.count == 0:
            return 0.0
        return float(self.dtype.type(self.total / self.count))


class MeanMetricWrapper(Mean):
    """Mean over samples of ``fn(y_true, y_pred, **kwargs)`` (`keras.metrics.MeanMetricWrapper`)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Accumulate ``fn(y_true, y_pred)`` for one batch."""
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (`keras.metrics.Accuracy`)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches binary labels (`keras.metrics.BinaryAccuracy`)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of `y_pred` matches that of one-hot `y_true`."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of `y_pred` matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return Metric.get_config(self)


# ---------------------------------------------------------------------------------------------
# "accuracy" resolution
# ---------------------------------------------------------------------------------------------

def _kind_from_shapes(y_true_shape, y_pred_shape):
    """Keras 3 compile rule: 'binary', 'sparse' or 'categorical'."""
    t_rank, p_rank = len(y_true_shape), len(y_pred_shape)
    t_last = y_true_shape[-1] if t_rank else None
    p_last = y_pred_shape[-1] if p_rank else None
    if p_last == 1:
        return "binary"
    if t_rank < p_rank or (t_last == 1 and p_last is not None and p_last > 1):
        return "sparse"
    return "categorical"


def _kind_from_loss(loss):
    if loss is None:
        return None
    if isinstance(loss, str):
        key = _losses._key(loss)
        cls = _losses._NAMES.get(key)
    elif isinstance(loss, _losses.Loss):
        cls = type(loss)
    elif inspect.isclass(loss):
        cls = loss
    else:
        cls = _losses._FUNCTION_TO_CLASS.get(loss)
    if cls is None:
        return None
    if issubclass(cls, _losses.BinaryCrossentropy):
        return "binary"
    if issubclass(cls, _losses.SparseCategoricalCrossentropy):
        return "sparse"
    if issubclass(cls, _losses.CategoricalCrossentropy):
        return "categorical"
    return None


_ACCURACY_BY_KIND = {
    "binary": BinaryAccuracy,
    "sparse": SparseCategoricalAccuracy,
    "categorical": CategoricalAccuracy,
}


class _AutoAccuracy(Mean):
    """'accuracy' whose flavour is decided by the shapes of the first batch (Keras 3 compile)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.resolved is None:
            kind = _kind_from_shapes(np.shape(y_true), np.shape(y_pred))
            self.resolved = _ACCURACY_BY_KIND[kind](name=self.name, dtype=self.dtype)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return 0.0 if self.resolved is None else self.resolved.result()

    def reset_state(self):
        if getattr(self, "resolved", None) is not None:
            self.resolved.reset_state()


def _metric_names():
    names = {
        "Accuracy": Accuracy,  # exact class name: elementwise equality (keras.metrics.Accuracy)
    }
    table = {}
    for cls in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, Mean):
        table[_losses._key(cls.__name__)] = cls
    return names, table


_EXACT, _BY_KEY = _metric_names()


def get(identifier, loss=None, y_true=None, y_pred=None):
    """Resolve a metric identifier to a `Metric`.

    Args:
        identifier: a `Metric` (returned as is), a `Metric` subclass (instantiated), a name --
            ``"accuracy"``/``"acc"`` (resolved as described in the module docstring),
            ``"Accuracy"`` (exact equality, `Accuracy`), ``"binary_accuracy"``,
            ``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``, ``"mean"``, their
            class names, or a loss name such as ``"mse"``/``"binary_crossentropy"`` (mean of
            that loss) --, or a function ``(y_true, y_pred) -> per-sample values``, wrapped in
            a `MeanMetricWrapper`.
        loss: the loss the model is compiled with (name, `Loss` or loss function); a
            crossentropy decides which accuracy ``"accuracy"`` means.
        y_true, y_pred: a batch (or just arrays of the right shapes) to decide
            ``"accuracy"`` by Keras 3's shape rule.
    """
    if identifier is None:
        raise ValueError("Expected a metric, received None.")
    if isinstance(identifier, Metric):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc") and identifier != "Accuracy":
            kind = None
            if y_true is not None and y_pred is not None:
                kind = _kind_from_shapes(np.shape(y_true), np.shape(y_pred))
            loss_kind = _kind_from_loss(loss)
            if loss_kind is not None and (kind is None or loss_kind == "binary"):
                kind = loss_kind
            if kind is None:
                return _AutoAccuracy(name=identifier)
            return _ACCURACY_BY_KIND[kind](name=identifier)
        if identifier in _EXACT:
            return _EXACT[identifier]()
        cls = _BY_KEY.get(_losses._key(identifier))
        if cls is not None:
            return cls()
        loss_cls = _losses._NAMES.get(_losses._key(identifier))
        if loss_cls is not None:
            loss_obj = loss_cls()
            return MeanMetricWrapper(loss_obj.call, name=loss_obj.name)
        if identifier in __getattr__.names or identifier in ("auc", "precision", "recall", "kld", "msle", "mape"):
            raise NotImplementedError(f"The Keras metric {identifier!r} is not supported by upsampling.")
        raise ValueError(
            f"Could not interpret metric identifier: {identifier!r}. Known metrics: "
            "'accuracy', 'acc', 'Accuracy', 'binary_accuracy', 'categorical_accuracy', "
            "'sparse_categorical_accuracy', 'mean', or a loss name such as 'mse'."
        )
    if isinstance(identifier, _losses.Loss):
        return MeanMetricWrapper(identifier.call, name=identifier.name)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


# Keras 3 `keras.metrics` names not implemented here (see upsampling.keras_names)
__getattr__ = _unsupported(__name__, """
AUC BinaryCrossentropy BinaryIoU CategoricalCrossentropy CategoricalHinge ConcordanceCorrelation
CosineSimilarity F1Score FBetaScore FalseNegatives FalsePositives Hinge IoU KLDivergence
LogCoshError MeanAbsoluteError MeanAbsolutePercentageError MeanIoU MeanSquaredError
MeanSquaredLogarithmicError OneHotIoU OneHotMeanIoU PearsonCorrelation Poisson Precision
PrecisionAtRecall R2Score Recall RecallAtPrecision RootMeanSquaredError SensitivityAtSpecificity
SparseCategoricalCrossentropy SparseTopKCategoricalAccuracy SpecificityAtSensitivity SquaredHinge
Sum TopKCategoricalAccuracy TrueNegatives TruePositives binary_crossentropy
binary_focal_crossentropy categorical_crossentropy categorical_focal_crossentropy categorical_hinge
concordance_correlation hinge huber kl_divergence log_cosh mean_absolute_error
mean_absolute_percentage_error mean_squared_error mean_squared_logarithmic_error pearson_correlation
poisson sparse_categorical_crossentropy sparse_top_k_categorical_accuracy squared_hinge
top_k_categorical_accuracy
""")

"""The Layer base class, symbolic tensors for the functional API, and Keras-style naming.

A layer's life: `__init__` validates its arguments; `build(input_shape)` creates its weights the
first time it sees an input; `forward(x, training)` computes the output and returns it with a
backward closure ``backward(dy, grads) -> dx`` (see `upsampling.autograd`).
"""
from __future__ import annotations

import inspect
import re
import warnings
from collections import Counter

import numpy as np

from upsampling import initializers, shapes
from upsampling.autograd import Tensor, Variable, current_tape, trace

_name_counts: Counter = Counter()
# Set by the file loaders (`upsampling.io.reader.weight_budget`) to a callable
# guard(layer, name, shape, dtype) that refuses a declared weight before it is allocated.
weight_guard = None


def clear_session() -> None:
    """Restart layer numbering (`dense`, `dense_1`, ...), as `keras.backend.clear_session()`."""
    _name_counts.clear()


def to_snake_case(name: str) -> str:
    """'UpSampling2D' -> 'up_sampling2d', 'LeakyReLU' -> 'leaky_re_lu' (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def whole_numbers(arr: np.ndarray) -> np.ndarray:
    """Elementwise: finite and integral (what may be read as an integer index or label)."""
    return np.isfinite(arr) & (arr == np.round(arr))


FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def standardize_dtype(dtype, owner: str, integer: bool = False) -> str:
    """The dtype's name; floating types only, or integer ones too (model inputs that feed Embedding)."""
    if dtype is None:
        return "float32"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    allowed = FLOAT_DTYPES + (INT_DTYPES if integer else ())
    if name not in allowed:
        kind = "a floating or integer type" if integer else "a floating type"
        raise ValueError(f"{owner}: `dtype` must be {kind} ({', '.join(allowed)}). Received: dtype={dtype!r}")
    return name


class KerasTensor:
    """A symbolic tensor of the functional API: a shape (batch axis None) and where it came from."""

    def __init__(self, shape, dtype="float32", node=None, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node  # the Node that produced it (None only transiently)
        self.index = 0    # which output of that node (a nested model may have several)
        self.name = name
        if node is not None:
            node.outputs = [self]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer in a functional graph."""

    def __init__(self, layer, inputs: list, as_list: bool = False, training=None):
        self.layer = layer
        self.inputs = inputs  # list of KerasTensor
        self.outputs: list = []  # the KerasTensors it made
        self.as_list = as_list or len(inputs) != 1  # the layer was called on a list of tensors
        # `layer(x, training=True)` in a functional graph: that mode always, whatever the model runs in
        self.training = None if training is None else bool(training)


def _is_shape_list(shape) -> bool:
    """True for a list of shapes (a multi-input call), False for one shape."""
    return isinstance(shape, list) and bool(shape) and all(isinstance(s, (tuple, list)) for s in shape)


def _to_shape(value, name: str, owner: str) -> tuple:
    if isinstance(value, (int, np.integer)) or value is None:
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0) for v in value):
        raise ValueError(f"{owner}: `{name}` must be a tuple of positive integers (None for an unknown "
                         f"size). Received: {name}={value!r}")
    return tuple(None if v is None else int(v) for v in value)


class Layer:
    """Base class of every layer and model."""

    # Rank of the input including the batch axis (None: any rank >= min_ndim).
    input_ndim: int | None = None
    min_ndim: int = 2
    _integer_dtype = False  # whether `dtype` may be an integer type (InputLayer)
    # whether backward(dy, grads) honours grads.input_needed (returns None instead of an unwanted dx);
    # a Sequential model lets only such a first layer skip its input gradient (autograd.Gradients)
    skips_input_gradient = False

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, batch_size=None, input_dim=None, **kwargs):
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {cls}: {kwargs}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"{cls}: `name` must be a non-empty string. Received: name={name!r}")
        self.name = name or unique_name(to_snake_case(cls))
        self.dtype = standardize_dtype(dtype, self._owner, integer=self._integer_dtype)
        self._trainable = bool(trainable)
        self._variables: list[Variable] = []
        self.built = False
        self.input_shape_: tuple | None = None  # full input shape seen at build (batch None)
        # Keras 2 spellings that let a first layer declare the model input.
        self._batch_input_shape = None
        if batch_input_shape is not None:
            self._batch_input_shape = _to_shape(batch_input_shape, "batch_input_shape", self._owner)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + _to_shape(input_shape, "input_shape", self._owner)
        elif input_dim is not None:
            self._batch_input_shape = (batch_size,) + _to_shape(input_dim, "input_dim", self._owner)

    # ----------------------------------------------------------------- naming and errors
    @property
    def _owner(self) -> str:
        name = getattr(self, "name", None)
        return f"{type(self).__name__} layer '{name}'" if name else type(self).__name__

    def _error(self, message: str) -> ValueError:
        return ValueError(f"{self._owner}: {message}")

    # ----------------------------------------------------------------- weights
    def add_weight(self, name=None, shape=None, initializer=None, trainable: bool = True,
                   regularizer=None, constraint=None, dtype=None, **kwargs) -> Variable:
        """A new weight of `shape`, initialised by `initializer` (Keras 3's default:
        ``"glorot_uniform"``). Keras 2's order ``add_weight(name, shape, ...)`` and Keras 3's
        ``add_weight(shape, initializer, ...)`` (a shape first) both work."""
        if isinstance(name, (tuple, list)) and not isinstance(shape, (tuple, list)):
            name, shape, initializer = None, name, initializer if shape is None else shape
        for key in ("autocast", "aggregation", "synchronization", "use_resource"):
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"{self._owner}: `add_weight` got unexpected arguments {sorted(kwargs)}.")
        if shape is None:
            shape = ()
        if name is None:
            name = f"variable_{len(self._variables)}" if self._variables else "variable"
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        dtype = self.dtype if dtype is None else np.dtype(dtype).name
        from upsampling import constraints, regularizers
        if regularizer is not None and not hasattr(regularizer, "gradient"):
            regularizer = regularizers.get(regularizer, self._owner)
        if constraint is not None and not hasattr(constraint, "get_config"):
            constraint = constraints.get(constraint, self._owner)
        if weight_guard is not None:
            weight_guard(self, name, tuple(shape), dtype)
        shapes.check_elements(tuple(shape), self._owner, f"weight `{name}`", batch_axis=False)
        value = np.asarray(init(tuple(shape), dtype=dtype), dtype=dtype)
        var = Variable(value, name=name, trainable=trainable)
        var.path = f"{self.name}/{name}"
        var.regularizer, var.constraint = regularizer, constraint
        self._variables.append(var)
        return var

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    def _sublayers(self) -> list:
        """Layers kept as attributes (directly or in a list), as Keras tracks them."""
        out = []
        for key, value in vars(self).items():
            if key.startswith("_") and key != "_layers":
                continue
            for item in (value if isinstance(value, (list, tuple)) else [value]):
                if isinstance(item, Layer) and item is not self and all(item is not o for o in out):
                    out.append(item)
        return out

    @property
    def weights(self) -> list:
        out = list(self._variables)
        for layer in self._sublayers():
            out += [v for v in layer.weights if all(v is not o for o in out)]
        return out

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        out = [v for v in self._variables if v.trainable]
        for layer in self._sublayers():
            out += [v for v in layer.trainable_weights if all(v is not o for o in out)]
        return out

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def losses(self) -> list:
        """The regularization penalties of the trainable weights (Keras's `layer.losses`)."""
        return [v.regularizer(v.value) for v in self.trainable_weights if v.regularizer is not None]

    def get_weights(self) -> list:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Assign `weights` (Keras order); every array is checked before any is assigned."""
        arrays = self._checked_weights(weights)
        for var, arr in zip(self.weights, arrays):
            var.assign(arr)

    def _checked_weights(self, weights) -> list:
        """`weights` as arrays of this layer's weight dtypes and shapes, or a ValueError/TypeError."""
        own = self.weights
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"{self._owner}: `set_weights` expects a list of arrays. "
                            f"Received: {type(weights).__name__}")
        if len(weights) != len(own):
            raise ValueError(
                f"{self._owner}: `set_weights` was given a list of {len(weights)} arrays, but the "
                f"layer has {len(own)} weights ({', '.join(v.name for v in own) or 'none'}"
                f"{'' if self.built else '; it is not built yet'})."
            )
        arrays = []
        for var, w in zip(own, weights):
            try:
                arr = np.asarray(w, dtype=var.dtype)
            except (TypeError, ValueError):
                raise TypeError(f"{self._owner}: weight `{var.name}` must be numeric. "
                                f"Received an array of {np.asarray(w).dtype}") from None
            if arr.shape != var.shape:
                raise ValueError(f"{self._owner}: weight `{var.name}` has shape {var.shape}, which is not "
                                 f"compatible with the provided weight shape {arr.shape}.")
            arrays.append(arr)
        return arrays

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"{self._owner}: you tried to call `count_params`, but the layer isn't "
                             f"built. Build it first, e.g. by calling it on data.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # ----------------------------------------------------------------- build & shapes
    def build(self, input_shape) -> None:
        """Create weights for `input_shape` (batch axis included). Subclasses extend this."""

    def compute_output_shape(self, input_shape) -> tuple:
        if self._traces_call():
            return self._traced_output_shape(input_shape)
        return tuple(input_shape)

    def _traces_call(self) -> bool:
        """A subclass written the Keras way (`call` with upsampling.ops) rather than `call_forward`."""
        cls = type(self)
        return cls.call is not Layer.call and cls.call_forward is Layer.call_forward

    def _traced_output_shape(self, input_shape):
        """Run `call` on zeros of `input_shape` (unknown sizes as 1) and read the output's shape."""
        def zeros(shape):
            return np.zeros(tuple(1 if v is None else v for v in shape), self.dtype)

        arrays = [zeros(s) for s in input_shape] if _is_shape_list(input_shape) else zeros(input_shape)
        with np.errstate(all="ignore"):
            out = self._call_traced(arrays, False)[0]
        def shape_of(o, shape):
            return (shape[0],) + tuple(np.shape(o)[1:])
        first = input_shape[0] if _is_shape_list(input_shape) else input_shape
        if isinstance(out, (list, tuple)):
            return [shape_of(o, first) for o in out]
        return shape_of(out, first)

    def _call_traced(self, x, training: bool):
        """`call` traced: (outputs, backward(dy, grads) -> dx)."""
        kwargs = {}
        try:
            params = inspect.signature(self.call).parameters
        except (TypeError, ValueError):
            params = {}
        if "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kwargs["training"] = training
        try:
            out, vjp = trace(lambda inputs: self.call(inputs, **kwargs), x, training=training)
        except TypeError as exc:
            raise TypeError(f"{self._owner}: `call` cannot be differentiated: {exc}") from None
        return out, vjp

    def _check_input_shape(self, shape: tuple) -> None:
        """Rank checks shared by all layers; subclasses add channel/size rules in `build`."""
        if self.input_ndim is not None and len(shape) != self.input_ndim:
            raise self._error(f"expected an input of rank {self.input_ndim} (batch axis included), "
                              f"but received an input of shape {shape} (rank {len(shape)}).")
        if len(shape) < self.min_ndim:
            raise self._error(f"expected an input of rank >= {self.min_ndim} (batch axis included), "
                              f"but received an input of shape {shape}.")
        if any(v == 0 for v in shape[1:]):
            raise self._error(f"every axis but the batch axis must be non-empty. Received an input of "
                              f"shape {shape}.")

    def _maybe_build(self, input_shape) -> None:
        if _is_shape_list(input_shape):  # a call on a list of tensors
            shapes = [tuple(s) for s in input_shape]
            if not self.built:
                self.build(shapes)
                self.input_shape_ = [(None,) + s[1:] for s in shapes]
                self.built = True
            return
        shape = tuple(input_shape)
        if not self.built:
            self._check_input_shape(shape)
            checked = self._check_output_size(shape)  # before build: no weights for an impossible layer
            self.build(shape)
            self.input_shape_ = (None,) + shape[1:]
            self.built = True
            if not checked:
                self._check_output_size(shape)
        else:
            self._check_input_shape(shape)
            self._check_built_compatible(shape)
            self._check_output_size(shape)

    def _check_output_size(self, shape: tuple) -> bool:
        """Refuse an output over `shapes.MAX_ELEMENTS` per sample; False if the shape is not known yet."""
        try:
            out = self.compute_output_shape(shape)
        except Exception:  # noqa: BLE001 - the layer's own checks in build() report bad input
            return False
        shapes.check_elements(out, self._owner)
        return True

    def _check_built_compatible(self, shape: tuple) -> None:
        """After build, the axes that fixed weight shapes must keep their sizes."""
        axis = getattr(self, "_weight_axis", None)
        if axis is None or self.input_shape_ is None:
            return
        expected = self.input_shape_[axis]
        if expected is not None and shape[axis] is not None and shape[axis] != expected:
            raise self._error(f"input axis {axis} was {expected} when the layer was built, but "
                              f"received an input of shape {shape}.")

    # ----------------------------------------------------------------- calling
    def _convert(self, x, cast: bool = True) -> np.ndarray:
        """`x` as an array of this layer's dtype; TypeError for non-numeric data."""
        if isinstance(x, Variable):
            x = x.value
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self._owner}: the input must be a numeric array. {exc}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{self._owner}: the input must be numeric. Received an array of dtype "
                            f"{arr.dtype}.")
        if np.iscomplexobj(arr):
            raise TypeError(f"{self._owner}: the input must be real. Received an array of dtype {arr.dtype}.")
        if cast and np.issubdtype(self.dtype, np.integer) and not np.issubdtype(arr.dtype, np.integer):
            if not whole_numbers(arr).all():
                raise TypeError(f"{self._owner}: the input must hold integers (dtype {self.dtype}). "
                                f"Received an array of {arr.dtype} with non-integer values.")
        return arr.astype(self.dtype, copy=False) if cast else arr

    def forward(self, x, training: bool = False):
        """Compute the output for array `x`; returns (y, backward) with backward(dy, grads) -> dx."""
        if isinstance(x, (list, tuple)):
            x = [self._convert(v) for v in x]
            self._maybe_build([v.shape for v in x])
        else:
            x = self._convert(x)
            self._maybe_build(x.shape)
        if self._traces_call():
            return self._call_traced(x, training)
        return self.call_forward(x, training)

    def call_forward(self, x: np.ndarray, training: bool):
        raise NotImplementedError(f"{type(self).__name__} must implement `call(inputs)` (with "
                                  f"upsampling.ops functions) to compute its output.")

    def call(self, x, training=None):
        """Keras-style plain call on arrays (no gradients)."""
        return self.forward(x, bool(training))[0]

    def __call__(self, inputs, training=None, **kwargs):
        if kwargs:
            raise TypeError(f"{self._owner}: unexpected call arguments {sorted(kwargs)}.")
        as_list = isinstance(inputs, (list, tuple))
        items = list(inputs) if as_list else [inputs]
        symbolic = [isinstance(t, KerasTensor) for t in items]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(f"{self._owner}: a layer is called either on symbolic tensors (from "
                                f"`Input`) or on arrays, not a mix. Received: {items!r}")
            shapes = [t.shape for t in items]
            self._maybe_build(shapes if as_list else shapes[0])
            out = self.compute_output_shape(shapes if as_list else shapes[0])
            node = Node(self, items, as_list=as_list, training=training)
            if _is_shape_list(out):
                raise NotImplementedError(f"{self._owner}: layers with several outputs are not "
                                          f"supported in functional models.")
            tensor = KerasTensor(out, dtype=self.dtype, node=node, name=self.name)
            self._first_node = getattr(self, "_first_node", None) or node
            return tensor
        if any(isinstance(t, Tensor) for t in items):  # inside a traced call: record this call
            tape = current_tape()
            x = items if as_list else items[0]
            return tape.record_layer(self, x, bool(tape.training if training is None else training))
        return self.forward(inputs, bool(training))[0]

    @property
    def input(self):
        """The symbolic input of the layer's first call in a model (a list for several)."""
        node = self._called_node("input")
        return node.inputs if node.as_list else node.inputs[0]

    @property
    def output(self):
        """The symbolic output of the layer's first call in a model (`model.layers[-2].output`)."""
        node = self._called_node("output")
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def _called_node(self, what: str):
        node = getattr(self, "_first_node", None)
        if node is None:
            raise AttributeError(f"{self._owner} has no symbolic {what}: it has not been called on a symbolic "
                                 f"tensor (from `Input`) yet.")
        return node

    def add_loss(self, loss):
        raise NotImplementedError(f"{self._owner}: `add_loss` is not supported by upsampling; compile the "
                                  f"model with a loss function (several outputs may each have one).")

    @property
    def output_shape(self) -> tuple:
        if self.input_shape_ is None:
            raise AttributeError(f"{self._owner} has not been built, so it has no output shape yet.")
        return self.compute_output_shape(self.input_shape_)

    @property
    def input_shape(self) -> tuple:
        if self.input_shape_ is None:
            raise AttributeError(f"{self._owner} has not been built, so it has no input shape yet.")
        return self.input_shape_

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    """Marks a model input; `Input(...)` returns its symbolic output tensor (integer dtypes allowed)."""

    _integer_dtype = True

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 input_shape=None, **kwargs):
        if shape is None and input_shape is not None:
            shape = input_shape
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is not None:
            full = _to_shape(batch_shape, "batch_shape", self._owner)
        elif shape is not None:
            full = (batch_size,) + _to_shape(shape, "shape", self._owner)
        else:
            raise self._error("needs `shape` (without the batch axis) or `batch_shape`. Received neither.")
        self._batch_input_shape = full
        self.input_shape_ = full
        self.built = True
        self._first_node = Node(self, [])
        KerasTensor(full, dtype=self.dtype, node=self._first_node, name=self.name)  # becomes `self.output`

    @property
    def input(self):
        return self.output

    def call_forward(self, x, training):
        return x, lambda dy, grads: dy

    def get_config(self):
        return {"batch_shape": self._batch_input_shape, "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None) -> KerasTensor:
    """A symbolic model input of `shape` (batch axis excluded), as `keras.Input`."""
    if name is None:
        name = unique_name("input_layer")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output


def deprecated_alias(kwargs: dict, old: str, new: str, owner: str, value):
    """Keras 2 spelling `old=` for `new=`: returns the value to use, warning once."""
    if old in kwargs:
        old_value = kwargs.pop(old)
        warnings.warn(f"{owner}: argument `{old}` is deprecated; use `{new}` instead.",
                      DeprecationWarning, stacklevel=3)
        return old_value
    return value

"""The backprop engine: weights as `Variable`s and gradients gathered by reverse-mode VJPs.

Every op in `upsampling.ops` comes as a forward/backward pair. A layer's `forward(x, training)`
returns its output together with a *backward closure* ``backward(dy, grads) -> dx`` that knows
everything the forward pass saved. Models chain these closures: Sequential in reverse order,
functional models in reverse topological order, nested models by calling the inner model's
closure. Because each call makes its own closure, a layer used twice in one graph gets both of
its gradient contributions.

Weight gradients are accumulated into a `Gradients` mapping keyed by the `Variable` itself.

User code written with `upsampling.ops` / `upsampling.backend` (custom losses, `Lambda` layers,
`Layer` subclasses) is differentiated by the same op pairs: called on a `Tensor`, each of those
functions runs its forward kernel and records its gradient kernel on the result; `vjp` walks
the records back. Called on plain arrays they are plain NumPy, and nothing is recorded.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterable

import numpy as np

__all__ = ["Variable", "Gradients", "Backward", "Tensor", "apply", "trace", "value_and_grad"]


class Variable:
    """A named, mutable weight array (what Keras calls a `keras.Variable`).

    Attributes:
        name: the weight's short name, e.g. ``"kernel"``.
        path: ``"<layer name>/<name>"`` once the owning layer sets it.
        trainable: whether optimizers update it.
    """

    def __init__(self, value: np.ndarray, name: str = "variable", trainable: bool = True):
        self._value = np.asarray(value)
        self.name = name
        self.path = name
        self.trainable = bool(trainable)
        self.regularizer = None  # penalty added to the training loss (upsampling.regularizers)
        self.constraint = None   # projection the optimizer applies after each update

    @property
    def value(self) -> np.ndarray:
        return self._value

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        return self._value.copy()

    def assign(self, value) -> None:
        """Overwrite the value in place; the shape must match exactly."""
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(
                f"Variable `{self.path}`: cannot assign a value of shape {value.shape} to a "
                f"variable of shape {self._value.shape}."
            )
        self._value[...] = value

    def assign_sub(self, delta) -> None:
        self._value -= np.asarray(delta, dtype=self._value.dtype)

    def assign_add(self, delta) -> None:
        self._value += np.asarray(delta, dtype=self._value.dtype)

    def __array__(self, dtype=None, copy=None):
        return self._value if dtype is None else self._value.astype(dtype)

    # Arithmetic goes through `upsampling.ops`, so inside a traced call it is recorded.
    __array_priority__ = 100

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


class Gradients:
    """Gradients of one scalar with respect to many variables, summed over every use.

    `wanted` (variables), if given, names the only variables whose gradients the caller will read:
    layers skip the work for the others (`wants`), e.g. a frozen discriminator's kernel gradients
    while the generator trains through it. None wants every variable's.

    `input_needed` says whether the layer whose backward pass runs now must return its input
    gradient. It starts as `need_input`: a training step, which discards the model's input
    gradient, passes False. A Sequential model passes it on to its first layer only, and only if
    that layer declares `skips_input_gradient` (Dense, Conv2D, Conv2DTranspose, models): any other
    layer, a user's layer wrapping another one included, sees True. So the first convolution of a
    discriminator skips its dx when the discriminator trains, not when the generator trains
    through it.
    """

    def __init__(self, wanted=None, *, need_input: bool = True):
        self._grads: dict[int, tuple[Variable, np.ndarray]] = {}
        self._wanted = None if wanted is None else {id(v) for v in wanted}
        self.input_needed = bool(need_input)

    def wants(self, variable: Variable) -> bool:
        """Whether the gradient of `variable` is needed (a layer may skip computing it if not)."""
        return self._wanted is None or id(variable) in self._wanted

    def add(self, variable: Variable, grad: np.ndarray) -> None:
        key = id(variable)
        if key in self._grads:
            self._grads[key] = (variable, self._grads[key][1] + grad)
        else:
            self._grads[key] = (variable, grad)

    def get(self, variable: Variable):
        """The gradient of `variable`, or None if nothing reached it."""
        entry = self._grads.get(id(variable))
        return None if entry is None else entry[1]

    def __contains__(self, variable: Variable) -> bool:
        return id(variable) in self._grads

    def __len__(self) -> int:
        return len(self._grads)

    def items(self):
        return list(self._grads.values())

    def for_variables(self, variables: Iterable[Variable]) -> list:
        """Gradients in the order of `variables`; zeros for a variable nothing reached."""
        out = []
        for v in variables:
            g = self.get(v)
            out.append(np.zeros_like(v.value) if g is None else g)
        return out


# backward(dy, grads) -> dx  (dx is a list for multi-input layers)
Backward = Callable[[np.ndarray, Gradients], object]


def wants_gradient(grads, variable) -> bool:
    """`grads.wants(variable)`, True for a gradient collector without that method."""
    wants = getattr(grads, "wants", None)
    return True if wants is None else bool(wants(variable))


def input_gradient_needed(grads) -> bool:
    """`grads.input_needed`, True for a gradient collector without it."""
    return bool(getattr(grads, "input_needed", True))


_step = threading.local()

# what the layers of one training step may keep for their backward pass, in all (`keep_bytes`)
KEEP_BYTES_PER_STEP = 64 << 20


@contextmanager
def training_step(wanted: Iterable[Variable]):
    """Mark the forward pass of a training step whose backward pass will ask for the gradients of
    `wanted` (a compiled model's `train_on_batch`), so that a layer's forward pass may keep what
    only those gradients read (`gradient_expected`, `keep_bytes`). Nested marks see the innermost;
    the mark is per thread."""
    previous = getattr(_step, "wanted", None), getattr(_step, "budget", 0)
    _step.wanted = {id(v) for v in wanted}
    _step.budget = KEEP_BYTES_PER_STEP
    try:
        yield
    finally:
        _step.wanted, _step.budget = previous


def gradient_expected(variable: Variable) -> bool:
    """Whether the training step now running (`training_step`) will want `variable`'s gradient.
    False outside one: a forward pass there keeps nothing extra, whatever comes after it."""
    wanted = getattr(_step, "wanted", None)
    return wanted is not None and id(variable) in wanted


def keep_bytes(nbytes: int) -> bool:
    """Take `nbytes` from the running training step's allowance for kept arrays; False (and nothing
    taken) outside a step or past KEEP_BYTES_PER_STEP, so a deep network keeps only its first
    layers' arrays instead of raising the step's peak memory by every layer's."""
    budget = getattr(_step, "budget", 0)
    if getattr(_step, "wanted", None) is None or nbytes > budget:
        return False
    _step.budget = budget - nbytes
    return True


def value_and_grad(forward: Callable, loss: Callable, x, y_true, *, training: bool = True):
    """Run a forward pass, a loss and the full backward pass.

    Args:
        forward: ``forward(x, training) -> (y_pred, backward)``, e.g. ``model.forward``.
        loss: ``loss(y_true, y_pred) -> (value, dvalue_dy_pred)``.
        x, y_true: the batch.

    Returns:
        ``(loss_value, grads, dx, y_pred)`` with `grads` a `Gradients` and `dx` the gradient of
        the loss with respect to the input.
    """
    y_pred, backward = forward(x, training)
    value, dy = loss(y_true, y_pred)
    grads = Gradients()
    dx = backward(dy, grads)
    return value, grads, dx, y_pred


# ============================================================================ tracing
class Tensor:
    """An array whose history is recorded: the values user code computes while being traced.

    Produced by `trace` (for the traced inputs and the variables the code reads) and by every
    `upsampling.ops` function that receives one. Supports the arithmetic operators, indexing,
    `shape`/`ndim`/`dtype`; `numpy()` gives the value. NumPy functions cannot see through it:
    use `upsampling.ops` (or `upsampling.backend`) so that the gradient is known.
    """

    __array_priority__ = 200

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs that have an `upsampling.ops` twin (`ndarray * t`, `np.tanh(t)`) run it."""
        name = _UFUNCS.get(ufunc.__name__)
        if method != "__call__" or kwargs or name is None:
            raise TypeError(f"NumPy's `{ufunc.__name__}` cannot be differentiated on a traced tensor. Use "
                            f"the `upsampling.ops` or `upsampling.backend` functions instead.")
        return getattr(_ops(), name)(*inputs)

    def __init__(self, value, parents=(), grad_fn=None):
        self.value = np.asarray(value)
        self._parents = tuple(parents)  # Tensor or None per argument of the op that made it
        self._grad_fn = grad_fn         # dy -> tuple of gradients, one per parent

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)
    size = property(lambda self: self.value.size)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def __len__(self):
        return len(self.value)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A traced tensor cannot be turned into a NumPy array: the gradient would be lost. "
            "Write the computation with `upsampling.ops` or `upsampling.backend` functions "
            "(mean, sum, square, clip, ...) instead of NumPy ones.")

    def __bool__(self):
        raise TypeError("The truth value of a traced tensor is not defined in a differentiable "
                        "computation; use `upsampling.ops.where` for a choice per element.")

    def __repr__(self):
        return f"<Tensor shape={self.shape}, dtype={self.dtype}>"

    @property
    def T(self):
        return _ops().transpose(self)

    def __getitem__(self, index):
        from upsampling.ops import math
        return apply(math.take, math.take_grad, self, index=index)


_UFUNCS = {name: name for name in (
    "add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "negative", "square", "sqrt",
    "exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "matmul", "less", "less_equal", "greater",
    "greater_equal", "equal", "not_equal", "sign", "floor", "ceil")}
_UFUNCS.update(true_divide="divide", absolute="abs")


def _ops():
    from upsampling import ops
    return ops


def _operator(name, reflected=False):
    def method(self, other):
        fn = getattr(_ops(), name)
        return fn(other, self) if reflected else fn(self, other)
    return method


for _name, _fn in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                   ("pow", "power"), ("matmul", "matmul")):
    for _cls in (Tensor, Variable):
        setattr(_cls, f"__{_name}__", _operator(_fn))
        setattr(_cls, f"__r{_name}__", _operator(_fn, reflected=True))
for _name, _fn in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal")):
    setattr(Tensor, f"__{_name}__", _operator(_fn))
for _cls in (Tensor, Variable):
    _cls.__neg__ = lambda self: _ops().negative(self)
    _cls.__abs__ = lambda self: _ops().abs(self)
    _cls.__pos__ = lambda self: self


class _Tape:
    """The trace in progress: the leaf `Tensor` standing for each variable the code reads, and
    the weight gradients of layers called inside it (their own backward closures)."""

    def __init__(self, training: bool = False):
        self.leaves: dict[int, tuple[Variable, Tensor]] = {}
        self.training = training
        self.layer_grads = Gradients()

    def record_layer(self, layer, x, training: bool):
        """A layer called on traced values: its forward pass, recorded with its backward closure."""
        items = x if isinstance(x, list) else [x]
        y, backward = layer.forward([t.value if isinstance(t, Tensor) else t for t in items]
                                    if isinstance(x, list) else _lift(x).value, training)

        def gradient(dy, *values_and_y):
            dx = backward(dy, self.layer_grads)
            return tuple(dx) if isinstance(x, list) else (dx,)

        return apply(lambda *v: y, gradient, *items)

    def leaf_for(self, variable: Variable) -> Tensor:
        entry = self.leaves.get(id(variable))
        if entry is None:
            entry = (variable, Tensor(variable.value))
            self.leaves[id(variable)] = entry
        return entry[1]


_tapes: list = []


def current_tape() -> _Tape:
    """The trace in progress (traced values only exist inside one)."""
    if not _tapes:
        raise RuntimeError("A traced tensor was used after its trace ended.")
    return _tapes[-1]


def _lift(arg):
    """A `Tensor` for traced values (and variables read during a trace), else a plain value."""
    if isinstance(arg, Tensor):
        return arg
    if isinstance(arg, Variable):
        return _tapes[-1].leaf_for(arg) if _tapes else arg.value
    return arg


def apply(forward, gradient, *args, **settings):
    """Run ``forward(*values, **settings)``; if any argument is traced, record ``gradient``.

    ``gradient(dy, *values, y, **settings)`` returns one gradient per argument (None for an
    argument without one). Without traced arguments this is plain NumPy and returns an array.
    """
    args = [_lift(a) for a in args]
    values = [a.value if isinstance(a, Tensor) else a for a in args]
    y = forward(*values, **settings)
    if not any(isinstance(a, Tensor) for a in args):
        return y
    y = np.asarray(y)

    def grad_fn(dy):
        return gradient(dy, *values, y, **settings)

    return Tensor(y, [a if isinstance(a, Tensor) else None for a in args], grad_fn)


def _backprop(outputs: list, cotangents: list) -> dict:
    """Reverse pass from `outputs`: id(tensor) -> accumulated gradient."""
    order, seen = [], set()
    stack = [(t, False) for t in outputs if isinstance(t, Tensor)]
    while stack:  # iterative post-order DFS: parents before children in `order`
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        stack.extend((p, False) for p in t._parents if p is not None and id(p) not in seen)
    grads: dict[int, np.ndarray] = {}
    for t, g in zip(outputs, cotangents):
        if isinstance(t, Tensor):
            g = np.broadcast_to(np.asarray(g, dtype=t.dtype), t.shape)
            grads[id(t)] = grads[id(t)] + g if id(t) in grads else g
    for t in reversed(order):
        g = grads.get(id(t))
        if g is None or t._grad_fn is None:
            continue
        for parent, pg in zip(t._parents, t._grad_fn(g)):
            if parent is None or pg is None:
                continue
            pg = np.asarray(pg)
            if pg.dtype != parent.dtype and np.issubdtype(parent.dtype, np.floating):
                pg = pg.astype(parent.dtype)
            grads[id(parent)] = grads[id(parent)] + pg if id(parent) in grads else pg
    return grads


def trace(fn, *inputs, training: bool = False):
    """Call ``fn(*inputs)`` with each input (an array or a nested list of arrays) traced.

    Returns ``(outputs, vjp)``: `outputs` with arrays in place of tensors (same nesting), and
    ``vjp(cotangents, grads=None) -> input gradients`` (same nesting as `inputs`), adding
    every variable's gradient to `grads` (a `Gradients`). Layers called on traced values inside
    `fn` run in `training` mode and their weights get gradients too. Raises TypeError naming `fn` if it
    returns something that is not computed from arrays.
    """
    tape = _Tape(training)
    wrapped = [_map(lambda a: Tensor(np.asarray(a)), x) for x in inputs]
    _tapes.append(tape)
    try:
        out = fn(*wrapped)
    finally:
        _tapes.pop()
    out = _map(lambda o: _lift(o) if isinstance(o, (Tensor, Variable)) else o, out)
    flat_out = _flatten(out)
    for o in flat_out:
        if not isinstance(o, (Tensor, np.ndarray, np.generic, int, float)):
            raise TypeError(f"{getattr(fn, '__name__', fn)!s} returned {type(o).__name__}; expected "
                            f"arrays (computed with upsampling.ops / upsampling.backend).")
    values = _map(lambda o: o.value if isinstance(o, Tensor) else np.asarray(o), out)

    def vjp(cotangents, grads: Gradients | None = None):
        flat_cot = _flatten(cotangents)
        got = _backprop(flat_out, flat_cot)
        if grads is not None:
            for variable, g in tape.layer_grads.items():
                grads.add(variable, g)
            for variable, leaf in tape.leaves.values():
                g = got.get(id(leaf))
                if g is not None:
                    grads.add(variable, np.asarray(g, dtype=variable.dtype))
        results = [_map(lambda t: _input_grad(got, t), w) for w in wrapped]
        return results[0] if len(results) == 1 else results

    return values, vjp


def _input_grad(got, t):
    g = got.get(id(t))
    return np.zeros(t.shape, t.dtype if np.issubdtype(t.dtype, np.floating) else np.float32) if g is None \
        else np.asarray(g).reshape(t.shape)


def _map(f, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map(f, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(f, v) for k, v in x.items()}
    return f(x)


def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    if isinstance(x, dict):
        return [v for item in x.values() for v in _flatten(item)]
    return [x]

"""Keras 3 optimizers on NumPy: `Adam`, `SGD`, `RMSprop` and `get`.

The update rules are Keras 3's, in the operation order of its torch backend, computed in the
dtype of each variable (float32 weights get float32 arithmetic, hyper-parameters rounded to
float32 as Keras does by storing the learning rate in a float32 variable). Gradient handling
follows ``keras.optimizers.Optimizer.apply``: ``None`` gradients are dropped (with a warning),
then gradients are unscaled (`loss_scale_factor`), clipped (`clipnorm` per tensor, or
`global_clipnorm`, or `clipvalue`), weight decay is applied (``w *= 1 - weight_decay * lr``),
the update step runs and ``iterations`` increases by one.

State (``optimizer.variables``) is, in Keras's order, the iteration counter, the learning rate
and the per-variable slots (e.g. Adam: momentum and velocity of each variable in turn, then the
AMSGrad maxima). `get_state` / `set_state` move it as plain NumPy arrays, exactly, so that a
restored optimizer continues bit-identically.
"""
from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

from upsampling.autograd import Variable
from upsampling.ops.parallel import blockwise
from upsampling.ops.workspace import scratch
from upsampling.keras_names import unsupported as _unsupported

__all__ = ["Optimizer", "Adam", "SGD", "RMSprop", "get", "serialize", "deserialize"]


def _bad(owner: str, arg: str, rule: str, value) -> ValueError:
    return ValueError(f"{owner}: argument `{arg}` must be {rule}. Received: {arg}={value!r}")


def _check_number(owner, arg, value, lo=None, hi=None, lo_open=False, hi_open=False):
    """Validate a real hyper-parameter in [lo, hi] (or open ends); returns it as a float."""
    lo_b = "(" if lo_open else "["
    hi_b = ")" if hi_open else "]"
    if lo is not None and hi is not None:
        rule = f"a number in {lo_b}{lo}, {hi}{hi_b}"
    elif lo is not None:
        rule = f"a number {'>' if lo_open else '>='} {lo}"
    else:
        rule = "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(owner, arg, rule, value)
    v = float(value)
    if not math.isfinite(v):
        raise _bad(owner, arg, rule, value)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise _bad(owner, arg, rule, value)
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise _bad(owner, arg, rule, value)
    return v


class Optimizer:
    """Base class: Keras 3's `Optimizer` semantics on `upsampling.autograd.Variable`s.

    Args:
        learning_rate: a float >= 0 (stored, as in Keras, as a float32 variable).
        weight_decay: if set, each step first does ``w *= 1 - weight_decay * lr``.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping arguments may be set.
        loss_scale_factor: gradients are divided by it before anything else.
        name: the optimizer's name (default: the lower-cased class name).
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps: accepted
            so that Keras configs load, but only at their defaults (False/0.99/None/None).
        lr: Keras 2 spelling of `learning_rate` (DeprecationWarning).
        decay: Keras 2's learning-rate decay; Keras 3 dropped it, so only None or 0 is accepted.

    Subclasses implement ``_build_slots(variables)`` and
    ``_update_step(grad, variable, lr, index)``.
    """

    _default_learning_rate = 0.001

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        owner = type(self).__name__
        if "lr" in kwargs:
            lr = kwargs.pop("lr")
            if learning_rate != self._default_learning_rate and learning_rate != lr:
                raise ValueError(
                    f"{owner}: got both `learning_rate={learning_rate!r}` and its Keras 2 "
                    f"alias `lr={lr!r}`; pass only `learning_rate`."
                )
            warnings.warn(
                f"{owner}: the argument `lr` is deprecated (Keras 2 spelling); use "
                "`learning_rate` instead.",
                DeprecationWarning,
                stacklevel=3,
            )
            learning_rate = lr
        if "decay" in kwargs:
            decay = kwargs.pop("decay")
            if decay not in (None, 0, 0.0):
                raise ValueError(
                    f"{owner}: argument `decay` (Keras 2's inverse-time learning-rate decay) is "
                    "not supported: Keras 3 removed it (and silently ignores it). Set "
                    "`optimizer.learning_rate` yourself between steps or epochs instead. "
                    f"Received: decay={decay!r}"
                )
        if kwargs:
            raise ValueError(f"{owner}: argument(s) not recognized: {kwargs}")
        if use_ema:
            raise ValueError(
                f"{owner}: `use_ema=True` is not supported. Received: use_ema={use_ema!r}"
            )
        if gradient_accumulation_steps is not None:
            raise ValueError(
                f"{owner}: `gradient_accumulation_steps` is not supported. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        clip = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clip.values()) > 1:
            raise ValueError(
                f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        for arg, v in clip.items():
            if v is not None:
                _check_number(owner, arg, v, lo=0)
        if weight_decay is not None:
            _check_number(owner, "weight_decay", weight_decay, lo=0)
        if loss_scale_factor is not None:
            _check_number(owner, "loss_scale_factor", loss_scale_factor, lo=0, lo_open=True)

        self.name = name or owner.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = None

        self._iterations = Variable(np.zeros((), np.int64), name="iteration", trainable=False)
        self._iterations.path = f"{self.name}/iteration"
        self._learning_rate = Variable(
            np.asarray(self._validate_learning_rate(learning_rate), np.float32),
            name="learning_rate", trainable=False,
        )
        self._learning_rate.path = f"{self.name}/learning_rate"
        self._variables = [self._iterations, self._learning_rate]
        self._trainable_variables = []
        self._index = {}
        self.built = False

    # -- hyper-parameters -----------------------------------------------------------------------
    def _validate_learning_rate(self, value):
        if callable(value):
            raise TypeError(
                f"{type(self).__name__}: `learning_rate` must be a float; schedules/callables are "
                "not supported -- set `optimizer.learning_rate = value` between steps instead."
            )
        return _check_number(type(self).__name__, "learning_rate", value, lo=0)

    @property
    def learning_rate(self) -> float:
        """The learning rate (a Python float of the stored float32 value); settable."""
        return float(self._learning_rate.value)

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate.assign(np.asarray(self._validate_learning_rate(value), np.float32))

    @property
    def iterations(self) -> int:
        """How many times `apply` has updated the variables."""
        return int(self._iterations.value)

    @property
    def variables(self) -> list:
        """The optimizer's state as `Variable`s: iteration, learning rate, then the slots."""
        return list(self._variables)

    # -- building -------------------------------------------------------------------------------
    def build(self, variables) -> None:
        """Create the slots (momenta...) for `variables`; done on the first `apply` otherwise."""
        if self.built:
            return
        variables = list(variables)
        for i, v in enumerate(variables):
            self._index[id(v)] = i
        self._trainable_variables = variables
        self._build_slots(variables)
        self.built = True

    def _build_slots(self, variables):
        pass

    def _add_slots(self, variables, names):
        """One zero slot per variable and name, interleaved per variable as in Keras."""
        single = isinstance(names, str)
        names = [names] if single else list(names)
        out = tuple([] for _ in names)
        for v in variables:
            for k, slot_name in enumerate(names):
                path = getattr(v, "path", None) or getattr(v, "name", "var")
                s = Variable(np.zeros(v.shape, dtype=v.dtype),
                             name=f"{path.replace('/', '_')}_{slot_name}", trainable=False)
                s.path = f"{self.name}/{s.name}"
                self._variables.append(s)
                out[k].append(s)
        return out[0] if single else out

    # -- applying -------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """Apply a list of ``(gradient, variable)`` pairs; returns `iterations`."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self.iterations

    def apply(self, grads, variables=None) -> None:
        """Update `variables` with `grads` (same order); `variables` may be omitted once built.

        ``None`` gradients are skipped (with a warning, as Keras); all-``None`` is an error.
        """
        grads = list(grads)
        if not grads:
            return
        owner = type(self).__name__
        if variables is None:
            if not self.built:
                raise ValueError(
                    f"{owner}: when passing `grads` without `variables`, the optimizer must "
                    "already be built. Call `optimizer.build(variables)` first."
                )
            variables = self._trainable_variables
        else:
            variables = list(variables)
            if not self.built:
                self.build(variables)
            unknown = [getattr(v, "path", repr(v)) for v in variables if id(v) not in self._index]
            if unknown:
                raise ValueError(
                    f"{owner}: unknown variable(s) {unknown}. This optimizer was built for "
                    f"{[getattr(v, 'path', repr(v)) for v in self._trainable_variables]}; use a "
                    "new optimizer for a different set of variables."
                )
        if len(grads) != len(variables):
            raise ValueError(
                f"{owner}: got {len(grads)} gradients for {len(variables)} variables."
            )
        kept_g, kept_v, missing = [], [], []
        for g, v in zip(grads, variables):
            if g is None:
                missing.append(getattr(v, "path", repr(v)))
                continue
            g = np.asarray(g)
            if g.shape != tuple(v.shape):
                raise ValueError(
                    f"{owner}: gradient of shape {g.shape} for variable "
                    f"`{getattr(v, 'path', v)}` of shape {tuple(v.shape)}."
                )
            kept_g.append(g.astype(v.dtype, copy=False))
            kept_v.append(v)
        if not kept_g:
            raise ValueError(f"{owner}: no gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss.",
                stacklevel=2,
            )

        if self.loss_scale_factor is not None:
            kept_g = [g / g.dtype.type(self.loss_scale_factor) for g in kept_g]
        kept_g = self._clip_gradients(kept_g)
        lr32 = self._learning_rate.value
        if self.weight_decay is not None:
            for v in kept_v:
                dt = v.dtype.type
                v.assign(v.value * (dt(1) - dt(self.weight_decay) * dt(lr32)))
        for g, v in zip(kept_g, kept_v):
            self._update_step(g, v, v.dtype.type(lr32), self._index[id(v)])
        for v in kept_v:  # variable constraints, applied after the update as Keras does
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.assign(np.asarray(constraint(v.value), dtype=v.dtype))
        self._iterations.assign_add(1)

    def _clip_gradients(self, grads):
        if self.clipnorm:
            out = []
            for g in grads:
                dt = g.dtype.type
                norm = np.sqrt(np.sum(np.square(g)))
                c = dt(self.clipnorm)
                out.append(g * c / np.maximum(norm, c))
            return out
        if self.global_clipnorm:
            dtype = np.result_type(*grads)
            dt = dtype.type
            norm = np.sqrt(np.sum(np.stack([np.sum(np.square(g)).astype(dtype) for g in grads])))
            c = dt(self.global_clipnorm)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = c * np.minimum(dt(1) / norm, dt(1) / c) + (norm - norm)
            return [g * scale.astype(g.dtype) for g in grads]
        if self.clipvalue:
            return [np.clip(g, -g.dtype.type(self.clipvalue), g.dtype.type(self.clipvalue))
                    for g in grads]
        return grads

    def _update_step(self, grad, variable, lr, index):
        raise NotImplementedError

    # -- state ----------------------------------------------------------------------------------
    def get_state(self) -> list:
        """Copies of every state array (see `variables`), for checkpoints."""
        return [v.numpy() for v in self._variables]

    def set_state(self, state) -> None:
        """Restore `get_state()` output; the optimizer must be built on the same variables."""
        state = list(state)
        if len(state) != len(self._variables):
            hint = ("" if self.built else
                    " This optimizer is not built yet: call `optimizer.build(variables)` first.")
            raise ValueError(
                f"{type(self).__name__}: the state has {len(state)} arrays but this optimizer "
                f"has {len(self._variables)} variables.{hint}"
            )
        for var, value in zip(self._variables, state):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(
                    f"{type(self).__name__}: state array for `{var.path}` has shape "
                    f"{value.shape}, expected {var.shape}."
                )
            var.assign(value)

    def save_own_variables(self, store) -> None:
        """Keras-style: ``store["0"], store["1"], ...`` = the state arrays."""
        for i, value in enumerate(self.get_state()):
            store[str(i)] = value

    def load_own_variables(self, store) -> None:
        """Inverse of `save_own_variables`."""
        self.set_state([store[str(i)] for i in range(len(store.keys()))])

    # -- config ---------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Hyper-parameters, with Keras 3's keys."""
        return {
            "name": self.name,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": False,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": None,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A fresh optimizer (no state) from `get_config()`."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name} learning_rate={self.learning_rate:g}>"


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, as `keras.optimizers.SGD`.

    Without momentum ``w -= lr * g``; with it ``m = momentum * m - lr * g`` then ``w += m``,
    or with Nesterov ``w += momentum * m - lr * g``.

    Args:
        learning_rate: float >= 0, default 0.01.
        momentum: float in [0, 1], default 0.
        nesterov: whether to use Nesterov momentum.
        **kwargs: see `Optimizer`.
    """

    _default_learning_rate = 0.01

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = _check_number("SGD", "momentum", momentum, lo=0, hi=1)
        self.nesterov = bool(nesterov)
        self.momentums = []

    def _build_slots(self, variables):
        if self.momentum != 0:
            self.momentums = self._add_slots(variables, "momentum")

    def _update_step(self, g, var, lr, i):
        dt = var.dtype.type
        if self.momentum != 0:
            mom = dt(self.momentum)
            m = self.momentums[i].value
            m *= mom
            m += (-lr) * g
            if self.nesterov:
                var.assign_add((-lr) * g)
                var.assign_add(mom * m)
            else:
                var.assign_add(m)
        else:
            var.assign_add((-lr) * g)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class Adam(Optimizer):
    """Adam, as `keras.optimizers.Adam`.

    With ``t = iterations + 1``: ``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``,
    (AMSGrad: ``v_hat = max(v_hat, v)`` used instead of ``v``),
    ``w -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``.

    Args:
        learning_rate: float >= 0, default 0.001.
        beta_1, beta_2: decay rates in [0, 1), defaults 0.9 and 0.999.
        epsilon: float >= 0 added to ``sqrt(v)``, default 1e-7.
        amsgrad: whether to use AMSGrad.
        **kwargs: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_number("Adam", "beta_1", beta_1, lo=0, hi=1, hi_open=True)
        self.beta_2 = _check_number("Adam", "beta_2", beta_2, lo=0, hi=1, hi_open=True)
        self.epsilon = _check_number("Adam", "epsilon", epsilon, lo=0)
        self.amsgrad = bool(amsgrad)

    def _build_slots(self, variables):
        self._momentums, self._velocities = self._add_slots(variables, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self._add_slots(variables, "velocity_hat")

    def _update_step(self, g, var, lr, i):
        dt = var.dtype.type
        t = dt(self.iterations + 1)
        b1, b2 = dt(self.beta_1), dt(self.beta_2)
        alpha = lr * np.sqrt(dt(1) - b2 ** t) / (dt(1) - b1 ** t)
        c1, c2, eps = dt(1 - self.beta_1), dt(1 - self.beta_2), dt(self.epsilon)
        m = self._momentums[i].value.reshape(-1)
        v = self._velocities[i].value.reshape(-1)
        v_hat = self._velocity_hats[i].value.reshape(-1) if self.amsgrad else None
        inplace = var.value.flags.c_contiguous
        w = var.value.reshape(-1) if inplace else np.ascontiguousarray(var.value).reshape(-1)
        g = np.ascontiguousarray(g, dtype=var.dtype).reshape(-1)

        # One pass in cache-sized blocks (over the threads) instead of ten whole-array passes;
        # the same operations in the same order as m = b1*m + c1*g, v = b2*v + c2*g^2,
        # w -= m*alpha / (sqrt(v) + eps), so the numbers are identical.
        def block(lo, hi):
            gb, mb, vb = g[lo:hi], m[lo:hi], v[lo:hi]
            t1 = scratch("adam_1", (hi - lo,), w.dtype)
            t2 = scratch("adam_2", (hi - lo,), w.dtype)
            mb *= b1
            np.multiply(c1, gb, out=t1)
            mb += t1
            vb *= b2
            np.multiply(gb, gb, out=t1)
            np.multiply(c2, t1, out=t1)
            vb += t1
            if v_hat is not None:
                vb = np.maximum(v_hat[lo:hi], vb, out=v_hat[lo:hi])
            np.multiply(mb, alpha, out=t1)
            np.sqrt(vb, out=t2)
            t2 += eps
            t1 /= t2
            w[lo:hi] -= t1

        blockwise(block, w.size)
        if not inplace:  # a weight stored as a strided view: write the result back
            var.assign(w.reshape(var.shape))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2,
                       "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return config


class RMSprop(Optimizer):
    """RMSprop, as `keras.optimizers.RMSprop`.

    ``v = rho * v + (1 - rho) g^2``; centered: ``a = rho * a + (1 - rho) g`` and the
    denominator is ``sqrt(v + epsilon - a^2)``, else ``sqrt(v + epsilon)``;
    ``inc = lr * g / denominator``; with momentum ``mom = momentum * mom + inc; w -= mom``,
    else ``w -= inc``.

    Args:
        learning_rate: float >= 0, default 0.001.
        rho: discount in [0, 1), default 0.9.
        momentum: float in [0, 1), default 0.
        epsilon: float >= 0, default 1e-7.
        centered: whether to normalise by the estimated variance.
        **kwargs: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = _check_number("RMSprop", "rho", rho, lo=0, hi=1, hi_open=True)
        self.momentum = _check_number("RMSprop", "momentum", momentum, lo=0, hi=1, hi_open=True)
        self.epsilon = _check_number("RMSprop", "epsilon", epsilon, lo=0)
        self.centered = bool(centered)
        self._momentums = []
        self._average_gradients = []

    def _build_slots(self, variables):
        self._velocities = self._add_slots(variables, "velocity")
        if self.momentum > 0:
            self._momentums = self._add_slots(variables, "momentum")
        if self.centered:
            self._average_gradients = self._add_slots(variables, "average_gradient")

    def _update_step(self, g, var, lr, i):
        dt = var.dtype.type
        rho = dt(self.rho)
        v = self._velocities[i].value
        v *= rho
        v += dt(1 - self.rho) * (g * g)
        denom = v + dt(self.epsilon)
        if self.centered:
            a = self._average_gradients[i].value
            a *= rho
            a += dt(1 - self.rho) * g
            denom = denom - a * a
        denom = np.sqrt(denom)
        increment = (g * lr) / denom
        if self.momentum > 0:
            mom = self._momentums[i].value
            mom *= dt(self.momentum)
            mom += increment
            var.assign_sub(mom)
        else:
            var.assign_sub(increment)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum,
                       "epsilon": self.epsilon, "centered": self.centered})
        return config


_CLASSES = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def get(identifier):
    """Resolve an optimizer identifier: an `Optimizer` (returned as is), an `Optimizer`
    subclass (instantiated with defaults), a name ``"adam"``/``"sgd"``/``"rmsprop"`` (any case)
    or a config dict ``{"class_name": ..., "config": {...}}``."""
    if isinstance(identifier, Optimizer):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier.lower())
        if cls is not None:
            return cls()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Expected an Optimizer or "
        f"one of {sorted(_CLASSES)}."
    )


def serialize(optimizer) -> dict:
    """``{"class_name": ..., "config": ...}`` of an optimizer (no state)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict, custom_objects=None):
    """Inverse of `serialize` (class names matched case-insensitively)."""
    name = str(config.get("class_name", ""))
    classes = dict(_CLASSES)
    classes.update({k.lower(): v for k, v in (custom_objects or {}).items()})
    cls = classes.get(name.lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: unknown class_name {name!r}")
    return cls.from_config(dict(config.get("config", {})))


# Keras 3 `keras.optimizers` names not implemented here (see upsampling.keras_names)
__getattr__ = _unsupported(__name__, """
Adadelta Adafactor Adagrad AdamW Adamax Ftrl Lamb Lion LossScaleOptimizer MultiOptimizer Muon Nadam
OptimizerMap ScheduleFreeAdamW
""")

"""Keras's training API for models: compile, fit, evaluate, predict and the *_on_batch methods.

`trainable` is read at compile time, as Keras 2 did (and as GAN code relies on): a discriminator
compiled while trainable keeps training through its own `train_on_batch` even after
``d_model.trainable = False`` froze it inside a combined model compiled later. During a compiled
model's steps every layer runs with the trainable flag it had at that compile, so a layer frozen
at compile time also runs its BatchNormalization in inference mode.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from upsampling import random as urandom
from upsampling.autograd import Gradients
from upsampling.progress import Progbar


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _num_samples(x) -> int:
    return int(np.shape(_as_list(x)[0])[0])


def _take(x, index):
    if isinstance(x, (list, tuple)):
        return [np.asarray(v)[index] for v in x]
    return np.asarray(x)[index]


class Trainer:
    """Mixed into `Model`; needs `forward(x, training)`, `layers`, `trainable_weights`."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metrics: list = []
        self._metric_names: list = []
        self._weighted_metric_ids: set = set()
        self._compiled_state: list = []
        self._compiled_vars = None
        self._compile_spec: dict = {}

    # ------------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True):
        """Configure training. `run_eagerly`, `jit_compile`, `steps_per_execution` are accepted for
        Keras compatibility and have no effect (everything runs eagerly on NumPy)."""
        from upsampling import losses, metrics as metrics_module, optimizers
        if loss_weights is not None:
            raise NotImplementedError(f"Model '{self.name}': `loss_weights` is not supported (single-output "
                                      f"training only). Received: loss_weights={loss_weights!r}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        plain = [metrics_module.get(m, loss=loss) for m in _as_list(metrics or [])]
        weighted = [metrics_module.get(m, loss=loss) for m in _as_list(weighted_metrics or [])]
        self._metrics = plain + weighted
        # what `model.save` needs to compile the loaded model the same way
        self._compile_spec = {"metrics": [m if isinstance(m, str) else m.name for m in _as_list(metrics or [])],
                              "weighted_metrics": [m if isinstance(m, str) else m.name
                                                   for m in _as_list(weighted_metrics or [])]}
        # Keras 3's names: a weighted metric whose name is already taken becomes `weighted_<name>`.
        self._metric_names, self._weighted_metric_ids, taken = [], {id(m) for m in weighted}, {}
        for m in self._metrics:
            name = m.name
            if name in taken and id(m) in self._weighted_metric_ids:
                name = f"weighted_{m.name}"
            if name in taken:
                taken[name] += 1
                name = f"{name}_{taken[name] - 1}"
            else:
                taken[name] = 1
            self._metric_names.append(name)
        self._compiled_state = [(layer, layer.trainable) for layer in self._flatten_layers()]
        # The flags above decide which variables train; resolved once the model is built.
        self._compiled_vars = None
        if self.built:
            self._compiled_vars = self._compiled_variables
        self.compiled = True
        self.stop_training = False

    def _flatten_layers(self) -> list:
        out, stack, seen = [], [self], set()
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(getattr(layer, "layers", []))
        return out

    @contextlib.contextmanager
    def _compiled_trainability(self):
        """Run with every layer's `trainable` as it was at compile time; restore afterwards."""
        saved = [(layer, layer._trainable) for layer, _ in self._compiled_state]
        for layer, flag in self._compiled_state:
            layer._trainable = flag
        try:
            yield
        finally:
            for layer, flag in saved:
                layer._trainable = flag

    @property
    def _compiled_variables(self) -> list:
        """The variables this compiled model trains: its trainable weights as of `compile()`."""
        if self._compiled_vars is not None:
            return self._compiled_vars
        with self._compiled_trainability():
            variables = list(self.trainable_weights)
        if self.built:  # an unbuilt model gets its weights (all of them) at its first call
            self._compiled_vars = variables
        return variables

    def _require_compiled(self, what: str):
        if not self.compiled or self.loss is None:
            raise RuntimeError(f"Model '{self.name}': you must call `compile()` with a loss before "
                               f"calling `{what}()`.")

    @property
    def metrics_names(self) -> list:
        return ["loss"] + list(self._metric_names)

    def reset_metrics(self):
        for m in self._metrics:
            m.reset_state()

    # ------------------------------------------------------------------------ steps
    def _loss_value_and_grad(self, y, y_pred, sample_weight):
        if sample_weight is not None:
            return self.loss.value_and_grad(y, y_pred, sample_weight=sample_weight)
        return self.loss.value_and_grad(y, y_pred)

    def _train_step(self, x, y, sample_weight=None) -> dict:
        with self._compiled_trainability():
            # Non-trainable state a forward pass may change (BatchNormalization's moving statistics),
            # kept so that a step with a non-finite loss leaves every weight as it was.
            state = [(v, v.numpy()) for v in self.weights if not v.trainable]
            y_pred, backward = self.forward(x, training=True)
            y = np.asarray(y, dtype=y_pred.dtype)
            loss, dy = self._loss_value_and_grad(y, y_pred, sample_weight)
            variables = self._compiled_variables
            loss += self._penalty(variables)
            if not math.isfinite(loss):
                for v, value in state:
                    v.assign(value)
                return self._logs(loss, y, y_pred, sample_weight)
            if variables:
                grads = Gradients()
                backward(dy, grads)
                for v in variables:  # weight regularizers: their penalty's gradient
                    if v.regularizer is not None:
                        grads.add(v, v.regularizer.gradient(v.value))
                self.optimizer.apply(grads.for_variables(variables), variables)
        return self._logs(loss, y, y_pred, sample_weight)

    def _logs(self, loss, y, y_pred, sample_weight=None) -> dict:
        logs = {"loss": float(loss)}
        for name, m in zip(self._metric_names, self._metrics):
            if id(m) in self._weighted_metric_ids and sample_weight is not None:
                m.update_state(y, y_pred, sample_weight=sample_weight)
            else:
                m.update_state(y, y_pred)
            logs[name] = float(m.result())
        return logs

    def _test_step(self, x, y, sample_weight=None) -> dict:
        y_pred, _ = self.forward(x, training=False)
        y = np.asarray(y, dtype=y_pred.dtype)
        if sample_weight is not None:
            loss = self.loss(y, y_pred, sample_weight=sample_weight)
        else:
            loss = self.loss(y, y_pred)
        return self._logs(loss + self._penalty(self._compiled_variables), y, y_pred, sample_weight)

    @staticmethod
    def _penalty(variables) -> float:
        """The weight regularizers' penalties, added to the loss as Keras adds `model.losses`."""
        return float(sum(v.regularizer(v.value) for v in variables if v.regularizer is not None))

    def _result(self, logs: dict, return_dict: bool):
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (or [loss, *metrics])."""
        self._require_compiled("train_on_batch")
        self._check_batch(x, y, sample_weight, "train_on_batch")
        sample_weight = self._class_weights(y, sample_weight, class_weight)
        self.reset_metrics()
        return self._result(self._train_step(x, y, sample_weight), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self._check_batch(x, y, sample_weight, "test_on_batch")
        self.reset_metrics()
        return self._result(self._test_step(x, y, sample_weight), return_dict)

    def predict_on_batch(self, x):
        return self.forward(x, training=False)[0]

    def _check_batch(self, x, y, sample_weight, what: str):
        """Targets present and as many samples in `x`, `y` (and `sample_weight`)."""
        if x is None:
            raise ValueError(f"Model '{self.name}': `{what}` needs inputs `x`.")
        if y is None:
            raise ValueError(f"Model '{self.name}': `{what}` needs targets `y` (the model has a "
                             f"compiled loss to compare its outputs with).")
        self._check_samples(x, what)
        self._check_samples(y, what, "y")
        sizes = {"x": _num_samples(x), "y": _num_samples(y)}
        if sample_weight is not None:
            self._check_samples(sample_weight, what, "sample_weight")
            sizes["sample_weight"] = _num_samples(sample_weight)
        if sizes["x"] == 0:
            raise ValueError(f"Model '{self.name}': `{what}` needs at least one sample. Received x of shape "
                             f"{np.shape(_as_list(x)[0])}.")
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Model '{self.name}': `{what}` needs the same number of samples in "
                             + ", ".join(sizes) + ". Received: "
                             + ", ".join(f"{k}: {v}" for k, v in sizes.items()))

    def _check_samples(self, x, what: str, name: str = "x"):
        """Every array of `x` has a batch axis (checked before anything runs or changes)."""
        for v in _as_list(x):
            if v is None or np.ndim(v) == 0:
                raise ValueError(f"Model '{self.name}': `{what}` needs `{name}` as an array of shape "
                                 f"(samples, ...), with a batch axis. Received: {name}={v!r}")

    @staticmethod
    def _class_weights(y, sample_weight, class_weight):
        if class_weight is None:
            return sample_weight
        if sample_weight is not None:
            raise ValueError("Arguments `sample_weight` and `class_weight` cannot be specified at the same time.")
        labels = np.asarray(y)
        labels = labels.argmax(axis=-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(len(labels))
        return np.array([class_weight.get(int(round(float(c))), 1.0) for c in labels], dtype=np.float32)

    # ------------------------------------------------------------------------ loops
    def _batch_size(self, batch_size, what: str) -> int:
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"Model '{self.name}': `{what}` needs a positive integer `batch_size`. "
                             f"Received: batch_size={batch_size!r}")
        return int(batch_size)

    @staticmethod
    def _steps(n, batch_size, steps) -> int:
        total = max(math.ceil(n / batch_size), 1)
        return total if steps is None else min(int(steps), total)

    def _callbacks(self, callbacks, params: dict) -> list:
        cbs = list(callbacks or [])
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        return cbs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Run the model in inference mode over `x` in batches of `batch_size` (default 32);
        `steps` limits the number of batches."""
        batch_size = self._batch_size(batch_size, "predict")
        self._check_samples(x, "predict")
        n = _num_samples(x)
        steps_total = self._steps(n, batch_size, steps)
        cbs = self._callbacks(callbacks, {"verbose": verbose, "epochs": 1, "steps": steps_total})
        bar = Progbar(steps_total, verbose=0 if verbose == 0 else 1)
        for cb in cbs:
            cb.on_predict_begin(None)
        outs = []
        for step in range(steps_total):
            for cb in cbs:
                cb.on_predict_batch_begin(step, None)
            batch = _take(x, slice(step * batch_size, (step + 1) * batch_size))
            out = self.forward(batch, training=False)[0]
            outs.append(out)
            for cb in cbs:
                cb.on_predict_batch_end(step, {"outputs": out})
            bar.update(step + 1)
        for cb in cbs:
            cb.on_predict_end(None)
        if isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Mean loss (and metrics) over the data in inference mode, weighted by batch size;
        `steps` limits the number of batches."""
        self._require_compiled("evaluate")
        self._check_batch(x, y, sample_weight, "evaluate")
        batch_size = self._batch_size(batch_size, "evaluate")
        steps_total = self._steps(_num_samples(x), batch_size, steps)
        cbs = self._callbacks(callbacks, {"verbose": verbose, "epochs": 1, "steps": steps_total})
        logs = self._evaluate_loop(x, y, sample_weight, batch_size, steps_total, cbs,
                                   0 if verbose == 0 else 1)
        return self._result(logs, return_dict)

    def _evaluate_loop(self, x, y, sample_weight, batch_size, steps_total, cbs, bar_verbose) -> dict:
        self.reset_metrics()
        total, seen, logs = 0.0, 0, {}
        bar = Progbar(steps_total, verbose=bar_verbose)
        for cb in cbs:
            cb.on_test_begin(None)
        for step in range(steps_total):
            for cb in cbs:
                cb.on_test_batch_begin(step, None)
            index = slice(step * batch_size, (step + 1) * batch_size)
            sw = None if sample_weight is None else np.asarray(sample_weight)[index]
            xb, yb = _take(x, index), _take(y, index)
            logs = self._test_step(xb, yb, sw)
            seen += _num_samples(xb)
            total += logs["loss"] * _num_samples(xb)
            logs["loss"] = total / seen
            for cb in cbs:
                cb.on_test_batch_end(step, logs)
            bar.update(step + 1, logs)
        for cb in cbs:
            cb.on_test_end(logs)
        return logs

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
            validation_freq=1):
        """Train for `epochs` epochs; returns a `History` whose `.history` maps names to per-epoch values.

        `validation_split` holds out the LAST fraction of the samples (before shuffling), as Keras
        does; `validation_data` is ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``.
        A non-finite loss raises FloatingPointError; the step that produced it changes no weight.
        """
        from upsampling.callbacks import History
        self._require_compiled("fit")
        if x is None:
            raise ValueError(f"Model '{self.name}': `fit` needs inputs `x`.")
        if y is None:
            raise ValueError(f"Model '{self.name}': `fit` needs targets `y` for array inputs.")
        batch_size = self._batch_size(batch_size, "fit")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"Model '{self.name}': `validation_split` must be in [0, 1). "
                             f"Received: validation_split={validation_split!r}")
        if class_weight is not None and sample_weight is not None:
            raise ValueError(f"Model '{self.name}': arguments `sample_weight` and `class_weight` cannot be "
                             f"specified at the same time.")
        self._check_batch(x, y, sample_weight, "fit")
        if validation_split and validation_data is None:
            n_all = _num_samples(x)
            split = int(math.floor(n_all * (1 - validation_split)))
            if split == 0 or split == n_all:
                raise ValueError(f"Model '{self.name}': `validation_split={validation_split}` leaves "
                                 f"{split} of {n_all} samples for training; use a different split.")
            validation_data = (_take(x, slice(split, None)), _take(y, slice(split, None)))
            if sample_weight is not None:
                validation_data += (np.asarray(sample_weight)[split:],)
                sample_weight = np.asarray(sample_weight)[:split]
            x, y = _take(x, slice(0, split)), _take(y, slice(0, split))
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError(f"Model '{self.name}': `validation_data` must be a tuple (x_val, y_val) or "
                                 f"(x_val, y_val, val_sample_weight).")
            self._check_batch(*validation_data[:2], validation_data[2] if len(validation_data) == 3 else None,
                              "fit (validation_data)")
        sample_weight = self._class_weights(y, sample_weight, class_weight)
        n = _num_samples(x)
        steps = max(math.ceil(n / batch_size), 1) if steps_per_epoch is None else int(steps_per_epoch)
        history = History()
        self.history = history
        cbs = self._callbacks([history] + list(callbacks or []),
                              {"epochs": epochs, "steps": steps, "verbose": verbose})
        bar_verbose = 0 if verbose == 0 else (1 if verbose in (1, "auto") else 2)
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin(None)
        epoch_logs = {}
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch, None)
            if bar_verbose and epochs > 1:  # Keras prints the header only for more than one epoch
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, verbose=bar_verbose)
            order = urandom.generator().permutation(n) if shuffle else np.arange(n)
            self.reset_metrics()
            seen, total = 0, 0.0
            logs = {}
            for step in range(steps):
                index = order[(step * batch_size) % n:][:batch_size]
                sw = None if sample_weight is None else np.asarray(sample_weight)[index]
                for cb in cbs:
                    cb.on_train_batch_begin(step, None)
                logs = self._train_step(_take(x, index), _take(y, index), sw)
                if not math.isfinite(logs["loss"]):
                    raise FloatingPointError(
                        f"Model '{self.name}': the loss became {logs['loss']} at epoch {epoch + 1}, "
                        f"step {step + 1}; the weights were not updated by that step.")
                seen += len(index)
                total += logs["loss"] * len(index)
                logs["loss"] = total / seen
                for cb in cbs:
                    cb.on_train_batch_end(step, logs)
                if step + 1 < steps:  # the last line waits for the validation results, as in Keras
                    bar.update(step + 1, logs)
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vx, vy = validation_data[0], validation_data[1]
                vsw = validation_data[2] if len(validation_data) == 3 else None
                vbs = self._batch_size(validation_batch_size or batch_size, "fit (validation_batch_size)")
                val = self._evaluate_loop(vx, vy, vsw, vbs, self._steps(_num_samples(vx), vbs, None),
                                          cbs, 0)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            bar.update(steps, epoch_logs)
            for cb in cbs:
                cb.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end(epoch_logs)
        return history

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
        self._metrics = [metrics_module.get(m, loss=loss) for m in _as_list(metrics or [])]
        self._metrics += [metrics_module.get(m, loss=loss) for m in _as_list(weighted_metrics or [])]
        self._compiled_state = [(layer, layer.trainable) for layer in self._flatten_layers()]
        self._compiled_variables = list(self.trainable_weights)
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

    def _require_compiled(self, what: str):
        if not self.compiled or self.loss is None:
            raise RuntimeError(f"Model '{self.name}': you must call `compile()` with a loss before "
                               f"calling `{what}()`.")

    @property
    def metrics_names(self) -> list:
        return ["loss"] + [m.name for m in self._metrics]

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
            y_pred, backward = self.forward(x, training=True)
            y = np.asarray(y, dtype=y_pred.dtype) if y is not None else y
            loss, dy = self._loss_value_and_grad(y, y_pred, sample_weight)
            if not math.isfinite(loss):
                return self._logs(loss, y, y_pred)
            variables = self._compiled_variables
            if variables:
                grads = Gradients()
                backward(dy, grads)
                self.optimizer.apply(grads.for_variables(variables), variables)
        return self._logs(loss, y, y_pred)

    def _logs(self, loss, y, y_pred) -> dict:
        logs = {"loss": float(loss)}
        for m in self._metrics:
            m.update_state(y, y_pred)
            logs[m.name] = float(m.result())
        return logs

    def _test_step(self, x, y, sample_weight=None) -> dict:
        y_pred, _ = self.forward(x, training=False)
        y = np.asarray(y, dtype=y_pred.dtype)
        if sample_weight is not None:
            loss = self.loss(y, y_pred, sample_weight=sample_weight)
        else:
            loss = self.loss(y, y_pred)
        return self._logs(loss, y, y_pred)

    def _result(self, logs: dict, return_dict: bool):
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (or [loss, *metrics])."""
        self._require_compiled("train_on_batch")
        sample_weight = self._class_weights(y, sample_weight, class_weight)
        self.reset_metrics()
        return self._result(self._train_step(x, y, sample_weight), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self.reset_metrics()
        return self._result(self._test_step(x, y, sample_weight), return_dict)

    def predict_on_batch(self, x):
        return self.forward(x, training=False)[0]

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
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Run the model in inference mode over `x` in batches of `batch_size` (default 32)."""
        batch_size = 32 if batch_size is None else int(batch_size)
        n = _num_samples(x)
        steps_total = max(math.ceil(n / batch_size), 1)
        bar = Progbar(steps_total, verbose=0 if verbose == 0 else 1)
        outs = []
        for step in range(steps_total):
            batch = _take(x, slice(step * batch_size, (step + 1) * batch_size))
            outs.append(self.forward(batch, training=False)[0])
            bar.update(step + 1)
        if isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Mean loss (and metrics) over the data in inference mode, weighted by batch size."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else int(batch_size)
        n = _num_samples(x)
        self.reset_metrics()
        total, logs = 0.0, {}
        steps_total = max(math.ceil(n / batch_size), 1)
        bar = Progbar(steps_total, verbose=0 if verbose == 0 else 1)
        for step in range(steps_total):
            index = slice(step * batch_size, (step + 1) * batch_size)
            sw = None if sample_weight is None else np.asarray(sample_weight)[index]
            xb, yb = _take(x, index), _take(y, index)
            logs = self._test_step(xb, yb, sw)
            total += logs["loss"] * _num_samples(xb)
            logs["loss"] = total / min((step + 1) * batch_size, n)
            bar.update(step + 1, logs)
        return self._result(logs, return_dict)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_batch_size=None,
            validation_freq=1):
        """Train for `epochs` epochs; returns a `History` whose `.history` maps names to per-epoch values."""
        from upsampling.callbacks import History
        self._require_compiled("fit")
        if y is None:
            raise ValueError(f"Model '{self.name}': `fit` needs targets `y` for array inputs.")
        batch_size = 32 if batch_size is None else int(batch_size)
        if not 0 <= validation_split < 1:
            raise ValueError(f"Model '{self.name}': `validation_split` must be in [0, 1). "
                             f"Received: validation_split={validation_split!r}")
        if validation_split and validation_data is None:
            n_all = _num_samples(x)
            split = int(n_all * (1 - validation_split))
            validation_data = (_take(x, slice(split, None)), _take(y, slice(split, None)))
            x, y = _take(x, slice(0, split)), _take(y, slice(0, split))
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[:split]
        sample_weight = self._class_weights(y, sample_weight, class_weight)
        n = _num_samples(x)
        if _num_samples(y) != n:
            raise ValueError(f"Model '{self.name}': `x` and `y` must have the same number of samples. "
                             f"Received: {n} and {_num_samples(y)}")
        steps = max(math.ceil(n / batch_size), 1) if steps_per_epoch is None else int(steps_per_epoch)
        history = History()
        cbs = [history] + list(callbacks or [])
        params = {"epochs": epochs, "steps": steps, "verbose": verbose}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, verbose=0 if verbose == 0 else (1 if verbose in (1, "auto") else 2))
            order = urandom.generator().permutation(n) if shuffle else np.arange(n)
            self.reset_metrics()
            seen, total = 0, 0.0
            logs = {}
            for step in range(steps):
                index = order[(step * batch_size) % n:][:batch_size]
                sw = None if sample_weight is None else np.asarray(sample_weight)[index]
                for cb in cbs:
                    cb.on_train_batch_begin(step)
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
                bar.update(step + 1, logs)
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vx, vy = validation_data[0], validation_data[1]
                val = self.evaluate(vx, vy, batch_size=validation_batch_size or batch_size, verbose=0,
                                    return_dict=True)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose:
                    print("  " + " - ".join(f"{k}: {v:.4f}" for k, v in epoch_logs.items()))
            for cb in cbs:
                cb.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        self.history = history
        return history

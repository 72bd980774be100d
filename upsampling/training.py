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
from upsampling.autograd import Gradients, training_step
from upsampling.progress import Progbar


def _as_list(x):
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _num_samples(x) -> int:
    first = _as_list(x)[0]
    shape = np.shape(first)
    if not shape:
        raise ValueError(f"Expected arrays with a batch axis, received a scalar: {first!r}")
    return int(shape[0])


def _take(x, index):
    if isinstance(x, dict):
        return {k: np.asarray(v)[index] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [np.asarray(v)[index] for v in x]
    return np.asarray(x)[index]


def _per_output(spec, names: list, what: str, model: str) -> list:
    """A `compile` argument given per output (list or dict by output name) as a list in output order."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"Model '{model}': `{what}` has keys {unknown} that are not output names. Expected "
                             f"keys among {names}; received {what}.keys()={list(spec)}")
        return [spec.get(name) for name in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"Model '{model}': `{what}` must have one entry per output ({n}: {names}). "
                             f"Received {len(spec)} entries: {what}={spec!r}")
        return list(spec)
    return [spec] * n


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
        self._output_losses: list = []
        self._loss_weights: list = []
        self._metric_outputs: list = []
        self._output_names: list = ["output"]

    # ------------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True):
        """Configure training. `run_eagerly`, `jit_compile`, `steps_per_execution` are accepted for
        Keras compatibility and have no effect (everything runs eagerly on NumPy)."""
        from upsampling import losses, optimizers
        self.optimizer = optimizers.get(optimizer)
        names = self._loss_output_names()
        multi = len(names) > 1
        if isinstance(loss, dict) and not multi and loss:
            loss = _per_output(loss, names, "loss", self.name)[0]
        if isinstance(loss, (list, tuple)) and not multi:
            if len(loss) != 1:
                raise ValueError(f"Model '{self.name}' has one output: `loss` must be one loss (or a list of "
                                 f"one). Received {len(loss)} losses: loss={loss!r}")
            loss = loss[0]
        specs = _per_output(loss, names, "loss", self.name) if multi else [loss]
        self._output_losses = [None if l is None else losses.get(l) for l in specs]
        if multi and all(l is None for l in self._output_losses):
            self._output_losses = []
        if loss_weights is None:
            weights = [None] * len(specs)
        elif multi or isinstance(loss_weights, (list, tuple, dict)):
            weights = _per_output(loss_weights, names, "loss_weights", self.name)
        else:
            weights = [loss_weights]
        for w in weights:
            if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float, np.number))):
                raise TypeError(f"Model '{self.name}': `loss_weights` must be numbers. Received: "
                                f"loss_weights={loss_weights!r}")
        self._loss_weights = [None if w is None else float(w) for w in weights]
        if not multi:
            self.loss = self._output_losses[0] if self._output_losses else None
        elif isinstance(loss, dict):
            self.loss = {n: l for n, l in zip(names, self._output_losses) if l is not None}
        elif isinstance(loss, (list, tuple)):
            self.loss = list(self._output_losses)
        else:
            self.loss = self._output_losses[0] if self._output_losses else None
        self._loss_spec = (loss, loss_weights)  # what `model.save` records
        self._compile_metrics(metrics, weighted_metrics, names, specs)
        self._compiled_state = [(layer, layer.trainable) for layer in self._flatten_layers()]
        # The flags above decide which variables train; resolved once the model is built.
        self._compiled_vars = None
        if self.built:
            self._compiled_vars = self._compiled_variables
        self.compiled = True
        self.stop_training = False

    def _loss_output_names(self) -> list:
        """Keras's names of the outputs (the layers that make them): `dense_1_loss`, ..."""
        outputs = getattr(self, "outputs", None) if not hasattr(self, "_layers") else None
        if not outputs or len(outputs) == 1:
            return ["output"]
        return [t.node.layer.name for t in outputs]

    def _compile_metrics(self, metrics, weighted_metrics, names, loss_specs):
        """Resolve `metrics`/`weighted_metrics` per output and give them Keras 3's names."""
        from upsampling import metrics as metrics_module
        multi = len(names) > 1
        self._metrics, self._metric_outputs, weighted_ids = [], [], set()
        for arg_name, spec, weighted in (("metrics", metrics, False), ("weighted_metrics", weighted_metrics, True)):
            if not spec:
                continue
            if not multi:
                per_output = [_as_list(spec)]
            else:
                if not isinstance(spec, (list, tuple, dict)):
                    raise ValueError(f"Model '{self.name}': expected `{arg_name}` to be a list or a dict. "
                                     f"Received: {arg_name}={spec!r}")
                try:
                    per_output = [[] if m is None else _as_list(m) for m in _per_output(spec, names, arg_name, self.name)]
                except ValueError:
                    raise ValueError(
                        f"Model '{self.name}' has {len(names)} outputs ({names}): `{arg_name}` must be a list "
                        f"with one entry (a metric or a list of metrics) per output, or a dict by output name, "
                        f"as in Keras 3. Received: {arg_name}={spec!r}") from None
            for k, group in enumerate(per_output):
                for m in group:
                    obj = metrics_module.get(m, loss=loss_specs[k] if k < len(loss_specs) else None)
                    if isinstance(m, str):
                        obj.name = m  # Keras 3 names a metric given by name after that name ("mse")
                    if weighted:
                        weighted_ids.add(id(obj))
                    self._metrics.append(obj)
                    self._metric_outputs.append(k)
        self._weighted_metric_ids = weighted_ids
        # what `model.save` needs to compile the loaded model the same way
        # (Python functions cannot be written to a file: a loaded model goes without them)
        def saved(spec):
            return [] if multi else [m if isinstance(m, str) else m.name for m in _as_list(spec or [])
                                     if isinstance(m, (str, metrics_module.Metric))]
        self._compile_spec = {"metrics": saved(metrics), "weighted_metrics": saved(weighted_metrics)}
        # Keras 3's names: a weighted metric whose name is already taken becomes `weighted_<name>`;
        # with several outputs each name starts with its output's name.
        self._metric_names, taken = [], {}
        for m, k in zip(self._metrics, self._metric_outputs):
            name = f"{names[k]}_{m.name}" if multi else m.name
            if name in taken and id(m) in weighted_ids:
                name = f"{names[k]}_weighted_{m.name}" if multi else f"weighted_{m.name}"
            if name in taken:
                taken[name] += 1
                name = f"{name}_{taken[name] - 1}"
            else:
                taken[name] = 1
            self._metric_names.append(name)
        self._output_names = names

    @property
    def _loss_names(self) -> list:
        """The per-output loss entries of the logs (none for a single output)."""
        if len(self._output_names) < 2:
            return []
        return [f"{n}_loss" for n, l in zip(self._output_names, self._output_losses) if l is not None]

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
        if not self.compiled or not any(l is not None for l in self._output_losses):
            raise RuntimeError(f"Model '{self.name}': you must call `compile()` with a loss before "
                               f"calling `{what}()`.")

    @property
    def metrics(self) -> list:
        """The compiled metric objects (Keras also lists its loss trackers here)."""
        return list(self._metrics)

    @property
    def metrics_names(self) -> list:
        # Keras 3's list order: with several outputs the metrics come sorted by name (its
        # `_flatten_metrics_in_order` finds no compiled name among the prefixed keys).
        names = sorted(self._metric_names) if len(self._output_names) > 1 else list(self._metric_names)
        return ["loss"] + self._loss_names + names

    def reset_metrics(self):
        for m in self._metrics:
            m.reset_state()

    # ------------------------------------------------------------------------ steps
    def _targets(self, y) -> list:
        """`y` as a list in output order (a dict is read by output name)."""
        n = len(self._output_names)
        if isinstance(y, dict):
            if n == 1 and len(y) == 1:
                return list(y.values())
            missing = [k for k, l in zip(self._output_names, self._output_losses) if l is not None and k not in y]
            if missing:
                raise ValueError(f"Model '{self.name}': the target dict lacks {missing}; its keys are "
                                 f"{sorted(y)} and the model's outputs are {self._output_names}.")
            return [y.get(k) for k in self._output_names]
        if n == 1:
            return [y[0] if isinstance(y, (list, tuple)) and len(y) == 1 else y]
        if not isinstance(y, (list, tuple)) or len(y) != n:
            got = f"a list of {len(y)}" if isinstance(y, (list, tuple)) else f"one array of shape {np.shape(y)}"
            raise ValueError(f"Model '{self.name}' has {n} outputs ({self._output_names}): `y` must be a list "
                             f"of {n} target arrays (or a dict by output name). Received {got}.")
        return list(y)

    def _losses(self, ys, preds, sample_weight, want_grad: bool):
        """(total, per-output values, per-output gradients) of the compiled losses."""
        total, values, grads = 0.0, [], []
        for loss, weight, yt, yp in zip(self._output_losses, self._loss_weights, ys, preds):
            if loss is None:
                values.append(None)
                grads.append(None)
                continue
            yt = np.asarray(yt, dtype=yp.dtype)
            kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
            if want_grad:
                value, dy = loss.value_and_grad(yt, yp, **kwargs)
            else:
                value, dy = loss(yt, yp, **kwargs), None
            if weight is not None:
                dy = None if dy is None else dy * np.asarray(weight, dy.dtype)
            total += float(value) * (1.0 if weight is None else weight)
            values.append(float(value))
            grads.append(dy)
        return total, values, grads

    def _train_step(self, x, y, sample_weight=None) -> dict:
        with self._compiled_trainability():
            # Non-trainable state a forward pass may change (BatchNormalization's moving statistics),
            # kept so that a step with a non-finite loss leaves every weight as it was.
            state = [(v, v.numpy()) for v in self.weights if not v.trainable]
            with training_step(self._compiled_variables):  # a layer may keep what its weight gradient reads
                y_pred, backward = self.forward(x, training=True)
            variables = self._compiled_variables  # after the forward pass: an unbuilt model has weights now
            preds, ys = _as_list(y_pred), self._targets(y)
            loss, values, dys = self._losses(ys, preds, sample_weight, want_grad=True)
            loss += self._penalty(variables)
            if not math.isfinite(loss):
                for v, value in state:
                    v.assign(value)
                return self._logs(loss, values, ys, preds, sample_weight)
            if variables:
                # frozen layers skip their weight gradients, the first layer its input gradient
                grads = Gradients(wanted=variables, need_input=False)
                backward(dys[0] if len(dys) == 1 else dys, grads)
                for v in variables:  # weight regularizers: their penalty's gradient
                    if v.regularizer is not None:
                        grads.add(v, v.regularizer.gradient(v.value))
                self.optimizer.apply(grads.for_variables(variables), variables)
        return self._logs(loss, values, ys, preds, sample_weight)

    def _logs(self, loss, values, ys, preds, sample_weight=None) -> dict:
        logs = {"loss": float(loss)}
        if len(self._output_names) > 1:
            for name, value in zip(self._output_names, values):
                if value is not None:
                    logs[f"{name}_loss"] = value
        for name, m, k in zip(self._metric_names, self._metrics, self._metric_outputs):
            yt = np.asarray(ys[k], dtype=preds[k].dtype)
            if id(m) in self._weighted_metric_ids and sample_weight is not None:
                m.update_state(yt, preds[k], sample_weight=sample_weight)
            else:
                m.update_state(yt, preds[k])
            logs[name] = float(m.result())
        return logs

    def _test_step(self, x, y, sample_weight=None) -> dict:
        y_pred, _ = self.forward(x, training=False)
        preds, ys = _as_list(y_pred), self._targets(y)
        loss, values, _ = self._losses(ys, preds, sample_weight, want_grad=False)
        return self._logs(loss + self._penalty(self._compiled_variables), values, ys, preds, sample_weight)

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
        targets = self._targets(y)
        self._check_samples([t for t in targets if t is not None], what, "y")
        sizes = {"x": _num_samples(x), "y": _num_samples([t for t in targets if t is not None])}
        if sample_weight is not None:
            self._check_samples(sample_weight, what, "sample_weight")
            sizes["sample_weight"] = _num_samples(np.asarray(sample_weight))
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

    def _class_weights(self, y, sample_weight, class_weight):
        if class_weight is None:
            return sample_weight
        if len(self._output_names) > 1:
            raise NotImplementedError(f"Model '{self.name}': `class_weight` is not supported for models with "
                                      f"several outputs (nor is it in Keras 3); pass `sample_weight`.")
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
        sums, seen, logs = {}, 0, {}
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
            for key in ["loss"] + self._loss_names:  # batch-size weighted means, as Keras's trackers
                sums[key] = sums.get(key, 0.0) + logs[key] * _num_samples(xb)
                logs[key] = sums[key] / seen
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
            seen, sums = 0, {}
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
                for key in ["loss"] + self._loss_names:
                    sums[key] = sums.get(key, 0.0) + logs[key] * len(index)
                    logs[key] = sums[key] / seen
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

"""Keras 3's native `.keras` format: a zip of `config.json`, `metadata.json` and
`model.weights.h5` (HDF5, written with h5py), both ways.

The weights file follows Keras's saving library: `vars/<i>` groups for each object's own
variables, `layers/<snake_case class name>[_<n>]/...` for the layers of a model (recursively for
nested models) and `optimizer/vars/<i>` for a compiled model's optimizer state (iterations,
learning rate, then the slots, as `keras.optimizers` orders them).
"""
from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np

from upsampling.atomic import atomic_write_bytes
from upsampling.io import keras_config
from upsampling.io.reader import (DEFAULT_LIMITS, BoundedZip, check_path, fail, h5py_module, open_hdf5,
                                  parse_json, read_dataset, weight_budget)

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
FORMAT_VERSION = "3.0.0"  # the Keras saving format written (Keras 3's `.keras`)


# ----------------------------------------------------------------------------- weights (h5) part
def write_weights(f, model, include_optimizer: bool = True) -> None:
    """Write `model`'s variables (and its optimizer's, when compiled and built) into h5py file `f`."""
    for group, variables in keras_config.saveable_groups(model):
        g = f.require_group(group)
        for i, v in enumerate(variables):
            g.create_dataset(str(i), data=v.numpy())
    opt = getattr(model, "optimizer", None)
    if include_optimizer and getattr(model, "compiled", False) and opt is not None and opt.built:
        g = f.require_group("optimizer/vars")
        for i, value in enumerate(opt.get_state()):
            g.create_dataset(str(i), data=value)


def _datasets(f, path, cap: int = 100_000) -> dict:
    h5py = h5py_module()
    found = {}

    def visit(name, node):
        if isinstance(node, h5py.Dataset):
            found[name] = node
            if len(found) > cap:
                raise fail(path, f"holds more than {cap} arrays.")
    f.visititems(visit)
    return found


def read_weights(f, model, path, what: str, optimizer=None, limits=DEFAULT_LIMITS) -> list:
    """Check every array of h5py file `f` against `model` (and `optimizer`'s variables, if given)
    and return the [(variable, array)] pairs to assign; nothing is assigned here. Missing, extra,
    wrong-shape and wrong-dtype arrays are LoadErrors naming the array."""
    present = _datasets(f, path)
    groups = [(group, variables, "weight", "f") for group, variables in keras_config.saveable_groups(model)]
    if optimizer is not None:  # iteration counts are integers: any numeric dtype is accepted there
        groups.append(("optimizer/vars", optimizer.variables, "optimizer variable", "i"))
    plan, expected = [], set()
    for group, variables, kind, dtype_kind in groups:
        for i, var in enumerate(variables):
            key = f"{group}/{i}"
            expected.add(key)
            where = f"{what}: {kind} `{var.path}` ({key})"
            if key not in present:
                raise fail(path, f"{where} is missing.")
            plan.append((var, read_dataset(present[key], path, where, var.shape, dtype_kind, limits)))
    extra = sorted(k for k in present if k not in expected and not (optimizer is None and k.startswith("optimizer/")))
    if extra:
        raise fail(path, f"{what} holds arrays the model does not have: {extra[:10]}"
                         f"{' ...' if len(extra) > 10 else ''}.")
    return plan


def assign(plan) -> None:
    for var, value in plan:
        var.assign(np.asarray(value, dtype=var.dtype))


# ----------------------------------------------------------------------------------- compile part
def compile_config(model) -> dict | None:
    """Keras's `compile_config` of a compiled model (optimizer, loss, metrics), or None."""
    from upsampling import losses, optimizers
    if not getattr(model, "compiled", False) or model.loss is None:
        return None
    opt = optimizers.serialize(model.optimizer)

    def one(loss):  # a loss as Keras writes it; a list or dict of them for several outputs
        if loss is None:
            return None
        if isinstance(loss, (list, tuple)):
            return [one(item) for item in loss]
        if isinstance(loss, dict):
            return {name: one(item) for name, item in loss.items()}
        ser = losses.serialize(loss)
        return {"module": "keras.losses", "class_name": ser["class_name"],
                "config": keras_config._jsonable(ser["config"]), "registered_name": None}

    weights = getattr(model, "_loss_spec", (None, None))[1]
    spec = getattr(model, "_compile_spec", {})
    return {"optimizer": {"module": "keras.optimizers", "class_name": opt["class_name"],
                          "config": keras_config._jsonable(opt["config"]), "registered_name": None},
            "loss": one(model.loss),
            "loss_weights": None if weights is None else keras_config._jsonable(weights), "metrics": spec.get("metrics") or None,
            "weighted_metrics": spec.get("weighted_metrics") or None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _plain(value):
    """A Keras-serialized optimizer/loss/metric as our {class_name, config} (or a name)."""
    if isinstance(value, dict):
        return {"class_name": value.get("class_name"), "config": value.get("config") or {}}
    return value


def apply_compile_config(model, spec: dict, path) -> None:
    """Compile `model` as `spec` (a Keras `compile_config` / legacy `training_config`) says."""
    from upsampling import losses, optimizers
    try:
        opt_spec = spec.get("optimizer") or spec.get("optimizer_config")
        optimizer = optimizers.deserialize(_plain(opt_spec)) if opt_spec is not None else "rmsprop"
        loss = spec.get("loss")

        def one(item):  # a serialized loss, a name, or a list / dict of them (several outputs)
            if isinstance(item, dict) and "class_name" in item:
                return losses.deserialize(_plain(item))
            if isinstance(item, dict):
                return {name: one(value) for name, value in item.items()}
            if isinstance(item, list):
                return [one(value) for value in item]
            return item

        loss = one(loss)
        metrics = [m.get("class_name") if isinstance(m, dict) else m for m in spec.get("metrics") or []]
        weighted = [m.get("class_name") if isinstance(m, dict) else m for m in spec.get("weighted_metrics") or []]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None, weighted_metrics=weighted or None,
                      loss_weights=spec.get("loss_weights"))
    except (TypeError, ValueError, KeyError, NotImplementedError, AttributeError) as exc:
        raise fail(path, f"cannot compile the model as saved ({exc}); load it with compile=False "
                         f"to get the uncompiled model.") from None


# ------------------------------------------------------------------------------------ save / load
def save(model, path, include_optimizer: bool = True):
    """Write `model` as a Keras 3 `.keras` file, atomically."""
    h5py = h5py_module()
    config = keras_config.to_keras(model)
    config["build_config"] = {"input_shape": keras_config._jsonable(model.input_shape_) if model.built else None}
    spec = compile_config(model) if include_optimizer else None
    if spec is not None:
        config["compile_config"] = spec
    wbuf = io.BytesIO()
    with h5py.File(wbuf, "w") as f:
        write_weights(f, model, include_optimizer)
    metadata = {"keras_version": FORMAT_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "producer": "upsampling"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # stored, as Keras writes it
        zf.writestr(METADATA, json.dumps(metadata))
        zf.writestr(CONFIG, json.dumps(config))
        zf.writestr(WEIGHTS, wbuf.getvalue())
    return atomic_write_bytes(path, buf.getvalue())


def load(path, compile: bool = True, custom_objects=None, limits=DEFAULT_LIMITS, zf: BoundedZip | None = None):
    """Read a `.keras` file (ours or Keras 3's); a LoadError names the file and the problem, and
    no model is returned unless every weight checked out."""
    path = check_path(path)
    own = zf is None
    zf = zf or BoundedZip(path, limits)
    try:
        names = zf.names()
        for member in (CONFIG, WEIGHTS):
            if member not in names:
                raise fail(path, f"is not a Keras .keras file: the member {member!r} is missing "
                                 f"(members: {sorted(names)}).")
        if METADATA in names:
            parse_json(zf.read(METADATA), path, METADATA, limits)
        config = parse_json(zf.read(CONFIG), path, CONFIG, limits)
        weights = zf.read(WEIGHTS)
    finally:
        if own:
            zf.close()
    with weight_budget(path, limits, max_bytes_per_weight=len(weights)):
        model = keras_config.from_keras(config, path, custom_objects)
        spec = config.get("compile_config") if compile else None
        if spec:
            apply_compile_config(model, spec, path)
        with open_hdf5(weights, path, WEIGHTS) as f:
            has_opt = "optimizer" in f and bool(spec)
            optimizer = None
            if has_opt:
                model.optimizer.build(model._compiled_variables)
                optimizer = model.optimizer
            plan = read_weights(f, model, path, WEIGHTS, optimizer, limits)
    assign(plan)
    return model

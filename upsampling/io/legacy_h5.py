"""Legacy Keras HDF5 model files (`model.save("x.h5")`), both ways.

Layout (as Keras 2 and Keras 3's legacy writer use it): root attributes `model_config` (the
architecture as JSON), `training_config` (compile arguments), `keras_version`, `backend`; group
`model_weights` with attribute `layer_names`, one group per layer with attribute `weight_names`
and the arrays at those names; group `optimizer_weights` for a compiled model's optimizer state.
Each layer's weights are listed trainable first, then non-trainable, as Keras lists them.
"""
from __future__ import annotations

import io
import json

import numpy as np

from upsampling.atomic import atomic_write_bytes
from upsampling.io import keras_config, keras_v3
from upsampling.io.reader import (DEFAULT_LIMITS, check_path, fail, h5py_module, open_hdf5, parse_json,
                                  read_dataset, weight_budget)


def _legacy_weights(layer) -> list:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _strings(value) -> list:
    out = []
    for v in np.atleast_1d(np.asarray(value)):
        out.append(v.decode("utf-8") if isinstance(v, bytes) else str(v))
    return out


def save(model, path, include_optimizer: bool = True):
    h5py = h5py_module()
    buf = io.BytesIO()
    config = keras_config.to_keras(model)
    with h5py.File(buf, "w") as f:
        f.attrs["keras_version"] = keras_v3.FORMAT_VERSION
        f.attrs["backend"] = "numpy"
        f.attrs["model_config"] = json.dumps({"class_name": config["class_name"], "config": config["config"]})
        g = f.create_group("model_weights")
        layers = keras_config.keras_layer_order(model)
        g.attrs["layer_names"] = np.array([l.name for l in layers], dtype=h5py.string_dtype())
        g.attrs["keras_version"] = keras_v3.FORMAT_VERSION
        g.attrs["backend"] = "numpy"
        for layer in layers:
            lg = g.create_group(layer.name)
            names = [f"{layer.name}/{v.path}" for v in _legacy_weights(layer)]
            lg.attrs["weight_names"] = np.array(names, dtype=h5py.string_dtype())
            for name, v in zip(names, _legacy_weights(layer)):
                lg.create_dataset(name, data=v.numpy())
        spec = keras_v3.compile_config(model) if include_optimizer else None
        if spec is not None:
            training = {k: v for k, v in spec.items() if k != "optimizer"}
            training["optimizer_config"] = {"class_name": spec["optimizer"]["class_name"],
                                            "config": spec["optimizer"]["config"]}
            f.attrs["training_config"] = json.dumps(training)
            opt = model.optimizer
            if opt.built:
                og = f.create_group("optimizer_weights")
                names = [f"{opt.name}/{v.path.split('/', 1)[-1]}_{i}" for i, v in enumerate(opt.variables)]
                og.attrs["weight_names"] = np.array(names, dtype=h5py.string_dtype())
                for name, value in zip(names, opt.get_state()):
                    og.create_dataset(name, data=value)
    return atomic_write_bytes(path, buf.getvalue())


def read_weights(g, model, path, limits=DEFAULT_LIMITS) -> list:
    """[(variable, array)] from a `model_weights` group, layer by layer in order of the layers
    that have weights (Keras's rule), every array checked; nothing assigned."""
    names = [n for n in _strings(g.attrs.get("layer_names", [])) if _strings(_weight_names(g, n, path))]
    layers = [l for l in keras_config.keras_layer_order(model) if _legacy_weights(l)]
    if len(names) != len(layers):
        raise fail(path, f"holds weights for {len(names)} layers ({names[:10]}), but the model has "
                         f"{len(layers)} layers with weights ({[l.name for l in layers][:10]}).")
    plan = []
    for name, layer in zip(names, layers):
        wnames = _strings(_weight_names(g, name, path))
        variables = _legacy_weights(layer)
        if len(wnames) != len(variables):
            raise fail(path, f"layer {name!r} holds {len(wnames)} weights, but layer '{layer.name}' of the "
                             f"model has {len(variables)}.")
        for wname, var in zip(wnames, variables):
            where = f"weight {wname!r} of layer {name!r}"
            if wname not in g[name]:
                raise fail(path, f"{where} is missing.")
            plan.append((var, read_dataset(g[name][wname], path, where, var.shape, "f", limits)))
    return plan


def _weight_names(g, name, path):
    if name not in g:
        raise fail(path, f"the layer group {name!r} listed in `layer_names` is missing.")
    return g[name].attrs.get("weight_names", [])


def load(path, compile: bool = True, custom_objects=None, limits=DEFAULT_LIMITS):
    path = check_path(path)
    with open_hdf5(path, path, "the file") as f:
        if "model_config" not in f.attrs:
            raise fail(path, "is not a model: an HDF5 file without a `model_config` attribute (a weights "
                             "file? use model.load_weights).")
        config = parse_json(_strings(f.attrs["model_config"])[0], path, "model_config", limits)
        training = None
        if compile and "training_config" in f.attrs:
            training = parse_json(_strings(f.attrs["training_config"])[0], path, "training_config", limits)
        if "model_weights" not in f:
            raise fail(path, "has no `model_weights` group.")
        total = sum(int(np.prod(d.shape)) * d.dtype.itemsize for d in _all_datasets(f["model_weights"]))
        with weight_budget(path, limits, max_bytes_per_weight=total):
            model = keras_config.from_keras(config, path, custom_objects)
            plan = read_weights(f["model_weights"], model, path, limits)
            if training:
                keras_v3.apply_compile_config(model, training, path)
                if "optimizer_weights" in f:
                    plan += _optimizer_plan(f["optimizer_weights"], model, path, limits)
    keras_v3.assign(plan)
    return model


def _all_datasets(g):
    h5py = h5py_module()
    found = []
    g.visititems(lambda name, node: found.append(node) if isinstance(node, h5py.Dataset) else None)
    return found


def _optimizer_plan(g, model, path, limits) -> list:
    names = _strings(g.attrs.get("weight_names", []))
    opt = model.optimizer
    opt.build(model._compiled_variables)
    variables = opt.variables
    if len(names) != len(variables):
        raise fail(path, f"holds {len(names)} optimizer arrays, but the optimizer has {len(variables)}.")
    plan = []
    for name, var in zip(names, variables):
        if name not in g:
            raise fail(path, f"optimizer array {name!r} is missing.")
        plan.append((var, read_dataset(g[name], path, f"optimizer array {name!r}", var.shape, "i", limits)))
    return plan

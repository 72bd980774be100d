"""Save and load whole models (architecture + weights) and weights alone.

This is the library's older `.model` format, kept so that existing files still load:
a zip archive holding `config.json` (the architecture, every layer's `get_config()`) and
`weights.npz` (arrays in `model.weights` order). `model.save` now writes Keras 3's `.keras`
format (see `upsampling.io`); `upsampling.io.load_model` tells the two apart by content.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from upsampling.atomic import atomic_write_bytes

FORMAT = "upsampling-model"
# What reading a truncated or corrupt file raises (besides OSError), reported as one ValueError.
_DAMAGED = (zipfile.BadZipFile, zlib.error, KeyError, EOFError, ValueError, IndexError, UnicodeDecodeError, RecursionError)
VERSION = 1


def _registry() -> dict:
    from upsampling import layers, models
    classes = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    classes.update(Sequential=models.Sequential, Model=models.Model, Functional=models.Model)
    return classes


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def model_config(model) -> dict:
    """A JSON-able description of the architecture (no weights)."""
    from upsampling.models import Sequential
    if isinstance(model, Sequential):
        return {"class_name": "Sequential", "config": {
            "name": model.name, "trainable": model.trainable,
            "build_input_shape": _jsonable(model.input_shape_) if model.built else None,
            "layers": [layer_config(l) for l in model.layers]}}
    # functional: every layer once, then every call (node) in execution order
    layers_cfg = [layer_config(l) for l in model.layers]
    tensor_ids = {id(t): i for i, t in enumerate(model.inputs)}
    nodes = []
    for node in model._node_list:
        nodes.append({"layer": node.layer.name, "inputs": [tensor_ids[id(i)] for i in node.inputs],
                      "as_list": node.as_list, "outputs": len(node.outputs), "training": node.training})
        for t in node.outputs:  # a nested model may make several tensors in one call
            tensor_ids[id(t)] = len(tensor_ids)
    return {"class_name": "Functional", "config": {
        "name": model.name, "trainable": model.trainable, "layers": layers_cfg, "nodes": nodes,
        "inputs": [tensor_ids[id(t)] for t in model.inputs],
        "outputs": [tensor_ids[id(t)] for t in model.outputs],
        "single_output": model._single_output}}


def layer_config(layer) -> dict:
    from upsampling.models import Model
    if isinstance(layer, Model):
        return model_config(layer)
    return {"class_name": type(layer).__name__, "config": _jsonable(layer.get_config())}


def model_from_config(config: dict, custom_objects: dict | None = None):
    """Rebuild a model (or layer) from `model_config` output; weights are freshly initialised.

    `custom_objects` maps class names to your own classes (a `Constraint` or `Regularizer`
    subclass, say), rebuilt with their `from_config(get_config())`.
    """
    from upsampling.layers.base import InputLayer
    from upsampling.models import Model, Sequential
    classes = _registry()
    name, cfg = config["class_name"], config["config"]
    if name == "Sequential":
        model = Sequential([model_from_config(c, custom_objects) for c in cfg["layers"]], name=cfg["name"])
        if cfg.get("build_input_shape"):
            model.build(tuple(cfg["build_input_shape"]))
        model.trainable = cfg.get("trainable", True)
        return model
    if name == "Functional":
        by_name = {c["config"]["name"]: model_from_config(c, custom_objects) for c in cfg["layers"]}
        tensors = {}
        inputs_iter = iter(cfg["inputs"])
        for layer in by_name.values():
            if isinstance(layer, InputLayer):
                tensors[next(inputs_iter)] = layer.output
        next_id = len(tensors)
        for node in cfg["nodes"]:
            args = [tensors[i] for i in node["inputs"]]
            out = by_name[node["layer"]](args if node.get("as_list", len(args) > 1) else args[0],
                                         training=node.get("training"))
            for t in (out if node.get("outputs", 1) > 1 else [out]):
                tensors[next_id] = t
                next_id += 1
        outputs = [tensors[i] for i in cfg["outputs"]]
        model = Model([tensors[i] for i in cfg["inputs"]] if len(cfg["inputs"]) > 1 else tensors[cfg["inputs"][0]],
                      outputs[0] if cfg.get("single_output", True) else outputs, name=cfg["name"])
        model.trainable = cfg.get("trainable", True)
        return model
    classes.update({k: v for k, v in (custom_objects or {}).items() if isinstance(v, type)})
    if name not in classes:
        raise ValueError(f"Unknown layer class {name!r} in the saved configuration; known: {sorted(classes)}. "
                         f"Pass your own layer classes as `custom_objects={{'{name}': {name}}}`.")
    cls = classes[name]
    cfg = dict(cfg)
    for key in ("batch_input_shape", "batch_shape"):
        if cfg.get(key) is not None:
            cfg[key] = tuple(cfg[key])
    for key, value in cfg.items():  # user-defined constraints / regularizers by class name
        if isinstance(value, dict) and value.get("class_name") in (custom_objects or {}):
            cfg[key] = custom_objects[value["class_name"]].from_config(value.get("config", {}))
    return cls.from_config(cfg)


def _weights_bytes(model) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{f"{i:04d}:{v.path}": v.value for i, v in enumerate(model.weights)})
    return buf.getvalue()


def _load_weight_arrays(data: bytes, path="weights", limits=None) -> list:
    from upsampling.io.reader import DEFAULT_LIMITS, read_npz
    arrays = read_npz(data, path, "weights.npz", limits or DEFAULT_LIMITS)
    return [arrays[k] for k in sorted(arrays)]


def _training_config(model):
    """The compile() arguments and optimizer state of a compiled model, or None."""
    from upsampling import losses, optimizers
    if not getattr(model, "compiled", False) or not any(l is not None for l in model._output_losses):
        return None, None
    try:
        loss = [None if l is None else _jsonable(losses.serialize(l)) for l in model._output_losses]
    except NotImplementedError as exc:  # a Python function as loss: the file keeps no training setup
        import warnings
        warnings.warn(f"Model '{model.name}' is saved without its compile() settings: {exc}", stacklevel=3)
        return None, None
    spec = {"optimizer": _jsonable(optimizers.serialize(model.optimizer)),
            "loss": loss[0] if len(loss) == 1 else loss, "loss_weights": model._loss_weights,
            **model._compile_spec}
    state = None
    if model.optimizer.built:
        buf = io.BytesIO()
        np.savez(buf, *model.optimizer.get_state())
        state = buf.getvalue()
    return spec, state


def save_model(model, path) -> Path:
    """Write architecture, weights and (for a compiled model) its compile() arguments and optimizer
    state to one file, atomically."""
    spec, state = _training_config(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps({"format": FORMAT, "version": VERSION}))
        zf.writestr("config.json", json.dumps(model_config(model), indent=1))
        zf.writestr("weights.npz", _weights_bytes(model))
        if spec is not None:
            zf.writestr("training.json", json.dumps(spec, indent=1))
        if state is not None:
            zf.writestr("optimizer.npz", state)
    return atomic_write_bytes(path, buf.getvalue())


def load_model(path, compile: bool = True, custom_objects: dict | None = None, limits=None, zf=None):
    """Read a model written by `save_model` (the older `.model` format); with `compile` (the
    default, as in Keras) a model saved compiled comes back compiled, optimizer state included.
    Reads go through `upsampling.io.reader`: bounded, nothing unpickled, clear errors."""
    from upsampling.io import reader
    limits = limits or reader.DEFAULT_LIMITS
    path = reader.check_path(path)
    own = zf is None
    zf = zf or reader.BoundedZip(path, limits)
    try:
        names = set(zf.names())
        for member in ("metadata.json", "config.json", "weights.npz"):
            if member not in names:
                raise reader.fail(path, f"is not a model saved by upsampling: member {member!r} is missing.")
        meta = reader.parse_json(zf.read("metadata.json"), path, "metadata.json", limits)
        config = reader.parse_json(zf.read("config.json"), path, "config.json", limits)
        weights_data = zf.read("weights.npz")
        weights = _load_weight_arrays(weights_data, path, limits)
        spec = reader.parse_json(zf.read("training.json"), path, "training.json", limits) \
            if "training.json" in names else None
        state = reader.read_npz(zf.read("optimizer.npz"), path, "optimizer.npz", limits) \
            if "optimizer.npz" in names else None
    finally:
        if own:
            zf.close()
    if meta.get("format") != FORMAT:
        raise reader.fail(path, f"has format {meta.get('format')!r}, expected {FORMAT!r}.")
    try:
        with reader.weight_budget(path, limits, max_bytes_per_weight=len(weights_data)):
            model = model_from_config(config, custom_objects)
    except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, reader.LoadError):
            raise
        raise reader.fail(path, f"cannot rebuild the model: {exc}") from None
    try:
        model.set_weights(weights)
    except (TypeError, ValueError) as exc:
        raise reader.fail(path, f"weights do not fit the model: {exc}") from None
    if compile and spec is not None:
        from upsampling import losses, optimizers
        loss = spec["loss"]
        loss = [None if l is None else losses.deserialize(l) for l in loss] if isinstance(loss, list) \
            else losses.deserialize(loss)
        weights = spec.get("loss_weights")
        if weights is not None and all(w is None for w in weights):
            weights = None
        model.compile(optimizer=optimizers.deserialize(spec["optimizer"]), loss=loss, loss_weights=weights,
                      metrics=spec.get("metrics") or None, weighted_metrics=spec.get("weighted_metrics") or None)
        if state is not None:
            arrays = [state[f"arr_{i}"] for i in range(len(state))]
            model.optimizer.build(model._compiled_variables)
            try:
                model.optimizer.set_state(arrays)
            except (KeyError, ValueError) as exc:
                raise reader.fail(path, f"optimizer state does not fit: {exc}") from None
    return model


def save_weights(model, path) -> Path:
    return atomic_write_bytes(path, _weights_bytes(model))


def load_weights(model, path, limits=None) -> None:
    from upsampling.io import reader
    path = reader.check_path(path)
    arrays = _load_weight_arrays(path.read_bytes(), path, limits)
    try:
        model.set_weights(arrays)
    except (TypeError, ValueError) as exc:
        raise reader.fail(path, f"weights do not fit the model: {exc}") from None

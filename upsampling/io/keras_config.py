"""Architecture configs in Keras 3's JSON form, both ways, and Keras's weight layout of a model.

`to_keras(model)` writes what `keras.Model.get_config()`-based saving writes (`module`,
`class_name`, `config`, `build_config`, functional `inbound_nodes` with `keras_history`), so
`keras.saving.load_model` rebuilds the same graph. `from_keras(config)` rebuilds one of our
models from such a config, written by us or by Keras, refusing anything unknown with a list of
what is supported. `keras_layer_order` reproduces Keras's own ordering of a functional model's
layers, which fixes the group names in Keras's weight files (`saveable_groups`).
"""
from __future__ import annotations

from upsampling.io.reader import fail

# Keras-only config keys we accept when they hold Keras's default (anything else is refused by
# the layer's constructor with the offending key named).
_KERAS_DEFAULTS = {
    "sparse": False, "ragged": False, "optional": False, "synchronized": False, "renorm": False,
    "renorm_clipping": None, "activity_regularizer": None, "quantization_config": None,
    "lora_rank": None, "lora_alpha": None, "gradient_checkpointing": False,
}


# Keys Keras's own get_config leaves out because the Keras constructor does not take them.
_KERAS_OMITS = {"SpatialDropout2D": ("trainable",)}


def _jsonable(value):
    import numpy as np
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def layer_classes(custom_objects=None) -> dict:
    """Class name -> class for every layer and model this library can rebuild."""
    from upsampling import layers, models
    classes = {name: getattr(layers, name) for name in dir(layers)
               if isinstance(getattr(layers, name), type) and issubclass(getattr(layers, name), layers.Layer)}
    classes.pop("Layer", None)
    classes.update(Sequential=models.Sequential, Functional=models.Model, Model=models.Model)
    classes.update({k: v for k, v in (custom_objects or {}).items() if isinstance(v, type)})
    return classes


def _is_model(obj) -> bool:
    from upsampling.models import Model
    return isinstance(obj, Model)


def _is_sequential(obj) -> bool:
    from upsampling.models import Sequential
    return isinstance(obj, Sequential)


# ------------------------------------------------------------------------------------ graph order
def _graph_nodes(model):
    """Keras's `_build_map`: nodes in decreasing depth (DFS post-order from the outputs) and the
    order in which layers are first reached."""
    inputs = {id(t) for t in model.inputs}
    finished, order, first_seen = set(), [], {}
    for out in model.outputs:
        stack = [(out, False)]
        while stack:
            tensor, done = stack.pop()
            node = tensor.node
            if done:
                if id(node) not in finished:
                    finished.add(id(node))
                    order.append(node)
                continue
            if id(node) in finished:
                continue
            first_seen.setdefault(id(node.layer), (len(first_seen), node.layer))
            stack.append((tensor, True))
            if node.inputs and id(tensor) not in inputs:
                stack.extend((t, False) for t in reversed(node.inputs))
    return order, first_seen


def keras_layer_order(model) -> list:
    """The layers of a functional model in the order `keras.Model.layers` gives them."""
    if _is_sequential(model):
        return model.layers
    order, first_seen = _graph_nodes(model)
    node_depth, layer_depth = {}, {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        for t in node.inputs:
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in model.inputs:  # inputs not connected to an output
        if id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)] = 0
            first_seen[id(t.node.layer)] = (-1, t.node.layer)
    by_depth: dict = {}
    for key, depth in layer_depth.items():
        by_depth.setdefault(depth, []).append(first_seen[key])
    out = []
    for depth in sorted(by_depth, reverse=True):
        out.extend(layer for _, layer in sorted(by_depth[depth], key=lambda p: p[0]))
    return out


# ------------------------------------------------------------------------------------- writing
def _object(module: str, value: dict | None):
    """A regularizer/constraint dict with Keras's module and registered_name keys."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    return {"module": module, "class_name": value["class_name"], "config": value.get("config", {}),
            "registered_name": None}


def _layer_config(layer) -> dict:
    cfg = _jsonable(layer.get_config())
    cfg.pop("batch_input_shape", None)  # Keras 3 layers take their input shape from an InputLayer
    for key in _KERAS_OMITS.get(type(layer).__name__, ()):
        cfg.pop(key, None)
    for key, value in list(cfg.items()):
        if key.endswith("_regularizer"):
            cfg[key] = _object("keras.regularizers", value)
        elif key.endswith("_constraint"):
            cfg[key] = _object("keras.constraints", value)
    return cfg


def _input_layer_config(layer) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": _jsonable(layer._batch_input_shape), "dtype": layer.dtype,
                       "sparse": False, "ragged": False, "name": layer.name, "optional": False},
            "registered_name": None}


def to_keras(obj) -> dict:
    """Keras 3's serialized form of a layer or model (what `config.json` holds)."""
    from upsampling.layers.base import InputLayer
    if isinstance(obj, InputLayer):
        return _input_layer_config(obj)
    if _is_sequential(obj):
        layers = [to_keras(l) for l in obj.layers]
        cfg = {"name": obj.name, "trainable": obj.trainable, "dtype": obj.dtype, "layers": layers}
        out = {"module": "keras", "class_name": "Sequential", "config": cfg, "registered_name": None}
        if obj.built:
            cfg["layers"] = [_input_layer_config(obj._input_layer)] + layers
            cfg["build_input_shape"] = _jsonable(obj.input_shape_)
            out["build_config"] = {"input_shape": _jsonable(obj.input_shape_)}
        return out
    if _is_model(obj):
        return _functional_config(obj)
    out = {"module": "keras.layers", "class_name": type(obj).__name__, "config": _layer_config(obj),
           "registered_name": None}
    if obj.built and obj.input_shape_ is not None:
        out["build_config"] = {"input_shape": _jsonable(obj.input_shape_)}
    return out


def _functional_config(model) -> dict:
    order, _ = _graph_nodes(model)
    calls: dict = {}  # id(layer) -> its nodes in this model, in a topological order
    history = {}      # id(tensor) -> [layer name, node index, tensor index]
    for t in model.inputs:
        history[id(t)] = [t.node.layer.name, 0, 0]
    for node in order:
        if not node.inputs:
            continue
        nodes = calls.setdefault(id(node.layer), [])
        nodes.append(node)
    node_index = {}
    for nodes in calls.values():
        for i, node in enumerate(nodes):
            offset = 1 if _is_model(node.layer) and not _is_sequential(node.layer) else 0
            node_index[id(node)] = i + offset  # a nested functional model counts its own node first

    def tensor_ref(t):
        if id(t) in history:
            ref = history[id(t)]
        else:
            outs = getattr(t.node, "outputs", None) or [t]
            ref = [t.node.layer.name, node_index[id(t.node)], next(i for i, o in enumerate(outs) if o is t)]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": _jsonable(t.shape), "dtype": t.dtype, "keras_history": ref}}

    layers = []
    for layer in keras_layer_order(model):
        entry = to_keras(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = []
        for node in calls.get(id(layer), []):
            args = [tensor_ref(t) for t in node.inputs]
            entry["inbound_nodes"].append({"args": [args[0] if len(args) == 1 else args], "kwargs": {}})
        layers.append(entry)

    def refs(tensors, single):
        out = [tensor_ref(t)["config"]["keras_history"] for t in tensors]
        return out[0] if single else out

    cfg = {"name": model.name, "trainable": model.trainable, "layers": layers,
           "input_layers": refs(model.inputs, len(model.inputs) == 1),
           "output_layers": refs(model.outputs, getattr(model, "_single_output", len(model.outputs) == 1))}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": cfg,
            "registered_name": "Functional"}


# ------------------------------------------------------------------------------------- reading
def _policy_name(value, path, owner):
    if isinstance(value, dict):
        inner = value.get("config")
        if value.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy") or not isinstance(inner, dict):
            raise fail(path, f"{owner}: dtype policy {value.get('class_name')!r} is not supported; "
                             f"expected a plain float dtype.")
        return inner.get("name")
    return value


def _check_names(cfg: dict, path, owner: str, custom_objects) -> None:
    """Refuse unknown activation / initializer names up front, listing what is supported."""
    from upsampling import initializers
    from upsampling.ops.activations import ACTIVATIONS
    for key, value in cfg.items():
        if key == "activation":
            name = value.get("class_name") if isinstance(value, dict) else value
            if value is not None and (not isinstance(name, str) or name.lower() not in ACTIVATIONS):
                raise fail(path, f"{owner}: unknown activation {name!r}; supported: {sorted(ACTIVATIONS)}.")
        elif key.endswith("_initializer") and value is not None:
            name = value.get("class_name") if isinstance(value, dict) else value
            known = {**initializers.ALL_OBJECTS, **(custom_objects or {})}
            if not isinstance(name, str) or name not in known:
                raise fail(path, f"{owner}: unknown initializer {name!r} for `{key}`; supported: "
                                 f"{sorted(initializers.ALL_OBJECTS)}.")


def _clean_layer_config(cfg: dict, path, owner: str, custom_objects) -> dict:
    cfg = dict(cfg)
    if "dtype" in cfg:
        cfg["dtype"] = _policy_name(cfg["dtype"], path, owner)
    if cfg.get("renorm") is False:
        cfg.pop("renorm_momentum", None)
    for key, default in _KERAS_DEFAULTS.items():
        if key in cfg and cfg[key] == default:
            cfg.pop(key)
    axis = cfg.get("axis")
    if isinstance(axis, list) and len(axis) == 1:  # Keras 2's BatchNormalization wrote axis=[3]
        cfg["axis"] = axis[0]
    for key in ("batch_input_shape", "batch_shape"):
        if isinstance(cfg.get(key), list):
            cfg[key] = tuple(cfg[key])
    _check_names(cfg, path, owner, custom_objects)
    for key, value in cfg.items():  # user-defined constraints / regularizers by class name
        if isinstance(value, dict) and value.get("class_name") in (custom_objects or {}):
            cfg[key] = custom_objects[value["class_name"]].from_config(value.get("config") or {})
        elif isinstance(value, dict) and (key.endswith("_regularizer") or key.endswith("_constraint")):
            cfg[key] = {"class_name": value.get("class_name"), "config": value.get("config") or {}}
    return cfg


def _entry(config, path, where):
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) \
            or not isinstance(config.get("config", {}), dict):
        raise fail(path, f"{where}: expected {{'class_name': str, 'config': {{...}}}}. Received: "
                         f"{str(config)[:200]}")
    return config["class_name"], config.get("config", {})


def from_keras(config, path, custom_objects=None):
    """Rebuild a layer or model from its Keras 3 (or Keras 2-style `{class_name, config}`) form.
    Every problem is a LoadError naming `path`; no weights are loaded here."""
    from upsampling.layers.base import InputLayer
    from upsampling.models import Model, Sequential
    classes = layer_classes(custom_objects)
    name, cfg = _entry(config, path, "a layer entry")
    owner = f"layer {cfg.get('name', '?')!r} ({name})"
    try:
        if name == "Sequential":
            entries = cfg.get("layers")
            if not isinstance(entries, list):
                raise fail(path, f"{owner}: `layers` must be a list.")
            children = [from_keras(c, path, custom_objects) for c in entries]
            model = Sequential(children, name=cfg.get("name"))
            shape = cfg.get("build_input_shape")
            if shape and not model.built:
                model.build(tuple(shape))
            model.trainable = cfg.get("trainable", True)
            return model
        if name in ("Functional", "Model"):
            return _functional_from_keras(cfg, path, custom_objects)
        cls = classes.get(name)
        if cls is None or cls in (Sequential, Model):
            supported = sorted(k for k in classes if k not in ("Model", "Functional"))
            raise fail(path, f"unknown layer class {name!r}; supported: {supported}. A layer of your own "
                             f"loads with custom_objects={{{name!r}: YourClass}}.")
        cfg = _clean_layer_config(cfg, path, owner, custom_objects)
        if cls is InputLayer:
            cfg = {k: v for k, v in cfg.items() if k in ("batch_shape", "dtype", "name", "shape",
                                                         "batch_size", "batch_input_shape")}
            if "batch_input_shape" in cfg:
                cfg["batch_shape"] = cfg.pop("batch_input_shape")
        layer = cls.from_config(cfg)
        build = config.get("build_config") or {}
        if not layer.built and isinstance(build.get("input_shape"), list) and cls is not InputLayer:
            shape = build["input_shape"]
            # a merge layer's build shape is a list of shapes; every other layer's is one shape
            layer._maybe_build([tuple(s) for s in shape] if any(isinstance(s, list) for s in shape)
                               else tuple(shape))
        return layer
    except (TypeError, ValueError, KeyError, NotImplementedError, AttributeError, IndexError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise fail(path, f"cannot rebuild {owner}: {exc}") from None


def _functional_from_keras(cfg, path, custom_objects):
    from upsampling.models import Model
    entries = cfg.get("layers")
    if not isinstance(entries, list) or not entries:
        raise fail(path, "a functional model's `layers` must be a non-empty list.")
    created, pending = {}, []
    for entry in entries:
        layer = from_keras(entry, path, custom_objects)
        lname = entry.get("name") or layer.name
        if lname in created:
            raise fail(path, f"two layers are named {lname!r}.")
        created[lname] = layer
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise fail(path, f"layer {lname!r}: `inbound_nodes` must be a list.")
        pending.append((lname, list(nodes)))
    from upsampling.layers.base import InputLayer
    outputs = {}  # (layer name, node index) -> output tensors
    for lname, layer in created.items():
        if isinstance(layer, InputLayer):
            outputs[(lname, 0)] = [layer.output]

    def tensor(ref):
        if isinstance(ref, dict):
            ref = (ref.get("config") or {}).get("keras_history")
        if not isinstance(ref, (list, tuple)) or len(ref) != 3:
            raise fail(path, f"malformed tensor reference {str(ref)[:100]}.")
        lname, node_index, tensor_index = ref
        layer = created.get(lname)
        if layer is None:
            raise fail(path, f"a node refers to the unknown layer {lname!r}.")
        if _is_model(layer) and not _is_sequential(layer):
            node_index -= 1  # a nested functional model counts its own node first
        outs = outputs.get((lname, node_index))
        if outs is None:
            return None
        if not isinstance(tensor_index, int) or not 0 <= tensor_index < len(outs):
            raise fail(path, f"tensor index {tensor_index!r} of layer {lname!r} does not exist.")
        return outs[tensor_index]

    done = {lname: 0 for lname, _ in pending}
    progress = True
    while progress:
        progress = False
        for lname, nodes in pending:
            while done[lname] < len(nodes):
                node = _keras2_node(nodes[done[lname]])
                if not isinstance(node, dict):
                    raise fail(path, f"layer {lname!r}: a node must be an object with `args`.")
                # `training` as recorded by Keras (False/None) is decided at call time here
                kwargs = {k: v for k, v in (node.get("kwargs") or {}).items()
                          if v is not None and not (k == "training" and v is False)}
                if kwargs:
                    raise fail(path, f"layer {lname!r}: call arguments {sorted(kwargs)} are not supported.")
                args = node.get("args") or []
                if len(args) != 1:
                    raise fail(path, f"layer {lname!r}: expected one positional argument per call, "
                                     f"found {len(args)}.")
                several = isinstance(args[0], list) and bool(args[0]) and isinstance(args[0][0], (dict, list))
                ins = [tensor(r) for r in (args[0] if several else [args[0]])]
                if any(t is None for t in ins):
                    break
                try:
                    out = created[lname](ins if several else ins[0])
                except (TypeError, ValueError) as exc:
                    raise fail(path, f"cannot call layer {lname!r} on its inputs: {exc}") from None
                outputs[(lname, done[lname])] = list(out) if isinstance(out, (list, tuple)) else [out]
                done[lname] += 1
                progress = True
    stuck = [lname for lname, nodes in pending if done[lname] < len(nodes)]
    if stuck:
        raise fail(path, f"the graph cannot be rebuilt: the inputs of {stuck} are never produced.")

    def refs(value, what):
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            value, single = [value], True
        elif isinstance(value, list):
            single = len(value) == 1  # Keras 2 wrote [[name, 0, 0]] for a single tensor
        else:
            raise fail(path, f"malformed `{what}`: {str(value)[:100]}")
        ts = [tensor(r) for r in value]
        if any(t is None for t in ts):
            raise fail(path, f"`{what}` names a tensor the graph does not produce.")
        return ts[0] if single else ts

    inputs = refs(cfg.get("input_layers"), "input_layers")
    outs = refs(cfg.get("output_layers"), "output_layers")
    try:
        model = Model(inputs, outs, name=cfg.get("name"))
    except (TypeError, ValueError) as exc:
        raise fail(path, f"cannot build the functional model: {exc}") from None
    model.trainable = cfg.get("trainable", True)
    return model


def _keras2_node(node):
    """Keras 2 wrote a call as [[layer, node_index, tensor_index, kwargs], ...]: as Keras 3's form."""
    if not isinstance(node, list) or not all(isinstance(r, list) and len(r) in (3, 4) for r in node) or not node:
        return node
    refs = [r[:3] for r in node]
    kwargs = node[0][3] if len(node[0]) == 4 and isinstance(node[0][3], dict) else {}
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


# ------------------------------------------------------------------------- Keras's weight layout
def saveable_groups(model, prefix: str = "") -> list:
    """[(h5 group path, [variables])] as Keras's saving library lays a model out in
    `model.weights.h5` / `.weights.h5`: `vars` of the model itself, then `layers/<snake_case class
    name, numbered _1, _2 ... per container>/...`, recursively for nested models."""
    from upsampling.layers.base import InputLayer, to_snake_case
    out = [(f"{prefix}vars", [] if _is_model(model) else list(model._variables))]
    if not _is_model(model):
        return out
    used: dict = {}
    layers = keras_layer_order(model) if not _is_sequential(model) else model.layers
    for layer in layers:
        if _is_sequential(model) and isinstance(layer, InputLayer):
            continue
        cls = "Functional" if _is_model(layer) and not _is_sequential(layer) else type(layer).__name__
        name = to_snake_case(cls)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        out.extend(saveable_groups(layer, f"{prefix}layers/{name}/"))
    return out

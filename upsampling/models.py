"""Sequential and functional models: layers composed, differentiated end to end, nestable.

A Model is itself a Layer: `forward(x, training) -> (y, backward)` chains the layers' forward
passes and returns one backward closure that walks them in reverse, so models nest in models
and a layer called twice in one graph receives both gradient contributions.
Training methods (compile, fit, train_on_batch, ...) come from `upsampling.training.Trainer`.
"""
from __future__ import annotations

import numpy as np

from upsampling.layers.base import InputLayer, KerasTensor, Layer, Node, unique_name
from upsampling.training import Trainer


def load_model(filepath, compile=True, custom_objects=None):
    """Load a `.keras` file (ours or Keras 3's), a legacy Keras `.h5` model file or an older
    `.model` file; `custom_objects` names your own classes (see `upsampling.io`)."""
    from upsampling.io import load_model as _load
    return _load(filepath, compile=compile, custom_objects=custom_objects)


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (fresh weights) from `model.to_json()` or Keras's `to_json()` output."""
    from upsampling.io import model_from_json as _from_json
    return _from_json(json_string, custom_objects=custom_objects)


class Model(Trainer, Layer):
    """Functional model ``Model(inputs, outputs)``: a graph of layer calls on symbolic tensors."""

    skips_input_gradient = True  # passes grads.input_needed on correctly (see autograd.Gradients)

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if inputs is None or outputs is None:
            raise TypeError("Model: pass both `inputs` and `outputs` (symbolic tensors from `Input` "
                            f"and layer calls). Received: inputs={inputs!r}, outputs={outputs!r}")
        Layer.__init__(self, name=name or unique_name("functional"), trainable=trainable, **kwargs)
        Trainer.__init__(self)
        if isinstance(inputs, dict):
            inputs = list(inputs.values())
        if isinstance(outputs, dict):
            raise NotImplementedError(f"Model '{self.name}': outputs given as a dict are not supported "
                                      f"by upsampling; pass a list of tensors.")
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self.inputs = [inputs] if self._single_input else list(inputs)
        self.outputs = [outputs] if self._single_output else list(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model '{self.name}': inputs and outputs must be symbolic tensors. "
                                f"Received: {t!r}")
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model '{self.name}': every input must come from `Input(...)`. "
                                 f"Received: {t!r}")
        self._nodes = self._topological_nodes()
        self._node_list = []  # each call once, in execution order (a call may make several tensors)
        for t in self._nodes:
            if all(t.node is not n for n in self._node_list):
                self._node_list.append(t.node)
        self.input_shape_ = self.inputs[0].shape
        self.built = True

    @property
    def input(self):
        """The model's input tensor (a list of them for a model with several inputs)."""
        return self.inputs[0] if self._single_input else list(self.inputs)

    @property
    def output(self):
        """The model's output tensor (a list of them for a model with several outputs)."""
        return self.outputs[0] if self._single_output else list(self.outputs)

    @property
    def input_names(self) -> list:
        return [t.node.layer.name for t in self.inputs]

    @property
    def output_names(self) -> list:
        """Keras's names of the outputs: the layer (or nested model) that makes each one."""
        return [t.node.layer.name for t in self.outputs]

    def _topological_nodes(self) -> list:
        order, seen = [], set()
        input_ids = {id(t) for t in self.inputs}

        def visit(tensor):
            if id(tensor) in seen:
                return
            seen.add(id(tensor))
            node = tensor.node
            if id(tensor) in input_ids:
                return
            if node is None or not node.inputs:
                raise ValueError(f"Model '{self.name}': an output depends on an input that is not in "
                                 f"`inputs`: {tensor!r} (from layer '{node.layer.name if node else '?'}').")
            for t in node.inputs:
                visit(t)
            for t in node.outputs:  # every tensor of a call with several outputs, in order
                if id(t) not in seen or t is tensor:
                    seen.add(id(t))
                    order.append(t)

        for t in self.outputs:
            visit(t)
        return order  # tensors in execution order, each with the node that makes it

    # -------------------------------------------------------------------------- structure
    @property
    def layers(self) -> list:
        """The layers in Keras's order (which is also the order of `weights`): deepest first, where a
        layer's depth is its longest path to an output, ties in the order a depth-first walk from the
        outputs (following each call's inputs in order) first meets them."""
        first_met, node_depth = {}, {}
        input_ids = {id(t) for t in self.inputs}

        def walk(tensor):
            node = tensor.node
            first_met.setdefault(id(node.layer), (len(first_met), node.layer))
            if id(tensor) in input_ids:
                return
            for t in node.inputs:
                walk(t)

        for t in self.outputs:
            walk(t)
        for node in reversed(self._node_list):  # consumers before producers
            depth = node_depth.setdefault(id(node), 0)
            for t in node.inputs:
                node_depth[id(t.node)] = max(node_depth.get(id(t.node), 0), depth + 1)
        layer_depth = {}
        for node in self._node_list + [t.node for t in self.inputs]:
            key = id(node.layer)
            layer_depth[key] = max(layer_depth.get(key, 0), node_depth.get(id(node), 0))
        for t in self.inputs:  # an input nothing uses still shows
            first_met.setdefault(id(t.node.layer), (len(first_met), t.node.layer))
        order = sorted(first_met.items(), key=lambda kv: (-layer_depth.get(kv[0], 0), kv[1][0]))
        return [layer for _, (_, layer) in order]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}': no such layer: {name!r}. Existing layers: "
                         f"{[l.name for l in self.layers]}")

    def _gather(self, attribute: str) -> list:
        """The layers' `attribute` lists concatenated, each shared variable once."""
        out, seen = [], set()
        for layer in self.layers:
            for v in getattr(layer, attribute):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def weights(self) -> list:
        return self._gather("weights")

    @property
    def trainable_weights(self) -> list:
        return self._gather("trainable_weights") if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @Layer.trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self.layers:  # as in Keras, the flag applies to every nested layer
            layer.trainable = value

    def compute_output_shape(self, input_shape):
        batch = (input_shape[0] if isinstance(input_shape, list) else input_shape)[0]
        shapes = [(batch,) + tuple(t.shape[1:]) for t in self.outputs]
        return shapes[0] if self._single_output else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if self._single_output else shapes

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if self._single_input else shapes

    # -------------------------------------------------------------------------- calling
    def _check_input_shape(self, shape, expected=None):
        expected = self.inputs[0].shape if expected is None else expected
        if len(shape) != len(expected) or any(e is not None and s is not None and e != s
                                               for e, s in zip(expected[1:], shape[1:])):
            raise ValueError(f"Model '{self.name}': expected input shape {expected}, "
                             f"but received an input of shape {tuple(shape)}.")

    def _maybe_build(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(shapes) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} inputs, received {len(shapes)}.")
        for shape, t in zip(shapes, self.inputs):
            self._check_input_shape(tuple(shape), t.shape)

    def _input_list(self, x) -> list:
        """The inputs as a list in the order of `self.inputs` (a dict is read by input name)."""
        if isinstance(x, dict):
            missing = [n for n in self.input_names if n not in x]
            if missing:
                raise ValueError(f"Model '{self.name}': the input dict lacks {missing}; its keys are "
                                 f"{sorted(x)} and the model's inputs are {self.input_names}.")
            return [x[n] for n in self.input_names]
        if isinstance(x, (list, tuple)) and (not self._single_input or len(x) == 1):
            return list(x)
        return [x]

    def forward(self, x, training: bool = False):
        xs = self._input_list(x)
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} inputs, received {len(xs)}.")
        values, backs, given_shapes = {}, [], []
        for t, value in zip(self.inputs, xs):
            arr = t.node.layer._convert(value)  # the InputLayer's dtype
            given_shapes.append(arr.shape)
            # Keras's rank adjustment: a missing or extra trailing unit axis is added or removed
            if arr.ndim == len(t.shape) - 1 and t.shape[-1] == 1:
                arr = arr[..., None]
            elif arr.ndim == len(t.shape) + 1 and arr.shape[-1] == 1:
                arr = arr[..., 0]
            self._check_input_shape(arr.shape, t.shape)
            values[id(t)] = arr
        for node in self._node_list:
            args = [values[id(i)] for i in node.inputs]
            y, back = node.layer.forward(args if node.as_list else args[0],
                                         training if node.training is None else node.training)
            for t, value in zip(node.outputs, y if len(node.outputs) > 1 else [y]):
                values[id(t)] = value
            backs.append((node, back))
        outs = [values[id(t)] for t in self.outputs]

        def backward(dy, grads):
            outer = getattr(grads, "input_needed", None)
            if outer is not None:
                grads.input_needed = True  # every layer's input gradient feeds another (conservative)
            try:
                return run_backward(dy, grads)
            finally:
                if outer is not None:
                    grads.input_needed = outer

        def run_backward(dy, grads):
            dys = [dy] if self._single_output else list(dy)
            cot = {}
            for t, d in zip(self.outputs, dys):
                if d is not None:
                    cot[id(t)] = cot[id(t)] + d if id(t) in cot else d
            for node, back in reversed(backs):
                ds = [cot.pop(id(t), None) for t in node.outputs]
                if all(d is None for d in ds):
                    continue
                ds = [np.zeros_like(values[id(t)]) if d is None else d for t, d in zip(node.outputs, ds)]
                dx = back(ds if len(ds) > 1 else ds[0], grads)
                dxs = dx if node.as_list else [dx]
                for i, g in zip(node.inputs, dxs):
                    if g is not None:
                        cot[id(i)] = cot[id(i)] + g if id(i) in cot else g
            dins = [None if cot.get(id(t)) is None else np.reshape(cot[id(t)], shape)
                    for t, shape in zip(self.inputs, given_shapes)]
            return dins[0] if self._single_input else dins

        return (outs[0] if self._single_output else outs), backward

    def __call__(self, inputs, training=None):
        items = self._input_list(inputs) if not isinstance(inputs, KerasTensor) else [inputs]
        if any(isinstance(t, KerasTensor) for t in items):
            self._maybe_build([t.shape for t in items])
            batch = items[0].shape[0]
            outs = [KerasTensor((batch,) + tuple(o.shape[1:]), dtype=o.dtype, name=self.name)
                    for o in self.outputs]
            node = Node(self, items, as_list=not self._single_input, training=training)
            for k, t in enumerate(outs):
                t.node, t.index = node, k
            node.outputs = outs
            return outs[0] if self._single_output else outs
        return super().__call__(inputs, training)

    def count_params(self) -> int:
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    def get_weights(self) -> list:
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        own = self.weights
        if not isinstance(weights, (list, tuple)) or len(weights) != len(own):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(f"Model '{self.name}': `set_weights` expects a list of {len(own)} arrays "
                             f"(in the order of `model.weights`). Received: {got}")
        start = 0
        seen = set()
        checked = []  # every layer's arrays checked before any is assigned
        for layer in self.layers:
            own_layer = [v for v in layer.weights if id(v) not in seen]
            if not own_layer:
                continue
            if len(own_layer) != len(layer.weights):
                raise ValueError(f"Model '{self.name}': cannot set shared weights of layer '{layer.name}'.")
            checked.append((layer, layer._checked_weights(list(weights[start:start + len(own_layer)]))))
            seen.update(id(v) for v in own_layer)
            start += len(own_layer)
        for layer, arrays in checked:
            layer.set_weights(arrays)

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the Keras 3 summary table (or hand it to `print_fn` as one string)."""
        from upsampling.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def get_config(self):
        from upsampling.saving import model_config
        return model_config(self)["config"]

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Architecture, weights (and optimizer state) in one file, written atomically: Keras 3's
        `.keras` format, or legacy Keras HDF5 for `.h5` names (see `upsampling.io`)."""
        from pathlib import Path

        from upsampling.io import save_model
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(f"Model '{self.name}': {filepath} exists and overwrite=False.")
        return save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Keras's `.weights.h5` layout (an `.npz` name keeps the older NumPy archive)."""
        from pathlib import Path

        from upsampling.io import save_weights
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(f"Model '{self.name}': {filepath} exists and overwrite=False.")
        return save_weights(self, filepath)

    def load_weights(self, filepath):
        from upsampling.io import load_weights
        load_weights(self, filepath)

    def to_json(self, **kwargs) -> str:
        """The architecture as Keras 3's JSON (`keras.models.model_from_json` reads it)."""
        from upsampling.io import to_json
        return to_json(self, **kwargs)

    def export(self, filepath, format="onnx", **kwargs):
        """`format='onnx'`: an ONNX model of the inference graph (see `upsampling.io.onnx_export`)."""
        from upsampling.io import export
        return export(self, filepath, format=format, **kwargs)


class Sequential(Model):
    """A linear stack of layers: `Sequential([...])` or `add()` one at a time."""

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name or unique_name("sequential"), trainable=trainable, **kwargs)
        Trainer.__init__(self)
        self._layers: list = []
        self._input_layer: InputLayer | None = None
        self.built = False
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer (or an `Input(...)` tensor / InputLayer as the first element)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"Sequential '{self.name}': an Input must come first, before any layer.")
            self._input_layer = layer
            self._build_from(layer._batch_input_shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': only layers can be added. Received: {layer!r} "
                            f"of type {type(layer).__name__}")
        if any(layer is l for l in self._layers):
            raise ValueError(f"Sequential '{self.name}': layer '{layer.name}' is already in the model.")
        self._layers.append(layer)
        if self.built:
            try:
                layer._maybe_build(self._output_shape_of(self.input_shape_, self._layers[:-1]))
                self.outputs
            except Exception:
                self._layers.pop()
                raise
        elif len(self._layers) == 1 and layer._batch_input_shape is not None:
            self._build_from(layer._batch_input_shape)

    def pop(self):
        if not self._layers:
            raise TypeError(f"Sequential '{self.name}': there are no layers to pop.")
        return self._layers.pop()

    @staticmethod
    def _output_shape_of(shape, layers):
        for layer in layers:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        return tuple(shape)

    def _build_from(self, batch_shape):
        self._output_shape_of(tuple(batch_shape), self._layers)
        self.input_shape_ = (None,) + tuple(batch_shape[1:])
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=self.input_shape_, name=unique_name("input_layer"))
        self.built = True
        self.outputs  # the symbolic graph, so that `model.layers[i].output` exists as in Keras

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential '{self.name}': `build()` needs an input shape; none is known.")
            input_shape = self._input_layer._batch_input_shape
        self._build_from(tuple(input_shape))

    @property
    def layers(self) -> list:
        return list(self._layers)

    _single_input = _single_output = True

    def _require_built(self, what: str):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' has no {what} yet: it is not built (give the "
                                 f"first layer an `input_shape`, start with an `Input`, or call `build`).")

    @property
    def inputs(self) -> list:
        self._require_built("inputs")
        return [self._input_layer.output]

    @property
    def outputs(self) -> list:
        """The symbolic output: the layers called in turn on the input tensor (made once per stack)."""
        self._require_built("outputs")
        key = tuple(id(layer) for layer in self._layers)
        cached = getattr(self, "_symbolic", None)
        if cached is None or cached[0] != key:
            x = self._input_layer.output
            for layer in self._layers:
                x = layer(x)
            self._symbolic = cached = (key, x)
        return [cached[1]]

    @property
    def input_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' has no input shape yet: it is not built.")
        return self.input_shape_

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' has no output shape yet: it is not built.")
        return self._output_shape_of(self.input_shape_, self._layers)

    def compute_output_shape(self, input_shape):
        return self._output_shape_of(tuple(input_shape), self._layers)

    def _check_input_shape(self, shape):
        if self.built:
            expected = self.input_shape_
            if len(shape) != len(expected) or any(e is not None and s is not None and e != s
                                                   for e, s in zip(expected[1:], shape[1:])):
                raise ValueError(f"Sequential '{self.name}': expected input shape {expected}, "
                                 f"but received an input of shape {tuple(shape)}.")

    def _maybe_build(self, input_shape):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers.")
        if not self.built:
            self._build_from(tuple(input_shape))
        else:
            self._check_input_shape(tuple(input_shape))

    def forward(self, x, training: bool = False):
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers to run.")
        x = self._convert(x, cast=False)  # each layer casts to its own dtype
        self._maybe_build(x.shape)
        backs = []
        for layer in self._layers:
            x, back = layer.forward(x, training)
            backs.append(back)

        def backward(dy, grads):
            if not hasattr(grads, "input_needed"):  # a gradient collector of the caller's own
                for back in reversed(backs):
                    dy = back(dy, grads)
                return dy
            # only the first layer may skip its input gradient, only if the caller discards ours,
            # and only a layer that says it honours the flag (a wrapper layer would pass it on)
            outer = grads.input_needed
            first = outer or not getattr(self._layers[0], "skips_input_gradient", False)
            try:
                for i in range(len(backs) - 1, -1, -1):
                    grads.input_needed = first if i == 0 else True
                    dy = backs[i](dy, grads)
            finally:
                grads.input_needed = outer
            return dy

        return x, backward

    def __call__(self, inputs, training=None):
        if isinstance(inputs, KerasTensor):
            self._maybe_build(inputs.shape)
            return KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.dtype,
                               node=Node(self, [inputs], training=training), name=self.name)
        return Layer.__call__(self, inputs, training)


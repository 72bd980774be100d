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
    """Load a model saved with `model.save(filepath)`; `custom_objects` names your own classes."""
    from upsampling.saving import load_model as _load
    return _load(filepath, compile=compile, custom_objects=custom_objects)


class Model(Trainer, Layer):
    """Functional model ``Model(inputs, outputs)``: a graph of layer calls on symbolic tensors."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if inputs is None or outputs is None:
            raise TypeError("Model: pass both `inputs` and `outputs` (symbolic tensors from `Input` "
                            f"and layer calls). Received: inputs={inputs!r}, outputs={outputs!r}")
        Layer.__init__(self, name=name or unique_name("functional"), trainable=trainable, **kwargs)
        Trainer.__init__(self)
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self.inputs = [inputs] if self._single_input else list(inputs)
        self.outputs = [outputs] if self._single_output else list(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model '{self.name}': inputs and outputs must be symbolic tensors. "
                                f"Received: {t!r}")
        self._nodes = self._topological_nodes()
        self.input_shape_ = self.inputs[0].shape
        self.built = True

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
                raise ValueError(f"Model '{self.name}': output depends on an input that is not in "
                                 f"`inputs`: {tensor!r}")
            for t in node.inputs:
                visit(t)
            order.append(tensor)

        for t in self.outputs:
            visit(t)
        return order  # tensors in execution order, each with the node that makes it

    # -------------------------------------------------------------------------- structure
    @property
    def layers(self) -> list:
        out, seen = [], set()
        for t in self.inputs:
            layer = t.node.layer
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        for t in self._nodes:
            layer = t.node.layer
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

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
        return (input_shape[0],) + tuple(self.outputs[0].shape[1:])

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if self._single_output else shapes

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if self._single_input else shapes

    # -------------------------------------------------------------------------- calling
    def _check_input_shape(self, shape):
        expected = self.inputs[0].shape
        if len(shape) != len(expected) or any(e is not None and s is not None and e != s
                                               for e, s in zip(expected[1:], shape[1:])):
            raise ValueError(f"Model '{self.name}': expected input shape {expected}, "
                             f"but received an input of shape {tuple(shape)}.")

    def _maybe_build(self, input_shape):
        self._check_input_shape(tuple(input_shape))

    def forward(self, x, training: bool = False):
        xs = x if (not self._single_input and isinstance(x, (list, tuple))) else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} inputs, received {len(xs)}.")
        values, backs = {}, []
        for t, value in zip(self.inputs, xs):
            arr = t.node.layer._convert(value)  # the InputLayer's dtype
            if len(self.inputs) == 1:
                self._check_input_shape(arr.shape)
            values[id(t)] = arr
        for t in self._nodes:
            node = t.node
            args = [values[id(i)] for i in node.inputs]
            y, back = node.layer.forward(args[0] if len(args) == 1 else args, training)
            values[id(t)] = y
            backs.append((t, node, back))
        outs = [values[id(t)] for t in self.outputs]

        def backward(dy, grads):
            dys = [dy] if self._single_output else list(dy)
            cot = {}
            for t, d in zip(self.outputs, dys):
                cot[id(t)] = cot[id(t)] + d if id(t) in cot else d
            for t, node, back in reversed(backs):
                d = cot.pop(id(t), None)
                if d is None:
                    continue
                dx = back(d, grads)
                dxs = [dx] if len(node.inputs) == 1 else dx
                for i, g in zip(node.inputs, dxs):
                    cot[id(i)] = cot[id(i)] + g if id(i) in cot else g
            dins = [cot.get(id(t)) for t in self.inputs]
            return dins[0] if self._single_input else dins

        return (outs[0] if self._single_output else outs), backward

    def __call__(self, inputs, training=None):
        if isinstance(inputs, KerasTensor):
            self._check_input_shape(inputs.shape)
            return KerasTensor((inputs.shape[0],) + tuple(self.outputs[0].shape[1:]),
                               dtype=self.dtype, node=Node(self, [inputs]), name=self.name)
        return self.forward(inputs, bool(training))[0]

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

    def save(self, filepath, overwrite=True):
        """Architecture and weights in one file, written atomically (see `upsampling.saving`)."""
        from pathlib import Path

        from upsampling.saving import save_model
        if not overwrite and Path(filepath).exists():
            raise FileExistsError(f"Model '{self.name}': {filepath} exists and overwrite=False.")
        return save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True):
        from upsampling.saving import save_weights
        return save_weights(self, filepath)

    def load_weights(self, filepath):
        from upsampling.saving import load_weights
        load_weights(self, filepath)


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

    def build(self, input_shape=None):
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(f"Sequential '{self.name}': `build()` needs an input shape; none is known.")
            input_shape = self._input_layer._batch_input_shape
        self._build_from(tuple(input_shape))

    @property
    def layers(self) -> list:
        return list(self._layers)

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
            for back in reversed(backs):
                dy = back(dy, grads)
            return dy

        return x, backward

    def __call__(self, inputs, training=None):
        if isinstance(inputs, KerasTensor):
            self._maybe_build(inputs.shape)
            return KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.dtype,
                               node=Node(self, [inputs]), name=self.name)
        return self.forward(inputs, bool(training))[0]


"""`Lambda`: a Python function as a layer, differentiated by tracing (`upsampling.autograd`)."""
from __future__ import annotations

import inspect

from upsampling.layers.base import Layer, _is_shape_list


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer (`keras.layers.Lambda`).

    Write the function with `upsampling.ops` / `upsampling.backend` so that its gradient is
    known. A model with a Lambda layer saves, but does not load from a file: loading would run
    Python code stored in the file, so it is refused (rebuild the model in code and use
    `load_weights`).

    Args:
        function: the function of the inputs (a tensor or a list of tensors).
        output_shape: the output shape without the batch axis, or a function of the input
            shape; by default found by running the function once on zeros.
        mask: not supported (must be None).
        arguments: keyword arguments passed to `function`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"{self._owner}: `function` must be callable. Received: function={function!r}")
        if mask is not None:
            raise NotImplementedError(f"{self._owner}: `mask` is not supported by upsampling. "
                                      f"Received: mask={mask!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"{self._owner}: `arguments` must be a dict. Received: arguments={arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._pass_training = "training" in params

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._pass_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        spec = self._output_shape
        if spec is None:
            return self._traced_output_shape(input_shape)
        if callable(spec):
            return tuple(spec(input_shape))
        first = input_shape[0] if _is_shape_list(input_shape) else input_shape
        return (first[0],) + tuple(spec)

    def get_config(self):
        return {**super().get_config(), "function": getattr(self.function, "__name__", repr(self.function)),
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config):
        raise ValueError(
            f"Lambda layer '{config.get('name')}' cannot be loaded from a file: it wraps Python code "
            f"({config.get('function')!r}), and upsampling never runs code read from a file. Build the "
            f"model in Python again and load its weights with `model.load_weights(...)`.")

"""Keras 3's `.weights.h5` files (`model.save_weights` / `model.load_weights`), both ways.

The layout is the one inside `.keras` files (`layers/<name>/vars/<i>`, and `optimizer/vars/<i>`
for a compiled, built model). Loading also accepts a legacy Keras `.h5` model file, whose
`model_weights` group is matched layer by layer as Keras does.
"""
from __future__ import annotations

import io
import warnings

from upsampling.atomic import atomic_write_bytes
from upsampling.io import keras_v3
from upsampling.io.reader import DEFAULT_LIMITS, check_path, h5py_module, open_hdf5


def save(model, path):
    h5py = h5py_module()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        keras_v3.write_weights(f, model)
    return atomic_write_bytes(path, buf.getvalue())


def load(model, path, limits=DEFAULT_LIMITS) -> None:
    """Assign every weight from `path` after all of them have been checked (shape, dtype, nothing
    missing, nothing extra): a failure leaves the model untouched."""
    path = check_path(path)
    with open_hdf5(path, path, "the weights file") as f:
        if "model_weights" in f or "layer_names" in f.attrs:
            from upsampling.io import legacy_h5
            plan = legacy_h5.read_weights(f["model_weights"] if "model_weights" in f else f, model, path, limits)
        else:
            opt = getattr(model, "optimizer", None)
            optimizer = None
            if "optimizer/vars" in f and getattr(model, "compiled", False) and opt is not None:
                opt.build(model._compiled_variables)
                stored = len(f["optimizer/vars"])
                if stored == len(opt.variables):
                    optimizer = opt
                else:  # as Keras: a different optimizer's state is skipped with a warning
                    warnings.warn(f"{path}: skipping the optimizer state: the file holds {stored} optimizer "
                                  f"variables, optimizer '{opt.name}' has {len(opt.variables)}.", stacklevel=3)
            plan = keras_v3.read_weights(f, model, path, "the weights file", optimizer, limits)
    keras_v3.assign(plan)

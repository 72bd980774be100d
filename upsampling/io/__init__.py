"""Model files: Keras 3 `.keras` (the default), legacy Keras `.h5`, Keras `.weights.h5`, the older
`.model` / `.npz` files of this library (still read), JSON architectures and ONNX export.

Every reader goes through `upsampling.io.reader` (sizes bounded, nothing evaluated, clear
errors). Formats that need h5py or onnx import them only when used.
"""
from __future__ import annotations

from pathlib import Path

from upsampling.io.reader import DEFAULT_LIMITS, Limits, LoadError

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "to_json", "model_from_json",
           "export", "Limits", "LoadError"]

_H5_SUFFIXES = (".h5", ".hdf5")


def save_model(model, filepath, include_optimizer: bool = True):
    """`.h5`/`.hdf5`: legacy Keras HDF5; anything else: Keras 3's `.keras` format."""
    if str(filepath).lower().endswith(_H5_SUFFIXES):
        from upsampling.io import legacy_h5
        return legacy_h5.save(model, filepath, include_optimizer)
    from upsampling.io import keras_v3
    return keras_v3.save(model, filepath, include_optimizer)


def load_model(filepath, compile: bool = True, custom_objects=None, limits: Limits = DEFAULT_LIMITS):
    """Open a `.keras` file, a legacy `.h5` model file or an older `.model` file (told apart by
    their content, not their name)."""
    from upsampling.io import reader
    path = reader.check_path(filepath)
    kind = reader.sniff(path)
    if kind == "hdf5":
        from upsampling.io import legacy_h5
        return legacy_h5.load(path, compile, custom_objects, limits)
    if kind == "zip":
        with reader.BoundedZip(path, limits) as zf:
            names = zf.names()
            if "weights.npz" in names:
                from upsampling import saving
                return saving.load_model(path, compile, custom_objects, limits=limits, zf=zf)
            from upsampling.io import keras_v3
            return keras_v3.load(path, compile, custom_objects, limits, zf=zf)
    raise reader.fail(path, "is not a model saved by upsampling or Keras: neither a .keras file (zip), a "
                            "legacy .h5 file (HDF5) nor an older .model file.")


def save_weights(model, filepath):
    """Keras's `.weights.h5` layout (`.npz` names keep the older NumPy archive)."""
    if str(filepath).lower().endswith(".npz"):
        from upsampling import saving
        return saving.save_weights(model, filepath)
    from upsampling.io import weights_h5
    return weights_h5.save(model, filepath)


def load_weights(model, filepath, limits: Limits = DEFAULT_LIMITS) -> None:
    """Read weights from a `.weights.h5` file, a legacy `.h5` model file, or an older `.npz`;
    every array is checked before any is assigned."""
    from upsampling.io import reader
    path = reader.check_path(filepath)
    kind = reader.sniff(path)
    if kind == "hdf5":
        from upsampling.io import weights_h5
        return weights_h5.load(model, path, limits)
    if kind == "zip":
        from upsampling import saving
        return saving.load_weights(model, path, limits)
    raise reader.fail(path, "is neither a Keras .weights.h5 / .h5 file nor an .npz weights archive.")


def to_json(model, **kwargs) -> str:
    """The architecture in Keras 3's JSON form (what `keras.Model.to_json()` writes)."""
    import json

    from upsampling.io import keras_config
    return json.dumps(keras_config.to_keras(model), **kwargs)


def model_from_json(json_string, custom_objects=None, limits: Limits = DEFAULT_LIMITS):
    """Rebuild a model (fresh weights) from `to_json` output or Keras's `model.to_json()`."""
    from upsampling.io import keras_config, reader
    config = reader.parse_json(json_string, "model_from_json", "the JSON string", limits)
    with reader.weight_budget("model_from_json", limits):
        return keras_config.from_keras(config, "model_from_json", custom_objects)


def export(model, filepath, format: str = "onnx", **kwargs):
    """Export for serving; `format='onnx'` writes an ONNX model (see `upsampling.io.onnx`)."""
    if format != "onnx":
        raise ValueError(f"export: unsupported format {format!r}; supported: ['onnx'].")
    from upsampling.io import onnx_export
    return onnx_export.export(model, Path(filepath), **kwargs)

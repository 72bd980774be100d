"""`model.summary()`: the Keras 3 table, box-drawing characters and all.

Width is min(88, terminal columns - 4) as in Keras (76 when there is no terminal), split at
45% / 80% of the line; names too long for their cell wrap at the "(Type)" boundary.
"""
from __future__ import annotations

import shutil
import sys

import numpy as np

from upsampling.layers.base import InputLayer


def _size(count: int, bytes_per_param: int = 4) -> str:
    size, units = float(count * bytes_per_param), ["B", "KB", "MB", "GB", "TB", "PB"]
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.2f} {units[unit]}"


def _wrap(text: str, width: int) -> list:
    """Split at spaces so each piece fits `width`; hard-cut words longer than `width`."""
    lines, current = [], ""
    for word in text.split(" "):
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def _shape_str(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_str(s) for s in shape)
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + ("," if len(shape) == 1 else "") + ")"


def _terminal_width() -> int:
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return 80


def _rows(model):
    """(name (type), output shape, params) for each layer, Keras's order."""
    rows = []
    for layer in model.layers:  # a functional model lists its InputLayer first, as Keras does
        name = f"{layer.name} ({type(layer).__name__})"
        try:
            shape = _shape_str(layer.output_shape) if layer.built or isinstance(layer, InputLayer) else "?"
        except (AttributeError, ValueError):
            shape = "?"
        if layer.built:
            params = f"{int(sum(int(np.prod(v.shape)) for v in layer.weights)):,}"
        else:
            params = "0 (unbuilt)"
        rows.append((name, shape, params))
    return rows


def format_summary(model, line_length=None, positions=None) -> list:
    """The summary as a list of lines."""
    width = line_length or min(88, _terminal_width() - 4)
    positions = positions or [0.45, 0.80, 1.0]
    ends = [int(width * p) if p <= 1 else int(p) for p in positions]
    # inner cell widths between the box edges: 76 columns -> 33 / 24 / 15
    cells = [ends[0] - 1, ends[1] - ends[0] - 2, ends[2] - ends[1] - 1]
    headers = ["Layer (type)", "Output Shape", "Param #"]
    aligns = ["<", "<", ">"]

    def line(left, mid, right, fill):
        return left + mid.join(fill * c for c in cells) + right

    def row(values, edge="\u2502"):
        wrapped = [_wrap(v, c - 2) for v, c in zip(values, cells)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = []
            for w, c, a in zip(wrapped, cells, aligns):
                text = w[i] if i < len(w) else ""
                parts.append(" " + format(text, f"{a}{c - 2}") + " ")
            out.append(edge + edge.join(parts) + edge)
        return out

    lines = [f'Model: "{model.name}"']
    lines.append(line("\u250f", "\u2533", "\u2513", "\u2501"))
    lines += row(headers, "\u2503")
    lines.append(line("\u2521", "\u2547", "\u2529", "\u2501"))
    body = _rows(model)
    for i, values in enumerate(body):
        lines += row(values)
        if i < len(body) - 1:
            lines.append(line("\u251c", "\u253c", "\u2524", "\u2500"))
    lines.append(line("\u2514", "\u2534", "\u2518", "\u2500"))
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    params = sum(int(np.prod(v.shape)) for v in model.weights)
    optimizer = getattr(model, "optimizer", None)
    opt_count = sum(int(np.prod(np.shape(v))) for v in (getattr(optimizer, "variables", None) or []))
    total = params + opt_count  # Keras counts optimizer state in the total once it exists
    itemsize = np.dtype(model.dtype).itemsize
    lines.append(f" Total params: {total:,} ({_size(total, itemsize)})")
    lines.append(f" Trainable params: {trainable:,} ({_size(trainable, itemsize)})")
    lines.append(f" Non-trainable params: {params - trainable:,} ({_size(params - trainable, itemsize)})")
    if opt_count:
        lines.append(f" Optimizer params: {opt_count:,} ({_size(opt_count, itemsize)})")
    return lines


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print the table; a `print_fn` receives it as one string ending in a newline, as in Keras."""
    text = "\n".join(format_summary(model, line_length, positions))
    if print_fn is None:
        print(text)
    else:
        print_fn(text + "\n")

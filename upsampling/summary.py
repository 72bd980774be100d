"""`model.summary()`: the Keras 3 table, box-drawing characters and all.

Width is min(88, terminal columns - 4) as in Keras (76 when there is no terminal), split at
45% / 80% of the line; names too long for their cell wrap at the "(Type)" boundary, and a word
longer than its cell ends in an ellipsis. A functional model that is not a plain chain gets
Keras's fourth column, "Connected to" (min(108, columns - 4) wide, split at 30/56/74%).
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
    """Split at spaces so each piece fits `width`; a longer word is cut with an ellipsis."""
    lines, current = [], ""
    for word in text.split(" "):
        if len(word) > width:
            word = word[:width - 1] + "\u2026"
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
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if v is None else str(v) for v in shape) + ("," if len(shape) == 1 else "") + ")"


def _terminal_width() -> int:
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return 80


def _column_widths(width: int, positions) -> list:
    """Inner width (one space of padding each side included) of every column, laid out as Rich
    lays out Keras's table: the split points give each column's width plus padding, and what
    overflows the line (less its borders) is taken from the columns evenly."""
    widths, current = [], 0
    for p in positions:
        end = int(width * p) if p <= 1 else int(p)
        widths.append(end - current + 2)
        current = end
    excess, parts = sum(widths) - (width - len(widths) - 1), len(widths)
    for i in range(len(widths)):
        if excess <= 0:
            break
        cut = min(widths[i], round(excess / parts))  # Python's round, as Rich's ratio_reduce
        widths[i] -= cut
        excess -= cut
        parts -= 1
    return widths


def _is_chain(model) -> bool:
    """Keras's "sequential-like": one input, one output, every call one input, nothing shared."""
    nodes = getattr(model, "_nodes", None)
    if nodes is None or hasattr(model, "_layers"):
        return True  # Sequential
    layers = [t.node.layer for t in nodes]
    inputs = [id(i) for t in nodes for i in t.node.inputs]
    return (len(model.inputs) == 1 and len(model.outputs) == 1 and all(len(t.node.inputs) == 1 for t in nodes)
            and len(set(map(id, layers))) == len(layers) and len(set(inputs)) == len(inputs))


def _connections(model) -> dict:
    """Layer id -> "producer[call][tensor], ..." over the layer's calls in a functional model."""
    # tensor -> (producer, its call, which of the call's outputs)
    made_by = {id(t): (t.node.layer.name, 0, 0) for t in model.inputs}
    calls, out = {}, {}
    for node in model._node_list:
        layer = node.layer
        text = ", ".join("{}[{}][{}]".format(*made_by[id(i)]) for i in node.inputs)
        out[id(layer)] = f"{out[id(layer)]}, {text}" if id(layer) in out else text
        for k, t in enumerate(node.outputs):
            made_by[id(t)] = (layer.name, calls.get(id(layer), 0), k)
        calls[id(layer)] = calls.get(id(layer), 0) + 1
    return out


def _class_name(layer) -> str:
    """Keras's name of the layer's class: a plain functional `Model` is a "Functional"."""
    from upsampling.models import Model
    return "Functional" if type(layer) is Model else type(layer).__name__


def _rows(model, chain: bool):
    """(name (type), output shape, params[, connected to]) for each layer, Keras's order."""
    connections = {} if chain else _connections(model)
    rows = []
    for layer in model.layers:  # a functional model lists its InputLayer first, as Keras does
        name = f"{layer.name} ({_class_name(layer)})"
        try:
            shape = _shape_str(layer.output_shape) if layer.built or isinstance(layer, InputLayer) else "?"
        except (AttributeError, ValueError):
            shape = "?"
        if layer.built:
            params = f"{int(sum(int(np.prod(v.shape)) for v in layer.weights)):,}"
        else:
            params = "0 (unbuilt)"
        rows.append((name, shape, params) if chain else (name, shape, params, connections.get(id(layer), "-")))
    return rows


def format_summary(model, line_length=None, positions=None) -> list:
    """The summary as a list of lines."""
    chain = _is_chain(model)
    if chain:
        width = line_length or min(88, _terminal_width() - 4)
        positions = positions or [0.45, 0.80, 1.0]
        headers, aligns = ["Layer (type)", "Output Shape", "Param #"], ["<", "<", ">"]
    else:
        width = line_length or min(108, _terminal_width() - 4)
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        headers, aligns = ["Layer (type)", "Output Shape", "Param #", "Connected to"], ["<", "<", ">", "<"]
    cells = _column_widths(width, positions)  # 76 columns, 3 of them -> 33 / 24 / 15

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
    body = _rows(model, chain)
    for i, values in enumerate(body):
        lines += row(values)
        if i < len(body) - 1:
            lines.append(line("\u251c", "\u253c", "\u2524", "\u2500"))
    lines.append(line("\u2514", "\u2534", "\u2518", "\u2500"))
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    params = sum(int(np.prod(v.shape)) for v in model.weights)
    optimizer = getattr(model, "optimizer", None)
    opt_vars = (getattr(optimizer, "variables", None) or []) if getattr(optimizer, "built", False) else []
    opt_count = sum(int(np.prod(np.shape(v))) for v in opt_vars)
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

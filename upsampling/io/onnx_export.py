"""ONNX export of a model's inference graph, built with the `onnx` package's helpers.

Every layer maps to standard ONNX operators (opset 18): Dense -> MatMul + Add; Conv2D -> Conv with
TensorFlow's 'same' split as explicit pads; Conv2DTranspose -> ConvTranspose with Keras's
asymmetric 'same' crop as explicit pads / output_padding; UpSampling2D -> Resize ('nearest':
asymmetric + floor; 'bilinear': linear, half_pixel; 'bicubic': cubic, a = -0.5, half_pixel,
exclude_outside = 1, i.e. Keras's renormalised kernel) or, for Lanczos, the two interpolation
matrices as MatMuls; BatchNormalization -> BatchNormalization in inference form (moving
statistics); Layer/Group/InstanceNormalization -> ReduceMean arithmetic; poolings -> MaxPool /
AveragePool / ReduceMean / ReduceMax; ZeroPadding2D -> Pad; Cropping2D -> Slice; Embedding -> Gather;
Dropout, SpatialDropout2D, GaussianNoise -> Identity; Add / Subtract / Multiply / Maximum / Minimum /
Average -> binary Add / Sub / Mul / Max / Min folded left to right (Average then Div), a lower-rank
input Unsqueezed after its batch axis as Keras does; Concatenate -> Concat; Resizing -> Resize with
its coordinate_transformation_mode / nearest_mode / cubic_coeff_a / exclude_outside, except Lanczos,
antialias (ONNX Runtime's antialiased filter gives other numbers) and bicubic shrinking (refused by
ONNX Runtime), which become the layer's own two interpolation matrices as MatMuls;
BlurUpSampling2D -> depthwise ConvTranspose with kernel outer(f, f) and the crop as pads;
DepthToSpace / PixelShuffle -> DepthToSpace (TensorFlow's order is mode DCR, PyTorch's CRD);
SubPixelConv2D -> Conv, DepthToSpace, activation. Activations -> their ONNX operator where one
exists (LogSoftmax, Celu, Mish, HardSwish, Shrink, ...; float64 falls back to exact compositions
where ONNX Runtime has no float64 kernel or rounds to float32), else compositions of elementwise
operators (glu through Split, sparsemax through TopK and CumSum); they act on the layer's output
layout, as Keras applies them. channels_last layers are wrapped in Transposes
to ONNX's NCHW. Models with several inputs (each with its own dtype, e.g. integer class labels
for an Embedding) and several outputs map to graphs with inputs named after their Input layers
and outputs output_0, output_1, ...

Exporters are registered per layer class, so a new layer adds its mapping with
``@register(MyLayer)`` and a function ``(graph, layer, inputs, shapes) -> output name``;
a layer without one (a Lambda, a user's Layer subclass) is refused with an error that names it
and says that the model cannot be exported.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from upsampling import layers as L
from upsampling import shapes as S

OPSET = 18
_EXPORTERS: dict = {}


def register(*classes):
    """Decorator: `fn(graph, layer, inputs: list[str], shapes: list[tuple]) -> str` exports
    layers of `classes` (and their subclasses, unless they register their own)."""
    def decorate(fn):
        for cls in classes:
            _EXPORTERS[cls] = fn
        return fn
    return decorate


def exporter_for(layer):
    for cls in type(layer).__mro__:
        if cls in _EXPORTERS:
            return _EXPORTERS[cls]
    return None


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'upsampling[onnx]'") from None
    return onnx


class OnnxGraph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self):
        self.onnx = _onnx()
        self.nodes, self.initializers, self._names, self._consts = [], [], set(), {}

    def name(self, hint: str) -> str:
        hint = hint.replace("/", "_") or "t"
        name, i = hint, 1
        while name in self._names:
            name, i = f"{hint}_{i}", i + 1
        self._names.add(name)
        return name

    def const(self, value, hint: str, key=None) -> str:
        """An initializer holding `value`; `key` shares one initializer between repeated calls."""
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        if key is not None:
            self._consts[key] = name
        return name

    def op(self, op_type: str, inputs, hint: str, **attrs) -> str:
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def op_outputs(self, op_type: str, inputs, hint: str, count: int, **attrs) -> list:
        """A node with `count` outputs (Split, TopK); returns their names."""
        outs = [self.name(f"{hint}_{i}") for i in range(count)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outs, name=self.name(hint), **attrs))
        return outs


# ------------------------------------------------------------------------------------- helpers
def _to_nchw(g, x, layer):
    return g.op("Transpose", [x], f"{layer.name}/to_nchw", perm=[0, 3, 1, 2]) \
        if layer.data_format == "channels_last" else x


def _from_nchw(g, y, layer):
    return g.op("Transpose", [y], f"{layer.name}/to_nhwc", perm=[0, 2, 3, 1]) \
        if layer.data_format == "channels_last" else y


def _scalar(g, value, dtype, hint):
    return g.const(np.asarray(value, dtype=dtype), hint, key=("scalar", float(value), np.dtype(dtype).str))


def _softplus(g, x, dtype, hint):  # max(x, 0) + log(1 + exp(-|x|)), stable for large |x|
    e = g.op("Exp", [g.op("Neg", [g.op("Abs", [x], f"{hint}/abs")], f"{hint}/neg")], f"{hint}/exp")
    log = g.op("Log", [g.op("Add", [e, _scalar(g, 1, dtype, "one")], f"{hint}/1pe")], f"{hint}/log")
    return g.op("Add", [g.op("Relu", [x], f"{hint}/relu"), log], f"{hint}/softplus")


def _gelu(g, x, dtype, hint):
    """The exact form 0.5 x (1 + erf(x / sqrt 2)); ONNX Runtime has no float64 Erf, so a float64
    model computes erf in float32 (relative error about 1e-7)."""
    xs = g.op("Mul", [x, _scalar(g, 1 / math.sqrt(2), dtype, "rsqrt2")], f"{hint}/xs")
    if np.dtype(dtype) == np.float32:
        erf = g.op("Erf", [xs], f"{hint}/erf")
    else:
        to = g.onnx.helper.np_dtype_to_tensor_dtype
        erf32 = g.op("Erf", [g.op("Cast", [xs], f"{hint}/xs32", to=to(np.dtype(np.float32)))], f"{hint}/erf32")
        erf = g.op("Cast", [erf32], f"{hint}/erf", to=to(np.dtype(dtype)))
    half = g.op("Mul", [x, _scalar(g, 0.5, dtype, "half")], f"{hint}/halfx")
    return g.op("Mul", [half, g.op("Add", [erf, _scalar(g, 1, dtype, "one")], f"{hint}/1perf")], f"{hint}/gelu")


def _shrink(g, x, dtype, hint, bias):
    """ONNX's Shrink (lambd 0.5: Keras's threshold) in float32; in float64, where ONNX Runtime's
    Shrink rounds to float32, from exact operators: x or sign(x) (|x| - 0.5) where |x| > 0.5, else 0."""
    name = "soft_shrink" if bias else "hard_shrink"
    if np.dtype(dtype) == np.float32:
        return g.op("Shrink", [x], f"{hint}/{name}", lambd=0.5, bias=bias)
    ax = g.op("Abs", [x], f"{hint}/abs")
    if bias:
        excess = g.op("Relu", [g.op("Sub", [ax, _scalar(g, 0.5, dtype, "half")], f"{hint}/excess")], f"{hint}/relu")
        return g.op("Mul", [g.op("Sign", [x], f"{hint}/sign"), excess], f"{hint}/{name}")
    outside = g.op("Greater", [ax, _scalar(g, 0.5, dtype, "half")], f"{hint}/outside")
    return g.op("Where", [outside, x, _scalar(g, 0, dtype, "zero")], f"{hint}/{name}")


def _celu(g, x, dtype, hint):  # Keras's alpha = 1: celu is then elu (ONNX Runtime's Celu is float32 only)
    if np.dtype(dtype) == np.float32:
        return g.op("Celu", [x], f"{hint}/celu", alpha=1.0)
    return g.op("Elu", [x], f"{hint}/celu", alpha=1.0)


def _glu(g, x, dtype, hint):  # a * sigmoid(b) for the two halves of the last axis
    a, b = g.op_outputs("Split", [x], f"{hint}/split", 2, axis=-1, num_outputs=2)
    return g.op("Mul", [a, g.op("Sigmoid", [b], f"{hint}/gate")], f"{hint}/glu")


def _sparse_plus(g, x, dtype, hint):  # (clip(x, -1, 1) + 1)^2 / 4 + relu(x - 1)
    one = _scalar(g, 1, dtype, "one")
    c = g.op("Add", [g.op("Clip", [x, _scalar(g, -1, dtype, "minus_one"), one], f"{hint}/clip"), one],
             f"{hint}/c1")
    bend = g.op("Mul", [g.op("Mul", [c, c], f"{hint}/c2"), _scalar(g, 0.25, dtype, "quarter")], f"{hint}/bend")
    return g.op("Add", [bend, g.op("Relu", [g.op("Sub", [x, one], f"{hint}/xm1")], f"{hint}/ramp")],
                f"{hint}/sparse_plus")


def _sparse_sigmoid(g, x, dtype, hint):  # clip((x + 1) / 2, 0, 1)
    h = g.op("Mul", [g.op("Add", [x, _scalar(g, 1, dtype, "one")], f"{hint}/xp1"), _scalar(g, 0.5, dtype, "half")],
             f"{hint}/half")
    return g.op("Clip", [h, _scalar(g, 0, dtype, "zero"), _scalar(g, 1, dtype, "one")], f"{hint}/sparse_sigmoid")


def _squareplus(g, x, dtype, hint, b=4.0):
    """(x + r) / 2 with r = sqrt(x^2 + b), and b / (2 (r - x)) for x < 0 (no cancellation)."""
    r = g.op("Sqrt", [g.op("Add", [g.op("Mul", [x, x], f"{hint}/x2"), _scalar(g, b, dtype, "sqp_b")], f"{hint}/x2b")],
             f"{hint}/root")
    half = _scalar(g, 0.5, dtype, "half")
    right = g.op("Mul", [g.op("Add", [x, r], f"{hint}/xr"), half], f"{hint}/right")
    left = g.op("Div", [_scalar(g, b / 2, dtype, "sqp_half_b"), g.op("Sub", [r, x], f"{hint}/rx")], f"{hint}/left")
    negative = g.op("Less", [x, _scalar(g, 0, dtype, "zero")], f"{hint}/negative")
    return g.op("Where", [negative, left, right], f"{hint}/squareplus")


def _sparsemax(g, x, dtype, hint):
    """max(x - tau, 0) along the last axis: the entries sorted by TopK, their running sums, the
    support {k : 1 + k z_(k) > z_(1) + ... + z_(k)} and tau = (its sum - 1) / its size."""
    n = g.op("Shape", [x], f"{hint}/n", start=-1)
    top, _ = g.op_outputs("TopK", [x, n], f"{hint}/sorted", 2, axis=-1, largest=1, sorted=1)
    last = g.const(np.array(-1, np.int64), f"{hint}/last_axis", key=("last_axis",))
    axes = g.const(np.array([-1], np.int64), f"{hint}/last_axes", key=("last_axes",))
    ones = g.op("ConstantOfShape", [g.op("Shape", [x], f"{hint}/shape")], f"{hint}/ones",
                value=g.onnx.numpy_helper.from_array(np.ones(1, dtype)))
    k = g.op("CumSum", [ones, last], f"{hint}/k")  # 1, 2, ..., n
    sums = g.op("CumSum", [top, last], f"{hint}/sums")
    one = _scalar(g, 1, dtype, "one")
    inside = g.op("Greater", [g.op("Add", [g.op("Mul", [k, top], f"{hint}/kz"), one], f"{hint}/1pkz"), sums],
                  f"{hint}/inside")
    support = g.op("Cast", [inside], f"{hint}/support", to=g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    size = g.op("ReduceSum", [support, axes], f"{hint}/size", keepdims=1)
    total = g.op("ReduceSum", [g.op("Mul", [support, top], f"{hint}/kept"), axes], f"{hint}/total", keepdims=1)
    tau = g.op("Div", [g.op("Sub", [total, one], f"{hint}/tm1"), size], f"{hint}/tau")
    return g.op("Relu", [g.op("Sub", [x, tau], f"{hint}/shifted")], f"{hint}/sparsemax")


# Keras name -> (ONNX operator, its attributes): activations that are one standard operator
_ONE_OP = {
    "relu": ("Relu", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}), "softsign": ("Softsign", {}),
    "exponential": ("Exp", {}), "softmax": ("Softmax", dict(axis=-1)), "log_softmax": ("LogSoftmax", dict(axis=-1)),
    "leaky_relu": ("LeakyRelu", dict(alpha=0.2)), "elu": ("Elu", dict(alpha=1.0)),
    "hard_sigmoid": ("HardSigmoid", dict(alpha=1 / 6, beta=0.5)),
    "hard_silu": ("HardSwish", {}), "hard_swish": ("HardSwish", {}), "mish": ("Mish", {}),
}
# Keras name -> fn(graph, x, dtype, hint) -> output: activations built from several operators
_COMPOSED = {
    "softplus": _softplus, "gelu": _gelu, "celu": _celu,
    "hard_shrink": lambda g, x, dt, h: _shrink(g, x, dt, h, 0.0),
    "soft_shrink": lambda g, x, dt, h: _shrink(g, x, dt, h, 0.5), "glu": _glu, "sparse_plus": _sparse_plus, "sparse_sigmoid": _sparse_sigmoid,
    "squareplus": _squareplus, "sparsemax": _sparsemax,
    "swish": lambda g, x, dt, h: g.op("Mul", [x, g.op("Sigmoid", [x], f"{h}/sigmoid")], f"{h}/swish"),
    "tanh_shrink": lambda g, x, dt, h: g.op("Sub", [x, g.op("Tanh", [x], f"{h}/tanh")], f"{h}/tanh_shrink"),
    "hard_tanh": lambda g, x, dt, h: g.op("Clip", [x, _scalar(g, -1, dt, "minus_one"), _scalar(g, 1, dt, "one")],
                                          f"{h}/hard_tanh"),
    "relu6": lambda g, x, dt, h: g.op("Clip", [x, _scalar(g, 0, dt, "zero"), _scalar(g, 6, dt, "six")], f"{h}/relu6"),
    "log_sigmoid": lambda g, x, dt, h: g.op("Neg", [_softplus(g, g.op("Neg", [x], f"{h}/negx"), dt, h)],
                                            f"{h}/log_sigmoid"),
}
_COMPOSED["silu"] = _COMPOSED["swish"]


def activation(g, name: str, x: str, dtype, hint: str) -> str:
    """The Keras activation `name` applied to tensor `x` (axis-dependent ones along its last axis,
    so `x` must be in the layer's output layout)."""
    from upsampling.ops.activations import SELU_ALPHA, SELU_SCALE
    if name == "linear":
        return x
    if name in _ONE_OP:
        op, attrs = _ONE_OP[name]
        return g.op(op, [x], f"{hint}/{name}", **attrs)
    if name == "selu":
        return g.op("Selu", [x], f"{hint}/selu", alpha=SELU_ALPHA, gamma=SELU_SCALE)
    if name in _COMPOSED:
        return _COMPOSED[name](g, x, dtype, hint)
    raise ValueError(f"ONNX export: activation {name!r} of {hint} has no ONNX mapping.")


def _weight(g, var, transform=None, hint=None):
    value = var.numpy() if transform is None else transform(var.numpy())
    return g.const(value, hint or var.path, key=(id(var), transform.__name__ if transform else None))


def _kernel_oihw(k):  # Keras (kh, kw, in, out) or (kh, kw, out, in) -> ONNX (axis 3, axis 2, kh, kw)
    return np.transpose(k, (3, 2, 0, 1))


def _spatial(layer, shape):
    return (shape[2], shape[3]) if layer.data_format == "channels_first" else (shape[1], shape[2])


def _known_hw(layer, shape, why):
    h, w = _spatial(layer, shape)
    if h is None or w is None:
        raise ValueError(f"ONNX export: {type(layer).__name__} layer '{layer.name}' with {why} needs known height "
                         f"and width. Received input shape {shape}")
    return h, w


def _separable(g, layer, x, wh, ww):
    """y = Wh x Ww^T per channel of an NCHW tensor, as two MatMuls with constant matrices."""
    dt = np.dtype(layer.dtype)
    y = g.op("MatMul", [x, g.const(np.asarray(ww, dt).T, f"{layer.name}/cols")], f"{layer.name}/resize_cols")
    return g.op("MatMul", [g.const(np.asarray(wh, dt), f"{layer.name}/rows"), y], f"{layer.name}/resize_rows")


# ------------------------------------------------------------------------------------ exporters
@register(L.InputLayer)
def _input(g, layer, inputs, shapes):
    return inputs[0]


@register(L.Dense)
def _dense(g, layer, inputs, shapes):
    y = g.op("MatMul", [inputs[0], _weight(g, layer.kernel)], f"{layer.name}/matmul")
    if layer.bias is not None:
        y = g.op("Add", [y, _weight(g, layer.bias)], f"{layer.name}/bias")
    return activation(g, layer.activation.name, y, layer.dtype, layer.name)


@register(L.Activation)
def _activation(g, layer, inputs, shapes):
    return activation(g, layer.activation.name, inputs[0], layer.dtype, layer.name)


@register(L.Dropout)
def _identity(g, layer, inputs, shapes):
    return g.op("Identity", [inputs[0]], layer.name)


@register(L.LeakyReLU)
def _leaky(g, layer, inputs, shapes):
    return g.op("LeakyRelu", [inputs[0]], layer.name, alpha=layer.negative_slope)


@register(L.ReLU)
def _relu(g, layer, inputs, shapes):
    x, dt = inputs[0], layer.dtype
    if layer.negative_slope or layer.threshold:  # x >= t ? x : slope * (x - t)
        below = g.op("Mul", [g.op("Sub", [x, _scalar(g, layer.threshold, dt, "threshold")], f"{layer.name}/xt"),
                             _scalar(g, layer.negative_slope, dt, "slope")], f"{layer.name}/below")
        keep = g.op("GreaterOrEqual", [x, _scalar(g, layer.threshold, dt, "threshold")], f"{layer.name}/keep")
        y = g.op("Where", [keep, x, below], f"{layer.name}/where")
    else:
        y = g.op("Relu", [x], f"{layer.name}/relu")
    if layer.max_value is not None:
        y = g.op("Min", [y, _scalar(g, layer.max_value, dt, "max_value")], f"{layer.name}/max_value")
    return y


@register(L.Reshape)
def _reshape(g, layer, inputs, shapes):
    target = np.array((0,) + tuple(layer.target_shape), dtype=np.int64)  # 0: keep the batch size
    return g.op("Reshape", [inputs[0], g.const(target, f"{layer.name}/shape")], layer.name)


@register(L.Flatten)
def _flatten(g, layer, inputs, shapes):
    x, rank = inputs[0], len(shapes[0])
    if layer.data_format == "channels_first" and rank > 2:  # Keras flattens in (H, W, C) order
        x = g.op("Transpose", [x], f"{layer.name}/channels_last", perm=[0] + list(range(2, rank)) + [1])
    return g.op("Flatten", [x], layer.name, axis=1)


def _conv_nchw(g, layer, inputs, shapes):
    """The convolution of a Conv2D-like layer (bias included, no activation), in NCHW."""
    h, w = _spatial(layer, shapes[0])
    strides, groups = getattr(layer, "strides", (1, 1)), getattr(layer, "groups", 1)
    args = dict(kernel_shape=list(layer.kernel_size), strides=list(strides),
                dilations=list(layer.dilation_rate), group=groups)
    if h is not None and w is not None:
        (t, b), (lft, r) = (S.conv_padding(i, k, s, d, layer.padding) for i, k, s, d in
                            zip((h, w), layer.kernel_size, strides, layer.dilation_rate))
        args["pads"] = [t, lft, b, r]
    else:  # unknown sizes: ONNX's SAME_UPPER is TensorFlow's split (the extra pixel after)
        args["auto_pad"] = "SAME_UPPER" if layer.padding == "same" else "VALID"
    ins = [_to_nchw(g, inputs[0], layer), _weight(g, layer.kernel, _kernel_oihw, f"{layer.name}/kernel")]
    if layer.bias is not None:
        ins.append(_weight(g, layer.bias))
    return g.op("Conv", ins, f"{layer.name}/conv", **args)


@register(L.Conv2D)
def _conv(g, layer, inputs, shapes):
    y = _from_nchw(g, _conv_nchw(g, layer, inputs, shapes), layer)  # the activation acts on the output layout
    return activation(g, layer.activation.name, y, layer.dtype, layer.name)


@register(L.Conv2DTranspose)
def _conv_transpose(g, layer, inputs, shapes):
    pads_begin, pads_end, extra = [], [], []
    for i, k, s, d, op in zip(_spatial(layer, shapes[0]), layer.kernel_size, layer.strides,
                              layer.dilation_rate, layer._ops()):
        # the crops do not depend on the input length, so an unknown length is probed with 7
        before, after = S.conv_transpose_padding(7 if i is None else i, k, s, d, layer.padding, op)
        pads_begin.append(before)
        pads_end.append(max(after, 0))
        extra.append(max(-after, 0))  # a negative crop appends zeros: ONNX's output_padding
    ins = [_to_nchw(g, inputs[0], layer), _weight(g, layer.kernel, _kernel_oihw, f"{layer.name}/kernel")]
    if layer.bias is not None:
        ins.append(_weight(g, layer.bias))
    y = g.op("ConvTranspose", ins, f"{layer.name}/conv_transpose", kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate), group=layer.groups,
             pads=pads_begin + pads_end, output_padding=extra)
    return activation(g, layer.activation.name, _from_nchw(g, y, layer), layer.dtype, layer.name)


@register(L.UpSampling2D)
def _upsampling(g, layer, inputs, shapes):
    from upsampling.ops.resize import resize_weights
    x = _to_nchw(g, inputs[0], layer)
    sh, sw = layer.size
    mode = layer.interpolation
    if mode.startswith("lanczos"):  # no Lanczos in ONNX's Resize: the two interpolation matrices
        h, w = _known_hw(layer, shapes[0], f"interpolation={mode!r}")
        y = _separable(g, layer, x, resize_weights(h, h * sh, mode, dtype=np.float64),
                       resize_weights(w, w * sw, mode, dtype=np.float64))
    else:
        scales = g.const(np.array([1, 1, sh, sw], dtype=np.float32), f"{layer.name}/scales")
        attrs = {"nearest": dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
                 "bilinear": dict(mode="linear", coordinate_transformation_mode="half_pixel"),
                 "bicubic": dict(mode="cubic", coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.5,
                                 exclude_outside=1)}[mode]
        y = g.op("Resize", [x, "", scales], f"{layer.name}/resize", **attrs)
    return _from_nchw(g, y, layer)


_RESIZE_MODES = {"nearest": "nearest", "bilinear": "linear", "bicubic": "cubic"}


def _resize_attrs(layer, shape):
    """Resizing's options as ONNX Resize attributes, or None where Resize computes other numbers:
    Lanczos, antialias (ONNX Runtime's antialiased filter differs from PyTorch's, which ours
    follows) and bicubic shrinking (refused by ONNX Runtime)."""
    if layer.interpolation not in _RESIZE_MODES or layer.antialias:
        return None
    h, w = _spatial(layer, shape)
    if layer.interpolation == "bicubic" and h is not None and w is not None:
        ho, wo = layer._lengths(h, w)
        if ho < h or wo < w:
            return None
    attrs = dict(mode=_RESIZE_MODES[layer.interpolation], coordinate_transformation_mode=layer.coordinate_mode)
    if layer.interpolation == "nearest":
        attrs["nearest_mode"] = layer.nearest_mode
    if layer.interpolation == "bicubic":
        attrs.update(cubic_coeff_a=layer.cubic_coeff_a, exclude_outside=int(layer.exclude_outside))
    return attrs


@register(L.Resizing)
def _resizing(g, layer, inputs, shapes):
    x = _to_nchw(g, inputs[0], layer)
    attrs = _resize_attrs(layer, shapes[0])
    if attrs is None:  # the exact interpolation matrices
        h, w = _known_hw(layer, shapes[0], f"interpolation={layer.interpolation!r}, antialias={layer.antialias}")
        y = _separable(g, layer, x, *layer._matrices(h, w))
    elif layer.scale_factor is not None:  # the scale maps coordinates, output floor(in * scale)
        scales = g.const(np.array((1, 1) + layer.scale_factor, dtype=np.float32), f"{layer.name}/scales")
        y = g.op("Resize", [x, "", scales], f"{layer.name}/resize", **attrs)
    else:  # sizes (N, C, height, width), N and C read from the input
        nc = g.op("Shape", [x], f"{layer.name}/nc", start=0, end=2)
        hw = g.const(np.array([layer.height, layer.width], dtype=np.int64), f"{layer.name}/hw")
        sizes = g.op("Concat", [nc, hw], f"{layer.name}/sizes", axis=0)
        y = g.op("Resize", [x, "", "", sizes], f"{layer.name}/resize", **attrs)
    return _from_nchw(g, y, layer)


@register(L.BlurUpSampling2D)
def _blur_upsampling(g, layer, inputs, shapes):
    """Zero insertion + FIR = a depthwise ConvTranspose with kernel outer(f_h, f_w), cropped to in * size."""
    from upsampling.ops.resize import blur_crop, blur_taps
    c = shapes[0][1] if layer.data_format == "channels_first" else shapes[0][3]
    if c is None:
        raise ValueError(f"ONNX export: BlurUpSampling2D layer '{layer.name}' needs a known channel axis. "
                         f"Received input shape {shapes[0]}")
    fh, fw = (blur_taps(layer.filter, s) for s in layer.size)
    kernel = np.broadcast_to(np.outer(fh, fw), (c, 1, len(fh), len(fw))).astype(layer.dtype)
    begin = [blur_crop(len(f), s) for f, s in zip((fh, fw), layer.size)]
    end = [len(f) - s - b for f, s, b in zip((fh, fw), layer.size, begin)]
    y = g.op("ConvTranspose", [_to_nchw(g, inputs[0], layer), g.const(kernel, f"{layer.name}/kernel")],
             f"{layer.name}/blur", kernel_shape=[len(fh), len(fw)], strides=list(layer.size), group=c,
             pads=begin + end)
    return _from_nchw(g, y, layer)


@register(L.DepthToSpace)  # PixelShuffle too: TensorFlow's order is ONNX's DCR, PyTorch's is CRD
def _depth_to_space(g, layer, inputs, shapes):
    y = g.op("DepthToSpace", [_to_nchw(g, inputs[0], layer)], f"{layer.name}/depth_to_space",
             blocksize=layer.block_size, mode=layer.mode)
    return _from_nchw(g, y, layer)


@register(L.SubPixelConv2D)
def _subpixel_conv(g, layer, inputs, shapes):  # the convolution, the shuffle, then the activation
    z = _conv_nchw(g, layer, inputs, shapes)
    y = g.op("DepthToSpace", [z], f"{layer.name}/depth_to_space", blocksize=layer.scale, mode=layer.mode)
    return activation(g, layer.activation.name, _from_nchw(g, y, layer), layer.dtype, layer.name)


def _broadcast_inputs(g, layer, inputs, shapes):
    """Keras merge broadcasting: a lower-rank input gets unit axes right after its batch axis."""
    rank = max(len(s) for s in shapes)
    out = []
    for i, (x, s) in enumerate(zip(inputs, shapes)):
        if len(s) < rank:
            axes = g.const(np.arange(1, 1 + rank - len(s), dtype=np.int64), f"{layer.name}/axes{i}")
            x = g.op("Unsqueeze", [x, axes], f"{layer.name}/unsqueeze{i}")
        out.append(x)
    return out


_MERGE_OPS = {L.Add: "Add", L.Subtract: "Sub", L.Multiply: "Mul", L.Maximum: "Max", L.Minimum: "Min",
              L.Average: "Add"}


@register(*_MERGE_OPS)
def _merge(g, layer, inputs, shapes):  # folded left to right, as the layers compute
    op = next(v for k, v in _MERGE_OPS.items() if isinstance(layer, k))
    xs = _broadcast_inputs(g, layer, inputs, shapes)
    y = xs[0]
    for x in xs[1:]:
        y = g.op(op, [y, x], f"{layer.name}/{op.lower()}")
    if isinstance(layer, L.Average):
        y = g.op("Div", [y, _scalar(g, len(xs), layer.dtype, f"{layer.name}/n")], f"{layer.name}/mean")
    return y


@register(L.Concatenate)
def _concatenate(g, layer, inputs, shapes):
    return g.op("Concat", list(inputs), layer.name, axis=layer._resolve([tuple(s) for s in shapes]))


@register(L.BatchNormalization)
def _batch_norm(g, layer, inputs, shapes):
    rank = len(shapes[0])
    axis = layer.axis % rank
    x = inputs[0]
    perm = None
    if axis != 1:  # ONNX normalises axis 1: move the feature axis there and back
        perm = [0, axis] + [a for a in range(1, rank) if a != axis]
        x = g.op("Transpose", [x], f"{layer.name}/to_axis1", perm=perm)
    c = layer.moving_mean.shape[0]
    dt = np.dtype(layer.dtype)
    scale = _weight(g, layer.gamma) if layer.gamma is not None else g.const(np.ones(c, dt), f"{layer.name}/gamma")
    bias = _weight(g, layer.beta) if layer.beta is not None else g.const(np.zeros(c, dt), f"{layer.name}/beta")
    y = g.op("BatchNormalization", [x, scale, bias, _weight(g, layer.moving_mean), _weight(g, layer.moving_variance)],
             f"{layer.name}/bn", epsilon=layer.epsilon)
    if perm is not None:
        y = g.op("Transpose", [y], f"{layer.name}/from_axis1", perm=list(np.argsort(perm)))
    return y


@register(L.GaussianNoise)
def _noise(g, layer, inputs, shapes):  # noise and (spatial) dropout act only while training
    return g.op("Identity", [inputs[0]], layer.name)


@register(L.MaxPooling2D, L.AveragePooling2D)
def _pooling(g, layer, inputs, shapes):
    h, w = _spatial(layer, shapes[0])
    args = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides))
    if h is not None and w is not None:
        (t, b), (lft, r) = (S.conv_padding(i, k, s_, 1, layer.padding)
                            for i, k, s_ in zip((h, w), layer.pool_size, layer.strides))
        args["pads"] = [t, lft, b, r]
    else:
        args["auto_pad"] = "SAME_UPPER" if layer.padding == "same" else "VALID"
    if isinstance(layer, L.AveragePooling2D):
        args["count_include_pad"] = 0  # Keras averages over the in-image pixels of a window only
    op = "MaxPool" if isinstance(layer, L.MaxPooling2D) else "AveragePool"
    y = g.op(op, [_to_nchw(g, inputs[0], layer)], f"{layer.name}/{op.lower()}", **args)
    return _from_nchw(g, y, layer)


@register(L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)
def _global_pooling(g, layer, inputs, shapes):
    op = "ReduceMean" if isinstance(layer, L.GlobalAveragePooling2D) else "ReduceMax"
    axes = g.const(np.array(layer._axes, dtype=np.int64), f"{layer.name}/axes")
    return g.op(op, [inputs[0], axes], layer.name, keepdims=int(layer.keepdims))


@register(L.ZeroPadding2D)
def _zero_padding(g, layer, inputs, shapes):
    (t, b), (lft, r) = layer.padding
    hw_first = layer.data_format == "channels_first"
    begin = [0, 0, t, lft] if hw_first else [0, t, lft, 0]
    end = [0, 0, b, r] if hw_first else [0, b, r, 0]
    return g.op("Pad", [inputs[0], g.const(np.array(begin + end, dtype=np.int64), f"{layer.name}/pads")],
                layer.name, mode="constant")


@register(L.Cropping2D)
def _cropping(g, layer, inputs, shapes):
    (t, b), (lft, r) = layer.cropping
    big = np.iinfo(np.int64).max
    starts = np.array([t, lft], dtype=np.int64)
    ends = np.array([-b if b else big, -r if r else big], dtype=np.int64)  # counted from the end
    axes = np.array([2, 3] if layer.data_format == "channels_first" else [1, 2], dtype=np.int64)
    return g.op("Slice", [inputs[0], g.const(starts, f"{layer.name}/starts"), g.const(ends, f"{layer.name}/ends"),
                          g.const(axes, f"{layer.name}/axes")], layer.name)


@register(L.Embedding)
def _embedding(g, layer, inputs, shapes):
    idx = g.op("Cast", [inputs[0]], f"{layer.name}/indices", to=g.onnx.TensorProto.INT64)
    return g.op("Gather", [_weight(g, layer.embeddings), idx], layer.name, axis=0)


def _standardize(g, layer, x, axes, hint):
    """(x - mean) / sqrt(var + epsilon) over `axes` (biased variance), as the layers compute it."""
    dt = layer.dtype
    axes = g.const(np.array(axes, dtype=np.int64), f"{hint}/axes")
    mean = g.op("ReduceMean", [x, axes], f"{hint}/mean", keepdims=1)
    d = g.op("Sub", [x, mean], f"{hint}/centered")
    var = g.op("ReduceMean", [g.op("Mul", [d, d], f"{hint}/squared"), axes], f"{hint}/var", keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [var, _scalar(g, layer.epsilon, dt, "epsilon")], f"{hint}/var_eps")],
               f"{hint}/std")
    return g.op("Div", [d, std], f"{hint}/xhat")


def _affine(g, layer, y, param_shape):
    if layer.gamma is not None:
        gamma = g.const(layer.gamma.numpy().reshape(param_shape), f"{layer.name}/gamma")
        y = g.op("Mul", [y, gamma], f"{layer.name}/scale")
    if layer.beta is not None:
        beta = g.const(layer.beta.numpy().reshape(param_shape), f"{layer.name}/beta")
        y = g.op("Add", [y, beta], f"{layer.name}/shift")
    return y


@register(L.LayerNormalization)
def _layer_norm(g, layer, inputs, shapes):
    rank = len(shapes[0])
    axes = layer._norm_axes
    y = _standardize(g, layer, inputs[0], list(axes), layer.name)
    return _affine(g, layer, y, tuple(shapes[0][a] if a in axes else 1 for a in range(rank)))


@register(L.GroupNormalization)
def _group_norm(g, layer, inputs, shapes):
    shape, x = tuple(shapes[0]), inputs[0]
    rank = len(shape)
    if getattr(layer, "_whole_sample", False):  # InstanceNormalization(axis=None): all of each sample
        flat = g.op("Flatten", [x], f"{layer.name}/flat", axis=1)
        xhat = _standardize(g, layer, flat, [1], layer.name)
        param_shape = (1,) * rank
    else:
        a = layer._channel_axis
        if any(d is None for d in shape[1:]):
            raise ValueError(f"ONNX export: {type(layer).__name__} layer '{layer.name}' needs every non-batch "
                             f"axis known. Received input shape {shape}")
        groups = layer._groups
        # (N, ..., C, ...) -> (N, ..., groups, C // groups, ...): statistics over all but N and groups
        view = [0] + list(shape[1:a]) + [groups, shape[a] // groups] + list(shape[a + 1:])
        xv = g.op("Reshape", [x, g.const(np.array(view, dtype=np.int64), f"{layer.name}/grouped")],
                  f"{layer.name}/grouped")
        xhat = _standardize(g, layer, xv, [i for i in range(1, rank + 1) if i != a], layer.name)
        param_shape = tuple(shape[a] if i == a else 1 for i in range(rank))
    xhat = g.op("Reshape", [xhat, g.op("Shape", [x], f"{layer.name}/shape")], f"{layer.name}/ungrouped")
    return _affine(g, layer, xhat, param_shape)


# ------------------------------------------------------------------------------------ the graph
def _emit(g, layer, inputs, shapes):
    from upsampling.models import Model
    if isinstance(layer, Model):
        return _emit_model(g, layer, inputs, shapes)[0]
    fn = exporter_for(layer)
    if fn is None:
        known = sorted(c.__name__ for c in _EXPORTERS)
        hint = (" (a Lambda runs arbitrary Python code: rebuild it from layers that have a mapping)"
                if isinstance(layer, L.Lambda) else "")
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX mapping, so the "
                         f"model cannot be exported{hint}. Layers that can be exported: {known}; a new layer "
                         f"adds its mapping with upsampling.io.onnx_export.register.")
    return fn(g, layer, inputs, shapes)


def _topological(model):
    """(tensor, node) pairs of a functional model in execution order."""
    inputs = {id(t) for t in model.inputs}
    order, seen = [], set()
    for out in model.outputs:
        stack = [(out, False)]
        while stack:
            t, done = stack.pop()
            if done:
                order.append(t)
                continue
            if id(t) in seen or id(t) in inputs:
                continue
            seen.add(id(t))
            stack.append((t, True))
            stack.extend((i, False) for i in reversed(t.node.inputs))
    return order


def _emit_model(g, model, inputs, shapes):
    from upsampling.models import Sequential
    if isinstance(model, Sequential):
        x, shape = inputs[0], tuple(shapes[0])
        for layer in model.layers:
            x = _emit(g, layer, [x], [shape])
            shape = tuple(layer.compute_output_shape(shape))
        return [x]
    names = {id(t): n for t, n in zip(model.inputs, inputs)}
    for t in _topological(model):
        ins = t.node.inputs
        names[id(t)] = _emit(g, t.node.layer, [names[id(i)] for i in ins], [tuple(i.shape) for i in ins])
    return [names[id(t)] for t in model.outputs]


def _value_info(onnx, name, dtype, shape, batch="batch"):
    dims = [batch if i == 0 else (f"{name}_dim{i}" if d is None else int(d)) for i, d in enumerate(shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), dims)


def to_onnx(model, opset: int = OPSET):
    """The `onnx.ModelProto` of `model`'s inference graph (checked with `onnx.checker`)."""
    from upsampling.models import Sequential
    g = OnnxGraph()
    onnx = g.onnx
    if isinstance(model, Sequential):
        first = model.layers[0] if model.layers else None
        if not model.built and first is not None and first.built and first.input_shape_ is not None:
            model.build(tuple(first.input_shape_))  # a nested model as first layer fixes the input
        if not model.built:
            raise ValueError(f"ONNX export: model '{model.name}' is not built; give it an Input or build() it.")
        in_shapes, in_names, in_dtypes = [tuple(model.input_shape_)], ["input"], [model.dtype]
    else:
        in_shapes = [tuple(t.shape) for t in model.inputs]
        in_dtypes = [getattr(t, "dtype", None) or model.dtype for t in model.inputs]  # integer label inputs too
        in_names = [g.name(t.node.layer.name) for t in model.inputs] if len(model.inputs) > 1 else ["input"]
    for n in in_names:
        g._names.add(n)
    outs = _emit_model(g, model, in_names, in_shapes)
    out_shapes = [model.output_shape] if len(outs) == 1 else list(model.output_shape)
    final = []
    for i, (name, shape) in enumerate(zip(outs, out_shapes)):
        target = "output" if len(outs) == 1 else f"output_{i}"
        g.nodes.append(onnx.helper.make_node("Identity", [name], [target], name=f"{target}_identity"))
        final.append(_value_info(onnx, target, model.dtype, shape))
    graph = onnx.helper.make_graph(g.nodes, model.name, [_value_info(onnx, n, d, s)
                                                         for n, d, s in zip(in_names, in_dtypes, in_shapes)],
                                   final, initializer=g.initializers)
    proto = onnx.helper.make_model(graph, producer_name="upsampling",
                                   opset_imports=[onnx.helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 9)
    onnx.checker.check_model(proto)
    return proto


def export(model, path, opset: int = OPSET):
    """Write `model` as an ONNX file at `path` (atomically); returns the path."""
    from upsampling.atomic import atomic_write_bytes
    proto = to_onnx(model, opset)
    return atomic_write_bytes(Path(path), proto.SerializeToString())

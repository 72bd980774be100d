"""Upsampling layers: UpSampling2D (Keras 3's numbers), and beyond Keras: Resizing with every
PyTorch/ONNX option, BlurUpSampling2D (StyleGAN2), DepthToSpace / PixelShuffle and SubPixelConv2D."""
from __future__ import annotations

import numbers

import numpy as np

from upsampling import initializers, shapes
from upsampling.layers.base import Layer
from upsampling.layers.convolutional import _Conv, to_channels_first, to_channels_last
from upsampling.layers.core import apply_activation, check_positive_int
from upsampling.ops.conv import conv2d, conv2d_backward
from upsampling.ops.pixel_shuffle import MODES as PIXEL_MODES
from upsampling.ops.pixel_shuffle import depth_to_space, space_to_depth
from upsampling.ops.resize import (COORDINATE_MODES, INTERPOLATIONS, NEAREST_MODES, blur_upsample_matrix, phase_gains,
                                   resize_matrix, resized_length, separable2d, separable2d_backward, upsample2d,
                                   upsample2d_backward)


class UpSampling2D(Layer):
    """Upsample rows by size[0] and columns by size[1]. No weights.

    interpolation: 'nearest' (repeat), 'bilinear', 'bicubic' (Keys a=-0.5), 'lanczos3', 'lanczos5';
    checked here in the constructor (Keras only fails at call time).
    """

    input_ndim = 4

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = shapes.pair(size, "size", self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        if not isinstance(interpolation, str) or interpolation.lower() not in INTERPOLATIONS:
            raise self._error(f"invalid value for argument `interpolation`: expected one of "
                              f"{INTERPOLATIONS}. Received: interpolation={interpolation!r}")
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        n = input_shape[0]
        scale = lambda v, s: None if v is None else v * s  # noqa: E731
        if self.data_format == "channels_first":
            return (n, input_shape[1], scale(input_shape[2], self.size[0]), scale(input_shape[3], self.size[1]))
        return (n, scale(input_shape[1], self.size[0]), scale(input_shape[2], self.size[1]), input_shape[3])

    def call_forward(self, x, training):
        y, cache = upsample2d(to_channels_last(x, self.data_format), size=self.size,
                              interpolation=self.interpolation)

        def backward(dy, grads):
            dx = upsample2d_backward(to_channels_last(dy, self.data_format), cache)
            return to_channels_first(dx, self.data_format)

        return to_channels_first(y, self.data_format), backward

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


def _check_choice(layer, name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise layer._error(f"invalid value for argument `{name}`: expected one of {tuple(choices)}. "
                           f"Received: {name}={value!r}")
    return value


def _spatial_axes(layer, input_shape):
    """(H, W, C) of a 4-D input shape in the layer's data format."""
    if layer.data_format == "channels_first":
        return input_shape[2], input_shape[3], input_shape[1]
    return input_shape[1], input_shape[2], input_shape[3]


def _shape_out(layer, input_shape, h, w, c):
    if layer.data_format == "channels_first":
        return (input_shape[0], c, h, w)
    return (input_shape[0], h, w, c)


class _SeparableResize(Layer):
    """A weightless layer computing y = Wh x Ww^T per channel; subclasses give the two matrices."""

    input_ndim = 4

    def _matrices(self, h: int, w: int):
        raise NotImplementedError

    def call_forward(self, x, training):
        x = to_channels_last(x, self.data_format)
        wh, ww = self._matrices(x.shape[1], x.shape[2])
        y = separable2d(x, wh, ww)

        def backward(dy, grads):
            return to_channels_first(separable2d_backward(to_channels_last(dy, self.data_format), wh, ww),
                                     self.data_format)

        return to_channels_first(y, self.data_format), backward


class Resizing(_SeparableResize):
    """Resize to a target size or by a (fractional) scale factor, with every option spelled out.

    Give ``height`` and ``width`` (Keras's ``Resizing``) or ``scale_factor`` (a float or a pair;
    the output is floor(in * scale), and the scale itself maps coordinates, as PyTorch's
    ``interpolate`` and ONNX ``Resize`` do).

    interpolation: 'nearest', 'bilinear', 'bicubic', 'lanczos3', 'lanczos5'.
    coordinate_mode: 'half_pixel' (Keras, TF2, PyTorch align_corners=False), 'align_corners'
        (PyTorch align_corners=True), 'asymmetric' (PyTorch 'nearest', TF1).
    nearest_mode: rounding of the source coordinate for 'nearest': 'round_prefer_ceil' (default;
        PyTorch 'nearest-exact' with half_pixel), 'round_prefer_floor', 'floor' (PyTorch 'nearest'
        with asymmetric), 'ceil'.
    cubic_coeff_a: Keys' coefficient, -0.5 (Keras/TF/JAX, default) or -0.75 (PyTorch, ONNX).
    exclude_outside: True (default) drops taps beyond the border and renormalises (Keras/TF/JAX,
        and PyTorch when antialias=True); False clamps them to the edge pixel (PyTorch's default
        path, ONNX's default).
    antialias: when shrinking, stretch the kernel over 1/scale input pixels (half_pixel only).

    PyTorch's numbers: ``F.interpolate(x, size or scale_factor, mode='bilinear', align_corners=A)``
    = ``Resizing(..., 'bilinear', coordinate_mode='align_corners' if A else 'half_pixel')``;
    ``mode='bicubic'`` = add ``cubic_coeff_a=-0.75, exclude_outside=False``; ``antialias=True``
    (bilinear or bicubic) = add ``antialias=True`` and keep the defaults -0.5 / True;
    ``mode='nearest'`` = ``coordinate_mode='asymmetric', nearest_mode='floor'``;
    ``mode='nearest-exact'`` = the defaults.
    """

    def __init__(self, height=None, width=None, interpolation="bilinear", scale_factor=None,
                 coordinate_mode="half_pixel", nearest_mode="round_prefer_ceil", cubic_coeff_a=-0.5,
                 exclude_outside=True, antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        if (height is None) != (width is None):
            raise self._error(f"give both `height` and `width`, or neither. Received: height={height!r}, "
                              f"width={width!r}")
        if (height is None) == (scale_factor is None):
            raise self._error(f"give either `height` and `width` or `scale_factor`, not both and not neither. "
                              f"Received: height={height!r}, width={width!r}, scale_factor={scale_factor!r}")
        self.height = self.width = self.scale_factor = None
        if height is not None:
            self.height, self.width = shapes.pair((height, width), "height/width", self._owner)
        else:
            pair_ = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            if len(pair_) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0
                                          and np.isfinite(v) for v in pair_):
                raise self._error(f"`scale_factor` must be a positive number or a pair of them. "
                                  f"Received: scale_factor={scale_factor!r}")
            self.scale_factor = (float(pair_[0]), float(pair_[1]))
        interp = interpolation.lower() if isinstance(interpolation, str) else interpolation
        self.interpolation = _check_choice(self, "interpolation", interp, INTERPOLATIONS)
        self.coordinate_mode = _check_choice(self, "coordinate_mode", coordinate_mode, COORDINATE_MODES)
        self.nearest_mode = _check_choice(self, "nearest_mode", nearest_mode, NEAREST_MODES)
        if not isinstance(cubic_coeff_a, numbers.Real) or isinstance(cubic_coeff_a, bool) or not np.isfinite(cubic_coeff_a):
            raise self._error(f"`cubic_coeff_a` must be a finite real number (-0.5 Keras/TF, -0.75 PyTorch). "
                              f"Received: cubic_coeff_a={cubic_coeff_a!r}")
        self.cubic_coeff_a = float(cubic_coeff_a)
        self.exclude_outside = bool(exclude_outside)
        self.antialias = bool(antialias)
        if self.antialias and self.coordinate_mode != "half_pixel":
            raise self._error(f"`antialias=True` is only defined here for coordinate_mode='half_pixel'. "
                              f"Received: coordinate_mode={coordinate_mode!r}")

    def _lengths(self, h, w):
        if self.height is not None:
            return self.height, self.width
        return tuple(None if v is None else resized_length(v, s) for v, s in zip((h, w), self.scale_factor))

    def build(self, input_shape):
        h, w, _ = _spatial_axes(self, input_shape)
        lengths = self._lengths(h, w)
        if any(v is not None and v <= 0 for v in lengths):
            raise self._error(f"the output would be empty: floor(input size * scale_factor) is 0. "
                              f"Received input_shape={tuple(input_shape)}, scale_factor={self.scale_factor}")

    def compute_output_shape(self, input_shape):
        h, w, c = _spatial_axes(self, input_shape)
        return _shape_out(self, input_shape, *self._lengths(h, w), c)

    def _matrices(self, h, w):
        ho, wo = self._lengths(h, w)
        if ho <= 0 or wo <= 0:
            raise self._error(f"the output would be empty: floor(input size * scale_factor) is 0. "
                              f"Received spatial size {(h, w)}, scale_factor={self.scale_factor}")
        scales = self.scale_factor or (None, None)
        opts = dict(interpolation=self.interpolation, coordinate_mode=self.coordinate_mode,
                    nearest_mode=self.nearest_mode, cubic_a=self.cubic_coeff_a,
                    exclude_outside=self.exclude_outside, antialias=self.antialias, dtype=np.float64)
        return (resize_matrix(h, ho, scale=scales[0], **opts), resize_matrix(w, wo, scale=scales[1], **opts))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "scale_factor": self.scale_factor,
                "coordinate_mode": self.coordinate_mode, "nearest_mode": self.nearest_mode,
                "cubic_coeff_a": self.cubic_coeff_a, "exclude_outside": self.exclude_outside,
                "antialias": self.antialias, "data_format": self.data_format}


class BlurUpSampling2D(_SeparableResize):
    """Zero insertion followed by a fixed binomial low-pass (StyleGAN2's upfirdn2d with up=size).

    Each input pixel is placed at stride ``size``, zeros in between, and the result is filtered
    per channel with the separable filter ``outer(f, f)``, f = ``filter`` scaled to sum ``size``
    (gain size**2 in 2-D, so every output phase has gain 1); the full result of length
    ``(i - 1) * s + L`` is cropped by ``(L - s) // 2`` in front to ``i * s``. No weights.
    Followed by a Conv2D this is StyleGAN2's upsampling convolution (a transposed convolution then
    the blur: both are convolutions, so they commute up to the border). With the default
    ``(1, 3, 3, 1)`` and size 2 the interior equals half-pixel bilinear upsampling; at the border
    the zeros beyond the edge darken the first and last row (by 1/4).
    Checkerboard-free only if the taps of every phase (f[p], f[p + s], ...) sum to the same value:
    true for the binomials (1, 2, 1) and (1, 3, 3, 1) at s = 2 and (1, 2, 3, 2, 1) at s = 3, false
    for (1, 2, 3, 2, 1) at s = 2 (phase sums 5 and 4; see :meth:`phase_gains`).
    Equivalent PyTorch: ``ConvTranspose2d(C, C, L, stride=s, padding=(L - s) // 2, groups=C,
    bias=False)`` with the fixed kernel ``outer(f, f)`` (for even L - s).
    """

    def __init__(self, size=(2, 2), filter=(1, 3, 3, 1), data_format=None, **kwargs):  # noqa: A002
        super().__init__(**kwargs)
        self.size = shapes.pair(size, "size", self._owner)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)
        try:
            taps = tuple(float(v) for v in filter)
        except (TypeError, ValueError):
            taps = ()
        if not taps or not all(np.isfinite(taps)) or sum(taps) <= 0:
            raise self._error(f"`filter` must be a non-empty sequence of finite numbers with a positive sum. "
                              f"Received: filter={filter!r}")
        if len(taps) < max(self.size):
            raise self._error(f"`filter` needs at least `size` taps (len(filter) >= {max(self.size)}) so that "
                              f"every output pixel is reached. Received: filter={filter!r}, size={self.size}")
        self.filter = taps

    def phase_gains(self) -> tuple:
        """Per axis, the gain of each output phase away from the border: the sums of f[p::s]."""
        return tuple(tuple(float(g) for g in phase_gains(self.filter, s)) for s in self.size)

    def compute_output_shape(self, input_shape):
        h, w, c = _spatial_axes(self, input_shape)
        scale = lambda v, s: None if v is None else v * s  # noqa: E731
        return _shape_out(self, input_shape, scale(h, self.size[0]), scale(w, self.size[1]), c)

    def _matrices(self, h, w):
        return (blur_upsample_matrix(h, self.size[0], self.filter, dtype=np.float64),
                blur_upsample_matrix(w, self.size[1], self.filter, dtype=np.float64))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "filter": self.filter, "data_format": self.data_format}


class DepthToSpace(Layer):
    """Rearrange C*r*r channels into an r-times larger image of C channels. No weights.

    mode 'DCR' (default; TensorFlow's ``tf.nn.depth_to_space``, ONNX DepthToSpace's default) or
    'CRD' (PyTorch's ``PixelShuffle``, ONNX mode CRD); see :mod:`upsampling.ops.pixel_shuffle`.
    """

    input_ndim = 4
    _default_mode = "DCR"

    def __init__(self, block_size=2, mode=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.block_size = check_positive_int(block_size, "block_size", self._owner)
        self.mode = _check_choice(self, "mode", self._default_mode if mode is None else mode, PIXEL_MODES)
        self.data_format = shapes.normalize_data_format(data_format, self._owner)

    def build(self, input_shape):
        c = _spatial_axes(self, input_shape)[2]
        r2 = self.block_size ** 2
        if c is not None and c % r2:
            raise self._error(f"the number of input channels must be a multiple of block_size**2 = {r2}. "
                              f"Received input_shape={tuple(input_shape)}")

    def compute_output_shape(self, input_shape):
        h, w, c = _spatial_axes(self, input_shape)
        r = self.block_size
        scale = lambda v: None if v is None else v * r  # noqa: E731
        return _shape_out(self, input_shape, scale(h), scale(w), None if c is None else c // (r * r))

    def call_forward(self, x, training):
        self.build(x.shape)
        y = depth_to_space(to_channels_last(x, self.data_format), self.block_size, self.mode)

        def backward(dy, grads):
            dx = space_to_depth(to_channels_last(dy, self.data_format), self.block_size, self.mode)
            return to_channels_first(dx, self.data_format)

        return to_channels_first(y, self.data_format), backward

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size, "mode": self.mode,
                "data_format": self.data_format}


class PixelShuffle(DepthToSpace):
    """PyTorch's ``nn.PixelShuffle(upscale_factor)``: DepthToSpace in 'CRD' order.

    With ``data_format='channels_first'`` it takes the (N, C*r*r, H, W) arrays PyTorch does and
    gives the same numbers; channels_last arrays are rearranged the same way per pixel.
    """

    _default_mode = "CRD"

    def __init__(self, upscale_factor=2, data_format=None, **kwargs):
        kwargs.pop("block_size", None)
        kwargs.pop("mode", None)
        super().__init__(block_size=upscale_factor, mode="CRD", data_format=data_format, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["upscale_factor"] = config.pop("block_size")
        config.pop("mode")
        return config


class SubPixelConv2D(_Conv):
    """Sub-pixel convolution (Shi et al. 2016): Conv2D to filters*scale**2 channels, then depth-to-space.

    Output (N, H*scale, W*scale, filters) for padding='same' (stride 1). The kernel is
    (kh, kw, in, filters * scale**2) and the bias (filters * scale**2,), added before the shuffle;
    the activation is applied after it. ``kernel_initializer='icnr'`` (or an ``ICNR`` instance of
    the same scale and mode) starts it as nearest upsampling + convolution, free of checkerboards.
    ``mode``: 'DCR' (TF order, default) or 'CRD' (PyTorch's Conv2d + PixelShuffle order, so that
    a PyTorch kernel (F*r*r, C, kh, kw) maps to this layer by a transpose alone).
    """

    def __init__(self, filters, kernel_size=3, scale=2, padding="same", mode="DCR", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 **kwargs):
        for bad in ("strides", "groups"):
            if bad in kwargs:
                raise TypeError(f"SubPixelConv2D: argument `{bad}` is not supported (stride 1, one group). "
                                f"Received: {bad}={kwargs[bad]!r}")
        self.scale = check_positive_int(scale, "scale", "SubPixelConv2D")
        self.mode = mode
        if isinstance(kernel_initializer, str) and kernel_initializer.lower() == "icnr":
            kernel_initializer = initializers.ICNR(scale=self.scale, mode=mode if mode in PIXEL_MODES else "DCR")
        super().__init__(filters, kernel_size, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, **kwargs)
        _check_choice(self, "mode", mode, PIXEL_MODES)
        init = self.kernel_initializer
        if isinstance(init, initializers.ICNR) and (init.scale != self.scale or init.mode != self.mode):
            raise self._error(f"the ICNR initializer must have the layer's scale and mode. Received: "
                              f"ICNR(scale={init.scale}, mode={init.mode!r}) for scale={self.scale}, mode={mode!r}")

    @property
    def _conv_channels(self) -> int:
        return self.filters * self.scale * self.scale

    def build(self, input_shape):
        h, w, c = _spatial_axes(self, input_shape)
        if c is None:
            raise self._error(f"the channel axis of the input must be known. Received input_shape={input_shape}")
        self._conv_lengths(h, w, input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (c, self._conv_channels), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self._conv_channels,), self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _conv_lengths(self, h, w, input_shape):
        out = [shapes.conv_output_length(i, k, 1, d, self.padding)
               for i, k, d in zip((h, w), self.kernel_size, self.dilation_rate)]
        if any(v is not None and v <= 0 for v in out):
            raise self._error(f"computed output size would be zero or negative: the kernel (kernel_size="
                              f"{self.kernel_size}, dilation_rate={self.dilation_rate}) is larger than the "
                              f"'valid' input. Received input_shape={tuple(input_shape)}")
        return out

    def compute_output_shape(self, input_shape):
        h, w, _ = _spatial_axes(self, input_shape)
        ho, wo = self._conv_lengths(h, w, input_shape)
        scale = lambda v: None if v is None else v * self.scale  # noqa: E731
        return self.activation.output_shape(_shape_out(self, input_shape, scale(ho), scale(wo), self.filters))

    def call_forward(self, x, training):
        x = to_channels_last(x, self.data_format)
        self._conv_lengths(x.shape[1], x.shape[2], x.shape)
        pads = tuple(shapes.conv_padding(i, k, 1, d, self.padding)
                     for i, k, d in zip(x.shape[1:3], self.kernel_size, self.dilation_rate))
        z, cache = conv2d(x, self.kernel.value, pads=pads, dilation=self.dilation_rate)
        if self.bias is not None:
            z += self.bias.value
        # the activation sees the output in its final layout (softmax & co. act along its last axis)
        y, act_back = apply_activation(self.activation,
                                       to_channels_first(depth_to_space(z, self.scale, self.mode), self.data_format))

        def backward(dy, grads):
            dz = space_to_depth(to_channels_last(act_back(dy), self.data_format), self.scale, self.mode)
            dx, dk = conv2d_backward(dz, cache)
            grads.add(self.kernel, dk)
            if self.bias is not None:
                grads.add(self.bias, dz.sum(axis=(0, 1, 2)))
            return to_channels_first(dx, self.data_format)

        return y, backward

    def get_config(self):
        config = {**super().get_config(), "scale": self.scale, "mode": self.mode}
        for key in ("strides", "groups"):
            config.pop(key)
        return config

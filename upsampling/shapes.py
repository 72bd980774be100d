"""Integer shape arithmetic for convolutions, transposed convolutions and upsampling.

Pure Python, no NumPy. One convention throughout: for one spatial axis,
``i`` input length, ``k`` kernel size, ``s`` stride, ``d`` dilation,
``ke = (k - 1) * d + 1`` the effective (dilated) kernel extent.

Padding is described as a pair ``(before, after)`` per axis. For a convolution it is added to the
input; for a transposed convolution it is what is *cropped* from the full scatter of length
``(i - 1) * s + ke`` to give the output. A negative ``after`` means zeros are appended instead
(convolution: trailing input rows ignored), which is how Keras's ``valid`` transposed convolution
with ``s > ke`` and ``output_padding`` reach lengths beyond the full scatter.
"""
from __future__ import annotations

import numbers

PADDINGS = ("valid", "same")
# The most elements one sample of a layer's output (or one weight) may have: 2**28, i.e. 1 GiB of
# float32. Sizes and strides beyond it fail when the layer is built, not later as a MemoryError.
MAX_ELEMENTS = 2 ** 28
DATA_FORMATS = ("channels_last", "channels_first")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def pair(value, name: str, owner: str, *, minimum: int = 1) -> tuple:
    """Normalise an int or a 2-sequence of ints into a 2-tuple, each >= `minimum`.

    Raises TypeError/ValueError that names `owner` and the argument and ends with the value received.
    """
    if _is_int(value):
        values = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        values = (int(value[0]), int(value[1]))
    else:
        raise ValueError(
            f"{owner}: `{name}` must be an integer or a tuple of 2 integers. Received: {name}={value!r}"
        )
    bad = [v for v in values if v < minimum]
    if bad:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(
            f"{owner}: every value of `{name}` must be {rule}. Received: {name}={value!r}"
        )
    return values


def normalize_padding(value, owner: str) -> str:
    if not isinstance(value, str) or value.lower() not in PADDINGS:
        raise ValueError(
            f"{owner}: `padding` must be one of {{'valid', 'same'}}. Received: padding={value!r}"
        )
    return value.lower()


def normalize_data_format(value, owner: str) -> str:
    if value is None:
        return "channels_last"
    if not isinstance(value, str) or value.lower() not in DATA_FORMATS:
        raise ValueError(
            f"{owner}: `data_format` must be one of {{'channels_first', 'channels_last'}}. "
            f"Received: data_format={value!r}"
        )
    return value.lower()


def effective_kernel(k: int, d: int) -> int:
    """Extent of a dilated kernel: (k - 1) * d + 1."""
    return (k - 1) * d + 1


def conv_padding(i: int, k: int, s: int, d: int, padding: str) -> tuple:
    """(before, after) input padding of a Keras/TF convolution.

    'same' pads so that the output is ceil(i / s), the extra pixel going after (bottom/right).
    """
    if padding == "valid":
        return (0, 0)
    ke = effective_kernel(k, d)
    out = -(-i // s)
    total = max((out - 1) * s + ke - i, 0)
    return (total // 2, total - total // 2)


def conv_output_length(i, k: int, s: int, d: int, padding: str):
    """Output length of a convolution; None stays None (unknown length)."""
    if i is None:
        return None
    ke = effective_kernel(k, d)
    if padding == "same":
        return -(-i // s)
    return (i - ke) // s + 1  # <= 0 when the kernel does not fit: callers reject it


def conv_transpose_padding(i: int, k: int, s: int, d: int, padding: str, output_padding):
    """(crop_before, crop_after) of Keras's Conv2DTranspose for one axis.

    The full scatter has length (i - 1) * s + ke; the output is the window starting at
    crop_before, of length full - crop_before - crop_after (crop_after < 0 appends zeros).
    output_padding None and 0 differ for 'same' (Keras's rule, kept on purpose).
    """
    ke = effective_kernel(k, d)
    full = (i - 1) * s + ke
    length = conv_transpose_output_length(i, k, s, d, padding, output_padding)
    if padding == "valid":
        before = 0
    elif output_padding is None:
        before = (ke - s) // 2 if ke >= s else 0
    else:
        total = ke + (ke % 2) - 2 + output_padding
        before = ke - 1 - min(-(-total // 2), ke - 1)
    return (before, full - before - length)


def conv_transpose_output_length(i, k: int, s: int, d: int, padding: str, output_padding):
    """Keras 3 (= Keras 2 ``deconv_length``) output length of a transposed convolution."""
    if i is None:
        return None
    ke = effective_kernel(k, d)
    if output_padding is None:
        if padding == "valid":
            return (i - 1) * s + max(ke, s)
        return i * s
    if padding == "valid":
        return (i - 1) * s + ke + output_padding
    return (i - 1) * s + (ke % 2) + output_padding


def check_elements(shape, owner: str, what: str = "output", *, batch_axis: bool = True) -> None:
    """ValueError if `shape` (a tuple, or a list of tuples for several outputs) holds more than
    `MAX_ELEMENTS` elements, the batch axis (first, when `batch_axis`) and unknown (None) axes aside."""
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        for s in shape:
            check_elements(tuple(s), owner, what, batch_axis=batch_axis)
        return
    count = 1
    for v in tuple(shape)[1 if batch_axis else 0:]:
        if _is_int(v) and v > 0:
            count *= int(v)
    if count > MAX_ELEMENTS:
        per = " per sample" if batch_axis else ""
        raise ValueError(
            f"{owner}: the {what} would have shape {tuple(shape)}, {count:,} elements{per}, more than the "
            f"limit of {MAX_ELEMENTS:,} (upsampling.shapes.MAX_ELEMENTS). Use smaller sizes or strides, "
            f"or a smaller input."
        )

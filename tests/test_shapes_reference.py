"""Output shapes, paddings and crops of the layers against the published formulas written out in
tests/reference.py, against Keras's `compute_output_shape` and against PyTorch's numbers -- never
against `upsampling.shapes` itself (a bug there must not be able to agree with itself)."""
import itertools

import numpy as np
import pytest

from tests.keras_oracle import keras, torch_module
from tests.reference import (conv2d_naive, conv_transpose2d_naive, ref_conv_length, ref_conv_pads,
                             ref_conv_transpose_crops, ref_conv_transpose_length, ref_torch_conv_length,
                             ref_torch_conv_transpose_length)
from upsampling import layers

rng = np.random.default_rng(21)

TRANSPOSE_GRID = [
    (k, s, padding, op, d)
    for k, s, padding, d in itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"], [1, 2])
    if not (s > 1 and d > 1)
    for op in [None] + list(range(s))
]
CONV_GRID = [
    (k, s, padding, d)
    for k, s, padding, d in itertools.product([1, 2, 3, 4, 5], [1, 2, 3], ["valid", "same"], [1, 2])
    if not (s > 1 and d > 1)
]


def test_reference_formulas_agree_with_the_worked_examples_in_the_literature():
    # Dumoulin & Visin, "A guide to convolution arithmetic": relationship 1..6 examples
    assert ref_conv_length(5, 4, 1, 1, "valid") == 2       # i=5, k=4, s=1, p=0 -> o=2
    assert ref_conv_length(5, 3, 2, 1, "valid") == 2       # i=5, k=3, s=2 -> 2
    assert ref_torch_conv_length(5, 3, 2, 1, 1) == 3       # i=5, k=3, s=2, p=1 -> 3
    assert ref_torch_conv_length(7, 3, 1, 2, 0) == 3       # dilated: i=7, k=3, d=2 -> 3
    assert ref_torch_conv_transpose_length(2, 3, 2, 1, 0, 0) == 5
    # Keras 3 semantics (verified against Keras): k3 s2 same 5 -> 10; valid d2 k3: 5 -> 9
    assert ref_conv_transpose_length(5, 3, 2, 1, "same", None) == 10
    assert ref_conv_transpose_length(5, 3, 1, 2, "valid", None) == 9
    assert ref_conv_transpose_length(5, 1, 3, 1, "valid", None) == 15  # s > ke: s - ke zeros appended
    assert ref_conv_pads(6, 3, 2, 1, "same") == (0, 1)  # TF puts the odd pixel at the bottom/right
    assert ref_conv_pads(5, 4, 1, 1, "same") == (1, 2)


@pytest.mark.parametrize("k,s,padding,op,d", TRANSPOSE_GRID)
def test_conv2d_transpose_shape_and_crops_match_the_formulas(k, s, padding, op, d):
    h, w = 3, 4
    layer = layers.Conv2DTranspose(2, k, strides=s, padding=padding, output_padding=op, dilation_rate=d,
                                   dtype="float64")
    x = rng.standard_normal((1, h, w, 2))
    y = layer(x)
    expected = (1, ref_conv_transpose_length(h, k, s, d, padding, op),
                ref_conv_transpose_length(w, k, s, d, padding, op), 2)
    assert y.shape == expected
    assert layer.compute_output_shape((None, h, w, 2)) == (None,) + expected[1:]
    # the numbers: the scatter written out, with the crops from the adjoint-convolution formula
    kernel, bias = layer.get_weights()
    crops = (ref_conv_transpose_crops(h, k, s, d, padding, op)[0], ref_conv_transpose_crops(w, k, s, d, padding, op)[0])
    ref = conv_transpose2d_naive(x, kernel, (s, s), expected[1:3], crops, (d, d)) + bias
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,padding,op,d", TRANSPOSE_GRID)
def test_conv2d_transpose_output_shape_matches_keras(k, s, padding, op, d):
    kw = dict(filters=2, kernel_size=k, strides=s, padding=padding, output_padding=op, dilation_rate=d)
    expected = (None, ref_conv_transpose_length(3, k, s, d, padding, op), ref_conv_transpose_length(4, k, s, d, padding, op), 2)
    assert tuple(keras().layers.Conv2DTranspose(**kw).compute_output_shape((None, 3, 4, 2))) == expected
    assert layers.Conv2DTranspose(**kw).compute_output_shape((None, 3, 4, 2)) == expected


@pytest.mark.parametrize("k,s,padding,d", CONV_GRID)
def test_conv2d_shape_and_padding_match_the_formulas(k, s, padding, d):
    h, w = 11, 10
    layer = layers.Conv2D(2, k, strides=s, padding=padding, dilation_rate=d, dtype="float64")
    x = rng.standard_normal((1, h, w, 2))
    y = layer(x)
    expected = (1, ref_conv_length(h, k, s, d, padding), ref_conv_length(w, k, s, d, padding), 2)
    assert y.shape == expected
    assert layer.compute_output_shape((None, h, w, 2)) == (None,) + expected[1:]
    kernel, bias = layer.get_weights()
    pads = (ref_conv_pads(h, k, s, d, padding), ref_conv_pads(w, k, s, d, padding))
    np.testing.assert_allclose(y, conv2d_naive(x, kernel, (s, s), pads, (d, d)) + bias, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,s,padding,d", CONV_GRID)
def test_conv2d_output_shape_matches_keras(k, s, padding, d):
    kw = dict(filters=2, kernel_size=k, strides=s, padding=padding, dilation_rate=d)
    expected = (None, ref_conv_length(11, k, s, d, padding), ref_conv_length(10, k, s, d, padding), 2)
    assert tuple(keras().layers.Conv2D(**kw).compute_output_shape((None, 11, 10, 2))) == expected


def _torch_transpose_equivalent(k, s, d, padding, op):
    """(p, op) of the exact torch.nn.ConvTranspose2d equivalent, or None (semantics.md section 3)."""
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (0, max(0, s - ke) if op is None else op)
    if op is None:
        if ke <= s:
            return (0, s - ke)
        return ((ke - s) // 2, 0) if (ke - s) % 2 == 0 else None
    return None


@pytest.mark.parametrize("k,s,padding,op,d", [c for c in TRANSPOSE_GRID if _torch_transpose_equivalent(
    c[0], c[1], c[4], c[2], c[3]) is not None])
def test_conv2d_transpose_matches_pytorch_where_an_exact_equivalent_exists(k, s, padding, op, d):
    torch = torch_module()
    p, top = _torch_transpose_equivalent(k, s, d, padding, op)
    if top >= s and top >= d:
        pytest.skip("PyTorch needs output_padding < stride or < dilation")
    h, w = 4, 3
    layer = layers.Conv2DTranspose(3, k, strides=s, padding=padding, output_padding=op, dilation_rate=d,
                                   dtype="float64")
    x = rng.standard_normal((2, h, w, 2))
    y = layer(x)
    assert y.shape[1:3] == (ref_torch_conv_transpose_length(h, k, s, d, p, top),
                            ref_torch_conv_transpose_length(w, k, s, d, p, top))
    kernel, bias = layer.get_weights()
    # Keras (kh, kw, filters, in) -> PyTorch (in, filters, kh, kw); input NHWC -> NCHW
    ref = torch.nn.functional.conv_transpose2d(
        torch.tensor(x).permute(0, 3, 1, 2), torch.tensor(kernel).permute(3, 2, 0, 1), torch.tensor(bias),
        stride=s, padding=p, output_padding=top, dilation=d).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k,s,padding,d", CONV_GRID)
def test_conv2d_matches_pytorch_with_the_formula_padding(k, s, padding, d):
    torch = torch_module()
    h, w = 11, 10
    layer = layers.Conv2D(3, k, strides=s, padding=padding, dilation_rate=d, dtype="float64")
    x = rng.standard_normal((2, h, w, 2))
    y = layer(x)
    (t, b), (left, right) = ref_conv_pads(h, k, s, d, padding), ref_conv_pads(w, k, s, d, padding)
    kernel, bias = layer.get_weights()
    xt = torch.nn.functional.pad(torch.tensor(x).permute(0, 3, 1, 2), (left, right, t, b))
    ref = torch.nn.functional.conv2d(xt, torch.tensor(kernel).permute(3, 2, 0, 1), torch.tensor(bias), stride=s,
                                     dilation=d).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    if t == b and left == right:  # symmetric padding: PyTorch's own output-length formula applies
        assert y.shape[1:3] == (ref_torch_conv_length(h, k, s, d, t), ref_torch_conv_length(w, k, s, d, left))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_channels_first_moves_only_the_axes(data_format):
    kw = dict(filters=3, kernel_size=(3, 2), strides=(2, 3), padding="same", output_padding=(1, 0))
    layer = layers.Conv2DTranspose(data_format=data_format, **kw)
    shape = (None, 2, 5, 4) if data_format == "channels_first" else (None, 5, 4, 2)
    hw = (ref_conv_transpose_length(5, 3, 2, 1, "same", 1), ref_conv_transpose_length(4, 2, 3, 1, "same", 0))
    expected = (None, 3) + hw if data_format == "channels_first" else (None,) + hw + (3,)
    assert layer.compute_output_shape(shape) == expected
    assert tuple(keras().layers.Conv2DTranspose(data_format=data_format, **kw).compute_output_shape(shape)) == expected


@pytest.mark.parametrize("size", [2, (3, 1), (1, 4)])
def test_upsampling_shape_is_size_times_input(size):
    sh, sw = (size, size) if isinstance(size, int) else size
    layer = layers.UpSampling2D(size)
    assert layer(np.zeros((2, 3, 5, 4))).shape == (2, 3 * sh, 5 * sw, 4)
    assert tuple(keras().layers.UpSampling2D(size).compute_output_shape((None, 3, 5, 4))) == (None, 3 * sh, 5 * sw, 4)


def test_check_elements_multiplies_every_known_axis_and_checks_each_output():
    from upsampling import shapes

    shapes.check_elements((None, 2 ** 14, 2 ** 14, 1), "x")  # exactly the limit
    with pytest.raises(ValueError, match=r"^L: the output would have shape \(None, 2, 134217729\), "
                                         r"268,435,458 elements per sample, more than the limit of 268,435,456"):
        shapes.check_elements((None, 2, 2 ** 27 + 1), "L")
    # without a batch axis every axis counts, and the message does not say "per sample"
    shapes.check_elements((2 ** 28,), "x", batch_axis=False)
    with pytest.raises(ValueError, match=r"the weight would have shape \(2, 134217729\), 268,435,458 "
                                         r"elements, more"):
        shapes.check_elements((2, 2 ** 27 + 1), "x", "weight", batch_axis=False)
    # several outputs: each is checked on its own
    shapes.check_elements([(None, 4), (None, 2 ** 28)], "x")
    with pytest.raises(ValueError, match=r"shape \(None, 268435457\)"):
        shapes.check_elements([(None, 4), (None, 2 ** 28 + 1)], "x")
    with pytest.raises(ValueError, match=r"shape \(None, 3, 89478486\)"):
        shapes.check_elements([(None, 2 ** 28), [None, 3, 89478486]], "x")
    # each output keeps the owner, the name of what is checked and the batch-axis rule
    with pytest.raises(ValueError, match=r"^L: the weight would have shape \(4, 67108865\), 268,435,460 "
                                         r"elements, more"):
        shapes.check_elements([(1, 2), (4, 2 ** 26 + 1)], "L", "weight", batch_axis=False)
    # one shape given as a list; a known batch size and unknown axes elsewhere do not count
    with pytest.raises(ValueError, match=r"shape \(None, 268435457\)"):
        shapes.check_elements([None, 2 ** 28 + 1], "x")
    shapes.check_elements((10 ** 9, None, 2 ** 28), "x")

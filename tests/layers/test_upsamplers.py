"""The beyond-Keras upsampling layers: Resizing, BlurUpSampling2D, DepthToSpace, PixelShuffle,
SubPixelConv2D (+ ICNR), and Conv2DTranspose's groups, against PyTorch, loops and float64 gradients."""
import numpy as np
import pytest

from tests.layers.test_gradients import check_layer_gradients
from upsampling import initializers, layers
from upsampling.models import Sequential, load_model

torch = pytest.importorskip("torch")
F = torch.nn.functional
F64 = dict(dtype="float64")
rng = np.random.default_rng(11)


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def nhwc(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


# ---------------------------------------------------------------- Resizing
@pytest.mark.parametrize("layer_kw,torch_kw", [
    (dict(height=11, width=5), dict(size=(11, 5), mode="bilinear", align_corners=False)),
    (dict(scale_factor=1.5, interpolation="bicubic", cubic_coeff_a=-0.75, exclude_outside=False),
     dict(scale_factor=1.5, mode="bicubic", align_corners=False)),
    (dict(height=9, width=9, coordinate_mode="align_corners"), dict(size=(9, 9), mode="bilinear", align_corners=True)),
    (dict(scale_factor=(0.5, 0.75), antialias=True), dict(scale_factor=(0.5, 0.75), mode="bilinear", antialias=True)),
    (dict(scale_factor=(0.6, 2.5), interpolation="bicubic", antialias=True),
     dict(scale_factor=(0.6, 2.5), mode="bicubic", antialias=True)),
    (dict(scale_factor=2.5, interpolation="nearest", coordinate_mode="asymmetric", nearest_mode="floor"),
     dict(scale_factor=2.5, mode="nearest")),
    (dict(height=3, width=10, interpolation="nearest"), dict(size=(3, 10), mode="nearest-exact")),
    # sizes floor(6 * 1.3) = 7 and floor(4 * 1.7) = 6: the coordinates use the scale, not 7/6 or 6/4
    (dict(scale_factor=(1.3, 1.7), interpolation="BiLinear"), dict(scale_factor=(1.3, 1.7), mode="bilinear")),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resizing_layer_matches_torch(layer_kw, torch_kw, data_format):
    x = rng.standard_normal((2, 6, 4, 3))
    layer = layers.Resizing(data_format=data_format, **layer_kw, **F64)
    y = layer(np.moveaxis(x, -1, 1) if data_format == "channels_first" else x)
    y = np.moveaxis(y, 1, -1) if data_format == "channels_first" else y
    np.testing.assert_allclose(y, nhwc(F.interpolate(nchw(x), **torch_kw)), atol=1e-12)
    shape = (None, 3, 6, 4) if data_format == "channels_first" else (None, 6, 4, 3)
    out = layer.compute_output_shape(shape)
    assert (out[2:] if data_format == "channels_first" else out[1:3]) == y.shape[1:3]


def test_resizing_defaults_are_upsampling2d_numbers():
    """With an integer scale the defaults reproduce UpSampling2D, whose numbers are Keras's (TF/JAX)."""
    x = rng.standard_normal((1, 5, 7, 2))
    for interp in ("bilinear", "bicubic", "nearest", "lanczos3", "lanczos5"):
        got = layers.Resizing(scale_factor=(2, 3), interpolation=interp, **F64)(x)
        np.testing.assert_allclose(got, layers.UpSampling2D((2, 3), interpolation=interp, **F64)(x), atol=1e-12)


# ---------------------------------------------------------------- Blur
def test_blur_layer_equals_the_depthwise_transposed_convolution():
    x = rng.standard_normal((2, 4, 5, 3))
    y = layers.BlurUpSampling2D(**F64)(x)
    f = np.array([1, 3, 3, 1.0]) / 4
    w = torch.from_numpy(np.broadcast_to(np.outer(f, f), (3, 1, 4, 4)).copy())
    np.testing.assert_allclose(y, nhwc(F.conv_transpose2d(nchw(x), w, stride=2, padding=1, groups=3)), atol=1e-12)
    # and Conv2DTranspose with groups = channels and the same fixed kernel (this project's extension)
    conv = layers.Conv2DTranspose(3, 4, strides=2, padding="same", groups=3, use_bias=False, **F64)
    conv(x)
    conv.set_weights([np.broadcast_to(np.outer(f, f)[:, :, None, None], (4, 4, 1, 3)).copy()])
    np.testing.assert_allclose(conv(x), y, atol=1e-12)


@pytest.mark.parametrize("size,taps,flat", [(2, (1, 3, 3, 1), True), (3, (1, 2, 3, 2, 1), True),
                                             (2, (1, 2, 3, 2, 1), False), (2, (1, 2, 1), True)])
def test_blur_of_a_constant_is_flat_inside_exactly_when_phase_gains_agree(size, taps, flat):
    layer = layers.BlurUpSampling2D(size=size, filter=taps, **F64)
    y = layer(np.full((1, 6, 6, 1), 2.0))
    assert y.shape == (1, 6 * size, 6 * size, 1)
    inside = y[0, size * 2:-size * 2, size * 2:-size * 2, 0]
    gains = np.array(layer.phase_gains()[0])
    assert np.allclose(gains, gains[0]) == flat
    assert np.allclose(inside, 2.0, atol=1e-12) == flat
    np.testing.assert_allclose(np.sort(np.unique(np.round(inside, 9))), np.sort(np.unique(np.round(2 * np.outer(gains, gains), 9))))


# ---------------------------------------------------------------- depth to space
def test_pixel_shuffle_is_torch_channels_first():
    x = rng.standard_normal((2, 12, 3, 4))  # (N, C*r*r, H, W)
    y = layers.PixelShuffle(2, data_format="channels_first", **F64)(x)
    np.testing.assert_array_equal(y, F.pixel_shuffle(torch.from_numpy(x), 2).numpy())
    assert layers.DepthToSpace(2, mode="CRD", data_format="channels_first", **F64)(x).tolist() == y.tolist()


# ---------------------------------------------------------------- sub-pixel convolution
@pytest.mark.parametrize("k,r,activation", [(3, 2, None), (2, 3, "tanh"), (4, 2, None)])
def test_subpixel_crd_equals_torch_conv_then_pixel_shuffle(k, r, activation):
    x = rng.standard_normal((2, 5, 4, 3))
    layer = layers.SubPixelConv2D(2, k, scale=r, mode="CRD", activation=activation, bias_initializer="random_normal",
                                  **F64)
    y = layer(x)
    kernel, bias = layer.get_weights()
    conv = torch.nn.Conv2d(3, 2 * r * r, k, padding="same").double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
        conv.bias.copy_(torch.from_numpy(bias))
    want = F.pixel_shuffle(conv(nchw(x)), r)
    want = torch.tanh(want) if activation else want
    np.testing.assert_allclose(y, nhwc(want), atol=1e-12)


SUBPIXEL_CASES = [  # filters, kernel, scale, padding, dilation, data_format, use_bias
    (2, 3, 2, "same", 1, "channels_last", True),
    (3, (2, 3), 3, "valid", 1, "channels_last", False),
    (2, 3, 2, "same", 2, "channels_first", True),
    (1, 2, 3, "valid", (1, 2), "channels_first", False),
]


@pytest.mark.parametrize("filters,k,r,padding,d,data_format,use_bias", SUBPIXEL_CASES)
def test_subpixel_every_argument_against_torch(filters, k, r, padding, d, data_format, use_bias):
    """Values against torch's Conv2d + pixel_shuffle (CRD), the output shape the model reports, and
    the weights the layer owns, for every argument of the layer."""
    x = rng.standard_normal((2, 5, 6, 3))  # NHWC
    layer = layers.SubPixelConv2D(filters, k, scale=r, padding=padding, mode="CRD", dilation_rate=d,
                                  data_format=data_format, use_bias=use_bias, bias_initializer="random_normal",
                                  kernel_regularizer="l2", bias_regularizer="l2" if use_bias else None, **F64)
    first = data_format == "channels_first"
    xin = x.transpose(0, 3, 1, 2) if first else x
    model = Sequential([layers.Input(xin.shape[1:]), layer])
    y = model.predict(xin, verbose=0)
    assert model.output_shape == (None,) + y.shape[1:]
    weights = layer.get_weights()
    assert [v.name for v in layer.weights] == (["kernel", "bias"] if use_bias else ["kernel"])
    assert weights[0].shape == layer.kernel_size + (3, filters * r * r)
    assert len(layer.losses) == len(weights)  # each weight's regularizer is attached
    conv = torch.nn.Conv2d(3, filters * r * r, k, padding=padding, dilation=d, bias=use_bias).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weights[0].transpose(3, 2, 0, 1)))
        if use_bias:
            conv.bias.copy_(torch.from_numpy(weights[1]))
        want = F.pixel_shuffle(conv(nchw(x)), r).numpy()  # NCHW
    np.testing.assert_allclose(y, want if first else want.transpose(0, 2, 3, 1), atol=1e-12)


def test_subpixel_defaults_and_icnr_at_scale_three():
    layer = layers.SubPixelConv2D(2)
    assert (layer.kernel_size, layer.scale, layer.padding, layer.mode) == ((3, 3), 2, "same", "DCR")
    icnr = layers.SubPixelConv2D(2, 3, scale=3, kernel_initializer="icnr", **F64)
    icnr(rng.standard_normal((1, 4, 4, 2)))
    kernel = icnr.get_weights()[0]  # DCR: channel p * F + c; every phase p holds the same sub-kernel
    for p in range(9):
        np.testing.assert_array_equal(kernel[..., p * 2:(p + 1) * 2], kernel[..., :2])


def test_subpixel_dcr_channel_order_is_tf_depth_to_space():
    x = rng.standard_normal((1, 3, 3, 2))
    dcr = layers.SubPixelConv2D(2, 3, mode="DCR", **F64)
    y = dcr(x)
    kernel, bias = dcr.get_weights()
    crd = layers.SubPixelConv2D(2, 3, mode="CRD", **F64)
    crd(x)
    # DCR channel p * F + c is CRD channel c * r*r + p
    perm = [p * 2 + c for c in range(2) for p in range(4)]
    crd.set_weights([kernel[..., perm], bias[perm]])
    np.testing.assert_allclose(crd(x), y, atol=1e-12)


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_icnr_subpixel_starts_as_nearest_upsampling_then_conv(mode):
    x = rng.standard_normal((2, 4, 5, 3))
    sub = layers.SubPixelConv2D(2, 3, mode=mode, kernel_initializer="icnr", **F64)
    y = sub(x)
    kernel = sub.get_weights()[0]
    phases = 4
    one = kernel[..., :2] if mode == "DCR" else kernel[..., ::phases]
    # nearest upsampling then a conv whose kernel is the shared sub-kernel, applied per 2x2 block:
    # output (2h + i, 2w + j) = conv(x)(h, w) for every phase (i, j)
    conv = layers.Conv2D(2, 3, padding="same", **F64)
    conv(x)
    conv.set_weights([one, np.zeros(2)])
    z = conv(x)
    np.testing.assert_allclose(y, np.repeat(np.repeat(z, 2, axis=1), 2, axis=2), atol=1e-12)


def test_icnr_initializer_copies_one_subkernel():
    w = initializers.ICNR(scale=3, initializer=initializers.RandomNormal(seed=1))((2, 2, 4, 18))
    sub = initializers.RandomNormal(seed=1)((2, 2, 4, 2))
    for p in range(9):
        np.testing.assert_array_equal(w[..., p * 2:(p + 1) * 2], sub)
    w = initializers.ICNR(scale=2, mode="CRD", initializer=initializers.RandomNormal(seed=1))((2, 2, 4, 8))
    np.testing.assert_array_equal(w[..., ::4], initializers.RandomNormal(seed=1)((2, 2, 4, 2)))
    assert initializers.get(initializers.serialize(initializers.ICNR(scale=3, mode="CRD"))).get_config()["scale"] == 3
    with pytest.raises(ValueError, match=r"ICNR.*multiple of scale\*\*2 = 4.*\(3, 3, 2, 6\)"):
        initializers.ICNR()((3, 3, 2, 6))


# ---------------------------------------------------------------- Conv2DTranspose groups
@pytest.mark.parametrize("k,s,padding,op,d,g", [
    (3, 2, "valid", None, 1, 2), (4, 2, "same", None, 1, 4), (3, 1, "valid", None, 2, 3), (3, 3, "valid", 2, 1, 2),
])
def test_conv_transpose_groups_match_torch(k, s, padding, op, d, g):
    c, f = 2 * g, 3 * g if g != 4 else 4
    x = rng.standard_normal((2, 4, 3, c))
    layer = layers.Conv2DTranspose(f, k, strides=s, padding=padding, output_padding=op, dilation_rate=d, groups=g,
                                   bias_initializer="random_normal", **F64)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (k, k, f // g, c)
    from upsampling import shapes
    crops = [shapes.conv_transpose_padding(i, k, s, d, padding, op) for i in x.shape[1:3]]
    assert all(b >= a - (op or 0) for a, b in crops) or padding == "valid"
    torch_pad = tuple(c0 for c0, _ in crops)
    torch_op = tuple(c0 - c1 for c0, c1 in crops)
    want = F.conv_transpose2d(nchw(x), torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()),
                              torch.from_numpy(bias), stride=s, padding=torch_pad, output_padding=torch_op,
                              groups=g, dilation=d)
    np.testing.assert_allclose(y, nhwc(want), atol=1e-12)


# ---------------------------------------------------------------- API: gradients, configs, errors, saving
GRAD_CASES = [
    ("resizing_bicubic_frac", lambda: layers.Resizing(scale_factor=(1.5, 0.8), interpolation="bicubic",
                                                      antialias=True, **F64), (1, 4, 5, 2)),
    ("resizing_align_cf", lambda: layers.Resizing(5, 3, coordinate_mode="align_corners", data_format="channels_first",
                                                  **F64), (1, 2, 3, 4)),
    ("blur", lambda: layers.BlurUpSampling2D(**F64), (2, 3, 3, 2)),
    ("depth_to_space_cf", lambda: layers.DepthToSpace(2, data_format="channels_first", **F64), (1, 8, 2, 3)),
    ("pixel_shuffle", lambda: layers.PixelShuffle(2, **F64), (1, 2, 3, 4)),
    ("depth_to_space_crd", lambda: layers.DepthToSpace(3, mode="CRD", **F64), (1, 2, 2, 18)),
    ("subpixel_icnr_tanh", lambda: layers.SubPixelConv2D(2, 3, kernel_initializer="icnr", activation="tanh",
                                                         **F64), (2, 3, 3, 2)),
    ("subpixel_crd_valid_cf", lambda: layers.SubPixelConv2D(1, 2, scale=3, padding="valid", mode="CRD",
                                                            data_format="channels_first", **F64), (1, 2, 3, 3)),
    ("conv_transpose_groups", lambda: layers.Conv2DTranspose(4, 3, strides=2, groups=2, padding="same", **F64),
     (1, 3, 2, 4)),
]


@pytest.mark.parametrize("name,make,shape", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_float64(name, make, shape):
    check_layer_gradients(make(), rng.standard_normal(shape))


CONFIG_CASES = [
    lambda: layers.Resizing(scale_factor=(1.5, 2.0), interpolation="bicubic", cubic_coeff_a=-0.75,
                            exclude_outside=False, coordinate_mode="align_corners", data_format="channels_first"),
    lambda: layers.Resizing(7, 9, interpolation="nearest", nearest_mode="floor", antialias=True),
    lambda: layers.BlurUpSampling2D((2, 3), filter=(1, 2, 1)),
    lambda: layers.DepthToSpace(3, mode="CRD"),
    lambda: layers.PixelShuffle(2, data_format="channels_first"),
    lambda: layers.SubPixelConv2D(4, 3, scale=2, kernel_initializer="icnr", activation="relu"),
    lambda: layers.SubPixelConv2D(4, (3, 1), scale=3, mode="CRD", padding="valid", kernel_regularizer="l2"),
]


@pytest.mark.parametrize("make", CONFIG_CASES)
def test_config_round_trip(make):
    layer = make()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_saved_model_with_every_new_layer_loads_with_the_same_output(tmp_path):
    model = Sequential([layers.Input((5, 6, 4)), layers.SubPixelConv2D(4, 3, kernel_initializer="icnr"),
                        layers.BlurUpSampling2D(), layers.Resizing(scale_factor=0.5, interpolation="bicubic"),
                        layers.DepthToSpace(2), layers.PixelShuffle(1),
                        layers.Conv2DTranspose(2, 3, strides=2, groups=1)])
    x = rng.standard_normal((2, 5, 6, 4)).astype(np.float32)
    model.save(tmp_path / "m.model")
    np.testing.assert_array_equal(load_model(tmp_path / "m.model").predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("make,pattern", [
    (lambda: layers.Resizing(4), r"Resizing.*both `height` and `width`.*height=4, width=None"),
    (lambda: layers.Resizing(), r"Resizing.*either `height` and `width` or `scale_factor`"),
    (lambda: layers.Resizing(scale_factor=-1), r"Resizing.*`scale_factor` must be a positive.*scale_factor=-1"),
    (lambda: layers.Resizing(2, 2, interpolation="area"), r"Resizing.*`interpolation`.*Received: interpolation='area'"),
    (lambda: layers.Resizing(2, 2, coordinate_mode="tf_crop"), r"`coordinate_mode`.*'tf_crop'"),
    (lambda: layers.Resizing(2, 2, nearest_mode="round"), r"`nearest_mode`.*'round'"),
    (lambda: layers.Resizing(2, 2, cubic_coeff_a="x"), r"`cubic_coeff_a`.*'x'"),
    (lambda: layers.Resizing(2, 2, antialias=True, coordinate_mode="asymmetric"), r"`antialias=True`.*asymmetric"),
    (lambda: layers.BlurUpSampling2D(filter=()), r"BlurUpSampling2D.*`filter`.*Received: filter=\(\)"),
    (lambda: layers.BlurUpSampling2D(size=3, filter=(1, 1)), r"`filter` needs at least `size` taps"),
    (lambda: layers.DepthToSpace(0), r"DepthToSpace.*`block_size` must be a positive integer"),
    (lambda: layers.DepthToSpace(2, mode="XYZ"), r"DepthToSpace.*`mode`.*'XYZ'"),
    (lambda: layers.SubPixelConv2D(2, 3, mode="ABC"), r"SubPixelConv2D.*`mode`.*'ABC'"),
    (lambda: layers.SubPixelConv2D(2, 3, scale=0), r"SubPixelConv2D.*`scale` must be a positive integer"),
    (lambda: layers.SubPixelConv2D(2, 3, kernel_initializer=initializers.ICNR(scale=3)),
     r"ICNR initializer must have the layer's scale.*ICNR\(scale=3"),
])
def test_constructor_errors_name_the_layer_and_argument(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_call_time_errors():
    with pytest.raises(ValueError, match=r"DepthToSpace.*multiple of block_size\*\*2 = 4.*\(1, 2, 2, 3\)"):
        layers.DepthToSpace(2)(np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match=r"Resizing.*output would be empty"):
        layers.Resizing(scale_factor=0.1)(np.zeros((1, 4, 4, 1)))
    with pytest.raises(TypeError, match=r"SubPixelConv2D.*`strides` is not supported"):
        layers.SubPixelConv2D(2, 3, strides=2)


# ---------------------------------------------------------------- every weight-free upsampler
SHAPE_CASES = [
    ("upsampling_nearest_2x3", lambda **kw: layers.UpSampling2D((2, 3), **kw, **F64), 4),
    ("upsampling_bilinear_3x2",
     lambda **kw: layers.UpSampling2D((3, 2), interpolation="bilinear", **kw, **F64), 4),
    ("blur_2x3", lambda **kw: layers.BlurUpSampling2D((2, 3), **kw, **F64), 4),
    ("depth_to_space_dcr", lambda **kw: layers.DepthToSpace(2, **kw, **F64), 8),
    ("depth_to_space_crd_3", lambda **kw: layers.DepthToSpace(3, mode="CRD", **kw, **F64), 18),
    ("pixel_shuffle", lambda **kw: layers.PixelShuffle(**kw, **F64), 8),
    ("resizing", lambda **kw: layers.Resizing(7, 9, **kw, **F64), 4),
]


@pytest.mark.parametrize("name,make,channels", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_upsamplers_report_their_shape_and_keep_both_layouts(name, make, channels):
    """compute_output_shape is the shape the call returns (a known batch size kept), and
    channels_first gives the channels_last numbers transposed, forward and backward."""
    x = rng.standard_normal((3, 5, 4, channels))
    last, first = make(), make(data_format="channels_first")
    y = last(x)
    assert last.compute_output_shape(x.shape) == y.shape
    assert last.compute_output_shape((None,) + x.shape[1:]) == (None,) + y.shape[1:]
    x_cf = x.transpose(0, 3, 1, 2)
    y_cf = first(x_cf)
    assert first.compute_output_shape(x_cf.shape) == y_cf.shape
    np.testing.assert_allclose(y_cf, y.transpose(0, 3, 1, 2), atol=1e-12)
    model_last = Sequential([layers.Input(x.shape[1:]), make()])
    model_first = Sequential([layers.Input(x_cf.shape[1:]), make(data_format="channels_first")])
    assert model_last.output_shape == (None,) + y.shape[1:]
    dy = rng.standard_normal(y.shape)
    dx = model_last.layers[-1].call_forward(x, False)[1](dy, None)
    dx_cf = model_first.layers[-1].call_forward(x_cf, False)[1](dy.transpose(0, 3, 1, 2), None)
    np.testing.assert_allclose(dx_cf, dx.transpose(0, 3, 1, 2), atol=1e-12)


def test_blur_with_different_sizes_per_axis_is_a_torch_depthwise_transposed_convolution():
    """size (2, 3): each axis its own stride, its own filter gain (the taps scaled to sum the
    stride) and its own front crop (L - s) // 2, against torch's conv_transpose2d."""
    x = rng.standard_normal((2, 5, 4, 3))
    taps = np.array([1, 3, 3, 1.0])
    fh, fw = taps * 2 / taps.sum(), taps * 3 / taps.sum()
    kernel = torch.from_numpy(np.broadcast_to(np.outer(fh, fw), (3, 1, 4, 4)).copy())
    full = F.conv_transpose2d(nchw(x), kernel, stride=(2, 3), groups=3).numpy()  # uncropped
    want = full[:, :, 1:1 + 10, 0:0 + 12].transpose(0, 2, 3, 1)  # crops (4 - 2) // 2 and (4 - 3) // 2
    np.testing.assert_allclose(layers.BlurUpSampling2D((2, 3), **F64)(x), want, atol=1e-12)


def test_layer_defaults():
    assert layers.DepthToSpace().block_size == 2 and layers.DepthToSpace().mode == "DCR"
    assert layers.PixelShuffle().block_size == 2 and layers.PixelShuffle().mode == "CRD"
    assert layers.UpSampling2D().size == (2, 2) and layers.UpSampling2D().interpolation == "nearest"
    assert layers.BlurUpSampling2D().size == (2, 2) and layers.BlurUpSampling2D().filter == (1, 3, 3, 1)


def test_resizing_output_sizes_down_to_one_pixel():
    x = rng.standard_normal((1, 4, 8, 2))
    assert layers.Resizing(scale_factor=(0.25, 0.125), **F64)(x).shape == (1, 1, 1, 2)
    with pytest.raises(ValueError, match="Resizing"):
        layers.Resizing(scale_factor=(0.2, 1.0), **F64)(x)  # floor(4 * 0.2) = 0 rows
    for bad in (0, -1.5, (1.0, 0)):
        with pytest.raises(ValueError, match="scale_factor"):
            layers.Resizing(scale_factor=bad)

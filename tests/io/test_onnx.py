"""ONNX export: ONNX Runtime computes what we compute, for every layer kind, both data formats,
and the DCGAN generators; the graph uses standard operators only."""
import numpy as np
import pytest

from tests.io.zoo import NOT_ON_KERAS_TORCH, OTHER, ZOO, build, dcgan_generator, outputs, randomize
from upsampling import layers
from upsampling.io import onnx_export
from upsampling.models import Model, Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    xs = x if isinstance(x, list) else [x]
    return sess.run(None, {i.name: v for i, v in zip(sess.get_inputs(), xs)})


def _check(model, x, tmp_path, atol=1e-5):
    path = model.export(tmp_path / "m.onnx", format="onnx")
    ours = outputs(model.predict(x, verbose=0))
    theirs = _run(path, x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, atol=atol, rtol=1e-5)
    return onnx.load(str(path))


@pytest.mark.parametrize("name", sorted({**ZOO, **NOT_ON_KERAS_TORCH, **OTHER}))
def test_onnx_runtime_matches_us_for_every_layer_kind(name, tmp_path):
    model, x = build(name)
    proto = _check(model, x, tmp_path)
    assert {op.domain for op in proto.opset_import} == {""}  # the standard operator set only


@pytest.mark.parametrize("upsampler", ["transpose", "nearest", "bilinear"])
def test_dcgan_generators_export_exactly(upsampler, tmp_path):
    model = randomize(dcgan_generator(upsampler), seed=4)
    x = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
    proto = _check(model, x, tmp_path)
    ops = {n.op_type for n in proto.graph.node}
    assert ("ConvTranspose" in ops) == (upsampler == "transpose") and "BatchNormalization" in ops
    assert ("Resize" in ops) == (upsampler != "transpose")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv_transpose_crops_and_groups_for_every_padding_rule(data_format, tmp_path):
    shape = (5, 6, 4) if data_format == "channels_last" else (4, 5, 6)
    x = np.random.default_rng(1).standard_normal((2,) + shape).astype(np.float32)
    for k in (1, 2, 3, 4, 5):
        for s in (1, 2, 3):
            for padding in ("same", "valid"):
                for op in [None] + list(range(s)):
                    model = randomize(Sequential([layers.Input(shape), layers.Conv2DTranspose(
                        4, k, strides=s, padding=padding, output_padding=op, groups=2 if k == 3 else 1,
                        data_format=data_format)]), seed=k * 10 + s)
                    _check(model, x, tmp_path)


def test_unknown_sizes_export_with_dynamic_axes(tmp_path):
    model = randomize(Sequential([layers.Input((None, None, 3)), layers.Conv2D(4, 3, strides=2, padding="same"),
                                  layers.Conv2DTranspose(2, 4, strides=2, padding="same"),
                                  layers.UpSampling2D(interpolation="bilinear")]))
    path = model.export(tmp_path / "m.onnx")
    for hw in ((7, 9), (8, 8)):
        x = np.random.default_rng(2).standard_normal((1,) + hw + (3,)).astype(np.float32)
        np.testing.assert_allclose(_run(path, x)[0], model.predict(x, verbose=0), atol=1e-5, rtol=1e-5)


class Doubler(layers.Layer):
    def call_forward(self, x, training):
        return 2 * x, lambda dy, grads: 2 * dy


def test_a_layer_without_mapping_is_named_and_a_new_mapping_is_one_function(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(2), Doubler(name="doubler")])
    with pytest.raises(ValueError, match=r"layer 'doubler' \(Doubler\) has no ONNX mapping, so the model cannot "
                                         r"be exported"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()

    @onnx_export.register(Doubler)
    def _doubler(g, layer, inputs, shapes):
        two = g.const(np.array(2, np.float32), f"{layer.name}/two")
        return g.op("Mul", [inputs[0], two], layer.name)

    try:
        _check(model, np.ones((2, 3), np.float32), tmp_path)
    finally:
        onnx_export._EXPORTERS.pop(Doubler)


def test_export_refuses_other_formats(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="unsupported format 'tflite'"):
        model.export(tmp_path / "m.tflite", format="tflite")


def _images(data_format, hwc=(5, 6, 8), seed=0):
    h, w, c = hwc
    shape = (h, w, c) if data_format == "channels_last" else (c, h, w)
    return shape, np.random.default_rng(seed).standard_normal((2,) + shape).astype(np.float32)


FORMATS = ["channels_last", "channels_first"]


@pytest.mark.parametrize("data_format", FORMATS)
def test_pixel_shuffles_map_to_depth_to_space_in_their_channel_order(data_format, tmp_path):
    shape, x = _images(data_format)
    for layer, mode in ((layers.DepthToSpace(2, data_format=data_format), "DCR"),
                        (layers.DepthToSpace(2, mode="CRD", data_format=data_format), "CRD"),
                        (layers.PixelShuffle(2, data_format=data_format), "CRD")):
        proto = _check(Sequential([layers.Input(shape), layer]), x, tmp_path)
        (node,) = [n for n in proto.graph.node if n.op_type == "DepthToSpace"]
        assert onnx.helper.get_attribute_value(node.attribute[[a.name for a in node.attribute].index("mode")]) \
            == mode.encode()


@pytest.mark.parametrize("data_format", FORMATS)
def test_subpixel_conv_and_blur_upsampling(data_format, tmp_path):
    shape, x = _images(data_format, (5, 6, 3))
    for mode in ("DCR", "CRD"):
        for padding in ("same", "valid"):
            model = randomize(Sequential([layers.Input(shape), layers.SubPixelConv2D(
                2, 3, scale=2, mode=mode, padding=padding, activation="tanh", data_format=data_format)]), seed=3)
            _check(model, x, tmp_path)
    # symmetric and asymmetric filters, odd and even length - size, different sizes per axis
    for size, taps in (((2, 2), (1, 3, 3, 1)), ((3, 2), (1, 2, 3, 2, 1)), ((2, 3), (1, 4, 2)), (2, (1, 2, 1))):
        proto = _check(Sequential([layers.Input(shape), layers.BlurUpSampling2D(size, taps, data_format=data_format)]),
                       x, tmp_path)
        assert "ConvTranspose" in {n.op_type for n in proto.graph.node}


RESIZE_SIZES = [dict(height=11, width=13), dict(height=4, width=9), dict(scale_factor=(1.5, 2.5)),
                dict(scale_factor=(0.75, 1.25))]
RESIZE_OPTIONS = [dict(interpolation="nearest", coordinate_mode=c, nearest_mode=n)
                  for c in ("half_pixel", "align_corners", "asymmetric")
                  for n in ("round_prefer_ceil", "round_prefer_floor", "floor", "ceil")] + \
    [dict(interpolation="bilinear", coordinate_mode=c) for c in ("half_pixel", "align_corners", "asymmetric")] + \
    [dict(interpolation="bicubic", coordinate_mode=c, cubic_coeff_a=a, exclude_outside=e)
     for c in ("half_pixel", "align_corners", "asymmetric") for a, e in ((-0.5, True), (-0.75, False), (-0.75, True))] + \
    [dict(interpolation=i, antialias=True) for i in ("bilinear", "bicubic")] + \
    [dict(interpolation="bicubic", antialias=True, cubic_coeff_a=-0.75, exclude_outside=False)] + \
    [dict(interpolation=i) for i in ("lanczos3", "lanczos5")]


@pytest.mark.parametrize("data_format", FORMATS)
def test_resizing_matches_for_every_option_set(data_format, tmp_path):
    shape, x = _images(data_format, (7, 6, 2))
    resize_ops = set()
    for options in RESIZE_OPTIONS:
        for size in RESIZE_SIZES:
            proto = _check(Sequential([layers.Input(shape), layers.Resizing(**size, **options,
                                                                            data_format=data_format)]), x, tmp_path)
            if "Resize" in {n.op_type for n in proto.graph.node}:
                resize_ops.add(options["interpolation"])
    assert resize_ops == {"nearest", "bilinear", "bicubic"}  # standard Resize wherever it gives our numbers


def test_resizing_with_unknown_size_exports_as_resize(tmp_path):
    model = Sequential([layers.Input((None, None, 2)), layers.Resizing(6, 5, interpolation="bicubic")])
    path = model.export(tmp_path / "m.onnx")
    for hw in ((3, 4), (5, 2)):  # ONNX Runtime refuses bicubic shrinking, which the known-size export avoids
        x = np.random.default_rng(5).standard_normal((1,) + hw + (2,)).astype(np.float32)
        np.testing.assert_allclose(_run(path, x)[0], model.predict(x, verbose=0), atol=1e-5, rtol=1e-5)
    lanczos = Sequential([layers.Input((None, None, 2)), layers.Resizing(6, 5, interpolation="lanczos3",
                                                                         name="lz")])
    with pytest.raises(ValueError, match="Resizing layer 'lz' .* needs known height and width"):
        lanczos.export(tmp_path / "l.onnx")


@pytest.mark.parametrize("data_format", FORMATS)
def test_merging_layers_with_keras_broadcasting(data_format, tmp_path):
    shape, _ = _images(data_format, (4, 5, 3))
    a, b, c = layers.Input(shape), layers.Input(shape), layers.Input(shape[1:])
    conv = layers.Conv2D(3, 1, data_format=data_format)
    axis = -1 if data_format == "channels_last" else 1
    outs = [layers.Add()([a, b, conv(a)]), layers.Subtract()([a, b]), layers.Multiply()([a, b, b]),
            layers.Average()([a, b, conv(b)]), layers.Maximum()([a, b, conv(a)]), layers.Minimum()([b, a]),
            layers.Concatenate(axis=axis)([a, conv(b), b]), layers.Concatenate(axis=2)([a, b]),
            layers.Add()([a, c]), layers.Multiply()([c, a])]  # lower rank: unit axes after the batch axis
    model = randomize(Model([a, b, c], outs))
    rng = np.random.default_rng(6)
    xs = [rng.standard_normal((2,) + tuple(t.shape[1:])).astype(np.float32) for t in (a, b, c)]
    proto = _check(model, xs, tmp_path)
    assert [i.name for i in proto.graph.input] == [t.node.layer.name for t in (a, b, c)]
    assert len(proto.graph.output) == len(outs)


def test_two_input_conditional_generator(tmp_path):
    latent, label = layers.Input((8,), name="latent"), layers.Input((1,), dtype="int32", name="label")
    li = layers.Reshape((4, 4, 1))(layers.Dense(16)(layers.Flatten()(layers.Embedding(5, 6)(label))))
    gen = layers.Reshape((4, 4, 8))(layers.LeakyReLU(0.2)(layers.Dense(128)(latent)))
    merged = layers.Concatenate()([gen, li])
    up = layers.Conv2DTranspose(8, 4, strides=2, padding="same")(merged)
    up = layers.SubPixelConv2D(4, 3, scale=2)(layers.LeakyReLU(0.2)(up))
    img = layers.Conv2D(1, 7, padding="same", activation="tanh")(layers.Add()([up, layers.UpSampling2D(4)(li)]))
    model = randomize(Model([latent, label], img), seed=7)
    rng = np.random.default_rng(8)
    x = [rng.standard_normal((3, 8)).astype(np.float32), rng.integers(0, 5, (3, 1)).astype(np.int32)]
    proto = _check(model, x, tmp_path)
    assert proto.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT32


def test_lambda_and_custom_layers_are_refused_by_name(tmp_path):
    a = layers.Input((3,))
    model = Model(a, layers.Lambda(lambda t: 2 * t, name="twice")(layers.Dense(3)(a)))
    with pytest.raises(ValueError, match=r"layer 'twice' \(Lambda\) has no ONNX mapping, so the model cannot be "
                                         r"exported \(a Lambda runs arbitrary Python code"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_exports_in_both_float_types(dtype, tmp_path):
    from upsampling.ops.activations import ACTIVATIONS
    rng = np.random.default_rng(3)
    # both signs, the kinks of the piecewise ones, and magnitudes where naive formulas overflow
    edges = [0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 40.0, -40.0, 80.0, -80.0]
    x = np.concatenate([rng.standard_normal((3, 12)) * 2, np.array([edges])]).astype(dtype)
    for name in sorted(ACTIVATIONS):
        model = Sequential([layers.Input((12,)), layers.Activation(name, dtype=dtype)], dtype=dtype)
        path = model.export(tmp_path / f"{name}.onnx", format="onnx")
        ours, theirs = model.predict(x, verbose=0), _run(path, x)[0]
        assert theirs.dtype == np.dtype(dtype) and theirs.shape == ours.shape, name
        np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax", "glu"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_axis_activations_of_conv_layers_act_on_the_output_layout(name, data_format, tmp_path):
    # channels_first: along the width (the last axis of the output), as Keras does; channels_last:
    # along the channels, although the graph computes the convolution in NCHW
    shape = (5, 6, 3) if data_format == "channels_last" else (3, 5, 6)
    x = np.random.default_rng(4).standard_normal((2,) + shape).astype(np.float32)
    kw = dict(padding="same", data_format=data_format, activation=name)
    for layer in (layers.Conv2D(4, 3, **kw), layers.Conv2DTranspose(4, 3, strides=2, **kw),
                  layers.SubPixelConv2D(4, 3, scale=2, **kw)):
        _check(randomize(Sequential([layers.Input(shape), layer]), seed=5), x, tmp_path)

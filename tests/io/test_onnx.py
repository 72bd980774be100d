"""ONNX export: ONNX Runtime computes what we compute, for every layer kind, both data formats,
and the DCGAN generators; the graph uses standard operators only."""
import numpy as np
import pytest

from tests.io.zoo import NOT_ON_KERAS_TORCH, OTHER, ZOO, build, dcgan_generator, outputs, randomize
from upsampling import layers
from upsampling.io import onnx_export
from upsampling.models import Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


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
    with pytest.raises(ValueError, match=r"layer 'doubler' \(Doubler\) has no ONNX mapping"):
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

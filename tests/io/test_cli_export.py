"""`upsampling export MODEL OUT.onnx` (and OUT.keras / OUT.h5) on the command line."""
import numpy as np
import pytest

from tests.io.zoo import dcgan_generator, randomize
from upsampling.cli import main
from upsampling.models import load_model


def test_export_a_saved_generator_to_onnx_and_keras_formats(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("h5py")
    g = randomize(dcgan_generator("bilinear"), seed=2)
    src = g.save(tmp_path / "generator.keras")
    assert main(["export", str(src), str(tmp_path / "g.onnx")]) == 0
    assert "g.onnx" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], g.predict(x, verbose=0), atol=1e-5, rtol=1e-5)
    assert main(["export", str(src), str(tmp_path / "g.h5")]) == 0
    np.testing.assert_array_equal(load_model(tmp_path / "g.h5").predict(x, verbose=0), g.predict(x, verbose=0))


def test_export_errors_are_messages(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "g.onnx")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "junk.keras").write_bytes(b"junk")
    assert main(["export", str(tmp_path / "junk.keras"), str(tmp_path / "g.onnx")]) == 2
    assert "junk.keras: is not a model saved by upsampling or Keras" in capsys.readouterr().err

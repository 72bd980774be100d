"""The Python API fails early and cleanly: size limits at build time, checks before any state changes."""
from __future__ import annotations

import numpy as np
import pytest

from tests.reliability import make_images, png_header_only
from upsampling import shapes
from upsampling.layers import Conv2DTranspose, Dense, Input, UpSampling2D
from upsampling.models import Sequential


@pytest.mark.parametrize("make", [
    lambda: UpSampling2D(size=10**6),
    lambda: UpSampling2D(size=(1, 2**22 + 1), name="wide"),
    lambda: Conv2DTranspose(1, 3, strides=10**6),
    lambda: Conv2DTranspose(4096, 3, strides=256),  # many filters times a large stride
])
def test_outputs_over_the_element_limit_are_refused_when_built(make):
    layer = make()
    with pytest.raises(ValueError, match=rf"{type(layer).__name__} layer '{layer.name}': the output would have "
                                         r"shape .* more than the limit of 268,435,456"):
        Sequential([Input((8, 8, 1)), layer])
    with pytest.raises(ValueError, match="more than the limit"):
        make()(np.zeros((1, 8, 8, 1), np.float32))  # eagerly too, before any array is allocated


def test_the_limit_is_inclusive_and_unknown_axes_do_not_count():
    side = 2 ** 11  # 8 * 2048 squared = 2**28 elements: exactly the limit
    assert shapes.MAX_ELEMENTS == 2 ** 28
    model = Sequential([Input((8, 8, 1)), UpSampling2D(size=side)])
    assert model.output_shape == (None, 8 * side, 8 * side, 1)
    with pytest.raises(ValueError, match="268,435,457 elements per sample"):
        shapes.check_elements((None, 2**28 + 1), "x")
    shapes.check_elements((10**9, 2**28), "x")  # the batch axis does not count
    Sequential([Input((None, None, 1)), UpSampling2D(size=10**6)])  # unknown sizes: checked when they are known


def test_weights_over_the_element_limit_are_refused_before_allocation():
    with pytest.raises(ValueError, match=r"Dense layer 'huge': the weight `kernel` would have shape \(100000, "
                                         r"100000\)"):
        Sequential([Input((100000,)), Dense(100000, name="huge")])


def _model():
    model = Sequential([Input((3,)), Dense(4), Dense(2)])
    model.compile("adam", "mse")
    return model


def test_set_weights_checks_every_array_before_assigning_any():
    model = _model()
    before = model.get_weights()
    bad = [np.ones_like(w) for w in before[:-1]] + [np.ones(5, np.float32)]  # only the last one is wrong
    with pytest.raises(ValueError, match=r"Dense layer .*weight `bias` has shape \(2,\).*\(5,\)"):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_load_weights_of_a_damaged_or_mismatched_file_changes_nothing(tmp_path):
    model = _model()
    before = model.get_weights()
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="junk.npz is not a weights file saved by upsampling, or is damaged"):
        model.load_weights(tmp_path / "junk.npz")
    other = Sequential([Input((3,)), Dense(4), Dense(3)])
    other.save_weights(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="weight `kernel` has shape"):
        model.load_weights(tmp_path / "other.npz")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_predict_and_fit_refuse_data_without_samples_before_running():
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"`predict` needs `x` as an array of shape \(samples, ...\)"):
        model.predict(np.float32(1))
    with pytest.raises(ValueError, match="`fit` needs at least one sample. Received x of shape \\(0, 3\\)"):
        model.fit(np.zeros((0, 3)), np.zeros((0, 2)), verbose=0)
    with pytest.raises(ValueError, match="`fit` needs `y` as an array"):
        model.fit(np.zeros((4, 3)), 1.0, verbose=0)
    assert not model.optimizer.built  # no step was taken
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_image_folders_refuse_huge_images_and_folders_over_the_memory_limit(tmp_path, monkeypatch):
    from upsampling.data import folder as folder_module
    from upsampling.data import load_image_folder
    big = make_images(tmp_path / "big", n=2)
    png_header_only(big / "z.png", 20000, 20000)  # 400 Mpx: Pillow calls this a decompression bomb
    with pytest.raises(ValueError, match="z.png is a possible decompression bomb"):
        load_image_folder(big)
    many = make_images(tmp_path / "many", n=10)
    assert load_image_folder(many).shape == (10, 8, 8, 1)
    monkeypatch.setattr(folder_module, "MAX_FOLDER_BYTES", 9 * 8 * 8 * 4)
    with pytest.raises(ValueError, match="The 10 images .* at 8x8 would need .* pass a smaller image_size"):
        load_image_folder(many)
    assert load_image_folder(many, image_size=4).shape == (10, 4, 4, 1)  # smaller: within the limit

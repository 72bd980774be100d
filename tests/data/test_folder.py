"""A folder of images (recursive) loaded with Pillow into NHWC float32."""
import numpy as np
import pytest
from PIL import Image

from upsampling.data import load_data, load_image_folder


def _gray(seed, shape=(6, 5)):
    a = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    a.flat[0], a.flat[1] = 0, 255
    return a


@pytest.fixture
def folder(tmp_path):
    """b.png and a.bmp at the top, sub/c.png below, plus a file that is not an image."""
    arrays = {"a.bmp": _gray(0), "b.png": _gray(1), "sub/c.png": _gray(2)}
    (tmp_path / "sub").mkdir()
    for name, a in arrays.items():
        Image.fromarray(a).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path, np.stack([arrays[k] for k in sorted(arrays)])


def test_folder_gray_values_and_scales(folder):
    path, expected = folder
    x, y = load_data(path, scale=None)
    assert y is None
    assert x.shape == (3, 6, 5, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[..., 0], expected)
    t, _ = load_data(str(path))
    assert t.min() == -1.0 and t.max() == 1.0
    np.testing.assert_allclose(t[..., 0], expected / 127.5 - 1.0, atol=1e-6)
    s, _ = load_data("folder", path=path, scale="sigmoid", split="all")
    assert s.min() == 0.0 and s.max() == 1.0
    np.testing.assert_allclose(s[..., 0], expected / 255.0, atol=1e-7)


def test_folder_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (4, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "y.png")
    x = load_image_folder(tmp_path, grayscale=False)
    assert x.shape == (2, 4, 7, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[0], rgb)
    np.testing.assert_array_equal(x[1], np.repeat(rgb[..., :1], 3, axis=-1))
    g = load_image_folder(tmp_path, grayscale=True)
    assert g.shape == (2, 4, 7, 1)
    np.testing.assert_array_equal(g[1, ..., 0], rgb[..., 0])


def test_mismatched_size_names_the_file(folder):
    path, _ = folder
    Image.fromarray(_gray(3, (9, 9))).save(path / "sub" / "odd.png")
    with pytest.raises(ValueError, match=r"odd\.png.*9x9.*6x5"):
        load_data(path)


def test_image_size_resizes(folder):
    path, _ = folder
    Image.fromarray(np.full((9, 9), 200, np.uint8)).save(path / "sub" / "odd.png")
    x, _ = load_data(path, image_size=(3, 4), scale=None)
    assert x.shape == (4, 3, 4, 1)
    np.testing.assert_array_equal(x[3], np.full((3, 4, 1), 200.0))  # sub/odd.png sorts last
    x, _ = load_data(path, image_size=8)
    assert x.shape == (4, 8, 8, 1) and -1.0 <= x.min() and x.max() <= 1.0


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No images"):
        load_data(tmp_path)
    Image.fromarray(_gray(0)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="no test split"):
        load_data(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        load_data(str(tmp_path / "does-not-exist"))
    with pytest.raises(ValueError, match="path"):
        load_data("folder")
    with pytest.raises(ValueError, match="image_size"):
        load_data(tmp_path, image_size=(0, 3))
    (tmp_path / "broken.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="broken.png"):
        load_data(tmp_path)

"""Tests for upsampling.plots: value grids, image grids, loss curves (PNG files)."""
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from upsampling.plots import image_grid, loss_curves, value_grids  # noqa: E402


def _open(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()
        return im.copy()


def _no_temp_files(folder):
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]


# --------------------------------------------------------------------------- image_grid


def test_image_grid_exact_pixels_two_images(tmp_path):
    images = np.stack([np.full((2, 2, 1), -1.0), np.full((2, 2, 1), 1.0)])
    path = image_grid(images, tmp_path / "grid.png", rows=1, cols=2)
    assert path == tmp_path / "grid.png"
    im = _open(path)
    assert im.mode == "L"
    assert im.size == (2 + 2 + 2, 2)  # (width, height): two 2-px tiles, one 2-px gap
    px = np.asarray(im)
    expected = np.array([[0, 0, 255, 255, 255, 255]] * 2, dtype=np.uint8)
    np.testing.assert_array_equal(px, expected)
    _no_temp_files(tmp_path)


def test_image_grid_value_mapping_and_gap_value(tmp_path):
    images = np.array([[[[-1.0], [0.0]], [[1.0], [3.0]]], [[[-5.0], [0.5]], [[np.nan], [-0.5]]]])
    path = image_grid(images, tmp_path / "g.png", rows=2, cols=1, gap_value=7)
    px = np.asarray(_open(path))
    assert px.shape == (2 + 2 + 2, 2)
    np.testing.assert_array_equal(px[:2], [[0, 128], [255, 255]])  # 0 -> 127.5 -> 128, 3 clipped
    np.testing.assert_array_equal(px[2:4], [[7, 7], [7, 7]])  # the gap rows
    np.testing.assert_array_equal(px[4:], [[0, 191], [0, 64]])  # clipped, 0.5, NaN -> 0, -0.5


def test_image_grid_layout_scale_and_empty_cells(tmp_path):
    n, h, w = 5, 3, 2
    images = np.stack([np.full((h, w, 1), v) for v in np.linspace(0, 1, n)])
    path = image_grid(images, tmp_path / "sub" / "dir" / "grid.png", value_range=(0, 1), scale=2)
    # Default layout for 5 images: 3 columns x 2 rows.
    im = _open(path)
    th, tw = h * 2, w * 2
    assert im.size == (3 * tw + 2 * 2, 2 * th + 1 * 2)
    px = np.asarray(im)
    for i in range(n):
        r, c = divmod(i, 3)
        tile = px[r * (th + 2):r * (th + 2) + th, c * (tw + 2):c * (tw + 2) + tw]
        assert (tile == round(255 * np.linspace(0, 1, n)[i])).all()
    # Cell 6 (row 1, col 2) is unused: filled with the gap value (white).
    assert (px[th + 2:, 2 * (tw + 2):] == 255).all()
    # Explicit layouts.
    assert _open(image_grid(images, tmp_path / "r.png", rows=5)).size == (w, 5 * h + 4 * 2)
    assert _open(image_grid(images, tmp_path / "c.png", cols=5)).size == (5 * w + 4 * 2, h)
    assert _open(image_grid(images, tmp_path / "rc.png", rows=2, cols=4)).size == (
        4 * w + 3 * 2, 2 * h + 2)


def test_image_grid_rgb(tmp_path):
    images = np.zeros((2, 1, 1, 3))
    images[0, 0, 0] = [1.0, -1.0, 0.0]
    images[1, 0, 0] = [-1.0, -1.0, 1.0]
    im = _open(image_grid(images, tmp_path / "rgb.png", cols=2))
    assert im.mode == "RGB"
    assert im.size == (4, 1)
    px = np.asarray(im)
    np.testing.assert_array_equal(px[0, 0], [255, 0, 128])
    np.testing.assert_array_equal(px[0, 1:3], [[255, 255, 255]] * 2)
    np.testing.assert_array_equal(px[0, 3], [0, 0, 255])


def test_image_grid_overwrites_atomically(tmp_path):
    path = tmp_path / "same.png"
    image_grid(np.zeros((1, 2, 2, 1)), path)
    image_grid(np.ones((4, 2, 2, 1)), path)
    assert _open(path).size == (6, 6)
    _no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "images, kwargs, match",
    [
        (np.zeros((2, 2, 2)), {}, r"image_grid: `images` must be a 4-D \(N, H, W, C\) array. "
                                  r"Received: shape=\(2, 2, 2\)"),
        (np.zeros((1, 2, 2, 2)), {}, r"image_grid: `images` must have C = 1 .* or 3 .*"
                                     r"Received: shape=\(1, 2, 2, 2\)"),
        (np.zeros((0, 2, 2, 1)), {}, r"at least one non-empty image"),
        (np.zeros((3, 2, 2, 1)), {"rows": 1, "cols": 2}, r"`rows \* cols` must be at least .*"
                                                           r"Received: rows=1, cols=2"),
        (np.zeros((3, 2, 2, 1)), {"rows": 0},
         r"`rows` must be a positive integer.*Received: rows=0"),
        (np.zeros((3, 2, 2, 1)), {"scale": 1.5}, r"`scale` must be a positive integer"),
        (np.zeros((3, 2, 2, 1)), {"value_range": (1, 1)},
         r"`value_range` must be finite with lo < hi"),
    ],
)
def test_image_grid_bad_inputs(tmp_path, images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_grid(images, tmp_path / "bad.png", **kwargs)
    assert not (tmp_path / "bad.png").exists()


# --------------------------------------------------------------------------- value_grids


@pytest.mark.parametrize("size", [2, 11, 40])
def test_value_grids_writes_png(tmp_path, size):
    rng = np.random.default_rng(size)
    x = rng.normal(size=(size, size))
    y = np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)
    panels = [(f"input {size}x{size}", x), (f"output {2 * size}x{2 * size}", y)]
    path = value_grids(panels, tmp_path / "nested" / f"vg{size}.png", title="UpSampling2D")
    im = _open(path)
    assert im.size[0] > im.size[1] > 100  # two panels side by side: wider than high
    assert im.size[0] < 3000 and im.size[1] < 3000
    _no_temp_files(path.parent)


def test_value_grids_channels_and_single_panel(tmp_path):
    path = value_grids(
        [("one channel", np.arange(4.0).reshape(2, 2, 1)),
         ("rgb", np.zeros((3, 3, 3))),
         ("constant", np.full((2, 3), 5.0))],
        tmp_path / "c.png", fmt="{:.0f}", shared_scale=False,
    )
    assert _open(path).size[0] > 200
    assert _open(value_grids([("alone", np.eye(3))], tmp_path / "one.png")).size[1] > 50


@pytest.mark.parametrize(
    "panels, kwargs, match",
    [
        ([], {}, r"value_grids: `panels` must be a non-empty list"),
        ([("a", np.zeros((2, 2, 2, 2)))], {},
         r"value_grids: the array of `panels\[0\]` must be a non-empty \(H, W\)"
         r".*Received: shape=\(2, 2, 2, 2\)"),
        ([("a", np.zeros(3))], {}, r"Received: shape=\(3,\)"),
        ([np.zeros((2, 2))], {}, r"every item of `panels` must be a \(title, array\) pair"),
        ([("a", np.zeros((2, 2)))], {"fmt": "{:d}"}, r"`fmt` must be a format string"),
    ],
)
def test_value_grids_bad_inputs(tmp_path, panels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        value_grids(panels, tmp_path / "bad.png", **kwargs)


# --------------------------------------------------------------------------- loss_curves


def test_loss_curves_writes_png(tmp_path):
    rng = np.random.default_rng(0)
    history = {
        "d_loss": list(0.7 + 0.1 * rng.normal(size=300)),
        "g_loss": list(1.5 + 0.3 * rng.normal(size=300)),
        "short": [1.0, 0.5, float("nan"), 0.25],
        "empty": [],
    }
    path = loss_curves(history, tmp_path / "plots" / "loss.png", title="GAN", xlabel="batch")
    im = _open(path)
    assert 400 < im.size[0] < 2000 and 200 < im.size[1] < 1500
    _no_temp_files(path.parent)


def test_loss_curves_accepts_history_object(tmp_path):
    class History:
        history = {"loss": [3.0, 2.0, 1.0]}

    assert _open(loss_curves(History(), tmp_path / "h.png")).size[0] > 400


@pytest.mark.parametrize(
    "history, match",
    [
        ({}, r"loss_curves: `history` must be a non-empty dict"),
        ([1, 2, 3], r"loss_curves: `history` must be a non-empty dict"),
        ({"loss": [[1, 2], [3, 4]]}, r"must be a 1-D list of numbers. Received: history\['loss'\]"),
        ({"loss": ["a", "b"]}, r"must be a 1-D list of numbers"),
    ],
)
def test_loss_curves_bad_inputs(tmp_path, history, match):
    with pytest.raises(ValueError, match=match):
        loss_curves(history, tmp_path / "bad.png")

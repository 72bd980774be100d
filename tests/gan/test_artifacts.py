"""Checkerboard metrics: zero / infinite where theory says so, large for a 3x3 stride-2 transposed
convolution, and the definitions checked against direct computations."""
import math

import numpy as np
import pytest

from upsampling import layers
from upsampling.gan.artifacts import (fractional_shift, generator_metrics, measure_upsamplers, phase_disparity,
                                      probe_inputs, shift_equivariance_psnr, spectral_peak_ratio)
from upsampling.models import Sequential
from upsampling.random import set_random_seed

rng = np.random.default_rng(5)


def nearest(x, s=2):
    return np.repeat(np.repeat(x, s, axis=1), s, axis=2)


def transpose_k3s2(seed=0, channels=4):
    set_random_seed(seed)
    model = Sequential([layers.Input((12, 12, channels)),
                        layers.Conv2DTranspose(channels, 3, strides=2, padding="same", **dict(dtype="float64"))])
    return lambda x: model.predict(x, verbose=0)


@pytest.mark.parametrize("s", [2, 3])
def test_nearest_upsampling_has_zero_disparity_and_zero_alias_power_for_any_input(s):
    x = rng.standard_normal((3, 6, 5, 2))
    y = nearest(x, s)
    assert phase_disparity(y, s) == 0.0
    assert spectral_peak_ratio(y, s) == 0.0
    const = np.full((1, 6, 6, 2), 3.0)
    assert shift_equivariance_psnr(lambda a: nearest(a, s), const, s) == math.inf


def test_checkerboard_free_layers_give_inf_psnr_on_a_constant_map():
    x = np.ones((1, 12, 12, 3))
    for layer in (layers.UpSampling2D(interpolation="bilinear", dtype="float64"),
                  layers.BlurUpSampling2D(dtype="float64"),
                  layers.SubPixelConv2D(3, 3, kernel_initializer="icnr", dtype="float64")):
        fn = lambda a, layer=layer: layer(a)  # noqa: E731
        y = fn(x)
        assert phase_disparity(y, 2, margin=4) == 0.0, layer.name
        assert spectral_peak_ratio(y, 2, margin=4) == 0.0, layer.name
        assert shift_equivariance_psnr(fn, x, 2, margin=4) == math.inf, layer.name


def test_k3s2_transposed_convolution_scores_badly():
    fn = transpose_k3s2()
    x = np.ones((1, 12, 12, 4))
    y = fn(x)
    assert phase_disparity(y, 2, margin=4) > 0.99  # the interior is a pure 2-periodic pattern
    # all non-DC power of the 16x16 interior sits in the 3 alias bins: (16*16 - 1) / 3 = 85, the maximum
    assert spectral_peak_ratio(y, 2, margin=4) == pytest.approx(85.0)
    assert shift_equivariance_psnr(fn, x, 2, margin=4) < 15
    # a smooth input: still clearly worse than bilinear upsampling
    xs = probe_inputs("smooth", (1, 12, 12, 4))
    bil = layers.UpSampling2D(interpolation="bilinear", dtype="float64")
    assert phase_disparity(fn(xs), 2, margin=4) > 10 * phase_disparity(bil(xs), 2, margin=4)
    assert shift_equivariance_psnr(fn, xs, 2, margin=4) < shift_equivariance_psnr(bil, xs, 2, margin=4) - 10


def test_phase_disparity_definition():
    # a pure periodic pattern -> 1; pattern + noise -> between / (between + within) from the formulas
    pattern = np.tile(np.array([[1.0, -1.0], [0.5, 2.0]]), (4, 4))
    assert phase_disparity(pattern, 2) == pytest.approx(1.0)
    noise = rng.standard_normal((8, 8))
    y = pattern + noise
    means = np.array([[y[a::2, b::2].mean() for b in range(2)] for a in range(2)])
    assert phase_disparity(y, 2) == pytest.approx(means.var() / y.var())
    # a margin drops whole blocks: the border rows no longer count
    edge = np.zeros((12, 12))
    edge[1] = 5.0  # one bright border row, in phase 1
    assert phase_disparity(edge, 2, margin=2) == 0.0 and phase_disparity(edge, 2) > 0


def test_spectral_peak_ratio_definition():
    y = rng.standard_normal((2, 8, 12, 1))
    p = (np.abs(np.fft.fft2(y - y.mean(axis=(1, 2), keepdims=True), axes=(1, 2))) ** 2).mean(axis=(0, 3))
    alias = (p[0, 6] + p[4, 0] + p[4, 6]) / 3
    assert spectral_peak_ratio(y, 2) == pytest.approx(alias / ((p.sum() - p[0, 0]) / (8 * 12 - 1)))
    white = rng.standard_normal((64, 16, 16, 1))
    assert 0.7 < spectral_peak_ratio(white, 2) < 1.3


def test_fractional_shift_moves_content_and_keeps_constants():
    x = rng.standard_normal((1, 10, 10, 1))
    shifted = fractional_shift(x, 2, 3)
    np.testing.assert_allclose(shifted[0, 4:8, 5:8], x[0, 2:6, 2:5], atol=1e-9)  # interior integer shift
    np.testing.assert_allclose(fractional_shift(np.full((1, 5, 5, 2), 7.0), 0.25, 0.5), 7.0, atol=1e-12)


def test_generator_metrics_and_upsampler_measurements():
    from upsampling.gan.dcgan import make_generator
    set_random_seed(0)
    gen = make_generator(latent_dim=8, image_shape=(16, 16, 1), upsampler="nearest", filters=4, batchnorm=False)
    m = generator_metrics(gen, n=8)
    assert m["factor"] == 4 and 0 <= m["phase_disparity"] <= 1 and m["spectral_peak_ratio"] >= 0
    rows = measure_upsamplers(("transpose3", "nearest", "subpixel_icnr"), seeds=range(2), channels=2, size=12)
    assert len(rows) == 3 * 2 * 2
    const = {r["upsampler"]: r for r in rows if r["probe"] == "constant" and r["seed"] == 1}
    assert const["nearest"]["eq_psnr"] == math.inf and const["subpixel_icnr"]["phase_disparity"] == 0.0
    assert const["transpose3"]["phase_disparity"] > 0.9


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"phase_disparity: `factor` must be a positive integer.*factor=0"):
        phase_disparity(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match=r"spectral_peak_ratio: after removing a margin of 4 pixels"):
        spectral_peak_ratio(np.zeros((6, 6)), 2, margin=4)
    with pytest.raises(ValueError, match=r"phase_disparity: the output contains NaN"):
        phase_disparity(np.full((4, 4), np.nan), 2)


def test_artifacts_command_writes_markdown_csv_and_png(tmp_path, capsys):
    from upsampling.cli import main
    from upsampling.gan.dcgan import make_generator
    set_random_seed(0)
    gen = make_generator(latent_dim=8, image_shape=(16, 16, 1), upsampler="blur", filters=4)
    gen.save(tmp_path / "g.model")
    assert main(["artifacts", "--upsamplers", "transpose3", "nearest", "blur", "--seeds", "3", "--channels", "2",
                 "--size", "12", "--generators", str(tmp_path / "g.model"), "--out", str(tmp_path)]) == 0
    md = (tmp_path / "artifacts.md").read_text()
    assert "`transpose3`" in md and "| constant | 3 | 1 ± " in md and "## Trained generators" in md
    rows = (tmp_path / "artifacts.csv").read_text().splitlines()
    assert rows[0] == "upsampler,probe,seed,phase_disparity,spectral_peak_ratio,eq_psnr" and len(rows) == 1 + 3 * 3 * 2 + 1
    assert (tmp_path / "artifacts.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["artifacts", "--seeds", "0", "--out", str(tmp_path)]) == 2  # no seeds: a message, exit 2
    assert "error:" in capsys.readouterr().err

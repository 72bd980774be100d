"""`upsampling explain`: the shape arithmetic, zero insertion, overlap counts and PyTorch calls,
checked against the layers themselves and against PyTorch."""
import json

import numpy as np
import pytest

from upsampling import layers
from upsampling.cli import main
from upsampling.explain import LAYERS


def run_json(capsys, *args):
    assert main(["explain", *args, "--json", "--no-image"]) == 0
    return json.loads(capsys.readouterr().out)


def test_k3_s2_same_is_uneven_and_has_no_single_torch_call(capsys):
    r = run_json(capsys, "Conv2DTranspose", "--kernel", "3", "--strides", "2", "--padding", "same", "--input", "5x5")
    rows = r["axes"][0]
    assert (rows["full"], rows["crop_before"], rows["crop_after"], rows["output"]) == (11, 0, 1, 10)
    assert rows["overlap_counts"] == [1, 1, 2, 1, 2, 1, 2, 1, 2, 1] and r["uneven_overlap"]
    assert not r["pytorch"]["exists"] and "shifted by 1 pixel" in r["pytorch"]["why_not"][0]
    zero = np.array(r["arrays"]["zero-inserted and padded input"])
    assert zero.shape == (12, 12) and zero[2, 2] == 1 and zero[2, 4] == 2 and zero[3].sum() == 0
    # the overlap map is what a ones kernel makes of a ones input
    layer = layers.Conv2DTranspose(1, 3, strides=2, padding="same", kernel_initializer="ones", use_bias=False)
    np.testing.assert_array_equal(layer(np.ones((1, 5, 5, 1)))[0, :, :, 0],
                                  np.array(r["arrays"]["overlap counts (taps per output pixel)"]))


@pytest.mark.parametrize("args", [
    ["--kernel", "4", "--strides", "2", "--input", "4x3"],
    ["--kernel", "3", "--strides", "3", "--padding", "valid", "--output-padding", "2", "--input", "3x2"],
    ["--kernel", "3", "--strides", "2", "--padding", "valid", "--groups", "2", "--input", "3x3"],
    ["--kernel", "2", "--strides", "1", "--dilation", "2", "--padding", "valid", "--input", "3x4"],
    ["--kernel", "4", "--strides", "2", "--padding", "same", "--output-padding", "0", "--input", "3x3"],
])
def test_the_pytorch_call_it_prints_gives_the_same_numbers(capsys, args):
    torch = pytest.importorskip("torch")
    r = run_json(capsys, "Conv2DTranspose", *args)
    assert r["pytorch"]["exists"], r["pytorch"]
    cfg = r["config"]
    groups = cfg.get("groups", 1)
    c = r["channels"]
    layer = layers.Conv2DTranspose(cfg["filters"], cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
                                   output_padding=cfg["output_padding"], dilation_rate=cfg["dilation_rate"],
                                   groups=groups, dtype="float64")
    x = np.random.default_rng(0).standard_normal((1, *r["input"], c))
    y = layer(x)
    assert list(y.shape[1:]) == r["output"]
    module = eval(r["pytorch"]["call"], {"torch": torch}).double()  # the printed call, run as printed
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(layer.get_weights()[0].transpose(3, 2, 0, 1)))
        want = module(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y - layer.get_weights()[1], want, atol=1e-12)  # bias=False in the call


def test_when_no_call_exists_the_closest_one_plus_slicing_is_right(capsys):
    """Keras's 'same' with output_padding crops more at the end than in front (here 1 and 2):
    PyTorch's symmetric padding cannot, so explain offers padding=front then a slice."""
    torch = pytest.importorskip("torch")
    r = run_json(capsys, "Conv2DTranspose", "--kernel", "5", "--strides", "2", "--padding", "same",
                 "--output-padding", "1", "--input", "3x3")
    assert not r["pytorch"]["exists"]
    assert (r["axes"][0]["crop_before"], r["axes"][0]["crop_after"]) == (1, 2)
    layer = layers.Conv2DTranspose(1, 5, strides=2, padding="same", output_padding=1, use_bias=False, dtype="float64")
    x = np.random.default_rng(1).standard_normal((1, 3, 3, 1))
    y = layer(x)
    closest = r["pytorch"]["closest"].split(" then ")[0]
    module = eval(closest, {"torch": torch}).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(layer.get_weights()[0].transpose(3, 2, 0, 1)))
        full = module(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(full[:, :6, :6], y, atol=1e-12)


def test_k4_s2_overlap_is_even_away_from_the_border(capsys):
    r = run_json(capsys, "Conv2DTranspose", "--kernel", "4", "--strides", "2", "--input", "4x4")
    assert r["axes"][0]["overlap_counts"] == [1, 2, 2, 2, 2, 2, 2, 1] and not r["uneven_overlap"]
    assert r["pytorch"]["call"].startswith("torch.nn.ConvTranspose2d(1, 1, kernel_size=(4, 4), stride=(2, 2), "
                                           "padding=(1, 1), output_padding=(0, 0)")


@pytest.mark.parametrize("layer", LAYERS)
def test_every_upsampling_layer_is_explained_with_a_png(tmp_path, capsys, layer):
    extra = ["--scale-factor", "1.5"] if layer == "Resizing" else []
    png = tmp_path / f"{layer}.png"
    assert main(["explain", layer, "--input", "3x4", "--out", str(png), *extra]) == 0
    out = capsys.readouterr().out
    assert "PyTorch:" in out and f"picture: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run_json(capsys, layer, "--input", "3x4", *extra)
    assert r["layer"] == layer and len(r["steps"]) >= 2 and r["arrays"]


def test_blur_reports_phase_gains(capsys):
    r = run_json(capsys, "BlurUpSampling2D", "--input", "4x4", "--filter", "1,2,3,2,1")
    assert any("UNEQUAL" in s for s in r["steps"])
    r = run_json(capsys, "BlurUpSampling2D", "--input", "4x4")
    assert any("no checkerboard" in s for s in r["steps"]) and r["pytorch"]["exists"]


def test_resizing_pytorch_mapping(capsys):
    r = run_json(capsys, "Resizing", "--target", "7x9", "--interpolation", "bicubic", "--cubic-coeff-a", "-0.75",
                 "--clamp-edges")
    assert r["pytorch"]["call"] == "torch.nn.functional.interpolate(x, size=(7, 9), mode='bicubic', align_corners=False)"
    r = run_json(capsys, "Resizing", "--target", "7x9", "--interpolation", "lanczos3")
    assert not r["pytorch"]["exists"]


@pytest.mark.parametrize("args,pattern", [
    (["Dense"], r"unknown layer 'Dense'"),
    (["Conv2DTranspose", "--input", "0x3"], r"`--input` must be HxW"),
    (["Conv2DTranspose", "--strides", "2", "--output-padding", "2"], r"output_padding.*strictly less than .strides."),
    (["Resizing"], r"exactly one of `--target HxW` or `--scale-factor S`"),
    (["DepthToSpace", "--channels", "3"], r"channels divisible by block\*\*2 = 4"),
])
def test_bad_arguments_give_a_message_and_exit_code_2(capsys, args, pattern):
    assert main(["explain", *args, "--no-image"]) == 2
    import re
    assert re.search(pattern, capsys.readouterr().err)

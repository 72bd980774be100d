"""`upsampling demo` runs every tutorial example and writes one picture per example."""
from PIL import Image

from upsampling.cli import main


def test_demo_prints_every_example_and_writes_pngs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 8
    for p in tmp_path.glob("*.png"):
        with Image.open(p) as im:
            assert im.size[0] > 300 and im.size[1] > 200
    assert out.count("=== ") == 8
    assert "Total params: 324,353 (1.24 MB)" in out                 # the UpSampling2D generator
    assert "(None, 4, 6, 1)" in out                                 # size=(2, 3)
    assert "[[1.   1.25 1.75 2.  ]" in out                          # bilinear, Keras 3 numbers
    assert "[[1. 0. 2. 0.]\n [0. 0. 0. 0.]\n [3. 0. 4. 0.]\n [0. 0. 0. 0.]]" in out  # zeros inserted
    assert "Total params: 2 (8.00 B)" in out
    assert "(None, 11, 11, 1)" in out                               # 3x3 stride 2 valid: 5x5 -> 11x11
    assert "[[ 0.5  -1.    1.   -2.  ]" in out                     # scaled kernel copies, tiled
    assert str(tmp_path.resolve()) in out


def test_demo_without_images(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--no-images"]) == 0
    assert not list(tmp_path.glob("*.png"))
    assert "Model: \"sequential\"" in capsys.readouterr().out

"""`upsampling train / generate / evaluate` end to end on the small digits set."""
import numpy as np
from PIL import Image

from upsampling.cli import main


def test_train_resume_generate_evaluate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("UPSAMPLING_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    common = ["train", "--data", "digits", "--upsampler", "bilinear", "--filters", "8", "--latent-dim", "8",
              "--batch-size", "64", "--epochs", "2", "--out", str(run)]
    # started with --select-best: the resume (without the flag) keeps scoring and choosing
    assert main(common + ["--max-steps", "30", "--select-best"]) == 0
    assert (run / "checkpoint.npz").exists() and not (run / "generator.keras").exists()
    assert main(common + ["--resume"]) == 0
    out = capsys.readouterr().out
    assert "Resuming at epoch" in out and "d_loss" in out and "g_loss" in out
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]
    assert "score:" in out and "the best score" in out  # epochs scored, the best one kept
    assert (run / "generator_best.keras").exists() and (run / "generator_last.keras").exists()
    with Image.open(run / "losses.png") as im:
        assert im.size[0] > 200

    grid = tmp_path / "grid.png"
    assert main(["generate", str(run / "generator.keras"), "--n", "16", "--out", str(grid),
                 "--npy", str(tmp_path / "x.npy")]) == 0
    images = np.load(tmp_path / "x.npy")
    assert images.shape == (16, 8, 8, 1) and images.min() >= -1 and images.max() <= 1
    with Image.open(grid) as im:
        assert im.size == (4 * 16 + 3 * 2, 4 * 16 + 3 * 2)  # 4x4 tiles of 8x8 at scale 2, 2 px gaps

    assert main(["evaluate", str(run / "generator.keras"), "--data", "digits", "--n", "200", "--baselines"]) == 0
    out = capsys.readouterr().out
    for row in ("generator", "real (train vs held-out)", "untrained generator"):
        assert row in out
    assert (tmp_path / "cache" / "classifiers" / "digits.model").exists()


def test_train_keeps_the_last_epoch_unless_asked_to_select(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("UPSAMPLING_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--filters", "8", "--latent-dim", "8", "--epochs", "2",
                 "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "score:" not in out and "best score" not in out  # nothing scored: no classifier trained
    assert (run / "generator.keras").exists() and not (run / "generator_best.keras").exists()
    assert not (tmp_path / "cache" / "classifiers").exists()


def test_train_refuses_a_resume_with_other_settings(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--filters", "8", "--latent-dim", "8", "--max-steps", "1", "--out", str(run)]
    assert main(args) == 0
    assert main(args + ["--upsampler", "nearest", "--resume"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(args + ["--architecture", "tutorial", "--resume"]) == 2
    assert "'architecture': ('dcgan', 'tutorial')" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err

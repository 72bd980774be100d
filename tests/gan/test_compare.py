"""`upsampling compare`: every upsampler trained and scored alike, resumable per upsampler."""
import json

import pytest

from upsampling.cli import main
from upsampling.gan.compare import CompareConfig, run_compare, run_folder
from upsampling.gan.dcgan import UPSAMPLERS, make_generator

SMALL = dict(data="digits", seeds=(0,), epochs=1, batch_size=128, latent_dim=8, filters=4, select_best=False,
             eval_n=100)


@pytest.mark.parametrize("upsampler", UPSAMPLERS)
def test_every_generator_upsampler_builds_and_doubles_twice(upsampler):
    gen = make_generator(8, (12, 16, 1), upsampler, filters=4)
    assert gen.output_shape == (None, 12, 16, 1)


def test_compare_trains_scores_and_resumes_per_upsampler(tmp_path, capsys):
    from upsampling.gan.trainer import GANTrainer, TrainConfig
    cfg = CompareConfig(upsamplers=("subpixel_icnr",), **SMALL)
    first = run_compare(tmp_path, cfg, verbose=0)
    done = run_folder(tmp_path, "subpixel_icnr", 0) / "result.json"
    stamp = done.stat().st_mtime_ns
    # an interrupted second upsampler: a checkpoint after 3 steps, made as compare makes its runs
    partial = TrainConfig(data="digits", upsampler="blur", epochs=1, batch_size=128, latent_dim=8, filters=4, seed=0,
                          max_steps=3)
    GANTrainer(partial, run_folder(tmp_path, "blur", 0), verbose=0).train()
    results = run_compare(tmp_path, CompareConfig(upsamplers=("subpixel_icnr", "blur"), **SMALL), verbose=0)
    assert done.stat().st_mtime_ns == stamp and results[0] == first[0]  # not redone
    blur = results[1]
    timing = json.loads((run_folder(tmp_path, "blur", 0) / "timing.json").read_text())
    assert timing["steps"] == blur["steps"] - 3  # continued from the checkpoint
    for key in ("fd", "kid", "classes_covered", "phase_disparity", "spectral_peak_ratio", "eq_psnr",
                "seconds_per_step"):
        assert isinstance(blur[key], float) or isinstance(blur[key], int), key
    md = (tmp_path / "compare.md").read_text()
    assert "`subpixel_icnr`" in md and "`blur`" in md and "(a) phase disp." in md
    assert (tmp_path / "compare.csv").read_text().count("\n") == 3
    assert (tmp_path / "compare.png").exists() and (tmp_path / "compare_samples.png").exists()
    with pytest.raises(ValueError, match=r"compare: .* other settings .*'filters': \(4, 8\)"):
        run_compare(tmp_path, CompareConfig(upsamplers=("blur",), **{**SMALL, "filters": 8}), verbose=0)


def test_cli_reports_bad_settings_with_exit_code_2(tmp_path, capsys):
    (tmp_path / "settings.json").write_text(json.dumps({"data": "mnist5k", "epochs": 99}))
    assert main(["compare", "--out", str(tmp_path), "--upsamplers", "blur", "--seeds", "0"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_minutes_budget_stops_every_run_at_the_same_training_time(tmp_path):
    # 40 epochs of digits would take far longer than the 1.5 s budget: the run stops at the budget,
    # writes its generator, and a second call does not train it further (the time is spent)
    cfg = CompareConfig(upsamplers=("nearest",), **{**SMALL, "epochs": 40}, minutes=0.025)
    first = run_compare(tmp_path, cfg, verbose=0)
    timing = json.loads((run_folder(tmp_path, "nearest", 0) / "timing.json").read_text())
    steps_per_epoch = 1437 // 128  # sklearn's 1,797 digits less the held-out 360, in batches of 128
    assert 0 < timing["steps"] < 40 * steps_per_epoch and first[0]["steps"] == timing["steps"]
    assert timing["seconds"] < 1.5 + 5.0  # stopped near the budget (one step and the saves past it)
    (run_folder(tmp_path, "nearest", 0) / "result.json").unlink()  # forces a re-check of the run
    again = run_compare(tmp_path, cfg, verbose=0)
    assert again[0]["steps"] == first[0]["steps"]


@pytest.mark.parametrize("minutes", [0, -1.0, float("nan"), True])
def test_a_minutes_budget_must_be_positive(tmp_path, minutes):
    with pytest.raises(ValueError, match=r"compare: `minutes` .* must be a positive number"):
        run_compare(tmp_path, CompareConfig(upsamplers=("nearest",), **SMALL, minutes=minutes), verbose=0)


@pytest.mark.parametrize("setting, value, message", [("ema", 1.5, "--ema must be a decay"),
                                                      ("architecture", "keras", "--architecture must be one of"),
                                                      ("batch_size", 1, "--batch-size must be")])
def test_bad_settings_are_refused_before_the_comparison_records_them(tmp_path, setting, value, message):
    cfg = CompareConfig(data="digits", upsamplers=("nearest",), seeds=(0,), **{setting: value})
    with pytest.raises(ValueError, match=message):
        run_compare(tmp_path / "cmp", cfg, verbose=0)
    assert not (tmp_path / "cmp" / "settings.json").exists()  # a corrected rerun is not locked out

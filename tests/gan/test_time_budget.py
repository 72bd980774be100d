"""`--time-budget` stops a run as if it had finished (checkpoint, samples, best generator) and the run
resumes exactly; the ETA covers the whole run. Time is a fake clock advanced by each step."""
import types

import numpy as np
import pytest

from upsampling.gan import trainer as trainer_module
from tests.gan.test_trainer import _config as trainer_config
from upsampling.gan.trainer import GANTrainer
from upsampling.models import load_model
from upsampling.progress import RunEstimate, format_duration


@pytest.fixture(scope="module")
def digits():
    from upsampling.data import load_data
    return load_data("digits", split="train", scale="tanh")[0][:192]  # 8x8 images, 6 steps an epoch


class FakeClock:
    """Stands in for the trainer's `time` module: each training step takes `step_seconds`."""

    def __init__(self, step_seconds=1.0):
        self.now, self.step_seconds = 1000.0, step_seconds

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=fake.perf_counter))
    original = GANTrainer.train_step

    def timed_step(self, real):
        logs = original(self, real)
        fake.now += fake.step_seconds
        return logs

    monkeypatch.setattr(GANTrainer, "train_step", timed_step)
    return fake


def _config(**kw):
    return trainer_config(**{"epochs": 3, "seed": 5, **kw})


def _score(generator):
    """A deterministic stand-in for the classifier FD."""
    return float(np.abs(generator.get_weights()[0]).mean() * 100 % 7)


def test_time_budget_stops_with_checkpoint_and_best_generator_and_resumes_exactly(tmp_path, digits, clock):
    full = GANTrainer(_config(), tmp_path / "full", images=digits, verbose=0, scorer=_score)
    full.train()
    assert full.stopped_by is None and full.step == 18
    # 10 s of budget at 1 s a step: the 11th step would end after the budget, so 10 steps run
    # (epoch 1 whole, 4 of epoch 2's 6 batches).
    run = GANTrainer(_config(time_budget=10 / 60), tmp_path / "run", images=digits, verbose=0, scorer=_score)
    run.train()
    assert run.stopped_by == "time_budget"
    assert (run.epoch, run.batch, run.step) == (1, 4, 10)
    out = tmp_path / "run"
    assert (out / "checkpoint.npz").exists() and (out / "samples" / "epoch_001_step_000010.png").exists()
    assert run.scores == full.scores[:1] and run.best_epoch == 1
    kept = load_model(out / "generator.keras")  # the best (only) scored epoch
    for a, b in zip(kept.get_weights(), load_model(out / "generator_best.keras").get_weights()):
        np.testing.assert_array_equal(a, b)
    last = load_model(out / "generator_last.keras")  # where the budget stopped (the weight average)
    for a, b in zip(last.get_weights(), run.sampled_generator().get_weights()):
        np.testing.assert_array_equal(a, b)
    assert run.elapsed == pytest.approx(10.0)

    resumed = GANTrainer(_config(), out, images=digits, verbose=0, scorer=_score)
    resumed.load_checkpoint()
    assert resumed.step == 10 and resumed.elapsed == pytest.approx(10.0)
    resumed.train()
    assert resumed.stopped_by is None and resumed.scores == full.scores and resumed.best_epoch == full.best_epoch
    for a, b in zip(resumed.generator.get_weights() + resumed.discriminator.get_weights(),
                    full.generator.get_weights() + full.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.history == full.history
    assert resumed.elapsed == pytest.approx(18.0)  # the time of both invocations


def test_time_budget_without_a_scorer_keeps_the_current_generator(tmp_path, digits, clock):
    run = GANTrainer(_config(time_budget=4.5 / 60), tmp_path / "run", images=digits, verbose=0)
    run.train()
    assert run.stopped_by == "time_budget" and run.step == 4
    saved = load_model(tmp_path / "run" / "generator.keras")
    for a, b in zip(saved.get_weights(), run.sampled_generator().get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_eta_covers_the_whole_run_and_the_time_budget(tmp_path, digits, clock, capsys):
    clock.step_seconds = 2.0
    GANTrainer(_config(), tmp_path / "a", images=digits, verbose=1).train()
    out = capsys.readouterr().out
    # after epoch 1: 12 steps left at 2 s each (the epoch ends cost no fake time)
    assert "[12s so far, run ETA 24s]" in out
    assert "[24s so far, run ETA 12s]" in out and "[36s so far, run ETA 0s]" in out
    assert "- run ETA 24s" in out  # the progress bar's line carries it too
    GANTrainer(_config(time_budget=0.5), tmp_path / "b", images=digits, verbose=1).train()  # 30 s < 36 s
    out = capsys.readouterr().out
    assert "[12s so far, run ETA 18s (time budget)]" in out
    assert "Time budget of 0.5 min reached after 15 steps (epoch 3/3, batch 3/6)" in out


def test_run_estimate_leaves_out_the_first_step_and_adds_epoch_ends():
    est = RunEstimate()
    assert est.remaining(10, 1) is None
    est.add_step(5.0)  # warm-up
    assert est.remaining(10, 0) == 50.0
    est.add_step(1.0)
    est.add_step(2.0)
    est.add_epoch_end(4.0)
    assert est.step_seconds == 1.5 and est.remaining(10, 2) == 10 * 1.5 + 2 * 4.0
    assert [format_duration(s) for s in (0.4, 59.6, 185, 3725)] == ["0s", "1m00s", "3m05s", "1h02m"]


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True])
def test_time_budget_must_be_positive_minutes(tmp_path, digits, value):
    with pytest.raises(ValueError, match="--time-budget must be a positive number of minutes"):
        GANTrainer(_config(time_budget=value), tmp_path / "run", images=digits, verbose=0)
    assert not (tmp_path / "run").exists()


def test_cli_time_budget_reports_and_resumes(tmp_path, digits, clock, capsys):
    from upsampling.cli import main
    run = tmp_path / "run"
    args = ["train", "--data", "digits", "--filters", "8", "--latent-dim", "8", "--batch-size", "64",
            "--epochs", "2", "--no-select-best", "--out", str(run)]  # 1,437 digits: 22 steps an epoch
    assert main(args + ["--time-budget", str(25 / 60)]) == 0
    out = capsys.readouterr().out
    assert "Stopped at the time budget (0.416667 min) after 25 of 44 steps" in out and "--resume" in out
    assert (run / "generator.keras").exists() and (run / "checkpoint.npz").exists()
    assert main(args + ["--resume"]) == 0
    assert "Finished 44 steps" in capsys.readouterr().out
    assert main(args + ["--overwrite", "--time-budget", "0"]) == 2
    assert "--time-budget must be a positive number of minutes. Received: 0.0" in capsys.readouterr().err

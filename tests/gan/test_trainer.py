"""The DCGAN trainer: resume equals an uninterrupted run, Ctrl-C checkpoints, divergence is caught."""
import numpy as np
import pytest

from upsampling.gan.trainer import GANTrainer, TrainConfig, TrainingDiverged


@pytest.fixture(scope="module")
def digits():
    from upsampling.data import load_data
    return load_data("digits", split="train", scale="tanh")[0][:192]  # 8x8 images, 6 steps an epoch


def _config(**kw):
    base = dict(data="digits", upsampler="transpose", epochs=2, batch_size=32, latent_dim=8, filters=8, seed=3,
                sample_count=16)
    base.update(kw)
    return TrainConfig(**base)


def _weights(trainer):
    average = trainer.average.weights if trainer.average is not None else []
    return trainer.generator.get_weights() + trainer.discriminator.get_weights() + average


def _assert_same_run(a, b):
    assert len(_weights(a)) == len(_weights(b))
    for x, y in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(x, y)
    assert a.history == b.history


@pytest.mark.parametrize("upsampler", ["transpose", "nearest"])
def test_resume_mid_epoch_equals_an_uninterrupted_run(tmp_path, digits, upsampler):
    full = GANTrainer(_config(upsampler=upsampler), tmp_path / "full", images=digits, verbose=0)
    full.train()
    part = GANTrainer(_config(upsampler=upsampler, max_steps=4), tmp_path / "part", images=digits, verbose=0)
    part.train()
    assert part.step == 4 and part.epoch == 0
    resumed = GANTrainer(_config(upsampler=upsampler), tmp_path / "part", images=digits, verbose=0)
    resumed.load_checkpoint()
    resumed.train()
    assert resumed.step == full.step == 12
    _assert_same_run(full, resumed)
    assert (tmp_path / "part" / "generator.keras").exists()
    assert sorted(p.name for p in (tmp_path / "full" / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]
    assert (tmp_path / "full" / "losses.png").exists()


def test_ctrl_c_writes_a_checkpoint_between_steps(tmp_path, digits):
    full = GANTrainer(_config(epochs=1), tmp_path / "full", images=digits, verbose=0)
    full.train()
    run = GANTrainer(_config(epochs=1), tmp_path / "run", images=digits, verbose=0)
    original = run.train_step
    calls = []

    def step_then_interrupt(real):
        logs = original(real)
        calls.append(1)
        if len(calls) == 3:
            run._on_sigint(2, None)  # what Ctrl-C does
        return logs

    run.train_step = step_then_interrupt
    with pytest.raises(KeyboardInterrupt):
        run.train()
    resumed = GANTrainer(_config(epochs=1), tmp_path / "run", images=digits, verbose=0)
    resumed.load_checkpoint()
    assert resumed.step == 3
    resumed.train()
    _assert_same_run(full, resumed)


def test_divergence_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path, digits):
    run = GANTrainer(_config(epochs=1), tmp_path / "run", images=digits, verbose=0)
    run.train()
    saved = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    run.config.epochs = 2
    kernel = run.generator.layers[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 2, step 7.*last good checkpoint"):
        run.train()
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == saved


def test_resume_refuses_other_settings(tmp_path, digits):
    GANTrainer(_config(max_steps=1), tmp_path / "run", images=digits, verbose=0).train()
    other = GANTrainer(_config(upsampler="nearest"), tmp_path / "run", images=digits, verbose=0)
    with pytest.raises(ValueError, match=r"other settings.*upsampler"):
        other.load_checkpoint()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        GANTrainer(_config(), tmp_path / "empty", images=digits, verbose=0).load_checkpoint()


def test_a_checkpoint_from_before_the_architecture_choice_resumes_as_the_tutorial_architecture(tmp_path, digits):
    import json
    old = dict(architecture="tutorial", ema=0.0)
    GANTrainer(_config(max_steps=1, **old), tmp_path / "run", images=digits, verbose=0).train()
    path = tmp_path / "run" / "checkpoint.npz"
    with np.load(path) as z:
        contents = {k: z[k] for k in z.files}
    assert not any(k.startswith("ema_") for k in contents)
    meta = json.loads(contents["meta"].tobytes().decode())
    del meta["config"]["architecture"], meta["config"]["ema"]  # as written before the settings existed
    contents["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **contents)
    with pytest.raises(ValueError, match=r"other settings.*'architecture': \('tutorial', 'dcgan'\).*"
                                         r"'ema': \(0.0, 0.99\).*--architecture tutorial --ema 0"):
        GANTrainer(_config(), tmp_path / "run", images=digits, verbose=0).load_checkpoint()
    resumed = GANTrainer(_config(**old), tmp_path / "run", images=digits, verbose=0)
    resumed.load_checkpoint()
    assert resumed.step == 1 and resumed.average is None


def test_seed_makes_runs_reproducible_and_different_seeds_differ(tmp_path, digits):
    a = GANTrainer(_config(max_steps=3), tmp_path / "a", images=digits, verbose=0)
    b = GANTrainer(_config(max_steps=3), tmp_path / "b", images=digits, verbose=0)
    c = GANTrainer(_config(max_steps=3, seed=4), tmp_path / "c", images=digits, verbose=0)
    for t in (a, b, c):
        t.train()
    _assert_same_run(a, b)
    assert not np.array_equal(a.generator.get_weights()[0], c.generator.get_weights()[0])


def _weight_score(generator):
    """A deterministic stand-in for the classifier FD: any function of the weights will do."""
    return float(np.abs(generator.get_weights()[0]).mean() * 100 % 7)


def test_the_best_scoring_epoch_is_the_saved_generator_and_resume_keeps_the_choice(tmp_path, digits):
    from upsampling.models import load_model
    full = GANTrainer(_config(epochs=3), tmp_path / "full", images=digits, verbose=0, scorer=_weight_score)
    full.train()
    assert len(full.scores) == 3 and full.best_epoch == int(np.argmin(full.scores)) + 1
    chosen = load_model(tmp_path / "full" / "generator.keras")
    assert _weight_score(chosen) == min(full.scores)
    last = load_model(tmp_path / "full" / "generator_last.keras")
    for a, b in zip(last.get_weights(), full.sampled_generator().get_weights()):  # the weight average
        np.testing.assert_array_equal(a, b)
    part = GANTrainer(_config(epochs=3, max_steps=8), tmp_path / "part", images=digits, verbose=0,
                      scorer=_weight_score)
    part.train()
    resumed = GANTrainer(_config(epochs=3), tmp_path / "part", images=digits, verbose=0, scorer=_weight_score)
    resumed.load_checkpoint()
    resumed.train()
    assert resumed.scores == full.scores and resumed.best_epoch == full.best_epoch
    _assert_same_run(full, resumed)


def test_resume_from_max_steps_at_an_epoch_boundary_equals_an_uninterrupted_run(tmp_path, digits):
    """Stopping exactly at the end of an epoch must not draw the next epoch's order before saving
    (the resumed run would draw it again and drift from the uninterrupted one)."""
    full = GANTrainer(_config(), tmp_path / "full", images=digits, verbose=0)
    full.train()
    part = GANTrainer(_config(max_steps=6), tmp_path / "part", images=digits, verbose=0)
    part.train()
    assert (part.epoch, part.batch, part.step) == (1, 0, 6)
    resumed = GANTrainer(_config(), tmp_path / "part", images=digits, verbose=0)
    resumed.load_checkpoint()
    resumed.train()
    _assert_same_run(full, resumed)


def test_a_folder_holding_a_run_is_refused_unless_resumed_or_overwritten(tmp_path, digits):
    GANTrainer(_config(max_steps=2), tmp_path / "run", images=digits, verbose=0).train()
    with pytest.raises(ValueError, match="already holds a run"):
        GANTrainer(_config(), tmp_path / "run", images=digits, verbose=0).train()
    again = GANTrainer(_config(max_steps=2), tmp_path / "run", images=digits, verbose=0, overwrite=True)
    again.train()
    assert again.step == 2


@pytest.mark.parametrize("setting, value, message", [
    ("batch_size", 1, "--batch-size must be an integer >= 2"),
    ("batch_size", 193, "larger than the data set \\(192 images"),
    ("epochs", 0, "--epochs must be an integer >= 1"),
    ("max_steps", -5, "--max-steps must be an integer >= 1"),
    ("learning_rate", float("inf"), "--learning-rate must be a positive number"),
    ("sample_count", 0, "--sample-count must be"),
])
def test_settings_are_checked_before_anything_is_written(tmp_path, digits, setting, value, message):
    with pytest.raises(ValueError, match=message):
        GANTrainer(_config(**{setting: value}), tmp_path / "run", images=digits, verbose=0)
    assert not (tmp_path / "run").exists()

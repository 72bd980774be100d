"""The generator's weight average (upsampling.gan.averaging) and its place in the trainer."""
import numpy as np
import pytest

from upsampling import layers
from upsampling import random as urandom
from upsampling.gan.averaging import WeightAverage, averaged_generator, recompute_batch_norm
from upsampling.gan.trainer import GANTrainer, TrainConfig
from upsampling.models import Sequential, load_model


def test_the_average_follows_the_exponential_moving_average_formula():
    rng = np.random.default_rng(0)
    steps = [rng.standard_normal((3, 2)) for _ in range(6)]
    decay = 0.8
    average = WeightAverage(decay, [steps[0]])
    for w in steps[1:]:
        average.update([w])
    # closed form: decay^n w_0 + sum_k (1 - decay) decay^(n - k) w_k
    n = len(steps) - 1
    expected = decay ** n * steps[0] + sum((1 - decay) * decay ** (n - k) * steps[k] for k in range(1, n + 1))
    np.testing.assert_allclose(average.weights[0], expected, rtol=1e-12)
    assert average.weights[0] is not steps[0]  # a copy, not a view of the first weights


def _dense_then_norm():
    return Sequential([layers.Input((3,)), layers.Dense(4), layers.BatchNormalization(momentum=0.7)])


def test_batch_norm_statistics_are_the_mean_of_the_batch_statistics():
    model = _dense_then_norm()
    kernel, bias = model.layers[0].get_weights()
    batches = [np.random.default_rng(k).standard_normal((50, 3)).astype(np.float32) for k in range(5)]
    recompute_batch_norm(model, batches)
    hidden = [b.astype(np.float64) @ kernel + bias for b in batches]
    _, _, mean, var = model.layers[1].get_weights()
    np.testing.assert_allclose(mean, np.mean([h.mean(0) for h in hidden], axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, np.mean([h.var(0) for h in hidden], axis=0), rtol=1e-5)
    assert model.layers[1].momentum == 0.7  # restored


def test_the_averaged_copy_has_the_weights_and_leaves_the_random_stream_alone():
    urandom.set_random_seed(3)
    model = _dense_then_norm()
    weights = [np.full_like(w, 0.5) for w in model.get_weights()]
    state = urandom.get_state()
    copy = averaged_generator(model, weights, [np.ones((4, 3), np.float32)])
    assert urandom.get_state() == state  # building the copy drew nothing from the shared stream
    assert copy is not model
    for a, b in zip(copy.get_weights()[:4], weights[:4]):  # kernel, bias, gamma, beta
        np.testing.assert_array_equal(a, b)
    assert averaged_generator(model, weights, [np.ones((4, 3), np.float32)], into=copy) is copy


@pytest.fixture(scope="module")
def digits():
    from upsampling.data import load_data
    return load_data("digits", split="train", scale="tanh")[0][:128]


def _config(**kw):
    return TrainConfig(**{**dict(data="digits", epochs=1, batch_size=32, latent_dim=8, filters=8, seed=2,
                                 sample_count=4, ema=0.9), **kw})


def test_the_trainer_averages_after_every_step_and_saves_the_average(tmp_path, digits, monkeypatch):
    recorded = []
    step = GANTrainer.train_step

    def recording_step(self, real):
        logs = step(self, real)
        recorded.append(self.generator.get_weights())
        return logs

    monkeypatch.setattr(GANTrainer, "train_step", recording_step)
    trainer = GANTrainer(_config(), tmp_path / "run", images=digits, verbose=0)
    initial = trainer.generator.get_weights()
    trainer.train()
    assert len(recorded) == trainer.step == 4
    for i, w0 in enumerate(initial):
        expected = w0.astype(np.float64)
        for weights in recorded:
            expected = 0.9 * expected + 0.1 * weights[i]
        np.testing.assert_allclose(trainer.average.weights[i], expected, rtol=1e-5, atol=1e-7)
    saved = load_model(tmp_path / "run" / "generator.keras")
    kernel_index = 0  # the Dense kernel: the average, not the last weights
    np.testing.assert_array_equal(saved.get_weights()[kernel_index], trainer.average.weights[kernel_index])
    assert not np.array_equal(saved.get_weights()[kernel_index], trainer.generator.get_weights()[kernel_index])


def test_without_an_average_the_trained_generator_is_saved(tmp_path, digits):
    trainer = GANTrainer(_config(ema=0.0), tmp_path / "run", images=digits, verbose=0)
    trainer.train()
    assert trainer.average is None and trainer.sampled_generator() is trainer.generator
    for a, b in zip(load_model(tmp_path / "run" / "generator.keras").get_weights(), trainer.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ema", [1.0, -0.1, True, "0.9", float("nan")])
def test_the_decay_is_checked(ema):
    with pytest.raises(ValueError, match=r"--ema must be a decay in \[0, 1\)"):
        TrainConfig(ema=ema).validate()


def test_the_statistics_batches_are_fixed_and_distinct(tmp_path, digits):
    a = GANTrainer(_config(), tmp_path / "a", images=digits, verbose=0)
    b = GANTrainer(_config(), tmp_path / "b", images=digits, verbose=0)
    batches = a._statistics_latent
    assert len(batches) == 4 and batches[0].shape == (256, 8)
    assert not np.array_equal(batches[0], batches[1])  # four different batches, not one four times
    for x, y in zip(batches, b._statistics_latent):
        np.testing.assert_array_equal(x, y)

"""examples/conditional_gan.py: runs here, is Keras code with its imports swapped, and matches Keras."""
import numpy as np
import pytest

from tests.example_support import (assert_losses_equal, build_both, build_labelled_gan, keras_example,
                                   labelled_images, load_example, script_functions, summary_text, without_dropout)

LATENT = 100
_build, _functions = build_labelled_gan, script_functions


def test_script_trains_a_few_steps(capsys):
    gan = load_example("conditional_gan")
    d_model, g_model, gan_model = _build(_functions(gan))
    d_before, g_before = d_model.get_weights(), g_model.get_weights()
    np.random.seed(0)
    losses = gan.train(g_model, d_model, gan_model, labelled_images(), LATENT, n_epochs=1, n_batch=8, max_batches=2)
    assert len(losses) == 2 and np.isfinite(losses).all()
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, d_model.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, g_model.get_weights()))
    assert ">1, 2/2, d1=" in capsys.readouterr().out


def test_summaries_and_one_training_step_equal_keras():
    pytest.importorskip("keras")
    (d, g, gan), (kd, kg, kgan) = build_both(_functions(load_example("conditional_gan")),
                                             keras_example("conditional_gan"), _build)
    for ours, theirs in ((d, kd), (g, kg), (gan, kgan)):
        assert summary_text(ours) == summary_text(theirs)
    d.set_weights(kd.get_weights())
    g.set_weights(kg.get_weights())
    without_dropout(d, kd)
    rng = np.random.default_rng(1)
    z, labels = rng.normal(size=(8, LATENT)).astype("float32"), rng.integers(0, 10, 8)
    assert_losses_equal(gan.train_on_batch([z, labels], np.ones((8, 1))),
                        kgan.train_on_batch([z, labels], np.ones((8, 1))))
    images, labels = labelled_images(8, seed=2)
    y = np.concatenate([np.ones((4, 1)), np.zeros((4, 1))])
    assert_losses_equal(d.train_on_batch([images, labels], y), kd.train_on_batch([images, labels], y))

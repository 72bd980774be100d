"""examples/ac_gan.py: runs here, is Keras code with its imports swapped, and matches Keras; and on
Keras 3 its discriminator silently stops training once frozen for the composite model."""
import numpy as np
import pytest

from tests.example_support import (assert_losses_equal, build_both, build_labelled_gan, keras_example,
                                   labelled_images, load_example, script_functions, summary_text, without_dropout)

LATENT = 100
_build, _functions = build_labelled_gan, script_functions


def _kernels(model):
    return [w.copy() for w, v in zip(model.get_weights(), model.weights) if "kernel" in v.path]


def test_script_trains_a_few_steps(capsys):
    gan = load_example("ac_gan")
    d_model, g_model, gan_model = _build(_functions(gan))
    d_before, g_before = _kernels(d_model), _kernels(g_model)
    np.random.seed(0)
    losses = gan.train(g_model, d_model, gan_model, labelled_images(), LATENT, n_epochs=1, n_batch=8, max_batches=2)
    assert len(losses) == 2 and np.isfinite(losses).all()
    # the discriminator trains through its own compile although its layers are frozen in the composite
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, _kernels(d_model)))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, _kernels(g_model)))
    assert ">2, dr[" in capsys.readouterr().out


def test_summaries_and_one_training_step_equal_keras():
    pytest.importorskip("keras")
    (d, g, gan), (kd, kg, kgan) = build_both(_functions(load_example("ac_gan")), keras_example("ac_gan"), _build)
    for ours, theirs in ((d, kd), (g, kg), (gan, kgan)):
        assert summary_text(ours) == summary_text(theirs)
    d.set_weights(kd.get_weights())
    g.set_weights(kg.get_weights())
    without_dropout(d, kd)
    rng = np.random.default_rng(1)
    z, labels = rng.normal(size=(8, LATENT)).astype("float32"), rng.integers(0, 10, 8)
    assert_losses_equal(gan.train_on_batch([z, labels], [np.ones((8, 1)), labels]),
                        kgan.train_on_batch([z, labels], [np.ones((8, 1)), labels]))
    images, labels = labelled_images(8, seed=2)
    assert_losses_equal(d.train_on_batch(images, [np.ones((8, 1)), labels]),
                        kd.train_on_batch(images, [np.ones((8, 1)), labels]))


def test_keras_3_stops_training_the_frozen_discriminator_and_upsampling_does_not():
    """The README's claim: Keras 3 reads `trainable` at call time, Keras 2 (and upsampling) at compile."""
    pytest.importorskip("keras")
    (d, g, gan), (kd, kg, kgan) = build_both(_functions(load_example("ac_gan")), keras_example("ac_gan"), _build)
    images, labels = labelled_images(8)
    before, kbefore = _kernels(d), _kernels(kd)
    d.train_on_batch(images, [np.ones((8, 1)), labels])
    kd.train_on_batch(images, [np.ones((8, 1)), labels])
    assert all(np.array_equal(a, b) for a, b in zip(kbefore, _kernels(kd)))  # Keras 3: nothing learned
    assert all(not np.array_equal(a, b) for a, b in zip(before, _kernels(d)))  # here: as the author intended

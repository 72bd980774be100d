"""examples/pix2pix.py: a small U-Net of the same code runs here, is Keras code with its imports
swapped, and matches Keras (summaries; one train_on_batch of each model)."""
import numpy as np
import pytest

from tests.example_support import (assert_losses_equal, build_both, keras_example, load_example, script_functions,
                                   summary_text, without_dropout)

SHAPE = (16, 16, 3)
SMALL = dict(d_filters=(4, 8), g_filters=(4, 8, 8), bottleneck=8, n_dropout=2)


def _build(f):
    d_model = f["define_discriminator"](SHAPE, filters=SMALL["d_filters"])
    g_model = f["define_generator"](SHAPE, filters=SMALL["g_filters"], bottleneck=SMALL["bottleneck"],
                                    n_dropout=SMALL["n_dropout"])
    return d_model, g_model, f["define_gan"](g_model, d_model, SHAPE)


def _pairs(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n,) + SHAPE).astype("float32") for _ in range(2)]


def test_script_trains_a_few_steps(tmp_path, capsys):
    p2p = load_example("pix2pix")
    d_model, g_model, gan_model = _build(script_functions(p2p))
    assert d_model.output_shape == (None, 4, 4, 1) and g_model.output_shape == (None,) + SHAPE
    raw = [np.random.default_rng(3).integers(0, 256, (4,) + SHAPE).astype("uint8") for _ in range(2)]
    np.savez(tmp_path / "pairs.npz", *raw)
    dataset = p2p.load_real_samples(tmp_path / "pairs.npz")
    assert -1 <= dataset[0].min() and dataset[1].max() <= 1
    d_before, g_before = d_model.get_weights(), g_model.get_weights()
    np.random.seed(0)
    losses = p2p.train(d_model, g_model, gan_model, dataset, n_epochs=1, n_batch=2, max_batches=2)
    assert len(losses) == 2 and np.isfinite(losses).all()
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, d_model.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, g_model.get_weights()))
    assert ">2, d1[" in capsys.readouterr().out


def test_summaries_and_one_training_step_equal_keras():
    pytest.importorskip("keras")
    (d, g, gan), (kd, kg, kgan) = build_both(script_functions(load_example("pix2pix")), keras_example("pix2pix"), _build)
    for ours, theirs in ((d, kd), (g, kg), (gan, kgan)):
        assert summary_text(ours) == summary_text(theirs)
    d.set_weights(kd.get_weights())
    g.set_weights(kg.get_weights())
    without_dropout(g, kg)
    src, tgt = _pairs()
    patch = np.ones((4, 4, 4, 1), "float32")
    # the composite: [total, bce of the verdict, mae of the image], weighted 1 and 100
    ours, theirs = gan.train_on_batch(src, [patch, tgt]), kgan.train_on_batch(src, [patch, tgt])
    assert_losses_equal(ours, theirs)
    assert ours[0] == pytest.approx(ours[1] + 100 * ours[2], rel=1e-6)
    # the discriminator, compiled with loss_weights=[0.5]
    assert_losses_equal(d.train_on_batch([src, tgt], patch), kd.train_on_batch([src, tgt], patch))
    # `layer(x, training=True)` keeps BatchNormalization in training mode in predict, as on Keras 2 (the
    # author's intent); Keras 3 lets predict's training=False override it
    import keras
    in_training_mode = keras.ops.convert_to_numpy(kg(src, training=True))
    np.testing.assert_allclose(g.predict(src, verbose=0), in_training_mode, rtol=1e-4, atol=1e-5)
    assert np.abs(kg.predict(src, verbose=0) - in_training_mode).max() > 1e-3

"""model.save / load_model / save_weights round trips, atomic writes and clear errors."""
import os

import numpy as np
import pytest

from upsampling import layers
from upsampling.models import Model, Sequential, load_model
from upsampling.atomic import atomic_write_bytes

rng = np.random.default_rng(5)


def _generator():
    return Sequential([layers.Input((10,)), layers.Dense(7 * 7 * 8), layers.LeakyReLU(0.2), layers.Reshape((7, 7, 8)),
                       layers.Conv2DTranspose(4, 4, strides=2, padding="same"), layers.BatchNormalization(),
                       layers.UpSampling2D(interpolation="bilinear"), layers.Dropout(0.3),
                       layers.Conv2D(1, 3, padding="same", activation="tanh")])


def test_sequential_round_trip(tmp_path):
    g = _generator()
    g.layers[4].moving_mean.assign(rng.standard_normal(4))  # non-trainable state is saved too
    x = rng.standard_normal((3, 10)).astype(np.float32)
    path = g.save(tmp_path / "g.model")
    g2 = load_model(path)
    np.testing.assert_array_equal(g.predict(x, verbose=0), g2.predict(x, verbose=0))
    assert [l.name for l in g2.layers] == [l.name for l in g.layers]
    assert g2.layers[3].get_config() == g.layers[3].get_config()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_functional_and_nested_round_trip(tmp_path):
    i = layers.Input((10,))
    h = layers.Dense(5)(i)
    shared = layers.Dense(5, activation="relu")
    out = layers.Dense(2)(shared(shared(h)))
    f = Model(i, [out, h])
    x = rng.standard_normal((4, 10)).astype(np.float32)
    f2 = load_model(f.save(tmp_path / "f.model"))
    for a, b in zip(f.predict(x, verbose=0), f2.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    g = _generator()
    d = Sequential([layers.Input((28, 28, 1)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])
    gan = Sequential([g, d])
    gan2 = load_model(gan.save(tmp_path / "gan.model"))
    np.testing.assert_array_equal(gan.predict(x, verbose=0), gan2.predict(x, verbose=0))


def test_weights_only_round_trip(tmp_path):
    g, g2 = _generator(), _generator()
    g.save_weights(tmp_path / "w.npz")
    g2.load_weights(tmp_path / "w.npz")
    for a, b in zip(g.get_weights(), g2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "missing.model")
    (tmp_path / "junk.model").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.model: is not a model saved by upsampling or Keras"):
        load_model(tmp_path / "junk.model")


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "ckpt"
    atomic_write_bytes(target, b"good")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())  # fails mid-write
    assert target.read_bytes() == b"good"
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (os.stat(path).st_mode & 0o777) == 0o644


def test_custom_constraints_load_with_custom_objects(tmp_path):
    from upsampling import constraints

    class ClipConstraint(constraints.Constraint):
        def __init__(self, clip_value):
            self.clip_value = clip_value

        def __call__(self, w):
            return np.clip(w, -self.clip_value, self.clip_value)

        def get_config(self):
            return {"clip_value": self.clip_value}

    model = Sequential([layers.Input((3,)), layers.Dense(2, kernel_constraint=ClipConstraint(0.05),
                                                         kernel_regularizer="l2")])
    path = model.save(tmp_path / "critic.model")
    with pytest.raises(ValueError, match="ClipConstraint"):
        load_model(path)
    loaded = load_model(path, custom_objects={"ClipConstraint": ClipConstraint})
    dense = loaded.layers[0]
    assert isinstance(dense.kernel_constraint, ClipConstraint) and dense.kernel_constraint.clip_value == 0.05
    assert dense.kernel.constraint is dense.kernel_constraint and dense.kernel.regularizer.l2 == 0.01


def test_a_compiled_model_comes_back_compiled_and_training_continues_identically(tmp_path):
    from upsampling.optimizers import Adam
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 10)).astype(np.float32)
    y = (rng.random((16, 1)) > 0.5).astype(np.float32)
    model = Sequential([layers.Input((10,)), layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.01, beta_1=0.5), loss="binary_crossentropy", metrics=["accuracy"])
    for _ in range(3):
        model.train_on_batch(x, y)
    loaded = load_model(model.save(tmp_path / "m.model"))
    assert loaded.compiled and loaded.optimizer.iterations == 3 and loaded.optimizer.get_config()["beta_1"] == 0.5
    assert loaded.metrics_names == model.metrics_names
    np.testing.assert_array_equal(loaded.train_on_batch(x, y), model.train_on_batch(x, y))
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not load_model(tmp_path / "m.model", compile=False).compiled

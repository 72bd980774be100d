"""The Keras training API (compile / *_on_batch / predict / evaluate / fit / callbacks).

Keras 3 (torch backend) is the oracle for the numbers: the same model in both, Keras's initial
weights copied into ours, the same batches. The compile-time `trainable` rule (Keras 2
semantics) is NOT what Keras 3 does, so it is tested directly.
"""
import os

import numpy as np
import pytest

from tests.keras_oracle import keras as _keras
from upsampling import callbacks as C
from upsampling import layers, losses, optimizers
from upsampling import random as urandom
from upsampling.models import Model, Sequential, load_model

RNG = np.random.default_rng(1234)
X = RNG.normal(size=(16, 8)).astype(np.float32)
Y_BIN = (RNG.random((16, 1)) > 0.5).astype(np.float32)
Y_CLS = RNG.integers(0, 4, 16)
Y_ONEHOT = np.eye(4, dtype=np.float32)[Y_CLS]
Y_REG = RNG.normal(size=(16, 3)).astype(np.float32)
Y_PM1 = np.where(Y_BIN > 0, 1.0, -1.0).astype(np.float32)
SW = RNG.random(16).astype(np.float32) + 0.1


@pytest.fixture(scope="module")
def keras():
    return _keras()


def _mlp(lib, units, activation):
    return [lib.Input((8,)), lib.Dense(6, activation="relu"), lib.Dense(units, activation=activation)]


def _pair(keras, units=1, activation="sigmoid", loss="binary_crossentropy", keras_loss=None,
          optimizer=("Adam", {"learning_rate": 0.01}), metrics=None, weighted_metrics=None):
    """The same compiled MLP in Keras and here, with Keras's initial weights in both."""
    keras.utils.set_random_seed(7)
    name, kwargs = optimizer
    kmodel = keras.Sequential(_mlp(keras.layers, units, activation))
    kmodel.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss=keras_loss or loss,
                   metrics=metrics, weighted_metrics=weighted_metrics)
    model = Sequential(_mlp(layers, units, activation))
    model.compile(optimizer=getattr(optimizers, name)(**kwargs), loss=loss, metrics=metrics,
                  weighted_metrics=weighted_metrics)
    model.set_weights(kmodel.get_weights())
    return kmodel, model


def _assert_same_weights(model, kmodel, rtol=1e-5, atol=1e-6):
    ours, theirs = model.get_weights(), kmodel.get_weights()
    assert len(ours) == len(theirs)
    for a, b, v in zip(ours, theirs, kmodel.weights):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=v.path)


def _steps_match(kmodel, model, x, y, steps=3, **kw):
    theirs = [np.atleast_1d(kmodel.train_on_batch(x, y, **kw)).astype(float) for _ in range(steps)]
    ours = [np.atleast_1d(model.train_on_batch(x, y, **kw)).astype(float) for _ in range(steps)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    _assert_same_weights(model, kmodel)
    return ours


def _weights_changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


# ------------------------------------------------------------------------- 1. Keras parity of steps
OPTIMIZERS = [
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"amsgrad": True}),
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
def test_train_on_batch_matches_keras_for_each_optimizer(keras, optimizer):
    kmodel, model = _pair(keras, optimizer=optimizer)
    before = model.get_weights()
    losses_ = _steps_match(kmodel, model, X, Y_BIN)
    assert all(_weights_changed(before, model.get_weights()))
    assert losses_[2][0] < losses_[0][0]
    assert model.optimizer.iterations == 3


def _loss_cases(keras):
    L = keras.losses
    return {
        "bce": (1, "sigmoid", "binary_crossentropy", None, Y_BIN),
        "bce_from_logits": (1, None, losses.BinaryCrossentropy(from_logits=True),
                            L.BinaryCrossentropy(from_logits=True), Y_BIN),
        "bce_label_smoothing": (1, "sigmoid", losses.BinaryCrossentropy(label_smoothing=0.1),
                                L.BinaryCrossentropy(label_smoothing=0.1), Y_BIN),
        "mse": (3, None, "mse", None, Y_REG),
        "mae": (3, None, "mae", None, Y_REG),
        "categorical_crossentropy": (4, "softmax", "categorical_crossentropy", None, Y_ONEHOT),
        "sparse_categorical_crossentropy": (4, "softmax", "sparse_categorical_crossentropy", None, Y_CLS),
        "hinge": (1, None, "hinge", None, Y_PM1),
        "hinge_01_labels": (1, None, "hinge", None, Y_BIN),
    }


@pytest.mark.parametrize("case", ["bce", "bce_from_logits", "bce_label_smoothing", "mse", "mae",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge",
                                  "hinge_01_labels"])
def test_train_on_batch_matches_keras_for_each_loss(keras, case):
    units, activation, loss, keras_loss, y = _loss_cases(keras)[case]
    # SGD, not Adam: Adam's update is nearly invariant to the gradient's scale, SGD's is not.
    kmodel, model = _pair(keras, units, activation, loss, keras_loss,
                          optimizer=("SGD", {"learning_rate": 0.1, "momentum": 0.9}))
    _steps_match(kmodel, model, X, y)


def _conv_layers(lib):
    # No bias in the Conv2DTranspose: a bias right before BatchNormalization has a gradient that is
    # exactly zero, and Adam turns its float rounding noise (~1e-9, different in every framework)
    # into full +-lr steps -- a meaningless difference, not a bug.
    return [lib.Input((4, 4, 3)),
            lib.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False),
            lib.BatchNormalization(),
            lib.LeakyReLU(negative_slope=0.2),
            lib.UpSampling2D(),
            lib.Conv2D(2, 3, strides=2, padding="same"),
            lib.Flatten(),
            lib.Dense(1, activation="sigmoid")]


def test_conv_model_with_batchnorm_and_accuracy_matches_keras(keras):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 4, 4, 3)).astype(np.float32)
    y = (rng.random((8, 1)) > 0.5).astype(np.float32)
    keras.utils.set_random_seed(3)
    kmodel = keras.Sequential(_conv_layers(keras.layers))
    kmodel.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model = Sequential(_conv_layers(layers))
    model.compile(optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    model.set_weights(kmodel.get_weights())
    moving_before = model.layers[1].moving_mean.numpy()
    assert model.metrics_names == ["loss", "accuracy"]
    for _ in range(3):
        theirs, ours = kmodel.train_on_batch(x, y), model.train_on_batch(x, y)
        assert isinstance(ours, list) and len(ours) == 2
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    # Same float32 tolerances as the dense models: the accumulation orders agree closely enough.
    _assert_same_weights(model, kmodel)  # includes BatchNormalization's moving mean and variance
    assert not np.array_equal(moving_before, model.layers[1].moving_mean.numpy())
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=3, verbose=0),
                               kmodel.evaluate(x, y, batch_size=3, verbose=0), rtol=1e-5)


def test_sample_weight_and_class_weight_in_train_on_batch_match_keras(keras):
    opt = ("SGD", {"learning_rate": 0.5})
    kmodel, model = _pair(keras, optimizer=opt)
    _steps_match(kmodel, model, X, Y_BIN, steps=2, sample_weight=SW)
    kmodel, model = _pair(keras, optimizer=opt)
    _steps_match(kmodel, model, X, Y_BIN, steps=2, class_weight={0: 0.3, 1: 2.0})
    # and they do change the result
    _, plain = _pair(keras, optimizer=opt)
    _, weighted = _pair(keras, optimizer=opt)
    assert plain.train_on_batch(X, Y_BIN) != pytest.approx(weighted.train_on_batch(X, Y_BIN, class_weight={0: 0.3, 1: 2.0}))


def test_weighted_metrics_use_sample_weight_like_keras(keras):
    kmodel, model = _pair(keras, metrics=["accuracy"], weighted_metrics=["accuracy"])
    theirs = kmodel.test_on_batch(X, Y_BIN, sample_weight=SW, return_dict=True)
    ours = model.test_on_batch(X, Y_BIN, sample_weight=SW, return_dict=True)
    assert model.metrics_names == ["loss", "accuracy", "weighted_accuracy"]
    assert set(ours) == set(theirs)
    for k in theirs:
        assert ours[k] == pytest.approx(theirs[k], rel=1e-5), k
    assert ours["accuracy"] != pytest.approx(ours["weighted_accuracy"])


def test_a_model_compiled_before_it_is_built_trains_all_its_weights(keras):
    keras.utils.set_random_seed(7)
    kmodel = keras.Sequential([keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
    kmodel.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    kmodel.build((None, 8))
    model = Sequential([layers.Dense(6, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizers.SGD(0.1), "binary_crossentropy")  # no weights exist yet
    model.build((None, 8))
    model.set_weights(kmodel.get_weights())
    before = model.get_weights()
    _steps_match(kmodel, model, X, Y_BIN, steps=2)
    assert all(_weights_changed(before, model.get_weights()))


# ------------------------------------------------------------------------- 2. test / predict / evaluate
def test_test_on_batch_predict_on_batch_and_evaluate_match_keras(keras):
    kmodel, model = _pair(keras, metrics=["accuracy"])
    kmodel.train_on_batch(X, Y_BIN)
    model.set_weights(kmodel.get_weights())
    before = model.get_weights()
    np.testing.assert_allclose(model.test_on_batch(X, Y_BIN), kmodel.test_on_batch(X, Y_BIN), rtol=1e-5)
    np.testing.assert_allclose(model.test_on_batch(X, Y_BIN, sample_weight=SW),
                               kmodel.test_on_batch(X, Y_BIN, sample_weight=SW), rtol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(X), keras.ops.convert_to_numpy(kmodel.predict_on_batch(X)),
                               rtol=1e-5, atol=1e-7)
    # evaluate: batches of 5, 5, 5, 1 -- the mean must weight each batch by its size
    for kw in ({}, {"sample_weight": SW}):
        ours = model.evaluate(X, Y_BIN, batch_size=5, verbose=0, **kw)
        np.testing.assert_allclose(ours, kmodel.evaluate(X, Y_BIN, batch_size=5, verbose=0, **kw), rtol=1e-5)
    loss_parts = [model.test_on_batch(X[i:i + 5], Y_BIN[i:i + 5])[0] for i in range(0, 16, 5)]
    weighted = np.average(loss_parts, weights=[5, 5, 5, 1])
    assert model.evaluate(X, Y_BIN, batch_size=5, verbose=0)[0] == pytest.approx(weighted, rel=1e-6)
    assert model.evaluate(X, Y_BIN, batch_size=5, verbose=0)[0] != pytest.approx(np.mean(loss_parts), rel=1e-6)
    logs = model.evaluate(X, Y_BIN, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # nothing trained


def test_predict_batches(keras):
    kmodel, model = _pair(keras)
    whole = model.predict_on_batch(X)
    for batch_size in (None, 1, 5, 7, 16, 100):
        out = model.predict(X, batch_size=batch_size, verbose=0)
        assert out.shape == (16, 1)
        np.testing.assert_allclose(out, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(model.predict(X, batch_size=5, verbose=0),
                               kmodel.predict(X, batch_size=5, verbose=0), rtol=1e-5, atol=1e-7)
    assert model.predict(X, batch_size=5, steps=2, verbose=0).shape == (10, 1)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(X, batch_size=0)


# ------------------------------------------------------------------------- 3. fit
def test_fit_history_matches_keras_with_validation_data_and_split(keras):
    for kw in ({"validation_data": (X[:5], Y_BIN[:5])}, {"validation_split": 0.25}):
        kmodel, model = _pair(keras, metrics=["accuracy"])
        theirs = kmodel.fit(X, Y_BIN, batch_size=5, epochs=3, shuffle=False, verbose=0, **kw).history
        history = model.fit(X, Y_BIN, batch_size=5, epochs=3, shuffle=False, verbose=0, **kw)
        assert history is model.history
        ours = history.history
        assert set(ours) == {"loss", "accuracy", "val_loss", "val_accuracy"} == set(theirs)
        assert history.epoch == [0, 1, 2]
        for k in theirs:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-5, err_msg=k)
        _assert_same_weights(model, kmodel)


def test_fit_with_sample_weight_or_class_weight_matches_keras(keras):
    for kw in ({"sample_weight": SW}, {"class_weight": {0: 0.3, 1: 2.0}},
               {"sample_weight": SW, "validation_split": 0.25}):
        kmodel, model = _pair(keras, optimizer=("SGD", {"learning_rate": 0.5}))
        theirs = kmodel.fit(X, Y_BIN, batch_size=5, epochs=2, shuffle=False, verbose=0, **kw).history
        ours = model.fit(X, Y_BIN, batch_size=5, epochs=2, shuffle=False, verbose=0, **kw).history
        assert set(ours) == set(theirs)
        for k in theirs:
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-5, err_msg=f"{k} {sorted(kw)}")
        _assert_same_weights(model, kmodel)


def test_validation_split_holds_out_the_last_fraction(keras):
    _, a = _pair(keras)
    _, b = _pair(keras)
    ha = a.fit(X, Y_BIN, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_split=0.25).history
    hb = b.fit(X[:12], Y_BIN[:12], batch_size=4, epochs=2, shuffle=False, verbose=0,
               validation_data=(X[12:], Y_BIN[12:])).history
    assert ha == hb


def test_fit_without_shuffle_equals_the_same_train_on_batch_calls(keras):
    _, fitted = _pair(keras, optimizer=("SGD", {"learning_rate": 0.1, "momentum": 0.9}))
    _, manual = _pair(keras, optimizer=("SGD", {"learning_rate": 0.1, "momentum": 0.9}))
    history = fitted.fit(X, Y_BIN, batch_size=6, epochs=2, shuffle=False, verbose=0)
    epoch_losses = []
    for _ in range(2):
        parts = [(manual.train_on_batch(X[i:i + 6], Y_BIN[i:i + 6]), len(X[i:i + 6])) for i in range(0, 16, 6)]
        epoch_losses.append(sum(l * n for l, n in parts) / 16)
    for a, b in zip(fitted.get_weights(), manual.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(history.history["loss"], epoch_losses, rtol=1e-12)
    assert fitted.optimizer.iterations == manual.optimizer.iterations == 6


def test_fit_shuffles_by_default_reproducibly(keras):
    _, a = _pair(keras, optimizer=("SGD", {"learning_rate": 0.1}))
    _, b = _pair(keras, optimizer=("SGD", {"learning_rate": 0.1}))
    _, c = _pair(keras, optimizer=("SGD", {"learning_rate": 0.1}))
    urandom.set_random_seed(0)
    a.fit(X, Y_BIN, batch_size=4, epochs=1, verbose=0)
    urandom.set_random_seed(0)
    b.fit(X, Y_BIN, batch_size=4, epochs=1, verbose=0)
    c.fit(X, Y_BIN, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(u, v) for u, v in zip(a.get_weights(), c.get_weights()))


def test_fit_epochs_and_initial_epoch(keras):
    _, model = _pair(keras)
    history = model.fit(X, Y_BIN, batch_size=8, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3] and len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 4
    assert model.fit(X, Y_BIN, epochs=2, initial_epoch=2, verbose=0).history == {}


def test_fit_reduces_the_loss_on_a_simple_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizers.SGD(0.1), "mse")
    loss = model.fit(x, y, batch_size=16, epochs=20, verbose=0).history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:]))
    assert loss[-1] < 1e-3 * loss[0]


def test_fit_verbosity(keras, capsys):
    _, model = _pair(keras, metrics=["accuracy"])
    capsys.readouterr()
    model.fit(X, Y_BIN, batch_size=6, epochs=2, verbose=0, validation_split=0.25)
    model.evaluate(X, Y_BIN, verbose=0)
    model.predict(X, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(X, Y_BIN, batch_size=6, epochs=2, verbose=1, validation_split=0.25)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    lines = [l for l in out.splitlines() if l.startswith("2/2")]
    assert len(lines) == 2  # one progress line per epoch (12 training samples, batches of 6)
    # as in Keras, the epoch's last line holds the training and the validation results
    assert all(" - loss: " in l and " - accuracy: " in l and " - val_loss: " in l for l in lines)
    model.fit(X, Y_BIN, batch_size=16, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch" not in out and "1/1" in out and "loss:" in out  # Keras: no header for one epoch
    model.fit(X, Y_BIN, batch_size=8, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[1].startswith("2/2 - ") and "\u2501" not in lines[1]
    assert " - loss: " in lines[1] and len(lines) == 4


# ------------------------------------------------------------------------- 4. callbacks
def _diverging_validation(keras, **fit_kw):
    """Training fits y; validation wants 1 - y, so val_loss rises while loss falls."""
    _, model = _pair(keras, optimizer=("SGD", {"learning_rate": 0.5}))
    seen = []
    record = C.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    history = model.fit(X, Y_BIN, batch_size=16, shuffle=False, verbose=0, validation_data=(X, 1 - Y_BIN),
                        callbacks=[record] + fit_kw.pop("callbacks"), **fit_kw)
    return model, history, seen


def test_early_stopping_stops_when_val_loss_rises(keras):
    model, history, seen = _diverging_validation(keras, epochs=10, callbacks=[C.EarlyStopping(patience=1)])
    val = history.history["val_loss"]
    assert len(val) == 2 and val[1] > val[0]  # stopped after the first epoch without improvement
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen[-1]))  # not restored
    model, history, seen = _diverging_validation(keras, epochs=10, callbacks=[C.EarlyStopping(patience=3)])
    assert len(history.history["val_loss"]) == 4


def test_early_stopping_restores_the_best_weights(keras):
    model, history, seen = _diverging_validation(
        keras, epochs=10, callbacks=[C.EarlyStopping(patience=2, restore_best_weights=True)])
    assert len(history.history["val_loss"]) == 3
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen[0]))
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen[-1]))
    # Keras 3: the best weights come back even when training ran to the end
    model, history, seen = _diverging_validation(
        keras, epochs=3, callbacks=[C.EarlyStopping(patience=10, restore_best_weights=True)])
    assert len(seen) == 3
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen[0]))


def test_early_stopping_on_a_missing_metric_warns_and_does_not_stop(keras):
    _, model = _pair(keras)
    with pytest.warns(UserWarning, match="val_loss"):
        history = model.fit(X, Y_BIN, epochs=3, verbose=0, callbacks=[C.EarlyStopping(patience=0)])
    assert len(history.epoch) == 3


def test_model_checkpoint_writes_loadable_models(keras, tmp_path):
    model, _, seen = _diverging_validation(
        keras, epochs=3, callbacks=[C.ModelCheckpoint(str(tmp_path / "m_{epoch:02d}.model"), monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["m_01.model", "m_02.model", "m_03.model"]
    for i, weights in enumerate(seen, 1):
        loaded = load_model(tmp_path / f"m_{i:02d}.model")
        assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), weights))
    np.testing.assert_array_equal(load_model(tmp_path / "m_03.model").predict(X, verbose=0),
                                  model.predict(X, verbose=0))


def test_model_checkpoint_save_best_only(keras, tmp_path):
    cb = C.ModelCheckpoint(tmp_path / "best_{epoch}.model", monitor="val_loss", save_best_only=True)
    _diverging_validation(keras, epochs=3, callbacks=[cb])
    assert os.listdir(tmp_path) == ["best_1.model"]  # val_loss only got worse after epoch 1
    cb = C.ModelCheckpoint(tmp_path / "loss_{epoch}.model", monitor="loss", save_best_only=True)
    _diverging_validation(keras, epochs=3, callbacks=[cb])
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("loss")) == \
        ["loss_1.model", "loss_2.model", "loss_3.model"]


def test_model_checkpoint_save_weights_only(keras, tmp_path):
    path = tmp_path / "w.weights"
    model, _, seen = _diverging_validation(
        keras, epochs=2, callbacks=[C.ModelCheckpoint(path, save_weights_only=True)])
    _, other = _pair(keras)
    other.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(other.get_weights(), seen[-1]))
    with pytest.raises(ValueError, match="not a model"):
        load_model(path)  # weights only, no architecture


def test_lambda_callback_and_keras_hook_signatures(keras):
    _, model = _pair(keras)
    calls = []

    class OldStyle(C.Callback):  # Keras 2's on_batch_end is still called for training batches
        def on_batch_end(self, batch, logs=None):
            calls.append(("on_batch_end", batch))

    cb = C.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
        on_test_begin=lambda logs: calls.append("test_begin"))
    model.fit(X, Y_BIN, batch_size=8, epochs=2, verbose=0, callbacks=[cb, OldStyle()], validation_split=0.5)
    assert calls[0] == "train_begin"
    assert calls[1:8] == [("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, ["loss"]), ("on_batch_end", 0),
                          "test_begin", ("epoch_end", 0, ["loss", "val_loss"]), ("epoch_begin", 1)]
    assert calls[-1] == ("train_end", ["loss", "val_loss"])
    assert sum(1 for c in calls if c[0] == "batch_end") == 2  # 8 training samples, batches of 8
    with pytest.raises(TypeError, match="on_nothing"):
        C.LambdaCallback(on_nothing=print)


# ------------------------------------------------------------------------- 5. compile-time trainable
def _compose_gan(g, d, d_lr, gan_lr):
    """The GAN recipe: d compiled while trainable, then frozen inside a compiled g -> d composite."""
    d.compile(optimizers.SGD(d_lr), "binary_crossentropy")
    d.trainable = False
    gan = Sequential([g, d], name="gan")
    gan.compile(optimizers.SGD(gan_lr), "binary_crossentropy")
    return g, d, gan


def _gan(d_lr=0.05):
    g = Sequential([layers.Input((4,)), layers.Dense(8), layers.LeakyReLU(0.2), layers.Dense(6)], name="g")
    d = Sequential([layers.Input((6,)), layers.Dense(8, use_bias=False), layers.BatchNormalization(momentum=0.5),
                    layers.LeakyReLU(0.2), layers.Dense(1, activation="sigmoid")], name="d")
    return _compose_gan(g, d, d_lr, 0.05)


GAN_RNG = np.random.default_rng(9)
Z = GAN_RNG.normal(size=(8, 4)).astype(np.float32)
REAL = (GAN_RNG.normal(size=(8, 6)) * 3 + 2).astype(np.float32)  # far from the moving stats' start
ONES = np.ones((8, 1), np.float32)


def _bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def test_frozen_discriminator_trains_only_through_its_own_compile():
    urandom.set_random_seed(0)
    g, d, gan = _gan()
    bn = d.layers[1]
    assert not d.trainable
    g0, d0 = g.get_weights(), d.get_weights()
    gan.train_on_batch(Z, ONES)
    assert all(_weights_changed(g0, g.get_weights()))
    assert not any(_weights_changed(d0, d.get_weights()))  # kernels, gamma/beta and moving stats
    d.train_on_batch(REAL, ONES)
    assert all(_weights_changed(d0, d.get_weights()))  # incl. moving mean/variance
    assert not d.trainable and not bn.trainable  # the compile-time flags were only borrowed
    g1 = g.get_weights()
    d.train_on_batch(REAL, ONES)
    assert not any(_weights_changed(g1, g.get_weights()))


def test_batchnorm_mode_follows_the_compile_time_flag():
    urandom.set_random_seed(1)
    g, d, gan = _gan()
    bn = d.layers[1]
    d.train_on_batch(REAL, ONES)  # moving stats now differ from any batch's statistics
    moving = (bn.moving_mean.numpy(), bn.moving_variance.numpy())
    # In the composite, D's BatchNormalization is frozen: inference mode, moving statistics.
    fake = g.predict(Z, verbose=0)  # G has no BatchNormalization/Dropout: same in training mode
    inference_loss = _bce(ONES, gan.predict(Z, verbose=0))
    batch_stats_loss = _bce(ONES, _d_forward_batch_stats(d, fake))
    assert inference_loss != pytest.approx(batch_stats_loss, rel=1e-3)
    assert gan.train_on_batch(Z, ONES) == pytest.approx(inference_loss, rel=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), moving[1])
    # In D's own steps: batch statistics, and the moving statistics move.
    fake = g.predict(Z, verbose=0)
    zeros = np.zeros((8, 1), np.float32)
    batch_stats_loss = _bce(zeros, _d_forward_batch_stats(d, fake))
    assert d.train_on_batch(fake, zeros) == pytest.approx(batch_stats_loss, rel=1e-6)
    assert not np.allclose(bn.moving_mean.numpy(), moving[0])


def _d_forward_batch_stats(d, x):
    """D's output with BatchNormalization on batch statistics, not touching any weight."""
    saved = d.get_weights()
    flags = [(layer, layer.trainable) for layer in [d] + d.layers]
    d.trainable = True
    out = d.forward(x, training=True)[0]
    for layer, flag in flags:
        layer._trainable = flag
    d.set_weights(saved)
    return out


def test_recompiling_picks_up_the_new_trainable_state():
    urandom.set_random_seed(2)
    g, d, gan = _gan()
    d.trainable = True
    gan.compile(optimizers.SGD(0.05), "binary_crossentropy")  # now D trains in the composite too
    g0, d0 = g.get_weights(), d.get_weights()
    gan.train_on_batch(Z, ONES)
    assert all(_weights_changed(g0, g.get_weights())) and all(_weights_changed(d0, d.get_weights()))
    d.trainable = False
    d.compile(optimizers.SGD(0.05), "binary_crossentropy")  # D compiled frozen: nothing to train
    d1 = d.get_weights()
    loss = d.train_on_batch(REAL, ONES)
    assert np.isfinite(loss)
    assert not any(_weights_changed(d1, d.get_weights()))


# ------------------------------------------------------------------------- 6. dropout
def test_dropout_is_active_in_training_only():
    urandom.set_random_seed(3)
    model = Sequential([layers.Input((8,)), layers.Dense(32, activation="relu"), layers.Dropout(0.5),
                        layers.Dense(1, activation="sigmoid")])
    model.compile(optimizers.SGD(0.0), "binary_crossentropy")  # lr 0: the weights never move
    p1, p2 = model.predict(X, verbose=0), model.predict(X, verbose=0)
    np.testing.assert_array_equal(p1, p2)
    inference = _bce(Y_BIN, p1)
    assert model.test_on_batch(X, Y_BIN) == pytest.approx(inference, rel=1e-6)
    assert model.evaluate(X, Y_BIN, batch_size=16, verbose=0) == pytest.approx(inference, rel=1e-6)
    train_losses = [model.train_on_batch(X, Y_BIN) for _ in range(2)]
    assert all(l != pytest.approx(inference, rel=1e-4) for l in train_losses)
    assert train_losses[0] != train_losses[1]  # a new mask each step
    fit_loss = model.fit(X, Y_BIN, batch_size=16, epochs=1, verbose=0).history["loss"][0]
    assert fit_loss != pytest.approx(inference, rel=1e-4)
    np.testing.assert_array_equal(model.predict(X, verbose=0), p1)


# ------------------------------------------------------------------------- 7. errors
def test_training_before_compile_is_a_clear_error():
    model = Sequential([layers.Input((8,)), layers.Dense(1)], name="uncompiled_net")
    for call in (lambda: model.train_on_batch(X, Y_BIN), lambda: model.test_on_batch(X, Y_BIN),
                 lambda: model.fit(X, Y_BIN, verbose=0), lambda: model.evaluate(X, Y_BIN, verbose=0)):
        with pytest.raises(RuntimeError, match=r"'uncompiled_net'.*`compile\(\)`"):
            call()
    assert model.predict(X, verbose=0).shape == (16, 1)  # predicting needs no compile


def test_bad_arguments_are_value_errors(keras):
    _, model = _pair(keras)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(X, Y_BIN[:10], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.train_on_batch(X, Y_BIN[:10])
    with pytest.raises(ValueError, match="same number of samples"):
        model.evaluate(X, Y_BIN, sample_weight=SW[:3], verbose=0)
    for split in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="validation_split"):
            model.fit(X, Y_BIN, validation_split=split, verbose=0)
    with pytest.raises(ValueError, match="sample_weight.*class_weight"):
        model.fit(X, Y_BIN, sample_weight=SW, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight.*class_weight"):
        model.train_on_batch(X, Y_BIN, sample_weight=SW, class_weight={0: 1.0, 1: 2.0})
    with pytest.raises(ValueError, match="targets"):
        model.fit(X, verbose=0)
    with pytest.raises(ValueError, match="targets"):
        model.train_on_batch(X)
    assert model.optimizer.iterations == 0  # none of these trained


def test_nan_loss_in_fit_raises_and_leaves_the_weights_of_that_step_alone():
    def build():
        m = Sequential([layers.Input((8,)), layers.Dense(4), layers.BatchNormalization(),
                        layers.Dense(1, activation="sigmoid")], name="nan_net")
        m.compile(optimizers.Adam(0.01), "binary_crossentropy")
        return m

    model, reference = build(), build()
    reference.set_weights(model.get_weights())
    x = X.copy()
    x[5, 2] = np.nan  # in the second batch of 4
    with pytest.raises(FloatingPointError, match=r"'nan_net'.*nan.*epoch 1, step 2"):
        model.fit(x, Y_BIN, batch_size=4, epochs=2, shuffle=False, verbose=0)
    reference.train_on_batch(x[:4], Y_BIN[:4])
    for a, b in zip(model.get_weights(), reference.get_weights()):  # BatchNormalization's moving stats too
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 1


# ----------------------------------------------------------------------------- regularizers, constraints
def _reg_models(keras):
    def build(L, S, I, R, C):
        return S([I((6,)), L.Dense(5, activation="tanh", kernel_regularizer=R.L2(0.05), bias_regularizer=R.L1(0.02),
                                   kernel_constraint=C.MaxNorm(0.8)),
                  L.Dense(1, activation="sigmoid", kernel_regularizer="l2", bias_constraint=C.NonNeg())])
    from upsampling import constraints, regularizers
    from upsampling import layers as L
    from upsampling.models import Sequential
    theirs = build(keras.layers, keras.Sequential, keras.Input, keras.regularizers, keras.constraints)
    ours = build(L, Sequential, L.Input, regularizers, constraints)
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    return ours, theirs


def test_regularizers_and_constraints_train_like_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _reg_models(keras)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = (rng.random((16, 1)) > 0.5).astype(np.float32)
    for model, opt in ((ours, __import__("upsampling.optimizers", fromlist=["SGD"]).SGD(0.5)),
                       (theirs, keras.optimizers.SGD(0.5))):
        model.compile(optimizer=opt, loss="binary_crossentropy")
    np.testing.assert_allclose(sum(ours.losses), float(sum(keras.ops.convert_to_numpy(l) for l in theirs.losses)),
                               rtol=1e-5)
    for _ in range(3):
        np.testing.assert_allclose(ours.train_on_batch(x, y), theirs.train_on_batch(x, y), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    norms = np.sqrt((ours.get_weights()[0] ** 2).sum(axis=0))
    assert norms.max() <= 0.8 + 1e-6 and (ours.get_weights()[3] >= 0).all()
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)


def test_a_custom_constraint_clips_weights_like_a_wgan_critic():
    from upsampling import constraints, layers
    from upsampling.models import Sequential

    class ClipConstraint(constraints.Constraint):
        def __init__(self, clip_value):
            self.clip_value = clip_value

        def __call__(self, weights):
            return np.clip(weights, -self.clip_value, self.clip_value)

    model = Sequential([layers.Input((4,)), layers.Dense(3, kernel_constraint=ClipConstraint(0.01))])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(np.ones((2, 4), np.float32), np.full((2, 3), 5.0, np.float32))
    assert np.abs(model.layers[0].kernel.value).max() <= 0.01


def test_regularizer_gradients_by_finite_differences():
    from tests.gradcheck import assert_grad_close, numeric_grad
    from upsampling import regularizers
    x = np.random.default_rng(3).standard_normal((4, 5))
    for reg in (regularizers.L1(0.3), regularizers.L2(0.2), regularizers.get("l1_l2")):
        assert_grad_close(reg.gradient(x), numeric_grad(lambda: reg(x), x), what=type(reg).__name__)


def _gan_batch(seed: int, n: int, image_shape: tuple):
    """n latent points (3 values each), n images and the labels 'real' for the test GANs below."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3)).astype(np.float32)
    images = rng.normal(size=(n, *image_shape)).astype(np.float32)
    return z, images, np.ones((n, 1), np.float32)


def test_frozen_layers_skip_their_weight_gradients_and_first_layers_their_dx(monkeypatch):
    """A training step asks only for its compiled variables' gradients and not for the model's
    input gradient: the frozen discriminator's layers skip their weight gradients while the
    generator trains through it (but still pass dx back to the generator), a discriminator's own
    step skips its first convolution's dx, and the updates are the same as when everything is
    computed."""
    from upsampling import autograd
    from upsampling.layers import convolutional

    def build(functional_d=False):
        urandom.set_random_seed(4)
        g = Sequential([layers.Input((3,)), layers.Dense(2 * 4 * 4), layers.Reshape((4, 4, 2)),
                        layers.Conv2DTranspose(3, 4, strides=2, padding="same")], name="g")
        d_layers = [layers.Conv2D(4, 3, strides=2, padding="same"), layers.BatchNormalization(),
                    layers.LeakyReLU(0.2), layers.Flatten(), layers.Dense(1, activation="sigmoid")]
        if functional_d:
            inp = layers.Input((8, 8, 3))
            out = inp
            for layer in d_layers:
                out = layer(out)
            d = Model(inp, out, name="d")
        else:
            d = Sequential([layers.Input((8, 8, 3)), *d_layers], name="d")
        return _compose_gan(g, d, 0.1, 0.1)

    z, images, ones = _gan_batch(5, 6, (8, 8, 3))
    asked = []
    real_backward = convolutional.conv2d_backward

    def spy(dz, cache, **kwargs):
        asked.append((kwargs.get("need_dkernel", True), kwargs.get("need_dx", True)))
        return real_backward(dz, cache, **kwargs)

    monkeypatch.setattr(convolutional, "conv2d_backward", spy)
    results = {}
    for everything in (False, True):
        if everything:  # every gradient computed, as before the skipping
            monkeypatch.setattr(autograd.Gradients, "wants", lambda self, variable: True)
            monkeypatch.setattr(autograd.Gradients, "input_needed",
                                property(lambda self: True, lambda self, value: None), raising=False)
        for functional_d in (False, True):
            asked.clear()
            g, d, gan = build(functional_d)
            d_before = d.get_weights()
            gan.train_on_batch(z, ones)
            assert all(np.array_equal(a, b) for a, b in zip(d_before, d.get_weights()))
            d.train_on_batch(images, ones)
            if not everything:
                # the generator's step: dx only; the discriminator's own step: the kernel gradient,
                # and dx only where the functional model does not know it is first (conservative)
                assert asked == [(False, True), (True, functional_d)]
            results[everything, functional_d] = g.get_weights() + d.get_weights()
    for functional_d in (False, True):
        for a, b in zip(results[False, functional_d], results[True, functional_d]):
            np.testing.assert_array_equal(a, b)


@pytest.fixture
def kept(monkeypatch):
    """Records, for each Conv2D forward pass, whether it kept its patch matrix."""
    from upsampling.layers import convolutional

    real_conv2d = convolutional.conv2d
    record = []

    def spy(*args, **kwargs):
        y, cache = real_conv2d(*args, **kwargs)
        record.append(cache.patches is not None)
        return y, cache

    monkeypatch.setattr(convolutional, "conv2d", spy)
    return record


def test_a_conv2d_keeps_its_patches_only_for_a_kernel_gradient_that_will_be_asked_for(kept, monkeypatch):
    """Conv2D's forward pass keeps its patch matrix for the kernel gradient in a training step
    that wants that gradient (the discriminator's own step), not while the generator trains through
    the frozen discriminator, not for a frozen kernel and not in predict; the updates are the same
    as gathering the patches again. The two convolutions' patch matrices have the same shape, so
    one kept in a buffer that the other reuses would give the other's patches."""
    from upsampling.layers import convolutional

    def build():
        urandom.set_random_seed(6)
        g = Sequential([layers.Input((3,)), layers.Dense(4 * 4 * 2), layers.Reshape((4, 4, 2)),
                        layers.Conv2DTranspose(4, 4, strides=2, padding="same")], name="g")
        d = Sequential([layers.Input((8, 8, 4)), layers.Conv2D(4, 3, padding="same"),
                        layers.LeakyReLU(0.2), layers.Conv2D(4, 3, padding="same"), layers.Flatten(),
                        layers.Dense(1, activation="sigmoid")], name="d")
        return _compose_gan(g, d, 0.1, 0.1)

    z, images, ones = _gan_batch(8, 5, (8, 8, 4))
    results = []
    for keeping in (True, False):
        if not keeping:
            monkeypatch.setattr(convolutional, "gradient_expected", lambda variable: False)
        g, d, gan = build()
        kept.clear()
        gan.train_on_batch(z, ones)
        d.train_on_batch(images, ones)
        d.predict(images, verbose=0)
        d.trainable = True  # (the composite froze it) and compile again: compile takes the trainable state
        d.layers[2].kernel.trainable = False  # the second convolution's bias still trains
        d.compile(optimizers.SGD(0.1), "binary_crossentropy")
        d.train_on_batch(images, ones)
        assert kept == ([False, False, True, True, False, False, True, False] if keeping else [False] * 8)
        results.append(g.get_weights() + d.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_kept_patches_stay_within_the_steps_allowance(kept, monkeypatch):
    """Past the step's allowance for kept arrays the later convolutions gather again (so a deep
    network's peak memory does not grow by every layer's patches), with the same updates."""
    from upsampling import autograd
    one = 5 * 6 * 6 * 3 * 3 * 4 * 4  # bytes of one layer's patch matrix

    def train(allowance):
        monkeypatch.setattr(autograd, "KEEP_BYTES_PER_STEP", allowance)
        urandom.set_random_seed(3)
        model = Sequential([layers.Input((6, 6, 4))] + [layers.Conv2D(4, 3, padding="same") for _ in range(3)]
                           + [layers.Flatten(), layers.Dense(1)])
        model.compile(optimizers.SGD(0.05), "mse")
        x = np.random.default_rng(1).normal(size=(5, 6, 6, 4)).astype(np.float32)
        kept.clear()
        model.train_on_batch(x, np.ones((5, 1), np.float32))
        return list(kept), model.get_weights()

    all_kept, everything = train(3 * one)
    two_kept, partly = train(2 * one + one // 2)
    none_kept, gathered = train(0)
    assert all_kept == [True] * 3 and two_kept == [True, True, False] and none_kept == [False] * 3
    for a, b, c in zip(everything, partly, gathered):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, c)


def test_training_step_marks_nest_and_stay_in_their_thread():
    import threading

    from upsampling import autograd

    a, b = autograd.Variable("a", np.zeros(2)), autograd.Variable("b", np.zeros(2))
    assert not autograd.gradient_expected(a) and not autograd.keep_bytes(1)
    seen = []
    with autograd.training_step([a]):
        assert autograd.gradient_expected(a) and not autograd.gradient_expected(b)
        with autograd.training_step([b]):
            assert autograd.gradient_expected(b) and not autograd.gradient_expected(a)
            assert autograd.keep_bytes(autograd.KEEP_BYTES_PER_STEP)
            assert not autograd.keep_bytes(1)  # the inner step's allowance is spent
        assert autograd.gradient_expected(a) and not autograd.gradient_expected(b)
        assert autograd.keep_bytes(1)  # the outer step's allowance is its own
        worker = threading.Thread(target=lambda: seen.append(autograd.gradient_expected(a)))
        worker.start()
        worker.join()
    assert seen == [False]
    assert not autograd.gradient_expected(a) and not autograd.keep_bytes(1)


def test_an_unbuilt_model_trains_on_its_first_batch():
    """A model without an Input gets its weights during its first training step, and that step
    updates them as it does for the same model built beforehand."""
    x = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    y = np.random.default_rng(3).normal(size=(6, 1)).astype(np.float32)
    results = []
    for built in (False, True):
        urandom.set_random_seed(5)
        model = Sequential(([layers.Input((3,))] if built else []) + [layers.Dense(4), layers.Dense(1)])
        model.compile(optimizers.SGD(0.1), "mse")
        losses = [model.train_on_batch(x, y) for _ in range(2)]
        assert losses[1] < losses[0]
        results.append((losses, model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make,shape", [
    (lambda: layers.Dense(3), (3,)),
    (lambda: layers.Conv2D(3, 3, padding="same"), (4, 4, 2)),
    (lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2)),
], ids=["Dense", "Conv2D", "Conv2DTranspose"])
def test_a_trainable_bias_beside_a_frozen_kernel_still_trains(make, shape, monkeypatch):
    """Bias-only fine-tuning: the kernel's gradient is skipped, the bias's is not, and both updates
    equal those of a step that computes every gradient."""
    from upsampling import autograd

    def run():
        urandom.set_random_seed(2)
        model = Sequential([layers.Input(shape), make(), layers.Flatten(), layers.Dense(1)])
        model.layers[0].kernel.trainable = False
        model.compile(optimizers.SGD(0.1), "mse")
        x = np.random.default_rng(3).normal(size=(5, *shape)).astype(np.float32)
        before = model.layers[0].get_weights()
        model.train_on_batch(x, np.ones((5, 1), np.float32))
        return before, model.layers[0].get_weights()

    before, skipped = run()
    assert np.array_equal(before[0], skipped[0]) and not np.array_equal(before[1], skipped[1])
    monkeypatch.setattr(autograd.Gradients, "wants", lambda self, variable: True)
    _, everything = run()
    for a, b in zip(skipped, everything):
        np.testing.assert_array_equal(a, b)


def test_a_user_layer_wrapping_another_trains_as_the_first_layer():
    """A custom layer whose backward calls an inner layer's: as the first layer of a Sequential it is
    not told to skip its input gradient (it does not declare `skips_input_gradient`), so the inner
    layer still returns the dx the wrapper needs."""
    from upsampling.layers import Layer

    class Residual(Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def build(self, input_shape):
            self.inner._maybe_build(input_shape)

        @property
        def weights(self):
            return self.inner.weights

        @property
        def trainable_weights(self):
            return self.inner.trainable_weights

        def compute_output_shape(self, input_shape):
            return input_shape

        def call_forward(self, x, training):
            y, back = self.inner.forward(x, training)
            return x + y, lambda dy, grads: dy + back(dy, grads)

    urandom.set_random_seed(6)
    model = Sequential([layers.Input((4,)), Residual(layers.Dense(4)), layers.Dense(1)])
    model.compile(optimizers.SGD(0.1), "mse")
    x = np.random.default_rng(7).normal(size=(6, 4)).astype(np.float32)
    before = model.get_weights()
    loss = model.train_on_batch(x, np.ones((6, 1), np.float32))
    assert np.isfinite(loss)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

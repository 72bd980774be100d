"""Keras 3 itself reads what we write (.keras, .h5, .weights.h5, JSON) and we read what it writes,
with the same predictions, optimizer state and continued training."""
import json
import zipfile

import numpy as np
import pytest

from tests.io.zoo import ZOO, build, outputs, randomize
from tests.keras_oracle import keras
from upsampling import layers
from upsampling.models import Sequential, load_model, model_from_json
from upsampling.optimizers import SGD, Adam, RMSprop

pytest.importorskip("h5py")


def _same(ours, theirs, atol=1e-5):
    a, b = outputs(ours), outputs(theirs)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.shape == v.shape
        np.testing.assert_allclose(u, v, atol=atol, rtol=1e-5)


def _kpredict(kmodel, x):
    k = keras()
    y = kmodel(x, training=False)
    return [k.ops.convert_to_numpy(t) for t in y] if isinstance(y, (list, tuple)) else k.ops.convert_to_numpy(y)


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_loads_our_file_and_predicts_what_we_predict(name, suffix, tmp_path):
    k = keras()
    model, x = build(name)
    path = model.save(tmp_path / f"m{suffix}")
    if suffix == ".keras":
        with zipfile.ZipFile(path) as zf:
            assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    kmodel = k.saving.load_model(path)
    _same(model.predict(x, verbose=0), _kpredict(kmodel, x))
    for layer in model.layers:  # every layer's weights where Keras expects them
        for a, b in zip(layer.get_weights(), kmodel.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def _copy_weights(src, dst):
    """Layer by layer (by name): a branched functional model may list its layers in another order."""
    for layer in src.layers:
        dst.get_layer(layer.name).set_weights(layer.get_weights())


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_we_load_files_keras_writes_and_predict_what_keras_predicts(name, suffix, tmp_path):
    k = keras()
    model, x = build(name)
    kmodel = k.saving.load_model(model.save(tmp_path / "ours.keras"))
    rng = np.random.default_rng(3)  # new weights set in Keras, so the file's numbers are Keras's
    kmodel.set_weights([(w + 0.1 * w.std() * rng.standard_normal(w.shape)).astype(w.dtype) if w.ndim > 1 else w
                        for w in kmodel.get_weights()])
    kmodel.save(tmp_path / f"keras{suffix}")
    loaded = load_model(tmp_path / f"keras{suffix}")
    _same(loaded.predict(x, verbose=0), _kpredict(kmodel, x))
    assert sorted(l.name for l in loaded.layers) == sorted(l.name for l in kmodel.layers)


def test_a_keras_built_generator_loads_from_both_formats(tmp_path):
    k = keras()
    kl = k.layers
    kmodel = k.Sequential([k.Input((12,)), kl.Dense(7 * 7 * 8, use_bias=False), kl.BatchNormalization(),
                           kl.LeakyReLU(negative_slope=0.2), kl.Reshape((7, 7, 8)),
                           kl.Conv2DTranspose(8, (5, 5), strides=(1, 1), padding="same", use_bias=False),
                           kl.BatchNormalization(), kl.LeakyReLU(), kl.UpSampling2D(interpolation="bilinear"),
                           kl.Conv2DTranspose(4, (5, 5), strides=(2, 2), padding="same"),
                           kl.Conv2D(1, 3, padding="same", activation="tanh")])
    x = np.random.default_rng(0).standard_normal((3, 12)).astype(np.float32)
    kmodel.compile(optimizer="adam", loss="mse")
    kmodel.fit(x, np.zeros((3, 28, 28, 1), np.float32), epochs=1, verbose=0)  # moves the BN statistics
    for suffix in (".keras", ".h5"):
        kmodel.save(tmp_path / f"g{suffix}")
        ours = load_model(tmp_path / f"g{suffix}")
        _same(ours.predict(x, verbose=0), _kpredict(kmodel, x))
        assert ours.compiled and ours.loss is not None


def _compiled(opt):
    model = Sequential([layers.Input((6,)), layers.Dense(5, activation="relu"), layers.BatchNormalization(),
                        layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _batch(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 6)).astype(np.float32), (rng.random((8, 1)) > 0.5).astype(np.float32)


@pytest.mark.parametrize("opt", [lambda: Adam(0.01, beta_1=0.5), lambda: Adam(0.01, amsgrad=True),
                                 lambda: SGD(0.05, momentum=0.9, nesterov=True),
                                 lambda: RMSprop(0.01, momentum=0.5, centered=True)])
def test_compiled_models_keep_optimizer_state_as_keras_does(opt, tmp_path):
    k = keras()
    model = _compiled(opt())
    for s in range(3):
        model.train_on_batch(*_batch(s))
    kmodel = k.saving.load_model(model.save(tmp_path / "m.keras"))
    kvars = [k.ops.convert_to_numpy(v) for v in kmodel.optimizer.variables]
    ours = model.optimizer.get_state()
    assert len(kvars) == len(ours) and int(kvars[0]) == 3
    for a, b in zip(kvars, ours):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # one more step on each side gives the same weights: the state really is Keras's
    x, y = _batch(9)
    kmodel.train_on_batch(x, y)
    model.train_on_batch(x, y)
    for a, b in zip(kmodel.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    # and back: Keras's file, with its state, continues here as it continues there
    kmodel.save(tmp_path / "k.keras")
    back = load_model(tmp_path / "k.keras")
    assert back.optimizer.iterations == 4
    x, y = _batch(10)
    kmodel.train_on_batch(x, y)
    back.train_on_batch(x, y)
    for a, b in zip(kmodel.get_weights(), back.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_round_trip_ours_keras_ours_with_training_on_both_sides(tmp_path):
    """The README's round trip: train here, continue in Keras 3, come back and continue here."""
    k = keras()
    model = _compiled(Adam(0.01))
    for s in range(5):
        model.train_on_batch(*_batch(s))
    kmodel = k.saving.load_model(model.save(tmp_path / "here.keras"))
    x, _ = _batch(0)
    _same(model.predict(x, verbose=0), _kpredict(kmodel, x))
    for s in range(5, 10):
        kmodel.train_on_batch(*_batch(s))
    kmodel.save(tmp_path / "there.keras")
    back = load_model(tmp_path / "there.keras")
    for a, b in zip(back.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, b)
    _same(back.predict(x, verbose=0), _kpredict(kmodel, x))
    for s in range(10, 13):
        back.train_on_batch(*_batch(s))
        kmodel.train_on_batch(*_batch(s))
    _same(back.predict(x, verbose=0), _kpredict(kmodel, x))
    for a, b in zip(back.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    assert back.optimizer.iterations == 13


def test_weights_h5_both_ways(tmp_path):
    k = keras()
    for name in ("functional", "convs_first", "nested"):
        model, x = build(name)
        kmodel = k.saving.load_model(model.save(tmp_path / "m.keras"))
        model2 = randomize(load_model(tmp_path / "m.keras"), seed=7)
        model.save_weights(tmp_path / "ours.weights.h5")
        kmodel.set_weights([w * 0 for w in kmodel.get_weights()])
        kmodel.load_weights(tmp_path / "ours.weights.h5")
        _same(model.predict(x, verbose=0), _kpredict(kmodel, x))
        _copy_weights(model2, kmodel)
        kmodel.save_weights(tmp_path / "keras.weights.h5")
        model.load_weights(tmp_path / "keras.weights.h5")
        _same(model.predict(x, verbose=0), model2.predict(x, verbose=0))


def test_to_json_and_model_from_json_both_ways():
    k = keras()
    for name in ("functional", "nested", "convs_first"):
        model, x = build(name)
        kmodel = k.models.model_from_json(model.to_json())
        _copy_weights(model, kmodel)
        _same(model.predict(x, verbose=0), _kpredict(kmodel, x))
        ours = model_from_json(kmodel.to_json())
        _copy_weights(kmodel, ours)
        _same(ours.predict(x, verbose=0), _kpredict(kmodel, x))
        assert json.loads(ours.to_json())["class_name"] == json.loads(kmodel.to_json())["class_name"]


def test_legacy_h5_keeps_compile_arguments_and_optimizer_state(tmp_path):
    k = keras()
    model = _compiled(Adam(0.01, beta_1=0.5))
    for s in range(3):
        model.train_on_batch(*_batch(s))
    path = model.save(tmp_path / "m.h5")
    back = load_model(path)
    assert back.optimizer.iterations == 3 and back.optimizer.get_config()["beta_1"] == 0.5
    x, y = _batch(7)
    np.testing.assert_array_equal(back.train_on_batch(x, y), model.train_on_batch(x, y))
    kmodel = k.saving.load_model(path)  # Keras reads the file, compiled as saved
    assert kmodel.optimizer.get_config()["beta_1"] == 0.5
    # Keras 3's legacy reader restores the step count and learning rate but builds its optimizer on no
    # variables, so it keeps no moments even from its own .h5 files (.keras keeps everything)
    saved_state = load_model(path).optimizer.get_state()
    for a, b in zip(kmodel.optimizer.variables[:2], saved_state[:2]):
        np.testing.assert_allclose(k.ops.convert_to_numpy(a), b, rtol=1e-6)
    assert int(k.ops.convert_to_numpy(kmodel.optimizer.iterations)) == 3
    _same(back.predict(x, verbose=0), _kpredict(k.saving.load_model(back.save(tmp_path / "b.h5")), x))


def test_keras2_style_configs_load():
    """tf.keras 2 wrote inbound nodes as nested lists, `batch_input_shape`, `alpha=` and axis=[3]."""
    text = json.dumps({"class_name": "Model", "config": {"name": "k2", "layers": [
        {"class_name": "InputLayer", "name": "input_1",
         "config": {"batch_input_shape": [None, 4, 4, 2], "dtype": "float32", "sparse": False, "name": "input_1"},
         "inbound_nodes": []},
        {"class_name": "Conv2DTranspose", "name": "up", "config": {
            "name": "up", "trainable": True, "dtype": "float32", "filters": 3, "kernel_size": [3, 3],
            "strides": [2, 2], "padding": "same", "output_padding": None, "data_format": "channels_last",
            "dilation_rate": [1, 1], "activation": "linear", "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
            "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}, "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "BatchNormalization", "name": "bn", "config": {"name": "bn", "axis": [3], "momentum": 0.99,
                                                                      "epsilon": 0.001},
         "inbound_nodes": [[["up", 0, 0, {}]]]},
        {"class_name": "LeakyReLU", "name": "act", "config": {"name": "act", "alpha": 0.2},
         "inbound_nodes": [[["bn", 0, 0, {}]]]}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["act", 0, 0]]}})
    with pytest.warns(DeprecationWarning, match="alpha"):
        model = model_from_json(text)
    assert model.output_shape == (None, 8, 8, 3) and model.get_layer("act").negative_slope == 0.2

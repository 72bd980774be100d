"""Functional models with several inputs and outputs, step by step against Keras 3 (torch backend)."""
import numpy as np
import pytest

from tests.keras_oracle import keras
from upsampling import layers, optimizers
from upsampling.models import Model, Sequential, load_model

RNG = np.random.default_rng(0)


def _acgan_like(lib, n_classes=4):
    """A two-input, two-output discriminator: real/fake (sigmoid) and the class (softmax)."""
    img = lib.layers.Input((6, 6, 1), name="image")
    aux = lib.layers.Input((3,), name="aux")
    h = lib.layers.Conv2D(4, 3, strides=2, padding="same")(img)
    h = lib.layers.LeakyReLU(negative_slope=0.2)(h)
    h = lib.layers.Flatten()(h)
    h = lib.layers.Concatenate()([h, lib.layers.Dense(5)(aux)])
    out1 = lib.layers.Dense(1, activation="sigmoid", name="real")(h)
    out2 = lib.layers.Dense(n_classes, activation="softmax", name="label")(h)
    return lib.models.Model([img, aux], [out1, out2])


class _Lib:
    def __init__(self, layers_module, models_module):
        self.layers, self.models = layers_module, models_module


OURS = _Lib(layers, __import__("upsampling.models", fromlist=["Model"]))


def _data(n=8, n_classes=4):
    x = [RNG.normal(size=(n, 6, 6, 1)).astype("float32"), RNG.normal(size=(n, 3)).astype("float32")]
    y = [RNG.integers(0, 2, size=(n, 1)).astype("float32"), RNG.integers(0, n_classes, size=(n,))]
    return x, y


@pytest.mark.parametrize("loss_style", ["list", "dict"])
def test_two_output_training_matches_keras_step_by_step(loss_style):
    k = keras()
    kmodel = _acgan_like(k)
    model = _acgan_like(OURS)
    model.set_weights(kmodel.get_weights())
    losses = ["binary_crossentropy", "sparse_categorical_crossentropy"]
    weights = [1.0, 0.5]
    metrics = [["accuracy", "mse"], ["accuracy"]]
    if loss_style == "dict":
        losses, weights = dict(zip(["real", "label"], losses)), {"real": 1.0, "label": 0.5}
        metrics = {"real": ["accuracy", "mse"], "label": "accuracy"}
    kmodel.compile(optimizer=k.optimizers.Adam(0.01, beta_1=0.5), loss=losses, loss_weights=weights,
                   metrics=metrics)
    model.compile(optimizer=optimizers.Adam(0.01, beta_1=0.5), loss=losses, loss_weights=weights, metrics=metrics)
    x, y = _data()
    for step in range(4):
        theirs = kmodel.train_on_batch(x, y, return_dict=True)
        ours = model.train_on_batch(x, y, return_dict=True)
        assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
        for key in theirs:
            assert ours[key] == pytest.approx(float(theirs[key]), rel=1e-5, abs=1e-6), (step, key)
        for a, b in zip(model.get_weights(), kmodel.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the list form is in Keras's order: total, per-output losses, then metrics
    theirs = kmodel.test_on_batch(x, y)
    ours = model.test_on_batch(x, y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert model.metrics_names[:3] == ["loss", "real_loss", "label_loss"]
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=3, verbose=0),
                               kmodel.evaluate(x, y, batch_size=3, verbose=0), rtol=1e-5, atol=1e-6)
    preds = model.predict(x, verbose=0)
    assert isinstance(preds, list) and [p.shape for p in preds] == [(8, 1), (8, 4)]
    for p, q in zip(preds, kmodel.predict(x, verbose=0)):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


def test_fit_logs_keras_names_and_dict_inputs_work():
    k = keras()
    kmodel = _acgan_like(k)
    model = _acgan_like(OURS)
    for m in (kmodel, model):
        m.compile(optimizer="sgd", loss=["binary_crossentropy", "sparse_categorical_crossentropy"],
                  metrics=[[], ["accuracy"]])
    x, y = _data()
    history = model.fit({"image": x[0], "aux": x[1]}, {"real": y[0], "label": y[1]}, epochs=2, batch_size=4,
                        verbose=0, shuffle=False)
    khistory = kmodel.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    assert set(history.history) == set(khistory.history) == {"loss", "real_loss", "label_loss", "label_accuracy"}
    assert isinstance(model.predict({"aux": x[1], "image": x[0]}, verbose=0), list)


def test_single_output_loss_weights_scale_the_loss_as_keras():
    k = keras()
    km = k.Sequential([k.Input((3,)), k.layers.Dense(1, activation="sigmoid")])
    m = Sequential([layers.Input((3,)), layers.Dense(1, activation="sigmoid")])
    m.set_weights(km.get_weights())
    km.compile(optimizer="sgd", loss="binary_crossentropy", loss_weights=[0.5])
    m.compile(optimizer="sgd", loss="binary_crossentropy", loss_weights=[0.5])
    x, y = RNG.normal(size=(4, 3)).astype("float32"), RNG.integers(0, 2, size=(4, 1)).astype("float32")
    for _ in range(3):
        assert m.train_on_batch(x, y) == pytest.approx(float(km.train_on_batch(x, y)), rel=1e-5)


def test_model_input_output_attributes_on_model_and_sequential():
    k = keras()
    model = _acgan_like(OURS)
    kmodel = _acgan_like(k)
    assert isinstance(model.input, list) and [t.shape for t in model.input] == [tuple(t.shape) for t in kmodel.input]
    assert [t.shape for t in model.output] == [tuple(t.shape) for t in kmodel.output]
    assert model.inputs == model.input and model.outputs == model.output
    seq = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert seq.input.shape == (None, 3) and seq.output.shape == (None, 2)
    assert seq.inputs == [seq.input] and seq.outputs == [seq.output]
    # the author's composite pattern: a model built from another model's input and output
    head = Sequential([layers.Dense(1, input_shape=(2,))])
    combined = Model(seq.input, head(seq.output))
    x = RNG.normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(combined.predict(x, verbose=0), head.predict(seq.predict(x, verbose=0), verbose=0),
                               rtol=1e-6)
    with pytest.raises(AttributeError, match="not built"):
        Sequential([layers.Dense(2)]).output


def test_nested_multi_input_multi_output_model_trains_its_parts_and_summary_matches_keras():
    k = keras()

    def build(lib):
        inner = _acgan_like(lib)
        a, b = lib.layers.Input((6, 6, 1)), lib.layers.Input((3,))
        outs = inner([a, b])
        total = lib.layers.Add()([outs[0], lib.layers.Dense(1)(outs[1])])
        return inner, lib.models.Model([a, b], [total, outs[1]])

    from upsampling.backend import clear_session
    clear_session()
    k.backend.clear_session()
    kinner, kouter = build(k)
    inner, outer = build(OURS)
    outer.set_weights(kouter.get_weights())
    lines, klines = [], []
    outer.summary(print_fn=lambda s: lines.append(s))
    kouter.summary(print_fn=lambda s, line_break=None: klines.append(s))
    assert "".join(lines).strip() == "".join(klines).strip()
    x, y = _data()
    kouter.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    outer.compile(optimizer="sgd", loss=["mse", "sparse_categorical_crossentropy"])
    for _ in range(2):
        np.testing.assert_allclose(outer.train_on_batch(x, y), kouter.train_on_batch(x, y), rtol=1e-5, atol=1e-6)
    for a, b in zip(outer.get_weights(), kouter.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_save_and_load_round_trip_of_a_multi_io_model(tmp_path):
    model = _acgan_like(OURS)
    model.compile(optimizer="adam", loss=["binary_crossentropy", "sparse_categorical_crossentropy"],
                  loss_weights=[1.0, 0.25])
    x, y = _data()
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.model")
    again = load_model(tmp_path / "m.model")
    for p, q in zip(model.predict(x, verbose=0), again.predict(x, verbose=0)):
        np.testing.assert_array_equal(p, q)
    assert again._loss_weights == [1.0, 0.25] and again.output_names == ["real", "label"]
    np.testing.assert_allclose(again.train_on_batch(x, y), model.train_on_batch(x, y), rtol=1e-6)


def test_compile_errors_name_the_rule():
    model = _acgan_like(OURS)
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile(loss=["mse"])
    with pytest.raises(ValueError, match="not output names.*'nope'"):
        model.compile(loss={"nope": "mse", "real": "mse"})
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile(loss="mse", loss_weights=[1.0])
    with pytest.raises(ValueError, match="2 outputs.*metrics"):
        model.compile(loss="mse", metrics=["accuracy"])
    with pytest.raises(TypeError, match="loss_weights"):
        model.compile(loss="mse", loss_weights=["a", "b"])
    model.compile(loss="mse")
    x, y = _data()
    with pytest.raises(ValueError, match="2 outputs.*list of 2 target arrays"):
        model.train_on_batch(x, y[0])
    with pytest.raises(ValueError, match="expects 2 inputs"):
        model.predict(x[0], verbose=0)

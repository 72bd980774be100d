"""Sequential / functional models: building, summary (against Keras's own text), weights, predict."""
import numpy as np
import pytest

from tests.layers.test_new_layers_in_models import SUMMARY_MODELS as NEW_LAYER_MODELS
from upsampling import layers
from upsampling.layers.base import clear_session
from upsampling.models import Model, Sequential

rng = np.random.default_rng(3)


def _summary_text(model, **kw):
    out = []
    model.summary(print_fn=out.append, **kw)
    return "".join(out)


def build_both(build):
    """Build the same model with Keras and with us, each with fresh layer numbering."""
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()
    theirs = build(keras.layers, keras.Sequential, keras.Model, keras.Input)
    clear_session()
    ours = build(layers, Sequential, Model, layers.Input)
    return ours, theirs


SEED_MODELS = {
    "upsampling_generator": lambda L, S, M, I: S([I((100,)), L.Dense(128 * 5 * 5), L.Reshape((5, 5, 128)),
                                                  L.UpSampling2D(), L.Conv2D(1, (3, 3), padding="same")]),
    "transpose_generator": lambda L, S, M, I: S([I((100,)), L.Dense(128 * 5 * 5), L.Reshape((5, 5, 128)),
                                                 L.Conv2DTranspose(1, (3, 3), strides=(2, 2), padding="same")]),
    "dcgan_parts": lambda L, S, M, I: S([I((28, 28, 1)), L.Conv2D(64, 3, strides=2, padding="same"),
                                         L.LeakyReLU(negative_slope=0.2), L.Dropout(0.4), L.BatchNormalization(),
                                         L.Flatten(), L.Dense(1, activation="sigmoid")]),
    "functional": lambda L, S, M, I: (lambda i: M(i, L.Dense(3)(L.ReLU()(L.Dense(10)(i)))))(I((100,))),
    "nested": lambda L, S, M, I: S([I((4,)), S([I((4,)), L.Dense(8)]), L.Dense(2)]),
    "two_heads": lambda L, S, M, I: (lambda i, h: M(i, [L.Dense(2)(h), L.Dense(3)(h)]))(
        *(lambda i: (i, L.Dense(4, name="hidden")(i)))(I((6,)))),
    "shared_layer": lambda L, S, M, I: (lambda i, sh: M(i, sh(sh(i))))(I((6,)), L.Dense(6, name="shared")),
    "long_names": lambda L, S, M, I: S([I((8, 8, 3)), L.Conv2DTranspose(4, 3, strides=2, padding="same",
                                                                        name="a_rather_long_transpose_layer_name_here"),
                                        L.BatchNormalization(), L.UpSampling2D()]),
}
SEED_MODELS.update(NEW_LAYER_MODELS)  # padding, pooling, normalization, noise and Embedding layers


@pytest.mark.parametrize("name", list(SEED_MODELS))
def test_summary_text_equals_keras(name):
    ours, theirs = build_both(SEED_MODELS[name])
    expected = []
    theirs.summary(print_fn=lambda s, **kw: expected.append(s))
    assert _summary_text(ours) == "".join(expected)
    assert ours.count_params() == theirs.count_params()
    assert tuple(ours.output_shape) == tuple(theirs.output_shape)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]


def test_seed_generator_summary_numbers():
    clear_session()
    model = SEED_MODELS["upsampling_generator"](layers, Sequential, Model, layers.Input)
    text = _summary_text(model)
    assert "324,353 (1.24 MB)" in text and "│ up_sampling2d (UpSampling2D)    │ (None, 10, 10, 128)" in text
    assert model.count_params() == 324_353


def test_keras2_spellings_build_the_model():
    clear_session()
    model = Sequential()
    model.add(layers.Dense(128 * 5 * 5, input_dim=100))
    model.add(layers.Reshape((5, 5, 128)))
    model.add(layers.UpSampling2D())
    model.add(layers.Conv2D(1, (3, 3), padding="same"))
    assert model.output_shape == (None, 10, 10, 1)
    assert model.input_shape == (None, 100)
    assert [l.name for l in model.layers] == ["dense", "reshape", "up_sampling2d", "conv2d"]
    first = Sequential([layers.UpSampling2D(input_shape=(2, 2, 1))])
    assert first.output_shape == (None, 4, 4, 1)


def test_predict_equals_forward_and_batches():
    model = Sequential([layers.Input((5,)), layers.Dense(3, activation="tanh")])
    x = rng.standard_normal((70, 5)).astype(np.float32)
    y = model.predict(x, batch_size=32, verbose=0)
    np.testing.assert_allclose(y, np.tanh(x @ model.layers[0].kernel.value + model.layers[0].bias.value), rtol=1e-6)
    assert y.dtype == np.float32 and y.shape == (70, 3)


def test_predict_matches_keras_with_the_same_weights():
    ours, theirs = build_both(SEED_MODELS["transpose_generator"])
    ours.set_weights(theirs.get_weights())
    x = rng.standard_normal((3, 100)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_get_set_weights_round_trip_and_order():
    model = SEED_MODELS["dcgan_parts"](layers, Sequential, Model, layers.Input)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    names = [v.path.split("/")[-1] for v in model.weights]
    assert names[:2] == ["kernel", "bias"]
    assert names[2:6] == ["gamma", "beta", "moving_mean", "moving_variance"]


def test_lazy_sequential_builds_on_first_call():
    model = Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    text = _summary_text(model)
    assert "0 (unbuilt)" in text and "?" in text
    y = model.predict(np.ones((3, 7), np.float32), verbose=0)
    assert y.shape == (3, 2) and model.built and model.input_shape == (None, 7)


def test_functional_multiple_outputs_and_get_layer():
    i = layers.Input((6,))
    h = layers.Dense(4, name="hidden")(i)
    m = Model(i, [layers.Dense(2)(h), layers.Dense(3)(h)])
    a, b = m.predict(np.ones((5, 6)), verbose=0)
    assert a.shape == (5, 2) and b.shape == (5, 3)
    assert m.get_layer("hidden").units == 4


def test_model_trainable_flag_propagates():
    model = SEED_MODELS["dcgan_parts"](layers, Sequential, Model, layers.Input)
    assert len(model.trainable_weights) == 6
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 8
    assert all(not l.trainable for l in model.layers)


@pytest.mark.parametrize("name,line_length", [("upsampling_generator", 70), ("two_heads", 78), ("dcgan_parts", 60)])
def test_summary_with_a_line_length_equals_keras(name, line_length):
    # (Keras draws on an 80-column console when there is no terminal, so wider tables are cut there)
    ours, theirs = build_both(SEED_MODELS[name])
    expected = []
    theirs.summary(line_length=line_length, print_fn=lambda s, **kw: expected.append(s))
    assert _summary_text(ours, line_length=line_length) == "".join(expected)


def test_keras_helper_names_exist():
    from upsampling import backend, utils
    utils.set_random_seed(5)
    a = Sequential([layers.Input((3,)), layers.Dense(2)]).get_weights()[0]
    backend.clear_session()
    utils.set_random_seed(5)
    model = Sequential([layers.Input((3,)), layers.Dense(2)])
    np.testing.assert_array_equal(model.get_weights()[0], a)
    assert model.layers[0].name == "dense" and backend.epsilon() == 1e-7

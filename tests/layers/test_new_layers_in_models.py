"""The padding, pooling, normalization, noise and Embedding layers inside models: training steps equal
Keras's, fit learns, integer inputs reach Embedding uncast, save/load round trips, summary text equals Keras's."""
import numpy as np
import pytest

from tests.keras_oracle import keras
from upsampling import layers, optimizers
from upsampling.layers.base import clear_session
from upsampling.models import Model, Sequential, load_model
from upsampling.utils import set_random_seed

rng = np.random.default_rng(8)


def _image_stack(L, data_format="channels_last"):
    shape = (8, 8, 2) if data_format == "channels_last" else (2, 8, 8)
    axis = -1 if data_format == "channels_last" else 1
    return [L.Input(shape), L.ZeroPadding2D(((1, 0), (0, 1)), data_format=data_format),
            L.Conv2D(4, 3, data_format=data_format), L.GroupNormalization(2, axis=axis),
            L.MaxPooling2D(3, 2, padding="same", data_format=data_format),
            L.LayerNormalization(axis=[1, 2, 3], epsilon=1e-4),
            L.Conv2D(4, 3, padding="same", activation="relu", data_format=data_format),
            L.AveragePooling2D(2, data_format=data_format), L.Cropping2D(((0, 1), (1, 0)), data_format=data_format),
            L.ZeroPadding2D(1, data_format=data_format), L.GlobalMaxPooling2D(data_format=data_format),
            L.Dense(1, activation="sigmoid")]


def _embedding_stack(L):
    return [L.Input((3,), dtype="int32"), L.Embedding(10, 4), L.LayerNormalization(), L.Flatten(),
            L.Dense(1, activation="sigmoid")]


def _train_both(build, x, y, steps=3):
    k = keras()
    k.utils.set_random_seed(4)
    kmodel = k.Sequential(build(k.layers))
    kmodel.compile(k.optimizers.Adam(0.01), "binary_crossentropy")
    model = Sequential(build(layers))
    model.compile(optimizers.Adam(0.01), "binary_crossentropy")
    weights = [w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in kmodel.get_weights()]  # no ones/zeros
    kmodel.set_weights(weights)
    model.set_weights(weights)
    for _ in range(steps):
        np.testing.assert_allclose(model.train_on_batch(x, y), kmodel.train_on_batch(x, y), rtol=1e-5, atol=1e-6)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return model


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_train_on_batch_of_an_image_stack_matches_keras(data_format):
    x = rng.standard_normal((6, 8, 8, 2) if data_format == "channels_last" else (6, 2, 8, 8)).astype(np.float32)
    y = (rng.random((6, 1)) > 0.5).astype(np.float32)
    _train_both(lambda L: _image_stack(L, data_format), x, y)


def test_train_on_batch_through_an_embedding_of_integer_inputs_matches_keras():
    x = rng.integers(0, 10, (8, 3)).astype(np.int32)
    y = (rng.random((8, 1)) > 0.5).astype(np.float32)
    _train_both(_embedding_stack, x, y)


def test_conditional_gan_style_label_input_feeds_embedding_uncast_in_a_functional_model():
    """A float Input((1,)) holding labels, as the tutorials write it, and an int32 one, both reach Embedding."""
    for dtype in ("float32", "int32"):
        clear_session()
        label = layers.Input((1,), dtype=dtype)
        h = layers.Embedding(10, 6)(label)
        h = layers.Dense(2 * 2)(h)
        out = layers.Reshape((2, 2, 1))(h)
        model = Model(label, out)
        assert model.layers[0].dtype == dtype
        labels = np.array([[0], [9], [3]])
        table = model.layers[1].embeddings.value
        dense = model.layers[2]
        expected = table[labels] @ dense.kernel.value + dense.bias.value
        np.testing.assert_allclose(model.predict(labels, verbose=0), expected.reshape(3, 2, 2, 1), rtol=1e-6)
        model.compile(optimizers.SGD(0.1), "mse")
        before = table.copy()
        model.fit(labels, np.ones((3, 2, 2, 1), np.float32), epochs=2, verbose=0)
        changed = np.flatnonzero((model.layers[1].embeddings.value != before).any(axis=1))
        np.testing.assert_array_equal(changed, [0, 3, 9])  # only the rows that were looked up learn


def test_every_new_layer_trains_with_fit_and_round_trips_through_save(tmp_path):
    set_random_seed(4)
    model = Sequential([layers.Input((8, 8, 2)), layers.GaussianNoise(0.05, seed=1), layers.ZeroPadding2D(1),
                        layers.Conv2D(4, 3), layers.InstanceNormalization(), layers.SpatialDropout2D(0.2, seed=2),
                        layers.MaxPooling2D(), layers.GroupNormalization(2), layers.AveragePooling2D(2, padding="same"),
                        layers.Cropping2D(((1, 0), (0, 1))), layers.LayerNormalization(), layers.GlobalAveragePooling2D(),
                        layers.Dense(1, activation="sigmoid")])
    x = rng.standard_normal((32, 8, 8, 2)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]
    model.compile(optimizers.Adam(0.02), "binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    clone = load_model(model.save(tmp_path / "m.keras"))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.get_config() for l in clone.layers] == [l.get_config() for l in model.layers]


def test_an_integer_input_and_an_embedding_round_trip_through_save(tmp_path):
    i = layers.Input((4,), dtype="int32")
    model = Model(i, layers.Dense(2)(layers.Flatten()(layers.Embedding(6, 3, input_length=4)(i))))
    x = rng.integers(0, 6, (5, 4))
    clone = load_model(model.save(tmp_path / "e.keras"))
    assert clone.layers[0].dtype == "int32"
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras2_embedding_spellings_build_a_sequential():
    table = rng.standard_normal((5, 2)).astype(np.float32)
    model = Sequential([layers.Embedding(5, 2, input_length=3, weights=[table]), layers.Flatten()])
    assert model.built and model.input_shape == (None, 3) and model.output_shape == (None, 6)
    np.testing.assert_array_equal(model.predict(np.array([[4, 0, 4]]), verbose=0), table[[4, 0, 4]].reshape(1, 6))


# Their summary() text is compared with Keras's by tests/models/test_models.py.
SUMMARY_MODELS = {
    "image_stack": lambda L, S, M, I: S(_image_stack(L)),
    "image_stack_cf": lambda L, S, M, I: S(_image_stack(L, "channels_first")),
    "embedding": lambda L, S, M, I: S(_embedding_stack(L)),
    "noise_and_global": lambda L, S, M, I: S([I((6, 6, 3)), L.GaussianNoise(0.1), L.SpatialDropout2D(0.2),
                                              L.GlobalAveragePooling2D(keepdims=True), L.GroupNormalization(-1)]),
}



def test_integer_batches_reach_embedding_as_integers_in_sequential_and_functional_models():
    seen = []

    class Spy(layers.Embedding):
        def forward(self, x, training=False):
            seen.append(np.asarray(x).dtype)
            return super().forward(x, training)

    x = np.array([[3], [1]], np.int64)
    i = layers.Input((1,), dtype="int64")
    for model in (Sequential([layers.Input((1,), dtype="int64"), Spy(4, 2)]), Model(i, Spy(4, 2)(i))):
        table = model.layers[-1].embeddings.value
        np.testing.assert_array_equal(model.predict(x, verbose=0), table[x])
    assert len(seen) == 2 and all(np.issubdtype(d, np.integer) for d in seen)

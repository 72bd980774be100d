"""`upsampling.activations`: every name Keras 3 lists resolves (or is refused with a reason), functions
map back to Keras's names, and glu's halved axis reaches the layers' output shapes."""
import numpy as np
import pytest

from tests.keras_oracle import keras
from upsampling import activations, layers
from upsampling.models import Sequential, load_model

NOT_ACTIVATIONS = {"get", "serialize", "deserialize"}


def test_every_activation_keras_names_is_a_function_here_and_known_to_get():
    names = [n for n in dir(keras().activations) if not n.startswith("_") and n not in NOT_ACTIVATIONS]
    for name in names:
        assert callable(getattr(activations, name)), name
        if name != "threshold":
            assert activations.get(name).name == name


@pytest.mark.parametrize("identifier", ["threshold", activations.threshold])
def test_threshold_has_no_defaults_so_it_is_refused_as_a_layer_activation(identifier):
    with pytest.raises(ValueError, match=r"Dense layer .*: activation 'threshold' has arguments without defaults.*"
                                         r"upsampling.activations.threshold\(x, ...\)"):
        layers.Dense(3, activation=identifier)


def test_functions_map_to_keras_names_aliases_included():
    assert activations.get(activations.hard_swish).name == "hard_silu"
    assert activations.get("hard_swish").forward is activations.hard_silu
    assert activations.get(activations.log_softmax).name == "log_softmax"
    assert activations.get("MISH").name == "mish"


def test_glu_halves_the_output_of_every_layer_kind():
    model = Sequential([layers.Input((5, 6, 3)), layers.Conv2D(4, 3, padding="same", activation="glu"),
                        layers.Conv2DTranspose(8, 2, strides=2, activation="glu"),
                        layers.Conv2D(4, 3, padding="same", data_format="channels_first", activation="glu"),
                        layers.Flatten(), layers.Dense(8, activation="glu"), layers.Activation("glu")])
    # channels_first: glu halves the last axis (the width), as Keras applies it
    assert [layer.output_shape for layer in model.layers] == [
        (None, 5, 6, 2), (None, 10, 12, 4), (None, 4, 12, 2), (None, 96), (None, 4), (None, 2)]
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 3)).astype("float32")
    assert model.predict(x, verbose=0).shape == (2, 2)
    model.compile("adam", "mse")
    assert np.isfinite(model.train_on_batch(x, np.zeros((2, 2), "float32")))


def test_glu_on_an_odd_axis_is_refused():
    with pytest.raises(ValueError, match=r"glu: the last axis must have an even length.*\(None, 5\)"):
        Sequential([layers.Input((4,)), layers.Dense(5, activation="glu")])


def test_every_activation_survives_a_keras_file(tmp_path):
    names = sorted(set(activations._ops.ACTIVATIONS) - {"glu"})
    model = Sequential([layers.Input((6,))] + [layers.Activation(n) for n in names] +
                       [layers.Dense(4, activation="sparsemax")])
    loaded = load_model(model.save(tmp_path / "m.keras"))
    assert [layer.activation.name for layer in loaded.layers] == names + ["sparsemax"]
    x = np.random.default_rng(1).standard_normal((3, 6)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

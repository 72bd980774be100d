"""A Keras feature upsampling lacks is refused by name (NotImplementedError), never a bare error."""
import numpy as np
import pytest

import upsampling.backend as backend
from upsampling import callbacks, initializers, layers, losses, metrics, ops, optimizers
from upsampling.models import Model


@pytest.mark.parametrize("module, name", [
    (losses, "Huber"), (losses, "kl_divergence"), (metrics, "AUC"), (metrics, "Precision"), (ops, "einsum"),
    (ops, "fft"), (optimizers, "Adagrad"), (optimizers, "AdamW"), (callbacks, "CSVLogger"),
    (initializers, "STFT"), (backend, "gradients"), (backend, "function"), (layers, "Dot"),
])
def test_missing_keras_names_raise_not_implemented_naming_them(module, name):
    with pytest.raises(NotImplementedError, match=f"{name} is not supported by upsampling"):
        getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'certainly_not_keras'"):
        getattr(module, "certainly_not_keras")


def test_missing_features_by_string_and_on_models():
    with pytest.raises(NotImplementedError, match="'kld' is not supported"):
        losses.get("kld")
    with pytest.raises(NotImplementedError, match="'AUC' is not supported"):
        metrics.get("AUC")
    i = layers.Input((3,))
    out = layers.Dense(2)(i)
    model = Model(i, out)
    with pytest.raises(NotImplementedError, match="add_loss"):
        model.add_loss(0.0)
    with pytest.raises(NotImplementedError, match="outputs given as a dict"):
        Model(i, {"a": out})


def test_compile_with_a_list_of_losses_on_one_output_names_the_rule_not_unhashable_list():
    i = layers.Input((3,))
    model = Model(i, layers.Dense(2)(i))
    with pytest.raises(ValueError, match="one output: `loss` must be one loss"):
        model.compile(loss=["binary_crossentropy", "sparse_categorical_crossentropy"])
    model.compile(loss=["mse"])  # a list of one is one loss, as in Keras
    assert model.train_on_batch(np.ones((2, 3)), np.ones((2, 2))) >= 0


def test_keras2_backend_helpers_that_exist():
    assert backend.image_data_format() == "channels_last" and backend.floatx() == "float32"
    from upsampling.autograd import Variable
    v = Variable(np.zeros(2, "float32"))
    backend.set_value(v, [1, 2])
    np.testing.assert_array_equal(backend.get_value(v), [1, 2])
